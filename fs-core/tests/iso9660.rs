//! ISO 9660 / Joliet reader against images made by independent tools
//! (xorriso, genisoimage) from trees built here, and against a real image.
#![cfg(unix)]
// builds trees with symlinks, FIFOs and device nodes, or mounts with FUSE
// Test code: panicking on a failed expectation is the point.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use fs_core::source::{MemSource, ReadAt};
use fs_core::{Error, FileType, NodeId, OpenOptions, View, Volume};
use sha2::{Digest, Sha256};

const GRUB_ISO: &str = "/work/shared/corpus/grub-rescue-cdrom.iso";
const GRUB_REF: &str = "/work/shared/corpus/grub-rescue-cdrom.ref.jsonl";

// ---------------------------------------------------------------- helpers

fn run(cmd: &mut Command) {
    let out = cmd
        .env("LANG", "C.UTF-8")
        .env("LC_ALL", "C.UTF-8")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn touch(path: &Path, date: &str) {
    run(Command::new("touch")
        .arg("-h")
        .arg("-d")
        .arg(date)
        .arg(path));
}

fn sha(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn patterned(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[3] ^ (i as u8))
        .collect()
}

/// What a test expects (or finds) at one path.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Item {
    kind: FileType,
    size: u64,
    sha: Option<String>,
    mtime: i64,
}

fn mtime_of(p: &Path) -> i64 {
    use std::os::unix::fs::MetadataExt;
    fs::symlink_metadata(p).unwrap().mtime()
}

/// The source tree, as paths relative to `root`.
fn source_tree(root: &Path) -> BTreeMap<String, Item> {
    fn rec(root: &Path, dir: &Path, out: &mut BTreeMap<String, Item>) {
        for e in fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().to_str().unwrap().to_string();
            let md = fs::symlink_metadata(&p).unwrap();
            if md.is_dir() {
                out.insert(
                    rel,
                    Item {
                        kind: FileType::Directory,
                        size: 0,
                        sha: None,
                        mtime: mtime_of(&p),
                    },
                );
                rec(root, &p, out);
            } else {
                let data = fs::read(&p).unwrap();
                out.insert(
                    rel,
                    Item {
                        kind: FileType::Regular,
                        size: data.len() as u64,
                        sha: Some(sha(&data)),
                        mtime: mtime_of(&p),
                    },
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    rec(root, root, &mut out);
    out
}

/// Reads a whole file through the volume in odd-sized chunks (so reads
/// straddle cache blocks and extents).
fn read_all(vol: &Volume, id: NodeId, size: u64) -> fs_core::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(size as usize);
    let mut buf = vec![0u8; 12_345];
    loop {
        let n = vol.read(id, out.len() as u64, &mut buf)?;
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    Ok(out)
}

/// Walks the whole volume: path -> item (directory sizes reported as 0).
fn walk(vol: &Volume) -> BTreeMap<String, Item> {
    let mut out = BTreeMap::new();
    let mut stack = vec![(vol.root(), String::new())];
    while let Some((id, prefix)) = stack.pop() {
        let dir = vol.read_dir(id).unwrap();
        assert!(
            dir.problems().is_empty(),
            "problems in {prefix:?}: {:?}",
            dir.problems()
        );
        for e in dir.entries() {
            let path = if prefix.is_empty() {
                e.name.clone()
            } else {
                format!("{prefix}/{}", e.name)
            };
            let attr = vol.attr(e.id).unwrap();
            assert_eq!(attr.kind, e.kind);
            let (size, sha_) = if e.kind == FileType::Regular {
                let data = read_all(vol, e.id, attr.size).unwrap();
                assert_eq!(data.len() as u64, attr.size, "{path}");
                (attr.size, Some(sha(&data)))
            } else {
                (0, None)
            };
            if e.kind == FileType::Directory {
                stack.push((e.id, path.clone()));
            }
            out.insert(
                path,
                Item {
                    kind: e.kind,
                    size,
                    sha: sha_,
                    mtime: attr.mtime.secs,
                },
            );
        }
    }
    out
}

fn open(path: &Path, view: Option<View>) -> Volume {
    Volume::open_path(
        path,
        &OpenOptions {
            view,
            // The references (xorriso, osirrox, source trees) have no El
            // Torito [BOOT] directory.
            boot_dir: false,
            ..OpenOptions::default()
        },
    )
    .unwrap_or_else(|e| panic!("open {}: {e}", path.display()))
}

/// A tree with nested dirs, an empty file and dir, a 103-character name,
/// non-ASCII names and a file straddling 32 KiB cache blocks.
fn joliet_tree(root: &Path) {
    fs::create_dir_all(root.join("a/b/c")).unwrap();
    fs::create_dir_all(root.join("emptydir")).unwrap();
    fs::create_dir_all(root.join("日本")).unwrap();
    fs::write(root.join("a/b/c/deep.txt"), b"deep inside\n").unwrap();
    fs::write(root.join("a/top.txt"), b"top\n").unwrap();
    fs::write(root.join("empty.txt"), b"").unwrap();
    fs::write(root.join("café.txt"), "é".repeat(50)).unwrap();
    fs::write(root.join("日本/語.txt"), "日本語\n").unwrap();
    let long = format!("{}.txt", "L".repeat(99));
    assert_eq!(long.len(), 103);
    fs::write(root.join(&long), b"long name\n").unwrap();
    fs::write(root.join("big.bin"), patterned(100_000)).unwrap();
    // Fixed times, set after the contents so directories keep them.
    let mut paths: Vec<_> = source_tree(root).into_keys().collect();
    paths.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for (i, p) in paths.iter().enumerate() {
        touch(
            &root.join(p),
            &format!("2021-03-04 05:06:{:02} UTC", i % 60),
        );
    }
}

/// Compares a walk of the volume with the source tree: names, kinds,
/// sizes, contents, mtimes.
fn compare(vol: &Volume, src: &Path) {
    let got = walk(vol);
    let want = source_tree(src);
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "view {}",
        vol.view()
    );
    for (path, w) in &want {
        let g = &got[path];
        assert_eq!(g.kind, w.kind, "{path}");
        assert_eq!(g.size, w.size, "{path}");
        assert_eq!(g.sha, w.sha, "{path}");
        assert_eq!(g.mtime, w.mtime, "mtime of {path} in view {}", vol.view());
    }
}

/// `rock_ridge`: the tool also wrote Rock Ridge (xorriso does by default).
fn check_joliet(iso: &Path, src: &Path, rock_ridge: bool) {
    let vol = open(iso, Some(View::Joliet));
    assert_eq!(vol.view(), View::Joliet);
    assert!(vol.info().views.contains(&View::Iso9660));
    assert_eq!(vol.info().label, "JOLIETTEST");
    compare(&vol, src);
    // The default is the richest view: Rock Ridge once its parser is in
    // (then it must show the same tree), else Joliet.
    let default = open(iso, None);
    if default.info().views.contains(&View::RockRidge) {
        assert!(rock_ridge);
        assert_eq!(default.view(), View::RockRidge);
        compare(&default, src);
    } else {
        assert_eq!(default.view(), View::Joliet);
    }
    // The plain view of the same image has 8.3-ish names, never version
    // suffixes.
    let plain = open(iso, Some(View::Iso9660));
    let names = walk(&plain);
    assert!(names.keys().all(|k| !k.contains(';')), "{names:?}");
    if !rock_ridge {
        assert!(matches!(
            Volume::open_path(
                iso,
                &OpenOptions {
                    view: Some(View::RockRidge),
                    ..OpenOptions::default()
                }
            ),
            Err(Error::ViewUnavailable(View::RockRidge))
        ));
    }
}

// ---------------------------------------------------------------- Joliet

#[test]
fn joliet_xorriso() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    joliet_tree(&src);
    let iso = tmp.path().join("j.iso");
    run(Command::new("xorriso")
        .args([
            "-as",
            "mkisofs",
            "-quiet",
            "-J",
            "-joliet-long",
            "-V",
            "JOLIETTEST",
            "-o",
        ])
        .arg(&iso)
        .arg(&src));
    check_joliet(&iso, &src, true);
}

#[test]
fn joliet_genisoimage() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    joliet_tree(&src);
    let iso = tmp.path().join("j.iso");
    run(Command::new("genisoimage")
        .args([
            "-quiet",
            "-input-charset",
            "utf-8",
            "-J",
            "-joliet-long",
            "-V",
            "JOLIETTEST",
            "-o",
        ])
        .arg(&iso)
        .arg(&src));
    check_joliet(&iso, &src, false);
    assert_eq!(
        open(&iso, None)
            .info()
            .extra
            .iter()
            .find(|(k, _)| *k == "Joliet level")
            .map(|(_, v)| v.as_str()),
        Some("3")
    );
}

// ---------------------------------------------------------------- plain

#[test]
fn plain_level1_names() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    fs::create_dir_all(src.join("subdir")).unwrap();
    fs::write(src.join("readme.txt"), b"read me\n").unwrap();
    fs::write(src.join("hello"), b"hi\n").unwrap();
    fs::write(src.join("subdir/inner.dat"), patterned(5000)).unwrap();
    let iso = tmp.path().join("p.iso");
    run(Command::new("genisoimage")
        .args(["-quiet", "-V", "PLAIN", "-o"])
        .arg(&iso)
        .arg(&src));
    let vol = open(&iso, None);
    assert_eq!(vol.view(), View::Iso9660);
    assert_eq!(vol.info().views, vec![View::Iso9660]);
    assert_eq!(vol.info().label, "PLAIN");
    assert_eq!(vol.info().block_size, 2048);
    assert!(vol.info().created.is_some());
    let got = walk(&vol);
    let names: Vec<_> = got.keys().map(String::as_str).collect();
    assert_eq!(names, ["HELLO", "README.TXT", "SUBDIR", "SUBDIR/INNER.DAT"]);
    assert_eq!(got["SUBDIR/INNER.DAT"].sha, Some(sha(&patterned(5000))));
    let root = vol.node(vol.root()).unwrap();
    assert_eq!(root.attr().mode, 0o555);
    assert_eq!(root.attr().nlink, 2);
    let f = vol.resolve("README.TXT", true).unwrap();
    assert_eq!(f.attr().mode, 0o444);
    assert_eq!(f.attr().nlink, 1);
    assert_eq!(f.attr().uid, 0);
    assert_eq!(f.attr().inode, f.id().0);
    assert_eq!(f.attr().allocated, 2048);
    assert!(!f.attr().hidden);
    // A directory's id is its extent offset; files' ids are record offsets.
    let sub = vol.resolve("SUBDIR", true).unwrap();
    assert_eq!(sub.id().0 % 2048, 0);
    assert!(matches!(
        Volume::open_path(
            &iso,
            &OpenOptions {
                view: Some(View::Joliet),
                ..OpenOptions::default()
            }
        ),
        Err(Error::ViewUnavailable(View::Joliet))
    ));
}

// ---------------------------------------------------------------- dates

#[test]
fn far_dates_read_back() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("future.txt"), b"2040").unwrap();
    fs::write(src.join("past.txt"), b"1965").unwrap();
    touch(&src.join("future.txt"), "2040-01-01 00:00:00 UTC");
    touch(&src.join("past.txt"), "1965-06-01 00:00:00 UTC");
    for (tool, args) in [
        ("genisoimage", &["-quiet", "-o"][..]),
        ("xorriso", &["-as", "mkisofs", "-quiet", "-o"][..]),
    ] {
        let iso = tmp.path().join(format!("{tool}.iso"));
        run(Command::new(tool).args(args).arg(&iso).arg(&src));
        let vol = open(&iso, Some(View::Iso9660));
        let future = vol.resolve("FUTURE.TXT", true).unwrap();
        assert_eq!(future.attr().mtime.secs, 2_208_988_800, "{tool}");
        let past = vol.resolve("PAST.TXT", true).unwrap();
        assert_eq!(past.attr().mtime.secs, -144_720_000, "{tool}");
    }
}

// ---------------------------------------------------------------- multi-extent

#[test]
fn multi_extent_file_is_one_entry() {
    const SIZE: u64 = (4 << 30) + (1 << 20);
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("small.txt"), b"small\n").unwrap();
    let big = fs::File::create(src.join("big.bin")).unwrap();
    big.set_len(SIZE).unwrap();
    let boundary = (4u64 << 30) - 2048;
    big.write_all_at(b"START-MARKER", 0).unwrap();
    big.write_all_at(b"ACROSS-THE-SECTION-BOUNDARY", boundary - 10)
        .unwrap();
    big.write_all_at(b"END-MARKER", SIZE - 10).unwrap();
    drop(big);
    let iso = tmp.path().join("m.iso");
    run(Command::new("xorriso")
        .args(["-as", "mkisofs", "-quiet", "-iso-level", "3", "-o"])
        .arg(&iso)
        .arg(&src));
    // The source is not needed any more: free its (sparse) space.
    fs::remove_dir_all(&src).unwrap();
    let vol = open(&iso, Some(View::Iso9660));
    let root = vol.read_dir(vol.root()).unwrap();
    assert!(root.problems().is_empty(), "{:?}", root.problems());
    let names: Vec<_> = root.entries().iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["BIG.BIN", "SMALL.TXT"]);
    let node = vol.resolve("BIG.BIN", true).unwrap();
    assert_eq!(node.attr().size, SIZE);
    assert!(node.data().extents().len() >= 2, "{:?}", node.data());
    let mut buf = [0u8; 12];
    vol.read(node.id(), 0, &mut buf).unwrap();
    assert_eq!(&buf, b"START-MARKER");
    let mut buf = [0u8; 27];
    assert_eq!(vol.read(node.id(), boundary - 10, &mut buf).unwrap(), 27);
    assert_eq!(&buf, b"ACROSS-THE-SECTION-BOUNDARY");
    let mut buf = [0u8; 64];
    let n = vol.read(node.id(), SIZE - 10, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"END-MARKER");
    let mut buf = [0xffu8; 4096];
    vol.read(node.id(), 1 << 30, &mut buf).unwrap();
    assert!(buf.iter().all(|&b| b == 0));
}

// ---------------------------------------------------------------- real image

/// Parses the few fields we need from one line of the ref listing (simple
/// flat JSON written by Python's json module).
fn ref_field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let pat = format!("\"{key}\": ");
    let i = line.find(&pat)? + pat.len();
    let rest = &line[i..];
    if let Some(s) = rest.strip_prefix('"') {
        Some(&s[..s.find('"')?])
    } else {
        let end = rest.find([',', '}']).unwrap_or(rest.len());
        Some(rest[..end].trim())
    }
}

/// One ref line: type, size, sha256, mode, mtime.
type RefItem = (String, Option<u64>, Option<String>, u32, i64);

fn grub_ref() -> BTreeMap<String, RefItem> {
    fs::read_to_string(GRUB_REF)
        .unwrap()
        .lines()
        .map(|l| {
            (
                ref_field(l, "path").unwrap().to_string(),
                (
                    ref_field(l, "type").unwrap().to_string(),
                    ref_field(l, "size").map(|s| s.parse().unwrap()),
                    ref_field(l, "sha256").map(str::to_string),
                    ref_field(l, "mode").unwrap().parse().unwrap(),
                    ref_field(l, "mtime").unwrap().parse().unwrap(),
                ),
            )
        })
        .collect()
}

#[test]
fn grub_rescue_plain_view() {
    let vol = open(Path::new(GRUB_ISO), Some(View::Iso9660));
    let info = vol.info();
    assert_eq!(info.label, "ISOIMAGE");
    assert_eq!(info.volume_blocks, 2481);
    assert!(info.extra.iter().any(|(k, _)| *k == "El Torito"));
    let got = walk(&vol);
    // isoinfo (an independent reader) lists the same paths.
    let out = Command::new("isoinfo")
        .args(["-f", "-i", GRUB_ISO])
        .output()
        .unwrap();
    let mut want: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let l = l.trim_start_matches('/');
            let l = match l.rfind(';') {
                Some(i) => &l[..i],
                None => l,
            };
            l.trim_end_matches('.').to_lowercase()
        })
        .collect();
    want.sort();
    let mut have: Vec<String> = got.keys().map(|k| k.to_lowercase()).collect();
    have.sort();
    assert_eq!(have, want);
    // Where the ISO name equals the Rock Ridge name, contents and sizes match
    // the independent extraction.
    let reference = grub_ref();
    let mut compared = 0;
    for (path, item) in &got {
        if let Some((kind, size, sha_, _, _)) = reference.get(path) {
            if kind == "file" {
                assert_eq!(item.kind, FileType::Regular, "{path}");
                assert_eq!(Some(item.size), *size, "{path}");
                assert_eq!(item.sha.as_ref(), sha_.as_ref(), "{path}");
                compared += 1;
            }
        }
    }
    assert!(compared > 200, "only {compared} files compared");
}

#[test]
fn grub_rescue_rock_ridge_view() {
    let vol = open(Path::new(GRUB_ISO), None);
    assert_eq!(vol.view(), View::RockRidge);
    let got = walk(&vol);
    let reference = grub_ref();
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        reference.keys().collect::<Vec<_>>()
    );
    for (path, (kind, size, sha_, mode, mtime)) in &reference {
        let item = &got[path];
        let node = vol.resolve(path, false).unwrap();
        assert_eq!(item.kind.as_str(), kind.as_str(), "{path}");
        if kind == "file" {
            assert_eq!(Some(item.size), *size, "{path}");
            assert_eq!(item.sha.as_ref(), sha_.as_ref(), "{path}");
        }
        assert_eq!(node.attr().mode, *mode, "{path}");
        assert_eq!(item.mtime, *mtime, "{path}");
    }
}

// ---------------------------------------------------------------- robustness

fn small_image(dir: &Path) -> PathBuf {
    let src = dir.join("src");
    fs::create_dir_all(src.join("sub/deeper")).unwrap();
    for (name, len) in [("a.txt", 10), ("b.txt", 3000), ("c.txt", 5)] {
        fs::write(src.join(name), patterned(len)).unwrap();
    }
    fs::write(src.join("sub/deeper/x.bin"), patterned(70_000)).unwrap();
    fs::write(src.join("sub/y"), b"y").unwrap();
    let iso = dir.join("small.iso");
    run(Command::new("genisoimage")
        .args(["-quiet", "-J", "-R", "-o"])
        .arg(&iso)
        .arg(&src));
    iso
}

#[test]
fn not_an_iso() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("junk.bin");
    fs::write(&p, patterned(100_000)).unwrap();
    let err = Volume::open_path(&p, &OpenOptions::default()).unwrap_err();
    assert!(matches!(err, Error::NotRecognized(_)), "{err}");
    fs::write(&p, b"tiny").unwrap();
    let err = Volume::open_path(&p, &OpenOptions::default()).unwrap_err();
    assert!(matches!(err, Error::NotRecognized(_)), "{err}");
}

#[test]
fn truncated_image_fails_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let iso = small_image(tmp.path());
    let mut data = fs::read(&iso).unwrap();
    data.truncate(40 * 1024);
    for view in [None, Some(View::Iso9660)] {
        let src: Arc<dyn ReadAt> = Arc::new(MemSource::new(data.clone()));
        let opts = OpenOptions {
            view,
            ..OpenOptions::default()
        };
        match Volume::open(src, &opts) {
            Err(e) => {
                assert!(
                    matches!(e, Error::Truncated { .. } | Error::Corrupt { .. }),
                    "{e}"
                );
                assert!(e.to_string().contains("sector"), "{e}");
            }
            Ok(vol) => {
                // Listing or reading must fail somewhere with a typed error.
                let mut failed = false;
                let mut stack = vec![vol.root()];
                while let Some(id) = stack.pop() {
                    match vol.read_dir(id) {
                        Err(_) => failed = true,
                        Ok(d) => {
                            failed |= !d.problems().is_empty();
                            for e in d.entries() {
                                match e.kind {
                                    FileType::Directory => stack.push(e.id),
                                    _ => {
                                        let size = vol.attr(e.id).unwrap().size;
                                        failed |= read_all(&vol, e.id, size).is_err();
                                    }
                                }
                            }
                        }
                    }
                }
                assert!(failed, "a 40 KiB image cannot hold everything");
            }
        }
    }
}

/// Byte offset of the first occurrence of `needle` at or after `from`.
fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

#[test]
fn record_pointing_past_the_end() {
    let tmp = tempfile::tempdir().unwrap();
    let iso = small_image(tmp.path());
    let mut data = fs::read(&iso).unwrap();
    // The plain record of B.TXT: the identifier sits at record + 33.
    let name_at = find(&data, b"B.TXT;1", 17 * 2048).expect("record of B.TXT");
    let rec = name_at - 33;
    assert_eq!(data[rec + 32], 7);
    let far = 0x00ff_ff00u32;
    data[rec + 2..rec + 6].copy_from_slice(&far.to_le_bytes());
    data[rec + 6..rec + 10].copy_from_slice(&far.to_be_bytes());
    let src: Arc<dyn ReadAt> = Arc::new(MemSource::new(data));
    let vol = Volume::open(
        src,
        &OpenOptions {
            view: Some(View::Iso9660),
            ..OpenOptions::default()
        },
    )
    .unwrap();
    let root = vol.read_dir(vol.root()).unwrap();
    let names: Vec<_> = root.entries().iter().map(|e| e.name.as_str()).collect();
    for n in ["A.TXT", "C.TXT", "SUB"] {
        assert!(names.contains(&n), "{names:?}");
    }
    let a = vol.resolve("A.TXT", true).unwrap();
    assert_eq!(read_all(&vol, a.id(), 10).unwrap(), patterned(10));
    match root.get("B.TXT") {
        None => assert!(!root.problems().is_empty()),
        Some(b) => {
            let err = read_all(&vol, b.id, 3000).unwrap_err();
            assert_eq!(err.errno(), 5, "{err}");
        }
    }
}

/// Opens, walks and reads everything, never panicking; bounded work.
fn exercise(data: &[u8]) {
    for view in [None, Some(View::Iso9660), Some(View::Joliet)] {
        let src: Arc<dyn ReadAt> = Arc::new(MemSource::new(data.to_vec()));
        let opts = OpenOptions {
            view,
            cache_bytes: 1 << 20,
            ..OpenOptions::default()
        };
        let Ok(vol) = Volume::open(src, &opts) else {
            continue;
        };
        let _ = vol.info();
        let mut stack = vec![vol.root()];
        let mut budget = 2_000usize;
        while let Some(id) = stack.pop() {
            let Ok(dir) = vol.read_dir(id) else { continue };
            for e in dir.entries() {
                budget = budget.saturating_sub(1);
                if budget == 0 {
                    return;
                }
                match e.kind {
                    FileType::Directory => stack.push(e.id),
                    FileType::Symlink => {
                        let _ = vol.read_link(e.id);
                    }
                    _ => {
                        let mut buf = vec![0u8; 65_536];
                        let mut off = 0u64;
                        for _ in 0..4 {
                            match vol.read(e.id, off, &mut buf) {
                                Ok(0) | Err(_) => break,
                                Ok(n) => off += n as u64,
                            }
                        }
                        let _ = vol.read(e.id, u64::MAX - 10, &mut buf);
                    }
                }
            }
        }
    }
}

#[test]
fn directory_loop_is_cut() {
    let tmp = tempfile::tempdir().unwrap();
    let iso = small_image(tmp.path());
    let mut data = fs::read(&iso).unwrap();
    // Point DEEPER (inside SUB) back at SUB's own extent.
    let sub_at = find(&data, b"\x03SUB", 17 * 2048).expect("record of SUB") - 32;
    let sub_extent: [u8; 8] = data[sub_at + 2..sub_at + 10].try_into().unwrap();
    let deeper_at = find(&data, b"\x06DEEPER", 17 * 2048).expect("record of DEEPER") - 32;
    data[deeper_at + 2..deeper_at + 10].copy_from_slice(&sub_extent);
    let src: Arc<dyn ReadAt> = Arc::new(MemSource::new(data));
    let vol = Volume::open(
        src,
        &OpenOptions {
            view: Some(View::Iso9660),
            ..OpenOptions::default()
        },
    )
    .unwrap();
    let sub = vol.resolve("SUB", true).unwrap();
    let listing = vol.read_dir(sub.id()).unwrap();
    assert!(listing.get("DEEPER").is_none());
    assert!(!listing.problems().is_empty());
    assert!(listing.get("Y").is_some());
}

/// Mutates `clean` `rounds` times (seeded xorshift) and exercises each copy.
fn mutate_and_exercise(clean: &[u8], rounds: usize, seed: u64) {
    // Metadata lives in the first sectors: descriptors, path tables, dirs.
    let meta_end = (48 * 2048).min(clean.len());
    let mut state = seed;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..rounds {
        let mut data = clean.to_vec();
        let n = 1 + next() % 8;
        for _ in 0..n {
            let at = if next() % 4 == 0 {
                (next() % data.len() as u64) as usize
            } else {
                16 * 2048 + (next() % (meta_end - 16 * 2048) as u64) as usize
            };
            data[at] = match next() % 4 {
                0 => 0,
                1 => 0xff,
                2 => data[at] ^ (1 << (next() % 8)),
                _ => next() as u8,
            };
        }
        if round % 50 == 49 {
            let cut = (next() % data.len() as u64) as usize;
            data.truncate(cut);
        }
        exercise(&data);
    }
}

#[test]
fn mutations_never_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let iso = small_image(tmp.path());
    let clean = fs::read(&iso).unwrap();
    exercise(&clean);
    mutate_and_exercise(&clean, 400, 0x9E37_79B9_7F4A_7C15);
    // An xorriso image with Rock Ridge (long names spill into continuation
    // areas), Joliet and symlinks.
    let src = tmp.path().join("src2");
    fs::create_dir_all(src.join("dir")).unwrap();
    for i in 0..6 {
        fs::write(
            src.join(format!("{}-{i}.txt", "n".repeat(200))),
            patterned(100 * i),
        )
        .unwrap();
    }
    std::os::unix::fs::symlink("dir/../dir", src.join("link")).unwrap();
    let iso2 = tmp.path().join("x.iso");
    run(Command::new("xorriso")
        .args(["-as", "mkisofs", "-quiet", "-R", "-J", "-joliet-long", "-o"])
        .arg(&iso2)
        .arg(&src));
    let clean = fs::read(&iso2).unwrap();
    exercise(&clean);
    mutate_and_exercise(&clean, 300, 0x2545_F491_4F6C_DD1D);
    let _ = std::io::stderr().flush();
}

// ---------------------------------------------------------------- Rock Ridge

/// A tree with POSIX features only Rock Ridge can carry.
fn rr_tree(root: &Path) {
    use std::os::unix::fs::{PermissionsExt, symlink};
    let deep: PathBuf = (1..=10).map(|i| format!("d{i}")).collect();
    fs::create_dir_all(root.join(&deep)).unwrap();
    fs::write(root.join(&deep).join("bottom.txt"), b"bottom\n").unwrap();
    fs::write(root.join("private.txt"), b"secret\n").unwrap();
    fs::set_permissions(root.join("private.txt"), fs::Permissions::from_mode(0o640)).unwrap();
    run(Command::new("chown")
        .arg("1234:5678")
        .arg(root.join("private.txt")));
    fs::write(root.join("setuid"), b"#!/bin/sh\n").unwrap();
    fs::set_permissions(root.join("setuid"), fs::Permissions::from_mode(0o4755)).unwrap();
    fs::write(root.join("h1"), b"hard\n").unwrap();
    fs::hard_link(root.join("h1"), root.join("h2")).unwrap();
    symlink("d1/d2/../d2", root.join("rel")).unwrap();
    symlink("/etc/passwd", root.join("abs")).unwrap();
    run(Command::new("mkfifo").arg(root.join("fifo")));
    run(Command::new("mknod")
        .arg(root.join("null"))
        .args(["c", "1", "3"]));
    run(Command::new("touch")
        .args(["-d", "2040-01-01 00:00:00 UTC"])
        .arg(root.join("h1")));
    run(Command::new("touch")
        .args(["-h", "-d", "1965-06-01 00:00:00 UTC"])
        .arg(root.join("rel")));
}

fn check_rr(iso: &Path, tool: &str) {
    let vol = open(iso, None);
    assert_eq!(vol.view(), View::RockRidge, "{tool}");
    assert!(
        vol.info().extra.iter().any(|(k, _)| *k == "Rock Ridge"),
        "{tool}"
    );
    let root = vol.read_dir(vol.root()).unwrap();
    assert!(root.problems().is_empty(), "{tool}: {:?}", root.problems());
    let names: Vec<_> = root.entries().iter().map(|e| e.name.as_str()).collect();
    assert!(
        !names
            .iter()
            .any(|n| n.eq_ignore_ascii_case("rr_moved") || n.eq_ignore_ascii_case(".rr_moved")),
        "{tool}: {names:?}"
    );
    let deep = "d1/d2/d3/d4/d5/d6/d7/d8/d9/d10/bottom.txt";
    let bottom = vol.resolve(deep, true).unwrap();
    assert_eq!(
        read_all(&vol, bottom.id(), 7).unwrap(),
        b"bottom\n",
        "{tool}"
    );
    let d9 = vol.resolve("d1/d2/d3/d4/d5/d6/d7/d8/d9", true).unwrap();
    let d10 = vol.lookup(d9.id(), "d10").unwrap();
    assert_eq!(d10.kind(), FileType::Directory);
    assert_eq!(vol.lookup(d10.id(), "..").unwrap().id(), d9.id());

    let p = vol.resolve("private.txt", true).unwrap();
    assert_eq!(p.attr().mode, 0o640, "{tool}");
    assert_eq!((p.attr().uid, p.attr().gid), (1234, 5678), "{tool}");
    assert_eq!(vol.resolve("setuid", true).unwrap().attr().mode, 0o4755);

    let rel = vol.resolve("rel", false).unwrap();
    assert_eq!(rel.kind(), FileType::Symlink);
    assert_eq!(rel.link_target(), Some("d1/d2/../d2"));
    assert_eq!(rel.attr().size, 11);
    assert_eq!(
        vol.resolve("abs", false).unwrap().link_target(),
        Some("/etc/passwd")
    );
    assert_eq!(
        vol.resolve("rel", true).unwrap().id(),
        vol.resolve("d1/d2", true).unwrap().id()
    );

    assert_eq!(vol.resolve("fifo", false).unwrap().kind(), FileType::Fifo);
    let null = vol.resolve("null", false).unwrap();
    assert_eq!(null.kind(), FileType::CharDevice, "{tool}");
    assert_eq!(
        null.attr().rdev,
        Some(fs_core::DeviceNumber { major: 1, minor: 3 }),
        "{tool}"
    );

    let h1 = vol.resolve("h1", true).unwrap();
    let h2 = vol.resolve("h2", true).unwrap();
    assert_eq!(h1.attr().mtime.secs, 2_208_988_800, "{tool}");
    assert_eq!(read_all(&vol, h2.id(), 5).unwrap(), b"hard\n");
    // xorriso --hardlinks writes RRIP 1.12 PX with file serial numbers: links share
    // an inode. genisoimage writes no serial (RRIP 1.09): ids stay apart.
    if tool == "xorriso" {
        assert_eq!(h1.attr().nlink, 2, "{tool}");
        assert_eq!(h1.attr().inode, h2.attr().inode, "{tool}");
        assert_ne!(h1.attr().inode & (1 << 63), 0, "{tool}");
    }
    // The plain view of the same image shows the ISO names.
    let plain = open(iso, Some(View::Iso9660));
    let names: Vec<_> = walk(&plain).into_keys().collect();
    assert!(
        names.iter().any(|n| n.eq_ignore_ascii_case("PRIVATE.TXT")),
        "{names:?}"
    );
}

#[test]
fn rock_ridge_genisoimage_and_xorriso() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    rr_tree(&src);
    let g = tmp.path().join("g.iso");
    run(Command::new("genisoimage")
        .args(["-quiet", "-R", "-J", "-o"])
        .arg(&g)
        .arg(&src));
    check_rr(&g, "genisoimage");
    let x = tmp.path().join("x.iso");
    run(Command::new("xorriso")
        .args(["-as", "mkisofs", "-quiet", "-R", "-J", "--hardlinks", "-o"])
        .arg(&x)
        .arg(&src));
    check_rr(&x, "xorriso");
    let rel = open(&x, None).resolve("rel", false).unwrap().attr().mtime;
    assert_eq!(rel.secs, -144_720_000);
}
