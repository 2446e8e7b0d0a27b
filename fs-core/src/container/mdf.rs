//! Alcohol 120% descriptor files (`.mds`, "MEDIA DESCRIPTOR" version 1).
//!
//! Layout (as documented by libmirage and the cdemu project's notes; all
//! little-endian): a 0x58-byte header — signature "MEDIA DESCRIPTOR" (16),
//! version (2 bytes), medium type u16 at 0x12, session count u16 at 0x14,
//! offset of the first session block u32 at 0x50. A session block (24 bytes):
//! start i32, end i32, number u16, block count u8 at 0x0A, non-track block
//! count u8, first/last track u16, reserved u32, offset of its track blocks
//! u32 at 0x14. A track block (80 bytes): mode u8 (low nibble: 9 audio, A Mode 1,
//! B/C Mode 2 / Form 1; 2448-byte sectors carry 96 bytes of subchannel), subchannel
//! u8, ADR/control u8, TNO u8, point u8 at 4 (1-99 = a track; 0xA0-0xA2 are
//! TOC entries), MSF, ..., sector size u16 at 0x10, start sector u32 at 0x24,
//! start offset in the `.mdf` u64 at 0x28, extra-block offset u32 at 0x0C
//! (pregap u32, length in sectors u32).

use crate::error::{Error, Location, Result};

use super::sector::TrackMode;

const SIGNATURE: &[u8; 16] = b"MEDIA DESCRIPTOR";
/// Largest descriptor we read.
pub(crate) const MAX_MDS_BYTES: u64 = 1 << 20;

/// One track of an MDS descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MdsTrack {
    pub number: u8,
    pub mode: TrackMode,
    /// Byte offset of the track in the `.mdf`.
    pub offset: u64,
    /// Sectors (0 when the descriptor has no extra block: to the end of the file).
    pub sectors: u64,
    /// Disc LBA of the track start.
    pub lba: u32,
}

fn corrupt(at: usize, reason: impl Into<String>) -> Error {
    Error::corrupt(
        "MDS descriptor",
        Location::at(at as u64 / 2048, (at % 2048) as u32),
        reason,
    )
}

fn le(b: &[u8], at: usize, n: usize) -> Result<u64> {
    let field = at.checked_add(n).and_then(|end| b.get(at..end));
    let s = field.ok_or_else(|| {
        corrupt(
            at,
            format!(
                "{n}-byte field at {at} lies past the end ({} bytes)",
                b.len()
            ),
        )
    })?;
    Ok(s.iter().rev().fold(0, |a, &x| (a << 8) | u64::from(x)))
}

/// True when the bytes start with the MDS signature.
pub(crate) fn is_mds(head: &[u8]) -> bool {
    head.starts_with(SIGNATURE)
}

/// Parses the tracks of the first session of an MDS v1 descriptor.
pub(crate) fn parse(b: &[u8]) -> Result<Vec<MdsTrack>> {
    if !is_mds(b) {
        return Err(corrupt(0, "no \"MEDIA DESCRIPTOR\" signature"));
    }
    let major = le(b, 0x10, 1)?;
    if major != 1 {
        return Err(Error::Unsupported(format!(
            "MDS version {major} (only version 1 is read)"
        )));
    }
    let sessions = le(b, 0x14, 2)?;
    if sessions == 0 {
        return Err(corrupt(0x14, "no sessions"));
    }
    // Offsets from the file are u32: on a 32-bit target they may not fit
    // `usize` arithmetic, and then read as "past the end".
    let s = le(b, 0x50, 4)? as usize;
    let blocks = le(b, s.saturating_add(0x0A), 1)? as usize;
    let tracks_at = le(b, s.saturating_add(0x14), 4)? as usize;
    let mut out = Vec::new();
    for i in 0..blocks {
        let t = tracks_at.saturating_add(i * 80);
        let point = le(b, t.saturating_add(4), 1)? as u8;
        if !(1..=99).contains(&point) {
            continue;
        }
        let code = le(b, t, 1)? as u8;
        let size = le(b, t.saturating_add(0x10), 2)?;
        let mode = match (code & 0x0F, size) {
            (0x09, _) => TrackMode::Audio,
            (0x0A, 2048) => TrackMode::Mode1Cooked,
            (0x0A, 2352) => TrackMode::Mode1Raw,
            (0x0B | 0x0C, 2336) => TrackMode::Mode2Headerless,
            (0x0B | 0x0C, 2352) => TrackMode::Mode2Raw,
            (0x0C, 2048) => TrackMode::Mode2Cooked,
            (0x0A, 2448) => TrackMode::Mode1RawSub,
            (0x0B | 0x0C, 2448) => TrackMode::Mode2RawSub,
            _ => {
                return Err(corrupt(
                    t,
                    format!(
                        "track {point}: mode {code:#04x} with {size}-byte sectors is not a track layout we know"
                    ),
                ));
            }
        };
        if mode == TrackMode::Audio && size != 2352 && size != 2448 {
            return Err(corrupt(
                t,
                format!("track {point}: audio with {size}-byte sectors"),
            ));
        }
        let lba = le(b, t.saturating_add(0x24), 4)? as u32;
        let offset = le(b, t.saturating_add(0x28), 8)?;
        let extra = le(b, t.saturating_add(0x0C), 4)? as usize;
        let sectors = if extra == 0 {
            0
        } else {
            le(b, extra.saturating_add(4), 4)?
        };
        out.push(MdsTrack {
            number: point,
            mode,
            offset,
            sectors,
            lba,
        });
    }
    if out.is_empty() {
        return Err(corrupt(tracks_at, "the first session lists no track"));
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A one-session descriptor with the given (mode code, sector size, sectors) tracks.
    pub(crate) fn mds(tracks: &[(u8, u16, u32)]) -> Vec<u8> {
        let mut b = vec![0u8; 0x58];
        b[..16].copy_from_slice(SIGNATURE);
        b[0x10] = 1;
        b[0x11] = 3;
        b[0x14] = 1;
        b[0x50..0x54].copy_from_slice(&0x58u32.to_le_bytes());
        let n = tracks.len() + 3;
        let mut s = vec![0u8; 24];
        s[0x0A] = n as u8;
        s[0x0B] = 3;
        s[0x14..0x18].copy_from_slice(&(0x58u32 + 24).to_le_bytes());
        b.extend(s);
        let extra_at = 0x58 + 24 + 80 * n;
        for p in [0xA0u8, 0xA1, 0xA2] {
            let mut t = vec![0u8; 80];
            t[4] = p;
            b.extend(t);
        }
        let (mut off, mut lba) = (0u64, 0u32);
        for (i, &(code, size, count)) in tracks.iter().enumerate() {
            let mut t = vec![0u8; 80];
            t[0] = code;
            t[4] = i as u8 + 1;
            t[0x0C..0x10].copy_from_slice(&((extra_at + 8 * i) as u32).to_le_bytes());
            t[0x10..0x12].copy_from_slice(&size.to_le_bytes());
            t[0x24..0x28].copy_from_slice(&lba.to_le_bytes());
            t[0x28..0x30].copy_from_slice(&off.to_le_bytes());
            b.extend(t);
            off += u64::from(size) * u64::from(count);
            lba += count;
        }
        for &(_, _, count) in tracks {
            b.extend_from_slice(&0u32.to_le_bytes());
            b.extend_from_slice(&count.to_le_bytes());
        }
        b
    }

    #[test]
    fn audio_and_data_tracks() {
        let t = parse(&mds(&[(0xA9, 2352, 20), (0xAA, 2352, 100)])).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].mode, TrackMode::Audio);
        assert_eq!(
            (t[1].number, t[1].mode, t[1].offset, t[1].sectors, t[1].lba),
            (2, TrackMode::Mode1Raw, 20 * 2352, 100, 20)
        );
    }

    #[test]
    fn bogus_descriptors_are_errors() {
        assert!(parse(b"MEDIA DESCRIPTO").is_err());
        assert!(matches!(
            parse(&mds(&[(0xAA, 1234, 10)])),
            Err(Error::Corrupt { .. })
        ));
        let good = mds(&[(0xAA, 2048, 10)]);
        for cut in 0..good.len() {
            let _ = parse(&good[..cut]);
        }
        for i in 0..good.len() {
            let mut b = good.clone();
            b[i] ^= 0xFF;
            let _ = parse(&b);
        }
    }

    #[test]
    fn offsets_at_the_end_of_the_address_space_are_errors() {
        assert!(le(&[0; 8], usize::MAX, 4).is_err());
        assert!(le(&[0; 8], 6, 4).is_err());
        assert_eq!(le(&[1, 2, 3], 1, 2).unwrap(), 0x0302);
        // Session and track block offsets at u32::MAX.
        let mut b = mds(&[(0xAA, 2048, 10)]);
        b[0x50..0x54].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(parse(&b), Err(Error::Corrupt { .. })));
    }
}
