//! Which tree of an image is shown, and how the trees of one image compare.
//!
//! One image can hold up to four trees: UDF (ECMA-167), and on the ISO 9660
//! side (ECMA-119) the Rock Ridge, Joliet and plain views. A UDF "bridge"
//! disc carries both sides. The default is the richest view present (UDF,
//! then Rock Ridge, Joliet, plain ISO 9660), which is also what Windows
//! shows for a bridge disc; `OpenOptions::view` forces one.
//!
//! The sides of a bridge disc need not agree. Windows install media hold
//! only a `README.TXT` on the ISO 9660 side, and a file over 4 GiB that an
//! ISO 9660 writer could not describe is shown there with a truncated size.
//! `Volume::view_report` finds both, so `info` can say so and a forced ISO 9660 view
//! can warn.

use std::collections::HashMap;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::format::{Format, NodeInfo, View, VolumeInfo};
use crate::iso9660::IsoOptions;
use crate::node::FileType;
use crate::source::ReadAt;

/// Most nodes [`compare`] visits on each side before it stops.
const COMPARE_NODE_LIMIT: usize = 200_000;
/// Deepest directory level [`compare`] descends to.
const COMPARE_DEPTH_LIMIT: usize = 128;
/// Size differences named one by one in the report; the rest are counted.
const NAMED_DIFFERENCES: usize = 5;

/// Opens the tree `want` names, or the richest one the image has.
pub(crate) fn open_format(
    src: Arc<dyn ReadAt>,
    want: Option<View>,
    iso: &IsoOptions,
) -> Result<(Box<dyn Format>, VolumeInfo)> {
    let mut udf_error = None;
    let udf = match crate::udf::open(Arc::clone(&src)) {
        Ok(udf) => udf,
        Err(e) if want == Some(View::Udf) => return Err(e),
        Err(e) => {
            log::warn!("the UDF side of the image cannot be read ({e}); trying ISO 9660");
            udf_error = Some(e);
            None
        }
    };
    match (want, udf) {
        (Some(View::Udf), Some((format, info))) => Ok(udf_with_iso_side(&src, format, info, iso)),
        (Some(View::Udf), None) => Err(Error::ViewUnavailable(View::Udf)),
        (Some(view), udf) => {
            let (format, mut info) = crate::iso9660::open_with(src, Some(view), iso)?;
            info.views = merged_views(udf.is_some(), info.views);
            Ok((format, info))
        }
        (None, Some((format, info))) => Ok(udf_with_iso_side(&src, format, info, iso)),
        (None, None) => match crate::iso9660::open_with(src, None, iso) {
            // A UDF image whose UDF side is broken and which has no ISO 9660
            // side: the UDF error says what is wrong, "no CD001" would not.
            Err(Error::NotRecognized(_)) if udf_error.is_some() => {
                Err(udf_error.unwrap_or(Error::NotRecognized(String::new())))
            }
            other => other,
        },
    }
}

/// The UDF tree, with the views of the ISO 9660 side listed and, on a
/// bootable bridge disc (Windows install media are), the El Torito boot
/// images the ISO 9660 side describes. Sessions are an ISO 9660 notion: a
/// `--session` choice does not apply to the UDF tree (logged).
fn udf_with_iso_side(
    src: &Arc<dyn ReadAt>,
    format: Box<dyn Format>,
    mut info: VolumeInfo,
    iso: &IsoOptions,
) -> (Box<dyn Format>, VolumeInfo) {
    let iso_side = iso_views(src);
    let has_iso = !iso_side.is_empty();
    info.views = merged_views(true, iso_side);
    if iso.session.is_some() {
        log::warn!("--session applies to the ISO 9660 side; the UDF tree has one session here");
    }
    if has_iso {
        crate::iso9660::add_boot_dir_default(src, format, info, iso.boot_dir)
    } else {
        (format, info)
    }
}

/// The views of the ISO 9660 side, richest first (none if there is no such side).
fn iso_views(src: &Arc<dyn ReadAt>) -> Vec<View> {
    match crate::iso9660::open(Arc::clone(src), None) {
        Ok((_, info)) => info.views,
        Err(e) => {
            log::debug!("no ISO 9660 side: {e}");
            Vec::new()
        }
    }
}

fn merged_views(udf: bool, iso: Vec<View>) -> Vec<View> {
    let mut views = iso;
    if udf {
        views.push(View::Udf);
    }
    View::PREFERENCE
        .into_iter()
        .filter(|v| views.contains(v))
        .collect()
}

/// Opens one named view of an image.
pub(crate) fn open_view(src: Arc<dyn ReadAt>, view: View) -> Result<Box<dyn Format>> {
    match view {
        View::Udf => crate::udf::open(src)?
            .map(|(f, _)| f)
            .ok_or(Error::ViewUnavailable(View::Udf)),
        v => crate::iso9660::open(src, Some(v)).map(|(f, _)| f),
    }
}

/// One view of an image, as `info` shows it.
#[derive(Debug, Clone)]
pub struct ViewSummary {
    /// The view.
    pub view: View,
    /// Entries in its root directory (an error if the view cannot be listed).
    pub root_entries: std::result::Result<usize, Error>,
}

/// What the views of one image show, and where they disagree.
#[derive(Debug, Clone, Default)]
pub struct ViewReport {
    /// Every view of the image, richest first, with its root entry count.
    pub views: Vec<ViewSummary>,
    /// Disagreements between the UDF tree and the ISO 9660 side, as
    /// label/value pairs (`"ISO 9660 side"`, `"Size differences"`).
    pub notes: Vec<(&'static str, String)>,
}

/// Summarises every view in `views` and, on a bridge image, compares the UDF
/// tree with the richest ISO 9660 view.
/// `shown` is the view in use: when it is an ISO 9660 view it is the one
/// compared, else the richest ISO 9660 view is.
pub(crate) fn report(src: &Arc<dyn ReadAt>, views: &[View], shown: View) -> ViewReport {
    let mut out = ViewReport::default();
    let mut opened: Vec<(View, Box<dyn Format>)> = Vec::new();
    for &view in views {
        let root_entries = open_view(Arc::clone(src), view).and_then(|f| {
            let root = f.root()?;
            let n = f.read_dir(&root)?.entries.len();
            opened.push((view, f));
            Ok(n)
        });
        out.views.push(ViewSummary { view, root_entries });
    }
    let udf = opened.iter().find(|(v, _)| *v == View::Udf);
    let iso = opened
        .iter()
        .find(|(v, _)| *v == shown && *v != View::Udf)
        .or_else(|| opened.iter().find(|(v, _)| *v != View::Udf));
    if let (Some((_, udf)), Some((iso_view, iso))) = (udf, iso) {
        out.notes = compare(&**udf, &**iso, *iso_view);
    }
    out
}

/// Compares a UDF tree with an ISO 9660 view of the same image: names are
/// matched ignoring case (plain ISO 9660 names are upper case) and with any
/// `;version` already stripped by the reader. Bounded in nodes and depth.
pub(crate) fn compare(
    udf: &dyn Format,
    iso: &dyn Format,
    iso_view: View,
) -> Vec<(&'static str, String)> {
    let mut notes = Vec::new();
    let (Ok(udf_root), Ok(iso_root)) = (udf.root(), iso.root()) else {
        return notes;
    };
    let (Ok(udf_list), Ok(iso_list)) = (udf.read_dir(&udf_root), iso.read_dir(&iso_root)) else {
        return notes;
    };
    let (nu, ni) = (udf_list.entries.len(), iso_list.entries.len());
    if ni <= 2 && nu > ni {
        let names: Vec<&str> = iso_list.entries.iter().map(|(n, _)| n.as_str()).collect();
        let holds = if names.is_empty() {
            "nothing".to_string()
        } else {
            format!("only {}", names.join(", "))
        };
        notes.push((
            "ISO 9660 side",
            format!(
                "a stub: its root ({iso_view} view) holds {holds}, the UDF root holds {nu} entries; \
                 readers without UDF show an almost empty disc"
            ),
        ));
    }

    let mut differences: Vec<(String, u64, u64)> = Vec::new();
    let mut count = 0usize;
    let limits = PairLimits {
        max_nodes: COMPARE_NODE_LIMIT,
        max_depth: COMPARE_DEPTH_LIMIT,
        unmatched_dirs: false,
    };
    let complete = walk_pairs(udf, iso, limits, |pair| {
        let Some(inode) = &pair.iso else { return };
        let (u, i) = (&pair.udf.attr, &inode.attr);
        if u.kind == FileType::Regular && i.kind == FileType::Regular && u.size != i.size {
            count += 1;
            if differences.len() < NAMED_DIFFERENCES {
                differences.push((pair.path.clone(), u.size, i.size));
            }
        }
    });
    if !complete {
        log::debug!("view comparison stopped after {COMPARE_NODE_LIMIT} nodes");
    }
    if count > 0 {
        let named: Vec<String> = differences
            .iter()
            .map(|(p, u, i)| format!("{p} (UDF {u} bytes, {iso_view} {i} bytes)"))
            .collect();
        let more = if count > named.len() {
            format!(" and {} more", count - named.len())
        } else {
            String::new()
        };
        notes.push((
            "Size differences",
            format!(
                "{count} file(s) differ in size between the UDF and {iso_view} trees: {}{more}; \
                 the UDF size is the true one (ISO 9660 cannot describe some large files)",
                named.join(", ")
            ),
        ));
    }
    notes
}

/// An entry of the UDF tree of a bridge image (OSTA UDF 2.60 6.9.1) with
/// its ISO 9660 counterpart, if the other tree has one.
pub(crate) struct Pair {
    /// `/`-separated from the root, as the UDF tree names it.
    pub path: String,
    /// The UDF entry.
    pub udf: NodeInfo,
    /// The ISO 9660 entry of the same name, matched ignoring case (plain
    /// ISO 9660 names are upper case; the reader has stripped `;1`).
    pub iso: Option<NodeInfo>,
}

/// How far [`walk_pairs`] goes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PairLimits {
    /// Entries visited at most.
    pub max_nodes: usize,
    /// Deepest directory level entered.
    pub max_depth: usize,
    /// Also enter UDF directories the ISO 9660 tree lacks (their entries
    /// come with no counterpart).
    pub unmatched_dirs: bool,
}

/// Walks the UDF tree `udf` together with the ISO 9660 tree `iso`, calling
/// `visit` for each UDF entry with its counterpart; a directory that does
/// not list is skipped (the checks of each tree report it). False when
/// `limits.max_nodes` cut the walk short.
pub(crate) fn walk_pairs(
    udf: &dyn Format,
    iso: &dyn Format,
    limits: PairLimits,
    mut visit: impl FnMut(&Pair),
) -> bool {
    let (Ok(u), Ok(i)) = (udf.root(), iso.root()) else {
        return true;
    };
    let mut visited = 0usize;
    let mut stack: Vec<(NodeInfo, Option<NodeInfo>, String, usize)> =
        vec![(u, Some(i), String::new(), 0)];
    while let Some((udir, idir, path, depth)) = stack.pop() {
        let Ok(ulist) = udf.read_dir(&udir) else {
            continue;
        };
        let mut by_name: HashMap<String, NodeInfo> = idir
            .and_then(|d| iso.read_dir(&d).ok())
            .map(|l| {
                l.entries
                    .into_iter()
                    .map(|(n, info)| (n.to_lowercase(), info))
                    .collect()
            })
            .unwrap_or_default();
        for (name, un) in ulist.entries {
            visited += 1;
            if visited > limits.max_nodes {
                return false;
            }
            let inode = by_name.remove(&name.to_lowercase());
            let pair = Pair {
                path: format!("{path}/{name}"),
                udf: un,
                iso: inode,
            };
            visit(&pair);
            if pair.udf.attr.kind == FileType::Directory && depth < limits.max_depth {
                let idir = pair.iso.filter(|n| n.attr.kind == FileType::Directory);
                if idir.is_some() || limits.unmatched_dirs {
                    stack.push((pair.udf, idir, pair.path, depth + 1));
                }
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_are_merged_richest_first() {
        assert_eq!(
            merged_views(true, vec![View::Joliet, View::Iso9660]),
            [View::Udf, View::Joliet, View::Iso9660]
        );
        assert_eq!(merged_views(true, vec![]), [View::Udf]);
        assert_eq!(
            merged_views(false, vec![View::RockRidge, View::Joliet, View::Iso9660]),
            [View::RockRidge, View::Joliet, View::Iso9660]
        );
    }
}
