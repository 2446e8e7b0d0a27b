//! The library (`fs_core::Volume`) against images made by xorriso and
//! genisoimage from a known tree, and against a real GRUB rescue image whose
//! expected listing came from osirrox. Cross-checked with bsdtar.

mod common;

use std::path::Path;
use std::process::Command;

use common::walk::{read_all, volume_listing};
use common::{Keys, Listing, assert_listing, corpus, fixtures, load_ref, sha256_hex};
use fs_core::{Error, FileType, OpenOptions, View, Volume};

fn open(path: &Path, view: Option<View>) -> Volume {
    // The references (osirrox, bsdtar, source trees) have no El Torito
    // [BOOT] directory; tests/eltorito_multisession.rs covers it.
    let opts = OpenOptions {
        view,
        boot_dir: false,
        ..OpenOptions::default()
    };
    Volume::open_path(path, &opts).unwrap_or_else(|e| panic!("open {}: {e}", path.display()))
}

#[test]
fn xorriso_rock_ridge_image_matches_its_tree() {
    let dir = fixtures();
    let vol = open(&dir.join("rr.iso"), None);
    assert_eq!(
        vol.view(),
        View::RockRidge,
        "Rock Ridge is the richest view"
    );
    assert!(vol.info().views.contains(&View::Joliet));
    assert_eq!(vol.info().label, "ISOMOUNT_RR");
    let ours = volume_listing(&vol);
    assert_listing(
        "rr.iso (library)",
        &load_ref(&dir.join("rr.ref.jsonl")),
        &ours,
        Keys::ALL,
    );
}

#[test]
fn genisoimage_rock_ridge_image_matches_its_tree() {
    let dir = fixtures();
    let vol = open(&dir.join("geniso.iso"), None);
    assert_eq!(vol.view(), View::RockRidge);
    let ours = volume_listing(&vol);
    // genisoimage writes RRIP 1.09 PX records without a serial number, so
    // hard links cannot be told apart from copies there.
    let keys = Keys {
        links: false,
        ..Keys::ALL
    };
    assert_listing(
        "geniso.iso (library)",
        &load_ref(&dir.join("geniso.ref.jsonl")),
        &ours,
        keys,
    );
}

#[test]
fn joliet_image_matches_its_tree() {
    let dir = fixtures();
    let vol = open(&dir.join("joliet.iso"), None);
    assert_eq!(vol.view(), View::Joliet);
    assert_eq!(vol.info().label, "ISOMOUNT_JOLIET");
    let ours = volume_listing(&vol);
    assert_listing(
        "joliet.iso (library)",
        &load_ref(&dir.join("joliet.ref.jsonl")),
        &ours,
        Keys::BASIC,
    );
}

#[test]
fn plain_level1_image_matches_its_tree() {
    let dir = fixtures();
    let vol = open(&dir.join("plain.iso"), None);
    assert_eq!(vol.view(), View::Iso9660);
    assert_eq!(vol.info().views, vec![View::Iso9660]);
    let ours = volume_listing(&vol);
    assert_listing(
        "plain.iso (library)",
        &load_ref(&dir.join("plain.ref.jsonl")),
        &ours,
        Keys::BASIC,
    );
    let e = Volume::open_path(
        dir.join("plain.iso"),
        &OpenOptions {
            view: Some(View::Joliet),
            ..OpenOptions::default()
        },
    )
    .expect_err("plain.iso has no Joliet view");
    assert!(matches!(e, Error::ViewUnavailable(View::Joliet)), "{e}");
}

#[test]
fn forced_views_of_one_image_show_their_own_names() {
    let dir = fixtures();
    let rr = load_ref(&dir.join("rr.ref.jsonl"));
    let long103 = rr
        .keys()
        .find(|k| k.starts_with("jjj"))
        .expect("103-char name in ref");
    let joliet = open(&dir.join("rr.iso"), Some(View::Joliet));
    assert_eq!(joliet.view(), View::Joliet);
    let node = joliet
        .resolve(long103, false)
        .expect("Joliet keeps 103-character names");
    assert_eq!(node.attr().size, rr[long103]["size"].as_u64().unwrap());
    let hello = joliet
        .resolve("hello.txt", false)
        .expect("hello.txt in Joliet");
    assert_eq!(
        sha256_hex(&read_all(&joliet, hello.id(), hello.attr().size)),
        rr["hello.txt"]["sha256"].as_str().unwrap()
    );
    let plain = open(&dir.join("rr.iso"), Some(View::Iso9660));
    let root = plain.read_dir(plain.root()).expect("root");
    assert!(
        root.get("HELLO.TXT").is_some(),
        "plain view shows upper-case 8.3 names, ';1' stripped"
    );
    assert!(
        root.get("RR_MOVED").is_some(),
        "plain view shows the relocation directory"
    );
    let rock = open(&dir.join("rr.iso"), None);
    assert!(
        rock.read_dir(rock.root())
            .unwrap()
            .get("rr_moved")
            .is_none(),
        "Rock Ridge view hides the relocation directory"
    );
}

#[test]
fn dates_before_1970_and_after_2038_are_exact() {
    let dir = fixtures();
    for view in [None, Some(View::Joliet), Some(View::Iso9660)] {
        let vol = open(&dir.join("rr.iso"), view);
        let find = |upper: &str, lower: &str| {
            vol.resolve(lower, false)
                .or_else(|_| vol.resolve(upper, false))
                .expect("dated file")
        };
        // 2040-06-15T12:00:00Z and 1965-03-01T08:30:00Z.
        assert_eq!(
            find("Y2040.TXT", "y2040.txt").attr().mtime.secs,
            2_223_374_400,
            "{view:?}"
        );
        assert_eq!(
            find("Y1965.TXT", "y1965.txt").attr().mtime.secs,
            -152_638_200,
            "{view:?}"
        );
    }
}

#[test]
fn real_grub_rescue_image_matches_osirrox() {
    let vol = open(&corpus("grub-rescue-cdrom.iso"), None);
    assert_eq!(vol.view(), View::RockRidge);
    let ours = volume_listing(&vol);
    let expected = load_ref(&corpus("grub-rescue-cdrom.ref.jsonl"));
    let keys = Keys {
        posix: true,
        specials: true,
        links: false,
    };
    // The reference carries no uid/gid, so only mode is compared of those.
    assert_listing("grub-rescue-cdrom.iso (library)", &expected, &ours, keys);
}

/// Paths bsdtar (libarchive's own ISO reader) lists.
fn bsdtar_paths(image: &Path) -> std::collections::BTreeSet<String> {
    let out = Command::new("bsdtar")
        .arg("-tf")
        .arg(image)
        .output()
        .expect("run bsdtar (libarchive-tools)");
    assert!(
        out.status.success(),
        "bsdtar failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim_start_matches("./").trim_end_matches('/').to_string())
        .filter(|l| !l.is_empty() && l != ".")
        .collect()
}

#[test]
fn listing_agrees_with_bsdtar() {
    for image in [
        fixtures().join("rr.iso"),
        fixtures().join("geniso.iso"),
        corpus("grub-rescue-cdrom.iso"),
    ] {
        let ours: std::collections::BTreeSet<String> =
            volume_listing(&open(&image, None)).into_keys().collect();
        let theirs = bsdtar_paths(&image);
        let only_ours: Vec<_> = ours.difference(&theirs).collect();
        let only_theirs: Vec<_> = theirs.difference(&ours).collect();
        assert!(
            only_ours.is_empty() && only_theirs.is_empty(),
            "{}: only isomount: {only_ours:?}; only bsdtar: {only_theirs:?}",
            image.display()
        );
    }
}

#[test]
fn a_file_that_is_not_an_image_is_refused_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("notiso.bin");
    let junk: Vec<u8> = (0..1_048_576u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    std::fs::write(&p, junk).unwrap();
    let e = Volume::open_path(&p, &OpenOptions::default()).expect_err("junk is not an image");
    assert!(matches!(e, Error::NotRecognized(_)), "{e}");
    let empty = tmp.path().join("empty.iso");
    std::fs::write(&empty, b"").unwrap();
    assert!(Volume::open_path(&empty, &OpenOptions::default()).is_err());
    let missing = Volume::open_path(tmp.path().join("missing.iso"), &OpenOptions::default())
        .expect_err("missing");
    assert!(matches!(missing, Error::Io { .. }), "{missing}");
}

#[test]
fn truncated_images_fail_cleanly() {
    let src = std::fs::read(fixtures().join("rr.iso")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    for cut in [
        20_000usize,
        40 * 1024,
        100 * 1024,
        src.len() / 2,
        src.len() - 2048,
    ] {
        let p = tmp.path().join(format!("cut{cut}.iso"));
        std::fs::write(&p, &src[..cut]).unwrap();
        // Opening may fail; if it succeeds, walking and reading everything
        // gives errors for what lies past the end, never a panic.
        if let Ok(vol) = Volume::open_path(&p, &OpenOptions::default()) {
            let mut stack = vec![vol.root()];
            let mut buf = vec![0u8; 65536];
            while let Some(d) = stack.pop() {
                let Ok(list) = vol.read_dir(d) else { continue };
                for e in list.entries() {
                    match e.kind {
                        FileType::Directory => stack.push(e.id),
                        FileType::Regular => {
                            let _ = vol.read(e.id, 0, &mut buf);
                        }
                        _ => {}
                    }
                }
            }
        }
    }
}

#[test]
fn a_record_pointing_past_the_end_fails_only_that_file() {
    let mut img = std::fs::read(fixtures().join("rr.iso")).unwrap();
    common::point_record_past_end(&mut img, b"HELLO.TXT;1");
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("pastend.iso");
    std::fs::write(&p, &img).unwrap();
    let vol = open(&p, Some(View::RockRidge));
    let hello = vol.resolve("hello.txt", false).expect("entry still listed");
    let err = vol
        .read(hello.id(), 0, &mut [0u8; 64])
        .expect_err("data lies past the end");
    assert_eq!(err.errno(), 5, "EIO for {err}");
    assert!(err.to_string().contains("beyond the end"), "{err}");
    // The rest of the image still reads.
    let ours = walk_lenient(&vol);
    let expected = load_ref(&fixtures().join("rr.ref.jsonl"));
    for (path, exp) in &expected {
        if path == "hello.txt" {
            continue;
        }
        assert_eq!(
            ours.get(path).and_then(|o| o.get("sha256")),
            exp.get("sha256"),
            "{path}"
        );
    }
}

fn walk_lenient(vol: &Volume) -> Listing {
    let mut out = Listing::new();
    let mut stack = vec![(vol.root(), String::new())];
    while let Some((dir, prefix)) = stack.pop() {
        for e in vol.read_dir(dir).expect("read_dir").entries() {
            let node = vol.node(e.id).unwrap();
            let path = format!("{prefix}{}", e.name);
            let mut row = std::collections::BTreeMap::new();
            if e.kind == FileType::Regular {
                let mut buf = vec![0u8; node.attr().size as usize];
                if vol.read(e.id, 0, &mut buf).is_ok() {
                    row.insert(
                        "sha256".to_string(),
                        serde_json::Value::from(sha256_hex(&buf)),
                    );
                }
            }
            if e.kind == FileType::Directory {
                stack.push((e.id, format!("{path}/")));
            }
            out.insert(path, row);
        }
    }
    out
}
