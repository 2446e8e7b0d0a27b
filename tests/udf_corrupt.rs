//! Damaged UDF images: real fixtures (ci/udf-fixtures.sh) patched here at
//! structures located through the writer's map (NAME.map.json: byte offsets)
//! or by following the anchor. Every case must give a clear error naming the
//! structure, affect only what is damaged, and never panic or hang: each
//! open + walk runs on its own thread with a 10 s limit.

#![cfg(unix)] // its images are built with Linux tools (genisoimage, udftools, udfclient, 7z)

mod common;

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use common::walk::{Lenient, walk_lenient};
use common::{load_ref, udf_fix_tag, udf_fixtures};
use fs_core::{OpenOptions, Volume};
use serde_json::Value;

const B: usize = 2048;

fn map(name: &str) -> Value {
    let p = udf_fixtures().join(format!("{name}.map.json"));
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
}

fn off(v: &Value) -> usize {
    v.as_u64().expect("offset") as usize
}

/// Opens and walks `img` (written to a temporary file) on a thread; fails
/// the test on a panic or when it takes more than 10 s.
fn open_and_walk(name: &str, img: &[u8]) -> Result<Lenient, String> {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join(name);
    std::fs::write(&p, img).unwrap();
    let (tx, rx) = mpsc::channel();
    let path = p.clone();
    let handle = std::thread::spawn(move || {
        let r = Volume::open_path(&path, &OpenOptions::default())
            .map(|vol| walk_lenient(&vol, 64))
            .map_err(|e| e.to_string());
        let _ = tx.send(r);
    });
    match rx.recv_timeout(Duration::from_secs(10)) {
        Ok(r) => {
            handle.join().unwrap();
            r
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{name}: open + walk did not finish in 10 s (a loop?)")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            let e = handle.join().unwrap_err();
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("{name}: the reader panicked: {msg}")
        }
    }
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(udf_fixtures().join(name)).unwrap()
}

/// Patches `len` bytes at `at` in the main metadata extent AND at the same
/// place in the mirror, so a reader that tries the mirror sees the same
/// damage (these tests are about one bad structure, not the fallback).
fn patch_both(img: &mut [u8], m: &Value, at: usize, f: impl Fn(&mut [u8], usize)) {
    let main = off(&m["metadata_extent"]);
    let mirror = off(&m["mirror_extent"]);
    assert!(
        at >= main && at < mirror,
        "offset {at} not in the main metadata extent"
    );
    f(img, at);
    f(img, at - main + mirror);
}

/// Every file of `reference` other than `except` read back intact.
fn assert_rest_intact(what: &str, reference: &Path, got: &Lenient, except: &[&str]) {
    let expected = load_ref(reference);
    let mut bad = Vec::new();
    for (path, row) in &expected {
        if row["type"] != "file" || except.iter().any(|e| path.starts_with(e)) {
            continue;
        }
        if got.files().get(path.as_str()).copied() != row["sha256"].as_str() {
            bad.push(path.as_str());
        }
    }
    assert!(
        bad.is_empty(),
        "{what}: undamaged files unreadable or different: {bad:?}\nerrors: {:?}",
        got.errors
    );
}

fn mentions(errors: &[String], words: &[&str]) -> bool {
    errors.iter().any(|e| {
        let l = e.to_lowercase();
        words.iter().any(|w| l.contains(w))
    })
}

#[test]
fn bad_crc_on_one_file_entry_fails_that_file_only() {
    let m = map("udf250");
    let mut img = read("udf250.img");
    let at = off(&m["efe"]["straddle.bin"]);
    // A body byte (inside the access time) without fixing the CRC.
    patch_both(&mut img, &m, at, |img, o| img[o + 85] ^= 0x55);
    let got = open_and_walk("badcrc.img", &img).expect("the volume still opens");
    assert!(
        !got.files().contains_key("straddle.bin"),
        "damaged entry read as fine"
    );
    assert!(
        mentions(&got.errors, &["file entry"]) && mentions(&got.errors, &["crc", "checksum"]),
        "the error names the file entry and its CRC: {:?}",
        got.errors
    );
    let reference = udf_fixtures().join("udf250.ref.jsonl");
    assert_rest_intact("bad FE CRC", &reference, &got, &["straddle.bin"]);
}

#[test]
fn a_looping_allocation_extent_chain_is_an_error_not_a_hang() {
    let m = map("udfextra");
    let mut img = read("udfextra.img");
    let first = off(&m["aed"]["frag.bin"][0]);
    let main = off(&m["metadata_extent"]);
    let own_lbn = ((first - main) / B) as u32;
    // The last allocation descriptor of the first AED continues the chain
    // (extent type 3, ECMA-167 4/12): point it back at this AED.
    patch_both(&mut img, &m, first, |img, o| {
        let l_ad = u32::from_le_bytes(img[o + 20..o + 24].try_into().unwrap()) as usize;
        let last = o + 24 + l_ad - 16;
        let len = u32::from_le_bytes(img[last..last + 4].try_into().unwrap());
        assert_eq!(len >> 30, 3, "last AD of the AED is a continuation");
        img[last + 4..last + 8].copy_from_slice(&own_lbn.to_le_bytes());
        udf_fix_tag(img, o);
    });
    let got = open_and_walk("aedloop.img", &img).expect("the volume still opens");
    assert!(!got.files().contains_key("frag.bin"));
    assert!(
        mentions(&got.errors, &["allocation extent"]),
        "the error names the allocation extent descriptor: {:?}",
        got.errors
    );
    let reference = udf_fixtures().join("udfextra.ref.jsonl");
    assert_rest_intact("AED loop", &reference, &got, &["frag.bin"]);
}

#[test]
fn an_indirect_entry_pointing_at_itself_is_an_error_not_a_hang() {
    let m = map("udf250");
    let mut img = read("udf250.img");
    let at = off(&m["efe"]["blocks.bin"]);
    let main = off(&m["metadata_extent"]);
    let lbn = ((at - main) / B) as u32;
    // Replace the file's entry by an indirect entry (ECMA-167 4/14.7, ICB
    // strategy 4096) whose indirect ICB is itself.
    patch_both(&mut img, &m, at, |img, o| {
        img[o..o + B].fill(0);
        let mut d = vec![0u8; 52];
        d[0..2].copy_from_slice(&259u16.to_le_bytes());
        d[2..4].copy_from_slice(&3u16.to_le_bytes());
        d[10..12].copy_from_slice(&36u16.to_le_bytes());
        d[12..16].copy_from_slice(&lbn.to_le_bytes());
        // ICB tag: strategy 4096, max entries 2, file type 3 (indirect).
        d[20..22].copy_from_slice(&4096u16.to_le_bytes());
        d[24..26].copy_from_slice(&2u16.to_le_bytes());
        d[27] = 3;
        // Indirect ICB long_ad: one block at itself, partition reference 1.
        d[36..40].copy_from_slice(&(B as u32).to_le_bytes());
        d[40..44].copy_from_slice(&lbn.to_le_bytes());
        d[44..46].copy_from_slice(&1u16.to_le_bytes());
        img[o..o + 52].copy_from_slice(&d);
        udf_fix_tag(img, o);
    });
    let got = open_and_walk("icbloop.img", &img).expect("the volume still opens");
    assert!(!got.files().contains_key("blocks.bin"));
    assert!(
        mentions(&got.errors, &["indirect", "icb"]),
        "the error names the indirect entry / ICB: {:?}",
        got.errors
    );
    let reference = udf_fixtures().join("udf250.ref.jsonl");
    assert_rest_intact("ICB loop", &reference, &got, &["blocks.bin"]);
}

#[test]
fn a_directory_containing_itself_does_not_hang() {
    // nested/a/b/c's only file points back at nested/a/b/c's own entry: a
    // directory cycle. Listing must stay bounded (FUSE sees node ids).
    let m = map("udf250");
    let mut img = read("udf250.img");
    let dir_at = off(&m["efe"]["nested/a/b/c"]);
    let main = off(&m["metadata_extent"]);
    let dir_lbn = ((dir_at - main) / B) as u32;
    patch_both(&mut img, &m, dir_at, |img, o| {
        // Embedded FIDs after the 216-byte EFE header (L_EA = 0): the
        // parent FID, then deep.txt's. Make deep.txt a directory entry
        // pointing at this directory.
        let l_ad = u32::from_le_bytes(img[o + 212..o + 216].try_into().unwrap()) as usize;
        let mut p = o + 216;
        let end = p + l_ad;
        let mut fids = Vec::new();
        while p + 38 <= end {
            let lfi = usize::from(img[p + 19]);
            let liu = usize::from(u16::from_le_bytes([img[p + 36], img[p + 37]]));
            fids.push(p);
            p += (38 + lfi + liu).div_ceil(4) * 4;
        }
        let f = *fids.last().unwrap();
        img[f + 18] |= 2;
        img[f + 24..f + 28].copy_from_slice(&dir_lbn.to_le_bytes());
        udf_fix_tag(img, f);
        // The entry's own CRC covers the embedded FIDs.
        udf_fix_tag(img, o);
    });
    let _ = open_and_walk("dircycle.img", &img);
}

#[test]
fn a_partition_outside_the_image_is_refused_clearly() {
    // udf201.img (mkudffs): find the partition descriptors through the
    // anchor, in both VDS copies, and move the partition far past the end.
    let mut img = read("udf201.img");
    let avdp = 256 * B;
    let mut patched = 0;
    for ext in [16usize, 24] {
        let len = u32::from_le_bytes(img[avdp + ext..avdp + ext + 4].try_into().unwrap()) as usize;
        let loc = u32::from_le_bytes(img[avdp + ext + 4..avdp + ext + 8].try_into().unwrap());
        for i in 0..len / B {
            let o = (loc as usize + i) * B;
            if u16::from_le_bytes([img[o], img[o + 1]]) == 5 {
                img[o + 188..o + 192].copy_from_slice(&0x7000_0000u32.to_le_bytes());
                udf_fix_tag(&mut img, o);
                patched += 1;
            }
        }
    }
    assert_eq!(patched, 2, "a partition descriptor in each VDS");
    match open_and_walk("partpastend.img", &img) {
        Err(e) => assert!(
            e.to_lowercase().contains("partition") || e.contains("beyond the end"),
            "{e}"
        ),
        Ok(got) => {
            assert!(
                got.files().is_empty(),
                "nothing can be read: {:?}",
                got.files()
            );
            assert!(
                mentions(&got.errors, &["partition", "beyond the end"]),
                "{:?}",
                got.errors
            );
        }
    }
}

#[test]
fn a_metadata_file_outside_its_partition_is_refused_clearly() {
    // The metadata partition map's file locations (UDF 2.2.10) point past
    // the physical partition, in both logical volume descriptors.
    let m = map("udf250");
    let mut img = read("udf250.img");
    for key in ["main_lvd", "reserve_lvd"] {
        let o = off(&m[key]);
        // Second map starts after the 6-byte type 1 map at 440.
        let mp = o + 440 + 6;
        assert_eq!(img[mp], 2);
        img[mp + 40..mp + 44].copy_from_slice(&0x0FFF_FFF0u32.to_le_bytes());
        img[mp + 44..mp + 48].copy_from_slice(&0x0FFF_FFF8u32.to_le_bytes());
        udf_fix_tag(&mut img, o);
    }
    match open_and_walk("metapastend.img", &img) {
        Err(e) => assert!(
            e.to_lowercase().contains("metadata") || e.contains("partition"),
            "{e}"
        ),
        Ok(got) => {
            assert!(got.files().is_empty(), "{:?}", got.files());
            assert!(
                mentions(&got.errors, &["metadata", "partition"]),
                "{:?}",
                got.errors
            );
        }
    }
}

#[test]
fn a_file_identifier_running_past_the_directory_end_is_a_problem_not_a_panic() {
    let m = map("udf250");
    let mut img = read("udf250.img");
    let main = off(&m["metadata_extent"]);
    let start = m["dir_data"]["many"][0].as_u64().unwrap() as usize;
    let len = m["dir_data"]["many"][1].as_u64().unwrap() as usize;
    let base = main + start * B;
    // Find the last FID of many/ and make its implementation-use length
    // run far past the end of the directory (CRC fixed: only the length lies).
    let mut p = base;
    let mut last = base;
    while p < base + len {
        let lfi = usize::from(img[p + 19]);
        let liu = usize::from(u16::from_le_bytes([img[p + 36], img[p + 37]]));
        last = p;
        p += (38 + lfi + liu).div_ceil(4) * 4;
    }
    patch_both(&mut img, &m, last, |img, o| {
        img[o + 36..o + 38].copy_from_slice(&0x4000u16.to_le_bytes());
        udf_fix_tag(img, o);
    });
    let got = open_and_walk("fidpastend.img", &img).expect("the volume still opens");
    assert!(
        mentions(&got.errors, &["file identifier"]),
        "the problem names the file identifier descriptor: {:?}",
        got.errors
    );
    let listed = got
        .files()
        .keys()
        .filter(|k| k.starts_with("many/"))
        .count();
    assert!(
        listed >= 2999,
        "the entries before the bad one still list ({listed})"
    );
    let reference = udf_fixtures().join("udf250.ref.jsonl");
    assert_rest_intact("FID past the end", &reference, &got, &["many/"]);
}

#[test]
fn truncated_udf_images_fail_cleanly() {
    let src = read("udf250.img");
    for cut in [100 * B, 257 * B, src.len() / 2, src.len() - B] {
        // Errors are fine; panics and hangs are not (open_and_walk checks).
        let _ = open_and_walk(&format!("cut{cut}.img"), &src[..cut]);
    }
}

#[test]
fn a_corrupt_file_entry_is_reported_through_the_cli_without_a_panic() {
    let m = map("udf250");
    let mut img = read("udf250.img");
    let at = off(&m["efe"]["hello.txt"]);
    patch_both(&mut img, &m, at, |img, o| img[o + 85] ^= 0x55);
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("cli.img");
    std::fs::write(&p, &img).unwrap();
    let out = common::isomount(&[
        std::ffi::OsStr::new("cat"),
        p.as_os_str(),
        std::ffi::OsStr::new("/hello.txt"),
    ]);
    let msg = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{msg}");
    assert!(!msg.contains("panicked"), "{msg}");
    assert!(msg.to_lowercase().contains("entry"), "{msg}");
}
