//! A UDF bridge image (OSTA UDF 2.60 6.9.1: UDF and ISO 9660 describing one
//! set of files): do the two trees agree?
//!
//! Both trees are walked together (`views::walk_pairs`, which `info`'s view
//! report shares), matching names ignoring case. A file
//! present in both must have the same size (unless the UDF one is too large
//! for ISO 9660 without multi-extent files) and the same bytes: its first
//! extent at the same place, else content compared. Files only on one side
//! are not problems: Windows install media carry a near-empty ISO 9660 side
//! on purpose; a note says how many of the UDF files the ISO side holds.

use crate::format::{Format, NodeInfo, View};
use crate::node::{Extent, FileData, FileType};
use crate::source::ReadAt;
use crate::views::{PairLimits, walk_pairs};

use super::{Progress, Report};

/// Deepest directory nesting compared.
const MAX_DEPTH: usize = 4096;
/// Bytes compared per read when two extents differ.
const CHUNK: u64 = 1 << 20;
/// Largest size ISO 9660 records in one directory record (ECMA-119 9.1.4).
const ISO_SIZE_MAX: u64 = u32::MAX as u64;

/// Compares the UDF tree `udf` with the ISO 9660 tree `iso` (`iso_view`);
/// content is read from `image` (the logical image).
pub(crate) fn compare(
    udf: &dyn Format,
    iso: &dyn Format,
    iso_view: View,
    image: &dyn ReadAt,
    report: &mut Report,
    progress: &dyn Progress,
) {
    progress.phase("UDF and ISO 9660 trees", 0);
    let mut udf_files = 0u64;
    let mut both = 0u64;
    let limits = PairLimits {
        max_nodes: usize::MAX,
        max_depth: MAX_DEPTH,
        unmatched_dirs: true,
    };
    walk_pairs(udf, iso, limits, |pair| {
        if pair.udf.attr.kind != FileType::Regular {
            return;
        }
        udf_files += 1;
        let Some(inode) = &pair.iso else { return };
        both += 1;
        report.counters.bridge_files += 1;
        same_file(&pair.udf, inode, iso_view, &pair.path, image, report);
    });
    if both < udf_files {
        report.note(format!(
            "the ISO 9660 side ({iso_view}) holds {both} of the {udf_files} files of the UDF tree"
        ));
    }
}

/// One file present in both trees.
fn same_file(
    u: &NodeInfo,
    i: &NodeInfo,
    iso_view: View,
    path: &str,
    image: &dyn ReadAt,
    report: &mut Report,
) {
    let sector = first(&u.data).map(|s| s / 2048);
    if i.attr.kind != FileType::Regular {
        report.problem(
            "bridge",
            sector,
            Some(path),
            format!(
                "a file in the UDF tree but a {} in the {iso_view} tree",
                i.attr.kind.as_str()
            ),
        );
        return;
    }
    if u.attr.size != i.attr.size {
        if u.attr.size > ISO_SIZE_MAX && i.attr.size < u.attr.size {
            report.note(format!(
                "{path}: {} bytes in UDF, {} in the {iso_view} tree, which cannot record the size",
                u.attr.size, i.attr.size
            ));
        } else {
            report.problem(
                "bridge",
                sector,
                Some(path),
                format!(
                    "{} bytes in the UDF tree, {} bytes in the {iso_view} tree",
                    u.attr.size, i.attr.size
                ),
            );
        }
        return;
    }
    if i.data.decoder().is_some() || u.data.extents() == i.data.extents() {
        return; // the same bytes (a zisofs file is compressed on one side only)
    }
    // Different places: the same content?
    let len = u.attr.size;
    let mut off = 0u64;
    while off < len {
        let n = (len - off).min(CHUNK);
        let (a, b) = match (read(image, &u.data, off, n), read(image, &i.data, off, n)) {
            (Some(a), Some(b)) => (a, b),
            _ => {
                report.problem(
                    "bridge",
                    sector,
                    Some(path),
                    format!("content at byte {off} does not read in both trees"),
                );
                return;
            }
        };
        report.counters.bytes += 2 * n;
        if let Some(k) = a.iter().zip(&b).position(|(x, y)| x != y) {
            report.problem(
                "bridge",
                sector,
                Some(path),
                format!(
                    "the UDF and {iso_view} trees give different bytes from byte {} on",
                    off + k as u64
                ),
            );
            return;
        }
        off += n;
    }
}

fn first(data: &FileData) -> Option<u64> {
    data.extents().iter().find_map(|e| match *e {
        Extent::Recorded { start, .. } => Some(start),
        Extent::Zero { .. } => None,
    })
}

/// `n` bytes of `data` at `off`, `None` when they do not read.
fn read(image: &dyn ReadAt, data: &FileData, off: u64, n: u64) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(usize::try_from(n).ok()?);
    for (extent, within, len) in data.map(off, n) {
        let len = usize::try_from(len).ok()?;
        match extent {
            Extent::Recorded { start, .. } => {
                let at = out.len();
                out.resize(at + len, 0);
                image
                    .read_exact_at(start.checked_add(within)?, out.get_mut(at..)?)
                    .ok()?;
            }
            Extent::Zero { .. } => out.resize(out.len() + len, 0),
        }
    }
    (out.len() as u64 == n).then_some(out)
}
