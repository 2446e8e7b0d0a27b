//! Checking the ISO 9660 trees for `verify` (ECMA-119 6.8, 9.1; Joliet;
//! RRIP 4.1.5 relocations; zisofs).
//!
//! Each tree (the primary one, with Rock Ridge when present, and the
//! Joliet one) is walked in full: every directory must parse, every extent
//! must lie inside the image, a directory must not be met twice (a loop
//! through a bad extent location or a Rock Ridge CL entry), and a
//! directory's extent must not overlap another directory's or a file's.
//! Files may share recorded bytes (ECMA-119 does not forbid it; writers
//! share one extent between hard links or equal files): a partial overlap
//! of two files is only noted. zisofs files have their header and block
//! pointer table checked. Last, the Joliet tree must agree with the
//! primary one: a file extent both trees point at has one length. The El
//! Torito boot catalog is checked too.

use std::collections::HashSet;
use std::sync::Arc;

use crate::error::Error;
use crate::format::{Format, NodeInfo, View};
use crate::node::{Extent, FileType};
use crate::source::ReadAt;
use crate::verify::Report;

use super::{IsoOptions, open_with};

/// Deepest directory nesting walked (ECMA-119 6.8.2.1 allows 8; Rock
/// Ridge relocation lifts that: xorriso writes chains of thousands, and a
/// path of 4,096 components is already past Linux's PATH_MAX).
const MAX_DEPTH: usize = 4096;
/// Overlaps reported by name per tree; the rest are counted.
const NAMED_OVERLAPS: usize = 20;

/// What the ISO 9660 side holds, for the rest of the check.
#[derive(Debug, Default)]
pub(crate) struct IsoSide {
    /// There are ISO 9660 volume descriptors, whether or not they read.
    pub recognised: bool,
    /// Its views, richest first.
    pub views: Vec<View>,
}

/// Checks the ISO 9660 side of `src` (the logical image, through the cache).
pub(crate) fn run(src: &Arc<dyn ReadAt>, report: &mut Report) -> IsoSide {
    let opts = IsoOptions {
        session: None,
        boot_dir: false,
    };
    let info = match open_with(Arc::clone(src), None, &opts) {
        Ok((_, info)) => info,
        Err(Error::NotRecognized(_)) => return IsoSide::default(),
        Err(e) => {
            report.error(&e, "primary volume descriptor", None);
            return IsoSide {
                recognised: true,
                views: Vec::new(),
            };
        }
    };
    report.counters.descriptors += count_descriptors(&**src);
    let declared = info
        .volume_blocks
        .saturating_mul(u64::from(info.block_size));
    if declared > src.len() {
        report.problem(
            "primary volume descriptor",
            Some(16),
            None,
            format!(
                "the volume declares {} blocks ({declared} bytes); the image holds {} bytes",
                info.volume_blocks,
                src.len()
            ),
        );
    }
    // The primary tree once (with Rock Ridge when it has it), and Joliet's.
    let trees = info
        .views
        .iter()
        .copied()
        .filter(|v| *v != View::Iso9660 || !info.views.contains(&View::RockRidge));
    check_boot_catalog(&**src, report);
    let mut walked: Vec<(View, Tree)> = Vec::new();
    for view in trees {
        report.checked.push(format!("ISO 9660 tree ({view})"));
        match open_with(Arc::clone(src), Some(view), &opts) {
            Ok((fs, _)) => {
                if let Some(t) = walk(&*fs, view, &**src, report) {
                    walked.push((view, t));
                }
            }
            Err(e) => report.error(&e, "volume descriptor", None),
        }
    }
    let joliet = walked.iter().find(|(v, _)| *v == View::Joliet);
    let primary = walked.iter().find(|(v, _)| *v != View::Joliet);
    if let (Some((_, j)), Some((primary, p))) = (joliet, primary) {
        report
            .checked
            .push(format!("Joliet and {primary} trees agree"));
        same_files(*primary, p, j, report);
    }
    IsoSide {
        recognised: true,
        views: info.views,
    }
}

/// The El Torito boot catalog (El Torito 1.0, 2.0-2.5), when a boot record
/// names one: the validation entry's checksum and key bytes, and every
/// boot image starting inside the image (its sector count, in 512-byte
/// units, is only a load size and may run past a small image's end).
fn check_boot_catalog(src: &dyn ReadAt, report: &mut Report) {
    let lba = match super::el_torito::find_catalog(src, 16) {
        Ok(Some(lba)) => lba,
        Ok(None) => return,
        Err(e) => return report.error(&e, "boot record", None),
    };
    report.checked.push("El Torito boot catalog".into());
    match super::el_torito::read_catalog(src, lba) {
        Ok(entries) => {
            report.counters.descriptors += 1;
            for (i, e) in entries.iter().enumerate() {
                if u64::from(e.load_rba) * 2048 >= src.len() {
                    report.problem(
                        "boot catalog",
                        Some(u64::from(lba)),
                        None,
                        format!(
                            "boot entry {}: its image at sector {} lies past the end of the image",
                            i + 1,
                            e.load_rba
                        ),
                    );
                }
            }
        }
        Err(e) => report.error(&e, "boot catalog", None),
    }
}

/// Volume descriptors from sector 16 up to the set terminator (ECMA-119 8.3).
fn count_descriptors(src: &dyn ReadAt) -> u64 {
    let mut n = 0;
    let mut buf = [0u8; 7];
    for sector in 16u64..16 + 64 {
        if src.read_exact_at(sector * 2048, &mut buf).is_err() || buf.get(1..6) != Some(b"CD001") {
            break;
        }
        n += 1;
        if buf.first() == Some(&255) {
            break;
        }
    }
    n
}

/// One recorded extent of a node, for the overlap check.
struct Span {
    start: u64,
    end: u64,
    dir: bool,
    /// Index into the walk's paths.
    path: usize,
}

/// The extents of one walked tree, sorted, with the paths they belong to.
struct Tree {
    spans: Vec<Span>,
    paths: Vec<String>,
}

impl Tree {
    fn path(&self, s: &Span) -> &str {
        self.paths.get(s.path).map_or("?", String::as_str)
    }
}

/// Walks one tree; see the module documentation for what is checked.
/// Returns its extents for the comparison of the Joliet and primary trees.
fn walk(fs: &dyn Format, view: View, src: &dyn ReadAt, report: &mut Report) -> Option<Tree> {
    let image_len = src.len();
    let root = match fs.root() {
        Ok(r) => r,
        Err(e) => {
            report.error(&e, "root directory", Some("/"));
            return None;
        }
    };
    let mut paths: Vec<String> = vec!["/".into()];
    let mut spans: Vec<Span> = Vec::new();
    let mut visited: HashSet<u64> = HashSet::new();
    record(&root, 0, true, image_len, &mut spans, report, "/");
    if let Some(s) = first_start(&root) {
        visited.insert(s);
    }
    let mut stack: Vec<(NodeInfo, usize, usize)> = vec![(root, 0, 0)];
    while let Some((dir, path_at, depth)) = stack.pop() {
        report.counters.directories += 1;
        let dir_path = paths.get(path_at).cloned().unwrap_or_default();
        let listing = match fs.read_dir(&dir) {
            Ok(l) => l,
            Err(e) => {
                report.error(&e, "directory", Some(&dir_path));
                continue;
            }
        };
        for e in &listing.problems {
            report.error(e, "directory record", Some(&dir_path));
        }
        for (name, node) in listing.entries {
            report.counters.directory_records += 1;
            let path = if dir_path == "/" {
                format!("/{name}")
            } else {
                format!("{dir_path}/{name}")
            };
            let is_dir = node.attr.kind == FileType::Directory;
            let at = paths.len();
            record(&node, at, is_dir, image_len, &mut spans, report, &path);
            if let Some(d) = node.data.decoder() {
                match d.check(src) {
                    Ok(_) => report.counters.zisofs_files += 1,
                    Err(e) => report.error(&e, "zisofs file", Some(&path)),
                }
            }
            if is_dir {
                let start = first_start(&node);
                if start.is_some_and(|s| !visited.insert(s)) {
                    report.problem(
                        "directory record",
                        start.map(|s| s / 2048),
                        Some(&path),
                        "names a directory already in the tree (a loop)",
                    );
                } else if depth >= MAX_DEPTH {
                    report.problem(
                        "directory record",
                        start.map(|s| s / 2048),
                        Some(&path),
                        format!("nested more than {MAX_DEPTH} deep"),
                    );
                } else {
                    stack.push((node, at, depth + 1));
                }
            }
            paths.push(path);
        }
    }
    spans.sort_unstable_by_key(|s| (s.start, s.end));
    overlaps(view, &spans, &paths, report);
    Some(Tree { spans, paths })
}

/// The Joliet tree and the primary one describe the same files (Joliet
/// only adds a second set of names): a file extent of one that starts
/// where a file extent of the other starts must be as long. Files in one
/// tree only are allowed (writers can hide a file from either).
fn same_files(primary: View, p: &Tree, j: &Tree, report: &mut Report) {
    let mut named = 0usize;
    for js in j.spans.iter().filter(|s| !s.dir) {
        let from = p.spans.partition_point(|s| s.start < js.start);
        let mut same_start = p
            .spans
            .get(from..)
            .unwrap_or_default()
            .iter()
            .take_while(|s| s.start == js.start)
            .filter(|s| !s.dir)
            .peekable();
        let Some((end, at)) = same_start.peek().map(|s| (s.end, s.path)) else {
            continue;
        };
        if same_start.any(|s| s.end == js.end) {
            continue;
        }
        named += 1;
        if named > NAMED_OVERLAPS {
            continue;
        }
        report.problem(
            "directory record",
            Some(js.start / 2048),
            Some(j.path(js)),
            format!(
                "the Joliet tree records {} bytes at sector {}, the {primary} tree {} bytes there ({})",
                js.end - js.start,
                js.start / 2048,
                end - js.start,
                p.paths.get(at).map_or("?", String::as_str)
            ),
        );
    }
    if named > NAMED_OVERLAPS {
        report.problem(
            "directory record",
            None,
            None,
            format!(
                "{} more files whose Joliet and {primary} records disagree",
                named - NAMED_OVERLAPS
            ),
        );
    }
}

fn first_start(node: &NodeInfo) -> Option<u64> {
    node.data.extents().iter().find_map(|e| match *e {
        Extent::Recorded { start, .. } => Some(start),
        Extent::Zero { .. } => None,
    })
}

/// Checks a node's extents against the image's end and keeps them for the
/// overlap check. A file's problem names the sector of its directory
/// record (its id), a directory's that of its extent.
fn record(
    node: &NodeInfo,
    path_at: usize,
    dir: bool,
    image_len: u64,
    spans: &mut Vec<Span>,
    report: &mut Report,
    path: &str,
) {
    for e in node.data.extents() {
        let Extent::Recorded { start, len } = *e else {
            continue;
        };
        report.counters.extents += 1;
        let end = start.saturating_add(len);
        if end > image_len {
            let sector = if dir { start / 2048 } else { node.id.0 / 2048 };
            report.problem(
                "directory record",
                Some(sector),
                Some(path),
                format!(
                    "its extent at sector {} ({len} bytes) runs past the end of the image ({image_len} bytes)",
                    start / 2048
                ),
            );
            continue;
        }
        spans.push(Span {
            start,
            end,
            dir,
            path: path_at,
        });
    }
}

/// A directory's extent overlapping another directory's or a file's
/// (a problem), and files overlapping in part (a note).
/// `spans` are sorted by start, then end.
fn overlaps(view: View, spans: &[Span], paths: &[String], report: &mut Report) {
    let mut found = 0usize;
    let mut partial_files = 0usize;
    // The span reaching furthest so far, and the directory reaching furthest.
    let mut reach: Option<usize> = None;
    let mut dir_reach: Option<usize> = None;
    let name = |s: &Span| paths.get(s.path).map_or("?", String::as_str).to_string();
    for i in 0..spans.len() {
        let Some(cur) = spans.get(i) else { break };
        // Against the directory reaching furthest (any span against it),
        // or for a directory, against whatever reaches furthest.
        let against = if cur.dir { reach } else { dir_reach };
        if let Some(prev) = against.and_then(|r| spans.get(r)) {
            let same_dir = cur.dir && prev.dir && cur.start == prev.start;
            if cur.start < prev.end && !same_dir && (cur.dir || prev.dir) {
                found += 1;
                if found <= NAMED_OVERLAPS {
                    let what = |s: &Span| if s.dir { "directory extent" } else { "extent" };
                    report.problem(
                        "directory record",
                        Some(cur.start / 2048),
                        Some(&name(cur)),
                        format!(
                            "its {} (bytes {}..{}) overlaps the {} of {} (bytes {}..{}) in the {view} tree",
                            what(cur),
                            cur.start,
                            cur.end,
                            what(prev),
                            name(prev),
                            prev.start,
                            prev.end
                        ),
                    );
                }
            }
        }
        if let Some(prev) = reach.and_then(|r| spans.get(r)) {
            let exact = cur.start == prev.start && cur.end == prev.end;
            if !cur.dir && !prev.dir && cur.start < prev.end && !exact {
                partial_files += 1;
            }
        }
        if reach
            .and_then(|r| spans.get(r))
            .is_none_or(|p| cur.end > p.end)
        {
            reach = Some(i);
        }
        if cur.dir
            && dir_reach
                .and_then(|r| spans.get(r))
                .is_none_or(|p| cur.end > p.end)
        {
            dir_reach = Some(i);
        }
    }
    if found > NAMED_OVERLAPS {
        report.problem(
            "directory record",
            None,
            None,
            format!(
                "{} more overlapping directory extents in the {view} tree",
                found - NAMED_OVERLAPS
            ),
        );
    }
    if partial_files > 0 {
        report.note(format!(
            "{partial_files} file extent(s) in the {view} tree overlap another file's in part \
             (legal, but no usual writer does it)"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(start: u64, len: u64, dir: bool, path: usize) -> Span {
        Span {
            start,
            end: start + len,
            dir,
            path,
        }
    }

    fn run_overlaps(spans: Vec<Span>) -> Report {
        let paths: Vec<String> = ["/", "/d", "/a", "/b", "/c"].map(String::from).to_vec();
        let mut spans = spans;
        spans.sort_unstable_by_key(|s| (s.start, s.end));
        let mut r = Report::default();
        overlaps(View::RockRidge, &spans, &paths, &mut r);
        r
    }

    #[test]
    fn directories_must_not_overlap_anything_files_may_share() {
        // Hard links (one extent twice) and a file inside another: no problem.
        let r = run_overlaps(vec![
            span(0, 2048, true, 0),
            span(4096, 4096, false, 2),
            span(4096, 4096, false, 3),
            span(6144, 100, false, 4),
        ]);
        assert!(r.ok(), "{:?}", r.problems);
        assert_eq!(r.notes.len(), 1, "{:?}", r.notes);
        // A file inside a directory's extent.
        let r = run_overlaps(vec![span(0, 4096, true, 0), span(2048, 10, false, 2)]);
        assert_eq!(r.problems.len(), 1);
        assert_eq!(r.problems[0].path.as_deref(), Some("/a"));
        assert!(
            r.problems[0]
                .message
                .contains("overlaps the directory extent of /")
        );
        // A directory inside a file's extent, found after a long file.
        let r = run_overlaps(vec![
            span(0, 2048, true, 0),
            span(8192, 65536, false, 2),
            span(10240, 2048, true, 1),
        ]);
        assert_eq!(r.problems.len(), 1, "{:?}", r.problems);
        assert_eq!(r.problems[0].path.as_deref(), Some("/d"));
    }
}
