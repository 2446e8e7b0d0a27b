//! CD containers (BIN/CUE, raw 2352/2336-byte sectors, NRG, MDF/MDS, CloneCD)
//! through the library, the CLI and a real FUSE mount. The fixtures come from
//! `ci/container-fixtures.sh`: rr.iso (xorriso) wrapped by our own writer
//! `ci/make_containers.py`, whose output bchunk, ccd2iso, nrg2iso, mdf2iso and
//! iat turn back into rr.iso byte for byte (the script fails otherwise), so
//! every listing here must equal rr.ref.jsonl, the tree rr.iso was made from.
#![cfg(unix)] // fixtures come from Linux tools; FUSE

mod common;

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::mount::{Mount, mount_listing};
use common::walk::volume_listing;
use common::{
    Keys, Listing, assert_listing, entry, fuse_available, isomount, load_ref, repo, sha256_hex,
};
use fs_core::{Error, OpenOptions, Volume};
use serde_json::Value;

/// (file to open, what `info` must call the container)
const IMAGES: &[(&str, &str)] = &[
    ("mode1.cue", "BIN/CUE (MODE1/2352)"),
    ("mode1.bin", "BIN/CUE (MODE1/2352)"),
    ("mode2form1.cue", "BIN/CUE (MODE2/2352)"),
    ("mode2_2336.cue", "BIN/CUE (MODE2/2336)"),
    ("mode2_2336.bin", "BIN/CUE (MODE2/2336)"),
    ("audio-first.cue", "BIN/CUE (MODE1/2352)"),
    ("audio-first.bin", "BIN/CUE (MODE1/2352)"),
    ("data-first.cue", "BIN/CUE (MODE1/2352)"),
    (
        "data first.bin",
        "raw 2352-byte sectors (MODE1/2352, no cue sheet)",
    ),
    ("image.nrg", "NRG v2 (DAO, MODE1/2048)"),
    ("image-v1.nrg", "NRG v1 (DAO, MODE1/2048)"),
    ("image-raw.nrg", "NRG v2 (DAO, MODE1/2352)"),
    ("image-tao.nrg", "NRG v2 (TAO, MODE1/2048)"),
    ("image.mdf", "MDF/MDS (MODE1/2352)"),
    ("mixed.mds", "MDF/MDS (MODE1/2352)"),
    ("sub.mds", "MDF/MDS (MODE1/2448)"),
    ("sub-alone.mdf", "MDF (no MDS, 2448-byte sectors)"),
    ("image.mds", "MDF/MDS (MODE1/2352)"),
    ("alone.mdf", "MDF (no MDS, 2352-byte sectors)"),
    ("image.img", "CloneCD (CCD/IMG, MODE1/2352)"),
    ("image.ccd", "CloneCD (CCD/IMG, MODE1/2352)"),
    ("mode2.img", "CloneCD (CCD/IMG, MODE2/2352)"),
    ("rr.iso", "plain"),
];

fn dir() -> &'static Path {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let r = DIR.get_or_init(|| {
        let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("container-fixtures");
        let _ = fs::remove_dir_all(&d);
        let out = Command::new("bash")
            .arg(repo().join("ci/container-fixtures.sh"))
            .arg(&d)
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "ci/container-fixtures.sh failed (bash ci/install-deps.sh installs bchunk, ccd2iso, nrg2iso, mdf2iso, iat):\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(d)
    });
    match r {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

fn reference() -> Listing {
    load_ref(&dir().join("rr.ref.jsonl"))
}

fn open(path: &Path) -> fs_core::Result<Volume> {
    Volume::open_path(path, &OpenOptions::default())
}

#[test]
fn every_container_lists_the_tree_through_the_library() {
    let expected = reference();
    for (name, kind) in IMAGES {
        let vol = open(&dir().join(name)).unwrap_or_else(|e| panic!("open {name}: {e}"));
        assert_eq!(vol.container().kind, *kind, "{name}");
        assert_eq!(vol.info().label, "ISOMOUNT_RR", "{name}");
        assert_listing(
            &format!("{name} (library)"),
            &expected,
            &volume_listing(&vol),
            Keys::ALL,
        );
    }
}

#[test]
fn container_details_list_tracks_and_sidecars() {
    let vol = open(&dir().join("audio-first.bin")).unwrap();
    let d = &vol.container().details;
    let get = |k: &str| d.iter().find(|(l, _)| *l == k).map(|(_, v)| v.clone());
    assert_eq!(
        get("Track 1").as_deref(),
        Some("AUDIO at sector 0, 200 sectors")
    );
    assert_eq!(
        get("Track 2").as_deref(),
        Some("MODE1/2352 at sector 350, 320 sectors")
    );
    assert!(get("Cue sheet").unwrap().ends_with("audio-first.cue"));
    assert_eq!(get("Data track").as_deref(), Some("2"));
    let vol = open(&dir().join("data-first.cue")).unwrap();
    let d = &vol.container().details;
    let get = |k: &str| d.iter().find(|(l, _)| *l == k).map(|(_, v)| v.clone());
    assert_eq!(
        get("Track 2").as_deref(),
        Some("AUDIO at sector 470, 100 sectors")
    );
    assert!(get("Data file").unwrap().ends_with("data first.bin"));
    let vol = open(&dir().join("image.img")).unwrap();
    assert!(
        vol.container()
            .details
            .iter()
            .any(|(l, v)| *l == "Control file" && v.ends_with("image.ccd"))
    );
}

fn run(args: &[&OsStr]) -> Vec<u8> {
    let out = isomount(args);
    assert!(
        out.status.success(),
        "isomount {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The tree as `ls -R --json` and `cat` show it; `global` goes before
/// each command (such as `--no-disk-cache`).
fn cli_listing(global: &[&OsStr], image: &Path) -> Listing {
    let with = |args: &[&OsStr]| run(&[global, args].concat());
    let out = with(&[
        OsStr::new("ls"),
        OsStr::new("-R"),
        OsStr::new("--json"),
        image.as_os_str(),
    ]);
    let mut listing = Listing::new();
    for line in String::from_utf8(out).unwrap().lines() {
        let v: serde_json::Map<String, Value> = serde_json::from_str(line).unwrap();
        let path = v["path"].as_str().unwrap();
        let kind = v["type"].as_str().unwrap();
        let sha = (kind == "file").then(|| {
            sha256_hex(&with(&[
                OsStr::new("cat"),
                image.as_os_str(),
                OsStr::new(path),
            ]))
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
        listing.insert(path.trim_start_matches('/').to_string(), row);
    }
    listing
}

#[test]
fn cli_info_names_the_container_and_ls_cat_match() {
    let expected = reference();
    for (name, kind) in IMAGES {
        let img = dir().join(name);
        let text = String::from_utf8(run(&[OsStr::new("info"), img.as_os_str()])).unwrap();
        assert!(
            text.contains("Container:") && text.contains(kind),
            "{name}: {text}"
        );
        let json: Value = serde_json::from_slice(&run(&[
            OsStr::new("info"),
            OsStr::new("--json"),
            img.as_os_str(),
        ]))
        .unwrap();
        assert_eq!(json["container"]["kind"], Value::from(*kind), "{name}");
        assert_listing(
            &format!("{name} (CLI)"),
            &expected,
            &cli_listing(&[], &img),
            Keys::ALL,
        );
    }
}

/// Every container read by URL from nginx on loopback, the same as from
/// the local file: a cue sheet finds its BIN next to it on the server, a
/// BIN its cue, an MDS its MDF, an IMG its CCD (names percent-encoded:
/// "data first.bin").
#[cfg(target_os = "linux")]
#[test]
fn every_container_reads_the_same_by_url() {
    let n = common::servers::Nginx::start();
    for e in fs::read_dir(dir()).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            fs::copy(e.path(), n.root().join(e.file_name())).unwrap();
        }
    }
    let expected = reference();
    let global = [OsStr::new("--no-disk-cache")];
    for (name, kind) in IMAGES {
        let url = n.url(&name.replace(' ', "%20"));
        let url = Path::new(&url);
        let json: Value = serde_json::from_slice(&run(&[
            global[0],
            OsStr::new("info"),
            OsStr::new("--json"),
            url.as_os_str(),
        ]))
        .unwrap();
        assert_eq!(
            json["container"]["kind"],
            Value::from(*kind),
            "{name} by URL"
        );
        assert_listing(
            &format!("{name} (URL)"),
            &expected,
            &cli_listing(&global, url),
            Keys::ALL,
        );
    }
    // The transfer figures count the BIN with its cue sheet, as nginx's
    // log does.
    n.clear_log();
    let json: Value = serde_json::from_slice(&run(&[
        global[0],
        OsStr::new("info"),
        OsStr::new("--json"),
        OsStr::new(&n.url("mode1.cue")),
    ]))
    .unwrap();
    let bin = n.bytes_for("/mode1.bin");
    assert!(bin > 0, "{:?}", n.hits());
    assert_eq!(
        json["remote"]["bytes_fetched"],
        Value::from(bin + n.bytes_for("/mode1.cue")),
        "{json}"
    );
    assert_eq!(json["remote"]["image"], Value::from(n.url("mode1.cue")));
    // A cue sheet naming a BIN the server does not have: the error names
    // it, and the server was asked for it next to the cue.
    fs::write(
        n.root().join("lost.cue"),
        "FILE \"gone.bin\" BINARY\n  TRACK 01 MODE1/2352\n    INDEX 01 00:00:00\n",
    )
    .unwrap();
    let out = isomount(&[global[0], OsStr::new("ls"), OsStr::new(&n.url("lost.cue"))]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("gone.bin: no such file next to"), "{err}");
    assert!(
        n.hits()
            .iter()
            .any(|h| h.uri == "/gone.bin" && h.status == 404),
        "{:?}",
        n.hits()
    );
}

#[test]
fn fuse_mounts_of_every_container_match_the_tree() {
    if !fuse_available() {
        return;
    }
    let expected = reference();
    for name in [
        "mode1.cue",
        "mode2form1.bin",
        "mode2_2336.cue",
        "audio-first.cue",
        "data-first.cue",
        "image.nrg",
        "image-v1.nrg",
        "image-raw.nrg",
        "image-tao.nrg",
        "image.mds",
        "mixed.mdf",
        "sub.mdf",
        "alone.mdf",
        "image.ccd",
        "mode2.img",
    ] {
        let m = Mount::new(&dir().join(name), &[]);
        assert_listing(
            &format!("{name} (FUSE)"),
            &expected,
            &mount_listing(&m.mnt),
            Keys::ALL,
        );
    }
}

#[test]
fn a_cd_extra_data_track_mastered_for_session_two_reads_everywhere() {
    // xorriso -C 0,11750: every address in the volume counts from the disc start.
    let img = dir().join("cdextra.cue");
    let expected = load_ref(&dir().join("cdextra.ref.jsonl"));
    let vol = open(&img).unwrap();
    assert_eq!(vol.info().label, "CDEXTRA");
    assert!(
        vol.container()
            .details
            .iter()
            .any(|(l, v)| *l == "Disc address" && v.contains("11750")),
        "{:?}",
        vol.container().details
    );
    assert_listing(
        "cdextra.cue (library)",
        &expected,
        &volume_listing(&vol),
        Keys::ALL,
    );
    assert_listing(
        "cdextra.cue (CLI)",
        &expected,
        &cli_listing(&[], &img),
        Keys::ALL,
    );
    if fuse_available() {
        let m = Mount::new(&img, &[]);
        assert_listing(
            "cdextra.cue (FUSE)",
            &expected,
            &mount_listing(&m.mnt),
            Keys::ALL,
        );
    }
}

#[test]
fn content_wins_over_the_file_name() {
    let d = scratch("renamed");
    for (from, to, kind) in [
        (
            "mode1.bin",
            "disc.iso",
            "raw 2352-byte sectors (MODE1/2352, no cue sheet)",
        ),
        ("image.nrg", "disc.bin", "NRG v2 (DAO, MODE1/2048)"),
        (
            "mode2_2336.bin",
            "disc.dat",
            "raw 2336-byte sectors (MODE2/2336, no cue sheet)",
        ),
        ("rr.iso", "disc.nrg", "plain"),
    ] {
        let p = d.join(to);
        fs::copy(dir().join(from), &p).unwrap();
        let vol = open(&p).unwrap_or_else(|e| panic!("{from} as {to}: {e}"));
        assert_eq!(vol.container().kind, kind, "{from} as {to}");
        assert_eq!(vol.info().label, "ISOMOUNT_RR");
        fs::remove_file(&p).unwrap();
    }
    // A cue sheet under another name still finds its BIN next to it.
    fs::copy(dir().join("mode1.bin"), d.join("mode1.bin")).unwrap();
    fs::copy(dir().join("mode1.cue"), d.join("sheet.txt")).unwrap();
    let vol = open(&d.join("sheet.txt")).unwrap();
    assert_eq!(vol.container().kind, "BIN/CUE (MODE1/2352)");
}

// ------------------------------------------------------------ damaged

fn scratch(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("container-damaged")
        .join(name);
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

fn cli_error(image: &Path) -> String {
    let out = isomount(&[OsStr::new("ls"), image.as_os_str()]);
    assert_eq!(out.status.code(), Some(1), "{}: {out:?}", image.display());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_cue_naming_a_missing_bin_names_the_file() {
    let d = scratch("missing");
    let cue = d.join("x.cue");
    fs::write(
        &cue,
        "FILE \"gone.bin\" BINARY\n  TRACK 01 MODE1/2352\n    INDEX 01 00:00:00\n",
    )
    .unwrap();
    let e = open(&cue).expect_err("error");
    assert!(matches!(e, Error::Io { .. }), "{e}");
    assert!(e.to_string().contains("gone.bin"), "{e}");
    assert!(cli_error(&cue).contains("gone.bin"));
    // A cue sheet with only audio tracks: no data track.
    fs::copy(dir().join("audio second.bin"), d.join("a.bin")).unwrap();
    let audio = d.join("audio.cue");
    fs::write(
        &audio,
        "FILE a.bin BINARY\nTRACK 01 AUDIO\nINDEX 01 00:00:00\n",
    )
    .unwrap();
    assert!(matches!(open(&audio), Err(Error::NotRecognized(_))));
    // A FIFO named as the BIN: an error at once, not a blocked open.
    let fifo = d.join("fifo.bin");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let cue = d.join("fifo.cue");
    fs::write(
        &cue,
        "FILE fifo.bin BINARY\nTRACK 01 MODE1/2352\nINDEX 01 00:00:00\n",
    )
    .unwrap();
    assert!(matches!(open(&cue), Err(Error::Io { .. })));
    // A Windows path in FILE: the same name next to the cue is used.
    fs::copy(dir().join("mode1.bin"), d.join("win.bin")).unwrap();
    let cue = d.join("win.cue");
    fs::write(
        &cue,
        "FILE \"C:\\rips\\win.bin\" BINARY\r\nTRACK 01 MODE1/2352\r\nINDEX 01 00:00:00\r\n",
    )
    .unwrap();
    assert_eq!(open(&cue).unwrap().info().label, "ISOMOUNT_RR");
}

#[test]
fn a_truncated_nrg_is_a_corrupt_chunk_error() {
    let d = scratch("nrg");
    let full = fs::read(dir().join("image.nrg")).unwrap();
    let iso_end = 150 * 2048 + fs::metadata(dir().join("rr.iso")).unwrap().len() as usize;
    // Chunk area cut short, footer kept.
    let mut cut = full[..iso_end + 20].to_vec();
    cut.extend_from_slice(&full[full.len() - 12..]);
    let p = d.join("cut.nrg");
    fs::write(&p, &cut).unwrap();
    let e = open(&p).expect_err("error");
    assert!(
        matches!(
            e,
            Error::Corrupt {
                structure: "NRG chunk",
                ..
            }
        ),
        "{e}"
    );
    assert!(cli_error(&p).contains("NRG chunk"));
    // Every truncation of the tail: an error or (footer gone) another reading, never a panic.
    for keep in (iso_end..full.len()).step_by(7) {
        let p = d.join("t.nrg");
        fs::write(&p, &full[..keep]).unwrap();
        let _ = open(&p);
    }
}

#[test]
fn an_mds_with_a_bogus_track_is_a_clear_error() {
    let d = scratch("mds");
    let mut mds = fs::read(dir().join("image.mds")).unwrap();
    // First track block (after the 0x58 header, the 24-byte session block and
    // three TOC blocks): sector size 1234.
    let t = 0x58 + 24 + 3 * 80;
    mds[t + 0x10..t + 0x12].copy_from_slice(&1234u16.to_le_bytes());
    fs::write(d.join("bad.mds"), &mds).unwrap();
    fs::copy(dir().join("image.mdf"), d.join("bad.mdf")).unwrap();
    let e = open(&d.join("bad.mdf")).expect_err("error");
    assert!(
        matches!(
            e,
            Error::Corrupt {
                structure: "MDS descriptor",
                ..
            }
        ),
        "{e}"
    );
    assert!(cli_error(&d.join("bad.mds")).contains("MDS descriptor"));
    // A track starting past the end of the MDF.
    let mut far = fs::read(dir().join("image.mds")).unwrap();
    far[t + 0x28..t + 0x30].copy_from_slice(&(1u64 << 40).to_le_bytes());
    fs::write(d.join("bad.mds"), &far).unwrap();
    assert!(open(&d.join("bad.mdf")).is_err());
}

#[test]
fn truncated_raw_images_never_panic() {
    let d = scratch("raw");
    let full = fs::read(dir().join("mode1.bin")).unwrap();
    for keep in [
        0,
        1,
        2351,
        2352,
        16 * 2352 + 100,
        40 * 2352,
        full.len() / 2,
        full.len() - 1,
    ] {
        let p = d.join("t.bin");
        fs::write(&p, &full[..keep]).unwrap();
        fs::write(
            d.join("t.cue"),
            "FILE t.bin BINARY\n TRACK 01 MODE1/2352\n  INDEX 01 00:00:00\n",
        )
        .unwrap();
        if let Ok(vol) = open(&p) {
            // Whatever opened must read without panicking.
            if let Ok(l) = vol.read_dir(vol.root()) {
                for e in l.entries() {
                    let _ = vol.read(e.id, 0, &mut [0u8; 4096]);
                }
            }
        }
    }
}
