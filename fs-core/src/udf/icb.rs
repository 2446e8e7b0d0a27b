//! ICBs: file entries (ECMA-167 4/14.9), extended file entries (4/14.17),
//! the ICB tag (4/14.6) and indirect entries (4/14.7) of strategy 4096.
//!
//! A file's ICB is found through a `long_ad`. Strategy 4 (4/A.2) is a single
//! direct entry. Strategy 4096 (4/A.6, used on write-once media) records a
//! direct entry followed by an indirect entry in the next block that points
//! at a newer ICB; the newest one reached is the file. Indirect entries are
//! followed at most [`MAX_HOPS`] times and never to a block already visited.

use std::collections::HashSet;

use crate::error::{Error, Location, Result};
use crate::node::{DeviceNumber, FileType, Timestamp};

use super::alloc::AdType;
use super::disk::Disk;
use super::le::{bytes, u8_at, u16_at, u32_at, u64_at};
use super::partition::Partitions;
use super::tag::{self, ident};
use super::timestamp;

/// Most indirect entries followed to reach one file's entry.
pub(crate) const MAX_HOPS: usize = 64;

/// File types (4/14.6.6; OSTA UDF 2.3.5.2).
pub(crate) mod file_type {
    /// Unspecified (UDF 1.50 VAT, or a plain file from old writers).
    pub const UNSPECIFIED: u8 = 0;
    /// Directory.
    pub const DIRECTORY: u8 = 4;
    /// Sequence of bytes: a regular file.
    pub const FILE: u8 = 5;
    /// Block special device.
    pub const BLOCK_DEVICE: u8 = 6;
    /// Character special device.
    pub const CHAR_DEVICE: u8 = 7;
    /// FIFO.
    pub const FIFO: u8 = 9;
    /// Socket (C_ISSOCK).
    pub const SOCKET: u8 = 10;
    /// Symbolic link.
    pub const SYMLINK: u8 = 12;
    /// Virtual allocation table (UDF 2.00+, 2.3.5.2).
    pub const VAT: u8 = 248;
    /// Real-time file (UDF 2.01+).
    pub const REALTIME: u8 = 249;
    /// Metadata file (UDF 2.50).
    pub const METADATA: u8 = 250;
    /// Metadata mirror file (UDF 2.50).
    pub const METADATA_MIRROR: u8 = 251;
}

/// ICB tag flags (4/14.6.8).
pub(crate) mod flags {
    /// Set-user-id.
    pub const SETUID: u16 = 1 << 6;
    /// Set-group-id.
    pub const SETGID: u16 = 1 << 7;
    /// Sticky.
    pub const STICKY: u16 = 1 << 8;
}

/// A file entry or extended file entry, parsed.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// Absolute byte offset of the entry in the image (the node id).
    pub abs: u64,
    /// Partition reference it was read from (home of its short_ads).
    pub part: u16,
    /// ICB strategy type (4/14.6.2): 4 or 4096.
    pub strategy: u16,
    /// File type (4/14.6.6).
    pub file_type: u8,
    /// ICB tag flags (4/14.6.8): descriptor type, set-id, sticky.
    pub flags: u16,
    /// Owner (4/14.9.3); `u32::MAX` is "not set".
    pub uid: u32,
    /// Group (4/14.9.4); `u32::MAX` is "not set".
    pub gid: u32,
    /// Permissions (4/14.9.5).
    pub permissions: u32,
    /// File link count (4/14.9.6): FIDs naming this entry.
    pub links: u16,
    /// Information length (4/14.9.10): the content size in bytes.
    pub info_len: u64,
    /// Logical blocks recorded (4/14.9.11).
    pub blocks_recorded: u64,
    /// Access time (4/14.9.12).
    pub atime: Option<Timestamp>,
    /// Modification time (4/14.9.13).
    pub mtime: Option<Timestamp>,
    /// Attribute time (4/14.9.14), shown as ctime.
    pub attr_time: Option<Timestamp>,
    /// Creation time (extended file entries only, 4/14.17.14).
    pub crtime: Option<Timestamp>,
    /// Extended attributes area (4/14.10).
    pub ea: Vec<u8>,
    /// Allocation descriptors area (or the embedded data).
    pub ads: Vec<u8>,
    /// Offset of the allocation descriptors area inside the entry.
    pub ads_offset: usize,
}

impl Entry {
    /// Where the entry sits, for errors.
    pub(crate) fn at(&self, disk: &Disk) -> Location {
        disk.loc(self.abs)
    }

    /// How the allocation descriptors are recorded.
    pub(crate) fn ad_type(&self, disk: &Disk) -> Result<AdType> {
        AdType::from_flags(self.flags).ok_or_else(|| {
            Error::corrupt(
                "file entry",
                self.at(disk),
                format!("reserved allocation descriptor type {}", self.flags & 7),
            )
        })
    }

    /// The node type, or an error for entries that are not files.
    pub(crate) fn kind(&self, disk: &Disk) -> Result<FileType> {
        Ok(match self.file_type {
            file_type::DIRECTORY => FileType::Directory,
            file_type::FILE | file_type::UNSPECIFIED | file_type::REALTIME => FileType::Regular,
            file_type::SYMLINK => FileType::Symlink,
            file_type::BLOCK_DEVICE => FileType::BlockDevice,
            file_type::CHAR_DEVICE => FileType::CharDevice,
            file_type::FIFO => FileType::Fifo,
            file_type::SOCKET => FileType::Socket,
            other => {
                return Err(Error::corrupt(
                    "file entry",
                    self.at(disk),
                    format!("file type {other} is not a file, directory or link"),
                ));
            }
        })
    }

    /// POSIX permission bits (4/14.9.5): UDF's other/group/owner read,
    /// write, execute bits (change-attribute and delete are dropped), with
    /// set-id and sticky from the ICB tag flags.
    pub(crate) fn mode(&self) -> u32 {
        let p = self.permissions;
        let mut m = (p & 7) | ((p >> 5) & 7) << 3 | ((p >> 10) & 7) << 6;
        if self.flags & flags::SETUID != 0 {
            m |= 0o4000;
        }
        if self.flags & flags::SETGID != 0 {
            m |= 0o2000;
        }
        if self.flags & flags::STICKY != 0 {
            m |= 0o1000;
        }
        m
    }

    /// Device number from a device specification extended attribute
    /// (4/14.10.7), if the entry has one.
    pub(crate) fn device(&self) -> Option<DeviceNumber> {
        device_from_ea(&self.ea)
    }
}

/// Finds the device specification (type 12) in an extended attribute area:
/// header descriptor (4/14.10.1), then attributes of `length` bytes each.
fn device_from_ea(ea: &[u8]) -> Option<DeviceNumber> {
    if ea.len() < 24 || !tag::looks_like(ea, ident::EAHD) {
        return None;
    }
    let mut pos = 24usize;
    for _ in 0..256 {
        if pos + 12 > ea.len() {
            return None;
        }
        let kind = u32_at(ea, pos);
        let len = u32_at(ea, pos + 8) as usize;
        if len < 12 || len > ea.len() - pos {
            return None;
        }
        if kind == 12 && len >= 24 {
            return Some(DeviceNumber {
                major: u32_at(ea, pos + 16),
                minor: u32_at(ea, pos + 20),
            });
        }
        pos += len;
    }
    None
}

/// A `long_ad` (4/14.14.2): length, block, partition reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LongAd {
    /// Extent length in bytes.
    pub len: u32,
    /// Logical block number.
    pub lbn: u32,
    /// Partition reference.
    pub part: u16,
}

impl LongAd {
    pub(crate) fn parse(b: &[u8]) -> LongAd {
        LongAd {
            len: u32_at(b, 0) & 0x3fff_ffff,
            lbn: u32_at(b, 4),
            part: u16_at(b, 8),
        }
    }
}

/// Reads the file entry an ICB `long_ad` points at, following indirect
/// entries (strategy 4096) to the newest one.
pub(crate) fn read_entry(disk: &Disk, parts: &Partitions, part: u16, lbn: u32) -> Result<Entry> {
    let mut seen = HashSet::new();
    let mut cur = (part, lbn);
    let mut newest: Option<Entry> = None;
    for _ in 0..=MAX_HOPS {
        if !seen.insert(cur) {
            return Err(Error::corrupt(
                "indirect entry",
                Location::sector(u64::from(cur.1)),
                format!(
                    "ICB chain returns to block {} of partition {} (a loop)",
                    cur.1, cur.0
                ),
            ));
        }
        let abs = parts.block_abs(disk, cur.0, cur.1)?;
        let at = disk.loc(abs);
        let b = disk.read(abs, disk.bs as usize, "file entry")?;
        let t = match tag::parse(&b, Some(cur.1), "file entry", at) {
            Ok(t) => t,
            Err(e) => match newest {
                Some(n) => {
                    log::warn!("{e}; using the previous entry of the ICB");
                    return Ok(n);
                }
                None => return Err(e),
            },
        };
        match t.ident {
            ident::IE => {
                let target = LongAd::parse(bytes(&b, 36, 16));
                if target.len == 0 {
                    break;
                }
                cur = (target.part, target.lbn);
            }
            ident::FE | ident::EFE => {
                let e = parse_entry(&b, t.ident == ident::EFE, abs, cur, at)?;
                if e.strategy != 4096 {
                    return Ok(e);
                }
                // Strategy 4096: an indirect entry in the next block points
                // at a newer ICB (4/A.6).
                let next = cur.1.checked_add(1).and_then(|n| {
                    let abs = parts.block_abs(disk, cur.0, n).ok()?;
                    let b = disk.read(abs, disk.bs as usize, "indirect entry").ok()?;
                    let t = tag::parse(&b, Some(n), "indirect entry", disk.loc(abs)).ok()?;
                    (t.ident == ident::IE).then(|| LongAd::parse(bytes(&b, 36, 16)))
                });
                match next {
                    Some(target) if target.len != 0 => {
                        newest = Some(e);
                        cur = (target.part, target.lbn);
                    }
                    _ => return Ok(e),
                }
            }
            ident::TE => break,
            other => {
                return Err(Error::corrupt(
                    "file entry",
                    at,
                    format!("tag identifier {other} where a file entry should be"),
                ));
            }
        }
    }
    if seen.len() > MAX_HOPS {
        return Err(Error::corrupt(
            "indirect entry",
            Location::sector(u64::from(lbn)),
            format!("more than {MAX_HOPS} indirect entries"),
        ));
    }
    newest.ok_or_else(|| {
        Error::corrupt(
            "file entry",
            Location::sector(u64::from(lbn)),
            "the ICB holds no file entry",
        )
    })
}

/// Parses a file entry (4/14.9) or extended file entry (4/14.17) in `b`.
fn parse_entry(
    b: &[u8],
    extended: bool,
    abs: u64,
    (part, _lbn): (u16, u32),
    at: Location,
) -> Result<Entry> {
    let base = if extended { 216 } else { 176 };
    let (l_ea_at, times) = if extended {
        (208, [80, 92, 104, 116])
    } else {
        (168, [72, 84, 0, 96])
    };
    let l_ea = u32_at(b, l_ea_at) as usize;
    let l_ad = u32_at(b, l_ea_at + 4) as usize;
    let end = base + l_ea.min(b.len()) + l_ad.min(b.len());
    if b.len() < base || end > b.len() {
        return Err(Error::corrupt(
            "file entry",
            at,
            format!(
                "{l_ea} bytes of extended attributes and {l_ad} of allocation descriptors \
                 do not fit the {}-byte block",
                b.len()
            ),
        ));
    }
    let ts = |o: usize| timestamp::parse(bytes(b, o, 12));
    Ok(Entry {
        abs,
        part,
        strategy: u16_at(b, 20),
        file_type: u8_at(b, 27),
        flags: u16_at(b, 34),
        uid: u32_at(b, 36),
        gid: u32_at(b, 40),
        permissions: u32_at(b, 44),
        links: u16_at(b, 48),
        info_len: u64_at(b, 56),
        blocks_recorded: u64_at(b, if extended { 72 } else { 64 }),
        atime: ts(times[0]),
        mtime: ts(times[1]),
        crtime: if extended { ts(times[2]) } else { None },
        attr_time: ts(times[3]),
        ea: bytes(b, base, l_ea).to_vec(),
        ads: bytes(b, base + l_ea, l_ad).to_vec(),
        ads_offset: base + l_ea,
    })
}

/// Test builders.
#[cfg(test)]
pub(crate) mod build {
    use super::super::tag::{self, ident};

    /// A file entry at `lbn` (block of `bs`), with `ads` as its allocation
    /// descriptors (`ad_flags` = ICB flags) and `info_len` bytes of content.
    pub(crate) fn fe(
        bs: usize,
        lbn: u32,
        file_type: u8,
        ad_flags: u16,
        info_len: u64,
        ads: &[u8],
    ) -> Vec<u8> {
        let mut b = vec![0u8; bs];
        b[20..22].copy_from_slice(&4u16.to_le_bytes());
        b[27] = file_type;
        b[34..36].copy_from_slice(&ad_flags.to_le_bytes());
        b[36..40].copy_from_slice(&u32::MAX.to_le_bytes());
        b[40..44].copy_from_slice(&100u32.to_le_bytes());
        b[44..48].copy_from_slice(&0x14a5u32.to_le_bytes()); // owner r-x, group r-x, other r-x
        b[48..50].copy_from_slice(&1u16.to_le_bytes());
        b[56..64].copy_from_slice(&info_len.to_le_bytes());
        b[84..96].copy_from_slice(&super::super::timestamp::build(60, 2040, 1, 2, 3, 4, 5, 0));
        b[172..176].copy_from_slice(&(ads.len() as u32).to_le_bytes());
        b[176..176 + ads.len()].copy_from_slice(ads);
        tag::write(&mut b, ident::FE, lbn, 160 + ads.len());
        b
    }

    /// An indirect entry at `lbn` pointing at (`part`, `target`).
    pub(crate) fn ie(bs: usize, lbn: u32, target: u32, part: u16) -> Vec<u8> {
        let mut b = vec![0u8; bs];
        b[20..22].copy_from_slice(&4096u16.to_le_bytes());
        b[27] = 3;
        b[36..40].copy_from_slice(&(bs as u32).to_le_bytes());
        b[40..44].copy_from_slice(&target.to_le_bytes());
        b[44..46].copy_from_slice(&part.to_le_bytes());
        tag::write(&mut b, ident::IE, lbn, 36);
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::MemSource;
    use std::sync::Arc;

    fn setup(blocks: &[(usize, Vec<u8>)]) -> (Disk, Partitions) {
        let mut img = vec![0u8; 40 * 2048];
        for (at, b) in blocks {
            img[at * 2048..at * 2048 + b.len()].copy_from_slice(b);
        }
        let disk = Disk::new(Arc::new(MemSource::new(img)), 2048);
        (disk, Partitions::physical_for_tests(0, 40))
    }

    #[test]
    fn file_entry_fields() {
        let mut fe = build::fe(2048, 5, file_type::FILE, 1 << 6 | 1, 42, &[]);
        tag::write(&mut fe, ident::FE, 5, 160);
        let (disk, parts) = setup(&[(5, fe)]);
        let e = read_entry(&disk, &parts, 0, 5).unwrap();
        assert_eq!(e.abs, 5 * 2048);
        assert_eq!(e.kind(&disk).unwrap(), FileType::Regular);
        assert_eq!(e.mode(), 0o4555);
        assert_eq!(e.ad_type(&disk).unwrap(), AdType::Long);
        assert_eq!((e.uid, e.gid, e.links, e.info_len), (u32::MAX, 100, 1, 42));
        assert_eq!(e.mtime.unwrap().to_rfc3339(), "2040-01-02T02:04:05Z");
        assert!(e.device().is_none());
    }

    #[test]
    fn strategy_4096_follows_indirect_entries() {
        let mut old = build::fe(2048, 5, file_type::FILE, 0, 1, &[]);
        old[20..22].copy_from_slice(&4096u16.to_le_bytes());
        tag::write(&mut old, ident::FE, 5, 160);
        let mut new = build::fe(2048, 10, file_type::FILE, 0, 2, &[]);
        new[20..22].copy_from_slice(&4096u16.to_le_bytes());
        tag::write(&mut new, ident::FE, 10, 160);
        let (disk, parts) = setup(&[(5, old), (6, build::ie(2048, 6, 10, 0)), (10, new)]);
        let e = read_entry(&disk, &parts, 0, 5).unwrap();
        assert_eq!((e.abs, e.info_len), (10 * 2048, 2));
        // An indirect entry straight to the file.
        let (disk, parts) = setup(&[
            (3, build::ie(2048, 3, 5, 0)),
            (5, build::fe(2048, 5, 5, 0, 7, &[])),
        ]);
        assert_eq!(read_entry(&disk, &parts, 0, 3).unwrap().info_len, 7);
    }

    #[test]
    fn icb_pointing_at_itself_is_a_loop() {
        let (disk, parts) = setup(&[(7, build::ie(2048, 7, 7, 0))]);
        let e = read_entry(&disk, &parts, 0, 7).unwrap_err();
        assert!(e.to_string().contains("loop"), "{e}");
    }

    #[test]
    fn bad_entries_are_errors() {
        let mut fe = build::fe(2048, 5, file_type::FILE, 0, 1, &[]);
        fe[172..176].copy_from_slice(&5000u32.to_le_bytes());
        tag::write(&mut fe, ident::FE, 5, 160);
        let (disk, parts) = setup(&[(5, fe), (6, build::fe(2048, 99, 5, 0, 1, &[]))]);
        let e = read_entry(&disk, &parts, 0, 5).unwrap_err().to_string();
        assert!(e.contains("do not fit"), "{e}");
        let e = read_entry(&disk, &parts, 0, 6).unwrap_err().to_string();
        assert!(e.contains("block 99"), "{e}");
        assert!(read_entry(&disk, &parts, 0, 100).is_err());
    }

    #[test]
    fn device_spec_ea() {
        let mut ea = vec![0u8; 24];
        tag::write(&mut ea, ident::EAHD, 0, 8);
        let mut attr = vec![0u8; 24];
        attr[0..4].copy_from_slice(&12u32.to_le_bytes());
        attr[8..12].copy_from_slice(&24u32.to_le_bytes());
        attr[16..20].copy_from_slice(&8u32.to_le_bytes());
        attr[20..24].copy_from_slice(&1u32.to_le_bytes());
        ea.extend(attr);
        assert_eq!(
            device_from_ea(&ea),
            Some(DeviceNumber { major: 8, minor: 1 })
        );
        ea[32] = 0xff; // absurd length
        assert_eq!(device_from_ea(&ea), None);
    }
}
