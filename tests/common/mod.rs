//! Shared pieces of the integration tests: fixture images built by
//! independent tools (`ci/fixtures.sh`: xorriso, genisoimage), their expected
//! listings (made from the source tree by `ci/tree-manifest.py`, or for the
//! real corpus image by `osirrox`), and a comparison that reports every
//! difference at once.
#![allow(dead_code)]

#[cfg(target_os = "linux")]
pub mod fault_proxy;
#[cfg(unix)]
pub mod mount;
// The servers harness is shared with fs-core's fetcher tests.
#[cfg(target_os = "linux")]
#[path = "../../fs-core/tests/support/data.rs"]
pub mod data;
#[cfg(target_os = "linux")]
pub mod serve;
#[cfg(target_os = "linux")]
#[path = "../../fs-core/tests/support/servers.rs"]
pub mod servers;
pub mod walk;
// Running outside tools, shared with fs-core's tests.
#[path = "../../fs-core/tests/support/tool.rs"]
mod tool;
pub use tool::run;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Root of the repository.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The real images shipped with the repository (see tests/corpus/PROVENANCE.md).
pub fn corpus(name: &str) -> PathBuf {
    repo().join("tests/corpus").join(name)
}

/// A directory holding the small fixtures, built once per test binary.
pub fn fixtures() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| build_fixtures(false))
}

/// The 4 GiB multi-extent fixture, built once per test binary.
pub fn big_fixtures() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| build_fixtures(true))
}

fn build_fixtures(big: bool) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let tag = exe
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("t")
        .to_string();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("fixtures-{tag}{}", if big { "-big" } else { "" }));
    let _ = std::fs::remove_dir_all(&dir);
    let mut cmd = Command::new("bash");
    cmd.arg(repo().join("ci/fixtures.sh"));
    if big {
        cmd.arg("--big");
    }
    let out = cmd.arg(&dir).output().expect("run ci/fixtures.sh");
    assert!(
        out.status.success(),
        "ci/fixtures.sh failed (are xorriso and genisoimage installed? `bash ci/test.sh` installs them):\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

/// An expected or observed listing: path (relative, no leading '/') →
/// object in the `ref.jsonl` shape.
pub type Listing = BTreeMap<String, BTreeMap<String, Value>>;

/// Reads a `ref.jsonl` file.
pub fn load_ref(path: &Path) -> Listing {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Listing::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: BTreeMap<String, Value> = serde_json::from_str(line).expect("ref line is JSON");
        let p = v["path"].as_str().expect("path").to_string();
        out.insert(p, v);
    }
    out
}

/// Lower-case hex SHA-256 of a byte slice.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// Lower-case hex SHA-256 of everything a reader yields.
pub fn sha256_reader(mut r: impl Read) -> String {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = r.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    hex(&h.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Which keys of the expected listing a view can carry.
#[derive(Debug, Clone, Copy)]
pub struct Keys {
    /// Compare permission bits, owner and group (Rock Ridge only).
    pub posix: bool,
    /// Compare symlinks, device numbers and FIFOs (Rock Ridge only).
    pub specials: bool,
    /// Check that hard links share one inode and nothing else does.
    pub links: bool,
}

impl Keys {
    /// Everything: a Rock Ridge view.
    pub const ALL: Keys = Keys {
        posix: true,
        specials: true,
        links: true,
    };
    /// Names, types, sizes, contents and mtimes: Joliet and plain views.
    pub const BASIC: Keys = Keys {
        posix: false,
        specials: false,
        links: false,
    };
}

/// Compares `ours` with `expected` and panics with every difference.
/// Keys present in `expected` but absent from `ours` are differences too,
/// except `uid`/`gid`/`mode` when `keys.posix` is off, and
/// `link_group`, which is checked through the `inode` key of `ours`.
pub fn assert_listing(what: &str, expected: &Listing, ours: &Listing, keys: Keys) {
    let mut problems = Vec::new();
    for (path, exp) in expected {
        let Some(got) = ours.get(path) else {
            problems.push(format!("missing: {path}"));
            continue;
        };
        for (k, v) in exp {
            let skip = match k.as_str() {
                "path" => true,
                "mode" | "uid" | "gid" => !keys.posix,
                "rdev" | "kind" | "target" => !keys.specials,
                "link_group" => true,
                _ => false,
            };
            if skip {
                continue;
            }
            match got.get(k) {
                Some(g) if g == v => {}
                Some(g) => problems.push(format!("{path}: {k} is {g}, expected {v}")),
                None => problems.push(format!("{path}: no {k} (expected {v})")),
            }
        }
    }
    for path in ours.keys() {
        if !expected.contains_key(path) {
            problems.push(format!("unexpected entry: {path}"));
        }
    }
    if keys.links {
        // Hard links: every path of one link group reports the same inode.
        let mut groups: BTreeMap<&str, Vec<(&str, Option<&Value>)>> = BTreeMap::new();
        for (path, exp) in expected {
            if let Some(g) = exp.get("link_group").and_then(Value::as_str) {
                let ino = ours.get(path).and_then(|o| o.get("inode"));
                groups.entry(g).or_default().push((path, ino));
            }
        }
        for (g, members) in &groups {
            let first = members[0].1;
            if first.is_none() || members.iter().any(|m| m.1 != first) {
                problems.push(format!(
                    "hard links of {g} do not share an inode: {members:?}"
                ));
            }
        }
        // And nothing else shares it.
        let mut seen: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        for (path, o) in ours {
            if let Some(ino) = o.get("inode") {
                seen.entry(ino.to_string()).or_default().push(path);
            }
        }
        for (ino, paths) in seen {
            if paths.len() > 1 {
                let grouped = paths.iter().all(|p| {
                    expected
                        .get(*p)
                        .and_then(|e| e.get("link_group"))
                        .is_some_and(|g| {
                            Some(g) == expected.get(paths[0]).and_then(|e| e.get("link_group"))
                        })
                });
                if !grouped {
                    problems.push(format!("inode {ino} shared by unrelated entries {paths:?}"));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{what}: {} difference(s) from the expected listing:\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
}

/// Builds one observed entry in the `ref.jsonl` shape.
#[allow(clippy::too_many_arguments)]
pub fn entry(
    kind: &str,
    size: u64,
    sha256: Option<String>,
    target: Option<String>,
    mode: u32,
    mtime: i64,
    uid: u32,
    gid: u32,
    rdev: Option<(u32, u32)>,
    inode: u64,
) -> BTreeMap<String, Value> {
    let mut m = BTreeMap::new();
    let (t, k) = match kind {
        "file" | "dir" | "symlink" => (kind, None),
        "chardev" => ("other", Some("char")),
        "blockdev" => ("other", Some("block")),
        "fifo" => ("other", Some("fifo")),
        _ => ("other", Some("socket")),
    };
    m.insert("type".into(), Value::from(t));
    if let Some(k) = k {
        m.insert("kind".into(), Value::from(k));
    }
    if kind == "file" {
        m.insert("size".into(), Value::from(size));
    }
    if let Some(s) = sha256 {
        m.insert("sha256".into(), Value::from(s));
    }
    if let Some(t) = target {
        m.insert("target".into(), Value::from(t));
    }
    if let Some((ma, mi)) = rdev {
        m.insert("rdev".into(), Value::from(vec![ma, mi]));
    }
    m.insert("mode".into(), Value::from(mode & 0o7777));
    m.insert("mtime".into(), Value::from(mtime));
    m.insert("uid".into(), Value::from(uid));
    m.insert("gid".into(), Value::from(gid));
    m.insert("inode".into(), Value::from(inode));
    m
}

/// True when FUSE can be used here. When it cannot, says so loudly: a
/// skipped FUSE test must never pass silently.
pub fn fuse_available() -> bool {
    if Path::new("/dev/fuse").exists() {
        return true;
    }
    eprintln!();
    eprintln!("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!");
    eprintln!("!! SKIPPED: /dev/fuse is missing on this machine; FUSE mount tests !!");
    eprintln!("!! did NOT run. They run in CI, where /dev/fuse exists.            !!");
    eprintln!("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!");
    false
}

/// Builds a Rock Ridge + Joliet (long names) image of `tree` at `out` with
/// xorriso, volume id `label`; a missing xorriso fails with the fix.
pub fn xorriso_image(tree: &Path, out: &Path, label: &str) {
    run(Command::new("xorriso")
        .args([
            "-as",
            "mkisofs",
            "-quiet",
            "-R",
            "-J",
            "-joliet-long",
            "-V",
            label,
            "-o",
        ])
        .arg(out)
        .arg(tree));
}

/// Runs the built `isomount` binary.
pub fn isomount(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_isomount"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run isomount")
}

/// Finds the primary-tree directory record whose file identifier is `name`
/// (e.g. `HELLO.TXT;1`) by its bytes and points its extent (ECMA-119 9.1.3,
/// both-endian) far past the end of the image: a record a hostile or
/// damaged image could hold.
pub fn point_record_past_end(img: &mut [u8], name: &[u8]) {
    let pos = img
        .windows(name.len())
        .enumerate()
        .find(|(i, w)| *w == name && *i >= 33 && usize::from(img[i - 1]) == name.len())
        .map(|(i, _)| i)
        .expect("record in image");
    let rec = pos - 33;
    let lba: u32 = 0x00F0_0000;
    img[rec + 2..rec + 6].copy_from_slice(&lba.to_le_bytes());
    img[rec + 6..rec + 10].copy_from_slice(&lba.to_be_bytes());
}

// ---------------------------------------------------------------- UDF

/// A directory holding the small UDF fixtures (`ci/udf-fixtures.sh`:
/// genisoimage, mkudffs + udfclient, ci/udf_writer.py, each checked with
/// 7-Zip, udfclient or udfinfo), built once per test binary.
pub fn udf_fixtures() -> &'static Path {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match DIR.get_or_init(|| build_udf_fixtures(false)) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

/// `bigbridge.iso` (a 4 GiB + 1 MiB file on a UDF bridge), built once per
/// test binary; writes ~4.3 GB.
pub fn udf_big_fixtures() -> &'static Path {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match DIR.get_or_init(|| build_udf_fixtures(true)) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

/// Builds once; a failure is remembered so every test reports it without
/// running the (slow) script again.
fn build_udf_fixtures(big: bool) -> Result<PathBuf, String> {
    let exe = std::env::current_exe().expect("test binary path");
    let tag = exe
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("t")
        .to_string();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "udf-fixtures-{tag}{}",
        if big { "-big" } else { "" }
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let mut cmd = Command::new("bash");
    cmd.arg(repo().join("ci/udf-fixtures.sh"));
    if big {
        cmd.arg("--big");
    }
    let out = cmd
        .arg(&dir)
        .output()
        .map_err(|e| format!("cannot run ci/udf-fixtures.sh: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "ci/udf-fixtures.sh failed ({}; are genisoimage, udftools, udfclient and 7z \
             installed? `bash ci/install-deps.sh` installs them):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(dir)
}

/// One entry of a `7z l -slt` listing: directory flag and size (files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SevenZipEntry {
    /// `Folder = +`.
    pub dir: bool,
    /// `Size = N` (None for folders).
    pub size: Option<u64>,
}

/// Parses a saved `7z l -slt -tudf` listing (NAME.7z.txt): path → entry.
pub fn seven_zip_listing(path: &Path) -> BTreeMap<String, SevenZipEntry> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let body = text
        .split_once("\n----------\n")
        .map(|(_, b)| b)
        .unwrap_or_else(|| panic!("{}: no 7z entry list", path.display()));
    let mut out = BTreeMap::new();
    for block in body.split("\n\n") {
        let mut p = None;
        let mut dir = false;
        let mut size = None;
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("Path = ") {
                p = Some(v.to_string());
            } else if line == "Folder = +" {
                dir = true;
            } else if let Some(v) = line.strip_prefix("Size = ") {
                size = v.trim().parse().ok();
            }
        }
        if let Some(p) = p {
            out.insert(
                p,
                SevenZipEntry {
                    dir,
                    size: if dir { None } else { size },
                },
            );
        }
    }
    out
}

/// A `key=value` field of a saved `udfinfo` output (NAME.udfinfo.txt).
pub fn udfinfo_field(path: &Path, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('=').map(str::to_string))
}

/// CRC-ITU-T as ECMA-167 1/7.2.6 uses it (polynomial 0x1021, initial 0).
pub fn udf_crc(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in data {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// Recomputes the CRC (over the tag's own CRC length) and the checksum of
/// the UDF descriptor tag at `img[off..]` (ECMA-167 3/7.2), so a patched
/// descriptor is damaged only where the test means it to be.
pub fn udf_fix_tag(img: &mut [u8], off: usize) {
    let crc_len = usize::from(u16::from_le_bytes([img[off + 10], img[off + 11]]));
    let crc = udf_crc(&img[off + 16..off + 16 + crc_len]);
    img[off + 8..off + 10].copy_from_slice(&crc.to_le_bytes());
    img[off + 4] = 0;
    let sum = img[off..off + 16]
        .iter()
        .fold(0u8, |a, &b| a.wrapping_add(b));
    img[off + 4] = sum;
}
