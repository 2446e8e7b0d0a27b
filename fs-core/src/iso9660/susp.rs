//! System Use Sharing Protocol (IEEE P1281, SUSP 1.12).
//!
//! SUSP cuts the system-use field of an ISO 9660 directory record
//! (ECMA-119 9.1.13) into *System Use Entries* (SUSP 4.1): a 2-byte
//! signature, a 1-byte length that counts the 4-byte header, a 1-byte
//! version, then data. Extensions such as Rock Ridge (IEEE P1282) store their
//! entries there. The protocol itself defines:
//!
//! * CE (SUSP 5.1): the entries go on in a *continuation area* elsewhere on
//!   the disc (block, offset, length);
//! * PD (SUSP 5.2): padding, ignored;
//! * SP (SUSP 5.3): at offset 0 of the root directory's "." record, says SUSP
//!   is in use and how many bytes (LEN_SKP) to skip at the start of every
//!   other system-use field;
//! * ST (SUSP 5.4): ends the system-use field or continuation area;
//! * ER (SUSP 5.5): names an extension in use (e.g. `RRIP_1991A`).
//!
//! Everything read from the image is bounds-checked. A malformed entry ends
//! its area with a warning; only structural problems with continuation areas
//! (a loop, too many hops, too many bytes) are errors.

use std::borrow::Cow;
use std::collections::HashSet;

use crate::error::{Error, Location, Result};

use crate::bytes::{u32_be, u32_le};

/// Reads `len` bytes at absolute image byte offset `off` (through the block cache).
pub(crate) type ReadBytes<'a> = &'a dyn Fn(u64, usize) -> Result<Vec<u8>>;

/// At most this many CE continuation areas are followed for one system-use field.
const MAX_CE_HOPS: usize = 32;
/// At most this many bytes of continuation areas are read for one system-use field.
const MAX_CE_BYTES: usize = 64 * 1024;
/// Block size assumed when a caller passes 0 (never valid in ECMA-119 8.4.12).
const FALLBACK_BLOCK_SIZE: u64 = 2048;

/// Structure name used in errors about continuation areas.
const CE_STRUCTURE: &str = "SUSP continuation area";

/// What the root directory's SP and ER entries say about the volume.
#[derive(Debug, Clone, Default)]
pub(crate) struct SuspInfo {
    /// SP "bytes skipped" (LEN_SKP, SUSP 5.3): bytes at the start of every
    /// system-use area (except the root's ".") to ignore.
    pub skip: usize,
    /// Extension identifiers from ER entries (SUSP 5.5), e.g. "RRIP_1991A",
    /// "IEEE_P1282", "IEEE_1282".
    pub extensions: Vec<String>,
}

/// One System Use Entry (SUSP 4.1): signature, version, data (after the 4-byte header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The two signature bytes, e.g. `*b"PX"`.
    pub sig: [u8; 2],
    /// The entry's version byte.
    pub version: u8,
    /// The bytes after the 4-byte header.
    pub data: Vec<u8>,
}

/// Looks at the system-use area of the root directory's "." record: an SP
/// entry (SUSP 5.3, check bytes BE EF) at its start means SUSP is in use.
/// Follows CE (SUSP 5.1) to collect the ER entries (SUSP 5.5).
///
/// Like Linux isofs, an SP right after 14 bytes of CD-XA system-use
/// information (ECMA-119 XA extension, "XA" at bytes 6–7) also counts; the
/// 14 bytes are then skipped in every record too.
///
/// Returns `Ok(None)` when there is no SP, except that when Rock Ridge
/// entries (PX, NM, RR or TF) appear without SP it returns `Some` with skip 0,
/// lenient like Linux. Without SP no continuation area is followed. A broken
/// continuation area of the root only costs the ER entries behind it (it is
/// logged), so that it cannot hide the whole Rock Ridge view.
pub(crate) fn detect(
    root_su: &[u8],
    block_size: u32,
    at: Location,
    read: ReadBytes<'_>,
) -> Result<Option<SuspInfo>> {
    let sp = root_sp(root_su);
    let (start, skip) = match sp {
        Some((offset, len_skp)) => (offset, Some(offset + len_skp)),
        None => (0, None),
    };
    let walk = walk(root_su, start, skip.is_some(), block_size, at, read);
    if let Some(err) = &walk.error {
        log::warn!("SUSP: ignoring the rest of the root directory's system-use entries: {err}");
    }
    let extensions: Vec<String> = walk
        .entries
        .iter()
        .filter(|(e, _)| &e.sig == b"ER")
        .filter_map(|(e, loc)| {
            let id = er_identifier(&e.data);
            if id.is_none() {
                log::warn!("SUSP: malformed ER entry at {loc}, ignored");
            }
            id
        })
        .collect();
    match skip {
        Some(skip) => Ok(Some(SuspInfo { skip, extensions })),
        None => {
            let rr_like = walk
                .entries
                .iter()
                .any(|(e, _)| matches!(&e.sig, b"PX" | b"NM" | b"RR" | b"TF"));
            if rr_like {
                log::info!("Rock Ridge entries without a SUSP SP entry at {at}; using them anyway");
                Ok(Some(SuspInfo {
                    skip: 0,
                    extensions,
                }))
            } else {
                Ok(None)
            }
        }
    }
}

/// Every entry of a system-use area, following CE continuation areas
/// (SUSP 5.1; bounded: at most 32 CE hops, at most 64 KiB in total, a CE
/// pointing at an area already visited is a loop →
/// `Error::corrupt("SUSP continuation area", ...)`). Stops at ST (SUSP 5.4).
///
/// The first `info.skip` bytes (SP LEN_SKP, SUSP 5.3) are ignored, unless the
/// area starts with the SP entry itself (the root's "." record). CE, ST and PD
/// entries are consumed here and not returned.
#[cfg_attr(not(test), allow(dead_code))] // for readers of other entries (zisofs ZF, issue 5)
pub(crate) fn entries(
    su: &[u8],
    info: &SuspInfo,
    block_size: u32,
    at: Location,
    read: ReadBytes<'_>,
) -> Result<Vec<Entry>> {
    Ok(entries_located(su, info, block_size, at, read)?
        .into_iter()
        .map(|(e, _)| e)
        .collect())
}

/// [`entries`], with the location of each entry (for messages).
pub(crate) fn entries_located(
    su: &[u8],
    info: &SuspInfo,
    block_size: u32,
    at: Location,
    read: ReadBytes<'_>,
) -> Result<Vec<(Entry, Location)>> {
    let start = match root_sp(su) {
        Some((offset, _)) => offset,
        None => info.skip,
    };
    if start > su.len() {
        log::warn!(
            "SUSP: system-use field at {at} is {} bytes, shorter than the {start} bytes SP says to skip",
            su.len()
        );
    }
    let walk = walk(su, start, true, block_size, at, read);
    match walk.error {
        Some(err) => Err(err),
        None => Ok(walk.entries),
    }
}

/// Reads a both-endian 32-bit field (ECMA-119 7.3.3, 8 bytes) at `idx`,
/// using its little-endian half. `None` if `data` is too short.
pub(crate) fn u32_both(data: &[u8], idx: usize) -> Option<u32> {
    let le = u32_le(data, idx)?;
    let be = u32_be(data, idx.checked_add(4)?)?;
    if le != be {
        log::debug!("SUSP: both-endian field disagrees (LE {le}, BE {be}); using LE");
    }
    Some(le)
}

/// The location `pos` bytes after `base`, normalised to `block_size` blocks.
pub(crate) fn offset_location(base: Location, pos: usize, block_size: u32) -> Location {
    let bs = block_size_or_default(block_size);
    let within = u64::from(base.offset.unwrap_or(0)).saturating_add(pos as u64);
    Location::at(
        base.sector.saturating_add(within / bs),
        // `within % bs` < bs <= u32::MAX.
        u32::try_from(within % bs).unwrap_or(0),
    )
}

fn block_size_or_default(block_size: u32) -> u64 {
    if block_size == 0 {
        FALLBACK_BLOCK_SIZE
    } else {
        u64::from(block_size)
    }
}

/// Bytes of CD-XA system-use information that may precede the SUSP entries.
const XA_LEN: usize = 14;

/// Where the SP entry of a root "." record starts (0, or [`XA_LEN`] after
/// CD-XA information) and its LEN_SKP.
fn root_sp(su: &[u8]) -> Option<(usize, usize)> {
    if let Some(skip) = sp_len_skp(su) {
        return Some((0, skip));
    }
    if su.get(6..8) == Some(b"XA") {
        if let Some(skip) = sp_len_skp(su.get(XA_LEN..)?) {
            return Some((XA_LEN, skip));
        }
    }
    None
}

/// LEN_SKP of an SP entry (SUSP 5.3) at offset 0 of `su`, if there is one.
fn sp_len_skp(su: &[u8]) -> Option<usize> {
    // "SP", length 7, version 1, check bytes BE EF, LEN_SKP.
    match su {
        [b'S', b'P', len, _version, 0xBE, 0xEF, skip, ..] if *len >= 7 => Some(usize::from(*skip)),
        _ => None,
    }
}

/// The extension identifier of an ER entry (SUSP 5.5): LEN_ID, LEN_DES,
/// LEN_SRC, EXT_VER, then the identifier, descriptor and source.
fn er_identifier(data: &[u8]) -> Option<String> {
    let (&len_id, rest) = data.split_first()?;
    let id = rest.get(3..3 + usize::from(len_id))?;
    Some(String::from_utf8_lossy(id).into_owned())
}

/// A parsed CE entry (SUSP 5.1).
#[derive(Debug, Clone, Copy)]
struct Continuation {
    block: u32,
    offset: u32,
    len: u32,
}

fn parse_ce(data: &[u8]) -> Option<Continuation> {
    Some(Continuation {
        block: u32_both(data, 0)?,
        offset: u32_both(data, 8)?,
        len: u32_both(data, 16)?,
    })
}

/// What [`walk`] found: the entries read before any error, and the error.
struct Walk {
    entries: Vec<(Entry, Location)>,
    error: Option<Error>,
}

/// Reads the entries of `su` from byte `start`, then (if `follow`) of the
/// continuation areas its CE entries point to.
fn walk(
    su: &[u8],
    start: usize,
    follow: bool,
    block_size: u32,
    at: Location,
    read: ReadBytes<'_>,
) -> Walk {
    let bs = block_size_or_default(block_size);
    let mut out = Vec::new();
    let mut area: Cow<'_, [u8]> = Cow::Borrowed(su);
    let mut area_at = at;
    let mut pos = start;
    let mut visited: HashSet<u64> = HashSet::new();
    let mut hops = 0usize;
    let mut total = 0usize;
    loop {
        // Without SP (lenient detection) the area may hold anything: no warnings.
        let ce = scan_area(&area, pos, area_at, block_size, follow, &mut out);
        let Some(ce) = ce else { break };
        if !follow {
            break;
        }
        let abs = u64::from(ce.block) * bs + u64::from(ce.offset);
        let ce_at = Location::at(abs / bs, u32::try_from(abs % bs).unwrap_or(0));
        hops += 1;
        if hops > MAX_CE_HOPS {
            return Walk {
                entries: out,
                error: Some(Error::corrupt(
                    CE_STRUCTURE,
                    ce_at,
                    format!("more than {MAX_CE_HOPS} chained continuation areas"),
                )),
            };
        }
        if !visited.insert(abs) {
            return Walk {
                entries: out,
                error: Some(Error::corrupt(
                    CE_STRUCTURE,
                    ce_at,
                    "continuation areas form a loop",
                )),
            };
        }
        let len = usize::try_from(ce.len).unwrap_or(usize::MAX);
        total = total.saturating_add(len);
        if total > MAX_CE_BYTES {
            return Walk {
                entries: out,
                error: Some(Error::corrupt(
                    CE_STRUCTURE,
                    ce_at,
                    format!("continuation areas exceed {MAX_CE_BYTES} bytes"),
                )),
            };
        }
        if len == 0 {
            log::debug!("SUSP: empty continuation area at {ce_at}");
            break;
        }
        if u64::from(ce.offset) >= bs || u64::from(ce.offset) + u64::from(ce.len) > bs {
            log::debug!(
                "SUSP: continuation area at {ce_at} ({len} bytes) crosses a block boundary; reading it anyway"
            );
        }
        match read(abs, len) {
            Ok(bytes) => {
                area = Cow::Owned(bytes);
                area_at = ce_at;
                pos = 0;
            }
            Err(err) => {
                return Walk {
                    entries: out,
                    error: Some(err),
                };
            }
        }
    }
    Walk {
        entries: out,
        error: None,
    }
}

/// Reads the entries of one area from `pos` into `out`; returns the CE found
/// in it (the last one if several), to be followed once the area is done.
fn scan_area(
    area: &[u8],
    mut pos: usize,
    area_at: Location,
    block_size: u32,
    loud: bool,
    out: &mut Vec<(Entry, Location)>,
) -> Option<Continuation> {
    let mut ce = None;
    // Fewer than 4 bytes left cannot hold an entry header: padding (SUSP 4).
    while let Some(rest @ &[s0, s1, len, version, ..]) = area.get(pos..) {
        let loc = offset_location(area_at, pos, block_size);
        let sig = [s0, s1];
        let len = usize::from(len);
        // The length counts the 4-byte header; `None` when it is below 4
        // or runs past the area.
        let Some(data) = rest.get(4..len) else {
            if rest.iter().all(|&b| b == 0) {
                log::debug!("SUSP: zero padding at {loc}");
            } else {
                let level = if loud {
                    log::Level::Warn
                } else {
                    log::Level::Debug
                };
                log::log!(
                    level,
                    "SUSP: entry \"{}\" at {loc} has length {len} but {} bytes remain; ignoring the rest of the area",
                    sig.escape_ascii(),
                    rest.len()
                );
            }
            break;
        };
        pos += len;
        match &sig {
            b"ST" => break,
            b"PD" => {}
            b"CE" => match parse_ce(data) {
                Some(c) => {
                    if ce.is_some() {
                        log::warn!("SUSP: second CE entry at {loc}; following the last one");
                    }
                    ce = Some(c);
                }
                None => log::warn!("SUSP: CE entry at {loc} is too short ({len} bytes), ignored"),
            },
            _ => out.push((
                Entry {
                    sig,
                    version,
                    data: data.to_vec(),
                },
                loc,
            )),
        }
    }
    ce
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// One SUSP entry with a 4-byte header (version 1).
    pub(crate) fn entry(sig: &[u8; 2], data: &[u8]) -> Vec<u8> {
        let mut v = vec![sig[0], sig[1], u8::try_from(data.len() + 4).unwrap(), 1];
        v.extend_from_slice(data);
        v
    }

    /// A both-endian 32-bit field (ECMA-119 7.3.3).
    pub(crate) fn both(v: u32) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&v.to_le_bytes());
        b[4..].copy_from_slice(&v.to_be_bytes());
        b
    }

    pub(crate) fn ce(block: u32, offset: u32, len: u32) -> Vec<u8> {
        let mut d = Vec::new();
        d.extend_from_slice(&both(block));
        d.extend_from_slice(&both(offset));
        d.extend_from_slice(&both(len));
        entry(b"CE", &d)
    }

    pub(crate) fn sp(skip: u8) -> Vec<u8> {
        entry(b"SP", &[0xBE, 0xEF, skip])
    }

    fn er(id: &str, des: &str, src: &str) -> Vec<u8> {
        let mut d = vec![id.len() as u8, des.len() as u8, src.len() as u8, 1];
        d.extend_from_slice(id.as_bytes());
        d.extend_from_slice(des.as_bytes());
        d.extend_from_slice(src.as_bytes());
        entry(b"ER", &d)
    }

    /// A read function over an in-memory image.
    pub(crate) fn reader(img: &[u8]) -> impl Fn(u64, usize) -> Result<Vec<u8>> + '_ {
        move |off, len| {
            let start = usize::try_from(off).unwrap_or(usize::MAX);
            start
                .checked_add(len)
                .and_then(|end| img.get(start..end))
                .map(<[u8]>::to_vec)
                .ok_or(Error::Truncated {
                    structure: "test read",
                    at: Location::sector(off / 2048),
                    image_len: img.len() as u64,
                })
        }
    }

    const AT: Location = Location {
        sector: 20,
        offset: Some(100),
    };

    fn sigs(v: &[Entry]) -> Vec<String> {
        v.iter()
            .map(|e| String::from_utf8_lossy(&e.sig).into_owned())
            .collect()
    }

    #[test]
    fn detect_sp_and_er_through_ce() {
        let mut img = vec![0u8; 2048 * 4];
        let cont = er("RRIP_1991A", "THE ROCK RIDGE ...", "PLEASE CONTACT ...");
        img[3 * 2048 + 10..3 * 2048 + 10 + cont.len()].copy_from_slice(&cont);
        let mut su = sp(0);
        su.extend(entry(b"RR", &[0x81]));
        su.extend(ce(3, 10, cont.len() as u32));
        let read = reader(&img);
        let info = detect(&su, 2048, AT, &read).unwrap().unwrap();
        assert_eq!(info.skip, 0);
        assert_eq!(info.extensions, vec!["RRIP_1991A".to_string()]);
    }

    #[test]
    fn detect_len_skp_and_none() {
        let read = reader(&[]);
        let su = sp(5);
        assert_eq!(detect(&su, 2048, AT, &read).unwrap().unwrap().skip, 5);
        // No SP, no Rock Ridge: plain ISO 9660.
        assert!(detect(&[], 2048, AT, &read).unwrap().is_none());
        assert!(
            detect(&entry(b"XA", &[0; 10]), 2048, AT, &read)
                .unwrap()
                .is_none()
        );
        // Bad check bytes are not an SP.
        assert!(
            detect(&entry(b"SP", &[0xBE, 0xEE, 0]), 2048, AT, &read)
                .unwrap()
                .is_none()
        );
        // Rock Ridge without SP: lenient.
        let su = entry(b"NM", b"\0x");
        let info = detect(&su, 2048, AT, &read).unwrap().unwrap();
        assert_eq!(info.skip, 0);
    }

    #[test]
    fn detect_sp_after_cd_xa() {
        let read = reader(&[]);
        let mut su = vec![0, 0, 0, 0, 0x0d, 0x55, b'X', b'A', 1, 0, 0, 0, 0, 0];
        su.extend(sp(2));
        su.extend(entry(b"RR", &[0x81]));
        let info = detect(&su, 2048, AT, &read).unwrap().unwrap();
        assert_eq!(info.skip, 16);
        assert_eq!(
            sigs(&entries(&su, &info, 2048, AT, &read).unwrap()),
            ["SP", "RR"]
        );
        // Any other record: 14 XA bytes + LEN_SKP skipped.
        let mut other = vec![7u8; 16];
        other.extend(entry(b"PX", &[]));
        assert_eq!(
            sigs(&entries(&other, &info, 2048, AT, &read).unwrap()),
            ["PX"]
        );
        // XA without SP: not SUSP.
        assert!(detect(&su[..14], 2048, AT, &read).unwrap().is_none());
    }

    #[test]
    fn detect_survives_broken_root_ce() {
        let img = vec![0u8; 2048];
        let read = reader(&img);
        let mut su = sp(0);
        su.extend(ce(1000, 0, 100)); // beyond the image
        let info = detect(&su, 2048, AT, &read).unwrap().unwrap();
        assert!(info.extensions.is_empty());
    }

    #[test]
    fn skip_applies_except_to_sp_area() {
        let read = reader(&[]);
        let info = SuspInfo {
            skip: 3,
            extensions: vec![],
        };
        let mut su = vec![9, 9, 9];
        su.extend(entry(b"PX", &[1, 2]));
        let got = entries(&su, &info, 2048, AT, &read).unwrap();
        assert_eq!(
            got,
            vec![Entry {
                sig: *b"PX",
                version: 1,
                data: vec![1, 2]
            }]
        );
        // The root's "." starts with SP: no skip there.
        let mut su = sp(3);
        su.extend(entry(b"RR", &[1]));
        assert_eq!(
            sigs(&entries(&su, &info, 2048, AT, &read).unwrap()),
            ["SP", "RR"]
        );
        // Skip beyond the area: nothing, no panic.
        let info = SuspInfo {
            skip: 200,
            extensions: vec![],
        };
        assert!(
            entries(&[1, 2, 3], &info, 2048, AT, &read)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn st_pd_padding_and_bad_lengths() {
        let read = reader(&[]);
        let info = SuspInfo::default();
        let mut su = entry(b"PD", &[0, 0, 0]);
        su.extend(entry(b"PX", &[]));
        su.extend(entry(b"ST", &[]));
        su.extend(entry(b"NM", b"\0a"));
        assert_eq!(sigs(&entries(&su, &info, 2048, AT, &read).unwrap()), ["PX"]);

        // Trailing padding of fewer than 4 bytes.
        let mut su = entry(b"PX", &[]);
        su.extend([0, 0, 0]);
        assert_eq!(sigs(&entries(&su, &info, 2048, AT, &read).unwrap()), ["PX"]);

        // Length 0 ends the area.
        let mut su = entry(b"PX", &[]);
        su.extend([b'N', b'M', 0, 1, 0, 0]);
        su.extend(entry(b"TF", &[0]));
        assert_eq!(sigs(&entries(&su, &info, 2048, AT, &read).unwrap()), ["PX"]);

        // Length past the end ends the area.
        let mut su = entry(b"RR", &[0]);
        su.extend([b'N', b'M', 200, 1, 0, 0]);
        assert_eq!(sigs(&entries(&su, &info, 2048, AT, &read).unwrap()), ["RR"]);

        // Length below 4.
        let su = [b'N', b'M', 3, 1, 0, 0, 0, 0];
        assert!(entries(&su, &info, 2048, AT, &read).unwrap().is_empty());
    }

    #[test]
    fn follows_chained_continuation_areas() {
        let mut img = vec![0u8; 2048 * 8];
        // Area 1 in block 5 at +100: NM, then CE to block 6 across the block end.
        let mut a1 = entry(b"NM", b"\0abc");
        let a2_off = 6 * 2048 + 2040;
        a1.extend(ce(6, 2040, 20)); // crosses into block 7: lenient
        img[5 * 2048 + 100..5 * 2048 + 100 + a1.len()].copy_from_slice(&a1);
        let mut a2 = entry(b"TF", &[0]);
        a2.extend(entry(b"ST", &[]));
        a2.extend(entry(b"PX", &[])); // after ST: not read
        img[a2_off..a2_off + a2.len()].copy_from_slice(&a2);

        let mut su = entry(b"RR", &[0x81]);
        su.extend(ce(5, 100, a1.len() as u32));
        su.extend(entry(b"PN", &[0; 16])); // after CE, same area: still read
        let read = reader(&img);
        let got = entries_located(&su, &SuspInfo::default(), 2048, AT, &read).unwrap();
        let names: Vec<_> = got.iter().map(|(e, _)| e.sig).collect();
        assert_eq!(names, [*b"RR", *b"PN", *b"NM", *b"TF"]);
        assert_eq!(got[2].1, Location::at(5, 100));
        assert_eq!(got[3].1, Location::at(6, 2040));
        assert_eq!(got[2].0.data, b"\0abc");
    }

    #[test]
    fn continuation_loop_is_an_error() {
        let mut img = vec![0u8; 2048 * 4];
        let a = ce(2, 0, 28);
        img[2 * 2048..2 * 2048 + 28].copy_from_slice(&a);
        let read = reader(&img);
        let su = ce(2, 0, 28);
        let err = entries(&su, &SuspInfo::default(), 2048, AT, &read).unwrap_err();
        match err {
            Error::Corrupt { structure, at, .. } => {
                assert_eq!(structure, "SUSP continuation area");
                assert_eq!(at, Location::at(2, 0));
            }
            e => panic!("unexpected {e}"),
        }
        // Two areas pointing at each other; (block 2, +2048) aliases block 3.
        let mut img = vec![0u8; 2048 * 4];
        let a = ce(2, 2048, 28);
        img[2 * 2048..2 * 2048 + 28].copy_from_slice(&a);
        let b = ce(2, 0, 28);
        img[3 * 2048..3 * 2048 + 28].copy_from_slice(&b);
        let read = reader(&img);
        assert!(matches!(
            entries(&su, &SuspInfo::default(), 2048, AT, &read),
            Err(Error::Corrupt { .. })
        ));
    }

    #[test]
    fn continuation_hop_and_size_limits() {
        // A chain of 40 areas, each pointing at the next.
        let mut img = vec![0u8; 2048 * 50];
        for i in 0..45u32 {
            let a = ce(i + 2, 0, 28);
            let off = (i as usize + 1) * 2048;
            img[off..off + 28].copy_from_slice(&a);
        }
        let read = reader(&img);
        let su = ce(1, 0, 28);
        let err = entries(&su, &SuspInfo::default(), 2048, AT, &read).unwrap_err();
        assert!(err.to_string().contains("chained"), "{err}");

        // A chain of 20 is fine.
        let mut img2 = img.clone();
        img2[20 * 2048..20 * 2048 + 28].fill(0);
        let read = reader(&img2);
        assert!(entries(&su, &SuspInfo::default(), 2048, AT, &read).is_ok());

        // One huge area.
        let su = ce(1, 0, 70_000);
        let err = entries(&su, &SuspInfo::default(), 2048, AT, &read).unwrap_err();
        assert!(err.to_string().contains("exceed"), "{err}");

        // Beyond the image: the read error comes back.
        let su = ce(1_000_000, 0, 28);
        assert!(matches!(
            entries(&su, &SuspInfo::default(), 2048, AT, &read),
            Err(Error::Truncated { .. })
        ));
    }

    #[test]
    fn short_ce_is_ignored() {
        let read = reader(&[]);
        let mut su = entry(b"CE", &[1, 2, 3]);
        su.extend(entry(b"RR", &[0]));
        assert_eq!(
            sigs(&entries(&su, &SuspInfo::default(), 2048, AT, &read).unwrap()),
            ["RR"]
        );
    }

    #[test]
    fn locations_roll_over_blocks() {
        assert_eq!(
            offset_location(Location::at(3, 2000), 100, 2048),
            Location::at(4, 52)
        );
        assert_eq!(
            offset_location(Location::sector(3), 5, 0),
            Location::at(3, 5)
        );
    }

    #[test]
    fn short_fields_and_headers() {
        let b = both(7);
        assert_eq!(u32_both(&b, 0), Some(7));
        assert_eq!(u32_both(&b[..7], 0), None);
        assert_eq!(u32_both(&b, 1), None);
        assert_eq!(u32_both(&b, usize::MAX - 2), None);
        // An area that ends 1-3 bytes into an entry header.
        let read = reader(&[]);
        for tail in [&b"N"[..], b"NM", b"NM\x05"] {
            let mut su = entry(b"PX", &[]);
            su.extend_from_slice(tail);
            assert_eq!(
                sigs(&entries(&su, &SuspInfo::default(), 2048, AT, &read).unwrap()),
                ["PX"]
            );
        }
    }
}
