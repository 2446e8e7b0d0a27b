//! Nero Burning ROM images (`.nrg`).
//!
//! The layout (as documented by the projects that read it, e.g. libmirage's
//! and nrg2iso's notes): the track data comes first, then a chain of chunks,
//! each `ID(4) SIZE(u32 BE) DATA(SIZE)`, up to `END!`. A footer at the very end
//! points at the first chunk: version 2 ends with `"NER5" OFFSET(u64 BE)`
//! (12 bytes), version 1 with `"NERO" OFFSET(u32 BE)` (8 bytes).
//!
//! Chunks we use (v1 name / v2 name):
//! - `DAOI`/`DAOX` (disc-at-once): header of 22 bytes (size again, UPC[14],
//!   TOC type u16, first track u8, last track u8), then per track ISRC[12],
//!   sector size u16 BE, mode u8 + 3 bytes, and index 0, index 1 and end
//!   byte offsets (u32 BE in DAOI, 30 bytes a track; u64 BE in DAOX, 42).
//! - `ETNF`/`ETN2` (track-at-once): per track offset, length (u32 or u64 BE),
//!   mode u32, start LBA u32, reserved (u32 in ETNF: 20 bytes a track; u64 in ETN2: 32).
//! - `CUES`/`CUEX`, `SINF`, `MTYP`, `CDTX`, ...: skipped (not needed to
//!   find the data).
//!
//! Mode codes: 0x00 Mode 1 (2048), 0x02 Mode 2 Form 1 (2048), 0x03 Mode 2
//! (2336), 0x05 Mode 1 raw (2352), 0x06 Mode 2 raw (2352), 0x07 audio (2352);
//! with 96 bytes of subchannel a sector (2448): 0x0F Mode 2, 0x10 audio, 0x11 Mode 1.

use crate::error::{Error, Location, Result};
use crate::source::ReadAt;

use super::sector::TrackMode;

/// Most chunks walked before giving up (real images have fewer than 20).
const MAX_CHUNKS: usize = 256;
/// Largest chunk payload read into memory.
const MAX_CHUNK: u64 = 1 << 20;

/// One data or audio track of an NRG image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NrgTrack {
    pub mode: TrackMode,
    /// Byte offset of index 1 in the image.
    pub offset: u64,
    pub sectors: u64,
}

/// What the chunk walk found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Nrg {
    /// 1 or 2.
    pub version: u8,
    /// "DAO" or "TAO".
    pub layout: &'static str,
    pub tracks: Vec<NrgTrack>,
}

fn corrupt(at: u64, reason: impl Into<String>) -> Error {
    Error::corrupt(
        "NRG chunk",
        Location::at(at / 2048, (at % 2048) as u32),
        reason,
    )
}

fn read(src: &dyn ReadAt, off: u64, len: usize) -> Result<Vec<u8>> {
    let mut b = vec![0; len];
    src.read_exact_at(off, &mut b)
        .map_err(|e| Error::io(off, len, e))?;
    Ok(b)
}

fn be(b: &[u8]) -> u64 {
    b.iter().fold(0, |a, &x| (a << 8) | u64::from(x))
}

/// The big-endian number in `n` bytes at `at` of a chunk's track entry
/// `entry`; an error naming the track when the entry is too short.
fn be_field(entry: &[u8], at: usize, n: usize, track: usize, chunk_at: u64) -> Result<u64> {
    at.checked_add(n)
        .and_then(|end| entry.get(at..end))
        .map(be)
        .ok_or_else(|| {
            corrupt(
                chunk_at,
                format!(
                    "track {track}: {}-byte entry has no {n}-byte field at {at}",
                    entry.len()
                ),
            )
        })
}

fn mode(code: u8) -> Option<TrackMode> {
    Some(match code {
        0x00 => TrackMode::Mode1Cooked,
        0x02 => TrackMode::Mode2Cooked,
        0x03 => TrackMode::Mode2Headerless,
        0x05 => TrackMode::Mode1Raw,
        0x06 => TrackMode::Mode2Raw,
        0x07 | 0x10 => TrackMode::Audio,
        0x0F => TrackMode::Mode2RawSub,
        0x11 => TrackMode::Mode1RawSub,
        _ => return None,
    })
}

/// Looks for an NRG footer; `Ok(None)` when there is none.
pub(crate) fn detect(src: &dyn ReadAt) -> Result<Option<(u8, u64)>> {
    let Some(at) = src.len().checked_sub(12) else {
        return Ok(None);
    };
    let mut footer = [0u8; 12];
    src.read_exact_at(at, &mut footer)
        .map_err(|e| Error::io(at, footer.len(), e))?;
    Ok(match footer {
        [b'N', b'E', b'R', b'5', first @ ..] => Some((2, u64::from_be_bytes(first))),
        [_, _, _, _, b'N', b'E', b'R', b'O', first @ ..] => {
            Some((1, u64::from(u32::from_be_bytes(first))))
        }
        _ => None,
    })
}

/// Walks the chunk chain starting at `first` (from the footer of `version`).
pub(crate) fn parse(src: &dyn ReadAt, version: u8, first: u64) -> Result<Nrg> {
    let footer = if version == 2 { 12 } else { 8 };
    let limit = src.len().saturating_sub(footer);
    if first >= limit {
        return Err(corrupt(
            src.len().saturating_sub(footer),
            format!("footer points at byte {first}, past the chunk area (ends at {limit})"),
        ));
    }
    let mut pos = first;
    let mut tracks = Vec::new();
    let mut layout = "";
    for _ in 0..MAX_CHUNKS {
        if pos + 8 > limit {
            return Err(corrupt(pos, "chunk list runs into the footer without END!"));
        }
        let mut header = [0u8; 8];
        src.read_exact_at(pos, &mut header)
            .map_err(|e| Error::io(pos, header.len(), e))?;
        let [a, b, c, d, size @ ..] = header;
        let id = [a, b, c, d];
        let size = u64::from(u32::from_be_bytes(size));
        if &id == b"END!" {
            if tracks.is_empty() {
                return Err(corrupt(
                    pos,
                    "no DAOI/DAOX/ETNF/ETN2 chunk describes a track",
                ));
            }
            return Ok(Nrg {
                version,
                layout,
                tracks,
            });
        }
        if !id.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'!') {
            return Err(corrupt(pos, format!("not a chunk id: {:02x?}", id)));
        }
        let data_at = pos + 8;
        if size > MAX_CHUNK || data_at + size > limit {
            return Err(corrupt(
                pos,
                format!(
                    "{} chunk of {size} bytes does not fit",
                    String::from_utf8_lossy(&id)
                ),
            ));
        }
        match &id {
            b"DAOI" | b"DAOX" => {
                let data = read(src, data_at, size as usize)?;
                let wide = &id == b"DAOX";
                tracks.extend(dao(&data, wide, data_at)?);
                layout = "DAO";
            }
            b"ETNF" | b"ETN2" => {
                let data = read(src, data_at, size as usize)?;
                let wide = &id == b"ETN2";
                tracks.extend(tao(&data, wide, data_at, src.len())?);
                layout = "TAO";
            }
            _ => {}
        }
        pos = data_at + size;
    }
    Err(corrupt(first, format!("more than {MAX_CHUNKS} chunks")))
}

fn dao(data: &[u8], wide: bool, at: u64) -> Result<Vec<NrgTrack>> {
    let (per, width) = if wide { (42, 8) } else { (30, 4) };
    let Some(entries) = data.get(22..) else {
        return Err(corrupt(at, "DAO chunk shorter than its 22-byte header"));
    };
    let mut out = Vec::new();
    for (i, t) in entries.chunks_exact(per).enumerate() {
        let field = |o, n| be_field(t, o, n, i + 1, at);
        let sector = field(12, 2)?;
        let code = field(14, 1)? as u8;
        // Index 0, index 1 and end offsets follow the mode and 3 spare bytes.
        let (i1, end) = (field(18 + width, width)?, field(18 + 2 * width, width)?);
        let m = mode(code).ok_or_else(|| {
            corrupt(
                at,
                format!("track {}: unknown mode code {code:#04x}", i + 1),
            )
        })?;
        if sector != m.sector_size() && !(m == TrackMode::Audio && sector == 2448) {
            return Err(corrupt(
                at,
                format!(
                    "track {}: sector size {sector} does not match mode {}",
                    i + 1,
                    m.name()
                ),
            ));
        }
        if end < i1 {
            return Err(corrupt(
                at,
                format!("track {}: ends (byte {end}) before it starts ({i1})", i + 1),
            ));
        }
        out.push(NrgTrack {
            mode: m,
            offset: i1,
            sectors: (end - i1) / sector,
        });
    }
    Ok(out)
}

fn tao(data: &[u8], wide: bool, at: u64, image_len: u64) -> Result<Vec<NrgTrack>> {
    let per = if wide { 32 } else { 20 };
    let mut out = Vec::new();
    let width = if wide { 8 } else { 4 };
    for (i, t) in data.chunks_exact(per).enumerate() {
        let field = |o, n| be_field(t, o, n, i + 1, at);
        let (off, len, code) = (field(0, width)?, field(width, width)?, field(2 * width, 4)?);
        let m = u8::try_from(code)
            .ok()
            .and_then(mode)
            .ok_or_else(|| corrupt(at, format!("track {}: unknown mode code {code:#x}", i + 1)))?;
        if off.checked_add(len).is_none_or(|e| e > image_len) {
            return Err(corrupt(
                at,
                format!("track {}: {len} bytes at {off} lie past the end", i + 1),
            ));
        }
        out.push(NrgTrack {
            mode: m,
            offset: off,
            sectors: len / m.sector_size(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::MemSource;

    fn chunk(id: &[u8], data: &[u8]) -> Vec<u8> {
        let mut v = id.to_vec();
        v.extend_from_slice(&(data.len() as u32).to_be_bytes());
        v.extend_from_slice(data);
        v
    }

    fn dao_image(v2: bool) -> Vec<u8> {
        let mut img = vec![0u8; 2048 * 160];
        let mut d = vec![0u8; 22];
        d[20] = 1;
        d[21] = 1;
        let mut t = vec![0u8; 12];
        t.extend_from_slice(&2048u16.to_be_bytes());
        t.extend_from_slice(&[0, 0, 0, 0]);
        for o in [0u64, 150 * 2048, 160 * 2048] {
            if v2 {
                t.extend_from_slice(&o.to_be_bytes());
            } else {
                t.extend_from_slice(&(o as u32).to_be_bytes());
            }
        }
        d.extend_from_slice(&t);
        let start = img.len() as u64;
        img.extend(chunk(if v2 { b"DAOX" } else { b"DAOI" }, &d));
        img.extend(chunk(b"SINF", &[0, 0, 0, 1]));
        img.extend(chunk(b"END!", &[]));
        if v2 {
            img.extend_from_slice(b"NER5");
            img.extend_from_slice(&start.to_be_bytes());
        } else {
            img.extend_from_slice(b"NERO");
            img.extend_from_slice(&(start as u32).to_be_bytes());
        }
        img
    }

    #[test]
    fn dao_v1_and_v2() {
        for v2 in [false, true] {
            let src = MemSource::new(dao_image(v2));
            let (ver, first) = detect(&src).unwrap().unwrap();
            assert_eq!(ver, if v2 { 2 } else { 1 });
            let n = parse(&src, ver, first).unwrap();
            assert_eq!(n.layout, "DAO");
            assert_eq!(
                n.tracks,
                vec![NrgTrack {
                    mode: TrackMode::Mode1Cooked,
                    offset: 150 * 2048,
                    sectors: 10
                }]
            );
        }
    }

    #[test]
    fn tao_track() {
        let mut img = vec![0u8; 2352 * 4];
        let mut e = Vec::new();
        e.extend_from_slice(&0u32.to_be_bytes());
        e.extend_from_slice(&(2352u32 * 4).to_be_bytes());
        e.extend_from_slice(&5u32.to_be_bytes());
        e.extend_from_slice(&[0; 8]);
        let start = img.len() as u32;
        img.extend(chunk(b"ETNF", &e));
        img.extend(chunk(b"END!", &[]));
        img.extend_from_slice(b"NERO");
        img.extend_from_slice(&start.to_be_bytes());
        let src = MemSource::new(img);
        let (v, f) = detect(&src).unwrap().unwrap();
        let n = parse(&src, v, f).unwrap();
        assert_eq!(
            (n.layout, n.tracks[0].mode, n.tracks[0].sectors),
            ("TAO", TrackMode::Mode1Raw, 4)
        );
    }

    #[test]
    fn damaged_chains_are_errors_not_panics() {
        let good = dao_image(true);
        assert!(detect(&MemSource::new(vec![0; 100])).unwrap().is_none());
        // Footer pointing past the end.
        let mut bad = good.clone();
        let n = bad.len();
        bad[n - 8..].copy_from_slice(&u64::MAX.to_be_bytes());
        let src = MemSource::new(bad);
        let (v, f) = detect(&src).unwrap().unwrap();
        assert!(matches!(
            parse(&src, v, f),
            Err(Error::Corrupt {
                structure: "NRG chunk",
                ..
            })
        ));
        // Truncated: chunks cut in the middle, footer kept.
        let cut_at = 2048 * 160 + 20;
        let mut cut = good[..cut_at].to_vec();
        cut.extend_from_slice(&good[good.len() - 12..]);
        let src = MemSource::new(cut);
        let (v, f) = detect(&src).unwrap().unwrap();
        assert!(matches!(
            parse(&src, v, f),
            Err(Error::Corrupt {
                structure: "NRG chunk",
                ..
            })
        ));
        // Every single-byte corruption of the chunk area: no panic.
        for i in 2048 * 160..good.len() {
            let mut b = good.clone();
            b[i] ^= 0xFF;
            let src = MemSource::new(b);
            if let Ok(Some((v, f))) = detect(&src) {
                let _ = parse(&src, v, f);
            }
        }
    }

    #[test]
    fn short_chunks_and_footers_are_errors_not_panics() {
        // Too short for a footer, or a footer of neither kind.
        assert!(detect(&MemSource::new(b"NER5".to_vec())).unwrap().is_none());
        assert!(detect(&MemSource::new(vec![0; 12])).unwrap().is_none());
        // A DAO chunk shorter than its header; one with half a track entry.
        assert!(dao(&[0; 21], false, 0).is_err());
        assert!(dao(&[0; 22 + 29], false, 0).unwrap().is_empty());
        assert!(tao(&[0; 19], false, 0, 0).unwrap().is_empty());
        assert!(be_field(&[0; 4], usize::MAX, 4, 1, 0).is_err());
        assert_eq!(be_field(&[1, 2, 3, 4], 1, 2, 1, 0).unwrap(), 0x0203);
    }
}
