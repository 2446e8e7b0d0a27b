//! File set descriptor (ECMA-167 4/14.1): names the root directory's ICB.
//!
//! Found through the logical volume descriptor's contents use field (a
//! `long_ad`, 3/10.6.7 and 4/3.1).

use crate::error::Result;
use crate::node::Timestamp;

use super::cs0::dstring;
use super::disk::Disk;
use super::icb::LongAd;
use super::le::bytes;
use super::partition::Partitions;
use super::tag::{self, ident};
use super::timestamp;

/// File set descriptor fields.
#[derive(Debug, Clone)]
pub(crate) struct FileSet {
    /// Recording date and time (4/14.1.2).
    pub recorded: Option<Timestamp>,
    /// File set identifier (4/14.1.12).
    pub file_set_id: String,
    /// Root directory ICB (4/14.1.7).
    pub root: LongAd,
}

/// Reads the file set descriptor at `at` (a long_ad).
pub(crate) fn read(disk: &Disk, parts: &Partitions, at: LongAd) -> Result<FileSet> {
    let abs = parts.block_abs(disk, at.part, at.lbn)?;
    let b = disk.read(abs, disk.bs as usize, "file set descriptor")?;
    tag::expect(
        &b,
        ident::FSD,
        Some(at.lbn),
        "file set descriptor",
        disk.loc(abs),
    )?;
    Ok(FileSet {
        recorded: timestamp::parse(bytes(&b, 16, 12)),
        file_set_id: dstring(bytes(&b, 304, 32)),
        root: LongAd::parse(bytes(&b, 400, 16)),
    })
}

/// Builds a file set descriptor (tests).
#[cfg(test)]
pub(crate) fn build(bs: usize, lbn: u32, root_lbn: u32, root_part: u16) -> Vec<u8> {
    let mut b = vec![0u8; bs];
    b[304] = 8;
    b[305..309].copy_from_slice(b"FSET");
    b[335] = 5;
    b[400..404].copy_from_slice(&(bs as u32).to_le_bytes());
    b[404..408].copy_from_slice(&root_lbn.to_le_bytes());
    b[408..410].copy_from_slice(&root_part.to_le_bytes());
    tag::write(&mut b, ident::FSD, lbn, 496);
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::MemSource;
    use std::sync::Arc;

    #[test]
    fn reads_root_icb() {
        let mut img = vec![0u8; 10 * 2048];
        img[4 * 2048..5 * 2048].copy_from_slice(&build(2048, 2, 3, 0));
        let d = Disk::new(Arc::new(MemSource::new(img)), 2048);
        let p = Partitions::physical_for_tests(2, 8);
        let fs = read(
            &d,
            &p,
            LongAd {
                len: 2048,
                lbn: 2,
                part: 0,
            },
        )
        .unwrap();
        assert_eq!(fs.file_set_id, "FSET");
        assert_eq!(
            fs.root,
            LongAd {
                len: 2048,
                lbn: 3,
                part: 0
            }
        );
        assert!(
            read(
                &d,
                &p,
                LongAd {
                    len: 2048,
                    lbn: 3,
                    part: 0
                }
            )
            .is_err()
        );
    }
}
