//! A 4 GiB + 1 MiB file in an ISO 9660 level 3 image (xorriso writes it as
//! two directory records, the first flagged multi-extent, ECMA-119 6.5.1):
//! listed once with its full size and read correctly on both sides of the
//! section boundary, through the library, the CLI and a FUSE mount.
//! Builds a ~4.1 GB image in the target directory.
#![cfg(unix)] // builds trees with symlinks, FIFOs and device nodes, or mounts with FUSE

mod common;

use std::ffi::OsStr;
use std::os::unix::fs::FileExt;

use common::{big_fixtures, fuse_available, isomount, load_ref};
use fs_core::{OpenOptions, Volume};
use sha2::{Digest, Sha256};

const SIZE: u64 = (4 << 30) + (1 << 20);
const BOUNDARY_AT: u64 = (4 << 30) - 6144;

fn pattern(seed: &[u8], n: usize) -> Vec<u8> {
    // The same generator as ci/fixtures.sh.
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

fn check_reads(read_at: &dyn Fn(u64, &mut [u8]) -> usize) {
    let mut buf = vec![0u8; 13];
    assert_eq!(read_at(0, &mut buf), 13);
    assert_eq!(&buf, b"START-OF-HUGE");
    let want = pattern(b"boundary", 8192);
    let mut got = vec![0u8; 8192];
    let mut done = 0;
    while done < got.len() {
        let n = read_at(BOUNDARY_AT + done as u64, &mut got[done..]);
        assert!(n > 0);
        done += n;
    }
    assert!(
        got == want,
        "bytes across the 4 GiB section boundary differ"
    );
    let mut end = vec![0u8; 64];
    let n = read_at(SIZE - 11, &mut end);
    assert_eq!(&end[..n], b"END-OF-HUGE");
    // Zeros in the middle of the second section.
    let mut mid = vec![1u8; 4096];
    assert_eq!(read_at((4 << 30) + 4096, &mut mid), 4096);
    assert!(mid.iter().all(|&b| b == 0));
}

#[test]
fn multi_extent_file_over_4_gib() {
    let dir = big_fixtures();
    let image = dir.join("big.iso");
    let expected = load_ref(&dir.join("big.ref.jsonl"));
    assert_eq!(expected["huge.bin"]["size"], SIZE);

    // Library: one entry, full size, every section in one extent list.
    let vol = Volume::open_path(&image, &OpenOptions::default()).unwrap();
    let root = vol.read_dir(vol.root()).unwrap();
    let names: Vec<&str> = root.entries().iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names.iter().filter(|n| n.starts_with("huge")).count(),
        1,
        "{names:?}"
    );
    let huge = vol.resolve("huge.bin", false).unwrap();
    assert_eq!(huge.attr().size, SIZE);
    assert!(huge.data().extents().len() >= 2, "several sections");
    check_reads(&|off, buf| vol.read(huge.id(), off, buf).unwrap());

    // CLI: stat and a full cat (4 GiB streamed) with the right digest.
    let out = isomount(&[
        OsStr::new("stat"),
        OsStr::new("--json"),
        image.as_os_str(),
        OsStr::new("huge.bin"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["size"], SIZE);
    let mut cat = std::process::Command::new(env!("CARGO_BIN_EXE_isomount"))
        .args([OsStr::new("cat"), image.as_os_str(), OsStr::new("huge.bin")])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let sha = common::sha256_reader(cat.stdout.take().unwrap());
    assert!(
        cat.wait().unwrap().success(),
        "isomount cat huge.bin failed"
    );
    assert_eq!(sha, expected["huge.bin"]["sha256"].as_str().unwrap());

    // FUSE.
    if fuse_available() {
        let tmp = tempfile::tempdir().unwrap();
        let mnt = tmp.path().join("mnt");
        std::fs::create_dir(&mnt).unwrap();
        let out = isomount(&[OsStr::new("mount"), image.as_os_str(), mnt.as_os_str()]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let result = std::panic::catch_unwind(|| {
            let md = std::fs::metadata(mnt.join("huge.bin")).unwrap();
            assert_eq!(md.len(), SIZE);
            let f = std::fs::File::open(mnt.join("huge.bin")).unwrap();
            check_reads(&|off, buf| f.read_at(buf, off).unwrap());
        });
        let out = isomount(&[OsStr::new("umount"), mnt.as_os_str()]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        if let Err(e) = result {
            std::panic::resume_unwind(e);
        }
    }
    std::fs::remove_file(&image).ok();
}
