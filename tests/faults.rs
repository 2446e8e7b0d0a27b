//! Faults and load (issue 7): a source that fails or shortens reads at
//! chosen offsets, a truncated image, 8 parallel readers over a large
//! fixture with a tiny cache, and a mount whose server was killed.
//!
//! Where a byte range of the image matters, it comes from an independent
//! tool (`xorriso -find / -exec report_lba`, `isoinfo -l`), not from our
//! reader. FUSE tests need `/dev/fuse` and say so loudly where it is
//! missing. Everything that could hang runs under a watchdog.
#![cfg(unix)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::fs;
use std::io::{self, Read};
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::mount::{Mount, is_mounted, wait_unmounted};
use common::walk::{node_row, read_all, volume_listing};
use common::{
    Keys, Listing, assert_listing, fixtures, fuse_available, isomount, load_ref, sha256_hex,
    sha256_reader,
};
use fs_core::source::{FileSource, ReadAt};
use fs_core::{Error, FileType, NodeId, OpenOptions, View, Volume};
use sha2::Digest as _;

const EIO: i32 = 5;
const ENOTCONN: i32 = 107;
const SECTOR: u64 = 2048;

// ------------------------------------------------------------ FaultSource

/// How a read that starts inside a [`FaultSource`] short range is shortened.
#[derive(Debug, Clone, Copy)]
enum Short {
    /// One byte only.
    One,
    /// Half of what was asked (at least one byte).
    Half,
}

/// A real image file whose reads go wrong where the test says: reads that
/// touch a failing range fail with `EIO`, reads that start in a short
/// range return fewer bytes than asked (legal: callers must retry), and
/// with `every_nth` every Nth read fails. Faults apply only while armed.
struct FaultSource {
    inner: FileSource,
    fail: Vec<Range<u64>>,
    short: Vec<(Range<u64>, Short)>,
    every_nth: Option<u64>,
    armed: AtomicBool,
    /// Reads asked for (armed or not).
    reads: AtomicU64,
    /// Reads failed on purpose.
    failed: AtomicU64,
    /// Reads shortened on purpose.
    shortened: AtomicU64,
}

impl FaultSource {
    fn open(path: &Path) -> FaultSource {
        FaultSource {
            inner: FileSource::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
            fail: Vec::new(),
            short: Vec::new(),
            every_nth: None,
            armed: AtomicBool::new(true),
            reads: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            shortened: AtomicU64::new(0),
        }
    }

    fn fail(mut self, r: Range<u64>) -> Self {
        self.fail.push(r);
        self
    }

    fn short(mut self, r: Range<u64>, how: Short) -> Self {
        self.short.push((r, how));
        self
    }

    fn every_nth(mut self, n: u64) -> Self {
        self.every_nth = Some(n);
        self
    }

    fn arm(&self, on: bool) {
        self.armed.store(on, Ordering::SeqCst);
    }

    fn failed(&self) -> u64 {
        self.failed.load(Ordering::SeqCst)
    }
}

impl ReadAt for FaultSource {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let nth = self.reads.fetch_add(1, Ordering::SeqCst) + 1;
        if !self.armed.load(Ordering::SeqCst) || buf.is_empty() {
            return self.inner.read_at(offset, buf);
        }
        let end = offset.saturating_add(buf.len() as u64).min(self.len());
        let touches = |r: &Range<u64>| offset < r.end && r.start < end;
        if self.fail.iter().any(touches) || self.every_nth.is_some_and(|n| nth % n == 0) {
            self.failed.fetch_add(1, Ordering::SeqCst);
            return Err(io::Error::from_raw_os_error(EIO));
        }
        if let Some((_, how)) = self.short.iter().find(|(r, _)| r.contains(&offset)) {
            let n = match how {
                Short::One => 1,
                Short::Half => buf.len().div_ceil(2),
            };
            if n < buf.len() {
                self.shortened.fetch_add(1, Ordering::SeqCst);
            }
            return self.inner.read_at(offset, &mut buf[..n]);
        }
        self.inner.read_at(offset, buf)
    }

    fn len(&self) -> u64 {
        self.inner.len()
    }
}

/// The Rock Ridge fixture (`ci/fixtures.sh`: xorriso) and the listing of
/// the tree it was made from.
fn rr_fixture() -> (PathBuf, Listing) {
    let dir = fixtures();
    (dir.join("rr.iso"), load_ref(&dir.join("rr.ref.jsonl")))
}

fn open_on(
    src: &Arc<FaultSource>,
    view: Option<View>,
    cache_bytes: u64,
) -> fs_core::Result<Volume> {
    let opts = OpenOptions {
        view,
        boot_dir: false,
        cache_bytes,
        ..OpenOptions::default()
    };
    let dynsrc: Arc<dyn ReadAt> = Arc::clone(src) as Arc<dyn ReadAt>;
    Volume::open(dynsrc, &opts)
}

// ------------------------------------------------- extents, by other tools

/// File extents as xorriso reports them: path (no leading '/') → byte range
/// of the first extent and file size.
fn xorriso_extents(image: &Path) -> BTreeMap<String, (Range<u64>, u64)> {
    let out = Command::new("xorriso")
        .arg("-indev")
        .arg(image)
        .args(["-find", "/", "-exec", "report_lba", "--"])
        .output()
        .expect("run xorriso");
    assert!(out.status.success(), "xorriso report_lba failed");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let mut map = BTreeMap::new();
    for line in text.lines() {
        // File data lba:  0 ,      111 ,        1 ,        5 , '/path'
        let Some(rest) = line.strip_prefix("File data lba:") else {
            continue;
        };
        let f: Vec<&str> = rest.splitn(5, ',').map(str::trim).collect();
        let lba: u64 = f[1].parse().unwrap();
        let size: u64 = f[3].parse().unwrap();
        let path = f[4].trim_matches('\'').trim_start_matches('/').to_string();
        map.insert(path, (lba * SECTOR..lba * SECTOR + size, size));
    }
    assert!(!map.is_empty(), "no extents in xorriso's report:\n{text}");
    map
}

/// Directory extents as `isoinfo -l` lists them (with `-J`: the Joliet
/// tree): upper/lower-case path as isoinfo prints it → first sector.
fn isoinfo_dir_sectors(image: &Path, joliet: bool) -> BTreeMap<String, u64> {
    let mut cmd = Command::new("isoinfo");
    cmd.arg("-l").arg("-i").arg(image);
    if joliet {
        cmd.arg("-J");
    }
    let out = cmd.output().expect("run isoinfo (package genisoimage)");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut map = BTreeMap::new();
    let mut cur = String::new();
    for line in text.lines() {
        if let Some(d) = line.strip_prefix("Directory listing of ") {
            cur = d.trim().to_string();
            continue;
        }
        // d---------   0    0    0            2048 Jan  2 2024 [     23 02]  EMPTYDIR
        if !line.starts_with('d') {
            continue;
        }
        let Some((_, after)) = line.split_once('[') else {
            continue;
        };
        let Some((nums, name)) = after.split_once(']') else {
            continue;
        };
        let name = name.trim();
        if name == "." || name == ".." {
            continue;
        }
        let sector: u64 = nums.split_whitespace().next().unwrap().parse().unwrap();
        map.insert(format!("{cur}{name}"), sector);
    }
    assert!(!map.is_empty(), "no directories in isoinfo's listing");
    map
}

// ------------------------------------------------------ library walking

/// What a walk of the whole tree found: the listing of everything that
/// could be read, and each path that failed with its error.
struct Walk {
    listing: Listing,
    failed: BTreeMap<String, Error>,
}

/// Walks the tree like `common::walk::volume_listing`, but records failures
/// (of directories and of file reads) instead of stopping at them.
fn walk_recording_failures(vol: &Volume) -> Walk {
    let mut listing = Listing::new();
    let mut failed = BTreeMap::new();
    let mut stack = vec![(vol.root(), String::new())];
    while let Some((dir, prefix)) = stack.pop() {
        let entries = match vol.read_dir(dir) {
            Ok(d) => {
                assert!(d.problems().is_empty(), "{prefix}: {:?}", d.problems());
                d.entries().to_vec()
            }
            Err(e) => {
                failed.insert(prefix.trim_end_matches('/').to_string(), e);
                continue;
            }
        };
        for e in entries {
            let path = format!("{prefix}{}", e.name);
            let node = vol.node(e.id).unwrap();
            let a = node.attr().clone();
            let mut sha = None;
            if a.kind == FileType::Regular {
                match read_whole(vol, e.id, a.size) {
                    Ok(data) => sha = Some(sha256_hex(&data)),
                    Err(err) => {
                        failed.insert(path.clone(), err);
                        continue;
                    }
                }
            }
            if a.kind == FileType::Directory {
                stack.push((e.id, format!("{path}/")));
            }
            listing.insert(path, node_row(&node, sha));
        }
    }
    Walk { listing, failed }
}

/// A whole file through the library in 64 KiB requests.
fn read_whole(vol: &Volume, id: NodeId, size: u64) -> fs_core::Result<Vec<u8>> {
    let mut out = vec![0u8; size as usize];
    let mut done = 0;
    while done < out.len() {
        let end = (done + (64 << 10)).min(out.len());
        let n = vol.read(id, done as u64, &mut out[done..end])?;
        assert!(n > 0, "short read at {done} of {size}");
        done += n;
    }
    Ok(out)
}

/// `expected` without the paths for which `drop` is true.
fn without(expected: &Listing, drop: impl Fn(&str) -> bool) -> Listing {
    expected
        .iter()
        .filter(|(p, _)| !drop(p))
        .map(|(p, v)| (p.clone(), v.clone()))
        .collect()
}

/// The error's I/O cause must be our `EIO`, and the range it names must
/// overlap the fault.
fn assert_names_the_failed_read(e: &Error, fault: &Range<u64>, what: &str) {
    let Error::Io { offset, len, cause } = e else {
        panic!("{what}: expected an I/O error, got {e:?}");
    };
    assert_eq!(cause.raw_os_error(), Some(EIO), "{what}: {e}");
    assert!(
        *offset < fault.end && fault.start < offset + *len as u64,
        "{what}: error names bytes {offset}+{len}, the fault is at {fault:?}: {e}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains(&format!("image offset {offset}")) && msg.contains("Input/output error"),
        "{what}: message does not say what failed: {msg}"
    );
    assert_eq!(e.errno(), EIO, "{what}");
}

// ------------------------------------------------- library-level faults

#[test]
fn a_failing_file_extent_fails_that_file_only_and_the_error_names_the_read() {
    let (image, expected) = rr_fixture();
    let (ext, size) = xorriso_extents(&image)["straddle.bin"].clone();
    assert_eq!(size, 100_000);
    // One sector in the middle of the file.
    let fault = ext.start + 20 * SECTOR..ext.start + 21 * SECTOR;
    let src = Arc::new(FaultSource::open(&image).fail(fault.clone()));
    let vol = open_on(&src, None, 1 << 20).expect("open: the fault is in file data");

    let walk = walk_recording_failures(&vol);
    assert_eq!(
        walk.failed.keys().collect::<Vec<_>>(),
        ["straddle.bin"],
        "only the file over the fault fails"
    );
    assert_names_the_failed_read(&walk.failed["straddle.bin"], &fault, "straddle.bin");
    // Every other file (and every directory) is what the tree holds.
    assert_listing(
        "rr.iso with a bad sector in straddle.bin",
        &without(&expected, |p| p == "straddle.bin"),
        &walk.listing,
        Keys::ALL,
    );
    // The parts of the file before and after the bad sector still read.
    let node = vol.resolve("straddle.bin", false).unwrap();
    let whole = fs::read(&image).unwrap();
    let file = &whole[ext.start as usize..ext.end as usize];
    for (off, len) in [(0u64, 20 * SECTOR), (21 * SECTOR, 100_000 - 21 * SECTOR)] {
        let mut buf = vec![0u8; len as usize];
        assert_eq!(vol.read_node(&node, off, &mut buf).unwrap(), len as usize);
        assert_eq!(
            buf,
            file[off as usize..(off + len) as usize],
            "bytes at {off}"
        );
    }
    // A read that touches it fails every time.
    for _ in 0..2 {
        let e = vol
            .read_node(&node, 20 * SECTOR + 5, &mut [0u8; 10])
            .unwrap_err();
        assert_names_the_failed_read(&e, &fault, "read inside the bad sector");
    }
}

#[test]
fn a_file_fault_that_shares_a_cache_block_with_directories_leaves_them_readable() {
    // In the Joliet tree of rr.iso the last directories and the first file
    // (blocks.bin) share one 32 KiB block of the metadata cache: a bad
    // sector in the file must not make those directories unreadable.
    let dir = fixtures();
    let image = dir.join("rr.iso");
    let (ext, _) = xorriso_extents(&image)["blocks.bin"].clone();
    let fault = ext.start..ext.start + SECTOR;
    let block = |byte: u64| byte / (32 << 10);
    let dirs = isoinfo_dir_sectors(&image, true);
    let neighbours: Vec<_> = dirs
        .iter()
        .filter(|&(_, &s)| block(s * SECTOR) == block(fault.start))
        .collect();
    assert!(
        !neighbours.is_empty(),
        "precondition: a Joliet directory in the cache block of {fault:?} ({dirs:?})"
    );
    let src = Arc::new(FaultSource::open(&image).fail(fault.clone()));
    let vol = open_on(&src, Some(View::Joliet), 1 << 20).expect("open");
    let walk = walk_recording_failures(&vol);
    assert_eq!(
        walk.failed.keys().collect::<Vec<_>>(),
        ["blocks.bin"],
        "directories {neighbours:?} share the cache block of the fault"
    );
    assert_names_the_failed_read(&walk.failed["blocks.bin"], &fault, "blocks.bin");
    // Joliet keeps the tree's names (but for the 255-byte one, which it
    // cuts): every file but blocks.bin reads right.
    let expected = load_ref(&dir.join("rr.ref.jsonl"));
    let mut checked = 0;
    for (path, row) in &walk.listing {
        if let Some(want) = expected.get(path).and_then(|r| r.get("sha256")) {
            assert_eq!(row.get("sha256"), Some(want), "{path}");
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} files compared");
    assert!(src.failed() > 0);
}

#[test]
fn short_reads_anywhere_still_give_every_byte() {
    let (image, expected) = rr_fixture();
    let len = fs::metadata(&image).unwrap().len();
    for how in [Short::One, Short::Half] {
        let src = Arc::new(FaultSource::open(&image).short(0..len, how));
        let vol = open_on(&src, None, 1 << 20).expect("open with short reads");
        assert_listing(
            &format!("rr.iso with {how:?} short reads"),
            &expected,
            &volume_listing(&vol),
            Keys::ALL,
        );
        assert!(
            src.shortened.load(Ordering::SeqCst) > 100,
            "{how:?}: reads were shortened"
        );
    }
    // Short reads only at chosen offsets: the start of a file and inside it.
    let (ext, _) = xorriso_extents(&image)["blocks.bin"].clone();
    let src = Arc::new(
        FaultSource::open(&image)
            .short(ext.start..ext.start + 1, Short::One)
            .short(ext.start + 40_000..ext.start + 40_001, Short::Half),
    );
    let vol = open_on(&src, None, 1 << 20).unwrap();
    let node = vol.resolve("blocks.bin", false).unwrap();
    let got = read_all(&vol, node.id(), node.attr().size);
    assert_eq!(
        sha256_hex(&got),
        expected["blocks.bin"]["sha256"].as_str().unwrap()
    );
}

#[test]
fn a_fault_in_a_directory_extent_fails_that_directory_only() {
    let (image, expected) = rr_fixture();
    // nested/a/b: its subtree (c ... j, relocated by Rock Ridge) hangs below it.
    let sector = isoinfo_dir_sectors(&image, false)["/NESTED/A/B"];
    let fault = sector * SECTOR..(sector + 1) * SECTOR;
    let src = Arc::new(FaultSource::open(&image).fail(fault.clone()));
    let vol = open_on(&src, None, 1 << 20).expect("open: the root is elsewhere");
    let walk = walk_recording_failures(&vol);
    assert_eq!(walk.failed.keys().collect::<Vec<_>>(), ["nested/a/b"]);
    assert_names_the_failed_read(&walk.failed["nested/a/b"], &fault, "nested/a/b");
    assert_listing(
        "rr.iso with a bad sector in directory nested/a/b",
        &without(&expected, |p| p.starts_with("nested/a/b/")),
        &walk.listing,
        Keys {
            links: false,
            ..Keys::ALL
        },
    );
    // Lookups through it fail the same way; lookups elsewhere do not.
    let e = vol.resolve("nested/a/b/c", false).unwrap_err();
    assert_eq!(e.errno(), EIO, "{e}");
    assert!(vol.resolve("nested/a/up-link", false).is_ok());
}

#[test]
fn a_transient_fault_is_not_remembered_by_the_library() {
    let (image, expected) = rr_fixture();
    let (ext, _) = xorriso_extents(&image)["straddle.bin"].clone();
    let dsec = isoinfo_dir_sectors(&image, false)["/NESTED/A/B"];
    // Armed from the start: the directory's sector must never have been
    // read well (the metadata cache would hold it).
    let src = Arc::new(
        FaultSource::open(&image)
            .fail(ext.start + 30_000..ext.start + 30_001)
            .fail(dsec * SECTOR..(dsec + 1) * SECTOR),
    );
    let vol = open_on(&src, None, 1 << 20).unwrap();
    let file = vol.resolve("straddle.bin", false).unwrap();
    let b = vol.resolve("nested/a/b", false).unwrap();
    assert!(read_whole(&vol, file.id(), file.attr().size).is_err());
    assert_eq!(vol.read_dir(b.id()).unwrap_err().errno(), EIO);
    src.arm(false);
    // Now the same calls succeed with the right content.
    let data = read_whole(&vol, file.id(), file.attr().size).expect("retry of the file");
    assert_eq!(
        sha256_hex(&data),
        expected["straddle.bin"]["sha256"].as_str().unwrap()
    );
    let listing = vol.read_dir(b.id()).expect("retry of the directory");
    assert!(listing.problems().is_empty());
    assert_eq!(
        listing
            .entries()
            .iter()
            .map(|e| e.name.as_str())
            .collect::<Vec<_>>(),
        ["c"]
    );
    let deep = vol
        .resolve("nested/a/b/c/d/e/f/g/h/i/j/deep.txt", false)
        .expect("the subtree is back");
    assert_eq!(read_all(&vol, deep.id(), deep.attr().size), b"deep\n");
}

#[test]
fn intermittent_failures_never_give_wrong_bytes_and_retries_read_everything() {
    let (image, expected) = rr_fixture();
    let src = Arc::new(FaultSource::open(&image).every_nth(3));
    src.arm(false);
    // The smallest cache (16 blocks), so metadata is read again at times.
    let vol = open_on(&src, None, 0).unwrap();
    src.arm(true);
    let mut errors = 0;
    // Path → content hash (None for what is not a regular file).
    let mut found: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut stack = vec![(vol.root(), String::new())];
    let retry = |errors: &mut usize, what: &str, f: &mut dyn FnMut() -> fs_core::Result<()>| {
        for _ in 0..50 {
            match f() {
                Ok(()) => return,
                Err(e) => {
                    assert_eq!(e.errno(), EIO, "{what}: {e}");
                    *errors += 1;
                }
            }
        }
        panic!("{what}: 50 tries failed");
    };
    while let Some((d, prefix)) = stack.pop() {
        let mut entries = Vec::new();
        retry(&mut errors, &prefix, &mut || {
            let l = vol.read_dir(d)?;
            assert!(l.problems().is_empty(), "{prefix}: {:?}", l.problems());
            entries = l.entries().to_vec();
            Ok(())
        });
        for e in entries {
            let path = format!("{prefix}{}", e.name);
            if e.kind == FileType::Directory {
                stack.push((e.id, format!("{path}/")));
            }
            let mut sha = None;
            if e.kind == FileType::Regular {
                retry(&mut errors, &path, &mut || {
                    let size = vol.node(e.id)?.attr().size;
                    sha = Some(sha256_hex(&read_whole(&vol, e.id, size)?));
                    Ok(())
                });
            }
            found.insert(path, sha);
        }
    }
    let want: BTreeMap<String, Option<String>> = expected
        .iter()
        .map(|(p, r)| {
            (
                p.clone(),
                r.get("sha256").and_then(|v| v.as_str()).map(str::to_owned),
            )
        })
        .collect();
    assert_eq!(found, want, "tree and contents after retries");
    assert!(errors > 0 && src.failed() > 0, "faults were injected");
    eprintln!(
        "intermittent: {errors} failed calls retried, {} reads failed",
        src.failed()
    );
}

// ------------------------------------------------------- FUSE plumbing

/// Fails the test instead of hanging it: unless disarmed (dropped) within
/// `limit`, it says what hung, runs `unstick` (abort the FUSE connection,
/// kill the server) so that blocked calls return and the test fails at
/// its assertions, and if even that does not end it within 20 s, aborts
/// the test binary.
struct Watchdog {
    done: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Watchdog {
    fn new(what: &str, limit: Duration, unstick: impl FnOnce() + Send + 'static) -> Watchdog {
        let (tx, rx) = mpsc::channel::<()>();
        let what = what.to_string();
        let thread = std::thread::spawn(move || {
            if rx.recv_timeout(limit) != Err(mpsc::RecvTimeoutError::Timeout) {
                return;
            }
            eprintln!(
                "WATCHDOG: {what} did not finish within {} s (deadlock?); unsticking it",
                limit.as_secs()
            );
            unstick();
            if rx.recv_timeout(Duration::from_secs(20)) == Err(mpsc::RecvTimeoutError::Timeout) {
                eprintln!("WATCHDOG: {what} is still stuck; aborting the test binary");
                std::process::abort();
            }
        });
        Watchdog {
            done: Some(tx),
            thread: Some(thread),
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        drop(self.done.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// (major, minor) of the mount at `mnt`, from /proc/self/mountinfo.
fn mount_dev(mnt: &Path) -> Option<(u32, u32)> {
    let info = fs::read_to_string("/proc/self/mountinfo").ok()?;
    let want = mnt.to_string_lossy();
    info.lines().rev().find_map(|l| {
        let f: Vec<&str> = l.split(' ').collect();
        if f.get(4) != Some(&&*want) {
            return None;
        }
        let (a, b) = f.get(2)?.split_once(':')?;
        Some((a.parse().ok()?, b.parse().ok()?))
    })
}

/// Aborts the FUSE connection of the mount at `mnt` (blocked calls then
/// fail with ENOTCONN) and detaches it.
fn abort_fuse(mnt: &Path) {
    if let Some((_, minor)) = mount_dev(mnt) {
        let _ = fs::write(format!("/sys/fs/fuse/connections/{minor}/abort"), b"1");
    }
    let _ = Command::new("umount").arg("-l").arg(mnt).status();
}

/// Leaves nothing behind when a test fails midway: on drop, detaches a
/// mount still at `mnt` lazily and kills the server process the test
/// started, if it still runs.
struct Cleanup {
    mnt: PathBuf,
    server: Option<Child>,
}

impl Cleanup {
    fn server(&mut self) -> &mut Child {
        self.server.as_mut().expect("a server process")
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if is_mounted(&self.mnt) {
            let _ = Command::new("umount").arg("-l").arg(&self.mnt).status();
        }
        if let Some(c) = &mut self.server {
            if c.try_wait().ok().flatten().is_none() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

/// `isomount [PRE...] mount -f IMAGE MNT` in a fresh directory, returned
/// once the mount is there (the server exiting first fails the test). The
/// server's stdout is dropped; its stderr goes where `stderr` says.
fn foreground_mount(
    image: &Path,
    pre: &[&str],
    stderr: Stdio,
) -> (tempfile::TempDir, PathBuf, Cleanup) {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    fs::create_dir(&mnt).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_isomount"))
        .args(pre)
        .args(["mount", "-f"])
        .arg(image)
        .arg(&mnt)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .env("RUST_LOG", "warn")
        .spawn()
        .unwrap();
    let mut cleanup = Cleanup {
        mnt: mnt.clone(),
        server: Some(child),
    };
    let server = cleanup.server();
    let t = Instant::now();
    while !is_mounted(&mnt) {
        if let Some(st) = server.try_wait().unwrap() {
            panic!("isomount mount -f exited early: {st}");
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "the mount never appeared"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    (dir, mnt, cleanup)
}

/// A watchdog that, after `limit`, kills server `pid` and aborts the FUSE
/// connection of `mnt`, so that every call blocked on it fails.
fn server_watchdog(what: &str, limit: Duration, pid: u32, mnt: &Path) -> Watchdog {
    let mnt = mnt.to_path_buf();
    Watchdog::new(what, limit, move || {
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        abort_fuse(&mnt);
    })
}

/// A `Volume` served in this process by `fuse_backend::serve` on a thread.
/// Unmounted (and the serving thread joined, with a time limit) on drop.
struct InProcessMount {
    _dir: tempfile::TempDir,
    mnt: PathBuf,
    server: Option<JoinHandle<io::Result<()>>>,
}

impl InProcessMount {
    fn new(vol: Volume) -> InProcessMount {
        let dir = tempfile::tempdir().unwrap();
        let mnt = dir.path().join("mnt");
        fs::create_dir(&mnt).unwrap();
        let (tx, rx) = mpsc::channel();
        let server = {
            let mnt = mnt.clone();
            std::thread::spawn(move || {
                let opts = fuse_backend::MountOptions::default();
                fuse_backend::serve(Arc::new(vol), &mnt, &opts, move || {
                    let _ = tx.send(());
                })
            })
        };
        if rx.recv_timeout(Duration::from_secs(20)).is_err() {
            if server.is_finished() {
                panic!("serve failed: {:?}", server.join());
            }
            abort_fuse(&mnt);
            panic!("the in-process mount was not ready within 20 s");
        }
        assert!(is_mounted(&mnt));
        InProcessMount {
            _dir: dir,
            mnt,
            server: Some(server),
        }
    }

    /// The server is still running (its thread has not returned).
    fn serving(&self) -> bool {
        self.server.as_ref().is_some_and(|s| !s.is_finished())
    }

    /// Unmounts with `fuse_backend::unmount` and checks that `serve`
    /// returned Ok within 10 s.
    fn finish(mut self) {
        fuse_backend::unmount(&self.mnt).expect("fuse_backend::unmount");
        let server = self.server.take().unwrap();
        let t = Instant::now();
        while !server.is_finished() {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "serve did not return after unmount"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        server.join().expect("serve panicked").expect("serve");
    }
}

impl Drop for InProcessMount {
    fn drop(&mut self) {
        let Some(server) = self.server.take() else {
            return;
        };
        if is_mounted(&self.mnt) && fuse_backend::unmount(&self.mnt).is_err() {
            abort_fuse(&self.mnt);
        }
        let t = Instant::now();
        while !server.is_finished() && t.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The raw errno of a failed call.
fn errno_of<T: std::fmt::Debug>(r: io::Result<T>, what: &str) -> i32 {
    let e = r.expect_err(what);
    e.raw_os_error()
        .unwrap_or_else(|| panic!("{what}: no OS error: {e}"))
}

/// Every regular file of a manifest: path → sha256.
fn file_hashes(expected: &Listing) -> BTreeMap<String, String> {
    expected
        .iter()
        .filter_map(|(p, r)| Some((p.clone(), r.get("sha256")?.as_str()?.to_owned())))
        .collect()
}

// ------------------------------------------------------ faults via FUSE

#[test]
fn through_fuse_a_failing_file_gives_eio_while_the_rest_reads_and_the_mount_lives() {
    if !fuse_available() {
        return;
    }
    let (image, expected) = rr_fixture();
    let (ext, _) = xorriso_extents(&image)["straddle.bin"].clone();
    let src = Arc::new(FaultSource::open(&image).fail(ext.start + 90_000..ext.start + 90_001));
    let m = InProcessMount::new(open_on(&src, None, 1 << 20).unwrap());
    let mnt = m.mnt.clone();
    let _dog = Watchdog::new("FUSE fault test", Duration::from_secs(120), move || {
        abort_fuse(&mnt)
    });
    let bad = m.mnt.join("straddle.bin");

    assert_eq!(errno_of(fs::read(&bad), "read of the bad file"), EIO);
    // stat and ls do not need the data.
    assert_eq!(fs::metadata(&bad).unwrap().len(), 100_000);
    let names: BTreeSet<String> = fs::read_dir(&m.mnt)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.contains("straddle.bin") && names.contains("hello.txt"),
        "{names:?}"
    );
    // Every other file reads byte-equal.
    let hashes = file_hashes(&expected);
    for (path, sha) in hashes.iter().filter(|(p, _)| *p != "straddle.bin") {
        let got = sha256_reader(fs::File::open(m.mnt.join(path)).unwrap());
        assert_eq!(&got, sha, "{path}");
    }
    // The bytes well before the fault still read (the kernel falls back to
    // reading page by page when its read-ahead fails); the file still fails.
    let f = fs::File::open(&bad).unwrap();
    let mut head = vec![0u8; 16384];
    f.read_exact_at(&mut head, 0).unwrap();
    let img = fs::read(&image).unwrap();
    assert_eq!(head, img[ext.start as usize..ext.start as usize + 16384]);
    drop(f);
    assert_eq!(errno_of(fs::read(&bad), "second read of the bad file"), EIO);
    // The daemon is alive and answering.
    assert!(m.serving(), "the server ended");
    assert!(is_mounted(&m.mnt));
    assert_eq!(
        fs::read_to_string(m.mnt.join("hello.txt")).unwrap(),
        "Hello from isomount\n"
    );
    assert!(fs::read_dir(m.mnt.join("nested/a")).unwrap().count() > 0);
    assert!(src.failed() >= 2);
    m.finish();
}

#[test]
fn through_fuse_a_transient_fault_is_not_cached_as_data() {
    if !fuse_available() {
        return;
    }
    let (image, expected) = rr_fixture();
    let (ext, _) = xorriso_extents(&image)["blocks.bin"].clone();
    let dsec = isoinfo_dir_sectors(&image, false)["/NESTED/A/B"];
    let src = Arc::new(
        FaultSource::open(&image)
            .fail(ext.start + 70_000..ext.start + 70_001)
            .fail(dsec * SECTOR..(dsec + 1) * SECTOR),
    );
    let m = InProcessMount::new(open_on(&src, None, 1 << 20).unwrap());
    let mnt = m.mnt.clone();
    let _dog = Watchdog::new(
        "FUSE transient fault test",
        Duration::from_secs(120),
        move || abort_fuse(&mnt),
    );
    let file = m.mnt.join("blocks.bin");
    let b = m.mnt.join("nested/a/b");
    assert_eq!(errno_of(fs::read(&file), "read while failing"), EIO);
    assert_eq!(
        errno_of(fs::read_dir(&b).map(|d| d.count()), "ls while failing"),
        EIO
    );
    assert_eq!(errno_of(fs::read(&file), "read while failing, again"), EIO);
    src.arm(false);
    let got = sha256_reader(fs::File::open(&file).unwrap());
    assert_eq!(
        got,
        expected["blocks.bin"]["sha256"].as_str().unwrap(),
        "blocks.bin on retry"
    );
    let names: Vec<String> = fs::read_dir(&b)
        .expect("ls on retry")
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["c"]);
    assert_eq!(
        fs::read_to_string(b.join("c/d/e/f/g/h/i/j/deep.txt")).unwrap(),
        "deep\n"
    );
    m.finish();
}

// ------------------------------------------------------- truncated image

#[test]
fn a_truncated_image_reads_what_it_holds_and_gives_eio_past_its_end() {
    if !fuse_available() {
        return;
    }
    let dir = fixtures();
    let expected = load_ref(&dir.join("rr.ref.jsonl"));
    let hashes = file_hashes(&expected);
    let full = dir.join("rr.iso");
    let extents = xorriso_extents(&full);
    // Cut in the middle of straddle.bin, inside a sector.
    let (cut_ext, _) = extents["straddle.bin"].clone();
    let in_file = 50_000u64;
    let cut = cut_ext.start + in_file;
    let tmp = tempfile::tempdir().unwrap();
    let image = tmp.path().join("cut.iso");
    let bytes = fs::read(&full).unwrap();
    fs::write(&image, &bytes[..cut as usize]).unwrap();
    let inside: Vec<&String> = hashes
        .keys()
        .filter(|p| extents.get(*p).is_some_and(|(r, _)| r.end <= cut))
        .collect();
    let past: Vec<&String> = hashes
        .keys()
        .filter(|p| {
            extents
                .get(*p)
                .is_some_and(|(r, s)| r.start >= cut && *s > 0)
        })
        .collect();
    assert!(
        inside.len() >= 10 && past.len() >= 2,
        "inside {inside:?}, past {past:?}"
    );

    let m = Mount::new(&image, &[]);
    let mnt = m.mnt.clone();
    let _dog = Watchdog::new(
        "truncated image test",
        Duration::from_secs(120),
        move || abort_fuse(&mnt),
    );
    // The whole tree lists (directories all lie before the cut).
    let mut seen = BTreeSet::new();
    let mut stack = vec![m.mnt.clone()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap_or_else(|e| panic!("ls {}: {e}", d.display())) {
            let e = e.unwrap();
            let p = e.path();
            seen.insert(
                p.strip_prefix(&m.mnt)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
            );
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            }
        }
    }
    assert_eq!(
        seen,
        expected.keys().cloned().collect::<BTreeSet<_>>(),
        "find of the cut image"
    );
    for p in &inside {
        let got = sha256_reader(fs::File::open(m.mnt.join(p)).unwrap());
        assert_eq!(&got, &hashes[*p], "{p} lies before the cut");
    }
    for p in &past {
        assert_eq!(
            errno_of(fs::read(m.mnt.join(p)), p),
            EIO,
            "{p} lies past the end"
        );
    }
    // The cut file: its pages before the cut read right, the cut and
    // everything past it give EIO.
    let f = fs::File::open(m.mnt.join("straddle.bin")).unwrap();
    let page = 4096u64;
    let prefix = in_file / page * page;
    let mut buf = vec![0u8; prefix as usize];
    f.read_exact_at(&mut buf, 0)
        .expect("the part before the cut");
    assert_eq!(
        buf,
        bytes[cut_ext.start as usize..(cut_ext.start + prefix) as usize]
    );
    for off in [in_file - 1, in_file, in_file + 1, in_file + 30_000] {
        let mut b = [0u8; 16];
        assert_eq!(
            errno_of(f.read_at(&mut b, off), "read at the cut"),
            EIO,
            "offset {off}"
        );
    }
    assert_eq!(errno_of(fs::read(m.mnt.join("straddle.bin")), "whole"), EIO);
    drop(f);
    assert!(is_mounted(&m.mnt));
    assert_eq!(
        fs::read_to_string(m.mnt.join("hello.txt")).unwrap(),
        "Hello from isomount\n"
    );

    // `isomount cat` writes every whole sector before the cut, then says
    // which file, where and why, and fails.
    let out = isomount(&[
        OsStr::new("cat"),
        image.as_os_str(),
        OsStr::new("straddle.bin"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let msg = String::from_utf8_lossy(&out.stderr);
    let sectors = in_file / 2048 * 2048;
    assert!(
        msg.contains("straddle.bin")
            && msg.contains(&format!("offset {sectors}"))
            && msg.contains("beyond the end of the image"),
        "{msg}"
    );
    assert_eq!(
        out.stdout,
        bytes[cut_ext.start as usize..(cut_ext.start + sectors) as usize],
        "cat's output: the readable sectors before the cut"
    );
    let out = isomount(&[
        OsStr::new("cat"),
        image.as_os_str(),
        OsStr::new("hello.txt"),
    ]);
    assert!(out.status.success());
    assert_eq!(out.stdout, b"Hello from isomount\n");
}

// ------------------------------------------------------- killed servers

/// The pid of the `isomount mount ... -f` server process serving `mnt`.
fn server_pid(mnt: &Path) -> u32 {
    let want = mnt.as_os_str().as_encoded_bytes();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmd) = fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = cmd.split(|&b| b == 0).collect();
        if args.first().is_some_and(|a| a.ends_with(b"isomount"))
            && args.contains(&&b"mount"[..])
            && args.contains(&want)
        {
            return pid;
        }
    }
    panic!("no server process for {}", mnt.display());
}

/// A background `isomount mount` of rr.iso in a fresh directory.
fn background_mount() -> (tempfile::TempDir, PathBuf, u32, Cleanup) {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    fs::create_dir(&mnt).unwrap();
    let image = fixtures().join("rr.iso");
    let cleanup = Cleanup {
        mnt: mnt.clone(),
        server: None,
    };
    let out = isomount(&[OsStr::new("mount"), image.as_os_str(), mnt.as_os_str()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pid = server_pid(&mnt);
    (dir, mnt, pid, cleanup)
}

/// `kill -9 pid`, then waits until the mount answers ENOTCONN.
fn kill_server(pid: u32, mnt: &Path) {
    assert!(
        Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .unwrap()
            .success()
    );
    // statfs always reaches the server (stat may be answered from the
    // kernel's attribute cache).
    let t = Instant::now();
    while statfs_errno(mnt) != Some(ENOTCONN) {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "after kill -9 the mount still answers statfs"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(is_mounted(mnt), "a killed server leaves its mount behind");
}

/// The errno of statfs(2) on `path`, None when it succeeds.
fn statfs_errno(path: &Path) -> Option<i32> {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    let mut st = std::mem::MaybeUninit::<libc::statfs>::uninit();
    // SAFETY: a valid C string and a writable statfs buffer, both alive
    // for the call.
    let rc = unsafe { libc::statfs(c.as_ptr(), st.as_mut_ptr()) };
    (rc != 0).then(|| io::Error::last_os_error().raw_os_error().unwrap_or(0))
}

/// The mount point is a plain, empty, usable directory again.
fn assert_usable_again(mnt: &Path) {
    assert!(!is_mounted(mnt), "still in /proc/self/mountinfo");
    assert_eq!(fs::read_dir(mnt).expect("ls of the directory").count(), 0);
    // And it takes a new mount.
    let image = fixtures().join("rr.iso");
    let out = isomount(&[OsStr::new("mount"), image.as_os_str(), mnt.as_os_str()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        fs::read_to_string(mnt.join("hello.txt")).unwrap(),
        "Hello from isomount\n"
    );
    let out = isomount(&[OsStr::new("umount"), mnt.as_os_str()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_unmounted(mnt, "umount of the new mount");
}

#[test]
fn after_kill_9_isomount_umount_recovers_the_mount_point() {
    if !fuse_available() {
        return;
    }
    let (_dir, mnt, pid, _cleanup) = background_mount();
    assert_eq!(
        fs::read_to_string(mnt.join("hello.txt")).unwrap(),
        "Hello from isomount\n"
    );
    kill_server(pid, &mnt);
    assert_eq!(errno_of(fs::read_dir(&mnt), "ls of a dead mount"), ENOTCONN);
    let out = isomount(&[OsStr::new("umount"), mnt.as_os_str()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_usable_again(&mnt);
}

#[test]
fn after_kill_9_isomount_umount_detaches_a_dead_mount_still_in_use() {
    if !fuse_available() {
        return;
    }
    let (_dir, mnt, pid, _cleanup) = background_mount();
    // The kernel now caches the root's attributes: stat of the mount point
    // keeps succeeding after the server dies.
    assert_eq!(
        fs::read_to_string(mnt.join("hello.txt")).unwrap(),
        "Hello from isomount\n"
    );
    // A process working inside the mount keeps it busy, before and after
    // the server dies.
    let mut user = Command::new("sleep")
        .arg("120")
        .current_dir(mnt.join("nested"))
        .spawn()
        .unwrap();
    kill_server(pid, &mnt);
    let out = isomount(&[OsStr::new("umount"), mnt.as_os_str()]);
    let msg = String::from_utf8_lossy(&out.stderr);
    let _ = user.kill();
    let _ = user.wait();
    assert!(out.status.success(), "{msg}");
    assert!(
        msg.contains("detached it lazily"),
        "says what it did: {msg}"
    );
    assert_usable_again(&mnt);
}

#[test]
fn a_busy_live_mount_is_still_refused_not_detached() {
    if !fuse_available() {
        return;
    }
    let (_dir, mnt, pid, _cleanup) = background_mount();
    let mut user = Command::new("sleep")
        .arg("120")
        .current_dir(&mnt)
        .spawn()
        .unwrap();
    let out = isomount(&[OsStr::new("umount"), mnt.as_os_str()]);
    let _ = user.kill();
    let _ = user.wait();
    assert_eq!(out.status.code(), Some(1));
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(msg.contains("busy") && !msg.contains("lazily"), "{msg}");
    assert!(is_mounted(&mnt), "a live mount must not be detached");
    assert_eq!(
        fs::read_to_string(mnt.join("hello.txt")).unwrap(),
        "Hello from isomount\n"
    );
    assert!(
        Path::new(&format!("/proc/{pid}")).exists(),
        "the server still runs"
    );
    // Once nothing uses it, it unmounts and the server exits.
    let t = Instant::now();
    loop {
        let out = isomount(&[OsStr::new("umount"), mnt.as_os_str()]);
        if out.status.success() {
            break;
        }
        // Another test's child may hold a copy of our fds for a moment.
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    wait_unmounted(&mnt, "umount");
}

// ---------------------------------------------------------------- stress

/// The stress tree: 4,600 files (1,200 in one wide directory, one at each
/// level of a 24-deep chain, 5 of 4-8 MiB, the rest spread over 132
/// directories two levels deep); sizes 0-4 KiB (45 %), 4-64 KiB (35 %),
/// 64-300 KiB (20 %), a tenth of them rounded to whole sectors. About
/// 4,750 nodes: more than the smallest node budget (4,096), so nodes are
/// evicted and read again too. About 250 MB in all.
const STRESS_FILES: usize = 4600;
/// Bytes the files' contents are cut from (each file starts at its own
/// random place in it, and its first 8 bytes are its index).
const POOL: usize = 8 << 20;

struct StressFile {
    path: String,
    size: usize,
    start: usize,
    index: u64,
    sha: String,
}

impl StressFile {
    fn content(&self, pool: &[u8]) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.size);
        let mut at = self.start;
        while v.len() < self.size {
            let n = (self.size - v.len()).min(POOL - at);
            v.extend_from_slice(&pool[at..at + n]);
            at = 0;
        }
        let tag = self.index.to_le_bytes();
        let k = self.size.min(8);
        v[..k].copy_from_slice(&tag[..k]);
        v
    }
}

struct Stress {
    image: PathBuf,
    files: Vec<StressFile>,
    by_path: BTreeMap<String, usize>,
    pool: Vec<u8>,
}

/// splitmix64: a seeded generator for the tree and the readers.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i as u64 + 1) as usize);
        }
    }
}

/// The heavy tests take turns: their timings and the server's memory
/// figure mean something, and two of them would crowd a 2-core runner.
static HEAVY: Mutex<()> = Mutex::new(());

/// Builds the stress image once per test binary (xorriso, Rock Ridge);
/// the tree is removed once the image is made.
fn stress() -> &'static Stress {
    static S: OnceLock<Stress> = OnceLock::new();
    S.get_or_init(|| {
        use sha2::Sha256;
        let t0 = Instant::now();
        let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("faults-stress");
        let _ = fs::remove_dir_all(&base);
        let tree = base.join("tree");
        fs::create_dir_all(&tree).unwrap();
        let mut pool = Vec::with_capacity(POOL);
        let mut i = 0u64;
        while pool.len() < POOL {
            pool.extend_from_slice(&Sha256::digest([&b"stress"[..], &i.to_le_bytes()].concat()));
            i += 1;
        }
        pool.truncate(POOL);
        let mut rng = Rng(0x1507_2026);
        let mut dirs: Vec<String> = Vec::new();
        for t in 0..12 {
            dirs.push(format!("t{t:02}"));
            for s in 0..10 {
                dirs.push(format!("t{t:02}/s{s}"));
            }
        }
        let mut deep = String::from("deep");
        let mut deep_dirs = Vec::new();
        for l in 1..=24 {
            deep = format!("{deep}/l{l:02}");
            deep_dirs.push(deep.clone());
        }
        let mut paths = Vec::new();
        for i in 0..1200 {
            paths.push(format!("wide/w{i:04}.bin"));
        }
        for (l, d) in deep_dirs.iter().enumerate() {
            paths.push(format!("{d}/f{l}.bin"));
        }
        for b in 0..5 {
            paths.push(format!("big/b{b}.bin"));
        }
        let mut k = 0;
        while paths.len() < STRESS_FILES {
            paths.push(format!("{}/f{k:04}.dat", dirs[k % dirs.len()]));
            k += 1;
        }
        let mut files = Vec::new();
        for (index, path) in paths.into_iter().enumerate() {
            let mut size = if path.starts_with("big/") {
                (4 << 20) + rng.below(4 << 20) as usize
            } else {
                match rng.below(100) {
                    0..45 => rng.below(4096) as usize,
                    45..80 => 4096 + rng.below(60 << 10) as usize,
                    _ => (64 << 10) + rng.below(236 << 10) as usize,
                }
            };
            if rng.below(10) == 0 {
                size = size / 2048 * 2048;
            }
            let f = StressFile {
                path,
                size,
                start: rng.below(POOL as u64) as usize,
                index: index as u64,
                sha: String::new(),
            };
            let data = f.content(&pool);
            let full = tree.join(&f.path);
            fs::create_dir_all(full.parent().unwrap()).unwrap();
            fs::write(&full, &data).unwrap();
            files.push(StressFile {
                sha: sha256_hex(&data),
                ..f
            });
        }
        let image = base.join("stress.iso");
        let out = Command::new("xorriso")
            .args([
                "-as",
                "mkisofs",
                "-quiet",
                "-R",
                "-rr_reloc_dir",
                "rr_moved",
                "-o",
            ])
            .arg(&image)
            .arg(&tree)
            .output()
            .expect("run xorriso");
        assert!(
            out.status.success(),
            "xorriso: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        fs::remove_dir_all(&tree).unwrap();
        let total: usize = files.iter().map(|f| f.size).sum();
        eprintln!(
            "stress fixture: {} files, {} bytes of content, image {} bytes, built in {:.1} s",
            files.len(),
            total,
            fs::metadata(&image).unwrap().len(),
            t0.elapsed().as_secs_f64()
        );
        let by_path = files
            .iter()
            .enumerate()
            .map(|(i, f)| (f.path.clone(), i))
            .collect();
        Stress {
            image,
            files,
            by_path,
            pool,
        }
    })
}

/// What each of the 8 readers does differently.
#[derive(Debug, Clone, Copy)]
enum Reader {
    /// Walks the directories and reads what it finds, in `n`-byte reads.
    Walk(usize),
    /// Reads every file in its own order in `n`-byte reads.
    Sequential(usize),
    /// The same, dropping the file's cached pages first (FUSE: the reads
    /// reach the server instead of the kernel's page cache).
    Uncached(usize),
    /// 8 reads at random offsets of each file, compared byte for byte.
    Random,
}

const READERS: [Reader; 8] = [
    Reader::Walk(65_536),
    Reader::Sequential(4096),
    Reader::Sequential(65_537),
    Reader::Sequential(1 << 20),
    Reader::Uncached(131_072),
    Reader::Uncached(13_000),
    Reader::Random,
    Reader::Random,
];

/// Runs the 8 readers on threads; each checks every file. `read` reads
/// `buf.len()` bytes at an offset of a path (fewer only at the end),
/// `whole` hashes a file in `n`-byte reads, `walk` lists every file.
/// Returns the failures.
fn run_readers<A: Sync>(
    s: &Stress,
    access: &A,
    whole: impl Fn(&A, &str, usize, bool) -> io::Result<String> + Sync,
    read: impl Fn(&A, &str, u64, &mut [u8], bool) -> io::Result<usize> + Sync,
    walk: impl Fn(&A) -> io::Result<Vec<String>> + Sync,
) -> Vec<String> {
    let errors = Mutex::new(Vec::new());
    let fail = |m: String| {
        let mut e = errors.lock().unwrap();
        if e.len() < 1000 {
            e.push(m);
        }
    };
    std::thread::scope(|scope| {
        for (t, reader) in READERS.iter().enumerate() {
            let (fail, whole, read, walk) = (&fail, &whole, &read, &walk);
            scope.spawn(move || {
                let mut rng = Rng(t as u64 * 7919 + 1);
                let mut order: Vec<usize> = (0..s.files.len()).collect();
                rng.shuffle(&mut order);
                if let Reader::Walk(n) = *reader {
                    let paths = match walk(access) {
                        Ok(p) => p,
                        Err(e) => return fail(format!("reader {t}: walk: {e}")),
                    };
                    let mut got: Vec<&str> = paths.iter().map(String::as_str).collect();
                    got.sort_unstable();
                    let want: Vec<&str> = s.by_path.keys().map(String::as_str).collect();
                    if got != want {
                        fail(format!(
                            "reader {t}: the walk found {} files, not {}",
                            got.len(),
                            want.len()
                        ));
                    }
                    order = paths
                        .iter()
                        .filter_map(|p| s.by_path.get(p).copied())
                        .collect();
                    for i in order {
                        let f = &s.files[i];
                        match whole(access, &f.path, n, false) {
                            Ok(h) if h == f.sha => {}
                            Ok(_) => fail(format!("reader {t}: {}: wrong bytes", f.path)),
                            Err(e) => fail(format!("reader {t}: {}: {e}", f.path)),
                        }
                    }
                    return;
                }
                for i in order {
                    let f = &s.files[i];
                    match *reader {
                        Reader::Sequential(n) | Reader::Uncached(n) => {
                            let uncached = matches!(reader, Reader::Uncached(_));
                            match whole(access, &f.path, n, uncached) {
                                Ok(h) if h == f.sha => {}
                                Ok(_) => fail(format!("reader {t}: {}: wrong bytes", f.path)),
                                Err(e) => fail(format!("reader {t}: {}: {e}", f.path)),
                            }
                        }
                        Reader::Random => {
                            let data = f.content(&s.pool);
                            for k in 0..8 {
                                let off = rng.below(f.size as u64 + 1) as usize;
                                let len = 1 + rng.below(200_000) as usize;
                                let mut buf = vec![0u8; len];
                                let want = &data[off..(off + len).min(f.size)];
                                match read(access, &f.path, off as u64, &mut buf, k == 0) {
                                    Ok(n) if buf[..n] == *want => {}
                                    Ok(n) => fail(format!(
                                        "reader {t}: {}: {n} bytes at {off} (asked {len}) differ",
                                        f.path
                                    )),
                                    Err(e) => fail(format!("reader {t}: {}@{off}: {e}", f.path)),
                                }
                            }
                        }
                        Reader::Walk(_) => unreachable!(),
                    }
                }
            });
        }
    });
    errors.into_inner().unwrap()
}

fn assert_no_failures(what: &str, errors: &[String]) {
    assert!(
        errors.is_empty(),
        "{what}: {} failures, first ones:\n{}",
        errors.len(),
        errors
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn eight_threads_read_every_file_of_a_large_image_through_one_volume_with_a_tiny_cache() {
    let s = stress();
    let _turn = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    // cache_bytes 0: the cache's floor, one 32 KiB block per shard (512 KiB),
    // and the smallest node budget (4,096 nodes).
    let opts = OpenOptions {
        cache_bytes: 0,
        boot_dir: false,
        ..OpenOptions::default()
    };
    let vol = Volume::open_path(&s.image, &opts).unwrap();
    let _dog = Watchdog::new("library stress", Duration::from_secs(600), || {});
    let t0 = Instant::now();
    let io = |e: Error| io::Error::other(e.to_string());
    let errors = run_readers(
        s,
        &vol,
        |vol, path, n, _| {
            let node = vol.resolve(path, false).map_err(io)?;
            let mut h = sha2::Sha256::new();
            let mut buf = vec![0u8; n];
            let mut off = 0u64;
            loop {
                let got = vol.read_node(&node, off, &mut buf).map_err(io)?;
                if got == 0 {
                    break;
                }
                sha2::Digest::update(&mut h, &buf[..got]);
                off += got as u64;
            }
            Ok(sha2::Digest::finalize(h)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect())
        },
        |vol, path, off, buf, _| {
            let node = vol.resolve(path, false).map_err(io)?;
            let mut done = 0;
            while done < buf.len() {
                let n = vol
                    .read_node(&node, off + done as u64, &mut buf[done..])
                    .map_err(io)?;
                if n == 0 {
                    break;
                }
                done += n;
            }
            Ok(done)
        },
        |vol| {
            let mut out = Vec::new();
            let mut stack = vec![(vol.root(), String::new())];
            while let Some((d, prefix)) = stack.pop() {
                for e in vol.read_dir(d).map_err(io)?.entries() {
                    let p = format!("{prefix}{}", e.name);
                    match e.kind {
                        FileType::Directory => stack.push((e.id, format!("{p}/"))),
                        _ => out.push(p),
                    }
                }
            }
            Ok(out)
        },
    );
    let stats = vol.cache_stats();
    eprintln!(
        "library stress: {:.1} s; cache {} hits, {} misses, {} of {} bytes; {} nodes in memory",
        t0.elapsed().as_secs_f64(),
        stats.hits,
        stats.misses,
        stats.blocks * stats.block_size,
        stats.capacity,
        vol.nodes_in_memory()
    );
    assert_no_failures("library stress", &errors);
    assert!(stats.blocks * stats.block_size <= stats.capacity);
    assert!(
        stats.misses > 1000,
        "the tiny cache was not under pressure: {stats:?}"
    );
    // The budget, plus what eviction keeps: the entries of the directory
    // just listed (the widest has 1,200) and nodes in use by the readers.
    assert!(
        vol.nodes_in_memory() <= fs_core::volume::node_budget(0) + 1200 + 2 * READERS.len(),
        "{} nodes in memory",
        vol.nodes_in_memory()
    );
}

/// `VmHWM` (peak resident set) of process `pid`, in KiB.
fn vm_hwm_kib(pid: u32) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/PID/status")
}

/// Drops the kernel's cached pages of an open file (on a FUSE mount, the
/// next reads go to the server).
fn drop_cached_pages(f: &fs::File) {
    use std::os::fd::AsRawFd;
    // SAFETY: posix_fadvise on an open fd has no memory-safety preconditions.
    unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
}

/// Peak memory the server may reach, in KiB, whatever the image size:
/// the cache floor (512 KiB), at most ~4,100 nodes of ~300 bytes
/// (~1.2 MiB), a 1 MiB read buffer per FUSE thread (4 by default) and the
/// pages of fuser's request buffers that requests touch, on top of the
/// program itself (about 10 MiB resident: a debug build, its libraries and
/// one malloc arena). 64 MiB leaves room for allocator slack; it is a
/// quarter of the image, and the readers move ~2 GB through the mount, so
/// a cache or node table that grew with what was read would go past it.
const SERVER_HWM_LIMIT_KIB: u64 = 64 << 10;

#[test]
fn eight_readers_over_a_fuse_mount_with_a_tiny_cache_get_every_byte_in_bounded_memory() {
    if !fuse_available() {
        return;
    }
    let s = stress();
    let _turn = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    // --cache-size 0: the smallest there is (the cache keeps one 32 KiB
    // block per shard, 512 KiB, and 4,096 nodes whatever is asked).
    let (_dir, mnt, mut cleanup) =
        foreground_mount(&s.image, &["--cache-size", "0"], Stdio::inherit());
    let server = cleanup.server();
    let pid = server.id();
    let dog = server_watchdog("FUSE stress", Duration::from_secs(900), pid, &mnt);
    let t0 = Instant::now();
    let root = mnt.clone();
    let errors = run_readers(
        s,
        &root,
        |root, path, n, uncached| {
            let mut f = fs::File::open(root.join(path))?;
            if uncached {
                drop_cached_pages(&f);
            }
            let mut h = sha2::Sha256::new();
            let mut buf = vec![0u8; n];
            loop {
                let got = f.read(&mut buf)?;
                if got == 0 {
                    break;
                }
                h.update(&buf[..got]);
            }
            Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
        },
        |root, path, off, buf, first| {
            let f = fs::File::open(root.join(path))?;
            if first {
                drop_cached_pages(&f);
            }
            let mut done = 0;
            while done < buf.len() {
                let n = f.read_at(&mut buf[done..], off + done as u64)?;
                if n == 0 {
                    break;
                }
                done += n;
            }
            Ok(done)
        },
        |root| {
            let mut out = Vec::new();
            let mut stack = vec![root.clone()];
            while let Some(d) = stack.pop() {
                for e in fs::read_dir(&d)? {
                    let e = e?;
                    if e.file_type()?.is_dir() {
                        stack.push(e.path());
                    } else {
                        let p = e.path();
                        out.push(p.strip_prefix(root).unwrap().to_string_lossy().into_owned());
                    }
                }
            }
            Ok(out)
        },
    );
    let took = t0.elapsed();
    drop(dog);
    let hwm = vm_hwm_kib(pid);
    let image_mib = fs::metadata(&s.image).unwrap().len() >> 20;
    eprintln!(
        "FUSE stress: 8 readers in {:.1} s; server VmHWM {hwm} KiB ({:.1} MiB; limit {} MiB, image {image_mib} MiB)",
        took.as_secs_f64(),
        hwm as f64 / 1024.0,
        SERVER_HWM_LIMIT_KIB >> 10
    );
    // The mount is still up and answering; then it unmounts cleanly.
    assert!(server.try_wait().unwrap().is_none(), "the server died");
    assert!(is_mounted(&mnt));
    let out = isomount(&[OsStr::new("umount"), mnt.as_os_str()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let st = server.wait().unwrap();
    assert!(st.success(), "server exit: {st}");
    assert_no_failures("FUSE stress", &errors);
    assert!(
        hwm < SERVER_HWM_LIMIT_KIB,
        "server peak RSS {hwm} KiB is over {SERVER_HWM_LIMIT_KIB} KiB"
    );
}

// ------------------------------------------------ a signal mid-read

#[test]
fn sigterm_during_reads_keeps_serving_an_open_file_and_a_second_one_ends_the_mount() {
    if !fuse_available() {
        return;
    }
    let s = stress();
    let big = s.files.iter().find(|f| f.path.starts_with("big/")).unwrap();
    let (_dir, mnt, mut cleanup) = foreground_mount(&s.image, &[], Stdio::piped());
    let server = cleanup.server();
    let pid = server.id();
    // The server's log lines, as they come (the pipe holds the few written
    // while mounting).
    let (log_tx, log_rx) = mpsc::channel::<String>();
    let stderr = server.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in io::BufRead::lines(io::BufReader::new(stderr)).map_while(Result::ok) {
            let _ = log_tx.send(line);
        }
    });
    let _dog = server_watchdog("SIGTERM mid-read", Duration::from_secs(300), pid, &mnt);
    let signal = |sig: &str| {
        let st = Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .unwrap();
        assert!(st.success());
    };
    // A reader keeps one file open and reads it again and again, with its
    // cached pages dropped each time so that reads are in flight in the
    // server when the signal comes.
    let stop = AtomicBool::new(false);
    let passes = AtomicU64::new(0);
    let (first_pass_tx, first_pass_rx) = mpsc::channel();
    std::thread::scope(|scope| {
        let reader = scope.spawn(|| -> Result<(), String> {
            let mut f = fs::File::open(mnt.join(&big.path)).map_err(|e| e.to_string())?;
            let mut buf = vec![0u8; 128 << 10];
            while !stop.load(Ordering::SeqCst) {
                drop_cached_pages(&f);
                io::Seek::rewind(&mut f).map_err(|e| e.to_string())?;
                let mut h = sha2::Sha256::new();
                loop {
                    let n = f
                        .read(&mut buf)
                        .map_err(|e| format!("pass {passes:?}: {e}"))?;
                    if n == 0 {
                        break;
                    }
                    h.update(&buf[..n]);
                }
                let got: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
                if got != big.sha {
                    return Err(format!("pass {passes:?}: wrong bytes"));
                }
                passes.fetch_add(1, Ordering::SeqCst);
                let _ = first_pass_tx.send(());
            }
            Ok(())
        });
        first_pass_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("a first pass");
        signal("-TERM");
        // The file is open: the server says the mount is busy and serves on.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = log_rx
                .recv_timeout(left)
                .expect("the server's busy warning");
            if line.contains("still serving") {
                assert!(line.contains("busy"), "{line}");
                break;
            }
        }
        let after = passes.load(Ordering::SeqCst);
        while passes.load(Ordering::SeqCst) < after + 2 && !reader.is_finished() {
            std::thread::sleep(Duration::from_millis(10));
        }
        stop.store(true, Ordering::SeqCst);
        let res = reader.join().unwrap();
        assert_eq!(res, Ok(()), "the reader across the signal");
    });
    assert!(
        server.try_wait().unwrap().is_none(),
        "the server ended while busy"
    );
    assert!(is_mounted(&mnt));
    // Nothing open now: the second signal ends it.
    signal("-TERM");
    let t = Instant::now();
    let status = loop {
        if let Some(st) = server.try_wait().unwrap() {
            break st;
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "the server did not exit"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let rest: Vec<String> = log_rx.try_iter().collect();
    assert!(status.success(), "server exit {status}: {rest:?}");
    wait_unmounted(&mnt, "second SIGTERM");
}
