//! Attribute and time mapping: what Windows is told about a node.
//!
//! Pure Rust, no Windows types: the values are the Win32 ones
//! (`FILE_ATTRIBUTE_*`, FILETIME ticks) so the glue copies them as they are.

use fs_core::{Attributes, FileType, Timestamp};

/// `FILE_ATTRIBUTE_READONLY`.
pub const FILE_ATTRIBUTE_READONLY: u32 = 0x0001;
/// `FILE_ATTRIBUTE_HIDDEN`.
pub const FILE_ATTRIBUTE_HIDDEN: u32 = 0x0002;
/// `FILE_ATTRIBUTE_SYSTEM`.
pub const FILE_ATTRIBUTE_SYSTEM: u32 = 0x0004;
/// `FILE_ATTRIBUTE_DIRECTORY`.
pub const FILE_ATTRIBUTE_DIRECTORY: u32 = 0x0010;

/// FILETIME of the Unix epoch: 100 ns ticks from 1601-01-01 to 1970-01-01.
pub const FILETIME_UNIX_EPOCH: u64 = 116_444_736_000_000_000;

/// Allocation unit reported to Windows (the ISO 9660 / UDF logical block).
pub const ALLOCATION_UNIT: u64 = 2048;

/// A timestamp as a FILETIME: 100 ns ticks since 1601-01-01 UTC. Dates
/// before 1601 are clamped to 0, dates past FILETIME's range (year 30828) to
/// its largest valid value.
pub fn filetime(t: Timestamp) -> u64 {
    let ticks = i128::from(t.secs) * 10_000_000
        + i128::from(t.nanos / 100)
        + i128::from(FILETIME_UNIX_EPOCH);
    // i64::MAX is the largest FILETIME the Win32 API accepts.
    ticks.clamp(0, i128::from(i64::MAX)) as u64
}

/// What `FSP_FSCTL_FILE_INFO` carries, in plain Rust.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WinFileInfo {
    /// `FILE_ATTRIBUTE_*` bits.
    pub attributes: u32,
    /// Bytes of content.
    pub file_size: u64,
    /// `file_size` rounded up to the allocation unit.
    pub allocation_size: u64,
    /// Creation time (FILETIME).
    pub creation_time: u64,
    /// Last access time (FILETIME).
    pub last_access_time: u64,
    /// Last write time (FILETIME).
    pub last_write_time: u64,
    /// Last change time (FILETIME).
    pub change_time: u64,
    /// File index number: the node's inode (equal for hard links).
    pub index_number: u64,
    /// Link count.
    pub hard_links: u32,
}

/// Maps a node's attributes to what Windows shows.
///
/// * Every file is `READONLY` (the volume is read-only); directories are
///   `DIRECTORY`; what the image marks hidden (ISO 9660 existence bit, UDF
///   hidden flag) is `HIDDEN`.
/// * Device nodes, FIFOs and sockets have no Windows equivalent: they show as
///   empty `READONLY | SYSTEM` files.
/// * Creation time is the image's creation time when it records one, else
///   the modification time; access and change times likewise.
pub fn win_file_info(a: &Attributes) -> WinFileInfo {
    let mut attributes = match a.kind {
        FileType::Directory => FILE_ATTRIBUTE_DIRECTORY,
        FileType::Regular | FileType::Symlink => FILE_ATTRIBUTE_READONLY,
        _ => FILE_ATTRIBUTE_READONLY | FILE_ATTRIBUTE_SYSTEM,
    };
    if a.hidden {
        attributes |= FILE_ATTRIBUTE_HIDDEN;
    }
    let file_size = match a.kind {
        FileType::Regular | FileType::Directory => a.size,
        _ => 0,
    };
    let allocation_size = file_size
        .div_ceil(ALLOCATION_UNIT)
        .saturating_mul(ALLOCATION_UNIT);
    let mtime = filetime(a.mtime);
    WinFileInfo {
        attributes,
        file_size,
        allocation_size,
        creation_time: a.crtime.map_or(mtime, filetime),
        last_access_time: a.atime.map_or(mtime, filetime),
        last_write_time: mtime,
        change_time: a.ctime.map_or(mtime, filetime),
        index_number: a.inode,
        hard_links: if a.kind == FileType::Directory {
            1
        } else {
            a.nlink.max(1)
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(kind: FileType) -> Attributes {
        Attributes {
            kind,
            size: 5000,
            allocated: 6144,
            mode: 0o644,
            nlink: 2,
            uid: 0,
            gid: 0,
            rdev: None,
            mtime: Timestamp {
                secs: 1_704_164_645,
                nanos: 123_456_789,
            },
            atime: None,
            ctime: Some(Timestamp { secs: 0, nanos: 0 }),
            crtime: None,
            hidden: false,
            inode: 0x1234_5678,
        }
    }

    #[test]
    fn filetime_epochs_and_clamps() {
        assert_eq!(filetime(Timestamp::EPOCH), FILETIME_UNIX_EPOCH);
        // 2024-01-02T03:04:05Z (python: (ts + 11644473600) * 10**7).
        let t = Timestamp {
            secs: 1_704_164_645,
            nanos: 0,
        };
        assert_eq!(filetime(t), 133_486_382_450_000_000);
        // Sub-100 ns is cut, not rounded.
        let t = Timestamp {
            secs: 0,
            nanos: 199,
        };
        assert_eq!(filetime(t), FILETIME_UNIX_EPOCH + 1);
        // 1965 is after 1601: exact.
        let t = Timestamp::from_civil(1965, 3, 1, 8, 30, 0, 0, 0).unwrap();
        assert_eq!(filetime(t), (t.secs + 11_644_473_600) as u64 * 10_000_000);
        // 1601-01-01 is 0; earlier clamps to 0.
        let t = Timestamp::from_civil(1601, 1, 1, 0, 0, 0, 0, 0).unwrap();
        assert_eq!(filetime(t), 0);
        let t = Timestamp::from_civil(1500, 1, 1, 0, 0, 0, 0, 0).unwrap();
        assert_eq!(filetime(t), 0);
        let t = Timestamp {
            secs: i64::MAX,
            nanos: 999_999_999,
        };
        assert_eq!(filetime(t), i64::MAX as u64);
        let t = Timestamp {
            secs: i64::MIN,
            nanos: 0,
        };
        assert_eq!(filetime(t), 0);
    }

    #[test]
    fn file_attributes() {
        let f = win_file_info(&attr(FileType::Regular));
        assert_eq!(f.attributes, FILE_ATTRIBUTE_READONLY);
        assert_eq!(f.file_size, 5000);
        assert_eq!(f.allocation_size, 6144);
        assert_eq!(f.index_number, 0x1234_5678);
        assert_eq!(f.hard_links, 2);
        assert_eq!(f.last_write_time, filetime(attr(FileType::Regular).mtime));
        assert_eq!(f.creation_time, f.last_write_time);
        assert_eq!(f.last_access_time, f.last_write_time);
        assert_eq!(f.change_time, FILETIME_UNIX_EPOCH);

        let mut d = attr(FileType::Directory);
        d.hidden = true;
        d.crtime = Some(Timestamp { secs: 10, nanos: 0 });
        let f = win_file_info(&d);
        assert_eq!(
            f.attributes,
            FILE_ATTRIBUTE_DIRECTORY | FILE_ATTRIBUTE_HIDDEN
        );
        assert_eq!(f.hard_links, 1);
        assert_eq!(f.creation_time, FILETIME_UNIX_EPOCH + 100_000_000);

        let f = win_file_info(&attr(FileType::CharDevice));
        assert_eq!(
            f.attributes,
            FILE_ATTRIBUTE_READONLY | FILE_ATTRIBUTE_SYSTEM
        );
        assert_eq!((f.file_size, f.allocation_size), (0, 0));
    }
}
