//! Checking an image: every structure the readers can check, and where
//! they disagree.
//!
//! [`verify`] opens the container, then checks each side of the image with
//! the code that parses it ("one on-disk structure, one place"):
//!
//! * raw CD sectors: EDC and ECC of every sector of the data track
//!   (ECMA-130 14, `container::sector`);
//! * ISO 9660 (ECMA-119), its plain / Rock Ridge and Joliet trees: every
//!   directory parses, every extent lies inside the image, no directory is
//!   met twice (a loop), no directory extent overlaps another extent, the
//!   Joliet and primary trees agree, and zisofs block tables hold together
//!   (`iso9660::check`);
//! * UDF (ECMA-167, OSTA UDF 2.60): tag checksum, CRC and location of the
//!   anchors, both volume descriptor sequences, the integrity sequence, the
//!   file set descriptor, every file entry and file identifier, and the
//!   metadata file against its mirror (`udf::check`);
//! * a bridge image (both sides): files present in both trees have the
//!   same size and the same bytes ([`bridge`]).
//!
//! What it finds goes into a [`Report`]: each [`Problem`] names the
//! structure, the sector and, where there is one, the path; counters say how
//! much was checked. Memory stays bounded by the number of files (extent
//! lists for the overlap check), never by file sizes. Checksum files shipped
//! inside the image and the image's own digest are the caller's to check
//! (the `isomount verify` command does), with [`Report::problem`] to add
//! what it finds.

pub mod bridge;

use std::path::PathBuf;
use std::sync::Arc;

use crate::cache::{BlockCache, DEFAULT_BLOCK_SIZE, DEFAULT_CAPACITY};
use crate::container::Neighbours;
use crate::container::sector::{self, SectorCheck};
use crate::error::{Error, Result};
use crate::format::View;
use crate::source::ReadAt;

/// Most problems kept in a report; the rest are only counted.
pub const MAX_PROBLEMS: usize = 1000;

/// One thing found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The on-disk structure, e.g. "file entry", "raw sector", "directory record".
    pub structure: &'static str,
    /// Its logical sector (for raw sectors: the sector of the data track).
    pub sector: Option<u64>,
    /// The path of the file or directory it belongs to, when known.
    pub path: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.structure)?;
        if let Some(s) = self.sector {
            write!(f, " at sector {s}")?;
        }
        if let Some(p) = &self.path {
            write!(f, " ({p})")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// How much was checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Volume descriptors (ISO 9660) and UDF descriptors whose tag was verified.
    pub descriptors: u64,
    /// Directories listed (every tree).
    pub directories: u64,
    /// ISO 9660 directory records (every tree).
    pub directory_records: u64,
    /// UDF file entries and extended file entries.
    pub file_entries: u64,
    /// UDF file identifier descriptors.
    pub fids: u64,
    /// Extents checked against the image's end (and each other).
    pub extents: u64,
    /// zisofs files whose block table was checked.
    pub zisofs_files: u64,
    /// Bytes of the metadata file compared with its mirror.
    pub metadata_bytes_compared: u64,
    /// Files compared between the UDF and ISO 9660 trees of a bridge image.
    pub bridge_files: u64,
    /// Raw sectors whose EDC was checked.
    pub sectors_edc: u64,
    /// Raw sectors whose ECC was checked (recorded, non-zero parity).
    pub sectors_ecc: u64,
    /// Files hashed against a checksum file of the image.
    pub files_hashed: u64,
    /// Bytes read to check content: raw sectors, compared and hashed files.
    pub bytes: u64,
}

/// Everything [`verify`] found.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The container (as `info` names it: plain, "BIN/CUE (MODE1/2352)", ...).
    pub container: String,
    /// The trees found, richest first.
    pub views: Vec<View>,
    /// What was checked, in order (e.g. "UDF descriptors", "ISO 9660 tree (rockridge)").
    pub checked: Vec<String>,
    /// Facts worth saying that are not problems (a stub ISO 9660 side, an
    /// ECC its writer left out).
    pub notes: Vec<String>,
    /// What is wrong (at most [`MAX_PROBLEMS`]).
    pub problems: Vec<Problem>,
    /// Problems found beyond [`MAX_PROBLEMS`], counted only.
    pub problems_omitted: u64,
    /// How much was checked.
    pub counters: Counters,
}

impl Report {
    /// True when nothing is wrong.
    pub fn ok(&self) -> bool {
        self.problems.is_empty() && self.problems_omitted == 0
    }

    /// Adds a problem (once: a structure read again on another path is
    /// not a second problem).
    pub fn problem(
        &mut self,
        structure: &'static str,
        sector: Option<u64>,
        path: Option<&str>,
        message: impl Into<String>,
    ) {
        // Past the cap only counted (no search: a BIN with every sector
        // bad makes hundreds of thousands).
        if self.problems.len() >= MAX_PROBLEMS {
            self.problems_omitted += 1;
            return;
        }
        let p = Problem {
            structure,
            sector,
            path: path.map(str::to_string),
            message: message.into(),
        };
        if !self.problems.contains(&p) {
            self.problems.push(p);
        }
    }

    /// Adds an error of a reader as a problem: a corrupt or truncated
    /// structure keeps its name and sector; `fallback` names anything else.
    pub fn error(&mut self, err: &Error, fallback: &'static str, path: Option<&str>) {
        match err {
            Error::Corrupt {
                structure,
                at,
                reason,
            } => self.problem(structure, Some(at.sector), path, reason.clone()),
            Error::Truncated {
                structure,
                at,
                image_len,
            } => self.problem(
                structure,
                Some(at.sector),
                path,
                format!("lies beyond the end of the image ({image_len} bytes)"),
            ),
            e => self.problem(fallback, None, path, e.to_string()),
        }
    }

    /// Adds a note.
    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }
}

/// Told how far a long check has got, to draw a progress bar.
pub trait Progress: Sync {
    /// A new phase begins: `what` it is, `total` bytes it will read.
    fn phase(&self, what: &str, total: u64);
    /// `bytes` more of the current phase are done.
    fn advance(&self, bytes: u64);
}

/// A [`Progress`] that shows nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn phase(&self, _what: &str, _total: u64) {}
    fn advance(&self, _bytes: u64) {}
}

/// How to verify.
#[derive(Debug, Clone)]
pub struct Options {
    /// The image's file name: containers find sidecar files (a `.cue` next
    /// to a `.bin`) through it.
    pub image_path: Option<PathBuf>,
    /// Where the files next to an image that is not a local file are (one
    /// read from a URL); wins over `image_path`.
    pub neighbours: Option<Arc<dyn Neighbours>>,
    /// Bytes of metadata cache.
    pub cache_bytes: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            image_path: None,
            neighbours: None,
            cache_bytes: DEFAULT_CAPACITY,
        }
    }
}

/// Raw sectors read per call while checking EDC/ECC.
const RAW_BATCH: u64 = 256;

/// Checks every structure of the image in `source` (see the module
/// documentation). `Err` only when the container cannot be opened or
/// neither an ISO 9660 nor a UDF file system is there at all; everything
/// wrong inside a recognised image is a [`Problem`] of the report.
pub fn verify(source: Arc<dyn ReadAt>, opts: &Options, progress: &dyn Progress) -> Result<Report> {
    let mut report = Report::default();
    let hood = crate::container::neighbours_of(&opts.neighbours, opts.image_path.as_deref());
    let (logical, container, raw) = crate::container::open_raw(source, hood.as_deref())?;
    report.container = container.kind.clone();
    if let Some(raw) = raw {
        check_raw_sectors(&raw, &mut report, progress);
    }
    let meta = Arc::new(BlockCache::new(
        Arc::clone(&logical),
        DEFAULT_BLOCK_SIZE,
        opts.cache_bytes,
    ));
    let meta: Arc<dyn ReadAt> = meta;
    progress.phase("file system structures", 0);
    let iso = crate::iso9660::check::run(&meta, &mut report);
    let udf = crate::udf::check::run(&meta, &mut report);
    report.views = View::PREFERENCE
        .into_iter()
        .filter(|v| iso.views.contains(v) || (*v == View::Udf && udf.format.is_some()))
        .collect();
    if !iso.recognised && !udf.recognised {
        return Err(Error::NotRecognized(
            "neither ISO 9660 nor UDF volume descriptors".into(),
        ));
    }
    if let (Some(udf), Some(iso_view)) = (udf.format, iso.views.first().copied()) {
        match crate::iso9660::open(Arc::clone(&meta), Some(iso_view)) {
            Ok((iso_fs, _)) => {
                report
                    .checked
                    .push(format!("UDF and ISO 9660 ({iso_view}) trees agree"));
                bridge::compare(&*udf, &*iso_fs, iso_view, &*logical, &mut report, progress);
            }
            Err(e) => report.error(&e, "ISO 9660 tree", None),
        }
    }
    Ok(report)
}

/// EDC and ECC of every sector of the data track (ECMA-130 14.3, 14.5).
fn check_raw_sectors(
    raw: &crate::container::RawTrack,
    report: &mut Report,
    progress: &dyn Progress,
) {
    let size = raw.mode.sector_size();
    report.checked.push(format!(
        "EDC/ECC of {} raw sectors ({})",
        raw.sectors,
        raw.mode.name()
    ));
    progress.phase("raw sectors (EDC/ECC)", raw.sectors.saturating_mul(size));
    let mut ecc_missing = 0u64;
    let mut buf = Vec::new();
    let mut first = 0u64;
    while first < raw.sectors {
        let count = (raw.sectors - first).min(RAW_BATCH);
        // `count` <= RAW_BATCH sectors of at most 2448 bytes.
        buf.resize((count * size) as usize, 0);
        let at = raw.start + first * size;
        if let Err(e) = raw.src.read_exact_at(at, &mut buf) {
            report.problem(
                "raw sector",
                Some(first),
                None,
                format!("cannot read {count} sectors at byte {at}: {e}"),
            );
            break;
        }
        for (i, s) in buf.chunks_exact(size as usize).enumerate() {
            let n = first + i as u64;
            match sector::check_raw(s, raw.mode) {
                SectorCheck::Good { ecc } => {
                    report.counters.sectors_edc += 1;
                    if ecc {
                        report.counters.sectors_ecc += 1;
                    } else {
                        ecc_missing += 1;
                    }
                }
                SectorCheck::Unprotected | SectorCheck::Empty => {}
                SectorCheck::Bad(why) => report.problem("raw sector", Some(n), None, why),
            }
        }
        report.counters.bytes += count * size;
        progress.advance(count * size);
        first += count;
    }
    if ecc_missing > 0 {
        report.note(format!(
            "{ecc_missing} raw sector(s) have no ECC recorded (all zeros; their writer left it \
             out): only their EDC was checked"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::MemSource;

    #[test]
    fn problems_are_capped_and_errors_keep_their_place() {
        let mut r = Report::default();
        r.error(
            &Error::corrupt("file entry", crate::Location::sector(300), "bad CRC"),
            "x",
            Some("/a"),
        );
        assert_eq!(
            r.problems[0].to_string(),
            "file entry at sector 300 (/a): bad CRC"
        );
        r.problem("raw sector", Some(0), None, "bad");
        r.problem("raw sector", Some(0), None, "bad");
        assert_eq!(r.problems.len(), 2, "the same problem twice is one");
        for n in 1..MAX_PROBLEMS + 5 {
            r.problem("raw sector", Some(n as u64), None, "bad");
        }
        assert_eq!(r.problems.len(), MAX_PROBLEMS);
        assert_eq!(r.problems_omitted, 6);
        assert!(!r.ok());
    }

    #[test]
    fn nothing_recognised_is_an_error() {
        let zeros = Arc::new(MemSource::new(vec![0; 64 * 2048]));
        let e = verify(zeros, &Options::default(), &NoProgress).unwrap_err();
        assert!(matches!(e, Error::NotRecognized(_)), "{e}");
    }
}
