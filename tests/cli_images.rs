//! The `isomount` binary against real images built at test time:
//! `xorriso -as mkisofs -R -J --hardlinks` (Rock Ridge + Joliet) and
//! `genisoimage -J` (Joliet only), from trees made here, so every expected
//! value comes from the source tree.
#![cfg(unix)] // builds trees with symlinks, FIFOs and device nodes, or mounts with FUSE

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use sha2::{Digest, Sha256};
use tempfile::TempDir;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// 2040-02-29T12:00:01Z: past 2038, must not wrap.
const T2040: i64 = 2_214_129_601;
/// 1960-01-01T00:00:00Z: before the epoch.
const T1960: i64 = -315_619_200;

fn isomount(args: &[&str]) -> Output {
    match Command::new(env!("CARGO_BIN_EXE_isomount"))
        .args(args)
        .output()
    {
        Ok(o) => o,
        Err(e) => panic!("cannot run isomount: {e}"),
    }
}

/// Runs isomount and insists on exit 0.
fn ok(args: &[&str]) -> Vec<u8> {
    let o = isomount(args);
    assert_eq!(
        o.status.code(),
        Some(0),
        "isomount {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o.stdout
}

fn text(b: Vec<u8>) -> String {
    String::from_utf8_lossy(&b).into_owned()
}

fn json_lines(b: Vec<u8>) -> Vec<Value> {
    text(b)
        .lines()
        .map(|l| match serde_json::from_str(l) {
            Ok(v) => v,
            Err(e) => panic!("not JSON ({e}): {l}"),
        })
        .collect()
}

/// Sets atime and mtime of `p` itself (not following a symlink).
fn set_mtime(p: &Path, secs: i64) {
    let c = CString::new(p.as_os_str().as_bytes()).unwrap_or_default();
    let t = libc::timespec {
        tv_sec: secs as libc::time_t,
        tv_nsec: 0,
    };
    let times = [t, t];
    // SAFETY: valid C string and two timespecs, alive for the call.
    let r = unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c.as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    assert_eq!(r, 0, "utimensat {}", p.display());
}

fn write(root: &Path, rel: &str, data: &[u8], mode: u32, mtime: i64) {
    let p = root.join(rel);
    if let Err(e) = fs::write(&p, data) {
        panic!("{}: {e}", p.display());
    }
    if let Err(e) = fs::set_permissions(&p, fs::Permissions::from_mode(mode)) {
        panic!("{}: {e}", p.display());
    }
    set_mtime(&p, mtime);
}

fn mkdir(root: &Path, rel: &str) {
    if let Err(e) = fs::create_dir_all(root.join(rel)) {
        panic!("{rel}: {e}");
    }
}

fn symlink(root: &Path, target: &str, rel: &str, mtime: i64) {
    if let Err(e) = std::os::unix::fs::symlink(target, root.join(rel)) {
        panic!("{rel}: {e}");
    }
    set_mtime(&root.join(rel), mtime);
}

fn dir_attrs(root: &Path, rel: &str, mode: u32, mtime: i64) {
    let p = root.join(rel);
    if let Err(e) = fs::set_permissions(&p, fs::Permissions::from_mode(mode)) {
        panic!("{}: {e}", p.display());
    }
    set_mtime(&p, mtime);
}

fn big_content() -> Vec<u8> {
    // More than three 1 MiB read chunks, not a multiple of 2048.
    let mut x: u32 = 12345;
    (0..(3 << 20) + 123)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (x >> 16) as u8
        })
        .collect()
}

/// The Rock Ridge source tree: every kind of node RR can carry.
fn rr_tree(root: &Path) {
    mkdir(root, "sub/deeper");
    mkdir(root, "ro");
    mkdir(root, "sticky");
    write(root, "hello.txt", b"hello world\n", 0o644, 1_600_000_000);
    write(root, "big.bin", &big_content(), 0o600, T2040);
    write(
        root,
        "run.sh",
        b"#!/bin/sh\necho hi\n",
        0o755,
        1_600_001_000,
    );
    write(root, "suid", b"s", 0o4755, 1_600_002_000);
    write(root, "empty", b"", 0o644, 1_600_003_000);
    write(root, "héllo wörld.txt", b"unicode\n", 0o644, 1_600_004_000);
    write(root, "old.txt", b"old\n", 0o644, T1960);
    write(root, "sub/nested.txt", b"nested\n", 0o640, 1_600_005_000);
    write(root, "sub/deeper/leaf.txt", b"leaf\n", 0o600, 1_600_006_000);
    write(root, "hard1", b"hard link content\n", 0o640, 1_600_007_000);
    if let Err(e) = fs::hard_link(root.join("hard1"), root.join("sub/hard2")) {
        panic!("hard link: {e}");
    }
    write(root, "ro/inside.txt", b"inside\n", 0o444, 1_600_008_000);
    symlink(root, "hello.txt", "link", 1_600_009_000);
    symlink(root, "sub", "dirlink", 1_600_010_000);
    symlink(root, "/sub/nested.txt", "abslink", 1_600_011_000);
    symlink(root, "nowhere/file", "dangling", T1960);
    let fifo = CString::new(root.join("fifo").as_os_str().as_bytes()).unwrap_or_default();
    // SAFETY: valid C string.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    fs::set_permissions(root.join("fifo"), fs::Permissions::from_mode(0o644))
        .unwrap_or_else(|e| panic!("fifo: {e}"));
    set_mtime(&root.join("fifo"), 1_600_012_000);
    // Directories last: filling them changed their mtimes.
    dir_attrs(root, "sub/deeper", 0o755, 1_600_013_000);
    dir_attrs(root, "sub", 0o750, 1_600_014_000);
    dir_attrs(root, "sticky", 0o1777, 1_600_015_000);
    dir_attrs(root, "ro", 0o555, 1_600_016_000);
}

/// A tree genisoimage -J can hold without Rock Ridge: files and dirs only.
fn joliet_tree(root: &Path) {
    mkdir(root, "docs/more");
    write(root, "readme.txt", b"read me\n", 0o644, 1_600_000_000);
    write(root, "big.bin", &big_content(), 0o644, 1_600_100_000);
    write(
        root,
        "Mixed Case Name.TXT",
        b"mixed\n",
        0o644,
        1_600_200_000,
    );
    write(root, "ünïcødé.txt", b"unicode\n", 0o644, 1_600_300_000);
    write(
        root,
        "a fairly long name that is still under sixty-four chars.txt",
        b"long\n",
        0o644,
        1_600_400_000,
    );
    write(root, "docs/a.txt", b"a\n", 0o644, 1_600_500_000);
    write(root, "docs/more/b.txt", b"b\n", 0o644, 1_600_600_000);
}

struct Fixture {
    _tmp: TempDir,
    src: PathBuf,
    iso: PathBuf,
    work: PathBuf,
}

impl Fixture {
    fn iso(&self) -> String {
        self.iso.to_string_lossy().into_owned()
    }
}

fn run_tool(cmd: &mut Command) {
    match cmd.output() {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!("{cmd:?} failed: {}", String::from_utf8_lossy(&o.stderr)),
        Err(e) => panic!("cannot run {cmd:?} (is it installed?): {e}"),
    }
}

/// rr.iso: `xorriso -as mkisofs -R -J --hardlinks`.
fn rr_fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let src = tmp.path().join("src");
    let work = tmp.path().join("work");
    mkdir(tmp.path(), "src");
    mkdir(tmp.path(), "work");
    rr_tree(&src);
    let iso = tmp.path().join("rr.iso");
    run_tool(
        Command::new("xorriso")
            .args([
                "-as",
                "mkisofs",
                "-R",
                "-J",
                "--hardlinks",
                "-V",
                "TESTVOL",
                "-o",
            ])
            .arg(&iso)
            .arg(&src),
    );
    Fixture {
        _tmp: tmp,
        src,
        iso,
        work,
    }
}

/// joliet.iso: `genisoimage -J`.
fn joliet_fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let src = tmp.path().join("src");
    let work = tmp.path().join("work");
    mkdir(tmp.path(), "src");
    mkdir(tmp.path(), "work");
    joliet_tree(&src);
    let iso = tmp.path().join("joliet.iso");
    run_tool(
        Command::new("genisoimage")
            .args(["-J", "-quiet", "-V", "JOLIETVOL", "-o"])
            .arg(&iso)
            .arg(&src),
    );
    Fixture {
        _tmp: tmp,
        src,
        iso,
        work,
    }
}

/// Every node below `root` by "/"-rooted path, with its lstat metadata.
fn walk(root: &Path) -> BTreeMap<String, fs::Metadata> {
    let mut out = BTreeMap::new();
    let mut stack = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, rel)) = stack.pop() {
        let rd = fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let path = format!("{rel}/{name}");
            let m = fs::symlink_metadata(e.path()).unwrap_or_else(|e| panic!("{path}: {e}"));
            if m.is_dir() {
                stack.push((e.path(), path.clone()));
            }
            out.insert(path, m);
        }
    }
    out
}

fn kind(m: &fs::Metadata) -> &'static str {
    let t = m.file_type();
    if t.is_dir() {
        "dir"
    } else if t.is_symlink() {
        "symlink"
    } else if t.is_fifo() {
        "fifo"
    } else if t.is_char_device() {
        "chardev"
    } else if t.is_block_device() {
        "blockdev"
    } else if t.is_socket() {
        "socket"
    } else {
        "file"
    }
}

fn by_path(rows: Vec<Value>) -> BTreeMap<String, Value> {
    rows.into_iter()
        .map(|r| (r["path"].as_str().unwrap_or("").to_string(), r))
        .collect()
}

const KEYS: [&str; 15] = [
    "atime",
    "crtime",
    "ctime",
    "gid",
    "hidden",
    "inode",
    "mode",
    "mtime",
    "mtime_nsec",
    "name",
    "nlink",
    "path",
    "size",
    "type",
    "uid",
];

#[test]
fn rr_ls_json_matches_the_tree() -> TestResult {
    let f = rr_fixture();
    let rows = json_lines(ok(&["ls", &f.iso(), "-R", "--json"]));
    // Keys come out in alphabetical order, exactly the contract's set.
    for r in &rows {
        let line = serde_json::to_string(r)?;
        let obj = r.as_object().ok_or("not an object")?;
        let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        let mut want: Vec<&str> = KEYS.to_vec();
        match r["type"].as_str() {
            Some("symlink") => want.push("target"),
            Some("chardev" | "blockdev") => want.push("rdev"),
            _ => {}
        }
        want.sort_unstable();
        assert_eq!(keys, want, "{line}");
    }
    let got = by_path(rows);
    let tree = walk(&f.src);
    assert_eq!(
        got.keys().collect::<BTreeSet<_>>(),
        tree.keys().collect::<BTreeSet<_>>()
    );
    for (path, m) in &tree {
        let r = &got[path];
        let name = path.rsplit('/').next().unwrap_or("");
        assert_eq!(r["name"], name, "{path}");
        assert_eq!(r["type"], kind(m), "{path}");
        assert_eq!(r["mode"], m.mode() & 0o7777, "{path}");
        assert_eq!(r["uid"], m.uid(), "{path}");
        assert_eq!(r["gid"], m.gid(), "{path}");
        assert_eq!(r["mtime"], m.mtime(), "{path}");
        assert_eq!(r["mtime_nsec"], 0, "{path}");
        assert_eq!(r["hidden"], false, "{path}");
        match kind(m) {
            "file" => {
                assert_eq!(r["size"], m.len(), "{path}");
                assert_eq!(r["nlink"], m.nlink(), "{path}");
            }
            "symlink" => {
                let target = fs::read_link(f.src.join(&path[1..]))?;
                assert_eq!(r["target"], target.to_string_lossy().as_ref(), "{path}");
                assert_eq!(r["size"], target.as_os_str().len(), "{path}");
            }
            _ => {}
        }
    }
    // Hard links share one inode; other files do not.
    assert_eq!(got["/hard1"]["inode"], got["/sub/hard2"]["inode"]);
    assert_eq!(got["/hard1"]["nlink"], 2);
    assert_ne!(got["/hard1"]["inode"], got["/hello.txt"]["inode"]);
    let inodes: BTreeSet<String> = got.values().map(|r| r["inode"].to_string()).collect();
    assert_eq!(
        inodes.len(),
        got.len() - 1,
        "inodes must be unique but for hard links"
    );
    Ok(())
}

#[test]
fn rr_ls_plain_long_recursive_shapes() -> TestResult {
    let f = rr_fixture();
    let iso = f.iso();
    // Plain: names of the root, sorted, one a line.
    let plain = text(ok(&["ls", &iso]));
    let mut want: Vec<String> = fs::read_dir(&f.src)?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    want.sort();
    assert_eq!(plain.lines().collect::<Vec<_>>(), want);
    // A file path lists the file.
    assert_eq!(text(ok(&["ls", &iso, "/sub/nested.txt"])), "nested.txt\n");
    assert_eq!(
        text(ok(&["ls", &iso, "sub"])),
        "deeper\nhard2\nnested.txt\n"
    );

    let long = text(ok(&["ls", &iso, "-l", "/"]));
    let line = |name: &str| -> Vec<String> {
        long.lines()
            .find(|l| l.ends_with(&format!(" {name}")) || l.contains(&format!(" {name} -> ")))
            .unwrap_or_else(|| panic!("no {name} in\n{long}"))
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    };
    let me = fs::metadata(f.src.join("hello.txt"))?;
    assert_eq!(
        line("hello.txt"),
        [
            "-rw-r--r--".to_string(),
            "1".into(),
            me.uid().to_string(),
            me.gid().to_string(),
            "12".into(),
            "2020-09-13".into(),
            "12:26".into(),
            "hello.txt".into()
        ]
    );
    assert_eq!(line("suid")[0], "-rwsr-xr-x");
    assert_eq!(line("sticky")[0], "drwxrwxrwt");
    assert_eq!(line("ro")[0], "dr-xr-xr-x");
    assert_eq!(line("fifo")[0], "prw-r--r--");
    assert_eq!(line("hard1")[1], "2");
    assert_eq!(line("big.bin")[5], "2040-02-29");
    assert_eq!(line("old.txt")[5], "1960-01-01");
    let l = line("link");
    assert_eq!(l[0], "lrwxrwxrwx");
    assert_eq!(l[l.len() - 3..], ["link", "->", "hello.txt"]);

    // -R: "path:" headers, blank line between directories, depth first.
    let rec = text(ok(&["ls", &iso, "-R"]));
    assert!(rec.starts_with("/:\n"), "{rec}");
    assert!(
        rec.contains("\n\n/sub:\ndeeper\nhard2\nnested.txt\n\n/sub/deeper:\nleaf.txt\n"),
        "{rec}"
    );
    assert!(rec.contains("\n\n/ro:\ninside.txt\n"), "{rec}");
    // -R of a subtree.
    let rec = text(ok(&["ls", &iso, "-R", "/sub"]));
    assert_eq!(
        rec,
        "/sub:\ndeeper\nhard2\nnested.txt\n\n/sub/deeper:\nleaf.txt\n"
    );
    Ok(())
}

#[test]
fn rr_stat_json() -> TestResult {
    let f = rr_fixture();
    let iso = f.iso();
    let v: Value = serde_json::from_slice(&ok(&["stat", &iso, "/link", "--json"]))?;
    assert_eq!(v["type"], "symlink");
    assert_eq!(v["target"], "hello.txt");
    assert_eq!(v["path"], "/link");
    assert_eq!(v["name"], "link");
    assert_eq!(v["mtime"], 1_600_009_000);
    let v: Value = serde_json::from_slice(&ok(&["stat", &iso, "sub/hard2", "--json"]))?;
    assert_eq!(v["type"], "file");
    assert_eq!(v["path"], "/sub/hard2");
    assert_eq!(v["size"], 18);
    assert_eq!(v["nlink"], 2);
    assert_eq!(v["mode"], 0o640);
    let v: Value = serde_json::from_slice(&ok(&["stat", &iso, "/big.bin", "--json"]))?;
    assert_eq!(v["mtime"], T2040);
    let v: Value = serde_json::from_slice(&ok(&["stat", &iso, "/dangling", "--json"]))?;
    assert_eq!(v["mtime"], T1960);
    // Text form mentions the essentials.
    let t = text(ok(&["stat", &iso, "/suid"]));
    assert!(t.contains("/suid"), "{t}");
    assert!(t.contains("4755"), "{t}");
    assert!(t.contains("-rwsr-xr-x"), "{t}");
    Ok(())
}

#[test]
fn rr_cat_bytes() -> TestResult {
    let f = rr_fixture();
    let iso = f.iso();
    let big = ok(&["cat", &iso, "/big.bin"]);
    assert_eq!(big.len(), big_content().len());
    assert_eq!(Sha256::digest(&big), Sha256::digest(big_content()));
    // Symlinks are followed, relative and absolute; several paths concatenate.
    assert_eq!(ok(&["cat", &iso, "/link"]), b"hello world\n");
    assert_eq!(ok(&["cat", &iso, "/abslink"]), b"nested\n");
    assert_eq!(ok(&["cat", &iso, "dirlink/nested.txt"]), b"nested\n");
    assert_eq!(
        ok(&["cat", &iso, "/hello.txt", "/sub/deeper/leaf.txt", "/empty"]),
        b"hello world\nleaf\n"
    );
    assert_eq!(
        ok(&["cat", &iso, "/héllo wörld.txt"]),
        fs::read(f.src.join("héllo wörld.txt"))?
    );
    // A directory, a missing path, a dangling link: exit 1, the rest still out.
    for bad in ["/sub", "/missing.txt", "/dangling", "/hello.txt/x"] {
        let o = isomount(&["cat", &iso, bad, "/hello.txt"]);
        assert_eq!(o.status.code(), Some(1), "{bad}");
        assert_eq!(o.stdout, b"hello world\n", "{bad}");
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(e.starts_with("isomount: "), "{e}");
        assert!(e.contains(bad), "{e}");
    }
    Ok(())
}

/// Compares an extracted tree with its source: kinds, bytes, modes, mtimes,
/// symlink targets, and link counts when `whole` (a subtree may leave a
/// hard link's partner behind).
fn assert_same_tree(src: &Path, out: &Path, whole: bool) {
    let want = walk(src);
    let got = walk(out);
    assert_eq!(
        got.keys().collect::<BTreeSet<_>>(),
        want.keys().collect::<BTreeSet<_>>()
    );
    for (path, m) in &want {
        let g = &got[path];
        let (s, o) = (src.join(&path[1..]), out.join(&path[1..]));
        assert_eq!(kind(g), kind(m), "{path}");
        assert_eq!(g.mtime(), m.mtime(), "{path} mtime");
        match kind(m) {
            "symlink" => assert_eq!(fs::read_link(&o).ok(), fs::read_link(&s).ok(), "{path}"),
            "file" => {
                assert_eq!(g.mode() & 0o7777, m.mode() & 0o7777, "{path} mode");
                assert_eq!(g.len(), m.len(), "{path}");
                assert!(fs::read(&o).ok() == fs::read(&s).ok(), "{path} content");
                if whole {
                    assert_eq!(g.nlink(), m.nlink(), "{path} nlink");
                }
            }
            _ => assert_eq!(g.mode() & 0o7777, m.mode() & 0o7777, "{path} mode"),
        }
    }
}

#[test]
fn rr_extract_round_trip() -> TestResult {
    let f = rr_fixture();
    let out = f.work.join("out/deeper"); // created, parents too
    let o = isomount(&["extract", &f.iso(), "-C", &out.to_string_lossy()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("extracted"), "summary line: {err}");
    assert_same_tree(&f.src, &out, true);
    let ino = |p: &str| fs::metadata(out.join(p)).map(|m| m.ino()).unwrap_or(0);
    assert_eq!(ino("hard1"), ino("sub/hard2"));
    assert_ne!(ino("hard1"), ino("hello.txt"));

    // Again into the same place: existing files are refused (exit 1) ...
    let o = isomount(&["-q", "extract", &f.iso(), "-C", &out.to_string_lossy()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("already exists"));
    // ... and replaced with --overwrite.
    fs::write(out.join("hello.txt"), b"changed")?;
    let o = isomount(&[
        "-q",
        "extract",
        &f.iso(),
        "-C",
        &out.to_string_lossy(),
        "--overwrite",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        o.stderr.is_empty(),
        "-q: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(fs::read(out.join("hello.txt"))?, b"hello world\n");
    // Let the temp dir go away.
    fs::set_permissions(out.join("ro"), fs::Permissions::from_mode(0o755))?;
    Ok(())
}

#[test]
fn rr_extract_subtree_and_file() -> TestResult {
    let f = rr_fixture();
    let out = f.work.join("x");
    ok(&[
        "-q",
        "extract",
        &f.iso(),
        "/sub",
        "-C",
        &out.to_string_lossy(),
    ]);
    assert_same_tree(&f.src.join("sub"), &out.join("sub"), false);
    assert_eq!(fs::read_dir(&out)?.count(), 1);
    ok(&[
        "-q",
        "extract",
        &f.iso(),
        "big.bin",
        "-C",
        &out.to_string_lossy(),
    ]);
    assert_eq!(fs::read(out.join("big.bin"))?, big_content());
    let m = fs::metadata(out.join("big.bin"))?;
    assert_eq!((m.mode() & 0o7777, m.mtime()), (0o600, T2040));
    // A symlink path extracts the link, not what it points at.
    ok(&[
        "-q",
        "extract",
        &f.iso(),
        "/dirlink",
        "-C",
        &out.to_string_lossy(),
    ]);
    assert_eq!(fs::read_link(out.join("dirlink"))?, Path::new("sub"));
    // A missing path: exit 1, clear message.
    let o = isomount(&["extract", &f.iso(), "/nope", "-C", &out.to_string_lossy()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nope: not found"));
    Ok(())
}

#[test]
fn rr_extract_refuses_symlinks_in_the_way() -> TestResult {
    let f = rr_fixture();
    let out = f.work.join("out");
    let victim = f.work.join("victim");
    fs::create_dir_all(&out)?;
    fs::create_dir_all(&victim)?;
    std::os::unix::fs::symlink(&victim, out.join("sub"))?;
    std::os::unix::fs::symlink(victim.join("x"), out.join("hello.txt"))?;
    let o = isomount(&["-q", "extract", &f.iso(), "-C", &out.to_string_lossy()]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(fs::read_dir(&victim)?.count(), 0, "wrote through a symlink");
    fs::set_permissions(out.join("ro"), fs::Permissions::from_mode(0o755))?;
    Ok(())
}

#[test]
fn rr_info_json() -> TestResult {
    let f = rr_fixture();
    let v: Value = serde_json::from_slice(&ok(&["info", &f.iso(), "--json"]))?;
    assert!(!v["format"].as_str().unwrap_or("").is_empty(), "{v}");
    assert_eq!(v["view"], "rockridge");
    let views: Vec<&str> = v["views"]
        .as_array()
        .ok_or("views")?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(views, ["rockridge", "joliet", "iso9660"]);
    assert_eq!(v["label"], "TESTVOL");
    assert_eq!(v["block_size"], 2048);
    let size = fs::metadata(&f.iso)?.len();
    assert_eq!(v["image_size"], size);
    let blocks = v["volume_blocks"].as_u64().ok_or("volume_blocks")?;
    assert!(blocks > 16 && blocks * 2048 <= size, "{v}");
    let created = v["created"].as_str().ok_or("created")?;
    assert!(created.ends_with('Z') && created.len() >= 20, "{created}");
    assert!(v["modified"].is_string(), "{v}");
    assert!(v["ids"].is_object() && v["extra"].is_object(), "{v}");
    assert!(
        v["cache"]["hits"].is_u64() && v["cache"]["misses"].is_u64(),
        "{v}"
    );
    for k in ["expires", "effective"] {
        assert!(v[k].is_null() || v[k].is_string(), "{k}: {v}");
    }
    // Text form and a forced view.
    let t = text(ok(&["info", &f.iso()]));
    assert!(t.contains("TESTVOL") && t.contains("rockridge"), "{t}");
    let v: Value = serde_json::from_slice(&ok(&["--view", "joliet", "info", &f.iso(), "--json"]))?;
    assert_eq!(v["view"], "joliet");
    Ok(())
}

#[test]
fn rr_views_and_missing_paths() -> TestResult {
    let f = rr_fixture();
    let iso = f.iso();
    // The Joliet tree of the same image has the same names (no symlinks
    // or fifos: Joliet cannot hold them, xorriso leaves them out or as files).
    let j = by_path(json_lines(ok(&[
        "--view", "joliet", "ls", &iso, "-R", "--json",
    ])));
    for p in [
        "/hello.txt",
        "/big.bin",
        "/sub/deeper/leaf.txt",
        "/héllo wörld.txt",
    ] {
        assert!(j.contains_key(p), "joliet lacks {p}: {:?}", j.keys());
    }
    assert_eq!(
        ok(&["--view", "joliet", "cat", &iso, "/sub/nested.txt"]),
        b"nested\n"
    );
    // Plain ISO 9660 view lists and reads too.
    let plain = text(ok(&["--view", "iso9660", "ls", &iso, "-R"]));
    assert!(!plain.is_empty());
    // A view the image lacks.
    let o = isomount(&["--view", "udf", "ls", &iso]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("udf"));
    // Missing paths: exit 1, the path named, nothing on stdout.
    for args in [
        &["ls", &*iso, "/no/such"][..],
        &["stat", &*iso, "/nope"],
        &["ls", &*iso, "/hello.txt/below"],
    ] {
        let o = isomount(args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(o.stdout.is_empty(), "{args:?}");
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(e.starts_with("isomount: ") && e.contains(args[2]), "{e}");
    }
    Ok(())
}

#[test]
fn joliet_image_lists_reads_extracts() -> TestResult {
    let f = joliet_fixture();
    let iso = f.iso();
    let v: Value = serde_json::from_slice(&ok(&["info", &iso, "--json"]))?;
    assert_eq!(v["view"], "joliet");
    assert_eq!(v["label"], "JOLIETVOL");
    let got = by_path(json_lines(ok(&["ls", &iso, "-R", "--json"])));
    let tree = walk(&f.src);
    assert_eq!(
        got.keys().collect::<BTreeSet<_>>(),
        tree.keys().collect::<BTreeSet<_>>()
    );
    for (path, m) in &tree {
        let r = &got[path];
        assert_eq!(r["type"], kind(m), "{path}");
        assert_eq!(r["mtime"], m.mtime(), "{path}");
        if m.is_file() {
            assert_eq!(r["size"], m.len(), "{path}");
            let bytes = ok(&["cat", &iso, path]);
            assert!(bytes == fs::read(f.src.join(&path[1..]))?, "{path}");
        }
    }
    let out = f.work.join("j");
    ok(&["-q", "extract", &iso, "-C", &out.to_string_lossy()]);
    let got = walk(&out);
    assert_eq!(
        got.keys().collect::<BTreeSet<_>>(),
        tree.keys().collect::<BTreeSet<_>>()
    );
    for (path, m) in &tree {
        assert_eq!(got[path].mtime(), m.mtime(), "{path}");
        if m.is_file() {
            assert!(fs::read(out.join(&path[1..]))? == fs::read(f.src.join(&path[1..]))?);
        }
    }
    Ok(())
}
