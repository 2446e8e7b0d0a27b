//! The examples in `examples/` do what their doc comments say, on the doc
//! image (`tests/data/doc.iso`, checked against its tree by
//! `tests/doc_image.rs`) and on a bootable image xorriso makes here. Each
//! example's `run` is called in-process (the file is included as a module),
//! so no second cargo is started; `cargo test` builds the binaries anyway.
#![cfg(unix)]
// the bootable image is made with xorriso and touch
// Test code: panicking on a failed expectation is the point.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

#[allow(dead_code)] // its `main`
#[path = "../examples/cat.rs"]
mod cat;
#[allow(dead_code)]
#[path = "../examples/info.rs"]
mod info;
#[path = "support/tool.rs"]
mod tool;
#[allow(dead_code)]
#[path = "../examples/walk.rs"]
mod walk;
use tool::run;

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

fn doc_iso() -> String {
    data().join("doc.iso").to_str().unwrap().to_string()
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// A local tree: relative '/'-separated path → bytes (`None`: a directory).
fn local_tree(root: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
    fn rec(root: &Path, dir: &Path, out: &mut BTreeMap<String, Option<Vec<u8>>>) {
        for e in fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let rel: Vec<_> = p
                .strip_prefix(root)
                .unwrap()
                .components()
                .map(|c| c.as_os_str().to_str().unwrap().to_string())
                .collect();
            if p.is_dir() {
                out.insert(rel.join("/"), None);
                rec(root, &p, out);
            } else {
                out.insert(rel.join("/"), Some(fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = BTreeMap::new();
    rec(root, root, &mut out);
    out
}

/// What `walk` printed, as path → (type letter, size), the root left out.
fn walk_lines(text: &str) -> BTreeMap<String, (char, u64)> {
    text.lines()
        .filter_map(|line| {
            let (kind, rest) = line.split_once(' ').unwrap();
            let (size, path) = rest.trim_start().split_once(' ').unwrap();
            let path = path.strip_prefix('/').unwrap();
            let kind = kind.chars().next().unwrap();
            (!path.is_empty()).then(|| (path.to_string(), (kind, size.parse().unwrap())))
        })
        .collect()
}

/// The tree as `walk` should print it: directories `d` (their size is the
/// image's, not the tree's, so not compared), files `f` with their length.
fn expected_walk(tree: &BTreeMap<String, Option<Vec<u8>>>) -> BTreeMap<String, char> {
    tree.iter()
        .map(|(p, v)| (p.clone(), if v.is_some() { 'f' } else { 'd' }))
        .collect()
}

fn run_walk(a: &[&str]) -> (String, String, bool) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let complete = walk::run(&args(a), &mut out, &mut err).unwrap();
    (
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
        complete,
    )
}

#[test]
fn walk_lists_the_tree_the_image_was_made_from() {
    let tree = local_tree(&data().join("doc-tree"));
    let iso = doc_iso();
    for a in [vec![iso.as_str()], vec![iso.as_str(), "--view", "joliet"]] {
        let (out, err, complete) = run_walk(&a);
        assert!(complete && err.is_empty(), "{err}");
        let lines = walk_lines(&out);
        let kinds: BTreeMap<String, char> =
            lines.iter().map(|(p, (k, _))| (p.clone(), *k)).collect();
        assert_eq!(kinds, expected_walk(&tree), "{a:?}:\n{out}");
        for (path, content) in &tree {
            if let Some(bytes) = content {
                assert_eq!(lines[path].1, bytes.len() as u64, "{path}");
            }
        }
        // find's order: every entry after its directory, and a directory's
        // whole subtree before its next sibling.
        let order: Vec<&str> = out.lines().map(|l| l.rsplit(' ').next().unwrap()).collect();
        for (i, path) in order.iter().enumerate().skip(1) {
            let parent = &path[..path.rfind('/').unwrap()];
            let parent = if parent.is_empty() { "/" } else { parent };
            let at = order.iter().position(|p| *p == parent).unwrap();
            assert!(at < i, "{path} printed before its directory");
            assert!(
                order[at..i].iter().all(|p| p.starts_with(parent)),
                "{path}: its directory's subtree is interrupted:\n{out}"
            );
        }
    }
}

#[test]
fn walk_reports_a_missing_view_and_bad_arguments() {
    let iso = doc_iso();
    let mut sink = Vec::new();
    let e = walk::run(&args(&[&iso, "--view", "udf"]), &mut sink, &mut Vec::new()).unwrap_err();
    assert!(e.to_string().contains("no udf view"), "{e}");
    let e = walk::run(&args(&[&iso, "--view", "nope"]), &mut sink, &mut Vec::new()).unwrap_err();
    assert!(e.to_string().contains("unknown view"), "{e}");
    let e = walk::run(&args(&[]), &mut sink, &mut Vec::new()).unwrap_err();
    assert!(e.to_string().contains("usage"), "{e}");
    let missing = data().join("no-such.iso");
    let e = walk::run(
        &args(&[missing.to_str().unwrap()]),
        &mut sink,
        &mut Vec::new(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("no-such.iso"), "{e}");
}

fn run_cat(a: &[&str]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    cat::run(&args(a), &mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

#[test]
fn cat_copies_every_file_of_the_doc_image() {
    let tree = local_tree(&data().join("doc-tree"));
    let iso = doc_iso();
    for (path, content) in &tree {
        let got = run_cat(&[&iso, &format!("/{path}")]);
        match content {
            Some(bytes) => assert_eq!(&got.unwrap(), bytes, "{path}"),
            None => assert!(got.unwrap_err().contains("not a regular file"), "{path}"),
        }
    }
    let e = run_cat(&[&iso, "/docs/missing.txt"]).unwrap_err();
    assert!(e.contains("not found"), "{e}");
    assert!(run_cat(&[&iso]).unwrap_err().contains("usage"));
}

/// Volume identifier of the primary volume descriptor (ECMA-119 8.4.6:
/// sector 16, bytes 40-71, padded with spaces), read straight from the image.
fn pvd_volume_id(image: &Path) -> String {
    let bytes = fs::read(image).unwrap();
    let pvd = &bytes[16 * 2048..17 * 2048];
    assert_eq!(&pvd[..6], b"\x01CD001", "a primary volume descriptor");
    String::from_utf8(pvd[40..72].to_vec())
        .unwrap()
        .trim_end()
        .to_string()
}

fn run_info(image: &str) -> String {
    let mut out = Vec::new();
    info::run(&args(&[image]), &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// The value of `label` in info's output.
fn info_row<'a>(out: &'a str, label: &str) -> Vec<&'a str> {
    out.lines()
        .filter_map(|l| l.strip_prefix(label))
        .filter(|rest| rest.starts_with(' '))
        .map(str::trim)
        .collect()
}

#[test]
fn info_describes_the_doc_image() {
    let iso = doc_iso();
    let out = run_info(&iso);
    let label = pvd_volume_id(&data().join("doc.iso"));
    assert_eq!(info_row(&out, "Label"), [label.as_str()], "{out}");
    assert_eq!(info_row(&out, "Format"), ["ISO 9660"], "{out}");
    let size = fs::metadata(&iso).unwrap().len();
    assert_eq!(
        info_row(&out, "Image size"),
        [format!("{size} bytes").as_str()]
    );
    // xorriso -r -J: Rock Ridge and Joliet on the primary tree.
    let views = info_row(&out, "  view");
    assert_eq!(views.len(), 3, "{out}");
    assert!(views[0].starts_with("rockridge"), "{out}");
    assert_eq!(info_row(&out, "Boot images").len(), 1, "{out}");
    assert!(run_info_err(&[]).contains("usage"));
}

fn run_info_err(a: &[&str]) -> String {
    info::run(&args(a), &mut Vec::new())
        .unwrap_err()
        .to_string()
}

#[test]
fn info_shows_el_torito_boot_images_and_cat_streams_a_large_file() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    fs::create_dir_all(tree.join("boot")).unwrap();
    // A boot image of 4 virtual 512-byte sectors (El Torito 2.2 sector count).
    let boot: Vec<u8> = (0..2048u32).map(|i| (i * 7 % 251) as u8).collect();
    fs::write(tree.join("boot/boot.img"), &boot).unwrap();
    // Larger than cat's 64 KiB buffer, and not a multiple of it or of 2048.
    let big: Vec<u8> = (0..300_001u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    fs::write(tree.join("big.bin"), &big).unwrap();
    let iso = dir.path().join("boot.iso");
    run(Command::new("xorriso")
        .args(["-as", "mkisofs", "-quiet", "-r", "-J", "-V", "BOOTTEST"])
        .args([
            "-b",
            "boot/boot.img",
            "-no-emul-boot",
            "-boot-load-size",
            "4",
        ])
        .arg("-o")
        .arg(&iso)
        .arg(&tree));
    let iso = iso.to_str().unwrap();

    let out = run_info(iso);
    let boot_rows = info_row(&out, "Boot image");
    assert_eq!(boot_rows.len(), 1, "{out}");
    // What was asked of xorriso: -b (platform x86, bootable), -no-emul-boot,
    // -boot-load-size 4; the size shown is the file's (4 x 512 = 2048).
    let row = boot_rows[0];
    for want in [
        "BIOS",
        "bootable",
        "no-emulation",
        "4 sectors of 512 bytes",
        &format!("({} bytes)", boot.len()),
    ] {
        assert!(row.contains(want), "{want:?} not in {row:?}");
    }
    // The [BOOT] directory the volume adds holds that image: walk shows it
    // and cat reads the same bytes as the file it came from.
    let (walked, _, complete) = run_walk(&[iso]);
    assert!(complete);
    let name = row.split(' ').next().unwrap();
    assert!(walked.contains(&format!("/[BOOT]/{name}")), "{walked}");
    assert_eq!(run_cat(&[iso, &format!("/[BOOT]/{name}")]).unwrap(), boot);

    assert_eq!(run_cat(&[iso, "big.bin"]).unwrap(), big);
}
