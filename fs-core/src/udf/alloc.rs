//! Allocation descriptors (ECMA-167 4/14.14) and allocation extent
//! descriptors (4/14.5).
//!
//! A file's content is a list of extents, each `short_ad` (8 bytes: length,
//! block in the ICB's partition), `long_ad` (16 bytes: length, block,
//! partition reference) or `ext_ad` (20 bytes). The two top bits of the
//! length give the extent type (4/14.14.1.1): 0 recorded and allocated,
//! 1 allocated but not recorded, 2 neither (both read as zeros), 3 the next
//! extent of allocation descriptors (an AED continuing the list). A length
//! of zero ends the list. ICB flag type 3 means the data itself is embedded
//! in the ICB where the descriptors would be.

use std::collections::HashSet;

use crate::error::{Error, Location, Result};
use crate::node::{Extent, FileData};

use super::disk::Disk;
use super::le::{bytes, u16_at, u32_at};
use super::partition::Partitions;
use super::tag::{self, ident};

/// Most extents one file may have.
pub(crate) const MAX_EXTENTS: usize = 1 << 20;
/// Most allocation extent descriptors followed for one file.
const MAX_AED_HOPS: usize = 1 << 16;

/// How the allocation descriptors of an ICB are recorded (4/14.6.8, flags bits 0-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AdType {
    /// `short_ad` (4/14.14.1).
    Short,
    /// `long_ad` (4/14.14.2).
    Long,
    /// `ext_ad` (4/14.14.3).
    Extended,
    /// The data is embedded in the ICB.
    Embedded,
}

impl AdType {
    /// From the ICB tag flags; `None` for the reserved values 4-7.
    pub(crate) fn from_flags(flags: u16) -> Option<AdType> {
        match flags & 7 {
            0 => Some(AdType::Short),
            1 => Some(AdType::Long),
            2 => Some(AdType::Extended),
            3 => Some(AdType::Embedded),
            _ => None,
        }
    }

    fn size(self) -> usize {
        match self {
            AdType::Short => 8,
            AdType::Long => 16,
            AdType::Extended => 20,
            AdType::Embedded => 0,
        }
    }
}

/// One allocation descriptor, reduced to what the reader needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ad {
    /// Extent type (0-3).
    pub kind: u8,
    /// Length in bytes.
    pub len: u32,
    /// Partition reference.
    pub part: u16,
    /// Logical block in that partition.
    pub lbn: u32,
}

/// Reads one descriptor at the start of `b`.
fn parse_one(b: &[u8], ty: AdType, home: u16) -> Ad {
    let raw = u32_at(b, 0);
    let (lbn, part) = match ty {
        AdType::Short => (u32_at(b, 4), home),
        AdType::Long => (u32_at(b, 4), u16_at(b, 8)),
        AdType::Extended => (u32_at(b, 12), u16_at(b, 16)),
        AdType::Embedded => (0, home),
    };
    Ad {
        kind: (raw >> 30) as u8,
        len: raw & 0x3fff_ffff,
        part,
        lbn,
    }
}

/// Parses the descriptors in `area` until its end or a zero length. Returns
/// the extents and the continuation (type 3) descriptor, if one ends the area.
pub(crate) fn parse_area(area: &[u8], ty: AdType, home: u16) -> (Vec<Ad>, Option<Ad>) {
    let size = ty.size();
    let mut out = Vec::new();
    if size == 0 {
        return (out, None);
    }
    for chunk in area.chunks_exact(size) {
        let ad = parse_one(chunk, ty, home);
        if ad.len == 0 {
            break;
        }
        if ad.kind == 3 {
            return (out, Some(ad));
        }
        out.push(ad);
    }
    (out, None)
}

/// All extents of an ICB: those in `area`, then those of every allocation
/// extent descriptor the list continues into (bounded, loops detected).
pub(crate) fn collect(
    disk: &Disk,
    parts: &Partitions,
    area: &[u8],
    ty: AdType,
    home: u16,
    at: Location,
) -> Result<Vec<Ad>> {
    let (mut ads, mut next) = parse_area(area, ty, home);
    let mut seen = HashSet::new();
    let mut hops = 0usize;
    while let Some(c) = next {
        hops += 1;
        if hops > MAX_AED_HOPS || !seen.insert((c.part, c.lbn)) {
            return Err(Error::corrupt(
                "allocation extent descriptor",
                at,
                format!(
                    "allocation descriptors continue at block {} of partition {} again (a loop)",
                    c.lbn, c.part
                ),
            ));
        }
        let abs = parts.block_abs(disk, c.part, c.lbn)?;
        let here = disk.loc(abs);
        let b = disk.read(abs, disk.bs as usize, "allocation extent descriptor")?;
        tag::expect(
            &b,
            ident::AED,
            Some(c.lbn),
            "allocation extent descriptor",
            here,
        )?;
        let l_ad = u32_at(&b, 20) as usize;
        let limit = (c.len as usize).min(b.len()).saturating_sub(24);
        if l_ad > limit {
            return Err(Error::corrupt(
                "allocation extent descriptor",
                here,
                format!("{l_ad} bytes of descriptors do not fit its {limit}-byte extent"),
            ));
        }
        let (more, n) = parse_area(bytes(&b, 24, l_ad), ty, c.part);
        ads.extend(more);
        next = n;
        if ads.len() > MAX_EXTENTS {
            return Err(Error::corrupt(
                "allocation extent descriptor",
                here,
                format!("more than {MAX_EXTENTS} extents"),
            ));
        }
    }
    if ads.len() > MAX_EXTENTS {
        return Err(Error::corrupt(
            "allocation descriptors",
            at,
            format!("more than {MAX_EXTENTS} extents"),
        ));
    }
    Ok(ads)
}

/// Turns extents into file content of `size` bytes: recorded extents are
/// mapped through their partition to image offsets; allocated-not-recorded
/// and not-allocated extents read as zeros. Extents past `size` are ignored;
/// content shorter than `size` is padded with zeros (and logged).
pub(crate) fn file_data(
    disk: &Disk,
    parts: &Partitions,
    ads: &[Ad],
    size: u64,
    at: Location,
) -> Result<FileData> {
    let mut extents: Vec<Extent> = Vec::new();
    let mut total = 0u64;
    for ad in ads {
        if total >= size {
            break;
        }
        let want = u64::from(ad.len).min(size - total);
        total += want;
        if ad.kind == 0 {
            for (start, len) in parts.extent(disk, ad.part, ad.lbn, want)? {
                push_merged(&mut extents, Extent::Recorded { start, len });
            }
        } else {
            push_merged(&mut extents, Extent::Zero { len: want });
        }
        if extents.len() > MAX_EXTENTS {
            return Err(Error::corrupt(
                "allocation descriptors",
                at,
                format!("more than {MAX_EXTENTS} extents"),
            ));
        }
    }
    let mut data = FileData::new(extents);
    // A gap larger than the whole image is no sparse file but a hostile or
    // broken length: reading it as zeros would hand out (and let `extract`
    // write) up to 2^64 bytes.
    if size - data.len().min(size) > disk.blocks().saturating_mul(disk.bs64()) {
        return Err(Error::corrupt(
            "file entry",
            at,
            format!(
                "information length {size} bytes, but its extents hold {} and the image is smaller than the rest",
                data.len()
            ),
        ));
    }
    if data.len() < size {
        log::warn!(
            "file entry at {at}: extents hold {} bytes of its {size}; the rest reads as zeros",
            data.len()
        );
        data.push(Extent::Zero {
            len: size - data.len(),
        });
    }
    Ok(data)
}

/// Appends `e`, joining it to the previous extent when they are contiguous
/// (consecutive descriptors of one run, or zero runs).
fn push_merged(extents: &mut Vec<Extent>, e: Extent) {
    if e.is_empty() {
        return;
    }
    match (extents.last_mut(), e) {
        (Some(Extent::Recorded { start, len }), Extent::Recorded { start: s2, len: l2 })
            if *start + *len == s2 =>
        {
            *len += l2
        }
        (Some(Extent::Zero { len }), Extent::Zero { len: l2 }) => *len += l2,
        _ => extents.push(e),
    }
}

/// Test helpers: encode descriptors.
#[cfg(test)]
pub(crate) mod build {
    pub(crate) fn short(kind: u8, len: u32, lbn: u32) -> Vec<u8> {
        let mut v = ((u32::from(kind) << 30) | len).to_le_bytes().to_vec();
        v.extend(lbn.to_le_bytes());
        v
    }

    pub(crate) fn long(kind: u8, len: u32, lbn: u32, part: u16) -> Vec<u8> {
        let mut v = short(kind, len, lbn);
        v.extend(part.to_le_bytes());
        v.extend([0u8; 6]);
        v
    }

    pub(crate) fn ext(kind: u8, len: u32, lbn: u32, part: u16) -> Vec<u8> {
        let mut v = ((u32::from(kind) << 30) | len).to_le_bytes().to_vec();
        v.extend(len.to_le_bytes());
        v.extend(len.to_le_bytes());
        v.extend(lbn.to_le_bytes());
        v.extend(part.to_le_bytes());
        v.extend([0u8; 2]);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::MemSource;
    use std::sync::Arc;

    #[test]
    fn each_descriptor_type_and_extent_kind() {
        let mut area = build::short(0, 4096, 10);
        area.extend(build::short(1, 2048, 0));
        area.extend(build::short(2, 100, 0));
        area.extend(build::short(0, 0, 0)); // terminator
        area.extend(build::short(0, 5, 5));
        let (ads, next) = parse_area(&area, AdType::Short, 3);
        assert!(next.is_none());
        assert_eq!(ads.len(), 3);
        assert_eq!(
            ads[0],
            Ad {
                kind: 0,
                len: 4096,
                part: 3,
                lbn: 10
            }
        );
        assert_eq!((ads[1].kind, ads[2].kind), (1, 2));

        let mut area = build::long(0, 2048, 7, 1);
        area.extend(build::long(3, 2048, 8, 1));
        let (ads, next) = parse_area(&area, AdType::Long, 0);
        assert_eq!(ads[0].part, 1);
        assert_eq!(next.unwrap().lbn, 8);

        let (ads, _) = parse_area(&build::ext(1, 999, 4, 2), AdType::Extended, 0);
        assert_eq!(
            ads[0],
            Ad {
                kind: 1,
                len: 999,
                part: 2,
                lbn: 4
            }
        );
        assert_eq!(AdType::from_flags(3), Some(AdType::Embedded));
        assert_eq!(AdType::from_flags(5), None);
    }

    fn aed(lbn: u32, ads: &[Vec<u8>]) -> Vec<u8> {
        let mut b = vec![0u8; 2048];
        let body: Vec<u8> = ads.concat();
        b[20..24].copy_from_slice(&(body.len() as u32).to_le_bytes());
        b[24..24 + body.len()].copy_from_slice(&body);
        tag::write(&mut b, ident::AED, lbn, 8 + body.len());
        b
    }

    /// A 40-block image, one physical partition from block 0.
    fn setup(blocks: &[(usize, Vec<u8>)]) -> (Disk, Partitions) {
        let mut img = vec![0u8; 40 * 2048];
        for (at, b) in blocks {
            img[at * 2048..at * 2048 + b.len()].copy_from_slice(b);
        }
        let disk = Disk::new(Arc::new(MemSource::new(img)), 2048);
        (disk, Partitions::physical_for_tests(0, 40))
    }

    #[test]
    fn follows_aed_chain_into_file_data() {
        let (disk, parts) = setup(&[
            (
                20,
                aed(20, &[build::short(0, 2048, 5), build::short(3, 2048, 21)]),
            ),
            (21, aed(21, &[build::short(2, 1000, 0)])),
        ]);
        let mut area = build::short(0, 2048, 4);
        area.extend(build::short(3, 2048, 20));
        let at = Location::sector(1);
        let ads = collect(&disk, &parts, &area, AdType::Short, 0, at).unwrap();
        assert_eq!(ads.len(), 3);
        let data = file_data(&disk, &parts, &ads, 5000, at).unwrap();
        assert_eq!(
            data.extents(),
            [
                Extent::Recorded {
                    start: 4 * 2048,
                    len: 4096
                },
                Extent::Zero { len: 904 }
            ]
        );
        // Short content is padded.
        let data = file_data(&disk, &parts, &ads[..1], 3000, at).unwrap();
        assert_eq!(data.len(), 3000);
        // Up to the image's size; beyond, the length is a lie.
        let image = 40 * 2048;
        assert!(file_data(&disk, &parts, &ads[..1], 2048 + image, at).is_ok());
        let e = file_data(&disk, &parts, &ads[..1], 1 << 60, at).unwrap_err();
        assert!(e.to_string().contains("information length"), "{e}");
    }

    #[test]
    fn aed_loop_is_an_error() {
        let (disk, parts) = setup(&[
            (20, aed(20, &[build::short(3, 2048, 21)])),
            (21, aed(21, &[build::short(3, 2048, 20)])),
        ]);
        let area = build::short(3, 2048, 20);
        let e = collect(&disk, &parts, &area, AdType::Short, 0, Location::sector(1)).unwrap_err();
        assert!(e.to_string().contains("loop"), "{e}");
        // An AED whose tag is bad.
        let area = build::short(3, 2048, 30);
        assert!(collect(&disk, &parts, &area, AdType::Short, 0, Location::sector(1)).is_err());
    }

    #[test]
    fn extent_outside_partition_is_an_error() {
        let (disk, parts) = setup(&[]);
        let ads = [Ad {
            kind: 0,
            len: 4096,
            part: 0,
            lbn: 39,
        }];
        let e = file_data(&disk, &parts, &ads, 4096, Location::sector(1)).unwrap_err();
        assert!(e.to_string().contains("partition"), "{e}");
        let ads = [Ad {
            kind: 0,
            len: 10,
            part: 7,
            lbn: 0,
        }];
        assert!(file_data(&disk, &parts, &ads, 10, Location::sector(1)).is_err());
    }
}
