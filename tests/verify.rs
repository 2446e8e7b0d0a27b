//! `isomount verify`: clean on good images from independent writers
//! (xorriso, genisoimage, mkudffs + udfclient, the corpus, raw sectors from
//! ci/make_containers.py), and on damaged copies of them a problem that
//! names the structure, the sector and the path, with exit status 1.
//! Expected figures come from the trees the images were made from (their
//! ref listings) or from coreutils (md5sum, sha256sum).

#![cfg(unix)] // its images are built with Linux tools

mod common;

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{corpus, fixtures, isomount, point_record_past_end, run, udf_fix_tag, udf_fixtures};
use serde_json::Value;

const B: usize = 2048;

/// Runs `isomount verify --json IMAGE ARGS...`: (exit status, document).
fn verify_json(image: &Path, args: &[&str]) -> (i32, Value) {
    let mut all: Vec<&OsStr> = vec![OsStr::new("verify"), OsStr::new("--json")];
    all.extend(args.iter().map(OsStr::new));
    all.push(image.as_os_str());
    let out = isomount(&all);
    let code = out.status.code().expect("exit status");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{}: no JSON ({e}), status {code}:\n{}{}",
            image.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (code, doc)
}

fn counter(doc: &Value, name: &str) -> u64 {
    doc["counters"][name]
        .as_u64()
        .unwrap_or_else(|| panic!("no counter {name} in {doc:#}"))
}

/// Asserts a clean report and returns it.
fn assert_clean(image: &Path, args: &[&str]) -> Value {
    let (code, doc) = verify_json(image, args);
    assert_eq!(
        (code, doc["ok"].as_bool()),
        (0, Some(true)),
        "{}: {doc:#}",
        image.display()
    );
    assert_eq!(doc["problems"].as_array().map(Vec::len), Some(0), "{doc:#}");
    doc
}

/// The problems of a report that must have found some (status 1).
fn problems(image: &Path, args: &[&str]) -> Vec<Value> {
    let (code, doc) = verify_json(image, args);
    assert_eq!(code, 1, "{}: {doc:#}", image.display());
    assert_eq!(doc["ok"], false);
    let p = doc["problems"].as_array().cloned().unwrap_or_default();
    assert!(!p.is_empty(), "{doc:#}");
    p
}

/// The one problem whose structure is `structure`.
fn find<'a>(problems: &'a [Value], structure: &str) -> &'a Value {
    problems
        .iter()
        .find(|p| p["structure"] == structure)
        .unwrap_or_else(|| panic!("no {structure:?} problem in {problems:#?}"))
}

fn lines(path: &Path) -> u64 {
    fs::read_to_string(path).unwrap().lines().count() as u64
}

/// A copy of `image` in `dir`, patched by `f`.
fn damaged(dir: &Path, image: &Path, f: impl FnOnce(&mut Vec<u8>)) -> PathBuf {
    let mut img = fs::read(image).unwrap();
    f(&mut img);
    let p = dir.join(image.file_name().unwrap());
    fs::write(&p, img).unwrap();
    p
}

/// Byte offset of the only occurrence of `needle` in `hay`.
fn position(hay: &[u8], needle: &[u8]) -> usize {
    let mut hits = hay
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i);
    let first = hits.next().expect("bytes in image");
    assert!(hits.next().is_none(), "bytes found twice");
    first
}

/// A tree with text files in two directories.
fn small_tree(root: &Path) {
    fs::create_dir_all(root.join("docs/deep")).unwrap();
    fs::write(root.join("readme.txt"), "read me first\n").unwrap();
    fs::write(root.join("docs/guide.txt"), "guide line\n".repeat(500)).unwrap();
    fs::write(
        root.join("docs/deep/leaf.bin"),
        (0..70_000u32).map(|i| (i % 251) as u8).collect::<Vec<u8>>(),
    )
    .unwrap();
    fs::write(root.join("docs/unique.txt"), "UNIQUE-CONTENT-0123456789\n").unwrap();
}

// ------------------------------------------------------------ good images

#[test]
fn iso_images_from_xorriso_genisoimage_and_the_corpus_are_clean() {
    for name in ["rr", "geniso", "joliet", "plain"] {
        let img = fixtures().join(format!("{name}.iso"));
        let doc = assert_clean(&img, &[]);
        // Every entry of the source tree is a directory record of the primary tree.
        let entries = lines(&fixtures().join(format!("{name}.ref.jsonl")));
        assert!(
            counter(&doc, "directory_records") >= entries,
            "{name}: {doc:#}, {entries} entries in the tree"
        );
        assert!(counter(&doc, "descriptors") >= 2 && counter(&doc, "extents") > 0);
    }
    let doc = assert_clean(&corpus("grub-rescue-cdrom.iso"), &[]);
    assert!(counter(&doc, "directory_records") >= lines(&corpus("grub-rescue-cdrom.ref.jsonl")));
    assert_eq!(doc["views"][0], "rockridge");
}

#[test]
fn udf_images_from_mkudffs_udfclient_and_the_writer_are_clean() {
    for name in ["udf102", "udf150", "udf201", "sparable", "udf250", "udf260"] {
        let img = udf_fixtures().join(format!("{name}.img"));
        let doc = assert_clean(&img, &[]);
        // One file identifier per entry of the tree; one file entry more (the root).
        let entries = lines(&udf_fixtures().join(format!("{name}.ref.jsonl")));
        assert_eq!(counter(&doc, "fids"), entries, "{name}: {doc:#}");
        assert!(counter(&doc, "file_entries") > entries, "{name}: {doc:#}");
        assert!(counter(&doc, "descriptors") >= 8, "{name}: {doc:#}");
        if name.starts_with("udf2") && name != "udf201" {
            // A metadata partition: its file compared with the mirror.
            assert!(
                counter(&doc, "metadata_bytes_compared") > 0,
                "{name}: {doc:#}"
            );
        }
    }
}

#[test]
fn a_genisoimage_udf_bridge_agrees_and_the_windows_stub_is_a_note() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("tree");
    small_tree(&tree);
    let img = tmp.path().join("bridge.iso");
    run(Command::new("genisoimage")
        .args(["-quiet", "-R", "-J", "-udf", "-o"])
        .arg(&img)
        .arg(&tree));
    let doc = assert_clean(&img, &[]);
    assert_eq!(doc["views"][0], "udf");
    assert_eq!(counter(&doc, "bridge_files"), 4, "{doc:#}");

    // The Windows-style bridge (ISO 9660 side cut down to README.TXT).
    let doc = assert_clean(&udf_fixtures().join("win7.iso"), &[]);
    let notes = doc["notes"].to_string();
    assert!(notes.contains("holds 1 of the"), "{doc:#}");

    // A size that differs between the trees names the file.
    let bad = damaged(tmp.path(), &img, |img| {
        // The primary tree's record of docs/guide.txt: data length (ECMA-119 9.1.4).
        let at = position(img, b"GUIDE.TXT;1") - 33;
        let len = u32::from_le_bytes(img[at + 10..at + 14].try_into().unwrap()) - 1;
        img[at + 10..at + 14].copy_from_slice(&len.to_le_bytes());
        img[at + 14..at + 18].copy_from_slice(&len.to_be_bytes());
    });
    let p = problems(&bad, &[]);
    let b = find(&p, "bridge");
    assert_eq!(b["path"], "/docs/guide.txt", "{p:#?}");
    assert!(
        b["message"]
            .as_str()
            .unwrap()
            .contains("5500 bytes in the UDF tree"),
        "{b}"
    );
    assert!(b["sector"].as_u64().is_some());
}

// ------------------------------------------------------- damaged images

/// The sector of the main volume descriptor sequence's descriptor with tag
/// identifier `ident`, found from the anchor at 256 (ECMA-167 3/10.2).
fn vds_descriptor(img: &[u8], ident: u16) -> usize {
    let a = 256 * B;
    let loc = u32::from_le_bytes(img[a + 20..a + 24].try_into().unwrap()) as usize;
    (loc..loc + 16)
        .find(|&s| u16::from_le_bytes([img[s * B], img[s * B + 1]]) == ident)
        .expect("descriptor in the main sequence")
}

#[test]
fn a_flipped_udf_descriptor_byte_names_the_descriptor_and_sector() {
    let tmp = tempfile::tempdir().unwrap();
    let src = udf_fixtures().join("udf201.img");
    let lvd = vds_descriptor(&fs::read(&src).unwrap(), 6);
    // A byte of the logical volume identifier: the CRC no longer matches.
    let bad = damaged(tmp.path(), &src, |img| img[lvd * B + 100] ^= 0x20);
    let p = problems(&bad, &[]);
    let d = find(&p, "logical volume descriptor");
    assert_eq!(d["sector"], lvd as u64, "{p:#?}");
    assert!(d["message"].as_str().unwrap().contains("CRC"), "{d}");
    // The reserve sequence stands in: the tree is still checked.
    let (_, doc) = verify_json(&bad, &[]);
    assert_eq!(
        counter(&doc, "fids"),
        lines(&udf_fixtures().join("udf201.ref.jsonl"))
    );

    // A flipped byte in a file entry: that file, by path and sector.
    let src = udf_fixtures().join("udf250.img");
    let m: Value =
        serde_json::from_str(&fs::read_to_string(udf_fixtures().join("udf250.map.json")).unwrap())
            .unwrap();
    let fe = m["efe"]["hello.txt"].as_u64().unwrap() as usize;
    let mirror = m["mirror_extent"].as_u64().unwrap() - m["metadata_extent"].as_u64().unwrap();
    let bad = damaged(tmp.path(), &src, |img| {
        img[fe + 60] ^= 1; // inside the CRC'd body
        img[fe + mirror as usize + 60] ^= 1; // and in the mirror's copy
    });
    let p = problems(&bad, &[]);
    let e = find(&p, "file entry");
    assert_eq!(e["path"], "/hello.txt", "{p:#?}");
    assert_eq!(e["sector"], (fe / B) as u64);
}

#[test]
fn a_destroyed_metadata_file_copy_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let src = udf_fixtures().join("udf250.img");
    let m: Value =
        serde_json::from_str(&fs::read_to_string(udf_fixtures().join("udf250.map.json")).unwrap())
            .unwrap();
    let at = |k: &str| m[k].as_u64().unwrap() as usize;
    // The main copy of hello.txt's file entry zeroed; the mirror is good.
    let fe = m["efe"]["hello.txt"].as_u64().unwrap() as usize;
    let bad = damaged(tmp.path(), &src, |img| img[fe..fe + B].fill(0));
    let p = problems(&bad, &[]);
    let meta = find(&p, "metadata file");
    assert_eq!(meta["sector"], (fe / B) as u64, "{p:#?}");
    assert!(
        meta["message"].as_str().unwrap().contains("mirror"),
        "{meta}"
    );
    assert!(p.iter().any(|x| x["path"] == "/hello.txt"), "{p:#?}");

    // The metadata file's own entry destroyed: the reader lives on the
    // mirror, and verify says so.
    let bad = damaged(tmp.path(), &src, |img| {
        let fe = at("metadata_fe");
        img[fe + 40] ^= 0xFF;
    });
    let p = problems(&bad, &[]);
    let meta = find(&p, "metadata file");
    assert!(
        meta["message"].as_str().unwrap().contains("mirror used"),
        "{meta}"
    );

    // A mirror that differs (the mirror damaged, the main good).
    let bad = damaged(tmp.path(), &src, |img| {
        let off = at("mirror_extent") + (fe - at("metadata_extent"));
        img[off + 60] ^= 1;
    });
    let p = problems(&bad, &[]);
    let meta = find(&p, "metadata file");
    assert!(
        meta["message"]
            .as_str()
            .unwrap()
            .contains("differs from its mirror"),
        "{meta}"
    );
}

#[test]
fn iso_damage_names_the_record_and_the_descriptor() {
    let tmp = tempfile::tempdir().unwrap();
    let src = fixtures().join("rr.iso");
    // A directory record whose extent points past the end of the image.
    let bad = damaged(tmp.path(), &src, |img| {
        point_record_past_end(img, b"HELLO.TXT;1")
    });
    let p = problems(&bad, &[]);
    let r = p
        .iter()
        .find(|x| x["path"] == "/hello.txt")
        .unwrap_or_else(|| panic!("{p:#?}"));
    assert_eq!(r["structure"], "directory record");
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("past the end of the image"),
        "{r}"
    );
    let sector = r["sector"].as_u64().unwrap();
    assert!(sector > 16 && (sector as usize) * B < fs::metadata(&src).unwrap().len() as usize);

    // The Joliet record of hello.txt says one byte less than the primary one.
    let bad = damaged(tmp.path(), &src, |img| {
        let name: Vec<u8> = "hello.txt"
            .encode_utf16()
            .flat_map(u16::to_be_bytes)
            .collect();
        let rec = position(img, &name) - 33;
        let len = u32::from_le_bytes(img[rec + 10..rec + 14].try_into().unwrap()) - 1;
        img[rec + 10..rec + 14].copy_from_slice(&len.to_le_bytes());
        img[rec + 14..rec + 18].copy_from_slice(&len.to_be_bytes());
    });
    let p = problems(&bad, &[]);
    assert_eq!(p.len(), 1, "{p:#?}");
    assert_eq!(p[0]["path"], "/hello.txt");
    let m = p[0]["message"].as_str().unwrap();
    assert!(
        m.contains("the Joliet tree records 19 bytes") && m.contains("rockridge tree 20 bytes"),
        "{m}"
    );

    // A flipped byte in the primary volume descriptor's volume space size
    // (ECMA-119 8.4.8, both byte orders).
    let bad = damaged(tmp.path(), &src, |img| {
        img[16 * B + 83] ^= 0x40;
        img[16 * B + 84] ^= 0x40;
    });
    let p = problems(&bad, &[]);
    let d = find(&p, "primary volume descriptor");
    assert_eq!(d["sector"], 16);

    // The corpus image's El Torito catalog (its LBA in the boot record,
    // El Torito 2.0 offset 0x47): a flipped byte in the validation entry.
    let grub = corpus("grub-rescue-cdrom.iso");
    let mut lba = 0;
    let bad = damaged(tmp.path(), &grub, |img| {
        let rec = (16..32)
            .map(|s| s * B)
            .find(|&o| img[o] == 0 && &img[o + 1..o + 6] == b"CD001")
            .expect("boot record");
        lba = u32::from_le_bytes(img[rec + 0x47..rec + 0x4B].try_into().unwrap()) as usize;
        img[lba * B + 8] ^= 0x10;
    });
    let p = problems(&bad, &[]);
    assert_eq!(p.len(), 1, "{p:#?}");
    assert_eq!(p[0]["sector"], lba as u64);
    assert!(
        p[0]["message"].as_str().unwrap().contains("checksum"),
        "{p:#?}"
    );
}

#[test]
fn zisofs_tables_are_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("tree");
    fs::create_dir_all(tree.join("sub")).unwrap();
    let text: String = (0..40_000usize)
        .map(|i| ["alpha ", "beta ", "zisofs "][i % 3])
        .collect();
    fs::write(tree.join("text.txt"), &text).unwrap();
    fs::write(tree.join("sub/zeros"), vec![0u8; 300_000]).unwrap();
    let img = tmp.path().join("z.iso");
    run(Command::new("xorriso")
        .args(["-outdev"])
        .arg(&img)
        .args(["-zisofs", "level=6", "-map"])
        .arg(&tree)
        .args(["/", "-set_filter_r", "--zisofs", "/", "--"]));
    let doc = assert_clean(&img, &[]);
    assert_eq!(counter(&doc, "zisofs_files"), 2, "{doc:#}");

    // sub/zeros (300000 bytes): the zisofs header (magic, size) then the
    // block pointer table; block 1's pointer moved back into block 0.
    let bad = damaged(tmp.path(), &img, |img| {
        let mut header = vec![0x37, 0xE4, 0x53, 0x96, 0xC9, 0xDB, 0xD6, 0x07];
        header.extend_from_slice(&300_000u32.to_le_bytes());
        let h = position(img, &header);
        let p0 = u32::from_le_bytes(img[h + 16..h + 20].try_into().unwrap());
        img[h + 20..h + 24].copy_from_slice(&(p0 - 1).to_le_bytes());
    });
    let p = problems(&bad, &[]);
    let z = find(&p, "zisofs block pointers");
    assert_eq!(z["path"], "/sub/zeros", "{p:#?}");
    assert!(z["sector"].as_u64().is_some());
}

#[test]
fn raw_sectors_are_edc_checked() {
    let tmp = tempfile::tempdir().unwrap();
    run(Command::new("python3")
        .arg(common::repo().join("ci/make_containers.py"))
        .arg(fixtures().join("rr.iso"))
        .arg(tmp.path()));
    let sectors = fs::metadata(fixtures().join("rr.iso")).unwrap().len() / B as u64;
    for cue in ["mode1.cue", "mode2form1.cue", "mode2_2336.cue"] {
        let doc = assert_clean(&tmp.path().join(cue), &[]);
        assert_eq!(counter(&doc, "sectors_edc"), sectors, "{cue}: {doc:#}");
        assert!(doc["container"].as_str().unwrap().starts_with("BIN/CUE"));
    }
    // One byte of sector 20's user data flipped in the BIN.
    let bin = tmp.path().join("mode1.bin");
    let mut raw = fs::read(&bin).unwrap();
    raw[20 * 2352 + 16 + 100] ^= 0x01;
    fs::write(&bin, raw).unwrap();
    let p = problems(&tmp.path().join("mode1.cue"), &[]);
    let s = find(&p, "raw sector");
    assert_eq!(s["sector"], 20, "{p:#?}");
    assert!(s["message"].as_str().unwrap().contains("EDC"), "{s}");
}

#[test]
fn checksum_lists_and_expect() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("tree");
    small_tree(&tree);
    // The lists as distributions write them, by coreutils.
    for (tool, list) in [("md5sum", "md5sum.txt"), ("sha256sum", "SHA256SUMS")] {
        let out = Command::new(tool)
            .args([
                "./readme.txt",
                "./docs/guide.txt",
                "./docs/deep/leaf.bin",
                "./docs/unique.txt",
            ])
            .current_dir(&tree)
            .output()
            .unwrap();
        assert!(out.status.success());
        fs::write(tree.join(list), out.stdout).unwrap();
    }
    let img = tmp.path().join("sums.iso");
    run(Command::new("xorriso")
        .args(["-as", "mkisofs", "-quiet", "-R", "-J", "-o"])
        .arg(&img)
        .arg(&tree));
    let doc = assert_clean(&img, &[]);
    assert_eq!(counter(&doc, "files_hashed"), 8, "{doc:#}");
    assert_eq!(doc["checksum_files"].as_array().unwrap().len(), 2);

    // --expect: the image's SHA-256 as sha256sum gives it.
    let out = Command::new("sha256sum").arg(&img).output().unwrap();
    let digest = String::from_utf8_lossy(&out.stdout)[..64].to_uppercase();
    let doc = assert_clean(&img, &["--expect", &digest]);
    assert_eq!(doc["image_sha256"], digest.to_lowercase());
    let wrong = "0".repeat(64);
    let p = problems(&img, &["--expect", &wrong]);
    assert!(
        find(&p, "image")["message"]
            .as_str()
            .unwrap()
            .contains(&wrong)
    );

    // A file named in both lists, tampered with.
    let bad = damaged(tmp.path(), &img, |img| {
        let at = position(img, b"UNIQUE-CONTENT-0123456789");
        img[at] = b'X';
    });
    let p = problems(&bad, &[]);
    let tampered: Vec<&Value> = p
        .iter()
        .filter(|x| x["path"] == "/docs/unique.txt")
        .collect();
    assert_eq!(tampered.len(), 2, "{p:#?}");
    for t in tampered {
        assert_eq!(t["structure"], "file content");
        assert!(t["sector"].as_u64().is_some());
    }
    // The text report says the same.
    let out = isomount(&[OsStr::new("verify"), bad.as_os_str()]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("PROBLEM:    file content at sector"),
        "{text}"
    );
    assert!(text.contains("(/docs/unique.txt): MD5 is"), "{text}");
    assert!(text.contains("Result:     2 problem(s) found"), "{text}");
}

#[test]
fn not_an_image_cannot_be_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let zeros = tmp.path().join("zeros.iso");
    fs::write(&zeros, vec![0u8; 64 * B]).unwrap();
    let out = isomount(&[OsStr::new("verify"), zeros.as_os_str()]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a recognised disc image"));
    let out = isomount(&[
        OsStr::new("verify"),
        tmp.path().join("missing.iso").as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let out = isomount(&[
        OsStr::new("verify"),
        OsStr::new("--expect"),
        OsStr::new("xyz"),
        zeros.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

#[test]
fn a_descriptor_re_tagged_after_the_edit_verifies_again() {
    // A descriptor re-tagged after an edit verifies again: the damage the
    // other tests make is the only damage.
    let tmp = tempfile::tempdir().unwrap();
    let src = udf_fixtures().join("udf201.img");
    let lvd = vds_descriptor(&fs::read(&src).unwrap(), 6);
    let fixed = damaged(tmp.path(), &src, |img| {
        img[lvd * B + 100] ^= 0x20;
        udf_fix_tag(img, lvd * B);
    });
    assert_clean(&fixed, &[]);
}

#[cfg(target_os = "linux")]
#[test]
fn a_remote_image_is_verified_through_its_source() {
    let n = common::servers::Nginx::start();
    let src = fixtures().join("rr.iso");
    fs::copy(&src, n.root().join("rr.iso")).unwrap();
    let out = Command::new("sha256sum").arg(&src).output().unwrap();
    let digest = String::from_utf8_lossy(&out.stdout)[..64].to_string();
    let url = n.url("rr.iso");
    let verify = |expect: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_isomount"))
            .args([
                "--no-disk-cache",
                "verify",
                "--json",
                "--expect",
                expect,
                &url,
            ])
            .env("RUST_LOG", "warn")
            .env("XDG_CACHE_HOME", "/nonexistent-isomount-test-cache")
            .output()
            .unwrap();
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        (out.status.code(), doc)
    };
    let (code, doc) = verify(&digest);
    assert_eq!(code, Some(0), "{doc:#}");
    assert_eq!(doc["image_sha256"], digest);
    // The whole object went through the source for the digest.
    assert!(n.bytes_for("/rr.iso") >= fs::metadata(&src).unwrap().len());
    let (code, doc) = verify(&"f".repeat(64));
    assert_eq!(code, Some(1), "{doc:#}");
    assert_eq!(doc["problems"][0]["structure"], "image");
}

#[test]
fn hostile_images_are_problems_never_crashes_or_hangs() {
    // ci/hostile.py: one structure damaged per image (cases.json says which).
    let tmp = tempfile::tempdir().unwrap();
    run(Command::new("python3")
        .arg(common::repo().join("ci/hostile.py"))
        .arg(tmp.path()));
    let cases: Value =
        serde_json::from_str(&fs::read_to_string(tmp.path().join("cases.json")).unwrap()).unwrap();
    // Damage that breaks no rule verify checks: names, a record length 0
    // (padding to the sector's end, ECMA-119 6.8.1.1), files sharing bytes.
    let legal = ["evil", "long_name", "names", "overlap", "reclen0"];
    for base in ["base.iso", "deep.iso", "udf.img"] {
        assert_clean(&tmp.path().join(base), &[]);
    }
    for (name, case) in cases.as_object().unwrap() {
        let ext = if name.starts_with("udf") {
            "img"
        } else {
            "iso"
        };
        let img = tmp.path().join(format!("{name}.{ext}"));
        let out = Command::new("timeout")
            .args(["60", env!("CARGO_BIN_EXE_isomount"), "verify", "--json"])
            .arg(&img)
            .env("RUST_LOG", "error")
            .output()
            .unwrap();
        let code = out.status.code();
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        let want = if legal.contains(&name.as_str()) { 0 } else { 1 };
        assert_eq!(
            code,
            Some(want),
            "{name} ({}): {doc:#}\n{}",
            case["what"],
            String::from_utf8_lossy(&out.stderr)
        );
        if want == 1 {
            let p = &doc["problems"][0];
            assert!(p["sector"].is_u64() && p["path"].is_string(), "{name}: {p}");
        }
    }
    // A partial overlap of two files is a note.
    let doc = assert_clean(&tmp.path().join("overlap.iso"), &[]);
    assert!(
        doc["notes"]
            .to_string()
            .contains("overlap another file's in part"),
        "{doc:#}"
    );
}
