//! Descriptor tag (ECMA-167 3/7.2, 4/7.2).
//!
//! Every UDF descriptor starts with a 16-byte tag: identifier, version,
//! checksum of the tag bytes (7.2.3), serial number, a CRC over the
//! descriptor body (7.2.6: CRC-16/CCITT, polynomial 0x1021, initial value 0)
//! and the location of the descriptor itself (7.2.8), which must equal the
//! block it was read from.

use crate::error::{Error, Location, Result};

use super::le::{u8_at, u16_at, u32_at};

/// Length of a descriptor tag.
pub(crate) const TAG_LEN: usize = 16;

/// Tag identifiers (ECMA-167 3/7.2.1 and 4/7.2.1).
pub(crate) mod ident {
    /// Primary volume descriptor (3/10.1).
    pub const PVD: u16 = 1;
    /// Anchor volume descriptor pointer (3/10.2).
    pub const AVDP: u16 = 2;
    /// Volume descriptor pointer (3/10.3).
    pub const VDP: u16 = 3;
    /// Implementation use volume descriptor (3/10.4).
    pub const IUVD: u16 = 4;
    /// Partition descriptor (3/10.5).
    pub const PD: u16 = 5;
    /// Logical volume descriptor (3/10.6).
    pub const LVD: u16 = 6;
    /// Unallocated space descriptor (3/10.8).
    pub const USD: u16 = 7;
    /// Terminating descriptor (3/10.9, 4/14.2).
    pub const TD: u16 = 8;
    /// Logical volume integrity descriptor (3/10.10).
    pub const LVID: u16 = 9;
    /// File set descriptor (4/14.1).
    pub const FSD: u16 = 256;
    /// File identifier descriptor (4/14.4).
    pub const FID: u16 = 257;
    /// Allocation extent descriptor (4/14.5).
    pub const AED: u16 = 258;
    /// Indirect entry (4/14.7).
    pub const IE: u16 = 259;
    /// Terminal entry (4/14.8).
    pub const TE: u16 = 260;
    /// File entry (4/14.9).
    pub const FE: u16 = 261;
    /// Extended attribute header descriptor (4/14.10.1).
    pub const EAHD: u16 = 262;
    /// Extended file entry (4/14.17).
    pub const EFE: u16 = 266;
}

/// A verified descriptor tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tag {
    /// Tag identifier (what descriptor follows).
    pub ident: u16,
    /// Descriptor version (2 for NSR02, 3 for NSR03).
    pub version: u16,
    /// Bytes of the descriptor covered by the CRC (after the tag).
    pub crc_len: u16,
    /// Where the descriptor says it is recorded.
    pub location: u32,
}

/// The CRC of the single byte `i` (the table entry for `i`).
const fn crc_entry(i: u8) -> u16 {
    let mut c = (i as u16) << 8;
    let mut bit = 0;
    while bit < 8 {
        c = if c & 0x8000 != 0 {
            (c << 1) ^ 0x1021
        } else {
            c << 1
        };
        bit += 1;
    }
    c
}

const fn crc_table() -> [u16; 256] {
    let mut table = [0u16; 256];
    let mut rest: &mut [u16] = &mut table;
    let mut i = 0u8;
    while let [slot, tail @ ..] = rest {
        *slot = crc_entry(i);
        rest = tail;
        i = i.wrapping_add(1);
    }
    table
}

static CRC_TABLE: [u16; 256] = crc_table();

/// CRC-16/CCITT as ECMA-167 7.2.6 defines it: polynomial x^16 + x^12 + x^5
/// + 1 (0x1021), initial value 0, no reflection, no final xor.
pub(crate) fn crc16(data: &[u8]) -> u16 {
    data.iter().fold(0u16, |crc, &b| {
        let [high, _] = crc.to_be_bytes();
        // A u8 indexes the 256-entry table: always in range.
        #[allow(clippy::indexing_slicing)]
        let step = CRC_TABLE[usize::from(high ^ b)];
        (crc << 8) ^ step
    })
}

/// Tag checksum (7.2.3): sum modulo 256 of tag bytes 0-3 and 5-15.
pub(crate) fn checksum(tag: &[u8]) -> u8 {
    tag.iter()
        .take(TAG_LEN)
        .enumerate()
        .filter(|(i, _)| *i != 4)
        .fold(0u8, |s, (_, &b)| s.wrapping_add(b))
}

/// True when `buf` starts with something that looks like a tag of identifier
/// `ident` with a correct checksum (no CRC or location check): used to probe.
pub(crate) fn looks_like(buf: &[u8], ident: u16) -> bool {
    buf.len() >= TAG_LEN && u16_at(buf, 0) == ident && checksum(buf) == u8_at(buf, 4)
}

/// Parses and verifies the tag at the start of `buf`.
///
/// `buf` holds the whole descriptor as far as it can extend (normally one
/// block). A CRC length that runs past it cannot be verified: like Linux,
/// the descriptor is then accepted on its checksum alone (some writers
/// record the length of a longer structure there). When `expected` is given the
/// recorded tag location must equal it. `structure` and `at` name the
/// descriptor in errors.
pub(crate) fn parse(
    buf: &[u8],
    expected: Option<u32>,
    structure: &'static str,
    at: Location,
) -> Result<Tag> {
    if buf.len() < TAG_LEN {
        return Err(Error::corrupt(
            structure,
            at,
            "shorter than a descriptor tag",
        ));
    }
    let sum = checksum(buf);
    if sum != u8_at(buf, 4) {
        return Err(Error::corrupt(
            structure,
            at,
            format!(
                "descriptor tag checksum is {:#04x}, the tag bytes add up to {sum:#04x}",
                u8_at(buf, 4)
            ),
        ));
    }
    let tag = Tag {
        ident: u16_at(buf, 0),
        version: u16_at(buf, 2),
        crc_len: u16_at(buf, 10),
        location: u32_at(buf, 12),
    };
    let body_len = usize::from(tag.crc_len);
    let crc = match buf.get(TAG_LEN..TAG_LEN + body_len) {
        Some(body) => crc16(body),
        None => {
            log::debug!(
                "{structure} at {at}: descriptor CRC length {body_len} runs past the {} bytes \
                 available; CRC not verified",
                buf.len() - TAG_LEN
            );
            u16_at(buf, 8)
        }
    };
    if crc != u16_at(buf, 8) {
        return Err(Error::corrupt(
            structure,
            at,
            format!(
                "descriptor CRC is {:#06x}, computed {crc:#06x} over {body_len} bytes",
                u16_at(buf, 8)
            ),
        ));
    }
    if let Some(want) = expected {
        if tag.location != want {
            return Err(Error::corrupt(
                structure,
                at,
                format!(
                    "descriptor tag says it is at block {}, but it was read from block {want}",
                    tag.location
                ),
            ));
        }
    }
    Ok(tag)
}

/// Parses the tag and also requires identifier `ident`.
pub(crate) fn expect(
    buf: &[u8],
    ident: u16,
    expected: Option<u32>,
    structure: &'static str,
    at: Location,
) -> Result<Tag> {
    let tag = parse(buf, expected, structure, at)?;
    if tag.ident != ident {
        return Err(Error::corrupt(
            structure,
            at,
            format!("tag identifier is {}, expected {ident}", tag.ident),
        ));
    }
    Ok(tag)
}

/// Writes a valid tag into `buf[..16]` (checksum and CRC over `crc_len`
/// body bytes): for building test descriptors.
#[cfg(test)]
pub(crate) fn write(buf: &mut [u8], ident: u16, location: u32, crc_len: usize) {
    buf[0..2].copy_from_slice(&ident.to_le_bytes());
    buf[2..4].copy_from_slice(&2u16.to_le_bytes());
    buf[10..12].copy_from_slice(&(crc_len as u16).to_le_bytes());
    buf[12..16].copy_from_slice(&location.to_le_bytes());
    let crc = crc16(&buf[TAG_LEN..TAG_LEN + crc_len]);
    buf[8..10].copy_from_slice(&crc.to_le_bytes());
    buf[4] = checksum(buf);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_ccitt_xmodem() {
        // CRC-16/XMODEM check value of "123456789".
        assert_eq!(crc16(b"123456789"), 0x31c3);
        assert_eq!(crc16(b""), 0);
    }

    fn desc() -> Vec<u8> {
        let mut b = vec![0u8; 512];
        b[16..20].copy_from_slice(b"body");
        write(&mut b, ident::AVDP, 256, 496);
        b
    }

    #[test]
    fn good_tag_parses() {
        let b = desc();
        let t = expect(&b, ident::AVDP, Some(256), "anchor", Location::sector(256)).unwrap();
        assert_eq!(t.location, 256);
        assert_eq!(t.crc_len, 496);
        assert!(looks_like(&b, ident::AVDP));
    }

    #[test]
    fn bad_checksum_crc_location_and_length() {
        let at = Location::sector(256);
        let mut b = desc();
        b[5] ^= 1;
        let e = parse(&b, None, "anchor", at).unwrap_err().to_string();
        assert!(e.contains("checksum"), "{e}");

        let mut b = desc();
        b[100] ^= 1;
        let e = parse(&b, None, "anchor", at).unwrap_err().to_string();
        assert!(e.contains("CRC"), "{e}");

        let b = desc();
        let e = parse(&b, Some(257), "anchor", at).unwrap_err().to_string();
        assert!(e.contains("block 256"), "{e}");

        // CRC length beyond the block: accepted on the checksum alone.
        assert!(parse(&b[..300], None, "anchor", at).is_ok());

        let e = expect(&b, ident::PVD, None, "anchor", at)
            .unwrap_err()
            .to_string();
        assert!(e.contains("identifier is 2"), "{e}");
        assert!(parse(&b[..8], None, "anchor", at).is_err());
    }
}
