//! UDF reader against images made at test time by independent tools
//! (genisoimage -udf, mkudffs + udfclient), compared with the source tree
//! and with 7-Zip's own UDF reader (`7z l -slt -tudf`).
#![cfg(unix)]
// builds trees with symlinks, FIFOs and device nodes, or mounts with FUSE
// Test code: panicking on a failed expectation is the point.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use fs_core::cache::BlockCache;
use fs_core::source::{FileSource, MemSource, ReadAt};
use fs_core::{Error, FileType, OpenOptions, Timestamp, Volume};

/// Opens a UDF image through `fs_core::udf::open` and wraps it in a Volume.
fn open_udf(path: &Path) -> Volume {
    let src: Arc<dyn ReadAt> = Arc::new(FileSource::open(path).expect("open image"));
    open_src(src)
}

fn open_src(src: Arc<dyn ReadAt>) -> Volume {
    let opts = OpenOptions::default();
    let meta = Arc::new(BlockCache::new(
        Arc::clone(&src),
        32 * 1024,
        opts.cache_bytes,
    ));
    let meta_src: Arc<dyn ReadAt> = meta.clone();
    let (fmt, info) = fs_core::udf::open(meta_src)
        .expect("udf open")
        .expect("image has UDF");
    Volume::with_format(fmt, info, src, meta, &opts).expect("volume")
}

/// One node of a walked tree.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    kind: FileType,
    size: u64,
    mtime: i64,
    data: Option<Vec<u8>>,
    target: Option<String>,
    hidden: bool,
    inode: u64,
    nlink: u32,
}

/// Every path of the volume (relative, '/'-separated), with content of files
/// up to `max_read` bytes (larger ones only their size).
fn walk(vol: &Volume, max_read: u64) -> BTreeMap<String, Seen> {
    let mut out = BTreeMap::new();
    let mut stack = vec![(vol.root(), String::new())];
    while let Some((id, prefix)) = stack.pop() {
        let dir = vol.read_dir(id).expect("read_dir");
        assert!(dir.problems().is_empty(), "{prefix}: {:?}", dir.problems());
        for e in dir.entries() {
            let path = if prefix.is_empty() {
                e.name.clone()
            } else {
                format!("{prefix}/{}", e.name)
            };
            let node = vol.node(e.id).unwrap();
            let a = node.attr();
            let data = (a.kind == FileType::Regular && a.size <= max_read).then(|| {
                let mut buf = vec![0u8; a.size as usize];
                let n = vol.read(e.id, 0, &mut buf).expect("read");
                assert_eq!(n as u64, a.size, "{path}");
                buf
            });
            if a.kind == FileType::Directory {
                stack.push((e.id, path.clone()));
            }
            out.insert(
                path,
                Seen {
                    kind: a.kind,
                    size: a.size,
                    mtime: a.mtime.secs,
                    data,
                    target: node.link_target().map(str::to_owned),
                    hidden: a.hidden,
                    inode: a.inode,
                    nlink: a.nlink,
                },
            );
        }
    }
    out
}

// ---------------------------------------------------------------- tools

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .env("LANG", "C.UTF-8")
        .env("LC_ALL", "C.UTF-8")
        .env("TZ", "UTC")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn touch(path: &Path, date: &str) {
    run(Command::new("touch")
        .arg("-h")
        .arg("-d")
        .arg(date)
        .arg(path));
}

fn patterned(len: usize, seed: u32) -> Vec<u8> {
    (0..len)
        .map(|i| ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) >> 13) as u8)
        .collect()
}

/// What the source tree holds at one path.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Want {
    dir: bool,
    size: u64,
    data: Option<Vec<u8>>,
    mtime: i64,
}

fn source_tree(root: &Path) -> BTreeMap<String, Want> {
    fn rec(root: &Path, dir: &Path, out: &mut BTreeMap<String, Want>) {
        use std::os::unix::fs::MetadataExt;
        for e in fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_str().unwrap().to_string();
            let md = fs::symlink_metadata(&p).unwrap();
            let dir = md.is_dir();
            out.insert(
                rel,
                Want {
                    dir,
                    size: if dir { 0 } else { md.len() },
                    data: (!dir && md.len() <= 1 << 20).then(|| fs::read(&p).unwrap()),
                    mtime: md.mtime(),
                },
            );
            if dir {
                rec(root, &p, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    rec(root, root, &mut out);
    out
}

/// Builds a small tree: nested directories, mixed-case names, a file that
/// straddles 32 KiB cache blocks, empty file and directory.
fn small_tree(root: &Path) {
    fs::create_dir_all(root.join("Dir1/Sub/Deep")).unwrap();
    fs::create_dir_all(root.join("emptydir")).unwrap();
    fs::create_dir_all(root.join("MiXeD")).unwrap();
    fs::write(root.join("Dir1/Sub/Deep/a.txt"), b"hello, udf\n").unwrap();
    fs::write(root.join("MiXeD/CamelCase.TXT"), b"Case matters\n").unwrap();
    fs::write(root.join("big.bin"), patterned(100_000, 7)).unwrap();
    fs::write(root.join("empty.txt"), b"").unwrap();
    fs::write(root.join("Dir1/two blocks.dat"), patterned(4097, 3)).unwrap();
    for (i, p) in [
        "Dir1/Sub/Deep/a.txt",
        "MiXeD/CamelCase.TXT",
        "big.bin",
        "empty.txt",
        "Dir1/two blocks.dat",
        "Dir1/Sub/Deep",
        "Dir1/Sub",
        "Dir1",
        "MiXeD",
        "emptydir",
    ]
    .iter()
    .enumerate()
    {
        touch(
            &root.join(p),
            &format!("2019-0{}-1{i} 12:3{i}:4{i} UTC", i % 9 + 1),
        );
    }
}

/// Checks the volume against the source tree: same paths, kinds, sizes and
/// bytes; mtimes too when `mtimes` (tools that copy them).
fn check_against_source(vol: &Volume, src: &Path, mtimes: bool) {
    let want = source_tree(src);
    let seen = walk(vol, 1 << 20);
    let wk: Vec<_> = want.keys().collect();
    let sk: Vec<_> = seen.keys().collect();
    assert_eq!(sk, wk, "paths differ from the source tree");
    for (path, w) in &want {
        let s = &seen[path];
        assert_eq!(s.kind == FileType::Directory, w.dir, "{path}: kind");
        if !w.dir {
            assert_eq!(s.size, w.size, "{path}: size");
            if let Some(d) = &w.data {
                assert!(s.data.as_ref() == Some(d), "{path}: content differs");
            }
        }
        if mtimes {
            assert_eq!(s.mtime, w.mtime, "{path}: mtime");
        }
        if w.dir {
            // POSIX count: ".", the parent's entry, each subdirectory's "..".
            let prefix = format!("{path}/");
            let subdirs = want
                .iter()
                .filter(|(p, x)| x.dir && p.strip_prefix(&prefix).is_some_and(|r| !r.contains('/')))
                .count() as u32;
            assert_eq!(s.nlink, 2 + subdirs, "{path}: nlink");
        } else {
            assert_eq!(s.nlink, 1, "{path}: nlink");
        }
    }
}

/// One entry as 7-Zip's UDF reader lists it.
#[derive(Debug)]
struct SevenZ {
    dir: bool,
    size: u64,
    mtime: Option<i64>,
}

fn seven_zip(img: &Path) -> BTreeMap<String, SevenZ> {
    let out = run(Command::new("7z").args(["l", "-slt", "-tudf"]).arg(img));
    let mut map = BTreeMap::new();
    let body = out.split("\n----------\n").nth(1).unwrap_or("");
    for block in body.split("\n\n") {
        let mut path = None;
        let mut e = SevenZ {
            dir: false,
            size: 0,
            mtime: None,
        };
        for line in block.lines() {
            let Some((k, v)) = line.split_once(" = ") else {
                continue;
            };
            match k {
                "Path" => path = Some(v.to_string()),
                "Folder" => e.dir = v == "+",
                "Size" => e.size = v.parse().unwrap_or(0),
                "Modified" => e.mtime = parse_7z_time(v),
                _ => {}
            }
        }
        if let Some(p) = path {
            map.insert(p, e);
        }
    }
    map
}

/// "2019-01-10 12:30:40.000000" (UTC, as TZ=UTC makes 7z print it).
fn parse_7z_time(v: &str) -> Option<i64> {
    let (date, time) = v.split_once(' ')?;
    let d: Vec<u32> = date.split('-').filter_map(|x| x.parse().ok()).collect();
    let t: Vec<u32> = time
        .split(['.', ':'])
        .take(3)
        .filter_map(|x| x.parse().ok())
        .collect();
    if d.len() != 3 || t.len() != 3 {
        return None;
    }
    Timestamp::from_civil(i64::from(d[0]), d[1], d[2], t[0], t[1], t[2], 0, 0).map(|t| t.secs)
}

/// Checks the volume against 7-Zip's listing of the same image.
fn check_against_7z(vol: &Volume, img: &Path) {
    let z = seven_zip(img);
    assert!(!z.is_empty(), "7z listed nothing");
    let seen = walk(vol, 0);
    let zk: Vec<_> = z.keys().collect();
    let sk: Vec<_> = seen.keys().collect();
    assert_eq!(sk, zk, "paths differ from 7z -tudf");
    for (path, e) in &z {
        let s = &seen[path];
        assert_eq!(s.kind == FileType::Directory, e.dir, "{path}: kind vs 7z");
        if !e.dir {
            assert_eq!(s.size, e.size, "{path}: size vs 7z");
        }
        if let Some(m) = e.mtime {
            assert_eq!(s.mtime, m, "{path}: mtime vs 7z");
        }
    }
}

/// `mkudffs` on a fresh 100 MiB (sparse) image file: udfclient runs out of
/// room after five files on a 20 MiB one.
fn mkudffs(img: &Path, args: &[&str]) {
    let f = fs::File::create(img).unwrap();
    f.set_len(100 << 20).unwrap();
    drop(f);
    run(Command::new("mkudffs").args(args).arg(img));
}

/// The name udfclient gives the volume set in its root (the file system is
/// inside that one entry).
fn udfclient_volume(img: &Path, block: u32) -> String {
    let probe = Command::new("udfclient")
        .args(["-b", &block.to_string()])
        .arg(img)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = feed(probe, "quit\n");
    out.lines()
        .filter(|l| l.starts_with('d') && l.contains(':'))
        .filter_map(|l| l.split_whitespace().last())
        .next()
        .unwrap_or_else(|| panic!("udfclient shows no volume:\n{out}"))
        .to_string()
}

/// Copies `src` into the UDF image with udfclient (interactive: the
/// commands go to its stdin). Its root lists the mounted volume sets; the
/// file system is inside the one entry shown there.
fn udfclient_put(img: &Path, src: &Path, block: u32) {
    let vol = udfclient_volume(img, block);
    fn script(dir: &Path, out: &mut String) {
        let mut names: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        names.sort();
        for p in names {
            let name = p.file_name().unwrap().to_str().unwrap();
            if p.is_dir() {
                writeln!(out, "mkdir \"{name}\"\ncd \"{name}\"\nlcd \"{name}\"").unwrap();
                script(&p, out);
                out.push_str("cd ..\nlcd ..\n");
            } else {
                writeln!(out, "put \"{name}\"").unwrap();
            }
        }
    }
    let mut cmds = format!("cd {vol}\n");
    script(src, &mut cmds);
    cmds.push_str("quit\n");
    let child = Command::new("udfclient")
        .args(["-W", "-b", &block.to_string()])
        .arg(img)
        .current_dir(src)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = feed(child, &cmds);
    assert!(
        !out.contains("No space left") && !out.contains("couldn't"),
        "udfclient failed:\n{out}"
    );
}

fn feed(mut child: std::process::Child, input: &str) -> String {
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn extra<'a>(vol: &'a Volume, key: &str) -> Vec<&'a str> {
    vol.info()
        .extra
        .iter()
        .filter(|(k, _)| *k == key)
        .map(|(_, v)| v.as_str())
        .collect()
}

struct Tmp {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn tmp() -> Tmp {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    Tmp { _dir: dir, path }
}

// ---------------------------------------------------------------- tests

#[test]
fn genisoimage_bridge_matches_source_and_7z() {
    let t = tmp();
    let src = t.path.join("src");
    small_tree(&src);
    // Windows-install shape: boot/, efi/microsoft/boot/, a big sparse install.wim.
    fs::create_dir_all(src.join("efi/microsoft/boot")).unwrap();
    fs::create_dir_all(src.join("boot")).unwrap();
    fs::create_dir_all(src.join("sources")).unwrap();
    fs::write(src.join("boot/BCD"), patterned(12_288, 1)).unwrap();
    fs::write(
        src.join("efi/microsoft/boot/efisys.bin"),
        patterned(2048, 2),
    )
    .unwrap();
    // Latin-1 (8-bit CS0) and beyond (16-bit CS0) names.
    fs::write(src.join("café.txt"), b"8-bit\n").unwrap();
    fs::write(src.join("Ωmega 日本.txt"), b"16-bit\n").unwrap();
    let wim = fs::File::create(src.join("sources/install.wim")).unwrap();
    wim.set_len(50_000_000).unwrap();
    {
        use std::os::unix::fs::FileExt;
        wim.write_all_at(b"MSWIM\0\0\0", 0).unwrap();
        wim.write_all_at(b"tail", 49_999_996).unwrap();
    }
    drop(wim);
    for p in [
        "boot/BCD",
        "efi/microsoft/boot/efisys.bin",
        "sources/install.wim",
        "café.txt",
        "Ωmega 日本.txt",
    ] {
        touch(&src.join(p), "2009-07-14 03:00:00 UTC");
    }
    let img = t.path.join("bridge.iso");
    run(Command::new("genisoimage")
        .args(["-quiet", "-udf", "-J", "-R", "-V", "BRIDGE_VOL", "-o"])
        .arg(&img)
        .arg(&src));
    let vol = open_udf(&img);
    let info = vol.info();
    assert_eq!(info.format, "UDF 1.02");
    assert_eq!(info.label, "BRIDGE_VOL");
    assert_eq!(info.block_size, 2048);
    assert!(
        info.ids
            .iter()
            .any(|(k, v)| *k == "logical_volume_id" && v == "BRIDGE_VOL")
    );
    check_against_source(&vol, &src, true);
    check_against_7z(&vol, &img);

    // The big sparse file reads right at both ends and across the middle.
    let wim = vol.resolve("sources/install.wim", true).unwrap();
    assert_eq!(wim.attr().size, 50_000_000);
    let mut head = [0u8; 8];
    vol.read(wim.id(), 0, &mut head).unwrap();
    assert_eq!(&head, b"MSWIM\0\0\0");
    let mut tail = [0u8; 16];
    assert_eq!(vol.read(wim.id(), 49_999_988, &mut tail).unwrap(), 12);
    assert_eq!(&tail[8..12], b"tail");
    // Case-insensitive lookup as Windows does it.
    let root = vol.root();
    assert!(vol.lookup_ignore_case(root, "mixed").is_ok());
    // Node ids are file entry offsets, distinct and stable.
    let seen = walk(&vol, 0);
    let mut inodes: Vec<_> = seen.values().map(|s| s.inode).collect();
    inodes.sort_unstable();
    inodes.dedup();
    assert_eq!(inodes.len(), seen.len());
    let again = walk(&open_udf(&img), 0);
    assert_eq!(seen, again);
}

#[test]
fn genisoimage_thousands_of_entries() {
    let t = tmp();
    let src = t.path.join("src");
    fs::create_dir_all(src.join("many")).unwrap();
    for i in 0..3000 {
        fs::write(src.join(format!("many/File_{i:05}.txt")), format!("{i}\n")).unwrap();
    }
    let img = t.path.join("many.iso");
    run(Command::new("genisoimage")
        .args(["-quiet", "-udf", "-J", "-R", "-o"])
        .arg(&img)
        .arg(&src));
    let vol = open_udf(&img);
    let many = vol.resolve("many", true).unwrap();
    let dir = vol.read_dir(many.id()).unwrap();
    assert_eq!(dir.len(), 3000);
    assert!(dir.problems().is_empty());
    let f = vol.lookup(many.id(), "File_02999.txt").unwrap();
    let mut buf = [0u8; 5];
    assert_eq!(vol.read(f.id(), 0, &mut buf).unwrap(), 5);
    assert_eq!(&buf, b"2999\n");
}

/// mkudffs at each revision, populated by udfclient, against source and 7z.
/// 7-Zip reads neither sparable nor strategy-4096 volumes ("Unsupported
/// feature"): those are checked against the source tree only.
fn mkudffs_populated(args: &[&str], block: u32, format: &str, maps: &str, with_7z: bool) -> Volume {
    let t = tmp();
    let src = t.path.join("src");
    small_tree(&src);
    let img = t.path.join("udf.img");
    mkudffs(&img, args);
    udfclient_put(&img, &src, block);
    let vol = open_udf(&img);
    assert_eq!(vol.info().format, format);
    assert_eq!(vol.info().label, "LinuxUDF");
    assert_eq!(vol.info().block_size, block);
    assert_eq!(extra(&vol, "Partition maps"), [maps]);
    // udfclient stamps files with the time of copying, not the source's.
    check_against_source(&vol, &src, false);
    if with_7z {
        check_against_7z(&vol, &img);
    }
    vol
}

#[test]
fn mkudffs_102_udfclient() {
    mkudffs_populated(
        &["--media-type=hd", "--udfrev=0x0102", "-b", "2048"],
        2048,
        "UDF 1.02",
        "physical",
        true,
    );
}

#[test]
fn mkudffs_512_byte_blocks_udfclient() {
    mkudffs_populated(
        &["--media-type=hd", "--udfrev=0x0201", "-b", "512"],
        512,
        "UDF 2.01",
        "physical",
        true,
    );
}

#[test]
fn mkudffs_150_udfclient() {
    mkudffs_populated(
        &["--media-type=hd", "--udfrev=0x0150", "-b", "2048"],
        2048,
        "UDF 1.50",
        "physical",
        true,
    );
}

#[test]
fn mkudffs_201_udfclient() {
    mkudffs_populated(
        &["--media-type=hd", "--udfrev=0x0201", "-b", "2048"],
        2048,
        "UDF 2.01",
        "physical",
        true,
    );
}

#[test]
fn mkudffs_sparable_cdrw_udfclient() {
    mkudffs_populated(
        &["--media-type=cdrw", "--udfrev=0x0201", "-b", "2048"],
        2048,
        "UDF 2.01",
        "sparable",
        false,
    );
}

#[test]
fn mkudffs_strategy_4096_udfclient() {
    mkudffs_populated(
        &[
            "--media-type=hd",
            "--udfrev=0x0201",
            "-b",
            "2048",
            "--strategy=4096",
        ],
        2048,
        "UDF 2.01",
        "physical",
        false,
    );
}

#[test]
fn mkudffs_variants_empty() {
    // Block sizes other than 2048 (anchor search), descriptor kinds, no EFE.
    for (args, bs) in [
        (&["--media-type=hd", "-b", "512"][..], 512),
        (&["--media-type=hd", "-b", "1024"][..], 1024),
        (&["--media-type=hd", "-b", "4096"][..], 4096),
        (&["--media-type=hd", "-b", "2048", "--ad=long"][..], 2048),
        (&["--media-type=hd", "-b", "2048", "--ad=short"][..], 2048),
        (&["--media-type=hd", "-b", "2048", "--noefe"][..], 2048),
        (&["--media-type=dvdrw", "-b", "2048"][..], 2048),
    ] {
        let t = tmp();
        let img = t.path.join("e.img");
        mkudffs(&img, &[args, &["--label=Empty Vol"]].concat());
        let vol = open_udf(&img);
        assert_eq!(vol.info().block_size, bs, "{args:?}");
        assert_eq!(vol.info().label, "Empty Vol", "{args:?}");
        let root = vol.read_dir(vol.root()).unwrap();
        assert!(root.is_empty() && root.problems().is_empty(), "{args:?}");
        let a = vol.attr(vol.root()).unwrap();
        assert_eq!(a.mode, 0o755, "{args:?}");
        // 7-Zip opens only 512- and 2048-byte volumes, and no sparable ones.
        if matches!(bs, 512 | 2048) && !args.contains(&"--media-type=dvdrw") {
            check_against_7z_empty(&img);
        }
    }
}

/// 7-Zip agrees that the image is UDF and empty.
fn check_against_7z_empty(img: &Path) {
    assert!(seven_zip(img).is_empty());
    let out = run(Command::new("7z").args(["l", "-slt", "-tudf"]).arg(img));
    assert!(out.contains("Type = Udf"), "{out}");
}

#[test]
fn mkudffs_vat_media() {
    for (args, format, form) in [
        (
            &["--media-type=cdr", "--udfrev=0x0201"][..],
            "UDF 2.01",
            "VAT 2.00",
        ),
        (
            &["--media-type=cdr", "--udfrev=0x0150"][..],
            "UDF 1.50",
            "VAT 1.50",
        ),
        (
            &["--media-type=bdr", "--udfrev=0x0250"][..],
            "UDF 2.50",
            "VAT 2.00",
        ),
    ] {
        let t = tmp();
        let img = t.path.join("vat.img");
        mkudffs(&img, args);
        // On a disc the VAT's ICB is the last sector; this image file has
        // zeros after what mkudffs wrote, and the reader steps over them.
        let vol = open_udf(&img);
        assert_eq!(vol.info().format, format);
        assert_eq!(
            extra(&vol, "Partition maps"),
            [format!("physical, virtual ({form})")]
        );
        assert!(extra(&vol, "VAT")[0].starts_with(form));
        let root = vol.read_dir(vol.root()).unwrap();
        assert!(root.is_empty() && root.problems().is_empty());
        // Cut to the last written sector, as a disc image would be.
        let data = fs::read(&img).unwrap();
        let last = data.iter().rposition(|&b| b != 0).unwrap() / 2048 + 1;
        let vol = open_src(Arc::new(MemSource::new(data[..last * 2048].to_vec())));
        assert_eq!(vol.info().format, format);
    }
}

/// A populated 2.01 image, its bytes, and the source tree.
fn populated_201(t: &Tmp) -> (PathBuf, PathBuf) {
    let src = t.path.join("src");
    small_tree(&src);
    let img = t.path.join("udf.img");
    mkudffs(&img, &["--media-type=hd", "--udfrev=0x0201", "-b", "2048"]);
    udfclient_put(&img, &src, 2048);
    (img, src)
}

fn tag_ident(b: &[u8]) -> u16 {
    u16::from_le_bytes([b[0], b[1]])
}

#[test]
fn damaged_images_fall_back_or_fail_cleanly() {
    let t = tmp();
    let (img, src) = populated_201(&t);
    let pristine = fs::read(&img).unwrap();
    let blocks = pristine.len() / 2048;
    let block = |d: &[u8], i: usize| d[i * 2048..(i + 1) * 2048].to_vec();
    let anchor = block(&pristine, 256);
    let main = u32::from_le_bytes(anchor[20..24].try_into().unwrap()) as usize;
    let open_bytes = |d: Vec<u8>| fs_core::udf::open(Arc::new(MemSource::new(d)));

    // 1. Main VDS: the LVD's body is damaged (CRC fails) -> reserve used.
    let mut d = pristine.clone();
    let lvd = (main..main + 16)
        .find(|&i| tag_ident(&block(&d, i)) == 6)
        .unwrap();
    d[lvd * 2048 + 100] ^= 0x55;
    let vol = open_src(Arc::new(MemSource::new(d)));
    let note = extra(&vol, "Volume descriptors");
    assert!(note[0].contains("reserve sequence used"), "{note:?}");
    check_against_source(&vol, &src, false);

    // 2. Anchor at 256 destroyed: the one at N-1 is found.
    let mut d = pristine.clone();
    d[256 * 2048 + 4] ^= 0xff;
    let vol = open_src(Arc::new(MemSource::new(d)));
    assert_eq!(extra(&vol, "Anchor"), [format!("sector {}", blocks - 1)]);

    // 3. No anchor anywhere but NSR present: a clear error, not "no UDF".
    let mut d = pristine.clone();
    for i in [256, blocks - 1, blocks - 257] {
        d[i * 2048..i * 2048 + 16].fill(0);
    }
    let e = open_bytes(d).err().expect("error").to_string();
    assert!(e.contains("NSR03") && e.contains("anchor"), "{e}");

    // 4. One file's entry is corrupt: that entry is a problem, the rest lists.
    let vol = open_udf(&img);
    let big = vol.resolve("big.bin", false).unwrap();
    let fe = big.id().0 as usize;
    let mut d = pristine.clone();
    d[fe + 200] ^= 0xff;
    let vol = open_src(Arc::new(MemSource::new(d)));
    let root = vol.read_dir(vol.root()).unwrap();
    assert_eq!(root.problems().len(), 1, "{:?}", root.problems());
    let p = root.problems()[0].to_string();
    assert!(p.contains("big.bin") && p.contains("CRC"), "{p}");
    assert!(root.get("Dir1").is_some() && root.get("big.bin").is_none());

    // 5. Truncated image: opening or reading fails with Truncated, no panic.
    for cut in [300usize, 2000, blocks / 2] {
        let d = pristine[..cut * 2048].to_vec();
        match open_bytes(d) {
            Ok(Some((fmt, _))) => {
                let root = fmt.root().unwrap();
                let _ = fmt.read_dir(&root);
            }
            Ok(None) => {}
            Err(e) => assert!(
                matches!(e, Error::Truncated { .. } | Error::Corrupt { .. }),
                "{e}"
            ),
        }
    }

    // 6. Every byte of the metadata region flipped in turn never panics.
    for i in (256 * 2048..(main + 8) * 2048).step_by(97) {
        let mut d = pristine.clone();
        d[i] ^= 0xa5;
        if let Ok(Some((fmt, _))) = open_bytes(d) {
            if let Ok(root) = fmt.root() {
                let _ = fmt.read_dir(&root);
            }
        }
    }
}

#[test]
fn plain_iso_is_not_udf() {
    let t = tmp();
    let src = t.path.join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("a.txt"), b"a").unwrap();
    let img = t.path.join("plain.iso");
    run(Command::new("genisoimage")
        .args(["-quiet", "-J", "-R", "-o"])
        .arg(&img)
        .arg(&src));
    let src: Arc<dyn ReadAt> = Arc::new(FileSource::open(&img).unwrap());
    assert!(fs_core::udf::open(src).unwrap().is_none());
    assert!(
        fs_core::udf::open(Arc::new(MemSource::new(vec![0u8; 4096])))
            .unwrap()
            .is_none()
    );
}

/// A file over 4 GiB on a bridge image (`genisoimage -allow-limited-size`):
/// UDF holds its real size in several allocation descriptors. Writes a
/// 4.5 GB image, so it runs only on request (`--ignored`).
#[test]
#[ignore]
fn genisoimage_file_over_4gib() {
    use std::os::unix::fs::FileExt;
    let t = tmp();
    let src = t.path.join("src");
    fs::create_dir_all(src.join("sources")).unwrap();
    fs::write(src.join("README.TXT"), b"readme\n").unwrap();
    let size = 4_500_000_000u64;
    let f = fs::File::create(src.join("sources/install.wim")).unwrap();
    f.set_len(size).unwrap();
    f.write_all_at(b"HEAD", 0).unwrap();
    f.write_all_at(b"MID!", 1 << 32).unwrap();
    f.write_all_at(b"TAIL", size - 4).unwrap();
    drop(f);
    let img = t.path.join("big.iso");
    run(Command::new("genisoimage")
        .args(["-quiet", "-udf", "-allow-limited-size", "-o"])
        .arg(&img)
        .arg(&src));
    let vol = open_udf(&img);
    check_against_7z(&vol, &img);
    let wim = vol.resolve("/sources/install.wim", true).unwrap();
    assert_eq!(wim.attr().size, size);
    for (off, want) in [(0, b"HEAD"), (1 << 32, b"MID!"), (size - 4, b"TAIL")] {
        let mut b = [0u8; 4];
        assert_eq!(vol.read(wim.id(), off, &mut b).unwrap(), 4);
        assert_eq!(&b, want, "at {off}");
    }
}

#[test]
fn mkudffs_unicode_label_is_16_bit_cs0() {
    let t = tmp();
    let img = t.path.join("u.img");
    // Outside Latin-1, so mkudffs records the identifiers as 16-bit CS0.
    mkudffs(
        &img,
        &[
            "--utf8",
            "--media-type=hd",
            "-b",
            "2048",
            "--label=Ωmega Δisk",
        ],
    );
    let vol = open_udf(&img);
    assert_eq!(vol.info().label, "Ωmega Δisk");
    let z = run(Command::new("7z").args(["l", "-slt", "-tudf"]).arg(&img));
    assert!(z.contains("VolumeId: Ωmega Δisk"), "{z}");
    let ids = &vol.info().ids;
    assert!(
        ids.contains(&("volume_id", "Ωmega Δisk".to_string())),
        "{ids:?}"
    );
}

/// udfclient `rm` leaves the FID in place with the "deleted" bit (4/14.4.3):
/// the entry is not listed, by us or by 7-Zip.
#[test]
fn udfclient_deleted_entry_is_skipped() {
    let t = tmp();
    let src = t.path.join("src");
    small_tree(&src);
    let img = t.path.join("udf.img");
    mkudffs(&img, &["--media-type=hd", "--udfrev=0x0201", "-b", "2048"]);
    udfclient_put(&img, &src, 2048);
    let vol = open_udf(&img);
    let before = vol.read_dir(vol.root()).unwrap().len();
    let vol_name = udfclient_volume(&img, 2048);
    let child = Command::new("udfclient")
        .args(["-W", "-b", "2048"])
        .arg(&img)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    feed(child, &format!("cd {vol_name}\nrm big.bin\nquit\n"));
    let vol = open_udf(&img);
    let root = vol.read_dir(vol.root()).unwrap();
    assert_eq!(root.len(), before - 1);
    assert!(root.get("big.bin").is_none());
    assert!(root.problems().is_empty());
    check_against_7z(&vol, &img);
}
