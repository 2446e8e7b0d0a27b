//! `fs-core`: read-only readers for optical-disc images.
//!
//! The pipeline is `Source → BlockCache → format reader → Volume`:
//!
//! * [`source`]: where bytes come from ([`source::ReadAt`], positional reads
//!   that many threads can issue at once).
//! * [`cache`]: a bounded, sharded LRU block cache.
//! * [`container`]: BIN/CUE, NRG, MDF, CloneCD, CSO: 2048-byte logical sectors.
//! * [`iso9660`]: ECMA-119 with Joliet and Rock Ridge (IEEE P1282 / SUSP).
//! * [`udf`]: ECMA-167 / OSTA UDF.
//! * [`views`]: which tree of an image is shown, and how the trees compare.
//! * [`Volume`]: the one API the backends and the CLI use: lazily listed
//!   directories indexed by name, stable node ids, reads at any offset.
//!
//! No platform types appear here and the crate has no `unsafe`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod bytes;
pub mod cache;
pub mod container;
pub mod error;
pub mod format;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzz;
pub mod iso9660;
pub mod node;
pub mod source;
pub mod udf;
pub mod views;
pub mod volume;

pub use container::ContainerInfo;
pub use error::{Error, Location, Result};
pub use format::{View, VolumeInfo};
pub use node::{Attributes, Decoder, DeviceNumber, Extent, FileData, FileType, NodeId, Timestamp};
pub use views::{ViewReport, ViewSummary};
pub use volume::{DirEntry, Directory, Node, OpenOptions, Volume};
