//! UDF images made by tools that are not ours (genisoimage, mkudffs +
//! udfclient) and by the small test writer ci/udf_writer.py (cross-checked
//! with 7-Zip), read through the library, the CLI (`ls -R --json`, `cat`,
//! `extract`, `info`) and a real FUSE mount, each compared with the source
//! tree, and our listing compared with 7-Zip's. See ci/udf-fixtures.sh for
//! what each image holds and how it was verified.

#![cfg(unix)] // its images are built with Linux tools (genisoimage, udftools, udfclient, 7z)

mod common;

use std::ffi::OsStr;
use std::fs;
use std::path::Path;
use std::process::Command;

use common::mount::{Mount, mount_listing};
use common::walk::{read_all, volume_listing};
use common::{
    Keys, Listing, assert_listing, entry, fuse_available, isomount, load_ref, repo,
    seven_zip_listing, sha256_hex, udf_fixtures, udfinfo_field,
};
use fs_core::{OpenOptions, View, Volume};
use serde_json::Value;

/// Every small fixture: image file name, and what it is.
const FIXTURES: &[(&str, &str)] = &[
    (
        "win7.iso",
        "genisoimage -udf bridge shaped like Windows 7 media",
    ),
    ("udf102.img", "mkudffs 1.02 + udfclient"),
    ("udf150.img", "mkudffs 1.50 + udfclient"),
    ("udf201.img", "mkudffs 2.01 + udfclient"),
    ("sparable.img", "mkudffs cdrw (sparable) + udfclient"),
    ("vat.img", "mkudffs cdr: VAT, empty"),
    ("vat150.img", "mkudffs cdr 1.50: the 1.50 VAT form, empty"),
    ("bdr.img", "mkudffs bdr: UDF 2.50 VAT, empty"),
    ("udf250.img", "udf_writer 2.50 metadata partition"),
    ("udf260.img", "udf_writer 2.60 metadata partition"),
    ("udfextra.img", "udf_writer 2.50: symlinks, AEDs, sparse"),
    ("badvds.img", "udf201 with a damaged main VDS"),
    ("badmeta.img", "udf250 with a damaged main metadata file"),
];

fn stem(image: &str) -> &str {
    image.rsplit_once('.').map_or(image, |(s, _)| s)
}

fn ref_of(image: &str) -> Listing {
    load_ref(&udf_fixtures().join(format!("{}.ref.jsonl", stem(image))))
}

/// Runs `check` on every fixture and reports all failures at once, so one
/// broken image does not hide the state of the others.
fn for_each_fixture(what: &str, check: impl Fn(&str, &Path)) {
    let dir = udf_fixtures();
    let mut failed = Vec::new();
    for (image, about) in FIXTURES {
        let path = dir.join(image);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(image, &path)));
        if let Err(e) = r {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failed.push(format!("{image} ({about}): {msg}"));
        }
    }
    assert!(
        failed.is_empty(),
        "{what}: {} of {} fixtures failed:\n\n{}",
        failed.len(),
        FIXTURES.len(),
        failed.join("\n\n")
    );
}

fn open(path: &Path, view: Option<View>) -> Volume {
    let opts = OpenOptions {
        view,
        ..OpenOptions::default()
    };
    Volume::open_path(path, &opts).unwrap_or_else(|e| panic!("open {}: {e}", path.display()))
}

#[test]
fn library_walk_matches_every_source_tree() {
    for_each_fixture("library walk", |image, path| {
        let vol = open(path, None);
        assert_eq!(vol.view(), View::Udf, "the UDF view wins by default");
        assert!(vol.info().views.contains(&View::Udf));
        assert!(
            vol.info().format.contains("UDF"),
            "format {:?}",
            vol.info().format
        );
        assert_listing(
            &format!("{image} (library)"),
            &ref_of(image),
            &volume_listing(&vol),
            Keys::ALL,
        );
    });
}

#[test]
fn label_and_revision_agree_with_udfinfo() {
    for_each_fixture("label/revision", |image, path| {
        let info = udf_fixtures().join(format!("{}.udfinfo.txt", stem(image)));
        let lvid = udfinfo_field(&info, "lvid")
            .unwrap_or_else(|| panic!("{}: no lvid (udfinfo failed?)", info.display()));
        let vol = open(path, None);
        assert_eq!(vol.info().label, lvid, "label = logical volume identifier");
        assert_eq!(vol.info().block_size, 2048);
        let rev = udfinfo_field(&info, "udfrev").expect("udfrev");
        // badvds.img's main LVD is damaged, but its reserve one says the same.
        assert!(
            vol.info().format.contains(&format!("UDF {rev}")),
            "format {:?}, udfinfo says revision {rev}",
            vol.info().format
        );
        let ids: Vec<&str> = vol.info().ids.iter().map(|(k, _)| *k).collect();
        assert!(ids.contains(&"logical_volume_id"), "{ids:?}");
    });
}

#[test]
fn our_listing_agrees_with_7zip() {
    // 7-Zip opens neither sparable nor VAT partitions and rejects images
    // with symlinks or indirect entries: those are checked with udfinfo /
    // udfclient by
    // ci/udf-fixtures.sh instead. For badvds/badmeta the listing is of the
    // undamaged twin (7-Zip has no fallback), which ours must equal.
    let no_7z = [
        "sparable.img",
        "vat.img",
        "vat150.img",
        "bdr.img",
        "udfextra.img",
    ];
    for_each_fixture("7-Zip comparison", |image, path| {
        if no_7z.contains(&image) {
            return;
        }
        let theirs = seven_zip_listing(&udf_fixtures().join(format!("{}.7z.txt", stem(image))));
        let ours = volume_listing(&open(path, None));
        let mut problems = Vec::new();
        for (p, e) in &theirs {
            match ours.get(p) {
                None => problems.push(format!("only 7-Zip lists {p}")),
                Some(o) => {
                    let is_dir = o["type"] == "dir";
                    if is_dir != e.dir {
                        problems.push(format!("{p}: dir {is_dir}, 7-Zip says {}", e.dir));
                    }
                    if let Some(size) = e.size {
                        if o.get("size").and_then(Value::as_u64) != Some(size) {
                            problems.push(format!("{p}: size {:?}, 7-Zip {size}", o.get("size")));
                        }
                    }
                }
            }
        }
        for p in ours.keys() {
            if !theirs.contains_key(p) {
                problems.push(format!("only isomount lists {p}"));
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    });
}

#[test]
fn win7_bridge_shows_udf_and_reports_the_stub_iso_side() {
    let image = udf_fixtures().join("win7.iso");
    let vol = open(&image, None);
    assert_eq!(vol.view(), View::Udf);
    for v in [View::Udf, View::Joliet, View::Iso9660] {
        assert!(vol.info().views.contains(&v), "{:?}", vol.info().views);
    }
    assert_eq!(vol.info().label, "GRMCULFRER_EN_DVD");
    // install.wim: 300 MiB, mostly zeros, markers read back.
    let wim = vol
        .resolve("sources/install.wim", false)
        .expect("install.wim");
    assert_eq!(wim.attr().size, 300 << 20);
    let mut head = [0u8; 8];
    vol.read(wim.id(), 0, &mut head).unwrap();
    assert_eq!(&head, b"MSWIM\0\0\0");
    let mut tail = [0u8; 10];
    vol.read(wim.id(), (300 << 20) - 10, &mut tail).unwrap();
    assert_eq!(&tail, b"END-OF-WIM");
    let many = vol.resolve("sources/dlmanifests", false).unwrap();
    assert_eq!(vol.read_dir(many.id()).unwrap().len(), 3000);

    // The ISO 9660 and Joliet sides hold only README.TXT (isoinfo agrees,
    // ci/udf-fixtures.sh checked).
    for (view, name) in [(View::Iso9660, "README.TXT"), (View::Joliet, "README.TXT")] {
        let v = open(&image, Some(view));
        assert_eq!(v.view(), view);
        let root = v.read_dir(v.root()).unwrap();
        let names: Vec<&str> = root.entries().iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, [name], "{view:?} root");
    }

    // info --json: every view with its root entry count; the stub reported.
    let udf_root = ref_of("win7.iso")
        .keys()
        .filter(|p| !p.contains('/'))
        .count();
    let out = run(&[OsStr::new("info"), OsStr::new("--json"), image.as_os_str()]);
    let v: Value = serde_json::from_slice(&out).expect("info --json is JSON");
    assert_eq!(v["view"], "udf");
    assert_eq!(v["label"], "GRMCULFRER_EN_DVD");
    assert_eq!(v["view_roots"]["udf"], udf_root, "{}", v["view_roots"]);
    assert_eq!(v["view_roots"]["joliet"], 1, "{}", v["view_roots"]);
    assert_eq!(v["view_roots"]["iso9660"], 1, "{}", v["view_roots"]);
    let side = v["extra"]["ISO 9660 side"]
        .as_str()
        .unwrap_or_else(|| panic!("extra lacks \"ISO 9660 side\": {}", v["extra"]));
    assert!(side.to_lowercase().contains("stub"), "{side}");

    // --view iso9660 works, shows the stub, and warns about it.
    let out = isomount(&[
        OsStr::new("--view"),
        OsStr::new("iso9660"),
        OsStr::new("ls"),
        image.as_os_str(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "README.TXT");
    let warn = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(
        warn.contains("stub") || warn.contains("udf"),
        "--view iso9660 on a stub should warn: {warn:?}"
    );
}

#[test]
fn damaged_main_structures_fall_back_and_say_so() {
    let dir = udf_fixtures();
    let meta = open(&dir.join("badmeta.img"), None);
    let extra: Vec<String> = meta
        .info()
        .extra
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    assert!(
        extra
            .iter()
            .any(|e| e.starts_with("Metadata file") && e.contains("mirror")),
        "badmeta.img: info should say the mirror metadata file is used: {extra:?}"
    );
    let good = open(&dir.join("udf250.img"), None);
    let extra: Vec<String> = good
        .info()
        .extra
        .iter()
        .map(|(k, _)| k.to_string())
        .collect();
    assert!(
        good.info()
            .extra
            .iter()
            .all(|(k, v)| !(k.starts_with("Metadata file") && v.contains("damaged"))),
        "udf250.img is not damaged: {extra:?}"
    );
    // badvds.img opens from the reserve VDS (the library walk test checks
    // its whole tree); the partition maps are reported.
    let vds = open(&dir.join("badvds.img"), None);
    assert!(vds.read_dir(vds.root()).unwrap().len() > 5);
}

#[test]
fn partition_types_are_reported() {
    let dir = udf_fixtures();
    for (image, want) in [
        ("sparable.img", "sparable"),
        ("vat.img", "virtual"),
        ("vat150.img", "virtual"),
        ("bdr.img", "virtual"),
        ("udf250.img", "metadata"),
        ("udf201.img", "physical"),
    ] {
        let vol = open(&dir.join(image), None);
        let maps = vol
            .info()
            .extra
            .iter()
            .find(|(k, _)| *k == "Partition maps")
            .map(|(_, v)| v.to_lowercase())
            .unwrap_or_else(|| panic!("{image}: no \"Partition maps\" in {:?}", vol.info().extra));
        assert!(maps.contains(want), "{image}: {maps:?} lacks {want}");
        if ["vat.img", "vat150.img", "bdr.img"].contains(&image) {
            assert!(vol.read_dir(vol.root()).unwrap().is_empty(), "{image}");
        }
    }
}

#[test]
fn hard_links_share_a_node_and_symlinks_resolve() {
    let vol = open(&udf_fixtures().join("udfextra.img"), None);
    let a = vol.resolve("hard-a.txt", false).unwrap();
    let b = vol.resolve("hard-b.txt", false).unwrap();
    let c = vol.resolve("nested/hard-c.txt", false).unwrap();
    assert_eq!(a.id(), b.id());
    assert_eq!(a.id(), c.id());
    assert_eq!(a.attr().nlink, 3);
    assert_eq!(
        vol.read_link(vol.resolve("rel-link", false).unwrap().id())
            .unwrap(),
        "hello.txt"
    );
    let via = vol
        .resolve("dir-link/up-link", true)
        .expect("follow two links");
    assert_eq!(via.id(), vol.resolve("hello.txt", false).unwrap().id());
    // The sparse file: holes read as zeros, markers around them.
    let s = vol.resolve("sparse.bin", false).unwrap();
    let data = read_all(&vol, s.id(), s.attr().size);
    assert_eq!(&data[..12], b"SPARSE-START");
    assert_eq!(&data[data.len() - 10..], b"SPARSE-END");
    assert!(data[4096..1 << 20].iter().all(|&b| b == 0));
    assert!(
        s.attr().allocated < s.attr().size,
        "holes take no space: {} of {}",
        s.attr().allocated,
        s.attr().size
    );
}

// ------------------------------------------------------------------- CLI

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
fn cli_listing(image: &Path) -> Listing {
    let out = run(&[
        OsStr::new("ls"),
        OsStr::new("-R"),
        OsStr::new("--json"),
        image.as_os_str(),
    ]);
    let mut listing = Listing::new();
    for line in String::from_utf8(out).expect("UTF-8 JSON").lines() {
        let v: serde_json::Map<String, Value> =
            serde_json::from_str(line).expect("one JSON object per line");
        let path = v["path"].as_str().unwrap();
        assert!(path.starts_with('/'), "{path}");
        let kind = v["type"].as_str().unwrap();
        // `cat` every non-empty file (thousands of empty ones would cost a
        // process each for nothing: their digest is known).
        let sha = (kind == "file").then(|| {
            if v["size"].as_u64() == Some(0) {
                sha256_hex(b"")
            } else {
                sha256_hex(&run(&[
                    OsStr::new("cat"),
                    image.as_os_str(),
                    OsStr::new(path),
                ]))
            }
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
            None,
            v["inode"].as_u64().unwrap(),
        );
        let rel = path.trim_start_matches('/').to_string();
        assert!(listing.insert(rel, row).is_none(), "{path} listed twice");
    }
    listing
}

#[test]
fn cli_ls_json_and_cat_match_every_source_tree() {
    for_each_fixture("CLI ls/cat", |image, path| {
        assert_listing(
            &format!("{image} (CLI)"),
            &ref_of(image),
            &cli_listing(path),
            Keys::ALL,
        );
    });
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
    fs::write(tmp.path(), &out.stdout).unwrap();
    load_ref(tmp.path())
}

#[test]
fn extract_rebuilds_every_source_tree() {
    for_each_fixture("extract", |image, path| {
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("out");
        run(&[
            OsStr::new("extract"),
            path.as_os_str(),
            OsStr::new("-C"),
            dest.as_os_str(),
        ]);
        let expected = ref_of(image);
        let got = manifest(&dest);
        let mut problems = Vec::new();
        for (p, exp) in &expected {
            match got.get(p) {
                None => problems.push(format!("missing {p}")),
                Some(g) => {
                    for (k, v) in exp {
                        if g.get(k) != Some(v) {
                            problems.push(format!("{p}: {k} = {:?}, expected {v}", g.get(k)));
                        }
                    }
                }
            }
        }
        for p in got.keys() {
            if !expected.contains_key(p) {
                problems.push(format!("unexpected {p}"));
            }
        }
        // Read-only directories (win7.iso) must not stop the clean-up.
        let _ = Command::new("chmod")
            .arg("-R")
            .arg("u+rwx")
            .arg(&dest)
            .status();
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    });
}

// ------------------------------------------------------------------ FUSE

#[test]
fn fuse_mount_matches_every_source_tree() {
    if !fuse_available() {
        return;
    }
    for_each_fixture("FUSE mount", |image, path| {
        let m = Mount::new(path, &[]);
        assert_listing(
            &format!("{image} (FUSE)"),
            &ref_of(image),
            &mount_listing(&m.mnt),
            Keys::ALL,
        );
    });
}

#[test]
fn forced_udf_view_on_an_iso_only_image_fails_clearly() {
    // plain ISO 9660 (no UDF): --view udf is refused with a clear error.
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    fs::create_dir(&src).unwrap();
    fs::write(src.join("A.TXT"), b"a\n").unwrap();
    let iso = tmp.path().join("plain.iso");
    let st = Command::new("genisoimage")
        .args(["-quiet", "-o"])
        .arg(&iso)
        .arg(&src)
        .status()
        .expect("genisoimage");
    assert!(st.success());
    let out = isomount(&[
        OsStr::new("--view"),
        OsStr::new("udf"),
        OsStr::new("ls"),
        iso.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let msg = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(msg.contains("udf") && !msg.contains("panicked"), "{msg}");
    // And --view udf on the bridge is the default view, forced.
    let vol = open(&udf_fixtures().join("win7.iso"), Some(View::Udf));
    assert_eq!(vol.view(), View::Udf);
}

#[test]
fn node_ids_are_file_entry_offsets_and_hidden_entries_are_marked() {
    // The writer's map gives the byte offset of every (extended) file
    // entry; the contract makes that the node id (after indirect entries).
    for name in ["udf250", "udfextra"] {
        let dir = udf_fixtures();
        let m: Value = serde_json::from_str(
            &fs::read_to_string(dir.join(format!("{name}.map.json"))).unwrap(),
        )
        .unwrap();
        let vol = open(&dir.join(format!("{name}.img")), None);
        let mut wrong = Vec::new();
        for (path, offset) in m["efe"].as_object().unwrap() {
            let node = if path.is_empty() {
                vol.node(vol.root()).unwrap()
            } else {
                vol.resolve(path, false)
                    .unwrap_or_else(|e| panic!("{name}: {path}: {e}"))
            };
            if node.id().0 != offset.as_u64().unwrap() {
                wrong.push(format!("{path}: id {} != entry at {offset}", node.id().0));
            }
        }
        assert!(wrong.is_empty(), "{name}:\n{}", wrong.join("\n"));
        let hidden = vol.resolve("hidden.txt", false).unwrap();
        assert!(
            hidden.attr().hidden,
            "{name}: hidden.txt has the FID hidden bit"
        );
        assert!(!vol.resolve("hello.txt", false).unwrap().attr().hidden);
        assert!(
            vol.resolve("deleted.txt", false).is_err(),
            "{name}: a deleted FID is not listed"
        );
    }
    let vol = open(&udf_fixtures().join("udfextra.img"), None);
    let n = vol
        .resolve("indirect.txt", false)
        .expect("entry behind an indirect entry");
    assert_eq!(
        sha256_hex(&read_all(&vol, n.id(), n.attr().size)),
        ref_of("udfextra.img")["indirect.txt"]["sha256"]
            .as_str()
            .unwrap()
    );
    // `ls --json` carries the hidden flag too.
    let out = run(&[
        OsStr::new("stat"),
        OsStr::new("--json"),
        udf_fixtures().join("udf250.img").as_os_str(),
        OsStr::new("/hidden.txt"),
    ]);
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["hidden"], true, "{v}");
}
