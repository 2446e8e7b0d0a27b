//! One directory record (ECMA-119 9.1).
//!
//! ```text
//! BP  1      length of directory record (0 = no more records in this sector)
//! BP  2      extended attribute record length (logical blocks)
//! BP  3-10   location of extent (both-endian u32, logical block)
//! BP 11-18   data length (both-endian u32)
//! BP 19-25   recording date and time (9.1.5)
//! BP 26      file flags (9.1.6)
//! BP 27      file unit size, BP 28 interleave gap size (9.1.7, 9.1.8)
//! BP 29-32   volume sequence number (both-endian u16)
//! BP 33      length of file identifier (LEN_FI)
//! BP 34-     file identifier, a pad byte if LEN_FI is even, then system use (9.1.13)
//! ```

use crate::error::{Error, Location, Result};
use crate::node::Timestamp;

use super::datetime::parse_record_date;
use crate::bytes::{u16_be, u16_le, u32_be, u32_le};

/// Fixed part of a directory record, before the file identifier.
pub(crate) const FIXED_LEN: usize = 33;

/// File flag bits (ECMA-119 9.1.6).
pub(crate) mod flags {
    /// "Existence": the file need not be made known to the user (hidden).
    pub const HIDDEN: u8 = 0x01;
    /// The record identifies a directory.
    pub const DIRECTORY: u8 = 0x02;
    /// An associated file (e.g. a Macintosh resource fork).
    pub const ASSOCIATED: u8 = 0x04;
    /// Not the final directory record of a multi-extent file (6.5.1).
    pub const MULTI_EXTENT: u8 = 0x80;
}

const STRUCTURE: &str = "directory record";

/// Reads a both-endian u32 (ECMA-119 7.3.3) at `off`: the little-endian half
/// wins; a mismatch is logged.
pub(crate) fn both_u32(b: &[u8], off: usize, structure: &'static str, at: Location) -> Option<u32> {
    let le = u32_le(b, off)?;
    let be = u32_be(b, off.checked_add(4)?)?;
    if le != be {
        log::warn!(
            "{structure} at {at}: both-endian field at +{off} disagrees (LE {le}, BE {be}); using LE"
        );
    }
    Some(le)
}

/// Reads a both-endian u16 (ECMA-119 7.2.3) at `off`, little-endian half.
pub(crate) fn both_u16(b: &[u8], off: usize, structure: &'static str, at: Location) -> Option<u16> {
    let le = u16_le(b, off)?;
    let be = u16_be(b, off.checked_add(2)?)?;
    if le != be {
        log::warn!(
            "{structure} at {at}: both-endian field at +{off} disagrees (LE {le}, BE {be}); using LE"
        );
    }
    Some(le)
}

/// A parsed directory record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DirectoryRecord {
    /// Length of the whole record in bytes.
    pub len: u8,
    /// Logical blocks of extended attribute record before the data (9.1.2).
    pub ext_attr_len: u8,
    /// First logical block of the extent (9.1.3).
    pub extent: u32,
    /// Data length in bytes (9.1.4).
    pub data_len: u32,
    /// Recording date (9.1.5); `None` when not specified.
    pub recorded: Option<Timestamp>,
    /// File flags (9.1.6).
    pub flags: u8,
    /// File unit size for interleaved files (9.1.7).
    pub file_unit_size: u8,
    /// Interleave gap size (9.1.8).
    pub interleave_gap: u8,
    /// File identifier bytes as recorded (9.1.10).
    pub name: Vec<u8>,
    /// System use area (9.1.13), where SUSP / Rock Ridge entries live.
    pub system_use: Vec<u8>,
}

impl DirectoryRecord {
    /// Parses the record at the start of `b`, which holds the rest of the
    /// logical sector (records never cross a sector, ECMA-119 6.8.1.1).
    /// `Ok(None)` when the length byte is 0: no further record in this sector.
    pub(crate) fn parse(b: &[u8], at: Location) -> Result<Option<DirectoryRecord>> {
        let Some(&len) = b.first() else {
            return Ok(None);
        };
        if len == 0 {
            return Ok(None);
        }
        let len_us = usize::from(len);
        if len_us < FIXED_LEN + 1 {
            return Err(Error::corrupt(
                STRUCTURE,
                at,
                format!("record length {len} is below the minimum of 34"),
            ));
        }
        let Some(rec) = b.get(..len_us) else {
            return Err(Error::corrupt(
                STRUCTURE,
                at,
                format!(
                    "record length {len} runs past the end of the sector ({} bytes left)",
                    b.len()
                ),
            ));
        };
        let name_len = usize::from(rec.get(32).copied().unwrap_or(0));
        if name_len == 0 {
            return Err(Error::corrupt(STRUCTURE, at, "file identifier length is 0"));
        }
        let name_end = FIXED_LEN + name_len;
        let Some(name) = rec.get(FIXED_LEN..name_end) else {
            return Err(Error::corrupt(
                STRUCTURE,
                at,
                format!(
                    "file identifier ({name_len} bytes) does not fit in the record ({len} bytes)"
                ),
            ));
        };
        let su_start = name_end + usize::from(name_len % 2 == 0);
        let system_use = rec.get(su_start..).unwrap_or(&[]).to_vec();
        let bad = || Error::corrupt(STRUCTURE, at, "record too short");
        let extent = both_u32(rec, 2, STRUCTURE, at).ok_or_else(bad)?;
        let data_len = both_u32(rec, 10, STRUCTURE, at).ok_or_else(bad)?;
        let byte = |i: usize| rec.get(i).copied().unwrap_or(0);
        Ok(Some(DirectoryRecord {
            len,
            ext_attr_len: byte(1),
            extent,
            data_len,
            recorded: rec.get(18..25).and_then(parse_record_date),
            flags: byte(25),
            file_unit_size: byte(26),
            interleave_gap: byte(27),
            name: name.to_vec(),
            system_use,
        }))
    }

    /// Directory flag.
    pub(crate) fn is_dir(&self) -> bool {
        self.flags & flags::DIRECTORY != 0
    }

    /// Existence (hidden) flag.
    pub(crate) fn is_hidden(&self) -> bool {
        self.flags & flags::HIDDEN != 0
    }

    /// Associated-file flag.
    pub(crate) fn is_associated(&self) -> bool {
        self.flags & flags::ASSOCIATED != 0
    }

    /// Multi-extent flag: more sections of this file follow (6.5.1).
    pub(crate) fn is_multi_extent(&self) -> bool {
        self.flags & flags::MULTI_EXTENT != 0
    }

    /// Recorded in interleaved mode (9.1.7, 9.1.8).
    pub(crate) fn is_interleaved(&self) -> bool {
        self.file_unit_size != 0 || self.interleave_gap != 0
    }

    /// The "." record (identifier 0x00, 6.8.2.2).
    pub(crate) fn is_self(&self) -> bool {
        self.name == [0]
    }

    /// The ".." record (identifier 0x01).
    pub(crate) fn is_parent(&self) -> bool {
        self.name == [1]
    }

    /// Byte offset in the image where the data starts: the extent, after
    /// its extended attribute record (9.1.2).
    pub(crate) fn data_start(&self, block_size: u32) -> u64 {
        (u64::from(self.extent) + u64::from(self.ext_attr_len)) * u64::from(block_size)
    }
}

/// Strips a version suffix ";N" (ECMA-119 7.5.1: SEPARATOR 2 and version
/// number) and then a trailing "." (SEPARATOR 1 of a name with no extension):
/// "FOO.;1" -> "FOO", "A.TXT;1" -> "A.TXT".
pub(crate) fn strip_version(name: &str) -> &str {
    let base = match name.rsplit_once(';') {
        Some((base, version)) if version.bytes().all(|c| c.is_ascii_digit()) => base,
        _ => name,
    };
    match base.strip_suffix('.') {
        Some(b) if !b.is_empty() => b,
        _ => base,
    }
}

/// The name shown for a plain ISO 9660 file identifier: bytes as text
/// (lossy; d-characters are ASCII), version suffix stripped.
pub(crate) fn iso_name(raw: &[u8]) -> String {
    let s = String::from_utf8_lossy(raw);
    strip_version(&s).to_string()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a directory record from its fields (ECMA-119 9.1), for tests.
    pub(crate) fn record(extent: u32, size: u32, flags: u8, name: &[u8], su: &[u8]) -> Vec<u8> {
        let pad = usize::from(name.len() % 2 == 0);
        let len = FIXED_LEN + name.len() + pad + su.len();
        let mut r = vec![0u8; len];
        r[0] = len as u8;
        r[2..6].copy_from_slice(&extent.to_le_bytes());
        r[6..10].copy_from_slice(&extent.to_be_bytes());
        r[10..14].copy_from_slice(&size.to_le_bytes());
        r[14..18].copy_from_slice(&size.to_be_bytes());
        r[18..25].copy_from_slice(&[126, 5, 3, 10, 20, 30, 0]);
        r[25] = flags;
        r[28..30].copy_from_slice(&1u16.to_le_bytes());
        r[30..32].copy_from_slice(&1u16.to_be_bytes());
        r[32] = name.len() as u8;
        r[33..33 + name.len()].copy_from_slice(name);
        r[33 + name.len() + pad..].copy_from_slice(su);
        r
    }

    #[test]
    fn parses_fields() {
        let b = record(20, 1234, flags::HIDDEN, b"A.TXT;1", b"PX\x05\x01\x00");
        let r = DirectoryRecord::parse(&b, Location::at(19, 0))
            .unwrap()
            .unwrap();
        assert_eq!(r.extent, 20);
        assert_eq!(r.data_len, 1234);
        assert!(r.is_hidden() && !r.is_dir() && !r.is_multi_extent());
        assert_eq!(r.name, b"A.TXT;1");
        // Odd identifier length: no pad byte, system use follows directly.
        assert_eq!(r.system_use, b"PX\x05\x01\x00");
        assert_eq!(r.recorded.unwrap().to_rfc3339(), "2026-05-03T10:20:30Z");
        assert_eq!(r.data_start(2048), 20 * 2048);
    }

    #[test]
    fn even_name_has_pad_byte() {
        let b = record(20, 0, flags::DIRECTORY, b"AB", b"SU");
        let r = DirectoryRecord::parse(&b, Location::at(19, 0))
            .unwrap()
            .unwrap();
        assert_eq!(r.system_use, b"SU");
        assert!(r.is_dir());
    }

    #[test]
    fn zero_length_ends_sector() {
        assert_eq!(
            DirectoryRecord::parse(&[0, 1, 2], Location::sector(0)).unwrap(),
            None
        );
        assert_eq!(
            DirectoryRecord::parse(&[], Location::sector(0)).unwrap(),
            None
        );
    }

    #[test]
    fn rejects_bad_lengths() {
        let mut b = record(20, 0, 0, b"A;1", b"");
        // Shorter than the fixed part.
        b[0] = 20;
        assert!(DirectoryRecord::parse(&b, Location::sector(0)).is_err());
        // Longer than what is left of the sector.
        let mut b = record(20, 0, 0, b"A;1", b"");
        b[0] = 200;
        assert!(DirectoryRecord::parse(&b, Location::sector(0)).is_err());
        // Identifier longer than the record.
        let mut b = record(20, 0, 0, b"A;1", b"");
        b[32] = 50;
        assert!(DirectoryRecord::parse(&b, Location::sector(0)).is_err());
        // Zero-length identifier.
        let mut b = record(20, 0, 0, b"A;1", b"");
        b[32] = 0;
        assert!(DirectoryRecord::parse(&b, Location::sector(0)).is_err());
    }

    #[test]
    fn both_endian_mismatch_uses_le() {
        let mut b = record(20, 0, 0, b"A;1", b"");
        b[6..10].copy_from_slice(&99u32.to_be_bytes());
        let r = DirectoryRecord::parse(&b, Location::sector(0))
            .unwrap()
            .unwrap();
        assert_eq!(r.extent, 20);
    }

    #[test]
    fn names() {
        assert_eq!(strip_version("FOO.;1"), "FOO");
        assert_eq!(strip_version("A.TXT;1"), "A.TXT");
        assert_eq!(strip_version("A.TXT;32767"), "A.TXT");
        assert_eq!(strip_version("DIR"), "DIR");
        assert_eq!(strip_version("A;B"), "A;B");
        assert_eq!(strip_version("."), ".");
        assert_eq!(iso_name(b"README.;1"), "README");
        let r = DirectoryRecord::parse(&record(1, 0, 2, &[0], b""), Location::sector(0))
            .unwrap()
            .unwrap();
        assert!(r.is_self() && !r.is_parent());
    }
}
