//! `--add SRC=DEST` and `--hide PATH`: images made by xorriso (Rock Ridge)
//! and genisoimage (`-udf`: the UDF view) from a tree this test writes, seen
//! with an overlay through `ls`, `cat`, `extract` and a FUSE mount. The
//! expected view is built independently: the image's source tree copied
//! with plain file copies, the overlay applied to the copy by hand, and
//! compared with `diff -r`.
#![cfg(unix)] // FUSE mounts, diff(1), Unix modes and symlinks

mod common;

use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

use common::mount::{Mount, is_mounted};
use common::{fuse_available, isomount, run};
use serde_json::Value;

const EROFS: i32 = 30;
const EIO: i32 = 5;

/// Mtimes given to the local overlay files, so that they differ from the
/// image's (which are the time the test ran).
const AUTOUNATTEND_MTIME: i64 = 1_600_000_000; // 2020-09-13
const DRIVER_MTIME: i64 = 1_500_000_000; // 2017-07-14

/// The image's source tree, the local overlay files, and images of the tree.
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let s = Setup { dir };
        let tree = s.tree();
        write(&tree.join("autounattend.xml"), "<image version/>\n");
        write(&tree.join("keep.txt"), "hidden by --hide\n");
        write(&tree.join("sources/install.wim"), "WIM image bytes\n");
        write(&tree.join("sources/boot/boot.wim"), "boot wim\n");
        write(&tree.join("docs/a.txt"), "doc a\n");
        write(&tree.join("docs/sub/b.txt"), "doc b\n");
        let local = s.local();
        write(
            &local.join("autounattend.xml"),
            "<unattend>\n  <settings pass=\"windowsPE\"/>\n</unattend>\n",
        );
        write(
            &local.join("drivers/oem.inf"),
            "[Version]\nSignature=\"$Windows NT$\"\n",
        );
        write(
            &local.join("drivers/net/e1000.sys"),
            &"\u{1}".repeat(70_000),
        );
        std::os::unix::fs::symlink("oem.inf", local.join("drivers/setup.inf")).unwrap();
        set_mtime(&local.join("autounattend.xml"), AUTOUNATTEND_MTIME);
        for p in [
            "drivers/oem.inf",
            "drivers/net/e1000.sys",
            "drivers/net",
            "drivers",
        ] {
            set_mtime(&local.join(p), DRIVER_MTIME);
        }
        run(Command::new("xorriso")
            .args(["-as", "mkisofs", "-R", "-J", "-o"])
            .arg(s.rr_iso())
            .arg(&tree));
        run(Command::new("genisoimage")
            .args(["-quiet", "-udf", "-R", "-J", "-o"])
            .arg(s.udf_iso())
            .arg(&tree));
        s
    }

    fn tree(&self) -> PathBuf {
        self.dir.path().join("tree")
    }

    fn local(&self) -> PathBuf {
        self.dir.path().join("local")
    }

    fn rr_iso(&self) -> PathBuf {
        self.dir.path().join("rr.iso")
    }

    fn udf_iso(&self) -> PathBuf {
        self.dir.path().join("udf.iso")
    }

    /// The overlay under test: a file at the root replacing the image's, a
    /// directory at a deep path whose `$OEM$` and `$1` the image lacks, a
    /// hidden file and a hidden directory.
    fn flags(&self) -> Vec<String> {
        let l = self.local();
        vec![
            "--add".into(),
            format!("{}=/autounattend.xml", l.join("autounattend.xml").display()),
            "--add".into(),
            format!("{}=/sources/$OEM$/$1/Drivers", l.join("drivers").display()),
            "--hide".into(),
            "/keep.txt".into(),
            "--hide".into(),
            "/docs".into(),
        ]
    }

    /// The view the overlay should give, made without isomount: the source
    /// tree copied, then the overlay applied to the copy.
    fn expected(&self) -> PathBuf {
        let exp = self.dir.path().join("expected");
        if exp.exists() {
            return exp;
        }
        copy_tree(&self.tree(), &exp);
        fs::copy(
            self.local().join("autounattend.xml"),
            exp.join("autounattend.xml"),
        )
        .unwrap();
        copy_tree(
            &self.local().join("drivers"),
            &exp.join("sources/$OEM$/$1/Drivers"),
        );
        fs::remove_file(exp.join("keep.txt")).unwrap();
        fs::remove_dir_all(exp.join("docs")).unwrap();
        exp
    }
}

fn write(path: &Path, content: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, content).unwrap();
}

fn set_mtime(path: &Path, secs: i64) {
    let t = SystemTime::UNIX_EPOCH + Duration::from_secs(secs as u64);
    fs::File::open(path).unwrap().set_modified(t).unwrap();
}

/// Copies a tree with plain file copies; symlinks as symlinks.
fn copy_tree(from: &Path, to: &Path) {
    let mut stack = vec![(from.to_path_buf(), to.to_path_buf())];
    while let Some((src, dst)) = stack.pop() {
        fs::create_dir_all(&dst).unwrap();
        for e in fs::read_dir(&src).unwrap() {
            let e = e.unwrap();
            let (s, d) = (e.path(), dst.join(e.file_name()));
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                stack.push((s, d));
            } else if ft.is_symlink() {
                std::os::unix::fs::symlink(fs::read_link(&s).unwrap(), &d).unwrap();
            } else {
                fs::copy(&s, &d).unwrap();
            }
        }
    }
}

/// `isomount FLAGS... ARGS...`, which must succeed.
fn iso(flags: &[String], args: &[&OsStr]) -> Output {
    let mut all: Vec<&OsStr> = flags.iter().map(OsStr::new).collect();
    all.extend_from_slice(args);
    let out = isomount(&all);
    assert!(
        out.status.success(),
        "isomount {all:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `diff -r` of two trees, symlinks compared as links; empty when equal.
fn diff(expected: &Path, got: &Path) {
    let out = Command::new("diff")
        .args(["-r", "--no-dereference"])
        .arg(expected)
        .arg(got)
        .output()
        .expect("run diff");
    assert!(
        out.status.success(),
        "diff -r {} {}:\n{}{}",
        expected.display(),
        got.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `ls --json -R` of the image with the overlay, by path.
fn json_listing(flags: &[String], image: &Path) -> std::collections::BTreeMap<String, Value> {
    let out = iso(
        flags,
        &[
            "ls".as_ref(),
            image.as_os_str(),
            "--json".as_ref(),
            "-R".as_ref(),
        ],
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (v["path"].as_str().unwrap().to_string(), v)
        })
        .collect()
}

/// Checks the overlay entries' attributes: the local size and mtime
/// (nanoseconds included), no write bits; and what is hidden is gone.
fn check_listing(s: &Setup, image: &Path) {
    let ls = json_listing(&s.flags(), image);
    let local = s.local();
    for (path, src) in [
        ("/autounattend.xml", local.join("autounattend.xml")),
        (
            "/sources/$OEM$/$1/Drivers/oem.inf",
            local.join("drivers/oem.inf"),
        ),
        (
            "/sources/$OEM$/$1/Drivers/net/e1000.sys",
            local.join("drivers/net/e1000.sys"),
        ),
    ] {
        let md = fs::metadata(&src).unwrap();
        let e = ls
            .get(path)
            .unwrap_or_else(|| panic!("{path} not listed: {ls:?}"));
        assert_eq!(e["type"], "file", "{path}");
        assert_eq!(e["size"], md.len(), "{path}");
        assert_eq!(e["mtime"], md.mtime(), "{path}");
        assert_eq!(e["mtime_nsec"], md.mtime_nsec(), "{path}");
        assert_eq!(e["mode"], md.mode() & 0o555, "{path}");
    }
    assert_eq!(ls["/autounattend.xml"]["mtime"], AUTOUNATTEND_MTIME);
    let link = &ls["/sources/$OEM$/$1/Drivers/setup.inf"];
    assert_eq!(link["type"], "symlink");
    for dir in [
        "/sources/$OEM$",
        "/sources/$OEM$/$1",
        "/sources/$OEM$/$1/Drivers",
    ] {
        assert_eq!(ls[dir]["type"], "dir", "{dir}");
        assert_eq!(ls[dir]["mode"].as_u64().unwrap() & 0o222, 0, "{dir}");
    }
    // The image's own entries are untouched; hidden ones are gone.
    let wim = fs::metadata(s.tree().join("sources/install.wim")).unwrap();
    assert_eq!(ls["/sources/install.wim"]["size"], wim.len());
    assert!(ls.contains_key("/sources/boot/boot.wim"));
    for gone in ["/keep.txt", "/docs", "/docs/a.txt", "/docs/sub/b.txt"] {
        assert!(!ls.contains_key(gone), "{gone} still listed");
    }
    assert_eq!(ls.len(), 12, "{:?}", ls.keys().collect::<Vec<_>>());

    // `ls -l`: the replaced file's line shows the local size, read-only.
    let out = iso(
        &s.flags(),
        &["ls".as_ref(), image.as_os_str(), "-l".as_ref()],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.ends_with(" autounattend.xml"))
        .unwrap_or_else(|| panic!("no autounattend.xml in:\n{text}"));
    let size = fs::metadata(local.join("autounattend.xml")).unwrap().len();
    assert!(line.starts_with("-r--r--r--"), "{line}");
    assert!(line.contains(&format!(" {size} 2020-09-13 ")), "{line}");
    assert!(
        !text.contains("keep.txt") && !text.contains("docs"),
        "{text}"
    );
}

/// `cat` of overlay files gives the local bytes; of image files, the image's.
fn check_cat(s: &Setup, image: &Path) {
    for (path, src) in [
        ("/autounattend.xml", s.local().join("autounattend.xml")),
        (
            "/sources/$OEM$/$1/Drivers/net/e1000.sys",
            s.local().join("drivers/net/e1000.sys"),
        ),
        ("/sources/install.wim", s.tree().join("sources/install.wim")),
    ] {
        let out = iso(
            &s.flags(),
            &["cat".as_ref(), image.as_os_str(), path.as_ref()],
        );
        assert_eq!(out.stdout, fs::read(&src).unwrap(), "cat {path}");
    }
}

/// `extract` of the whole view equals the expected tree, and keeps the
/// overlay files' mtimes.
fn check_extract(s: &Setup, image: &Path, name: &str) {
    let out_dir = s.dir.path().join(format!("extract-{name}"));
    iso(
        &s.flags(),
        &[
            "extract".as_ref(),
            "-C".as_ref(),
            out_dir.as_os_str(),
            image.as_os_str(),
        ],
    );
    diff(&s.expected(), &out_dir);
    let md = fs::metadata(out_dir.join("sources/$OEM$/$1/Drivers/oem.inf")).unwrap();
    assert_eq!(md.mtime(), DRIVER_MTIME);
    let md = fs::metadata(out_dir.join("autounattend.xml")).unwrap();
    assert_eq!(md.mtime(), AUTOUNATTEND_MTIME);
}

#[test]
fn rock_ridge_image_with_overlay_through_ls_cat_extract() {
    let s = Setup::new();
    check_listing(&s, &s.rr_iso());
    check_cat(&s, &s.rr_iso());
    check_extract(&s, &s.rr_iso(), "rr");
}

#[test]
fn udf_image_with_overlay_through_ls_cat_extract() {
    let s = Setup::new();
    let info = iso(&[], &["info".as_ref(), s.udf_iso().as_os_str()]);
    assert!(
        String::from_utf8_lossy(&info.stdout).contains("udf"),
        "genisoimage -udf made no UDF view"
    );
    check_listing(&s, &s.udf_iso());
    check_cat(&s, &s.udf_iso());
    check_extract(&s, &s.udf_iso(), "udf");
}

#[test]
fn fuse_mount_shows_the_overlay_read_only() {
    if !fuse_available() {
        return;
    }
    let s = Setup::new();
    for image in [s.rr_iso(), s.udf_iso()] {
        let flags = s.flags();
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        let m = Mount::new(&image, &flags);
        diff(&s.expected(), &m.mnt);
        // Sizes and mtimes as the local files have them.
        for (path, src) in [
            ("autounattend.xml", s.local().join("autounattend.xml")),
            (
                "sources/$OEM$/$1/Drivers/net/e1000.sys",
                s.local().join("drivers/net/e1000.sys"),
            ),
            (
                "sources/$OEM$/$1/Drivers/net",
                s.local().join("drivers/net"),
            ),
        ] {
            let (got, want) = (
                fs::metadata(m.mnt.join(path)).unwrap(),
                fs::metadata(&src).unwrap(),
            );
            if want.is_file() {
                assert_eq!(got.len(), want.len(), "{path}");
            }
            assert_eq!(
                (got.mtime(), got.mtime_nsec()),
                (want.mtime(), want.mtime_nsec()),
                "{path}"
            );
            assert_eq!(got.mode() & 0o7777, want.mode() & 0o555, "{path}");
        }
        // Symlinks are shown, not followed.
        let link = m.mnt.join("sources/$OEM$/$1/Drivers/setup.inf");
        assert_eq!(fs::read_link(&link).unwrap(), Path::new("oem.inf"));
        // Nothing can be written, overlay entries included.
        let errno = |r: std::io::Result<()>| r.expect_err("write must fail").raw_os_error();
        let drivers = m.mnt.join("sources/$OEM$/$1/Drivers");
        assert_eq!(
            errno(fs::File::create(drivers.join("new.inf")).map(drop)),
            Some(EROFS)
        );
        let w = fs::OpenOptions::new()
            .write(true)
            .open(m.mnt.join("autounattend.xml"));
        assert_eq!(errno(w.map(drop)), Some(EROFS));
        assert_eq!(errno(fs::remove_file(drivers.join("oem.inf"))), Some(EROFS));
        let perm = fs::set_permissions(drivers.join("oem.inf"), fs::Permissions::from_mode(0o644));
        assert_eq!(errno(perm), Some(EROFS));
    }
}

#[test]
fn fuse_read_of_a_local_file_changed_after_mount_fails_with_eio() {
    if !fuse_available() {
        return;
    }
    let s = Setup::new();
    let flags = s.flags();
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let m = Mount::new(&s.rr_iso(), &flags);
    let oem = m.mnt.join("sources/$OEM$/$1/Drivers/oem.inf");
    // Looked up (the added directory's listing is snapshotted when first
    // listed), then changed before anything read it (no page cache holds it).
    let before = fs::metadata(&oem).unwrap();
    fs::write(s.local().join("drivers/oem.inf"), "[Version]\nchanged\n").unwrap();
    let err = fs::read(&oem).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(EIO), "{err}");
    assert_eq!(fs::metadata(&oem).unwrap().len(), before.len());
    // The rest of the view is still served.
    assert_eq!(
        fs::read(m.mnt.join("autounattend.xml")).unwrap(),
        fs::read(s.local().join("autounattend.xml")).unwrap()
    );
}

/// `isomount ls IMAGE FLAGS`, which must fail; its standard error.
fn refused(image: &Path, flags: &[&str]) -> String {
    let mut args: Vec<&OsStr> = vec!["ls".as_ref(), image.as_os_str()];
    args.extend(flags.iter().map(OsStr::new));
    let out = isomount(&args);
    assert!(!out.status.success(), "isomount {args:?} succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn bad_overlays_are_refused_with_clear_messages() {
    let s = Setup::new();
    let img = s.rr_iso();
    let file = s.local().join("autounattend.xml");
    let add = |dest: &str| format!("{}={dest}", file.display());
    let missing = s.local().join("missing.xml");
    let cases: Vec<(Vec<String>, String)> = vec![
        (
            vec!["--add".into(), format!("{}=/x.xml", missing.display())],
            format!("--add {}: No such file or directory", missing.display()),
        ),
        (
            vec!["--add".into(), add("x.xml")],
            "expected SRC=DEST, DEST a path in the image starting with '/'".into(),
        ),
        (
            vec!["--add".into(), add("/sources/../x.xml")],
            "'..' is not allowed".into(),
        ),
        (vec!["--add".into(), add("/")], "names the root".into()),
        (
            vec!["--add".into(), add("/keep.txt/x.xml")],
            "/keep.txt is not a directory".into(),
        ),
        (
            vec!["--hide".into(), "/sources/nothing.wim".into()],
            "--hide /sources/nothing.wim: no such entry in the image".into(),
        ),
        (
            vec!["--hide".into(), "/docs/../keep.txt".into()],
            "'..' is not allowed".into(),
        ),
    ];
    for (flags, want) in cases {
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        let err = refused(&img, &flags);
        assert!(err.contains(&want), "{flags:?}: want {want:?} in:\n{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    // A bad overlay fails `mount` before anything is mounted.
    if fuse_available() {
        let dir = tempfile::tempdir().unwrap();
        let out = isomount(&[
            "--hide".as_ref(),
            "/nothing".as_ref(),
            "mount".as_ref(),
            img.as_os_str(),
            dir.path().as_os_str(),
        ]);
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("--hide /nothing: no such entry"));
        assert!(!is_mounted(dir.path()));
    }
}

#[test]
fn later_adds_win_and_hides_reach_into_added_directories() {
    let s = Setup::new();
    let l = s.local();
    let flags: Vec<String> = vec![
        "--add".into(),
        format!("{}=/sources", l.join("drivers").display()),
        // Inside the directory the first --add placed.
        "--add".into(),
        format!(
            "{}=/sources/net/unattend.xml",
            l.join("autounattend.xml").display()
        ),
        "--hide".into(),
        "/sources/oem.inf".into(),
    ];
    let ls = json_listing(&flags, &s.rr_iso());
    let paths: Vec<&str> = ls
        .keys()
        .filter(|p| p.starts_with("/sources"))
        .map(String::as_str)
        .collect();
    // The image's /sources is replaced entirely (no install.wim, no boot/).
    assert_eq!(
        paths,
        [
            "/sources",
            "/sources/net",
            "/sources/net/e1000.sys",
            "/sources/net/unattend.xml",
            "/sources/setup.inf",
        ]
    );
    let out = iso(
        &flags,
        &[
            "cat".as_ref(),
            s.rr_iso().as_os_str(),
            "/sources/net/unattend.xml".as_ref(),
        ],
    );
    assert_eq!(out.stdout, fs::read(l.join("autounattend.xml")).unwrap());
}

#[cfg(target_os = "linux")]
#[test]
fn serve_shows_the_overlay_to_http_clients() {
    use common::serve::Serve;
    let s = Setup::new();
    let flags = s.flags();
    let extra: Vec<&str> = flags.iter().map(String::as_str).collect();
    for (name, image) in [("rr", s.rr_iso()), ("udf", s.udf_iso())] {
        let srv = Serve::start(&[&image], &extra);
        let mirror = s.dir.path().join(format!("wget-{name}"));
        run(Command::new("wget")
            .args([
                "-r",
                "-l",
                "inf",
                "-np",
                "-nH",
                "-q",
                "-e",
                "robots=off",
                "-P",
            ])
            .arg(&mirror)
            .arg(srv.url("/")));
        // wget keeps each directory page as index.html; the tree has none.
        for f in common::data::files_under(&mirror) {
            if f.file_name().is_some_and(|n| n == "index.html") {
                fs::remove_file(f).unwrap();
            }
        }
        // Over HTTP the overlay's symlink is served as the file it names,
        // so compare contents (plain diff -r follows the expected link).
        let out = Command::new("diff")
            .arg("-r")
            .arg(s.expected())
            .arg(&mirror)
            .output()
            .expect("run diff");
        assert!(
            out.status.success(),
            "{name}: served tree differs:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        // The overlay file's own mtime reaches the client.
        let head = run(Command::new("curl")
            .args(["-sSI"])
            .arg(srv.url("/autounattend.xml")));
        let head = String::from_utf8_lossy(&head.stdout).to_lowercase();
        assert!(
            head.contains("last-modified: sun, 13 sep 2020 12:26:40 gmt"),
            "{name}: {head}"
        );
        // Hidden entries are not found.
        for gone in ["/keep.txt", "/docs/", "/docs/a.txt"] {
            let code = run(Command::new("curl")
                .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
                .arg(srv.url(gone)));
            assert_eq!(
                String::from_utf8_lossy(&code.stdout),
                "404",
                "{name}: {gone}"
            );
        }
    }
}
