//! Hostile images (issue 7): real images from xorriso and mkudffs +
//! udfclient, each damaged in ONE way by `ci/hostile.py` at a structure it
//! finds by parsing the image. For each case: the library opens, walks and
//! reads everything on a thread with a time limit; the CLI (`ls -R`, `cat`,
//! `extract`) runs under `prlimit --as` and `timeout`; the damage gives a
//! clear error naming the structure or a safe rendering, and everything the
//! damage does not touch matches the tree the tool was fed. `extract` writes
//! nothing outside its target (the whole temporary parent is compared
//! before and after) and makes symlinks as symlinks, never writing through
//! one. UDF damage that tests/udf_corrupt.rs covers is not repeated here.

#![cfg(unix)]

mod common;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{OnceLock, mpsc};
use std::time::Duration;

use common::walk::{Lenient, walk_lenient};
use common::{Listing, load_ref, repo, sha256_hex};
use fs_core::{OpenOptions, Volume};

/// Address space the CLI may use: far below what a 2^60-byte or
/// u32::MAX-length structure would need if it were allocated.
const AS_LIMIT: &str = "--as=4294967296";
/// Wall-clock limit for one CLI run (debug build, loaded CI machine).
const CLI_SECS: &str = "120";

fn images() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("hostile-images");
        let _ = std::fs::remove_dir_all(&dir);
        let out = Command::new("python3")
            .arg(repo().join("ci/hostile.py"))
            .arg(&dir)
            .output()
            .expect("run ci/hostile.py");
        assert!(
            out.status.success(),
            "ci/hostile.py failed (xorriso, mkudffs, udfclient installed? `bash ci/install-deps.sh`):\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    })
}

fn image(case: &str) -> PathBuf {
    let dir = images();
    let iso = dir.join(format!("{case}.iso"));
    if iso.exists() {
        iso
    } else {
        dir.join(format!("{case}.img"))
    }
}

fn reference(case: &str) -> Listing {
    let base = if case.starts_with("udf") {
        "udf"
    } else if case == "deep" {
        "deep"
    } else {
        "base"
    };
    load_ref(&images().join(format!("{base}.ref.jsonl")))
}

// ------------------------------------------------------------- library

/// The lenient walk of the whole tree, 5,000 levels deep at most (the deep
/// case has 2,020). Unlike the damaged-UDF suite, meeting a directory twice
/// fails the test here: every loop in these images must be cut before it
/// is listed.
fn walk(vol: &Volume) -> Lenient {
    let out = walk_lenient(vol, 5000);
    assert!(
        !out.errors.iter().any(|e| e.contains("listed twice")),
        "a cycle was followed: {:?}",
        out.errors
    );
    out
}

/// Opens and walks the case's image on a thread: a panic or more than 30 s
/// fails the test.
fn lib(case: &str) -> Result<Lenient, String> {
    let p = image(case);
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::spawn(move || {
        let r = Volume::open_path(&p, &OpenOptions::default())
            .map(|v| walk(&v))
            .map_err(|e| e.to_string());
        let _ = tx.send(r);
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(r) => {
            handle.join().unwrap();
            r
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{case}: open + walk took over 30 s"),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            let e = handle.join().unwrap_err();
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("{case}: the library panicked: {msg}")
        }
    }
}

/// What the tree fed to the tool says a path should be, in `walk`'s terms.
fn expected(row: &BTreeMap<String, serde_json::Value>) -> String {
    match row["type"].as_str().unwrap() {
        "dir" => "dir".into(),
        "file" => format!("file {}", row["sha256"].as_str().unwrap()),
        "symlink" => format!("symlink {}", row["target"].as_str().unwrap()),
        _ => "other".into(),
    }
}

/// Every path of the tree not under one of `damaged` is there, intact.
fn assert_intact(case: &str, got: &BTreeMap<String, String>, damaged: &[&str]) {
    let mut bad = Vec::new();
    for (path, row) in &reference(case) {
        if damaged
            .iter()
            .any(|d| path == d || path.starts_with(&format!("{d}/")))
        {
            continue;
        }
        let want = expected(row);
        match got.get(path) {
            Some(g) if *g == want => {}
            Some(g) => bad.push(format!("{path}: {g} instead of {want}")),
            None => bad.push(format!("{path}: missing")),
        }
    }
    assert!(
        bad.is_empty(),
        "{case}: undamaged entries wrong ({}):\n  {}",
        bad.len(),
        bad.iter()
            .take(30)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n  ")
    );
}

// ----------------------------------------------------------------- CLI

/// `isomount ARGS` under an address-space limit and a timeout.
fn cli(args: &[&OsStr]) -> Output {
    let out = Command::new("timeout")
        .args(["-s", "KILL", CLI_SECS, "prlimit", AS_LIMIT, "--"])
        .arg(env!("CARGO_BIN_EXE_isomount"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run timeout prlimit isomount");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), None, "killed (timeout?): {err}");
    assert_ne!(
        out.status.code(),
        Some(137),
        "killed after {CLI_SECS} s: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(!err.contains("memory allocation"), "{err}");
    out
}

fn ls_r(case: &str) -> (String, String) {
    let img = image(case);
    let out = cli(&[OsStr::new("ls"), OsStr::new("-R"), img.as_os_str()]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.code() == Some(0) || out.status.code() == Some(1),
        "{err}"
    );
    (String::from_utf8_lossy(&out.stdout).into_owned(), err)
}

fn cat(case: &str, path: &str) -> Output {
    let img = image(case);
    cli(&[OsStr::new("cat"), img.as_os_str(), OsStr::new(path)])
}

/// Every file, directory and link below `root` (not following links):
/// path -> kind, size, content digest or link target, mode, mtime.
fn snapshot(root: &Path, skip: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p == skip {
                continue;
            }
            let m = std::fs::symlink_metadata(&p).unwrap();
            let what = if m.file_type().is_symlink() {
                format!("link {:?}", std::fs::read_link(&p).unwrap())
            } else if m.is_dir() {
                stack.push(p.clone());
                format!("dir {:o} {}", m.mode(), m.mtime())
            } else {
                format!(
                    "file {:o} {} {}",
                    m.mode(),
                    m.mtime(),
                    sha256_hex(&std::fs::read(&p).unwrap())
                )
            };
            out.insert(p, what);
        }
    }
    out
}

/// What `extract` made: path (relative) -> kind as `walk` names it.
fn extracted(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let what = if m.file_type().is_symlink() {
                format!("symlink {}", std::fs::read_link(&p).unwrap().display())
            } else if m.is_dir() {
                stack.push(p.clone());
                "dir".to_string()
            } else if m.is_file() {
                format!("file {}", sha256_hex(&std::fs::read(&p).unwrap()))
            } else {
                "other".to_string()
            };
            out.insert(rel, what);
        }
    }
    out
}

struct Extracted {
    out: PathBuf,
    tree: BTreeMap<String, String>,
    stderr: String,
    code: Option<i32>,
    _tmp: tempfile::TempDir,
}

/// `isomount extract -C T/a/b/c/dppp…/out IMAGE` with decoys around the target
/// (a directory `T/a/b/c/dppp…/outside_dir` that `../../outside_dir` links lead
/// to, files above): the whole of T except `out` must be the same after.
fn extract(case: &str) -> Extracted {
    let tmp = tempfile::tempdir().unwrap();
    // A long last component: the deep case's bottom passes PATH_MAX there.
    let parent = tmp.path().join(format!("a/b/c/d{}", "p".repeat(100)));
    std::fs::create_dir_all(parent.join("outside_dir")).unwrap();
    std::fs::write(tmp.path().join("a/b/decoy.txt"), b"decoy\n").unwrap();
    std::fs::write(parent.join("outside_dir/keep.txt"), b"keep\n").unwrap();
    // Made before the snapshot: its parent's mtime must not change.
    let out = parent.join("out");
    std::fs::create_dir(&out).unwrap();
    let before = snapshot(tmp.path(), &out);
    let passwd = std::fs::read("/etc/passwd").ok();
    let img = image(case);
    let o = cli(&[
        OsStr::new("extract"),
        OsStr::new("--quiet"),
        OsStr::new("--directory"),
        out.as_os_str(),
        img.as_os_str(),
    ]);
    let after = snapshot(tmp.path(), &out);
    assert_eq!(
        before, after,
        "{case}: extract changed something outside its target directory"
    );
    assert_eq!(
        std::fs::read("/etc/passwd").ok(),
        passwd,
        "/etc/passwd changed"
    );
    Extracted {
        tree: extracted(&out),
        out,
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        code: o.status.code(),
        _tmp: tmp,
    }
}

/// Runs `extract` and checks the undamaged part arrived as in the tree.
fn extract_intact(case: &str, damaged: &[&str]) -> Extracted {
    let x = extract(case);
    assert_intact(case, &x.tree, damaged);
    x
}

// --------------------------------------------------------------- cases

fn lib_ok(case: &str) -> Lenient {
    lib(case).unwrap_or_else(|e| panic!("{case}: the volume does not open: {e}"))
}

#[test]
fn the_undamaged_bases_read_exactly_as_their_trees() {
    for case in ["base", "udf"] {
        let got = lib_ok(case);
        assert!(got.errors.is_empty(), "{case}: {:?}", got.errors);
        assert_intact(case, &got.entries, &[]);
        assert_eq!(got.entries.len(), reference(case).len(), "{case}");
    }
}

#[test]
fn a_directory_pointing_at_the_root_or_itself_is_left_out_as_a_loop() {
    for (case, name) in [("dir_to_root", "loop/up"), ("dir_to_self", "loop/self")] {
        let got = lib_ok(case);
        assert!(!got.entries.contains_key(name), "{case}: {name} listed");
        assert!(
            got.mentions(&["directory record", "a loop", "left out"]),
            "{case}: {:?}",
            got.errors
        );
        assert_intact(case, &got.entries, &[name]);
        let (_, err) = ls_r(case);
        assert!(err.contains("(a loop); left out"), "{case}: {err}");
        let x = extract_intact(case, &[name]);
        assert_eq!(x.code, Some(1), "{case}: {}", x.stderr);
        assert!(!x.out.join(name).exists(), "{case}");
    }
}

#[test]
fn continuation_area_loops_and_huge_lengths_drop_only_that_entry() {
    let ce = |i: u32| format!("ce/ce{i}_{}", "L".repeat(248));
    for (case, gone, words) in [
        ("ce_self", vec![ce(1)], "continuation areas form a loop"),
        (
            "ce_cycle",
            vec![ce(2), ce(3)],
            "continuation areas form a loop",
        ),
        (
            "ce_len_max",
            vec![ce(4)],
            "continuation areas exceed 65536 bytes",
        ),
    ] {
        let got = lib_ok(case);
        assert!(
            got.mentions(&["susp continuation area", words]),
            "{case}: {:?}",
            got.errors
        );
        let damaged: Vec<&str> = gone.iter().map(String::as_str).collect();
        assert_intact(case, &got.entries, &damaged);
        // Left out, not shown under some other name.
        assert_eq!(
            got.entries.keys().filter(|k| k.starts_with("ce/")).count(),
            5 - gone.len(),
            "{case}: {:?}",
            got.entries
                .keys()
                .filter(|k| k.starts_with("ce/"))
                .collect::<Vec<_>>()
        );
        let (_, err) = ls_r(case);
        assert!(err.contains(words), "{case}: {err}");
        extract_intact(case, &damaged);
    }
}

#[test]
fn child_links_to_the_root_to_their_parent_or_in_a_cycle_are_loops_left_out() {
    let f = "deep/a/b/c/d/e/f";
    for (case, gone) in [
        ("cl_to_root", format!("{f}/g")),
        ("cl_to_parent", format!("{f}/g")),
        ("cl_cycle", format!("{f}/g/h")),
    ] {
        let got = lib_ok(case);
        assert!(!got.entries.contains_key(&gone), "{case}: {gone} listed");
        assert!(
            got.mentions(&["a loop", "left out"]),
            "{case}: {:?}",
            got.errors
        );
        assert_intact(case, &got.entries, &[&gone]);
        let (_, err) = ls_r(case);
        assert!(err.contains("(a loop); left out"), "{case}: {err}");
        extract_intact(case, &[&gone]);
    }
}

#[test]
fn a_directory_length_past_the_image_is_cut_to_its_dot_record() {
    for (case, dir, file) in [
        ("dir_len_max", "bigdir", "bigdir/x.txt"),
        ("dir_len_past_end", "vastdir", "vastdir/y.txt"),
    ] {
        let got = lib_ok(case);
        assert!(
            got.mentions(&["directory extent", "its \".\" record 2048"]),
            "{case}: {:?}",
            got.errors
        );
        // Nothing else is read as entries of it: the whole tree is intact,
        // the damaged directory included.
        assert_intact(case, &got.entries, &[]);
        assert_eq!(got.entries.len(), reference(case).len(), "{case}");
        let (out, _) = ls_r(case);
        assert!(
            out.contains(&format!("/{dir}:\nx.txt\n"))
                || out.contains(&format!("/{dir}:\ny.txt\n")),
            "{case}: {out}"
        );
        let x = extract_intact(case, &[]);
        assert!(x.out.join(file).is_file());
    }
}

#[test]
fn a_file_past_the_end_of_the_image_fails_alone_with_a_clear_error() {
    let case = "file_past_end";
    let got = lib_ok(case);
    assert!(!got.entries.contains_key("data/far.bin"));
    assert!(got.mentions(&["data/far.bin"]), "{:?}", got.errors);
    assert_intact(case, &got.entries, &["data/far.bin"]);
    let o = cat(case, "/data/far.bin");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("beyond the end of the image") || err.contains("truncated"),
        "{err}"
    );
    assert!(o.stdout.is_empty() || o.stdout.len() < 5000);
    let x = extract_intact(case, &["data/far.bin"]);
    assert_eq!(x.code, Some(1), "{}", x.stderr);
    assert!(x.stderr.contains("data/far.bin"), "{}", x.stderr);
}

#[test]
fn a_file_of_u32_max_bytes_is_a_read_error_not_4_gib_of_output() {
    let case = "file_len_max";
    let got = lib(case).unwrap();
    assert!(!got.entries.contains_key("data/huge.bin"));
    assert!(
        got.mentions(&[
            "data/huge.bin",
            "file extent",
            "lies beyond the end of the image"
        ]),
        "{:?}",
        got.errors
    );
    assert_intact(case, &got.entries, &["data/huge.bin"]);
    let o = cat(case, "/data/huge.bin");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("lies beyond the end of the image"), "{err}");
    // What the image really holds from the file's start comes out (the
    // file's true content first), then the read fails at the image's end:
    // never more than the image, never 4 GiB of anything.
    let image_len = std::fs::metadata(image(case)).unwrap().len() as usize;
    let real = cat("base", "/data/huge.bin").stdout;
    assert!(!real.is_empty());
    assert!(
        o.stdout.len() < image_len && o.stdout.starts_with(&real),
        "{} bytes came out of a {image_len}-byte image",
        o.stdout.len()
    );
    let x = extract_intact(case, &["data/huge.bin"]);
    assert_eq!(x.code, Some(1), "{}", x.stderr);
    assert!(x.stderr.contains("data/huge.bin"), "{}", x.stderr);
    let left = std::fs::metadata(x.out.join("data/huge.bin")).map_or(0, |m| m.len());
    assert!(left < 1 << 20, "extract wrote {left} bytes of it");
}

#[test]
fn files_sharing_blocks_both_read_the_shared_bytes() {
    let case = "overlap";
    let got = lib_ok(case);
    assert!(got.errors.is_empty(), "{:?}", got.errors);
    // b.bin is a.bin from its second block on.
    let tree_a = cat("base", "/data/a.bin").stdout;
    let want_b = format!("file {}", sha256_hex(&tree_a[2048..]));
    assert_eq!(got.entries["data/b.bin"], want_b);
    assert_intact(case, &got.entries, &["data/b.bin"]);
    assert_eq!(cat(case, "/data/b.bin").stdout, &tree_a[2048..]);
    let x = extract_intact(case, &["data/b.bin"]);
    assert_eq!(x.code, Some(0), "{}", x.stderr);
    assert_eq!(x.tree["data/b.bin"], want_b);
}

#[test]
fn record_lengths_0_1_and_255_mid_sector_lose_only_that_directory_s_tail() {
    for (case, dir, words) in [
        ("reclen0", "recs0", None),
        (
            "reclen1",
            "recs1",
            Some("record length 1 is below the minimum of 34"),
        ),
        ("reclen255", "recs255", Some("directory record")),
    ] {
        let got = lib_ok(case);
        if let Some(w) = words {
            assert!(got.mentions(&[w]), "{case}: {:?}", got.errors);
        }
        // The record before the damaged one is intact; the rest of the
        // image too.
        let f1 = format!("{dir}/f1.txt");
        assert_eq!(
            got.entries.get(&f1).map(String::as_str),
            Some(expected(&reference(case)[&f1]).as_str())
        );
        assert_intact(case, &got.entries, &[dir]);
        extract_intact(case, &[dir]);
    }
}

/// The names/ slots as the library shows them (ci/hostile.py NAMES).
const SLOT_NAMES: &[(u32, &str)] = &[
    (2, "back\\slash"),
    (6, "SLOT06_X"), // NM "nul\0byte" refused: the ISO 9660 name instead
    (1, "SLOT01_X"), // "a/b"
    (3, "SLOT03_X"), // ".."
    (4, "SLOT04_X"), // "."
    (5, "SLOT05_X"), // ""
    (7, "line\nbreak"),
    (8, "esc\x1b[31mred"),
    (9, "CON"),
    (10, "nul.txt"),
    (11, "AUX"),
    (12, "dup"),
    (13, "dup~2"),
    (14, "tab\there"),
    (15, "del\x7fchar"),
    (16, "bad\u{fffd}\u{fffd}utf8"),
];

#[test]
fn hostile_rock_ridge_names_are_made_safe_and_printed_escaped() {
    let case = "names";
    let got = lib_ok(case);
    let slot = |i: u32| format!("names/slot{i:02}_{}", "x".repeat(40));
    for &(i, name) in SLOT_NAMES {
        let want = format!("file {}", sha256_hex(format!("slot {i:02}\n").as_bytes()));
        assert_eq!(
            got.entries.get(&format!("names/{name}")),
            Some(&want),
            "slot {i} shown as {name:?}"
        );
    }
    let damaged: Vec<String> = SLOT_NAMES.iter().map(|(i, _)| slot(*i)).collect();
    let damaged: Vec<&str> = damaged.iter().map(String::as_str).collect();
    assert_intact(case, &got.entries, &damaged);
    // ls: the refused NM names are reported; one line per name, control
    // characters and '\' escaped.
    let (out, err) = ls_r(case);
    for bad in ["a/b", "..", ".", "", "nul\\0byte"] {
        let want = format!("Rock Ridge: NM name \"{bad}\" in the record at sector");
        assert!(
            err.contains(&want) && err.contains("cannot be a file name; using the ISO 9660 name"),
            "{want}: {err}"
        );
    }
    let listed: Vec<&str> = out
        .split("/names:\n")
        .nth(1)
        .unwrap()
        .split("\n\n")
        .next()
        .unwrap()
        .lines()
        .collect();
    for want in [
        "back\\\\slash",
        "line\\nbreak",
        "esc\\e[31mred",
        "tab\\there",
        "del\\x7fchar",
        "CON",
        "nul.txt",
        "AUX",
        "dup",
        "dup~2",
    ] {
        assert!(listed.contains(&want), "{want:?} not in {listed:?}");
    }
    assert!(
        !out.contains('\x1b') && !out.contains('\x7f'),
        "raw control characters printed"
    );
    assert_eq!(listed.len(), 20, "one line per entry: {listed:?}");
    // extract writes the names as they are (Unix takes all of these).
    let x = extract_intact(case, &damaged);
    assert_eq!(x.code, Some(0), "{}", x.stderr);
    for &(i, name) in SLOT_NAMES {
        let p = x.out.join("names").join(name);
        assert_eq!(
            std::fs::read(&p).unwrap_or_else(|e| panic!("{name:?}: {e}")),
            format!("slot {i:02}\n").as_bytes()
        );
    }
}

#[test]
fn a_4000_byte_rock_ridge_name_is_listed_and_its_extract_fails_alone() {
    let case = "long_name";
    let got = lib_ok(case);
    let long = format!("ce/{}", "N".repeat(4000));
    assert!(
        got.entries.contains_key(&long),
        "{:?}",
        got.entries
            .keys()
            .filter(|k| k.starts_with("ce/"))
            .collect::<Vec<_>>()
    );
    assert_intact(
        case,
        &got.entries,
        &[&format!("ce/ce5_{}", "L".repeat(248)), "pool.bin"],
    );
    let x = extract_intact(case, &[&format!("ce/ce5_{}", "L".repeat(248)), "pool.bin"]);
    assert_eq!(x.code, Some(1), "{}", x.stderr);
    assert!(x.stderr.contains("File name too long"), "{}", x.stderr);
}

#[test]
fn symlinks_out_of_the_tree_are_made_as_links_and_never_written_through() {
    let case = "evil";
    let got = lib_ok(case);
    // The directory renamed like the symlink gets "~2"; the other way round
    // the symlink does. Nothing is merged.
    assert_eq!(got.entries["links/evil"], "symlink ../../outside_dir");
    assert_eq!(got.entries["links/evil~2"], "dir");
    assert!(got.entries.contains_key("links/evil~2/payload.txt"));
    assert_eq!(got.entries["links/rev"], "dir");
    assert_eq!(got.entries["links/rev~2"], "symlink ../../outside_rev");
    assert_eq!(got.entries["links/passwd"], "symlink /etc/passwd");
    assert_eq!(got.entries["links/updir"], "symlink ../../../../outside");
    assert_intact(case, &got.entries, &["links/evilzzzz", "links/revzzzz"]);
    let x = extract_intact(case, &["links/evilzzzz", "links/revzzzz"]);
    assert_eq!(x.code, Some(0), "{}", x.stderr);
    assert_eq!(x.tree["links/evil"], "symlink ../../outside_dir");
    assert_eq!(
        x.tree["links/evil~2/payload.txt"],
        got.entries["links/evil~2/payload.txt"]
    );
    assert_eq!(x.tree["links/rev~2"], "symlink ../../outside_rev");
    assert_eq!(x.tree["links/passwd"], "symlink /etc/passwd");
    assert_eq!(x.tree["links/updir"], "symlink ../../../../outside");
}

#[test]
fn extracting_over_an_earlier_extraction_never_follows_its_links() {
    // The second run meets the first run's symlinks where the image has
    // directories and files of the same name: refused (or replaced with
    // --overwrite), never followed; extract() checks nothing outside moved.
    let case = "evil";
    let x = extract(case);
    let img = image(case);
    // Plant links where the image has a directory and a file.
    std::fs::remove_dir_all(x.out.join("links/rev")).unwrap();
    std::os::unix::fs::symlink("../../outside_dir", x.out.join("links/rev")).unwrap();
    std::fs::remove_file(x.out.join("hello.txt")).unwrap();
    std::os::unix::fs::symlink("../outside_dir/keep.txt", x.out.join("hello.txt")).unwrap();
    let parent = x.out.parent().unwrap().to_path_buf();
    let before = snapshot(&parent, &x.out);
    for extra in [None, Some("--overwrite")] {
        let mut args = vec![OsStr::new("extract"), OsStr::new("--quiet")];
        if let Some(e) = extra {
            args.push(OsStr::new(e));
        }
        args.extend([
            OsStr::new("--directory"),
            x.out.as_os_str(),
            img.as_os_str(),
        ]);
        let o = cli(&args);
        assert_eq!(
            snapshot(&parent, &x.out),
            before,
            "{extra:?}: wrote outside"
        );
        let err = String::from_utf8_lossy(&o.stderr);
        if extra.is_none() {
            assert_eq!(o.status.code(), Some(1), "{err}");
            assert!(
                err.contains("refusing to write through it") || err.contains("exists"),
                "{err}"
            );
        }
    }
    // With --overwrite the links were replaced by what the image holds.
    assert!(x.out.join("links/rev").symlink_metadata().unwrap().is_dir());
    assert_eq!(
        std::fs::read(x.out.join("hello.txt")).unwrap(),
        b"Hello from the hostile suite\n"
    );
    assert_eq!(
        std::fs::read(parent.join("outside_dir/keep.txt")).unwrap(),
        b"keep\n"
    );
}

#[test]
fn a_2020_level_tree_lists_and_reads_and_extracts_up_to_path_max_without_running_out_of_stack() {
    let case = "deep";
    let got = lib_ok(case);
    assert!(got.errors.is_empty(), "{:?}", got.errors.first());
    assert_intact(case, &got.entries, &[]);
    assert_eq!(got.entries.len(), 2021);
    let (out, err) = ls_r(case);
    assert!(err.is_empty(), "{err}");
    let bottom = format!("/{}/b", ["d"; 2020].join("/"));
    assert!(out.contains(&format!("{bottom}:\n")) || out.contains("\nb\n"));
    assert_eq!(cat(case, &bottom).stdout, b"bottom\n");
    // Below the target directory the bottom passes PATH_MAX (4,096 bytes
    // with the NUL): what fits is extracted, the first directory that does
    // not is one clear error, and nothing below it is tried.
    let x = extract(case);
    assert_eq!(x.code, Some(1), "{}", x.stderr);
    let lines: Vec<&str> = x.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one error: {lines:?}");
    assert!(lines[0].contains("File name too long"), "{}", lines[0]);
    let base = x.out.as_os_str().len();
    let mut wrong = Vec::new();
    for (path, row) in &reference(case) {
        let fits = base + 1 + path.len() < 4096;
        match (fits, x.tree.get(path)) {
            (true, Some(g)) if *g == expected(row) => {}
            (false, None) => {}
            (f, g) => wrong.push(format!(
                "{} levels: fits {f}, made {g:?}",
                path.len() / 2 + 1
            )),
        }
    }
    assert!(wrong.is_empty(), "{wrong:?}");
}

#[test]
fn every_hostile_image_lists_recursively_and_cats_every_file_within_the_limits() {
    let cases: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(images().join("cases.json")).unwrap())
            .unwrap();
    assert!(cases.len() >= 26, "{}", cases.len());
    for case in cases.keys().map(String::as_str).chain(["deep"]) {
        let img = image(case);
        let ls = cli(&[
            OsStr::new("ls"),
            OsStr::new("-R"),
            OsStr::new("--json"),
            img.as_os_str(),
        ]);
        assert!(matches!(ls.status.code(), Some(0 | 1)), "{case}: ls -R");
        let mut files = Vec::new();
        let mut listed = 0;
        for line in String::from_utf8(ls.stdout).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            listed += 1;
            if v["type"] == "file" {
                files.push(v["path"].as_str().unwrap().to_string());
            }
        }
        assert!(listed > 5, "{case}: {listed} entries listed");
        let mut args = vec![OsStr::new("cat"), img.as_os_str()];
        args.extend(files.iter().map(OsStr::new));
        let cat = cli(&args);
        assert!(matches!(cat.status.code(), Some(0 | 1)), "{case}: cat");
        let img_len = std::fs::metadata(&img).unwrap().len();
        assert!(
            (cat.stdout.len() as u64) < img_len * 2,
            "{case}: cat wrote {} bytes from a {img_len}-byte image",
            cat.stdout.len()
        );
    }
}

// ---------------------------------------------------------------- UDF

#[test]
fn a_udf_file_claiming_2_to_the_60_bytes_is_refused_not_zero_filled() {
    let case = "udf_size_2p60";
    let got = lib_ok(case);
    assert!(!got.entries.contains_key("big.bin"));
    assert!(
        got.mentions(&["file entry", "information length 1152921504606846976"]),
        "{:?}",
        got.errors
    );
    assert_intact(case, &got.entries, &["big.bin"]);
    let o = cat(case, "/big.bin");
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    let x = extract_intact(case, &["big.bin"]);
    assert!(!x.out.join("big.bin").exists());
    assert_eq!(x.code, Some(1), "{}", x.stderr);
}

#[test]
fn udf_extents_and_descriptor_lengths_near_the_limits_fail_only_their_file() {
    for (case, file, words) in [
        (
            "udf_ad_past_end",
            "far.bin",
            &["allocation descriptor", "outside partition"][..],
        ),
        (
            "udf_lad_max",
            "lad.bin",
            &["file entry", "4294967280 of allocation descriptors"][..],
        ),
        (
            "udf_fid_liu_max",
            "sub",
            &["file identifier", "runs past the directory's end"][..],
        ),
        (
            "udf_lea_max",
            "lea.bin",
            &["file entry", "4294967280 bytes of extended attributes"][..],
        ),
    ] {
        let got = lib_ok(case);
        assert!(!got.entries.contains_key(file), "{case}");
        assert!(got.mentions(words), "{case}: {:?}", got.errors);
        assert_intact(case, &got.entries, &[file]);
        let (_, err) = ls_r(case);
        assert!(err.contains(words[1]), "{case}: {err}");
        let x = extract_intact(case, &[file]);
        assert_eq!(x.code, Some(1), "{case}: {}", x.stderr);
    }
}

#[test]
fn hostile_udf_names_are_made_safe() {
    let case = "udf_names";
    let got = lib_ok(case);
    let n = |i: u32| format!("n{i}_{}", "p".repeat(30));
    // '/' and NUL become '_', ".." gets a '_' in front, control characters
    // stay (ls escapes them), a 16-bit name of odd length loses its odd byte.
    for (i, shown) in [
        (1, "a_b"),
        (2, "nul_byte"),
        (3, "line\nesc\x1b[0m"),
        (4, "od"),
        (5, "_.."),
    ] {
        assert_eq!(
            got.entries.get(shown),
            Some(&format!(
                "file {}",
                sha256_hex(format!("n{i}\n").as_bytes())
            )),
            "{shown:?}: {:?}",
            got.entries.keys().collect::<Vec<_>>()
        );
    }
    assert!(
        got.mentions(&["file identifier", "without a name"]),
        "{:?}",
        got.errors
    );
    let damaged: Vec<String> = (1..=6).map(n).collect();
    let damaged: Vec<&str> = damaged.iter().map(String::as_str).collect();
    assert_intact(case, &got.entries, &damaged);
    let (out, _) = ls_r(case);
    assert!(out.contains("\nline\\nesc\\e[0m\n"), "{out}");
    let x = extract_intact(case, &damaged);
    assert!(x.out.join("line\nesc\x1b[0m").is_file());
}

#[test]
fn a_udf_directory_pointing_at_the_root_is_left_out_as_a_loop() {
    let case = "udf_dir_to_root";
    let got = lib_ok(case);
    assert!(!got.entries.contains_key("sub/loop"));
    assert!(got.mentions(&["a loop", "left out"]), "{:?}", got.errors);
    assert_intact(case, &got.entries, &["sub/loop"]);
    extract_intact(case, &["sub/loop"]);
}

// --------------------------------------------------------------- FUSE

#[test]
fn the_worst_images_mount_list_and_read_and_the_mount_stays_up() {
    if !common::fuse_available() {
        return;
    }
    for (case, damaged) in [
        ("dir_to_root", &["loop/up"][..]),
        ("names", &[][..]),
        ("udf_size_2p60", &["big.bin"][..]),
    ] {
        let m = common::mount::Mount::new(&image(case), &[]);
        let find = Command::new("timeout")
            .args(["60", "find"])
            .arg(&m.mnt)
            .output()
            .unwrap();
        assert_eq!(
            find.status.code(),
            Some(0),
            "{case}: find: {}",
            String::from_utf8_lossy(&find.stderr)
        );
        let tree = extracted(&m.mnt);
        if case != "names" {
            assert_intact(case, &tree, damaged);
        } else {
            assert_eq!(
                tree.get("names/line\nbreak"),
                Some(&format!("file {}", sha256_hex(b"slot 07\n")))
            );
        }
        assert!(
            common::mount::is_mounted(&m.mnt),
            "{case}: the mount went away"
        );
    }
}
