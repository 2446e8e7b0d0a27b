//! El Torito boot images (`[BOOT]`) and multisession images, built by
//! xorriso and checked against what xorriso (`-report_el_torito`, `-toc`,
//! `-load session N -find`, osirrox extraction) and 7-Zip (`7z l -slt -tiso`,
//! `7z x -tiso`) say about the same images: through the library, the CLI
//! and a FUSE mount.
#![cfg(unix)] // fixtures come from Linux tools; FUSE mounts

mod common;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::mount::Mount;
use common::{fuse_available, isomount};
use fs_core::{Error, FileType, OpenOptions, Volume};
use serde_json::Value;

/// The pattern files the boot images are made of.
fn pattern(len: usize, mul: usize, add: usize, modulo: usize) -> Vec<u8> {
    (0..len).map(|i| ((i * mul + add) % modulo) as u8).collect()
}

fn bios_img() -> Vec<u8> {
    pattern(2048 * 4, 7, 3, 251)
}
fn efi_img() -> Vec<u8> {
    pattern(1_474_560, 13, 5, 253)
}
fn floppy_img() -> Vec<u8> {
    pattern(1_474_560, 3, 1, 241)
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // xorriso reports on stdout, its chatter goes to stderr.
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// boot.iso (BIOS + UEFI), floppy.iso (1.44M floppy emulation) and ms.iso
/// (three sessions appended by xorriso), built once per test binary.
fn fixtures() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fixtures-eltorito-ms");
        let _ = fs::remove_dir_all(&dir);
        let tree = dir.join("tree");
        fs::create_dir_all(tree.join("boot")).unwrap();
        fs::write(tree.join("boot/bios.img"), bios_img()).unwrap();
        fs::write(tree.join("efi.img"), efi_img()).unwrap();
        fs::write(tree.join("readme.txt"), "hello\n").unwrap();
        run(Command::new("xorriso")
            .current_dir(&dir)
            .args(["-as", "mkisofs", "-R", "-J", "-b", "boot/bios.img"])
            .args([
                "-no-emul-boot",
                "-boot-load-size",
                "4",
                "-eltorito-alt-boot",
            ])
            .args(["-e", "efi.img", "-no-emul-boot", "-o", "boot.iso", "tree"]));
        let ftree = dir.join("ftree");
        fs::create_dir_all(&ftree).unwrap();
        fs::write(ftree.join("floppy.img"), floppy_img()).unwrap();
        fs::write(ftree.join("readme.txt"), "floppy\n").unwrap();
        run(Command::new("xorriso")
            .current_dir(&dir)
            .args(["-as", "mkisofs", "-R", "-b", "floppy.img"])
            .args(["-o", "floppy.iso", "ftree"]));
        // Sessions: 1 = keep, change (old), del; 2 adds b/new.txt;
        // 3 replaces change.txt and deletes del.txt.
        let ms = dir.join("ms");
        for d in ["a", "b", "c"] {
            fs::create_dir_all(ms.join(d)).unwrap();
        }
        fs::write(ms.join("a/keep.txt"), "one\n").unwrap();
        fs::write(ms.join("a/change.txt"), "old\n").unwrap();
        fs::write(ms.join("a/del.txt"), "gone\n").unwrap();
        fs::write(ms.join("b/new.txt"), "two\n").unwrap();
        fs::write(ms.join("c/change.txt"), "NEW CONTENT\n").unwrap();
        let xo = |args: &[&str]| {
            run(Command::new("xorriso")
                .current_dir(&dir)
                .args(["-dev", "ms.iso"])
                .args(args)
                .arg("-commit"));
        };
        xo(&["-map", "ms/a", "/"]);
        xo(&["-map", "ms/b", "/b"]);
        xo(&[
            "-map",
            "ms/c/change.txt",
            "/change.txt",
            "-rm",
            "/del.txt",
            "--",
        ]);
        dir
    })
}

fn img(name: &str) -> PathBuf {
    fixtures().join(name)
}

fn cli_ok(args: &[&OsStr]) -> String {
    let out = isomount(args);
    assert!(
        out.status.success(),
        "isomount {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn cli_bytes(args: &[&OsStr]) -> Vec<u8> {
    let out = isomount(args);
    assert!(
        out.status.success(),
        "isomount {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn info_json(args: &[&str], image: &Path) -> Value {
    let mut a: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    a.extend([OsStr::new("info"), OsStr::new("--json"), image.as_os_str()]);
    serde_json::from_str(&cli_ok(&a)).unwrap()
}

/// `ls --json` of one directory: name → object.
fn ls_json(args: &[&str], image: &Path, dir: &str) -> BTreeMap<String, Value> {
    let mut a: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    a.extend([
        OsStr::new("ls"),
        OsStr::new("--json"),
        image.as_os_str(),
        OsStr::new(dir),
    ]);
    cli_ok(&a)
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (v["name"].as_str().unwrap().to_string(), v)
        })
        .collect()
}

/// One line of `xorriso -report_el_torito plain`'s image table.
#[derive(Debug, PartialEq)]
struct XorrisoBoot {
    platform: String,
    bootable: bool,
    emulation: String,
    load_segment: u16,
    sector_count: u16,
    lba: u32,
}

fn xorriso_boot(image: &Path) -> Vec<XorrisoBoot> {
    let out = run(Command::new("xorriso")
        .arg("-indev")
        .arg(image)
        .args(["-report_el_torito", "plain"]));
    out.lines()
        .filter_map(|l| l.strip_prefix("El Torito boot img :"))
        .map(|rest| {
            let f: Vec<&str> = rest.split_whitespace().collect();
            // N Pltf B Emul Ld_seg Hdpt Ldsiz LBA
            assert_eq!(f.len(), 8, "{rest}");
            XorrisoBoot {
                platform: f[1].to_string(),
                bootable: f[2] == "y",
                emulation: f[3].to_string(),
                load_segment: u16::from_str_radix(f[4].trim_start_matches("0x"), 16).unwrap(),
                sector_count: f[6].parse().unwrap(),
                lba: f[7].parse().unwrap(),
            }
        })
        .collect()
}

/// `[BOOT]/NAME` → size from `7z l -slt -tiso`.
fn seven_zip_boot(image: &Path) -> BTreeMap<String, u64> {
    let out = run(Command::new("7z").args(["l", "-slt", "-tiso"]).arg(image));
    let mut map = BTreeMap::new();
    let mut path = None;
    for line in out.lines() {
        if let Some(p) = line.strip_prefix("Path = ") {
            path = p.strip_prefix("[BOOT]/").map(str::to_string);
        } else if let (Some(s), Some(p)) = (line.strip_prefix("Size = "), &path) {
            map.insert(p.clone(), s.trim().parse().unwrap());
        }
    }
    map
}

/// Files 7-Zip extracts under `[BOOT]`.
fn seven_zip_extract(image: &Path) -> BTreeMap<String, Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    run(Command::new("7z")
        .args(["x", "-tiso", "-y"])
        .arg(format!("-o{}", dir.path().display()))
        .arg(image)
        .arg("[BOOT]"));
    fs::read_dir(dir.path().join("[BOOT]"))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

fn emulation_name(xorriso: &str) -> &'static str {
    match xorriso {
        "none" => "no-emulation",
        "fd1.2" => "1.2M floppy",
        "fd1.4" => "1.44M floppy",
        "fd2.8" => "2.88M floppy",
        "hd" => "hard disk",
        _ => "unknown media",
    }
}

#[test]
fn info_lists_the_catalog_as_xorriso_reports_it() {
    for name in ["boot.iso", "floppy.iso"] {
        let image = img(name);
        let theirs = xorriso_boot(&image);
        assert!(!theirs.is_empty(), "{name}: xorriso found no boot images");
        let info = info_json(&[], &image);
        let ours = info["boot"].as_array().unwrap();
        assert_eq!(ours.len(), theirs.len(), "{name}: {info}");
        for (o, t) in ours.iter().zip(&theirs) {
            let platform = match t.platform.as_str() {
                "UEFI" => "EFI",
                p => p,
            };
            assert_eq!(o["platform"], platform, "{name}: {o} vs {t:?}");
            assert_eq!(o["bootable"], t.bootable, "{name}: {o} vs {t:?}");
            assert_eq!(o["media"], emulation_name(&t.emulation), "{name}: {o}");
            assert_eq!(o["load_segment"], t.load_segment, "{name}: {o}");
            assert_eq!(o["sector_count"], t.sector_count, "{name}: {o}");
            assert_eq!(o["load_rba"], t.lba, "{name}: {o}");
        }
        let summary = info["extra"]["El Torito"].as_str().unwrap();
        assert!(
            summary.starts_with(&format!("{} boot image", theirs.len())),
            "{summary}"
        );
        // The text output carries the same summary.
        let text = cli_ok(&[OsStr::new("info"), image.as_os_str()]);
        assert!(text.contains(summary), "{text}");
    }
}

/// A `[BOOT]` file name and the bytes it must hold.
type Expected = (&'static str, Vec<u8>);

#[test]
fn boot_dir_matches_seven_zip_and_the_sources() {
    let sources: [(&str, Vec<Expected>); 2] = [
        (
            "boot.iso",
            vec![
                // 7-Zip (and we) show sector count x 512 bytes of the BIOS image.
                ("1-Boot-NoEmul.img", bios_img()[..2048].to_vec()),
                ("2-Boot-NoEmul.img", efi_img()),
            ],
        ),
        ("floppy.iso", vec![("Boot-1.44M.img", floppy_img())]),
    ];
    for (name, want) in sources {
        let image = img(name);
        let seven = seven_zip_boot(&image);
        let extracted = seven_zip_extract(&image);
        let listing = ls_json(&[], &image, "/[BOOT]");
        let names: Vec<&String> = listing.keys().collect();
        let seven_names: Vec<&String> = seven.keys().collect();
        assert_eq!(names, seven_names, "{name}: [BOOT] names");
        for (file, bytes) in &want {
            let o = &listing[*file];
            assert_eq!(o["size"], seven[*file], "{name}/{file}: size vs 7-Zip");
            assert_eq!(o["mode"], 0o444, "{name}/{file}");
            assert_eq!(o["type"], "file", "{name}/{file}");
            let path = format!("/[BOOT]/{file}");
            let ours = cli_bytes(&[OsStr::new("cat"), image.as_os_str(), OsStr::new(&path)]);
            assert!(
                ours == extracted[*file],
                "{name}/{file}: bytes differ from 7-Zip's"
            );
            assert!(
                &ours == bytes,
                "{name}/{file}: bytes differ from the source"
            );
        }
        // The root lists [BOOT] as a directory, and not with --no-boot-dir.
        let root = ls_json(&[], &image, "/");
        assert_eq!(root["[BOOT]"]["type"], "dir", "{name}: {root:?}");
        let root = ls_json(&["--no-boot-dir"], &image, "/");
        assert!(!root.contains_key("[BOOT]"), "{name}: {root:?}");
        // The catalog is still reported.
        let info = info_json(&["--no-boot-dir"], &image);
        assert_eq!(info["boot"].as_array().unwrap().len(), want.len());
    }
}

fn read_path(vol: &Volume, path: &str) -> Vec<u8> {
    let node = vol.resolve(path, true).unwrap();
    let mut out = vec![0u8; node.attr().size as usize];
    let mut done = 0;
    while done < out.len() {
        let n = vol.read(node.id(), done as u64, &mut out[done..]).unwrap();
        assert!(n > 0, "{path}: short read at {done}");
        done += n;
    }
    out
}

#[test]
fn library_boot_images() {
    let vol = Volume::open_path(img("boot.iso"), &OpenOptions::default()).unwrap();
    let boot = vol.boot_images();
    assert_eq!(boot.len(), 2);
    assert_eq!(boot[1].entry.platform, 0xEF);
    assert_eq!(boot[0].entry.effective_load_segment(), 0x7C0);
    assert_eq!(read_path(&vol, "/[BOOT]/2-Boot-NoEmul.img"), efi_img());
    assert_eq!(
        read_path(&vol, "/[BOOT]/1-Boot-NoEmul.img"),
        bios_img()[..2048]
    );
    // Ids of the virtual nodes differ from every real node's.
    let root = vol.read_dir(vol.root()).unwrap();
    let boot_dir = root.get("[BOOT]").unwrap();
    let mut ids: Vec<u64> = root.entries().iter().map(|e| e.id.0).collect();
    let inner = vol.read_dir(boot_dir.id).unwrap();
    ids.extend(inner.entries().iter().map(|e| e.id.0));
    ids.push(vol.root().0);
    let n = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), n, "node ids collide");
    // mtime = volume creation date.
    let created = vol.info().created.unwrap();
    let attr = vol.attr(boot_dir.id).unwrap();
    assert_eq!(attr.mtime, created);
    assert_eq!(boot_dir.kind, FileType::Directory);

    let opts = OpenOptions {
        boot_dir: false,
        ..OpenOptions::default()
    };
    let vol = Volume::open_path(img("boot.iso"), &opts).unwrap();
    assert!(vol.resolve("/[BOOT]", true).is_err());
    assert_eq!(vol.boot_images().len(), 2);
    // Every view gets the directory.
    for view in ["joliet", "iso9660"] {
        let opts = OpenOptions {
            view: Some(view.parse().unwrap()),
            ..OpenOptions::default()
        };
        let vol = Volume::open_path(img("boot.iso"), &opts).unwrap();
        assert_eq!(
            read_path(&vol, "/[BOOT]/2-Boot-NoEmul.img").len(),
            1_474_560
        );
    }
}

// ------------------------------------------------------------ multisession

/// Files (path → content) of one session as xorriso extracts it.
fn xorriso_tree(session: Option<u32>) -> BTreeMap<String, Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x");
    let mut cmd = Command::new("xorriso");
    if let Some(n) = session {
        cmd.args(["-load", "session", &n.to_string()]);
    }
    run(cmd
        .arg("-indev")
        .arg(img("ms.iso"))
        .args(["-osirrox", "on", "-extract", "/"])
        .arg(&out));
    let mut map = BTreeMap::new();
    let mut stack = vec![out.clone()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(&out).unwrap().to_string_lossy().into_owned();
                map.insert(format!("/{rel}"), fs::read(&p).unwrap());
            }
        }
    }
    map
}

/// Files (path → content) of the session `args` picks, through the CLI.
fn cli_tree(args: &[&str]) -> BTreeMap<String, Vec<u8>> {
    let image = img("ms.iso");
    let mut a: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    a.extend([
        OsStr::new("ls"),
        OsStr::new("-R"),
        OsStr::new("--json"),
        image.as_os_str(),
    ]);
    let mut map = BTreeMap::new();
    for l in cli_ok(&a).lines() {
        let v: Value = serde_json::from_str(l).unwrap();
        if v["type"] == "file" {
            let path = v["path"].as_str().unwrap().to_string();
            let mut c: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
            c.extend([OsStr::new("cat"), image.as_os_str(), OsStr::new(&path)]);
            let bytes = cli_bytes(&c);
            map.insert(path, bytes);
        }
    }
    map
}

#[test]
fn sessions_match_xorriso() {
    let toc = run(Command::new("xorriso")
        .arg("-indev")
        .arg(img("ms.iso"))
        .arg("-toc"));
    let starts: Vec<String> = toc
        .lines()
        .filter_map(|l| l.strip_prefix("ISO session  :"))
        .map(|r| r.split(',').nth(1).unwrap().trim().to_string())
        .collect();
    assert_eq!(starts.len(), 3, "{toc}");
    let info = info_json(&[], &img("ms.iso"));
    assert_eq!(
        info["extra"]["Sessions"],
        format!("3 (start LBAs {}); showing 3", starts.join(", "))
    );
    let last = cli_tree(&[]);
    assert_eq!(last, xorriso_tree(None));
    assert_eq!(last["/change.txt"], b"NEW CONTENT\n");
    assert!(!last.contains_key("/del.txt"));
    for n in 1..=3u32 {
        let s = n.to_string();
        assert_eq!(
            cli_tree(&["--session", &s]),
            xorriso_tree(Some(n)),
            "session {n}"
        );
    }
    let first = cli_tree(&["--session", "1"]);
    assert_eq!(first["/change.txt"], b"old\n");
    assert_eq!(first["/del.txt"], b"gone\n");
    assert!(!first.contains_key("/b/new.txt"));

    let out = isomount(&[
        OsStr::new("--session"),
        OsStr::new("9"),
        OsStr::new("ls"),
        img("ms.iso").as_os_str(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("session 9: the image has 3 sessions"), "{err}");
}

#[test]
fn library_sessions() {
    let open = |session| {
        let opts = OpenOptions {
            session,
            ..OpenOptions::default()
        };
        Volume::open_path(img("ms.iso"), &opts)
    };
    let vol = open(None).unwrap();
    assert_eq!(read_path(&vol, "/change.txt"), b"NEW CONTENT\n");
    let vol = open(Some(1)).unwrap();
    assert_eq!(read_path(&vol, "/change.txt"), b"old\n");
    assert_eq!(read_path(&vol, "/del.txt"), b"gone\n");
    let vol = open(Some(2)).unwrap();
    assert_eq!(read_path(&vol, "/b/new.txt"), b"two\n");
    assert_eq!(read_path(&vol, "/change.txt"), b"old\n");
    for bad in [0, 4, 9, u32::MAX] {
        match open(Some(bad)) {
            Err(Error::NotFound(m)) => assert!(m.contains("3 sessions"), "{m}"),
            Err(e) => panic!("session {bad}: {e}"),
            Ok(_) => panic!("session {bad} opened"),
        }
    }
    // A single-session image has session 1 only.
    assert!(
        Volume::open_path(
            img("boot.iso"),
            &OpenOptions {
                session: Some(1),
                ..OpenOptions::default()
            }
        )
        .is_ok()
    );
}

// ------------------------------------------------------------------- FUSE

#[test]
fn fuse_boot_dir_and_session() {
    if !fuse_available() {
        return;
    }
    let m = Mount::new(&img("boot.iso"), &[]);
    let boot = m.mnt.join("[BOOT]");
    let mut names: Vec<String> = fs::read_dir(&boot)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["1-Boot-NoEmul.img", "2-Boot-NoEmul.img"]);
    assert_eq!(fs::read(boot.join("2-Boot-NoEmul.img")).unwrap(), efi_img());
    assert_eq!(
        fs::read(boot.join("1-Boot-NoEmul.img")).unwrap(),
        bios_img()[..2048]
    );
    drop(m);
    let m = Mount::new(&img("boot.iso"), &["--no-boot-dir"]);
    assert!(!m.mnt.join("[BOOT]").exists());
    assert_eq!(fs::read(m.mnt.join("efi.img")).unwrap(), efi_img());
    drop(m);
    let m = Mount::new(&img("ms.iso"), &["--session", "1"]);
    assert_eq!(fs::read(m.mnt.join("change.txt")).unwrap(), b"old\n");
    assert_eq!(fs::read(m.mnt.join("del.txt")).unwrap(), b"gone\n");
    assert!(!m.mnt.join("b").exists());
    drop(m);
    let m = Mount::new(&img("ms.iso"), &[]);
    assert_eq!(
        fs::read(m.mnt.join("change.txt")).unwrap(),
        b"NEW CONTENT\n"
    );
    assert!(!m.mnt.join("del.txt").exists());
}

#[test]
fn real_grub_rescue_image_boot_dir_matches_seven_zip_and_xorriso() {
    let image = common::corpus("grub-rescue-cdrom.iso");
    let theirs = xorriso_boot(&image);
    let info = info_json(&[], &image);
    let ours = info["boot"].as_array().unwrap();
    assert_eq!(ours.len(), theirs.len());
    assert_eq!(ours[0]["load_rba"], theirs[0].lba);
    assert_eq!(ours[0]["sector_count"], theirs[0].sector_count);
    let seven = seven_zip_boot(&image);
    let extracted = seven_zip_extract(&image);
    let listing = ls_json(&[], &image, "/[BOOT]");
    assert_eq!(
        listing.keys().collect::<Vec<_>>(),
        seven.keys().collect::<Vec<_>>()
    );
    for (name, size) in &seven {
        assert_eq!(listing[name]["size"], *size, "{name}");
        let path = format!("/[BOOT]/{name}");
        let ours = cli_bytes(&[OsStr::new("cat"), image.as_os_str(), OsStr::new(&path)]);
        assert!(ours == extracted[name], "{name}: bytes differ from 7-Zip's");
    }
}

/// Byte offset of the boot catalog of an image (from its El Torito boot
/// record, BP 72-75).
fn catalog_offset(img: &[u8]) -> usize {
    for sector in 16..32 {
        let s = &img[sector * 2048..(sector + 1) * 2048];
        if s[0] == 0 && &s[1..6] == b"CD001" && s[7..].starts_with(b"EL TORITO") {
            return u32::from_le_bytes([s[71], s[72], s[73], s[74]]) as usize * 2048;
        }
    }
    panic!("no boot record");
}

/// Writes `img` to a temporary file and opens it.
fn open_bytes(img: &[u8], dir: &tempfile::TempDir, name: &str, boot_dir: bool) -> Volume {
    let p = dir.path().join(name);
    fs::write(&p, img).unwrap();
    let opts = OpenOptions {
        boot_dir,
        ..OpenOptions::default()
    };
    Volume::open_path(&p, &opts).unwrap()
}

#[test]
fn understated_efi_sector_count_takes_the_file_size() {
    // EFI entries often say 0 or 1 sectors; the image file that starts at
    // the load RBA gives the real size.
    let img = fs::read(img("boot.iso")).unwrap();
    let cat = catalog_offset(&img);
    let dir = tempfile::tempdir().unwrap();
    // The EFI entry is the first entry of the section after the header
    // (validation, default, header, entry: byte 96).
    let count = cat + 96 + 6;
    assert_eq!(u16::from_le_bytes([img[count], img[count + 1]]), 2880);
    for n in [0u16, 1] {
        let mut patched = img.clone();
        patched[count..count + 2].copy_from_slice(&n.to_le_bytes());
        let vol = open_bytes(&patched, &dir, &format!("count{n}.iso"), true);
        assert_eq!(vol.boot_images()[1].size, 1_474_560, "count {n}");
        assert_eq!(read_path(&vol, "/[BOOT]/2-Boot-NoEmul.img"), efi_img());
    }
}

#[test]
fn damaged_catalog_is_reported_and_the_tree_still_opens() {
    let img = fs::read(img("boot.iso")).unwrap();
    let cat = catalog_offset(&img);
    let dir = tempfile::tempdir().unwrap();
    for (what, patch) in [("checksum", 4usize), ("55 AA", 31)] {
        let mut bad = img.clone();
        bad[cat + patch] ^= 0x5A;
        let vol = open_bytes(&bad, &dir, "bad.iso", true);
        assert!(vol.boot_images().is_empty());
        assert!(vol.resolve("/[BOOT]", true).is_err());
        assert_eq!(read_path(&vol, "/efi.img"), efi_img());
        let note = &vol
            .info()
            .extra
            .iter()
            .find(|(k, _)| *k == "El Torito")
            .unwrap()
            .1;
        assert!(note.contains(what), "{what}: {note}");
    }
}

#[test]
fn a_real_boot_directory_wins() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    fs::create_dir_all(tree.join("[BOOT]")).unwrap();
    fs::write(tree.join("[BOOT]/real.txt"), "real\n").unwrap();
    fs::write(tree.join("efi.img"), efi_img()).unwrap();
    run(Command::new("xorriso")
        .current_dir(dir.path())
        .args(["-as", "mkisofs", "-R", "-e", "efi.img", "-no-emul-boot"])
        .args(["-o", "real.iso", "tree"]));
    let image = dir.path().join("real.iso");
    let listing = ls_json(&[], &image, "/[BOOT]");
    assert_eq!(listing.keys().collect::<Vec<_>>(), ["real.txt"]);
    // The catalog is still reported.
    assert_eq!(info_json(&[], &image)["boot"].as_array().unwrap().len(), 1);
}

#[test]
fn hard_disk_emulation_is_sized_by_its_partition_table() {
    // A 1 MiB disk image: MBR with one partition, sectors 63..2048.
    let mut disk = pattern(1 << 20, 11, 7, 239);
    disk[446..510].fill(0);
    disk[446..454].copy_from_slice(&[0x80, 1, 1, 0, 0x83, 0xFE, 0xFF, 0xFF]);
    disk[454..458].copy_from_slice(&63u32.to_le_bytes());
    disk[458..462].copy_from_slice(&(2048u32 - 63).to_le_bytes());
    disk[510] = 0x55;
    disk[511] = 0xAA;
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("tree")).unwrap();
    fs::write(dir.path().join("tree/hd.img"), &disk).unwrap();
    run(Command::new("xorriso")
        .current_dir(dir.path())
        .args(["-as", "mkisofs", "-R", "-b", "hd.img", "-hard-disk-boot"])
        .args(["-o", "hd.iso", "tree"]));
    let image = dir.path().join("hd.iso");
    let theirs = xorriso_boot(&image);
    assert_eq!(theirs[0].emulation, "hd");
    let info = info_json(&[], &image);
    assert_eq!(info["boot"][0]["media"], "hard disk");
    assert_eq!(info["boot"][0]["sector_count"], theirs[0].sector_count);
    // Same name as 7-Zip; 7-Zip shows only sector count x 512 bytes (the
    // MBR), we show the whole disk the partition table describes.
    let seven = seven_zip_boot(&image);
    assert_eq!(seven.keys().collect::<Vec<_>>(), ["Boot-HardDisk.img"]);
    assert_eq!(seven["Boot-HardDisk.img"], 512);
    let ours = cli_bytes(&[
        OsStr::new("cat"),
        image.as_os_str(),
        OsStr::new("/[BOOT]/Boot-HardDisk.img"),
    ]);
    assert!(ours == disk, "hard disk image differs from the source");
}
