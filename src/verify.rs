//! `isomount verify`: every structure fs-core can check, the files the
//! image's own checksum lists name, and (`--expect`) the image's SHA-256.
//!
//! The structure checks are fs-core's ([`fs_core::verify`]); this module
//! adds what needs digests (checksum files as Linux distributions ship them:
//! `md5sum.txt`, `MD5SUMS`, `sha256sum.txt`, `SHA256SUMS`, `SHA512SUMS`,
//! `*CHECKSUM`), draws the progress bar and prints the report as text or
//! one JSON document (described in the README).

use std::io::{self, IsTerminal, Write};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use fs_core::source::ReadAt;
use fs_core::verify::{Options, Progress, Report};
use fs_core::{Extent, FileType, Node, OpenOptions, Volume};
use indicatif::{ProgressBar, ProgressStyle};
use md5::Md5;
use serde_json::{Value, json};
use sha2::{Digest, Sha256, Sha512};

use crate::cli::ImageArgs;
use crate::common::{ImageSource, open_source};

/// Exit status when the image could not be checked at all.
pub const NOT_CHECKED: u8 = 3;

/// The image could not be opened or holds no file system: nothing was
/// checked (exit status [`NOT_CHECKED`], not "problems found").
#[derive(Debug)]
pub struct NotChecked(String);

impl std::fmt::Display for NotChecked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NotChecked {}

/// Bytes read per call while hashing.
const PIECE: usize = 1 << 20;
/// Threads hashing the files a checksum list names.
const HASHERS: usize = 2;
/// Largest checksum file read.
const MAX_LIST_BYTES: u64 = 16 << 20;

/// Runs `verify`; Ok(false) when problems were found (exit status 1).
pub fn run(args: &ImageArgs, image: &Path, expect: Option<&str>, json: bool) -> Result<bool> {
    let ImageSource {
        src,
        neighbours,
        shown,
    } = open_source(args, image).map_err(|e| NotChecked(format!("{e:#}")))?;
    let bar = Bar::new(!json && io::stderr().is_terminal());
    let opts = Options {
        neighbours: Some(Arc::clone(&neighbours)),
        cache_bytes: args.cache_size,
        ..Options::default()
    };
    let mut report = fs_core::verify::verify(src.clone(), &opts, &bar)
        .map_err(|e| NotChecked(format!("{shown}: {e}")))?;
    let vol_opts = OpenOptions {
        cache_bytes: args.cache_size,
        neighbours: Some(neighbours),
        boot_dir: false,
        ..OpenOptions::default()
    };
    let mut lists = Vec::new();
    match Volume::open(src.clone(), &vol_opts) {
        Ok(vol) => lists = check_lists(&vol, &mut report, &bar),
        Err(e) => report.error(&e, "volume", None),
    }
    let image_sha256 = expect.map(|want| check_image(&*src, want, &mut report, &bar));
    bar.finish();
    let mut out = io::stdout().lock();
    if json {
        let doc = to_json(&shown, &report, &lists, image_sha256.as_deref());
        writeln!(out, "{doc}").context("cannot write to standard output")?;
    } else {
        write_text(&mut out, &shown, &report, &lists, image_sha256.as_deref())
            .context("cannot write to standard output")?;
    }
    out.flush().context("cannot write to standard output")?;
    Ok(report.ok())
}

/// The progress bar on standard error (or nothing).
struct Bar(Option<ProgressBar>);

impl Bar {
    fn new(show: bool) -> Bar {
        Bar(show.then(|| {
            let pb = ProgressBar::new(0);
            pb.enable_steady_tick(std::time::Duration::from_millis(200));
            pb
        }))
    }

    fn finish(&self) {
        if let Some(pb) = &self.0 {
            pb.finish_and_clear();
        }
    }
}

impl Progress for Bar {
    fn phase(&self, what: &str, total: u64) {
        if let Some(pb) = &self.0 {
            // Byte counts where the phase knows its size, a spinner where
            // it walks structures of unknown number.
            let style = if total > 0 {
                ProgressStyle::with_template(
                    "{msg:28} {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                )
            } else {
                ProgressStyle::with_template("{msg:28} {spinner} {elapsed}")
            };
            pb.set_style(style.unwrap_or_else(|_| ProgressStyle::default_bar()));
            pb.set_message(what.to_string());
            pb.set_length(total);
            pb.set_position(0);
        }
    }

    fn advance(&self, bytes: u64) {
        if let Some(pb) = &self.0 {
            pb.inc(bytes);
        }
    }
}

/// A digest the checksum lists use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Algorithm {
    Md5,
    Sha256,
    Sha512,
}

impl Algorithm {
    fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha512 => "SHA-512",
        }
    }

    /// The digest whose hex form has `len` digits.
    fn from_hex_len(len: usize) -> Option<Algorithm> {
        match len {
            32 => Some(Algorithm::Md5),
            64 => Some(Algorithm::Sha256),
            128 => Some(Algorithm::Sha512),
            _ => None,
        }
    }

    /// The BSD-style tag (`SHA256 (file) = ...`).
    fn from_tag(tag: &str) -> Option<Algorithm> {
        match tag.to_ascii_uppercase().as_str() {
            "MD5" => Some(Algorithm::Md5),
            "SHA256" => Some(Algorithm::Sha256),
            "SHA512" => Some(Algorithm::Sha512),
            _ => None,
        }
    }
}

/// A running digest of one of the [`Algorithm`]s.
enum Hasher {
    Md5(Md5),
    Sha256(Sha256),
    Sha512(Sha512),
}

impl Hasher {
    fn new(a: Algorithm) -> Hasher {
        match a {
            Algorithm::Md5 => Hasher::Md5(Md5::new()),
            Algorithm::Sha256 => Hasher::Sha256(Sha256::new()),
            Algorithm::Sha512 => Hasher::Sha512(Sha512::new()),
        }
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Md5(h) => h.update(data),
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    fn hex(self) -> String {
        let bytes: Vec<u8> = match self {
            Hasher::Md5(h) => h.finalize().to_vec(),
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Sha512(h) => h.finalize().to_vec(),
        };
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// One line of a checksum list: a path (from the image root) and its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Listed {
    algorithm: Algorithm,
    digest: String,
    path: String,
}

/// Parses a checksum list: GNU coreutils lines (`DIGEST  PATH`, `DIGEST
/// *PATH`) and BSD-style ones (`SHA256 (PATH) = DIGEST`, as Fedora's
/// CHECKSUM files); comments, blank lines and an OpenPGP clear-signature
/// wrapper are skipped. Paths are taken from the list's directory `dir`.
fn parse_list(text: &str, dir: &str) -> Vec<Listed> {
    let mut out = Vec::new();
    let mut in_signature = false;
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.starts_with("-----BEGIN PGP SIGNATURE") {
            in_signature = true;
        }
        if in_signature
            || line.starts_with('#')
            || line.starts_with("-----")
            || line.trim().is_empty()
        {
            continue;
        }
        let parsed = if let Some((tag, rest)) = line.split_once(" (") {
            rest.rsplit_once(") = ").and_then(|(path, digest)| {
                Some((Algorithm::from_tag(tag.trim())?, digest.trim(), path))
            })
        } else {
            line.split_once(' ').and_then(|(digest, rest)| {
                let path = rest.strip_prefix(' ').or_else(|| rest.strip_prefix('*'))?;
                Some((Algorithm::from_hex_len(digest.len())?, digest, path))
            })
        };
        let Some((algorithm, digest, path)) = parsed else {
            continue;
        };
        if !digest.bytes().all(|b| b.is_ascii_hexdigit())
            || Algorithm::from_hex_len(digest.len()) != Some(algorithm)
        {
            continue;
        }
        out.push(Listed {
            algorithm,
            digest: digest.to_ascii_lowercase(),
            path: crate::common::join(dir, path.trim_start_matches("./")),
        });
    }
    out
}

/// Is `name` a checksum list (by the names distributions give them)?
fn is_list(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    matches!(
        lower.as_str(),
        "md5sum.txt"
            | "md5sums"
            | "md5sums.txt"
            | "sha256sum.txt"
            | "sha256sums"
            | "sha512sum.txt"
            | "sha512sums"
    ) || name.ends_with("CHECKSUM")
}

/// A file to hash: what the list says, and the node when it is there.
struct Job {
    list: String,
    listed: Listed,
    node: Option<std::sync::Arc<Node>>,
}

/// Finds the checksum lists at the image root, hashes every file they name
/// (two threads) and reports the ones that differ or are missing. Returns
/// the lists' paths.
fn check_lists(vol: &Volume, report: &mut Report, bar: &Bar) -> Vec<String> {
    let Ok(root) = vol.read_dir(vol.root()) else {
        return Vec::new();
    };
    let mut lists = Vec::new();
    let mut jobs = Vec::new();
    for e in root.entries() {
        if e.kind != FileType::Regular || !is_list(&e.name) {
            continue;
        }
        let path = format!("/{}", e.name);
        let text = match read_small(vol, e.id) {
            Ok(t) => t,
            Err(err) => {
                report.problem("checksum file", None, Some(&path), format!("{err:#}"));
                continue;
            }
        };
        for listed in parse_list(&String::from_utf8_lossy(&text), "/") {
            let node = vol.resolve(&listed.path, true).ok();
            jobs.push(Job {
                list: path.clone(),
                listed,
                node,
            });
        }
        report.checked.push(format!("files listed in {path}"));
        lists.push(path);
    }
    let total: u64 = jobs
        .iter()
        .filter_map(|j| j.node.as_ref())
        .map(|n| n.attr().size)
        .sum();
    bar.phase("files in checksum lists", total);
    let results: Vec<Mutex<Option<Result<String>>>> =
        jobs.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..HASHERS {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let (Some(job), Some(slot)) = (jobs.get(i), results.get(i)) else {
                        break;
                    };
                    if let Some(node) = &job.node {
                        let r = hash(vol, node, job.listed.algorithm, bar);
                        if let Ok(mut g) = slot.lock() {
                            *g = Some(r);
                        }
                    }
                }
            });
        }
    });
    for (job, slot) in jobs.iter().zip(results) {
        let path = job.listed.path.as_str();
        let Some(node) = &job.node else {
            report.problem(
                "checksum file",
                None,
                Some(path),
                format!("listed in {} but not in the image", job.list),
            );
            continue;
        };
        let sector = node.data().extents().iter().find_map(|e| match *e {
            Extent::Recorded { start, .. } => Some(start / 2048),
            Extent::Zero { .. } => None,
        });
        match slot.into_inner().ok().flatten() {
            Some(Ok(got)) => {
                report.counters.files_hashed += 1;
                report.counters.bytes += node.attr().size;
                if got != job.listed.digest {
                    report.problem(
                        "file content",
                        sector,
                        Some(path),
                        format!(
                            "{} is {got}, {} says {}",
                            job.listed.algorithm.name(),
                            job.list,
                            job.listed.digest
                        ),
                    );
                }
            }
            Some(Err(e)) => report.problem("file content", sector, Some(path), format!("{e:#}")),
            None => report.problem("file content", sector, Some(path), "not hashed"),
        }
    }
    lists
}

/// A checksum list's bytes.
fn read_small(vol: &Volume, id: fs_core::NodeId) -> Result<Vec<u8>> {
    let size = vol.attr(id)?.size;
    if size > MAX_LIST_BYTES {
        anyhow::bail!("{size} bytes: more than the {MAX_LIST_BYTES} read of a checksum list");
    }
    let mut buf = vec![0u8; size as usize];
    let mut done = 0;
    while done < buf.len() {
        let n = vol.read(id, done as u64, &mut buf[done..])?;
        if n == 0 {
            break;
        }
        done += n;
    }
    buf.truncate(done);
    Ok(buf)
}

/// The digest of one file's content, read in pieces.
fn hash(vol: &Volume, node: &Node, a: Algorithm, bar: &Bar) -> Result<String> {
    let mut h = Hasher::new(a);
    let mut buf = vec![0u8; PIECE];
    let mut off = 0u64;
    let size = node.attr().size;
    while off < size {
        let n = vol
            .read_node(node, off, &mut buf)
            .with_context(|| format!("cannot read byte {off}"))?;
        if n == 0 {
            anyhow::bail!("the content ends at byte {off} of {size}");
        }
        h.update(&buf[..n]);
        off += n as u64;
        bar.advance(n as u64);
    }
    Ok(h.hex())
}

/// The SHA-256 of the image file (or remote object) itself, against `want`.
fn check_image(src: &dyn ReadAt, want: &str, report: &mut Report, bar: &Bar) -> String {
    report
        .checked
        .push("SHA-256 of the image (--expect)".into());
    let len = src.len();
    bar.phase("image SHA-256", len);
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 4 * PIECE];
    let mut off = 0u64;
    while off < len {
        let n = buf.len().min((len - off) as usize);
        if let Err(e) = src.read_exact_at(off, &mut buf[..n]) {
            report.problem("image", None, None, format!("cannot read byte {off}: {e}"));
            return String::new();
        }
        h.update(&buf[..n]);
        off += n as u64;
        bar.advance(n as u64);
    }
    report.counters.bytes += len;
    let got: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    if !got.eq_ignore_ascii_case(want) {
        report.problem(
            "image",
            None,
            None,
            format!("SHA-256 is {got}, --expect says {want}"),
        );
    }
    got
}

fn to_json(image: &str, r: &Report, lists: &[String], image_sha256: Option<&str>) -> Value {
    let c = &r.counters;
    json!({
        "image": image,
        "ok": r.ok(),
        "container": r.container,
        "views": r.views.iter().map(|v| v.as_str()).collect::<Vec<_>>(),
        "checked": r.checked,
        "checksum_files": lists,
        "image_sha256": image_sha256,
        "counters": {
            "descriptors": c.descriptors,
            "directories": c.directories,
            "directory_records": c.directory_records,
            "file_entries": c.file_entries,
            "fids": c.fids,
            "extents": c.extents,
            "zisofs_files": c.zisofs_files,
            "metadata_bytes_compared": c.metadata_bytes_compared,
            "bridge_files": c.bridge_files,
            "sectors_edc": c.sectors_edc,
            "sectors_ecc": c.sectors_ecc,
            "files_hashed": c.files_hashed,
            "bytes": c.bytes,
        },
        "notes": r.notes,
        "problems": r.problems.iter().map(|p| json!({
            "structure": p.structure,
            "sector": p.sector,
            "path": p.path,
            "message": p.message,
        })).collect::<Vec<_>>(),
        "problems_omitted": r.problems_omitted,
    })
}

fn write_text(
    out: &mut dyn Write,
    image: &str,
    r: &Report,
    lists: &[String],
    image_sha256: Option<&str>,
) -> io::Result<()> {
    let c = &r.counters;
    writeln!(out, "Image:      {image}")?;
    writeln!(out, "Container:  {}", r.container)?;
    let views: Vec<&str> = r.views.iter().map(|v| v.as_str()).collect();
    writeln!(out, "Views:      {}", views.join(", "))?;
    if let Some(h) = image_sha256 {
        writeln!(out, "SHA-256:    {h}")?;
    }
    writeln!(out, "Checked:")?;
    for what in &r.checked {
        writeln!(out, "  {what}")?;
    }
    let counts = [
        ("descriptors", c.descriptors),
        ("directories", c.directories),
        ("directory records", c.directory_records),
        ("file entries", c.file_entries),
        ("file identifiers", c.fids),
        ("extents", c.extents),
        ("zisofs files", c.zisofs_files),
        ("metadata bytes compared", c.metadata_bytes_compared),
        ("bridge files compared", c.bridge_files),
        ("sectors EDC-checked", c.sectors_edc),
        ("sectors ECC-checked", c.sectors_ecc),
        ("files hashed", c.files_hashed),
        ("bytes read", c.bytes),
    ];
    let shown: Vec<String> = counts
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(what, n)| format!("{n} {what}"))
        .collect();
    writeln!(out, "Counted:    {}", shown.join(", "))?;
    if !lists.is_empty() {
        writeln!(out, "Checksums:  {}", lists.join(", "))?;
    }
    for n in &r.notes {
        writeln!(out, "Note:       {n}")?;
    }
    for p in &r.problems {
        writeln!(out, "PROBLEM:    {p}")?;
    }
    if r.problems_omitted > 0 {
        writeln!(out, "PROBLEM:    ... and {} more", r.problems_omitted)?;
    }
    let n = r.problems.len() as u64 + r.problems_omitted;
    if n == 0 {
        writeln!(out, "Result:     OK, no problems found")
    } else {
        writeln!(out, "Result:     {n} problem(s) found")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_in_gnu_and_bsd_form() {
        let text = "# comment\n\
            d41d8cd98f00b204e9800998ecf8427e  ./casper/vmlinuz\n\
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 *boot/x.img\r\n\
            SHA256 (images/efi.img) = E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855\n\
            nonsense line\n\
            abcd  short.txt\n\
            -----BEGIN PGP SIGNATURE-----\n\
            d41d8cd98f00b204e9800998ecf8427e  signed\n";
        let l = parse_list(text, "/");
        assert_eq!(l.len(), 3, "{l:?}");
        assert_eq!(l[0].path, "/casper/vmlinuz");
        assert_eq!(l[0].algorithm, Algorithm::Md5);
        assert_eq!(l[1].path, "/boot/x.img");
        assert_eq!(l[1].algorithm, Algorithm::Sha256);
        assert_eq!(l[2].path, "/images/efi.img");
        assert_eq!(l[2].digest, l[1].digest);
        assert!(
            is_list("md5sum.txt") && is_list("SHA256SUMS") && is_list("Fedora-38-x86_64-CHECKSUM")
        );
        assert!(!is_list("README.TXT"));
    }
}
