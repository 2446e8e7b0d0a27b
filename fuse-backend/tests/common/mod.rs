//! A tiny in-memory volume (an in-test `Format` over a `MemSource`) and a
//! helper that mounts it with `fuse_backend::serve` in a background thread.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use fs_core::cache::{BlockCache, DEFAULT_BLOCK_SIZE};
use fs_core::format::{DirContents, Format, NodeInfo, View, VolumeInfo};
use fs_core::source::{MemSource, ReadAt};
use fs_core::{
    Attributes, DeviceNumber, Extent, FileData, FileType, NodeId, OpenOptions, Timestamp, Volume,
};
use fuse_backend::MountOptions;

pub const BS: u64 = 2048;
/// Image size: 84 sectors.
pub const IMAGE_BLOCKS: u64 = 84;
pub const ROOT: u64 = 16 * BS;
pub const SUB: u64 = 17 * BS;
pub const MANY: u64 = 18 * BS;
pub const BAD_DIR: u64 = 19 * BS;
pub const BIG_AT: u64 = 32 * BS;
pub const BIG_LEN: u64 = 100_000; // spans four 32 KiB cache blocks
pub const INNER_AT: u64 = 82 * BS;
pub const HARD_AT: u64 = 83 * BS;
pub const HARD_INODE: u64 = 1 << 63 | 77;
pub const MANY_COUNT: usize = 500;
pub const MTIME: Timestamp = Timestamp {
    secs: 1_600_000_000,
    nanos: 123_456_789,
};
pub const ATIME: Timestamp = Timestamp {
    secs: 1_500_000_000,
    nanos: 0,
};
pub const INNER: &[u8] = b"hello from the subdirectory\n";
pub const HARD: &[u8] = b"one file, two names\n";

/// The bytes of `big.bin`.
pub fn big_content() -> Vec<u8> {
    (0..BIG_LEN)
        .map(|i| (i.wrapping_mul(31) ^ (i >> 8)) as u8)
        .collect()
}

fn attrs(kind: FileType, id: u64, size: u64, mode: u32) -> Attributes {
    Attributes {
        kind,
        size,
        allocated: size.div_ceil(BS) * BS,
        mode,
        nlink: if kind == FileType::Directory { 2 } else { 1 },
        uid: 100,
        gid: 200,
        rdev: None,
        mtime: MTIME,
        atime: None,
        ctime: None,
        crtime: None,
        hidden: false,
        inode: id,
    }
}

fn file(id: u64, at: u64, len: u64, mode: u32) -> NodeInfo {
    NodeInfo {
        id: NodeId(id),
        attr: attrs(FileType::Regular, id, len, mode),
        data: FileData::new([Extent::Recorded { start: at, len }]),
        link_target: None,
    }
}

fn special(id: u64, kind: FileType) -> NodeInfo {
    NodeInfo {
        id: NodeId(id),
        attr: attrs(kind, id, 0, 0o644),
        data: FileData::empty(),
        link_target: None,
    }
}

fn dir(id: u64) -> NodeInfo {
    NodeInfo {
        id: NodeId(id),
        attr: attrs(FileType::Directory, id, BS, 0o755),
        data: FileData::new([Extent::Recorded { start: id, len: BS }]),
        link_target: None,
    }
}

fn hard(id: u64) -> NodeInfo {
    let mut n = file(id, HARD_AT, HARD.len() as u64, 0o600);
    n.attr.nlink = 2;
    n.attr.inode = HARD_INODE;
    n
}

/// When set, listing `baddir` panics (a stand-in for a reader bug) instead
/// of returning a corrupt-structure error. Only `tests/panic.rs` sets it.
pub static PANIC_IN_BAD_DIR: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Node ids: byte offsets of made-up directory records in the root's sector.
struct TestFormat;

impl Format for TestFormat {
    fn view(&self) -> View {
        View::RockRidge
    }

    fn root(&self) -> fs_core::Result<NodeInfo> {
        let mut r = dir(ROOT);
        r.attr.nlink = 4;
        Ok(r)
    }

    fn read_dir(&self, d: &NodeInfo) -> fs_core::Result<DirContents> {
        let mut entries = Vec::new();
        match d.id.0 {
            ROOT => {
                let mut big = file(ROOT + 100, BIG_AT, BIG_LEN, 0o644);
                big.attr.atime = Some(ATIME);
                entries.push(("big.bin".to_string(), big));
                entries.push(("empty".to_string(), file(ROOT + 200, 0, 0, 0o444)));
                entries.push(("sub".to_string(), dir(SUB)));
                entries.push(("many".to_string(), dir(MANY)));
                let mut link = special(ROOT + 300, FileType::Symlink);
                link.attr.mode = 0o777;
                link.attr.size = "big.bin".len() as u64;
                link.link_target = Some("big.bin".into());
                entries.push(("link".to_string(), link));
                entries.push(("fifo".to_string(), special(ROOT + 400, FileType::Fifo)));
                let mut null = special(ROOT + 500, FileType::CharDevice);
                null.attr.rdev = Some(DeviceNumber { major: 1, minor: 3 });
                entries.push(("null".to_string(), null));
                entries.push(("hard1".to_string(), hard(ROOT + 600)));
                entries.push(("baddir".to_string(), dir(BAD_DIR)));
                // Extent far past the end of the image: reads must fail with EIO.
                entries.push(("broken".to_string(), file(ROOT + 700, 1 << 30, 8192, 0o644)));
            }
            SUB => {
                entries.push((
                    "inner.txt".to_string(),
                    file(SUB + 100, INNER_AT, INNER.len() as u64, 0o644),
                ));
                entries.push(("hard2".to_string(), hard(SUB + 200)));
                // Longer than FUSE_NAME_MAX: must be left out, not fail the listing.
                entries.push(("n".repeat(1100), file(SUB + 300, 0, 0, 0o644)));
            }
            MANY => {
                for i in 0..MANY_COUNT as u64 {
                    entries.push((
                        format!("entry-with-a-longish-name-{i:04}"),
                        file(MANY + 1 + i, INNER_AT, INNER.len() as u64, 0o644),
                    ));
                }
            }
            BAD_DIR => {
                if PANIC_IN_BAD_DIR.load(std::sync::atomic::Ordering::SeqCst) {
                    panic!("test: a reader bug while listing baddir");
                }
                return Err(fs_core::Error::corrupt(
                    "directory record",
                    fs_core::Location::at(BAD_DIR / BS, 0),
                    "record length 0 (test)",
                ));
            }
            _ => {}
        }
        Ok(DirContents {
            entries,
            problems: Vec::new(),
        })
    }
}

/// The test volume.
pub fn volume() -> Arc<Volume> {
    let mut image = vec![0u8; (IMAGE_BLOCKS * BS) as usize];
    image[BIG_AT as usize..(BIG_AT + BIG_LEN) as usize].copy_from_slice(&big_content());
    image[INNER_AT as usize..INNER_AT as usize + INNER.len()].copy_from_slice(INNER);
    image[HARD_AT as usize..HARD_AT as usize + HARD.len()].copy_from_slice(HARD);
    let source: Arc<dyn ReadAt> = Arc::new(MemSource::new(image));
    let meta = Arc::new(BlockCache::new(
        Arc::clone(&source),
        DEFAULT_BLOCK_SIZE,
        1 << 20,
    ));
    let info = VolumeInfo {
        format: "test".into(),
        view: Some(View::RockRidge),
        views: vec![View::RockRidge],
        label: "TEST".into(),
        block_size: BS as u32,
        volume_blocks: IMAGE_BLOCKS,
        ..VolumeInfo::default()
    };
    let v = Volume::with_format(
        Box::new(TestFormat),
        info,
        source,
        meta,
        &OpenOptions::default(),
    )
    .expect("test volume");
    Arc::new(v)
}

/// True (after a loud message) when this machine cannot mount FUSE.
pub fn skip() -> bool {
    if !Path::new("/dev/fuse").exists() {
        eprintln!("\n\n*** SKIPPED: /dev/fuse missing: FUSE mount tests did not run ***\n");
        return true;
    }
    false
}

/// True (after a loud message) when not root: the test relies on root
/// (reading files of other owners, allow_other without /etc/fuse.conf).
pub fn skip_unless_root(what: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("\n*** SKIPPED {what}: needs root ***\n");
        return true;
    }
    false
}

/// Whether `path` is a mount point now (from /proc/self/mountinfo).
pub fn is_mounted(path: &Path) -> bool {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let want = path.to_string_lossy().replace(' ', "\\040");
    info.lines()
        .any(|l| l.split(' ').nth(4) == Some(want.as_str()))
}

/// A volume mounted by `serve` in a background thread. Dropping it (also
/// when a test fails) unmounts, lazily if need be, so nothing is left behind.
pub struct Mounted {
    pub path: PathBuf,
    pub thread: Option<JoinHandle<std::io::Result<()>>>,
    _dir: tempfile::TempDir,
}

impl Mounted {
    /// Mounts the test volume with `opts`, waiting until `ready` is called.
    pub fn new(opts: MountOptions) -> Mounted {
        let _ = env_logger::builder().is_test(true).try_init();
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().canonicalize().unwrap().join("mnt");
        std::fs::create_dir(&path).unwrap();
        let (tx, rx) = mpsc::channel();
        let vol = volume();
        let p = path.clone();
        let thread = std::thread::spawn(move || {
            fuse_backend::serve(vol, &p, &opts, move || {
                let _ = tx.send(());
            })
        });
        let mut m = Mounted {
            path,
            thread: Some(thread),
            _dir: dir,
        };
        if rx.recv_timeout(Duration::from_secs(20)).is_err() {
            let t = m.thread.take().unwrap();
            if t.is_finished() {
                panic!("serve failed: {:?}", t.join());
            }
            panic!("serve did not call ready() in time");
        }
        assert!(is_mounted(&m.path), "not in mountinfo after ready()");
        m
    }

    /// Path of `name` inside the mount.
    pub fn p(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Unmounts with `fuse_backend::unmount` and waits for `serve` to return.
    pub fn unmount(mut self) -> std::io::Result<()> {
        fuse_backend::unmount(&self.path)?;
        self.join()
    }

    /// Waits (at most 20 s) for `serve` to return, and returns its result.
    pub fn join(&mut self) -> std::io::Result<()> {
        let t = self.thread.take().expect("joined twice");
        for _ in 0..2000 {
            if t.is_finished() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(t.is_finished(), "serve did not return after unmount");
        t.join().expect("serve panicked")
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        if is_mounted(&self.path) {
            let _ = std::process::Command::new("umount")
                .arg("-l")
                .arg(&self.path)
                .status();
        }
    }
}
