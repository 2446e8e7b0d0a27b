//! Real FUSE mounts through the `isomount` binary: every fixture is mounted,
//! walked with plain `std::fs`, and compared with the tree it was built from
//! (or, for the GRUB rescue image, with osirrox's extraction).
//!
//! These need `/dev/fuse` (CI has it and runs as root). Where it is missing
//! the tests say so loudly and do nothing.
#![cfg(unix)] // builds trees with symlinks, FIFOs and device nodes, or mounts with FUSE

mod common;

use std::ffi::OsStr;
use std::fs;
use std::io::{ErrorKind, Read};
use std::os::unix::fs::MetadataExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::mount::{Mount, is_mounted, mount_listing, wait_unmounted};
use common::{
    Keys, assert_listing, corpus, fixtures, fuse_available, isomount, load_ref, sha256_reader,
};

const EROFS: i32 = 30;
const EIO: i32 = 5;

#[test]
fn rock_ridge_mount_matches_tree() {
    if !fuse_available() {
        return;
    }
    let dir = fixtures();
    let image = dir.join("rr.iso");
    let m = Mount::new(&image, &[]);
    assert_listing(
        "rr.iso (FUSE)",
        &load_ref(&dir.join("rr.ref.jsonl")),
        &mount_listing(&m.mnt),
        Keys::ALL,
    );

    // st_blocks covers each file's content (512-byte units; nothing in this
    // image is sparse).
    for (path, e) in &load_ref(&dir.join("rr.ref.jsonl")) {
        if e["type"] == "file" {
            let md = fs::metadata(m.mnt.join(path)).unwrap();
            assert!(
                md.blocks() * 512 >= md.len(),
                "{path}: st_blocks {} for {} bytes",
                md.blocks(),
                md.len()
            );
        }
    }

    // statfs reports the volume: ISO block size and the image's size.
    let out = Command::new("stat")
        .args(["-f", "-c", "%b %S %T"])
        .arg(&m.mnt)
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&out.stdout);
    let mut it = s.split_whitespace();
    let blocks: u64 = it.next().unwrap().parse().unwrap();
    let bsize: u64 = it.next().unwrap().parse().unwrap();
    let image_len = fs::metadata(&image).unwrap().len();
    assert_eq!(blocks * bsize, image_len, "statfs size vs image size ({s})");
}

#[test]
fn every_write_is_refused_with_erofs() {
    if !fuse_available() {
        return;
    }
    let m = Mount::new(&fixtures().join("rr.iso"), &[]);
    let p = |n: &str| m.mnt.join(n);
    let errno = |r: std::io::Result<()>| r.expect_err("write must fail").raw_os_error();
    assert_eq!(
        errno(fs::File::create(p("new.txt")).map(drop)),
        Some(EROFS),
        "create"
    );
    assert_eq!(errno(fs::create_dir(p("newdir"))), Some(EROFS), "mkdir");
    assert_eq!(
        errno(fs::remove_file(p("hello.txt"))),
        Some(EROFS),
        "unlink"
    );
    assert_eq!(errno(fs::remove_dir(p("emptydir"))), Some(EROFS), "rmdir");
    assert_eq!(
        errno(fs::rename(p("hello.txt"), p("x.txt"))),
        Some(EROFS),
        "rename"
    );
    assert_eq!(
        errno(std::os::unix::fs::symlink("a", p("sym"))),
        Some(EROFS),
        "symlink"
    );
    assert_eq!(
        errno(fs::hard_link(p("hello.txt"), p("hl"))),
        Some(EROFS),
        "link"
    );
    let w = fs::OpenOptions::new()
        .write(true)
        .open(p("hello.txt"))
        .map(drop);
    assert_eq!(errno(w), Some(EROFS), "open for writing");
    let perm = fs::set_permissions(
        p("hello.txt"),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    );
    assert_eq!(errno(perm), Some(EROFS), "chmod");
    // Still readable afterwards.
    assert_eq!(
        fs::read_to_string(p("hello.txt")).unwrap(),
        "Hello from isomount\n"
    );
}

#[test]
fn genisoimage_joliet_and_plain_mounts_match_their_trees() {
    if !fuse_available() {
        return;
    }
    let dir = fixtures();
    let keys = Keys {
        links: false,
        ..Keys::ALL
    };
    for (name, keys) in [
        ("geniso", keys),
        ("joliet", Keys::BASIC),
        ("plain", Keys::BASIC),
    ] {
        let m = Mount::new(&dir.join(format!("{name}.iso")), &[]);
        let expected = load_ref(&dir.join(format!("{name}.ref.jsonl")));
        assert_listing(
            &format!("{name}.iso (FUSE)"),
            &expected,
            &mount_listing(&m.mnt),
            keys,
        );
    }
}

#[test]
fn forced_view_mount_shows_joliet_names() {
    if !fuse_available() {
        return;
    }
    let m = Mount::new(&fixtures().join("rr.iso"), &["--view", "joliet"]);
    assert!(m.mnt.join("hello.txt").is_file());
    assert!(
        !m.mnt.join("rel-link").exists(),
        "Joliet carries no symlinks"
    );
    let m2 = Mount::new(&fixtures().join("rr.iso"), &["--view", "iso9660"]);
    assert!(m2.mnt.join("HELLO.TXT").is_file());
}

#[test]
fn real_grub_rescue_image_mount_matches_osirrox() {
    if !fuse_available() {
        return;
    }
    // osirrox's tree has no El Torito [BOOT] directory.
    let m = Mount::new(&corpus("grub-rescue-cdrom.iso"), &["--no-boot-dir"]);
    let keys = Keys {
        links: false,
        ..Keys::ALL
    };
    assert_listing(
        "grub-rescue-cdrom.iso (FUSE)",
        &load_ref(&corpus("grub-rescue-cdrom.ref.jsonl")),
        &mount_listing(&m.mnt),
        keys,
    );
}

#[test]
fn parallel_readers_get_the_same_bytes() {
    if !fuse_available() {
        return;
    }
    let dir = fixtures();
    let expected = load_ref(&dir.join("rr.ref.jsonl"));
    let m = Mount::new(&dir.join("rr.iso"), &[]);
    std::thread::scope(|s| {
        for t in 0..4 {
            let mnt = &m.mnt;
            let expected = &expected;
            s.spawn(move || {
                for round in 0..5 {
                    for name in ["straddle.bin", "blocks.bin", "sector.bin", "hello.txt"] {
                        let got = sha256_reader(fs::File::open(mnt.join(name)).unwrap());
                        assert_eq!(
                            got,
                            expected[name]["sha256"].as_str().unwrap(),
                            "thread {t} round {round} {name}"
                        );
                    }
                }
            });
        }
    });
    // Reads at odd offsets straddling the 32 KiB cache blocks.
    let data = fs::read(m.mnt.join("straddle.bin")).unwrap();
    let mut f = fs::File::open(m.mnt.join("straddle.bin")).unwrap();
    for off in [0u64, 1, 32_767, 32_768, 65_530, 99_999] {
        use std::os::unix::fs::FileExt;
        let mut buf = [0u8; 100];
        let n = f.read_at(&mut buf, off).unwrap();
        let end = (off as usize + 100).min(data.len());
        assert_eq!(&buf[..n], &data[off as usize..end], "offset {off}");
    }
    let mut rest = Vec::new();
    f.read_to_end(&mut rest).unwrap();
}

#[test]
fn a_broken_file_gives_eio_and_the_mount_stays_up() {
    if !fuse_available() {
        return;
    }
    let mut img = fs::read(fixtures().join("rr.iso")).unwrap();
    common::point_record_past_end(&mut img, b"HELLO.TXT;1");
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("pastend.iso");
    fs::write(&p, &img).unwrap();
    let m = Mount::new(&p, &[]);
    let err = fs::read(m.mnt.join("hello.txt")).expect_err("data past the end");
    assert_eq!(err.raw_os_error(), Some(EIO), "{err}");
    // Everything else still reads, and the mount is still there.
    let expected = load_ref(&fixtures().join("rr.ref.jsonl"));
    for name in ["straddle.bin", "blocks.bin", "Ωmega/ünïcødé-名前.txt"] {
        let got = sha256_reader(fs::File::open(m.mnt.join(name)).unwrap());
        assert_eq!(got, expected[name]["sha256"].as_str().unwrap(), "{name}");
    }
    assert!(is_mounted(&m.mnt));
    assert!(fs::read_dir(&m.mnt).unwrap().count() > 10);
}

#[test]
fn foreground_mount_unmounts_on_sigterm_and_sigint() {
    if !fuse_available() {
        return;
    }
    for sig in ["TERM", "INT"] {
        let dir = tempfile::tempdir().unwrap();
        let mnt = dir.path().join("mnt");
        fs::create_dir(&mnt).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_isomount"))
            .arg("mount")
            .arg("-f")
            .arg(fixtures().join("rr.iso"))
            .arg(&mnt)
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let t = Instant::now();
        while !is_mounted(&mnt) {
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "foreground mount never appeared"
            );
            if let Some(st) = child.try_wait().unwrap() {
                panic!("isomount mount -f exited early: {st}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(
            fs::read_to_string(mnt.join("hello.txt")).unwrap(),
            "Hello from isomount\n"
        );
        let st = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(child.id().to_string())
            .status()
            .unwrap();
        assert!(st.success());
        let status = child.wait().unwrap();
        assert!(status.success(), "SIG{sig}: isomount exited with {status}");
        wait_unmounted(&mnt, &format!("SIG{sig}"));
    }
}

#[test]
fn fusermount3_unmounts_a_background_mount() {
    if !fuse_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    fs::create_dir(&mnt).unwrap();
    let out = isomount(&[
        OsStr::new("mount"),
        fixtures().join("rr.iso").as_os_str(),
        mnt.as_os_str(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(mnt.join("hello.txt").exists());
    let st = Command::new("fusermount3")
        .arg("-u")
        .arg(&mnt)
        .status()
        .expect("fusermount3 (package fuse3)");
    assert!(st.success());
    wait_unmounted(&mnt, "fusermount3 -u");
    // And `isomount umount` on something not mounted fails clearly.
    let out = isomount(&[OsStr::new("umount"), mnt.as_os_str()]);
    assert!(!out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).is_empty());
    let err = fs::read_dir(&mnt).map(|d| d.count());
    assert!(matches!(err, Ok(0)) || err.as_ref().is_err_and(|e| e.kind() != ErrorKind::NotFound));
}

#[test]
fn mount_of_a_bad_image_fails_before_mounting() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("notiso.bin");
    fs::write(&bad, vec![0x5au8; 200_000]).unwrap();
    let mnt = tmp.path().join("mnt");
    fs::create_dir(&mnt).unwrap();
    let out = isomount(&[OsStr::new("mount"), bad.as_os_str(), mnt.as_os_str()]);
    assert_eq!(out.status.code(), Some(1));
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(msg.contains("not a recognised disc image"), "{msg}");
    assert!(!is_mounted(&mnt));
}
