//! A UDF bridge image (genisoimage -udf -allow-limited-size) holding a
//! 4 GiB + 1 MiB file: the UDF view shows the real size and reads the
//! markers at both ends; the ISO 9660 side records the size modulo 4 GiB
//! (what isoinfo shows, saved by ci/udf-fixtures.sh), which `--view iso9660`
//! shows as the image says, and `info` reports the difference.
//! Builds a ~4.3 GB image in the target directory.

#![cfg(unix)] // its images are built with Linux tools (genisoimage, udftools, udfclient, 7z)

mod common;

use std::ffi::OsStr;

use common::{isomount, load_ref, udf_big_fixtures};
use fs_core::{OpenOptions, View, Volume};
use sha2::{Digest, Sha256};

const SIZE: u64 = (4 << 30) + (1 << 20);
const BOUNDARY_AT: u64 = (4 << 30) - 6144;

fn pattern(seed: &[u8], n: usize) -> Vec<u8> {
    // The same generator as ci/udf-fixtures.sh.
    let mut out = Vec::with_capacity(n + 32);
    let mut i = 0u64;
    while out.len() < n {
        let mut h = Sha256::new();
        h.update(seed);
        h.update(i.to_le_bytes());
        out.extend_from_slice(&h.finalize());
        i += 1;
    }
    out.truncate(n);
    out
}

#[test]
fn udf_shows_the_real_size_of_a_file_over_4_gib() {
    let dir = udf_big_fixtures();
    let image = dir.join("bigbridge.iso");
    let expected = load_ref(&dir.join("bigbridge.ref.jsonl"));
    assert_eq!(expected["sources/install.wim"]["size"], SIZE);
    let iso_size: u64 = std::fs::read_to_string(dir.join("bigbridge.iso9660-size"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_ne!(iso_size, SIZE);

    let vol = Volume::open_path(&image, &OpenOptions::default()).unwrap();
    assert_eq!(vol.view(), View::Udf);
    let wim = vol.resolve("sources/install.wim", false).unwrap();
    assert_eq!(wim.attr().size, SIZE);
    let mut buf = [0u8; 13];
    assert_eq!(vol.read(wim.id(), 0, &mut buf).unwrap(), 13);
    assert_eq!(&buf, b"START-OF-HUGE");
    let mut got = vec![0u8; 8192];
    let mut done = 0;
    while done < got.len() {
        let n = vol
            .read(wim.id(), BOUNDARY_AT + done as u64, &mut got[done..])
            .unwrap();
        assert!(n > 0);
        done += n;
    }
    assert!(
        got == pattern(b"boundary", 8192),
        "bytes across 4 GiB differ"
    );
    let mut end = [0u8; 64];
    let n = vol.read(wim.id(), SIZE - 11, &mut end).unwrap();
    assert_eq!(&end[..n], b"END-OF-HUGE");

    // The ISO 9660 side, forced: the size it records (isoinfo's).
    let iso = Volume::open_path(
        &image,
        &OpenOptions {
            view: Some(View::Iso9660),
            ..OpenOptions::default()
        },
    )
    .unwrap();
    let node = iso
        .resolve("SOURCES/INSTALL.WIM", false)
        .or_else(|_| iso.resolve("sources/install.wim", false))
        .expect("install.wim on the ISO 9660 side");
    assert_eq!(node.attr().size, iso_size);

    // `info` names the file whose size differs between the trees.
    let out = isomount(&[OsStr::new("info"), OsStr::new("--json"), image.as_os_str()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["view"], "udf");
    let extra = v["extra"].to_string().to_lowercase();
    assert!(
        extra.contains("install.wim"),
        "info should report the size difference of install.wim: {}",
        v["extra"]
    );
    std::fs::remove_file(&image).ok();
}
