//! From the core's [`Attributes`] to what FUSE reports (`struct stat`).
//!
//! # Inode numbers
//!
//! fuser 0.18 sends `FileAttr::ino` both as the FUSE node id of an entry and
//! as its `st_ino` (see `fuser::ll::reply`: `nodeid: attr.ino`), so the two
//! cannot differ. We therefore derive both from [`Attributes::inode`]:
//!
//! * the root directory is FUSE node 1 (`FUSE_ROOT_ID`), whatever its inode;
//! * every other node is `inode + 2`, so no node can collide with 1 (or 0,
//!   which FUSE reserves for "no entry").
//!
//! Readers give `inode` = node id (an ISO 9660 node id is the byte offset of a
//! directory record or extent, far below 2^63), except Rock Ridge hard links,
//! which share `inode = 1 << 63 | serial`. So all names of one hard-linked
//! file get one FUSE node and one `st_ino`, which is how FUSE models hard
//! links (the kernel aliases the dentries onto one inode). Which [`NodeId`]
//! serves a FUSE node is remembered in [`crate::fs::IsoFs`]'s table.
//!
//! [`NodeId`]: fs_core::NodeId

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fs_core::{Attributes, FileType, Timestamp};
use fuser::{FileAttr, INodeNo};

/// `st_blksize`: the ISO 9660 logical block (and CD sector) size.
pub const BLKSIZE: u32 = 2048;

/// FUSE node number of the root directory.
pub const ROOT_INO: u64 = 1;

/// The FUSE node number (and `st_ino`) of a non-root node whose
/// [`Attributes::inode`] is `inode`; `None` if it cannot be represented
/// (inode within 2 of `u64::MAX`, which no reader produces).
pub fn fuse_ino(inode: u64) -> Option<u64> {
    inode.checked_add(2)
}

/// What the mount options change in the attributes the image records:
/// owner, group, and permission bits masked off (`uid=`, `gid=`, `umask=`,
/// `fmask=`, `dmask=`, as the kernel's udf and vfat drivers take them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Owner {
    /// Forced owner.
    pub uid: Option<u32>,
    /// Forced group.
    pub gid: Option<u32>,
    /// Permission bits cleared on everything but directories.
    pub fmask: u16,
    /// Permission bits cleared on directories.
    pub dmask: u16,
}

impl Owner {
    /// `mode`'s permission bits (the low 12) with the mask for `kind` cleared.
    pub fn perm(&self, kind: FileType, mode: u32) -> u16 {
        let mask = if kind == FileType::Directory {
            self.dmask
        } else {
            self.fmask
        };
        (mode & 0o7777) as u16 & !mask
    }
}

/// The fuser file type of a core file type.
pub fn kind(kind: FileType) -> fuser::FileType {
    match kind {
        FileType::Regular => fuser::FileType::RegularFile,
        FileType::Directory => fuser::FileType::Directory,
        FileType::Symlink => fuser::FileType::Symlink,
        FileType::CharDevice => fuser::FileType::CharDevice,
        FileType::BlockDevice => fuser::FileType::BlockDevice,
        FileType::Fifo => fuser::FileType::NamedPipe,
        FileType::Socket => fuser::FileType::Socket,
    }
}

/// A timestamp as [`SystemTime`], saturating at the ends of its range.
pub fn system_time(t: Timestamp) -> SystemTime {
    let nanos = Duration::from_nanos(u64::from(t.nanos.min(999_999_999)));
    let base = if t.secs >= 0 {
        UNIX_EPOCH.checked_add(Duration::from_secs(t.secs.unsigned_abs()))
    } else {
        UNIX_EPOCH.checked_sub(Duration::from_secs(t.secs.unsigned_abs()))
    };
    base.and_then(|b| b.checked_add(nanos))
        .unwrap_or(UNIX_EPOCH)
}

/// The 32-bit `st_rdev` FUSE carries (the kernel's `new_encode_dev`, which
/// is the low half of glibc's `makedev` for major < 4096 and minor < 2^20).
/// Numbers that do not fit are reported as 0, with a warning.
pub fn rdev(attr: &Attributes) -> u32 {
    let Some(dev) = attr.rdev else { return 0 };
    if dev.major < 0x1000 && dev.minor < 0x10_0000 {
        // Fits: the low 32 bits are exactly new_encode_dev(major, minor).
        (dev.to_linux() & 0xffff_ffff) as u32
    } else {
        log::warn!(
            "device number {}:{} does not fit FUSE's 32-bit st_rdev; shown as 0:0",
            dev.major,
            dev.minor
        );
        0
    }
}

/// The FUSE attributes of a node served as FUSE node `ino`.
///
/// `st_blocks` counts 512-byte units of the bytes the content occupies in
/// the image (rounded up); atime and ctime fall back to mtime, crtime too.
pub fn file_attr(ino: u64, attr: &Attributes, owner: Owner) -> FileAttr {
    let mtime = system_time(attr.mtime);
    let or_mtime = |t: Option<Timestamp>| t.map_or(mtime, system_time);
    FileAttr {
        ino: INodeNo(ino),
        size: attr.size,
        blocks: attr.allocated.div_ceil(512),
        atime: or_mtime(attr.atime),
        mtime,
        ctime: or_mtime(attr.ctime),
        crtime: or_mtime(attr.crtime),
        kind: kind(attr.kind),
        perm: owner.perm(attr.kind, attr.posix_mode()),
        nlink: attr.nlink.max(1),
        uid: owner.uid.unwrap_or(attr.uid),
        gid: owner.gid.unwrap_or(attr.gid),
        rdev: rdev(attr),
        blksize: BLKSIZE,
        flags: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fs_core::DeviceNumber;

    fn attrs(kind: FileType) -> Attributes {
        Attributes {
            kind,
            size: 5000,
            allocated: 6144,
            mode: 0o4755,
            nlink: 2,
            uid: 10,
            gid: 20,
            rdev: None,
            mtime: Timestamp {
                secs: 1_700_000_000,
                nanos: 5,
            },
            atime: None,
            ctime: Some(Timestamp {
                secs: 1_600_000_000,
                nanos: 0,
            }),
            crtime: None,
            hidden: false,
            inode: 4242,
        }
    }

    #[test]
    fn maps_regular_file() {
        let a = attrs(FileType::Regular);
        let f = file_attr(fuse_ino(a.inode).unwrap(), &a, Owner::default());
        assert_eq!(f.ino, INodeNo(4244));
        assert_eq!(f.size, 5000);
        assert_eq!(f.blocks, 12);
        assert_eq!(f.kind, fuser::FileType::RegularFile);
        assert_eq!(f.perm, 0o4755);
        assert_eq!(f.nlink, 2);
        assert_eq!((f.uid, f.gid), (10, 20));
        assert_eq!(f.blksize, 2048);
        assert_eq!(f.rdev, 0);
        let mtime = UNIX_EPOCH + Duration::new(1_700_000_000, 5);
        assert_eq!(f.mtime, mtime);
        assert_eq!(f.atime, mtime, "atime falls back to mtime");
        assert_eq!(f.crtime, mtime);
        assert_eq!(f.ctime, UNIX_EPOCH + Duration::from_secs(1_600_000_000));
    }

    #[test]
    fn blocks_round_up_and_owner_overrides() {
        let mut a = attrs(FileType::Directory);
        a.allocated = 1;
        a.nlink = 0;
        let f = file_attr(
            1,
            &a,
            Owner {
                uid: Some(1000),
                gid: Some(1001),
                ..Owner::default()
            },
        );
        assert_eq!(f.blocks, 1);
        assert_eq!(f.kind, fuser::FileType::Directory);
        assert_eq!((f.uid, f.gid), (1000, 1001));
        assert_eq!(f.nlink, 1, "never report 0 links");
        a.allocated = 0;
        assert_eq!(file_attr(1, &a, Owner::default()).blocks, 0);
    }

    #[test]
    fn masks_clear_permission_bits_by_kind() {
        let masks = Owner {
            fmask: 0o137,
            dmask: 0o027,
            ..Owner::default()
        };
        let mut a = attrs(FileType::Regular);
        a.mode = 0o104_777;
        assert_eq!(file_attr(2, &a, masks).perm, 0o4640);
        let mut d = attrs(FileType::Directory);
        d.mode = 0o040_777;
        assert_eq!(file_attr(2, &d, masks).perm, 0o750);
        assert_eq!(file_attr(2, &d, Owner::default()).perm, 0o777);
    }

    #[test]
    fn kinds_and_devices() {
        for (k, fk) in [
            (FileType::Symlink, fuser::FileType::Symlink),
            (FileType::Fifo, fuser::FileType::NamedPipe),
            (FileType::Socket, fuser::FileType::Socket),
            (FileType::BlockDevice, fuser::FileType::BlockDevice),
            (FileType::CharDevice, fuser::FileType::CharDevice),
        ] {
            assert_eq!(kind(k), fk);
        }
        let mut a = attrs(FileType::CharDevice);
        a.rdev = Some(DeviceNumber { major: 1, minor: 3 });
        assert_eq!(rdev(&a), 0x103);
        a.rdev = Some(DeviceNumber {
            major: 259,
            minor: 70000,
        });
        // new_encode_dev: (minor & 0xff) | (major << 8) | ((minor & !0xff) << 12)
        assert_eq!(
            rdev(&a),
            (70000 & 0xff) | (259 << 8) | ((70000 & !0xff) << 12)
        );
        a.rdev = Some(DeviceNumber {
            major: 5000,
            minor: 1,
        });
        assert_eq!(rdev(&a), 0);
    }

    #[test]
    fn times_before_epoch_and_extremes() {
        let t = Timestamp {
            secs: -86_400,
            nanos: 500,
        };
        assert_eq!(
            system_time(t),
            UNIX_EPOCH - Duration::from_secs(86_400) + Duration::from_nanos(500)
        );
        // 2040 stays after 2038.
        let t = Timestamp {
            secs: 2_214_129_601,
            nanos: 0,
        };
        assert_eq!(
            system_time(t).duration_since(UNIX_EPOCH).unwrap().as_secs(),
            2_214_129_601
        );
        // No panic at the extremes.
        let _ = system_time(Timestamp {
            secs: i64::MIN,
            nanos: u32::MAX,
        });
        let _ = system_time(Timestamp {
            secs: i64::MAX,
            nanos: 999_999_999,
        });
    }

    #[test]
    fn ino_mapping_never_hits_root_or_zero() {
        assert_eq!(fuse_ino(0), Some(2));
        assert_eq!(fuse_ino(1 << 63 | 7), Some((1 << 63) + 9));
        assert_eq!(fuse_ino(u64::MAX - 1), None);
        assert_eq!(fuse_ino(u64::MAX), None);
    }
}
