//! Containers: the layer under the format readers that maps 2048-byte
//! logical sectors onto the image file (plain ISO, raw 2352-byte BIN/CUE,
//! NRG, MDF/MDS, CloneCD, CSO/ZSO). Placeholder: only plain images so far.

mod cso;

use std::path::Path;
use std::sync::Arc;

use crate::error::Result;
use crate::source::ReadAt;

/// What the container layer found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerInfo {
    /// Human name of the container, e.g. "plain" or "BIN/CUE (Mode 1, 2352-byte sectors)".
    pub kind: String,
    /// Further facts (tracks, sidecar files, block sizes), as label/value pairs.
    pub details: Vec<(&'static str, String)>,
}

/// Detects the container of `source` from its content (and, when `path` is
/// the image's file name, from sidecar files such as a `.cue` sheet) and
/// returns the logical view of its data track: 2048-byte sectors from 0.
pub fn open(
    source: Arc<dyn ReadAt>,
    path: Option<&Path>,
) -> Result<(Arc<dyn ReadAt>, ContainerInfo)> {
    let _ = path;
    if let Some(found) = cso::open(&source)? {
        return Ok(found);
    }
    Ok((
        source,
        ContainerInfo {
            kind: "plain".into(),
            details: Vec::new(),
        },
    ))
}
