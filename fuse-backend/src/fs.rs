//! The fuser [`Filesystem`] over a read-only [`Volume`].
//!
//! The image never changes while mounted, so every reply carries an
//! unlimited TTL, files and directories are opened with `FOPEN_KEEP_CACHE`
//! (and directories with `FOPEN_CACHE_DIR`), missing names are cached as
//! negative entries, and every call that would modify anything answers
//! `EROFS`. Errors from the image (corrupt or truncated structures) become
//! the errno of [`fs_core::Error::errno`] (`EIO`) for that one request only.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use fs_core::{Error, FileType, Node, NodeId, Volume};
use fuser::{
    AccessFlags, CopyFileRangeFlags, Errno, FileAttr, FileHandle, Filesystem, FopenFlags,
    Generation, INodeNo, InitFlags, KernelConfig, LockOwner, OpenAccMode, OpenFlags, RenameFlags,
    ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory, ReplyDirectoryPlus, ReplyEmpty, ReplyEntry,
    ReplyOpen, ReplyStatfs, ReplyWrite, ReplyXattr, Request, TimeOrNow, WriteFlags,
};
use log::{debug, error, warn};

use crate::attr::{self, BLKSIZE, Owner, ROOT_INO};

/// How long the kernel may cache entries and attributes: forever, since the
/// image is immutable (squashfuse and erofsfuse use `DBL_MAX` likewise; the
/// kernel clamps it).
pub const TTL: Duration = Duration::MAX;

/// The generation of every node: node numbers are never reused.
const GENERATION: Generation = Generation(0);

/// Longest name reported by `statfs` (`f_namemax`).
const NAME_MAX: u32 = 255;

/// Longest name the kernel accepts in a directory reply (`FUSE_NAME_MAX`);
/// one longer entry would make it fail the whole listing with `EIO`.
const FUSE_NAME_MAX: usize = 1024;

/// Background requests (read-ahead) the kernel may have in flight at once.
const MAX_BACKGROUND: u16 = 64;

thread_local! {
    /// The buffer each event-loop thread reads file data into.
    static READ_BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A [`Volume`] served through FUSE.
pub struct IsoFs {
    volume: Arc<Volume>,
    owner: Owner,
    /// FUSE node number -> the node that serves it. Filled as nodes are
    /// handed to the kernel (lookup, readdir); the kernel only ever asks
    /// about numbers it got from us.
    inodes: RwLock<HashMap<u64, NodeId>>,
    /// A walk of the whole tree for a node number never handed out has
    /// ended without finding it (see `find`).
    walked_all: AtomicBool,
}

impl std::fmt::Debug for IsoFs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IsoFs")
            .field("volume", &self.volume)
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
}

/// The errno for a core error, logging image problems.
fn errno(op: &str, e: &Error) -> Errno {
    let n = e.errno();
    if n == libc::EIO {
        warn!("{op}: {e}");
    } else {
        debug!("{op}: {e}");
    }
    Errno::from_i32(n)
}

/// Runs one request's handler so that a panic fails that request only.
///
/// fs-core is written not to panic on any image (its lint set forbids
/// indexing, `unwrap` and `expect`, and it is fuzzed), but if a bug slips
/// through, this keeps the mount alive: the handler's reply, dropped while
/// unwinding, answers `EIO` (fuser sends that for a reply never sent), the
/// panic is logged, and the event loop goes on. Without it the panicking
/// thread would end `Session::run`, and with it the mount.
fn guarded(op: &str, handler: impl FnOnce()) {
    if let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(handler)) {
        let what = panic
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("no message");
        error!(
            "{op}: internal error ({what}); this request fails with EIO and the mount \
             goes on. Please report it, with the image if you can."
        );
    }
}

impl IsoFs {
    /// Serves `volume`, reporting `owner`'s uid/gid where set.
    pub fn new(volume: Arc<Volume>, owner: Owner) -> Self {
        let inodes = HashMap::from([(ROOT_INO, volume.root())]);
        IsoFs {
            volume,
            owner,
            inodes: RwLock::new(inodes),
            walked_all: AtomicBool::new(false),
        }
    }

    /// The node behind FUSE node `ino`.
    fn node(&self, ino: INodeNo) -> Result<Arc<Node>, Errno> {
        let mapped = self
            .inodes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&ino.0)
            .copied();
        if let Some(id) = mapped {
            return self.volume.node(id).map_err(|e| errno("node", &e));
        }
        // Most nodes are not in the map: their number is their id + 2, and
        // their inode number is their id.
        let natural = ino
            .0
            .checked_sub(2)
            .and_then(|id| self.find(NodeId(id)))
            .filter(|n| n.attr().inode == n.id().0);
        natural.ok_or_else(|| {
            debug!("unknown FUSE node {}", ino.0);
            Errno::ENOENT
        })
    }

    /// Node `id`, also one this process never handed out: the kernel asks
    /// for such a number only to decode a file handle made by an earlier
    /// mount of the image (an NFS client's, after isomount restarted). Ids
    /// come from where entries lie in the image, so they are the same on
    /// every mount; the tree is walked until `id` turns up, and once a walk
    /// has seen everything, unknown numbers fail at once (a client sending
    /// made-up handles costs one walk, not one per handle).
    fn find(&self, id: NodeId) -> Option<Arc<Node>> {
        if let Ok(n) = self.volume.node(id) {
            return Some(n);
        }
        if self.walked_all.load(Ordering::Acquire) {
            return None;
        }
        debug!("node {id} not seen by this mount: walking the tree for it");
        let mut queue = std::collections::VecDeque::from([self.volume.root()]);
        let mut seen = std::collections::HashSet::new();
        while let Some(dir) = queue.pop_front() {
            if !seen.insert(dir) {
                continue;
            }
            let Ok(listing) = self.volume.read_dir(dir) else {
                continue;
            };
            for e in listing.entries() {
                if e.id == id {
                    return self.volume.node(id).ok();
                }
                if e.kind == FileType::Directory {
                    queue.push_back(e.id);
                }
            }
        }
        self.walked_all.store(true, Ordering::Release);
        None
    }

    /// The FUSE node number of `node`, remembering which node serves it
    /// where that is not simply the node with id `ino - 2`.
    fn ino_of(&self, node: &Node) -> Result<u64, Errno> {
        if node.id() == self.volume.root() {
            return Ok(ROOT_INO);
        }
        let Some(ino) = attr::fuse_ino(node.attr().inode) else {
            warn!(
                "node {} has inode number {} which FUSE cannot carry; left out",
                node.id(),
                node.attr().inode
            );
            return Err(Errno::EIO);
        };
        let inode = node.attr().inode;
        if inode == node.id().0 {
            // The usual case: no entry needed (a walk of 100,000 files
            // would otherwise keep 100,000 of them).
            return Ok(ino);
        }
        let known = self
            .inodes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(&ino);
        // First come wins: hard links share the number and the content. A
        // listed node that carries this number as its own id came first.
        let natural_owner = self
            .volume
            .node(NodeId(inode))
            .is_ok_and(|n| n.attr().inode == inode);
        if !known && !natural_owner {
            self.inodes
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(ino)
                .or_insert(node.id());
        }
        Ok(ino)
    }

    /// FUSE attributes of `node`, registering its number.
    fn file_attr(&self, node: &Node) -> Result<FileAttr, Errno> {
        let ino = self.ino_of(node)?;
        Ok(attr::file_attr(ino, node.attr(), self.owner))
    }

    /// Calls `add(next_offset, node, name)` for `.`, `..` and the entries of
    /// directory node `ino` from position `offset` on, until `add` says the
    /// reply is full. Offsets are positions + 1, so a later call resumes
    /// right after the last entry sent.
    fn each_entry(
        &self,
        ino: INodeNo,
        offset: u64,
        mut add: impl FnMut(u64, &Node, &str) -> bool,
    ) -> Result<(), Errno> {
        let dir = self.node(ino)?;
        let listing = self
            .volume
            .read_dir(dir.id())
            .map_err(|e| errno("readdir", &e))?;
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        if start < 2 {
            let parent = self
                .volume
                .node(dir.parent())
                .map_err(|e| errno("readdir", &e))?;
            let dots = [(".", &dir), ("..", &parent)];
            for (i, (name, node)) in dots.iter().enumerate().skip(start) {
                if add(i as u64 + 1, node, name) {
                    return Ok(());
                }
            }
        }
        let first = start.saturating_sub(2);
        for (i, e) in listing.entries().iter().enumerate().skip(first) {
            if e.name.len() > FUSE_NAME_MAX {
                warn!(
                    "readdir: a name of {} bytes in directory {} is longer than FUSE allows \
                     ({FUSE_NAME_MAX}); left out",
                    e.name.len(),
                    dir.id()
                );
                continue;
            }
            let node = match self.volume.node(e.id) {
                Ok(n) => n,
                Err(err) => {
                    warn!("readdir: entry {:?}: {err}", e.name);
                    continue;
                }
            };
            if add(i as u64 + 3, &node, &e.name) {
                break;
            }
        }
        Ok(())
    }
}

impl Filesystem for IsoFs {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> io::Result<()> {
        // Each capability separately: one the kernel lacks must not cost the others.
        // READDIRPLUS always, not READDIRPLUS_AUTO: in auto mode the kernel
        // sends plain READDIR after the first batch and then one LOOKUP per
        // name a walk stats (measured: 600 LOOKUPs for 1,000 files); the
        // attributes are at hand anyway.
        for cap in [
            InitFlags::FUSE_ASYNC_READ,
            InitFlags::FUSE_DO_READDIRPLUS,
            InitFlags::FUSE_PARALLEL_DIROPS,
            InitFlags::FUSE_CACHE_SYMLINKS,
            // File handles that outlive the kernel's inode cache, as the
            // NFS server needs: see the "." and ".." lookups.
            InitFlags::FUSE_EXPORT_SUPPORT,
        ] {
            if let Err(missing) = config.add_capabilities(cap) {
                debug!("kernel lacks FUSE capability {missing:?}");
            }
        }
        // As much read-ahead as the kernel offers (it caps it, 128 KiB here;
        // the bdi read_ahead_kb raised after mounting is what really counts).
        if let Err(max) = config.set_max_readahead(u32::MAX) {
            let _ = config.set_max_readahead(max);
        }
        // max_write stays at fuser's default (16 MiB) although nothing is
        // ever written: fuser derives max_pages from max(max_write,
        // max_readahead), and max_pages bounds the size of a READ request
        // (the kernel clamps it to fs.fuse.max_pages_limit, 1 MiB by default).
        let _ = config.set_max_background(MAX_BACKGROUND);
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        guarded("lookup", || {
            debug!("lookup({}, {name:?})", parent.0);
            let dir = match self.node(parent) {
                Ok(d) => d,
                Err(e) => return reply.error(e),
            };
            let Some(name) = name.to_str() else {
                // Every name in a volume is UTF-8.
                return reply.error(Errno::ENOENT);
            };
            // "." and "..": asked only with FUSE_EXPORT_SUPPORT, when the
            // kernel decodes a file handle (NFS, open_by_handle_at) whose
            // inode it has dropped, or reconnects a directory to its
            // parent. No image entry has these names (the Volume renames
            // them), so they cannot shadow one.
            let found = match name {
                "." => Ok(dir),
                ".." => self.volume.node(dir.parent()),
                _ => self.volume.lookup(dir.id(), name),
            };
            match found {
                Ok(node) => match self.file_attr(&node) {
                    Ok(a) => reply.entry(&TTL, &a, GENERATION),
                    Err(e) => reply.error(e),
                },
                Err(Error::NotFound(_)) => {
                    // Node 0 with a TTL: the kernel caches the name as missing.
                    let negative = FileAttr {
                        ino: INodeNo(0),
                        size: 0,
                        blocks: 0,
                        atime: SystemTime::UNIX_EPOCH,
                        mtime: SystemTime::UNIX_EPOCH,
                        ctime: SystemTime::UNIX_EPOCH,
                        crtime: SystemTime::UNIX_EPOCH,
                        kind: fuser::FileType::RegularFile,
                        perm: 0,
                        nlink: 0,
                        uid: 0,
                        gid: 0,
                        rdev: 0,
                        blksize: BLKSIZE,
                        flags: 0,
                    };
                    reply.entry(&TTL, &negative, GENERATION);
                }
                Err(e) => reply.error(errno("lookup", &e)),
            }
        });
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        guarded("getattr", || {
            debug!("getattr({})", ino.0);
            match self.node(ino) {
                Ok(node) => reply.attr(&TTL, &attr::file_attr(ino.0, node.attr(), self.owner)),
                Err(e) => reply.error(e),
            }
        });
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        guarded("readlink", || {
            debug!("readlink({})", ino.0);
            let node = match self.node(ino) {
                Ok(n) => n,
                Err(e) => return reply.error(e),
            };
            match self.volume.read_link(node.id()) {
                Ok(target) => reply.data(target.as_bytes()),
                Err(e) => reply.error(errno("readlink", &e)),
            }
        });
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        guarded("open", || {
            debug!("open({}, {:#x})", ino.0, flags.0);
            if flags.acc_mode() != OpenAccMode::O_RDONLY || flags.0 & libc::O_TRUNC != 0 {
                return reply.error(Errno::EROFS);
            }
            match self.node(ino) {
                Ok(node) if node.kind() == FileType::Directory => reply.error(Errno::EISDIR),
                // Nothing to set up per open file: ENOSYS makes the kernel stop
                // sending OPEN and RELEASE altogether (zero-message open, Linux
                // 3.16+) and keep the page cache as with FOPEN_KEEP_CACHE. Two
                // round trips less for every file a walk reads; write access is
                // refused by the read-only mount before it gets here.
                Ok(_) => reply.error(Errno::ENOSYS),
                Err(e) => reply.error(e),
            }
        });
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        guarded("read", || {
            debug!("read({}, {offset}, {size})", ino.0);
            let node = match self.node(ino) {
                Ok(n) => n,
                Err(e) => return reply.error(e),
            };
            let want = node.attr().size.saturating_sub(offset).min(u64::from(size));
            let want = usize::try_from(want).unwrap_or(usize::MAX);
            READ_BUF.with_borrow_mut(|buf| {
                // One buffer per event-loop thread, grown to the largest request
                // and kept: no allocation and no zeroing per READ.
                if buf.len() < want {
                    buf.resize(want, 0);
                }
                let buf = &mut buf[..want];
                match self.volume.read_node(&node, offset, buf) {
                    Ok(n) => reply.data(&buf[..n.min(want)]),
                    Err(e) => reply.error(errno("read", &e)),
                }
            });
        });
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        // Nothing is ever dirty: ENOSYS makes the kernel stop sending FLUSH
        // on every close().
        reply.error(Errno::ENOSYS);
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    fn fsync(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        guarded("opendir", || {
            debug!("opendir({})", ino.0);
            if flags.acc_mode() != OpenAccMode::O_RDONLY {
                return reply.error(Errno::EROFS);
            }
            let node = match self.node(ino) {
                Ok(n) => n,
                Err(e) => return reply.error(e),
            };
            // List now, so that a directory that cannot be read fails here.
            match self.volume.read_dir(node.id()) {
                Ok(_) => reply.opened(
                    FileHandle(0),
                    FopenFlags::FOPEN_KEEP_CACHE | FopenFlags::FOPEN_CACHE_DIR,
                ),
                Err(e) => reply.error(errno("opendir", &e)),
            }
        });
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        guarded("readdir", || {
            debug!("readdir({}, {offset})", ino.0);
            let res = self.each_entry(ino, offset, |next, node, name| {
                let Ok(child) = self.ino_of(node) else {
                    return false;
                };
                reply.add(INodeNo(child), next, attr::kind(node.kind()), name)
            });
            match res {
                Ok(()) => reply.ok(),
                Err(e) => reply.error(e),
            }
        });
    }

    fn readdirplus(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectoryPlus,
    ) {
        guarded("readdirplus", || {
            debug!("readdirplus({}, {offset})", ino.0);
            let res = self.each_entry(ino, offset, |next, node, name| {
                let Ok(a) = self.file_attr(node) else {
                    return false;
                };
                reply.add(a.ino, next, name, &TTL, &a, GENERATION)
            });
            match res {
                Ok(()) => reply.ok(),
                Err(e) => reply.error(e),
            }
        });
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        guarded("statfs", || {
            let info = self.volume.info();
            let declared = info
                .volume_blocks
                .saturating_mul(u64::from(info.block_size));
            let bytes = if declared > 0 {
                declared
            } else {
                info.image_size
            };
            let files = self
                .inodes
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .len() as u64;
            reply.statfs(
                bytes.div_ceil(u64::from(BLKSIZE)),
                0,
                0,
                files,
                0,
                BLKSIZE,
                NAME_MAX,
                BLKSIZE,
            );
        });
    }

    fn getxattr(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _name: &OsStr,
        _size: u32,
        reply: ReplyXattr,
    ) {
        reply.error(Errno::NO_XATTR);
    }

    fn listxattr(&self, _req: &Request, _ino: INodeNo, size: u32, reply: ReplyXattr) {
        if size == 0 {
            reply.size(0);
        } else {
            reply.data(&[]);
        }
    }

    fn access(&self, _req: &Request, ino: INodeNo, mask: AccessFlags, reply: ReplyEmpty) {
        guarded("access", || {
            if mask.contains(AccessFlags::W_OK) {
                return reply.error(Errno::EROFS);
            }
            match self.node(ino) {
                Ok(_) => reply.ok(),
                Err(e) => reply.error(e),
            }
        });
    }

    // Everything below would modify the image: read-only file system.

    fn setattr(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        _size: Option<u64>,
        _atime: Option<TimeOrNow>,
        _mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        reply.error(Errno::EROFS);
    }

    fn mknod(
        &self,
        _req: &Request,
        _parent: INodeNo,
        _name: &OsStr,
        _mode: u32,
        _umask: u32,
        _rdev: u32,
        reply: ReplyEntry,
    ) {
        reply.error(Errno::EROFS);
    }

    fn mkdir(
        &self,
        _req: &Request,
        _parent: INodeNo,
        _name: &OsStr,
        _mode: u32,
        _umask: u32,
        reply: ReplyEntry,
    ) {
        reply.error(Errno::EROFS);
    }

    fn unlink(&self, _req: &Request, _parent: INodeNo, _name: &OsStr, reply: ReplyEmpty) {
        reply.error(Errno::EROFS);
    }

    fn rmdir(&self, _req: &Request, _parent: INodeNo, _name: &OsStr, reply: ReplyEmpty) {
        reply.error(Errno::EROFS);
    }

    fn symlink(
        &self,
        _req: &Request,
        _parent: INodeNo,
        _link_name: &OsStr,
        _target: &Path,
        reply: ReplyEntry,
    ) {
        reply.error(Errno::EROFS);
    }

    fn rename(
        &self,
        _req: &Request,
        _parent: INodeNo,
        _name: &OsStr,
        _newparent: INodeNo,
        _newname: &OsStr,
        _flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        reply.error(Errno::EROFS);
    }

    fn link(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _newparent: INodeNo,
        _newname: &OsStr,
        reply: ReplyEntry,
    ) {
        reply.error(Errno::EROFS);
    }

    fn write(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _offset: u64,
        _data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        reply.error(Errno::EROFS);
    }

    fn create(
        &self,
        _req: &Request,
        _parent: INodeNo,
        _name: &OsStr,
        _mode: u32,
        _umask: u32,
        _flags: i32,
        reply: ReplyCreate,
    ) {
        reply.error(Errno::EROFS);
    }

    fn fallocate(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _offset: u64,
        _length: u64,
        _mode: i32,
        reply: ReplyEmpty,
    ) {
        reply.error(Errno::EROFS);
    }

    fn setxattr(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _name: &OsStr,
        _value: &[u8],
        _flags: i32,
        _position: u32,
        reply: ReplyEmpty,
    ) {
        reply.error(Errno::EROFS);
    }

    fn removexattr(&self, _req: &Request, _ino: INodeNo, _name: &OsStr, reply: ReplyEmpty) {
        reply.error(Errno::EROFS);
    }

    fn copy_file_range(
        &self,
        _req: &Request,
        _ino_in: INodeNo,
        _fh_in: FileHandle,
        _offset_in: u64,
        _ino_out: INodeNo,
        _fh_out: FileHandle,
        _offset_out: u64,
        _len: u64,
        _flags: CopyFileRangeFlags,
        reply: ReplyWrite,
    ) {
        reply.error(Errno::EROFS);
    }
}
