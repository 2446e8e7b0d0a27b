//! Real FUSE mounts through the `isomount` binary, and the walk of a
//! mounted tree with plain `std::fs` into the `ref.jsonl` shape.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::{Listing, entry, isomount, sha256_reader};

/// A mounted image; unmounted on drop.
pub struct Mount {
    _dir: tempfile::TempDir,
    /// The mount point.
    pub mnt: PathBuf,
}

/// True when `mnt` is a mount point (per /proc/self/mountinfo).
pub fn is_mounted(mnt: &Path) -> bool {
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let want = mnt.to_string_lossy();
    info.lines().any(|l| l.split(' ').nth(4) == Some(&*want))
}

/// Waits (10 s at most) until `mnt` is no longer mounted.
pub fn wait_unmounted(mnt: &Path, what: &str) {
    let t = Instant::now();
    while is_mounted(mnt) {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "{what}: still mounted after 10 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Mount {
    /// `isomount [EXTRA...] mount IMAGE MNT` in a fresh temporary directory;
    /// `mount` returns only once the mount is ready, which is checked.
    pub fn new(image: &Path, extra: &[&str]) -> Mount {
        Mount::with_options(image, extra, &[])
    }

    /// [`Mount::new`] with `mount`'s own options after the mount point
    /// (`-o allow_other`, ...).
    pub fn with_options(image: &Path, extra: &[&str], options: &[&str]) -> Mount {
        let dir = tempfile::tempdir().unwrap();
        let mnt = dir.path().join("mnt");
        fs::create_dir(&mnt).unwrap();
        let mut args: Vec<&OsStr> = extra.iter().map(OsStr::new).collect();
        args.extend([OsStr::new("mount"), image.as_os_str(), mnt.as_os_str()]);
        args.extend(options.iter().map(OsStr::new));
        let out = isomount(&args);
        assert!(
            out.status.success(),
            "isomount mount {} failed: {}",
            image.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            is_mounted(&mnt),
            "isomount mount returned but {} is not mounted",
            mnt.display()
        );
        Mount { _dir: dir, mnt }
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        if !is_mounted(&self.mnt) {
            return;
        }
        // Tests run in parallel threads: a child process forked by another
        // test holds copies of this test's open files until it execs, which
        // makes the kernel answer EBUSY for a moment.
        let mut out = isomount(&[OsStr::new("umount"), self.mnt.as_os_str()]);
        for _ in 0..50 {
            if out.status.success() || !String::from_utf8_lossy(&out.stderr).contains("busy") {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
            out = isomount(&[OsStr::new("umount"), self.mnt.as_os_str()]);
        }
        if !out.status.success() {
            let _ = Command::new("umount").arg("-l").arg(&self.mnt).status();
            if !std::thread::panicking() {
                panic!(
                    "isomount umount failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }
}

/// Major number of a Linux `dev_t`.
pub fn major(dev: u64) -> u32 {
    (((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff)) as u32
}

/// Minor number of a Linux `dev_t`.
pub fn minor(dev: u64) -> u32 {
    ((dev & 0xff) | ((dev >> 12) & !0xff)) as u32
}

/// Walks a mounted tree with std::fs into the `ref.jsonl` shape, checking
/// on the way that readdir's d_type agrees with stat.
pub fn mount_listing(root: &Path) -> Listing {
    let mut out = Listing::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).unwrap_or_else(|e| panic!("readdir {}: {e}", dir.display())) {
            let e = e.unwrap();
            let p = e.path();
            let md = fs::symlink_metadata(&p).unwrap();
            let ft = md.file_type();
            assert_eq!(e.file_type().unwrap(), ft, "{}", p.display());
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let kind = if ft.is_file() {
                "file"
            } else if ft.is_dir() {
                "dir"
            } else if ft.is_symlink() {
                "symlink"
            } else if ft.is_char_device() {
                "chardev"
            } else if ft.is_block_device() {
                "blockdev"
            } else if ft.is_fifo() {
                "fifo"
            } else {
                "socket"
            };
            let sha = ft
                .is_file()
                .then(|| sha256_reader(fs::File::open(&p).unwrap()));
            let target = ft
                .is_symlink()
                .then(|| fs::read_link(&p).unwrap().to_string_lossy().into_owned());
            let rdev = (ft.is_char_device() || ft.is_block_device())
                .then(|| (major(md.rdev()), minor(md.rdev())));
            out.insert(
                rel,
                entry(
                    kind,
                    md.len(),
                    sha,
                    target,
                    md.mode(),
                    md.mtime(),
                    md.uid(),
                    md.gid(),
                    rdev,
                    md.ino(),
                ),
            );
            if ft.is_dir() {
                stack.push(p);
            }
        }
    }
    out
}
