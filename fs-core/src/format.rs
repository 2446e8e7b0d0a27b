//! The contract between a format reader (ISO 9660, UDF, ...) and [`crate::Volume`].
//!
//! A reader turns on-disk structures into [`NodeInfo`]s and directory
//! listings. It never caches listings itself: the `Volume` does that, builds
//! the name index, tracks parents and serves file data from the extents.
//!
//! [`View`] and [`VolumeInfo`] are part of the supported API (re-exported at
//! the crate root). [`Format`], [`NodeInfo`] and [`DirContents`] are
//! extension points, for a reader of your own or a test volume with a
//! made-up tree ([`crate::Volume::with_format`]); they follow the readers'
//! needs and may change in any minor version.

use std::fmt;

use crate::error::{Error, Result};
use crate::node::{Attributes, FileData, NodeId, Timestamp};

/// Which tree of an image is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum View {
    /// Plain ISO 9660 names and attributes (ECMA-119), no extensions.
    Iso9660,
    /// Joliet supplementary volume descriptor: UCS-2 names.
    Joliet,
    /// ISO 9660 primary tree with Rock Ridge (IEEE P1282 / SUSP) extensions.
    RockRidge,
    /// UDF (ECMA-167 / OSTA UDF).
    Udf,
}

impl View {
    /// Every view, richest first: the order in which the default is picked.
    pub const PREFERENCE: [View; 4] = [View::Udf, View::RockRidge, View::Joliet, View::Iso9660];

    /// The name used on the command line (`--view`) and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            View::Iso9660 => "iso9660",
            View::Joliet => "joliet",
            View::RockRidge => "rockridge",
            View::Udf => "udf",
        }
    }
}

impl fmt::Display for View {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for View {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "iso9660" | "iso" | "plain" => Ok(View::Iso9660),
            "joliet" => Ok(View::Joliet),
            "rockridge" | "rr" | "rock-ridge" => Ok(View::RockRidge),
            "udf" => Ok(View::Udf),
            _ => Err(format!(
                "unknown view {s:?}: expected udf, rockridge, joliet or iso9660"
            )),
        }
    }
}

/// One node as a reader describes it.
#[derive(Debug, Clone)]
pub struct NodeInfo {
    /// Stable identity (derived from on-disk position).
    pub id: NodeId,
    /// What `stat` shows.
    pub attr: Attributes,
    /// Content: file bytes, or for a directory the bytes of its on-disk
    /// directory (which the reader parses again in [`Format::read_dir`]).
    pub data: FileData,
    /// Target of a symbolic link.
    pub link_target: Option<String>,
}

/// What a reader found in one directory.
#[derive(Debug, Default)]
pub struct DirContents {
    /// Entries in on-disk order, without "." and "..".
    pub entries: Vec<(String, NodeInfo)>,
    /// Entries that could not be read. They are logged and left out; the rest
    /// of the listing stands.
    pub problems: Vec<Error>,
}

/// A parsed image tree.
pub trait Format: Send + Sync {
    /// The view this reader presents.
    fn view(&self) -> View;

    /// The root directory.
    fn root(&self) -> Result<NodeInfo>;

    /// Lists `dir` (a node this reader returned earlier).
    fn read_dir(&self, dir: &NodeInfo) -> Result<DirContents>;

    /// El Torito boot images of the image (empty for readers without them).
    fn boot_images(&self) -> Vec<crate::iso9660::el_torito::BootImage> {
        Vec::new()
    }
}

/// Descriptive facts about an opened image, for `info`.
#[derive(Debug, Clone, Default)]
pub struct VolumeInfo {
    /// Human name of the format, e.g. "ISO 9660".
    pub format: String,
    /// The view in use.
    pub view: Option<View>,
    /// Every view the image offers, richest first.
    pub views: Vec<View>,
    /// The label a user sees (Joliet or UDF volume id when present, else the
    /// primary volume id), trimmed.
    pub label: String,
    /// Named identifier fields (system id, volume set id, publisher, data
    /// preparer, application, ...), trimmed, in display order; empty ones left out.
    pub ids: Vec<(&'static str, String)>,
    /// Logical block size in bytes.
    pub block_size: u32,
    /// Volume size in logical blocks, as the image declares it.
    pub volume_blocks: u64,
    /// Size of the image file in bytes.
    pub image_size: u64,
    /// Volume creation date.
    pub created: Option<Timestamp>,
    /// Volume modification date.
    pub modified: Option<Timestamp>,
    /// Volume expiration date.
    pub expires: Option<Timestamp>,
    /// Volume effective date.
    pub effective: Option<Timestamp>,
    /// Further facts worth showing (extension identifiers, Joliet level,
    /// warnings about the image), as label/value pairs.
    pub extra: Vec<(&'static str, String)>,
}
