//! CSO/ZSO compressed images and zisofs-compressed files, through the
//! library, the CLI and a FUSE mount.
//!
//! CSO v1, CSO v2 (deflate, LZ4 and stored blocks mixed, index shift 2) and
//! ZSO are written by `ci/make_cso.py` from the xorriso Rock Ridge fixture
//! (blocks by Python's zlib and the PyPI `lz4` package), and must list and
//! read exactly like the tree the fixture was made from. zisofs images come
//! from `xorriso -zisofs` (v1 and zisofs2); `osirrox` extracts them too and
//! must agree with the source files, as must we.
#![cfg(unix)] // fixtures from Linux tools; FUSE mounts

mod common;

use std::ffi::OsStr;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::mount::Mount;
use common::walk::volume_listing;
use common::{Keys, assert_listing, fixtures, fuse_available, isomount, load_ref, run, sha256_hex};
use fs_core::{Error, NodeId, OpenOptions, Volume};

/// `(image, container kind)` for the three compressed copies of rr.iso.
fn compressed() -> &'static [(PathBuf, &'static str)] {
    static IMAGES: OnceLock<Vec<(PathBuf, &'static str)>> = OnceLock::new();
    IMAGES.get_or_init(|| {
        let dir = fixtures();
        let iso = dir.join("rr.iso");
        let mut out = Vec::new();
        for (kind, name, extra) in [
            ("cso1", "CSO v1", &[][..]),
            ("cso2", "CSO v2", &["--shift", "2"][..]),
            ("zso", "ZSO", &["--block-size", "8192"][..]),
        ] {
            let img = dir.join(format!("rr.{kind}"));
            run(Command::new("python3")
                .arg(common::repo().join("ci/make_cso.py"))
                .args([kind, &*iso.to_string_lossy(), &*img.to_string_lossy()])
                .args(extra));
            out.push((img, name));
        }
        out
    })
}

fn open(path: &Path) -> Volume {
    Volume::open_path(path, &OpenOptions::default())
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()))
}

fn read_all(vol: &Volume, id: NodeId, size: u64) -> fs_core::Result<Vec<u8>> {
    let mut out = vec![0u8; size as usize];
    let mut done = 0;
    while done < out.len() {
        // Odd-sized reads cross block boundaries of every kind.
        let end = (done + 5000).min(out.len());
        let n = vol.read(id, done as u64, &mut out[done..end])?;
        assert!(n > 0, "short read at {done} of {size}");
        done += n;
    }
    assert_eq!(vol.read(id, size, &mut [0u8; 16])?, 0);
    Ok(out)
}

#[test]
fn compressed_images_match_the_tree_through_the_library() {
    let expected = load_ref(&fixtures().join("rr.ref.jsonl"));
    for (img, kind) in compressed() {
        let vol = open(img);
        assert_eq!(vol.container().kind, *kind, "{}", img.display());
        assert_eq!(vol.info().label, "ISOMOUNT_RR");
        assert_listing(
            &format!("{} (library)", img.display()),
            &expected,
            &volume_listing(&vol),
            Keys::ALL,
        );
    }
}

#[test]
fn cli_names_the_container_and_cats_files() {
    let plain = fixtures().join("rr.iso");
    let want = isomount(&[
        OsStr::new("cat"),
        plain.as_os_str(),
        OsStr::new("/blocks.bin"),
    ]);
    assert!(want.status.success());
    for (img, kind) in compressed() {
        let out = isomount(&[OsStr::new("info"), img.as_os_str()]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success() && text.contains(kind), "{text}");
        let out = isomount(&[OsStr::new("info"), img.as_os_str(), OsStr::new("--json")]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("info --json");
        assert_eq!(v["container"]["kind"], *kind);
        let got = isomount(&[
            OsStr::new("cat"),
            img.as_os_str(),
            OsStr::new("/blocks.bin"),
        ]);
        assert!(
            got.status.success(),
            "{}",
            String::from_utf8_lossy(&got.stderr)
        );
        assert!(got.stdout == want.stdout, "{}: cat differs", img.display());
    }
}

fn read_file(p: &Path) -> std::io::Result<Vec<u8>> {
    let mut v = Vec::new();
    fs::File::open(p)?.read_to_end(&mut v)?;
    Ok(v)
}

#[test]
fn cso_v2_mount_reads_like_the_plain_image() {
    if !fuse_available() {
        return;
    }
    let (img, _) = &compressed()[1];
    let m = Mount::new(img, &[]);
    let plain = open(&fixtures().join("rr.iso"));
    for (path, row) in load_ref(&fixtures().join("rr.ref.jsonl")) {
        if row["type"] != "file" {
            continue;
        }
        let got = read_file(&m.mnt.join(&path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        let node = plain.resolve(&path, false).unwrap();
        let want = read_all(&plain, node.id(), node.attr().size).unwrap();
        assert!(got == want, "{path} differs through FUSE");
        assert_eq!(row["sha256"], sha256_hex(&got), "{path}");
    }
}

/// Byte position of block `n`'s index entry and the entry.
fn cso_entry(img: &[u8], n: usize) -> (usize, u32) {
    let at = 24 + 4 * n;
    (at, u32::from_le_bytes(img[at..at + 4].try_into().unwrap()))
}

#[test]
fn damaged_cso_fails_only_the_damaged_file() {
    let dir = tempfile::tempdir().unwrap();
    let plain = open(&fixtures().join("rr.iso"));
    let first_block = |path: &str| {
        let node = plain.resolve(path, false).unwrap();
        match node.data().extents().first().copied() {
            Some(fs_core::Extent::Recorded { start, .. }) => (start / 2048) as usize,
            _ => panic!("{path} has no extent"),
        }
    };
    let orig = fs::read(&compressed()[0].0).unwrap();

    // (a) An index entry of blocks.bin (random bytes, stored blocks) far
    // past the end of the file.
    let mut a = orig.clone();
    let (at, _) = cso_entry(&a, first_block("blocks.bin") + 20);
    a[at..at + 4].copy_from_slice(&0x7FFF_FFF0u32.to_le_bytes());
    // (b) hello.txt's block (text + zero padding: deflated) full of garbage.
    let mut b = orig.clone();
    let (_, entry) = cso_entry(&b, first_block("hello.txt"));
    assert_eq!(entry & 0x8000_0000, 0, "hello.txt's block is deflated");
    let pos = entry as usize;
    b[pos..pos + 16].fill(0xFF);

    for (name, img, what, bad, good, good_len) in [
        ("index.cso", a, "CSO index", "blocks.bin", "hello.txt", 20),
        (
            "block.cso",
            b,
            "CSO block",
            "hello.txt",
            "blocks.bin",
            3 * 32768 + 123,
        ),
    ] {
        let path = dir.path().join(name);
        fs::write(&path, img).unwrap();
        let vol = open(&path);
        let ok = vol.resolve(good, false).unwrap();
        assert_eq!(
            read_all(&vol, ok.id(), ok.attr().size).unwrap().len(),
            good_len
        );
        let node = vol.resolve(bad, false).unwrap();
        let e = read_all(&vol, node.id(), node.attr().size).unwrap_err();
        assert!(matches!(e, Error::Io { .. }), "{e}");
        assert!(e.to_string().contains(what), "{name}: {e}");
        assert_eq!(e.errno(), 5);
        let out = isomount(&[OsStr::new("cat"), path.as_os_str(), OsStr::new(bad)]);
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains(what));
        if fuse_available() {
            let m = Mount::new(&path, &[]);
            assert_eq!(read_file(&m.mnt.join(good)).unwrap().len(), good_len);
            let e = read_file(&m.mnt.join(bad)).unwrap_err();
            assert_eq!(e.raw_os_error(), Some(5), "{name}: {e}");
        }
    }
    // A truncated CSO is refused at open with a clear error.
    let path = dir.path().join("short.cso");
    fs::write(&path, &orig[..orig.len() / 2]).unwrap();
    let e = Volume::open_path(&path, &OpenOptions::default()).unwrap_err();
    assert!(e.to_string().contains("CSO index"), "{e}");
}

/// The `maxcso` binary (v1.13, by Unknown W. Brackets): `$MAXCSO`, `maxcso`
/// on PATH, or the npm package `maxcso` (which ships the Linux binary),
/// installed once into the target directory with npm. `None` (said loudly)
/// when none of these works.
fn maxcso() -> Option<PathBuf> {
    static BIN: OnceLock<Option<PathBuf>> = OnceLock::new();
    BIN.get_or_init(|| {
        let works = |p: &Path| {
            Command::new(p)
                .arg("--help")
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("maxcso"))
        };
        let mut candidates: Vec<PathBuf> = std::env::var_os("MAXCSO").map(PathBuf::from).into_iter().collect();
        candidates.push(PathBuf::from("maxcso"));
        let prefix = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("npm-maxcso");
        let npm_bin = prefix.join("node_modules/@emmercm/maxcso-linux-x64/dist/maxcso");
        if let Some(p) = candidates.into_iter().find(|p| works(p)) {
            return Some(p);
        }
        if !works(&npm_bin) {
            let _ = Command::new("npm")
                .args(["install", "--silent", "--no-audit", "--no-fund", "--prefix"])
                .arg(&prefix)
                .arg("maxcso")
                .output();
        }
        if works(&npm_bin) {
            return Some(npm_bin);
        }
        eprintln!("!! SKIPPED: no maxcso (set MAXCSO, or install npm); the maxcso cross-checks did NOT run !!");
        None
    })
    .clone()
}

#[test]
fn maxcso_agrees_both_ways() {
    let Some(maxcso) = maxcso() else {
        return;
    };
    let dir = fixtures();
    let iso = dir.join("rr.iso");
    let expected = load_ref(&dir.join("rr.ref.jsonl"));
    // maxcso's own images, every flavour, read like the tree.
    for (name, kind, args) in [
        ("mx1.cso", "CSO v1", &["--format=cso1"][..]),
        (
            "mx16k.cso",
            "CSO v1",
            &["--format=cso1", "--block=16384"][..],
        ),
        (
            "mx2.cso",
            "CSO v2",
            &["--format=cso2", "--use-zlib", "--use-lz4"][..],
        ),
        (
            "mx2lz4.cso",
            "CSO v2",
            &["--format=cso2", "--use-lz4", "--lz4-cost=50"][..],
        ),
        ("mx.zso", "ZSO", &["--format=zso"][..]),
    ] {
        let out = dir.join(name);
        run(Command::new(&maxcso)
            .arg("--quiet")
            .args(args)
            .arg(&iso)
            .arg("-o")
            .arg(&out));
        let vol = open(&out);
        assert_eq!(vol.container().kind, kind, "{name}");
        assert_listing(
            &format!("{name} (maxcso)"),
            &expected,
            &volume_listing(&vol),
            Keys::ALL,
        );
    }
    // Our writer's images, decompressed by maxcso, give rr.iso back.
    let plain = fs::read(&iso).unwrap();
    for (img, _) in compressed() {
        let back = img.with_extension("back.iso");
        run(Command::new(&maxcso)
            .args(["--quiet", "--decompress"])
            .arg(img)
            .arg("-o")
            .arg(&back));
        assert!(
            fs::read(&back).unwrap() == plain,
            "maxcso reads {} differently",
            img.display()
        );
    }
}

// ------------------------------------------------------------------ zisofs

/// The zisofs source tree and images: (tree, v1 image, v2 image).
fn zisofs_fixture() -> &'static (PathBuf, PathBuf, PathBuf) {
    static F: OnceLock<(PathBuf, PathBuf, PathBuf)> = OnceLock::new();
    F.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("zisofs-fixture");
        let _ = fs::remove_dir_all(&dir);
        let src = dir.join("src");
        fs::create_dir_all(src.join("sub")).unwrap();
        let words = ["alpha ", "beta ", "gamma ", "zisofs ", "block ", "mount "];
        let text: String = (0..100_000usize)
            .map(|i| words[(i * 7 + i / 13) % words.len()])
            .collect::<String>()
            .chars()
            .take(100_000)
            .collect();
        fs::write(src.join("text.txt"), text).unwrap();
        let big: Vec<u8> = (0..1_000_000u32).map(|i| (i * 31 / 7) as u8).collect();
        fs::write(src.join("big.bin"), big).unwrap();
        // Incompressible: xorriso stores it without ZF.
        let mut x = 0x1234_5678u32;
        let noise: Vec<u8> = (0..200_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        fs::write(src.join("random.bin"), noise).unwrap();
        fs::write(src.join("empty"), b"").unwrap();
        fs::write(src.join("sub/zeros"), vec![0u8; 300_000]).unwrap();
        let v1 = dir.join("v1.iso");
        let v2 = dir.join("v2.iso");
        for (img, zopt) in [(&v1, "level=6"), (&v2, "version_2=on:block_size_v2=128k")] {
            run(Command::new("xorriso")
                .args(["-outdev"])
                .arg(img)
                .args(["-zisofs", zopt, "-map"])
                .arg(&src)
                .args(["/", "-set_filter_r", "--zisofs", "/", "--"]));
            // xorriso itself reads the files back as the source.
            let out = dir.join(format!(
                "{}.extract",
                img.file_stem().unwrap().to_string_lossy()
            ));
            run(Command::new("xorriso")
                .args(["-osirrox", "on", "-indev"])
                .arg(img)
                .args(["-extract", "/"])
                .arg(&out));
            for f in ["text.txt", "big.bin", "random.bin", "empty", "sub/zeros"] {
                assert!(
                    fs::read(out.join(f)).unwrap() == fs::read(src.join(f)).unwrap(),
                    "osirrox disagrees on {f}"
                );
            }
        }
        (src, v1, v2)
    })
}

const ZFILES: [&str; 5] = ["text.txt", "big.bin", "random.bin", "empty", "sub/zeros"];

#[test]
fn zisofs_files_read_back_as_the_source() {
    let (src, v1, v2) = zisofs_fixture();
    for img in [v1, v2] {
        // The files really are compressed in the image.
        assert!(fs::metadata(img).unwrap().len() < 1_000_000);
        let vol = open(img);
        for f in ZFILES {
            let node = vol.resolve(f, false).unwrap();
            let want = fs::read(src.join(f)).unwrap();
            assert_eq!(node.attr().size, want.len() as u64, "{f}");
            let got = read_all(&vol, node.id(), node.attr().size).unwrap();
            assert!(got == want, "{}: {f} differs", img.display());
            // A random read in the middle.
            if want.len() > 300_000 {
                let mut buf = vec![0u8; 70_000];
                let n = vol.read(node.id(), 131_000, &mut buf).unwrap();
                assert!(buf[..n] == want[131_000..131_000 + n]);
            }
        }
        for f in ZFILES {
            let out = isomount(&[OsStr::new("cat"), img.as_os_str(), OsStr::new(f)]);
            assert!(out.status.success());
            assert!(out.stdout == fs::read(src.join(f)).unwrap(), "cat {f}");
        }
        if fuse_available() {
            let m = Mount::new(img, &[]);
            for f in ZFILES {
                let md = fs::metadata(m.mnt.join(f)).unwrap();
                assert_eq!(md.len(), fs::metadata(src.join(f)).unwrap().len());
                let got = read_file(&m.mnt.join(f)).unwrap();
                assert!(got == fs::read(src.join(f)).unwrap(), "FUSE {f}");
            }
        }
    }
}

#[test]
fn damaged_zisofs_file_fails_alone() {
    let (_, v1, _) = zisofs_fixture();
    let mut img = fs::read(v1).unwrap();
    // The zisofs header (magic + size) of sub/zeros (300000 bytes): set
    // its header size to 255 words, so its pointer table runs past the
    // (60-byte) extent.
    let magic = [0x37, 0xE4, 0x53, 0x96, 0xC9, 0xDB, 0xD6, 0x07];
    let mut sig = magic.to_vec();
    sig.extend(300_000u32.to_le_bytes());
    let at = img
        .windows(sig.len())
        .position(|w| w == sig)
        .expect("zisofs header of sub/zeros");
    img[at + 12] = 255;
    // ... and its ZF entry says the same, so only the extent is wrong.
    let mut zf = b"ZF\x10\x01pz\x04\x0f".to_vec();
    zf.extend(300_000u32.to_le_bytes());
    zf.extend(300_000u32.to_be_bytes());
    let zat = img
        .windows(zf.len())
        .position(|w| w == zf)
        .expect("ZF entry of sub/zeros");
    img[zat + 6] = 255;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.iso");
    fs::write(&path, &img).unwrap();
    let vol = open(&path);
    let node = vol.resolve("sub/zeros", false).unwrap();
    let e = read_all(&vol, node.id(), node.attr().size).unwrap_err();
    assert!(e.to_string().contains("zisofs block pointers"), "{e}");
    assert_eq!(e.errno(), 5);
    let ok = vol.resolve("text.txt", false).unwrap();
    assert_eq!(
        read_all(&vol, ok.id(), ok.attr().size).unwrap().len(),
        100_000
    );
    if fuse_available() {
        let m = Mount::new(&path, &[]);
        let e = read_file(&m.mnt.join("sub/zeros")).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(5));
        assert_eq!(read_file(&m.mnt.join("text.txt")).unwrap().len(), 100_000);
    }
}
