//! The `isomount` commands on every fixture: `ls -R --json` and `cat` agree
//! with the source tree, and `extract` rebuilds it, as seen by the same
//! independent manifest script that described the source tree.

mod common;

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

use common::{
    Keys, Listing, assert_listing, corpus, entry, fixtures, isomount, load_ref, repo, sha256_hex,
};
use serde_json::Value;

fn run(args: &[&OsStr]) -> Vec<u8> {
    let out = isomount(args);
    assert!(
        out.status.success(),
        "isomount {:?} failed ({}): {}",
        args,
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `ls -R --json` plus `cat` of every file, into the `ref.jsonl` shape.
fn cli_listing(image: &Path, view: Option<&str>) -> Listing {
    // The references are the trees xorriso/osirrox see: no El Torito [BOOT].
    let mut base: Vec<&OsStr> = vec![OsStr::new("--no-boot-dir")];
    if let Some(v) = view {
        base.extend([OsStr::new("--view"), OsStr::new(v)]);
    }
    let mut args = base.clone();
    args.extend([
        OsStr::new("ls"),
        OsStr::new("-R"),
        OsStr::new("--json"),
        image.as_os_str(),
    ]);
    let out = run(&args);
    let mut listing = Listing::new();
    for line in String::from_utf8(out).expect("UTF-8 JSON").lines() {
        let v: serde_json::Map<String, Value> =
            serde_json::from_str(line).expect("one JSON object per line");
        let keys: Vec<&String> = v.keys().collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted, "keys are in alphabetical order: {line}");
        for k in [
            "path", "name", "type", "size", "mode", "nlink", "uid", "gid", "inode", "mtime",
            "hidden",
        ] {
            assert!(v.contains_key(k), "ls --json line lacks {k}: {line}");
        }
        let path = v["path"].as_str().unwrap();
        assert!(path.starts_with('/'), "{path}");
        let rel = path.trim_start_matches('/').to_string();
        assert_eq!(rel.rsplit('/').next().unwrap(), v["name"].as_str().unwrap());
        let kind = v["type"].as_str().unwrap();
        let sha = (kind == "file").then(|| {
            let mut a = base.clone();
            a.extend([OsStr::new("cat"), image.as_os_str(), OsStr::new(path)]);
            sha256_hex(&run(&a))
        });
        let rdev = v.get("rdev").map(|r| {
            (
                r["major"].as_u64().unwrap() as u32,
                r["minor"].as_u64().unwrap() as u32,
            )
        });
        let row = entry(
            kind,
            v["size"].as_u64().unwrap(),
            sha,
            v.get("target").and_then(Value::as_str).map(str::to_owned),
            v["mode"].as_u64().unwrap() as u32,
            v["mtime"].as_i64().unwrap(),
            v["uid"].as_u64().unwrap() as u32,
            v["gid"].as_u64().unwrap() as u32,
            rdev,
            v["inode"].as_u64().unwrap(),
        );
        assert!(listing.insert(rel, row).is_none(), "{path} listed twice");
    }
    listing
}

#[test]
fn ls_json_and_cat_match_every_fixture() {
    let dir = fixtures();
    let no_links = Keys {
        links: false,
        ..Keys::ALL
    };
    let cases: [(&str, Keys, Option<&str>); 5] = [
        ("rr", Keys::ALL, None),
        ("geniso", no_links, None),
        ("joliet", Keys::BASIC, None),
        ("plain", Keys::BASIC, None),
        ("rr", Keys::ALL, Some("rockridge")),
    ];
    for (name, keys, view) in cases {
        let image = dir.join(format!("{name}.iso"));
        let expected = load_ref(&dir.join(format!("{name}.ref.jsonl")));
        assert_listing(
            &format!("{name}.iso (CLI, view {view:?})"),
            &expected,
            &cli_listing(&image, view),
            keys,
        );
    }
    let grub = corpus("grub-rescue-cdrom.iso");
    assert_listing(
        "grub-rescue-cdrom.iso (CLI)",
        &load_ref(&corpus("grub-rescue-cdrom.ref.jsonl")),
        &cli_listing(&grub, None),
        no_links,
    );
}

/// Runs ci/tree-manifest.py over an extracted tree.
fn manifest(tree: &Path) -> Listing {
    let out = Command::new("python3")
        .arg(repo().join("ci/tree-manifest.py"))
        .arg(tree)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tmp = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(tmp.path(), &out.stdout).unwrap();
    load_ref(tmp.path())
}

#[test]
fn extract_rebuilds_the_source_tree() {
    let dir = fixtures();
    for name in ["rr", "joliet", "plain"] {
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("out");
        let image = dir.join(format!("{name}.iso"));
        run(&[
            OsStr::new("extract"),
            image.as_os_str(),
            OsStr::new("-C"),
            dest.as_os_str(),
        ]);
        let expected = load_ref(&dir.join(format!("{name}.ref.jsonl")));
        let got = manifest(&dest);
        // The manifest of the extracted tree has the same keys as the
        // expected one, link groups included: compare whole objects.
        let mut problems = Vec::new();
        for (path, exp) in &expected {
            match got.get(path) {
                None => problems.push(format!("missing {path}")),
                Some(g) => {
                    for (k, v) in exp {
                        // Joliet and plain ISO 9660 carry no permissions or owners.
                        if name != "rr" && matches!(k.as_str(), "mode" | "uid" | "gid") {
                            continue;
                        }
                        if g.get(k) != Some(v) {
                            problems.push(format!("{path}: {k} = {:?}, expected {v}", g.get(k)));
                        }
                    }
                }
            }
        }
        for path in got.keys() {
            if !expected.contains_key(path) {
                problems.push(format!("unexpected {path}"));
            }
        }
        assert!(
            problems.is_empty(),
            "extract of {name}.iso:\n  {}",
            problems.join("\n  ")
        );
    }
}

#[test]
fn extract_of_a_subtree_and_of_one_file() {
    let dir = fixtures();
    let image = dir.join("rr.iso");
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("sub");
    run(&[
        OsStr::new("extract"),
        image.as_os_str(),
        OsStr::new("/nested/a/b"),
        OsStr::new("-C"),
        dest.as_os_str(),
    ]);
    let deep = walkdir_find(&dest, "deep.txt").expect("deep.txt extracted under the subtree");
    assert_eq!(std::fs::read_to_string(deep).unwrap(), "deep\n");
    assert!(
        walkdir_find(&dest, "hello.txt").is_none(),
        "only the subtree"
    );
    let one = tmp.path().join("one");
    run(&[
        OsStr::new("extract"),
        image.as_os_str(),
        OsStr::new("straddle.bin"),
        OsStr::new("-C"),
        one.as_os_str(),
    ]);
    let expected = load_ref(&dir.join("rr.ref.jsonl"));
    let f = walkdir_find(&one, "straddle.bin").expect("file extracted");
    assert_eq!(
        sha256_hex(&std::fs::read(f).unwrap()),
        expected["straddle.bin"]["sha256"].as_str().unwrap()
    );
}

fn walkdir_find(root: &Path, name: &str) -> Option<std::path::PathBuf> {
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).ok()?.flatten() {
            let p = e.path();
            if e.file_name() == name {
                return Some(p);
            }
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            }
        }
    }
    None
}

#[test]
fn info_json_describes_the_volume() {
    let image = fixtures().join("rr.iso");
    let out = run(&[OsStr::new("info"), OsStr::new("--json"), image.as_os_str()]);
    let v: Value = serde_json::from_slice(&out).expect("info --json is one JSON object");
    assert_eq!(v["view"], "rockridge");
    assert_eq!(v["label"], "ISOMOUNT_RR");
    assert_eq!(v["block_size"], 2048);
    let views: Vec<&str> = v["views"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    assert_eq!(views, ["rockridge", "joliet", "iso9660"]);
    let len = std::fs::metadata(&image).unwrap().len();
    assert_eq!(v["image_size"], len);
    assert_eq!(v["volume_blocks"].as_u64().unwrap() * 2048, len);
    assert!(
        v["created"].as_str().unwrap().starts_with("20"),
        "{}",
        v["created"]
    );
    // Cross-check the ids with isoinfo, an independent reader.
    let iso = Command::new("isoinfo")
        .arg("-d")
        .arg("-i")
        .arg(&image)
        .output()
        .expect("isoinfo (genisoimage)");
    let text = String::from_utf8_lossy(&iso.stdout);
    assert!(text.contains("Volume id: ISOMOUNT_RR"), "{text}");
    let text_out = run(&[OsStr::new("info"), image.as_os_str()]);
    let text_out = String::from_utf8_lossy(&text_out);
    assert!(
        text_out.contains("ISOMOUNT_RR") && text_out.contains("rockridge"),
        "{text_out}"
    );
}

#[test]
fn bad_input_gives_a_clear_error_and_exit_1() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("notiso.bin");
    std::fs::write(&bad, vec![7u8; 100_000]).unwrap();
    let image = fixtures().join("rr.iso");
    let cases: Vec<(Vec<&OsStr>, &str)> = vec![
        (
            vec![OsStr::new("ls"), bad.as_os_str()],
            "not a recognised disc image",
        ),
        (
            vec![OsStr::new("info"), OsStr::new("/nonexistent/x.iso")],
            "x.iso",
        ),
        (
            vec![OsStr::new("cat"), image.as_os_str(), OsStr::new("/no/such")],
            "not found",
        ),
        (
            vec![OsStr::new("cat"), image.as_os_str(), OsStr::new("/nested")],
            "directory",
        ),
        (
            vec![
                OsStr::new("--view"),
                OsStr::new("udf"),
                OsStr::new("ls"),
                image.as_os_str(),
            ],
            "udf",
        ),
    ];
    for (args, needle) in cases {
        let out = isomount(&args);
        let msg = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {msg}");
        assert!(
            msg.to_lowercase().contains(needle),
            "{args:?}: {msg:?} lacks {needle:?}"
        );
        assert!(!msg.contains("panicked"), "{msg}");
    }
}
