//! File identifier descriptors (ECMA-167 4/14.4): the entries of a directory.
//!
//! A directory's content is a sequence of FIDs, each 38 bytes plus an
//! implementation use area and the name, padded to a multiple of 4 bytes
//! (4/14.4.9). FIDs may straddle block boundaries, so the reader walks the
//! directory's whole content, read through its extents first.

use crate::error::{Error, Location};

use super::cs0;
use super::icb::LongAd;
use super::le::{bytes, u8_at, u16_at};
use super::tag::{self, ident};

/// File characteristics (4/14.4.3).
pub(crate) mod chars {
    /// Existence bit: the entry is hidden.
    pub const HIDDEN: u8 = 1;
    /// A directory.
    pub const DIRECTORY: u8 = 2;
    /// Deleted: skip.
    pub const DELETED: u8 = 4;
    /// The parent directory entry.
    pub const PARENT: u8 = 8;
    /// A stream (metadata) entry.
    pub const METADATA: u8 = 16;
}

/// One entry of a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fid {
    /// Offset of the FID inside the directory's content.
    pub offset: usize,
    /// File characteristics (4/14.4.3).
    pub characteristics: u8,
    /// The entry's ICB.
    pub icb: LongAd,
    /// Decoded name.
    pub name: String,
}

impl Fid {
    pub(crate) fn hidden(&self) -> bool {
        self.characteristics & chars::HIDDEN != 0
    }
}

/// What a walk found: entries (parent and deleted ones left out), and the
/// FIDs that were broken.
#[derive(Debug, Default)]
pub(crate) struct Walk {
    /// Listed entries, in on-disk order.
    pub entries: Vec<Fid>,
    /// Broken descriptors.
    pub problems: Vec<Error>,
}

/// Walks the FIDs of a directory's content `data`. `at` maps an offset in
/// the content to its location in the image (for errors).
pub(crate) fn walk(data: &[u8], at: &dyn Fn(usize) -> Location) -> Walk {
    let mut out = Walk::default();
    let mut pos = 0usize;
    // A FID is at least its 38-byte fixed part (4/14.4).
    while let Some(rest) = data.get(pos..).filter(|r| r.len() >= 38) {
        if rest.iter().all(|&b| b == 0) {
            // Zero padding after the last descriptor (some writers round
            // the directory up to a block).
            break;
        }
        let l_iu = usize::from(u16_at(rest, 36));
        let l_fi = usize::from(u8_at(rest, 19));
        let len = (38 + l_iu + l_fi).next_multiple_of(4);
        let here = at(pos);
        let Some(desc) = rest.get(..len) else {
            out.problems.push(Error::corrupt(
                "file identifier descriptor",
                here,
                format!("{len}-byte descriptor runs past the directory's end"),
            ));
            break;
        };
        match tag::expect(desc, ident::FID, None, "file identifier descriptor", here) {
            Ok(_) => {}
            Err(e) => {
                // With a bad checksum the lengths cannot be trusted either:
                // the rest of the directory is lost.
                let lengths_trusted = tag::looks_like(desc, ident::FID);
                out.problems.push(e);
                if lengths_trusted {
                    pos += len;
                    continue;
                }
                break;
            }
        }
        pos += len;
        let characteristics = u8_at(desc, 18);
        if characteristics & (chars::DELETED | chars::PARENT) != 0 {
            continue;
        }
        let name = cs0::decode(bytes(desc, 38 + l_iu, l_fi));
        if name.is_empty() {
            out.problems.push(Error::corrupt(
                "file identifier descriptor",
                here,
                "entry without a name",
            ));
            continue;
        }
        out.entries.push(Fid {
            offset: pos - len,
            characteristics,
            icb: LongAd::parse(bytes(desc, 20, 16)),
            name,
        });
    }
    out
}

/// Builds a FID (tests).
#[cfg(test)]
pub(crate) fn build(characteristics: u8, lbn: u32, part: u16, name: &str, l_iu: usize) -> Vec<u8> {
    let mut id = vec![8u8];
    id.extend(name.bytes());
    if name.is_empty() {
        id.clear();
    }
    let len = (38 + l_iu + id.len()).next_multiple_of(4);
    let mut b = vec![0u8; len];
    b[16..18].copy_from_slice(&1u16.to_le_bytes());
    b[18] = characteristics;
    b[19] = id.len() as u8;
    b[20..24].copy_from_slice(&2048u32.to_le_bytes());
    b[24..28].copy_from_slice(&lbn.to_le_bytes());
    b[28..30].copy_from_slice(&part.to_le_bytes());
    b[36..38].copy_from_slice(&(l_iu as u16).to_le_bytes());
    b[38 + l_iu..38 + l_iu + id.len()].copy_from_slice(&id);
    tag::write(&mut b, ident::FID, 0, len - 16);
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(o: usize) -> Location {
        Location::at(o as u64 / 2048, (o % 2048) as u32)
    }

    #[test]
    fn walks_entries_skipping_parent_and_deleted() {
        let mut d = build(chars::PARENT | chars::DIRECTORY, 1, 0, "", 0);
        d.extend(build(0, 5, 0, "a.txt", 0));
        d.extend(build(chars::DELETED, 6, 0, "gone", 0));
        d.extend(build(chars::HIDDEN | chars::DIRECTORY, 7, 1, "Sub", 32));
        let w = walk(&d, &at);
        assert!(w.problems.is_empty(), "{:?}", w.problems);
        let names: Vec<_> = w.entries.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["a.txt", "Sub"]);
        assert!(w.entries[1].hidden());
        assert_eq!(
            w.entries[1].icb,
            LongAd {
                len: 2048,
                lbn: 7,
                part: 1
            }
        );
        assert_eq!(w.entries[0].offset, 40);
    }

    #[test]
    fn broken_fid_fails_only_that_entry() {
        let mut d = build(0, 5, 0, "one", 0);
        let mut bad = build(0, 6, 0, "two", 0);
        let n = bad.len();
        bad[n - 1] ^= 0xff; // padding/name byte: CRC wrong, lengths fine
        bad[40] ^= 1;
        d.extend(bad);
        d.extend(build(0, 7, 0, "three", 0));
        let w = walk(&d, &at);
        assert_eq!(w.problems.len(), 1);
        assert_eq!(w.entries.len(), 2);
        // A bad checksum stops the walk; a descriptor past the end too.
        let mut d = build(0, 5, 0, "one", 0);
        d[5] ^= 1;
        let w = walk(&d, &at);
        assert_eq!((w.entries.len(), w.problems.len()), (0, 1));
        let d = build(0, 5, 0, "one", 0);
        let w = walk(&d[..d.len() - 2], &at);
        assert_eq!(w.problems.len(), 1);
        // Zero padding at the end is not a problem.
        let mut d = build(0, 5, 0, "one", 0);
        d.resize(2048, 0);
        let w = walk(&d, &at);
        assert_eq!((w.entries.len(), w.problems.len()), (1, 0));
    }
}
