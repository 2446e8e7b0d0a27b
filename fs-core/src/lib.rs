//! `fs-core`: read-only readers for optical-disc images.
//!
//! Open an image file (or any byte source), pick one of the trees it holds,
//! list its directories and read its files at any offset. The formats are
//! ISO 9660 (ECMA-119) with its Joliet and Rock Ridge (IEEE P1282 / SUSP,
//! IEEE P1281) extensions, El Torito boot images, and UDF (ECMA-167 / OSTA
//! UDF 1.02-2.60), inside the usual containers (plain 2048-byte sectors,
//! BIN/CUE, NRG, MDF/MDS, CloneCD, CSO/ZSO). Nothing is ever written; no
//! platform types appear here, and the crate has no `unsafe`. It is the core
//! of the `isomount` command and of its FUSE and WinFsp backends.
//!
//! # Quick start
//!
//! Open an image, walk it, read a file. The image used here,
//! `tests/data/doc.iso`, was made by xorriso (`ci/make-doc-image.sh`) from
//! the tree `tests/data/doc-tree`:
//!
//! ```
//! use fs_core::{FileType, NodeId, OpenOptions, View, Volume};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let image = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/doc.iso");
//! let vol = Volume::open_path(image, &OpenOptions::default())?;
//!
//! // The richest tree the image has is the one shown: Rock Ridge here
//! // (the image also has Joliet and plain ISO 9660 trees).
//! assert_eq!(vol.view(), View::RockRidge);
//! println!("{} ({}), label {:?}", vol.info().format, vol.view(), vol.info().label);
//!
//! // Walk the tree, depth first, as `find` would.
//! let mut stack: Vec<(NodeId, String)> = vec![(vol.root(), String::new())];
//! let mut files = Vec::new();
//! while let Some((dir, path)) = stack.pop() {
//!     for entry in vol.read_dir(dir)?.entries() {
//!         let path = format!("{path}/{}", entry.name);
//!         let attr = vol.attr(entry.id)?;
//!         println!("{:>6} {:<4} {path}", attr.size, entry.kind.as_str());
//!         match entry.kind {
//!             FileType::Directory => stack.push((entry.id, path)),
//!             FileType::Regular => files.push(path),
//!             _ => {}
//!         }
//!     }
//! }
//! assert!(files.iter().any(|p| p == "/docs/specs/standards.txt"));
//!
//! // Read a file found by its path, in pieces at increasing offsets (a
//! // large file is never held in memory at once).
//! let node = vol.resolve("/README.TXT", true)?;
//! let mut content = Vec::new();
//! let mut buf = [0u8; 100];
//! loop {
//!     let n = vol.read_node(&node, content.len() as u64, &mut buf)?;
//!     if n == 0 {
//!         break; // the end of the file
//!     }
//!     content.extend_from_slice(&buf[..n]);
//! }
//! assert_eq!(content.len() as u64, node.attr().size);
//!
//! // The same bytes as the file the image was made from.
//! let tree = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/doc-tree");
//! assert_eq!(content, std::fs::read(format!("{tree}/README.TXT"))?);
//! # Ok(())
//! # }
//! ```
//!
//! `examples/walk.rs`, `examples/cat.rs` and `examples/info.rs` are the same
//! as small programs (`cargo run -p fs-core --example walk -- IMAGE`).
//!
//! # Other sources, other views
//!
//! [`Volume::open`] takes any [`source::ReadAt`]: a positional reader that
//! many threads may call at once. [`source::FileSource`] is a local file (or
//! block device); [`source::MemSource`] is an image already in memory.
//! [`OpenOptions::view`] forces one tree instead of the richest:
//!
//! ```
//! use std::sync::Arc;
//! use fs_core::source::MemSource;
//! use fs_core::{OpenOptions, View, Volume};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/doc.iso"))?;
//! let opts = OpenOptions { view: Some(View::Joliet), ..OpenOptions::default() };
//! let vol = Volume::open(Arc::new(MemSource::new(bytes)), &opts)?;
//! assert_eq!(vol.view(), View::Joliet);
//! // Every tree the image offers, richest first.
//! assert_eq!(vol.info().views, [View::RockRidge, View::Joliet, View::Iso9660]);
//!
//! // Joliet keeps the lower-case names; lookups ignoring case are there
//! // for callers that want Windows semantics.
//! let guide = vol.resolve("docs/guide.txt", true)?;
//! let docs = vol.lookup(vol.root(), "docs")?;
//! assert_eq!(vol.lookup_ignore_case(docs.id(), "GUIDE.TXT")?.id(), guide.id());
//! # Ok(())
//! # }
//! ```
//!
//! # Errors
//!
//! Every fallible call returns [`Result`], whose [`Error`] says what went
//! wrong and, for a broken image, *which* on-disk structure is broken and
//! *where* ([`Error::Corrupt`] and [`Error::Truncated`] carry the structure's
//! name and its [`Location`]: logical sector and byte offset). Callers that
//! must answer with an errno (a file system backend) have [`Error::errno`].
//! A bad directory entry does not fail its whole directory: the listing
//! leaves it out and [`Directory::problems`] holds the error.
//!
//! ```
//! use std::sync::Arc;
//! use fs_core::source::MemSource;
//! use fs_core::{Error, OpenOptions, View, Volume};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let image = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/doc.iso");
//! let vol = Volume::open_path(image, &OpenOptions::default())?;
//!
//! // A path that is not there: NotFound, naming the path.
//! match vol.resolve("/docs/missing.txt", true) {
//!     Err(Error::NotFound(path)) => assert_eq!(path, "/docs/missing.txt"),
//!     other => panic!("expected NotFound, got {other:?}"),
//! }
//! // Reading a directory as a file.
//! let docs = vol.resolve("/docs", true)?;
//! let err = vol.read(docs.id(), 0, &mut [0u8; 16]).unwrap_err();
//! assert!(matches!(err, Error::IsADirectory(_)));
//! assert_eq!(err.errno(), 21); // EISDIR
//!
//! // A tree the image does not have.
//! let udf = OpenOptions { view: Some(View::Udf), ..OpenOptions::default() };
//! let err = Volume::open_path(image, &udf).unwrap_err();
//! assert!(matches!(err, Error::ViewUnavailable(View::Udf)));
//!
//! // Bytes that hold no file system at all.
//! let zeros = Arc::new(MemSource::new(vec![0; 64 * 1024]));
//! let err = Volume::open(zeros, &OpenOptions::default()).unwrap_err();
//! assert!(matches!(err, Error::NotRecognized(_)), "{err}");
//! # Ok(())
//! # }
//! ```
//!
//! # How it works
//!
//! The pipeline is `Source → container → BlockCache → format reader → Volume`:
//!
//! * [`source`]: where bytes come from ([`source::ReadAt`], positional reads
//!   that many threads can issue at once).
//! * [`container`]: BIN/CUE, NRG, MDF, CloneCD, CSO: 2048-byte logical
//!   sectors out of whatever the image file holds.
//! * [`cache`]: a bounded, sharded LRU block cache for metadata.
//! * [`iso9660`]: ECMA-119 with Joliet and Rock Ridge (IEEE P1282 / SUSP),
//!   El Torito boot catalogs.
//! * [`udf`]: ECMA-167 / OSTA UDF.
//! * [`views`]: which tree of an image is shown, and how the trees compare.
//! * [`overlay`]: local files and directories added to the view and entries
//!   hidden from it ([`OpenOptions::overlay`]), the image untouched.
//! * [`verify`]: checking every structure of an image (`isomount verify`).
//! * [`Volume`]: the one API the backends and the CLI use: lazily listed
//!   directories indexed by name, stable node ids, reads at any offset.
//!
//! A [`Volume`] is `Send + Sync`: one volume serves any number of threads.
//! Directories are parsed once, on first use; the nodes kept in memory are
//! bounded (see [`OpenOptions::cache_bytes`]), and one dropped is read again
//! from the image when asked for, under the same [`NodeId`].
//!
//! # Stability
//!
//! The crate is at 0.x; within that, it promises this much:
//!
//! * **Supported API**: the items re-exported at the crate root
//!   ([`Volume`], [`OpenOptions`], [`Node`], [`Directory`], [`DirEntry`],
//!   [`Attributes`], [`FileType`], [`Timestamp`], [`NodeId`], [`Error`],
//!   [`Location`], [`View`], [`VolumeInfo`], [`ViewReport`],
//!   [`ContainerInfo`], [`BootImage`], ...) and the [`source`] module. These
//!   change only with a new minor version (0.x → 0.(x+1)) and a note saying
//!   what changed.
//! * **Extension points**, for writing a format reader of your own or a test
//!   volume with a made-up tree: [`format::Format`], [`format::NodeInfo`],
//!   [`format::DirContents`], [`cache::BlockCache`], [`FileData`],
//!   [`Extent`], [`Decoder`] and [`Volume::with_format`]. Usable, but they
//!   follow the readers' needs and may change in any minor version.
//! * **Format internals**: the entry points left public in [`iso9660`],
//!   [`udf`] and [`container`], [`volume::node_budget`] and
//!   [`Volume::nodes_in_memory`]. They are public for the workspace's own
//!   tools and tests (which build volumes from one format directly or check
//!   memory bounds) and may change in any release.
//!
//! With the `fuzzing` feature, a hidden `fuzz` module holds one entry point
//! per parser for the cargo-fuzz targets; it is not an API.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![deny(rustdoc::broken_intra_doc_links)]
#![doc(test(attr(deny(warnings))))]

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
pub mod overlay;
pub mod source;
pub mod udf;
pub mod verify;
pub mod views;
pub mod volume;

pub use cache::CacheStats;
pub use container::ContainerInfo;
pub use error::{Error, Location, Result};
pub use format::{View, VolumeInfo};
pub use iso9660::el_torito::{BootEntry, BootImage, BootMedia};
pub use node::{Attributes, Decoder, DeviceNumber, Extent, FileData, FileType, NodeId, Timestamp};
pub use overlay::{Overlay, OverlayError};
pub use views::{ViewReport, ViewSummary};
pub use volume::{DirEntry, Directory, Node, OpenOptions, Volume};

// The README's example is compiled with the doctests (not run: it opens an
// image of the reader's), so that it cannot fall behind the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
