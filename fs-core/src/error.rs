//! Typed errors for everything the core reads.
//!
//! Every error that comes from the image names the on-disk structure and the
//! logical sector (2048-byte unit, or the image's logical block) where it sits,
//! so a user can tell *what* is broken and *where*.

use std::fmt;
use std::io;
use std::sync::Arc;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where in the image a structure sits: its logical sector and, when known,
/// the byte offset inside that sector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// Logical sector number (block of the image's logical block size).
    pub sector: u64,
    /// Byte offset inside the sector, if the structure does not start at its beginning.
    pub offset: Option<u32>,
}

impl Location {
    /// A structure that starts at the beginning of `sector`.
    pub fn sector(sector: u64) -> Self {
        Location {
            sector,
            offset: None,
        }
    }

    /// A structure at byte `offset` inside `sector`.
    pub fn at(sector: u64, offset: u32) -> Self {
        Location {
            sector,
            offset: Some(offset),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.offset {
            Some(o) => write!(f, "sector {} (+{o})", self.sector),
            None => write!(f, "sector {}", self.sector),
        }
    }
}

/// Everything that can go wrong while opening or reading an image.
///
/// `Clone` so that a directory which failed to parse can hand the same error
/// to every caller that asks for it again.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The underlying file (or other source) failed.
    #[error("I/O error reading {len} bytes at image offset {offset}: {cause}")]
    Io {
        /// Byte offset in the image.
        offset: u64,
        /// Number of bytes asked for.
        len: usize,
        /// What the operating system (or a container layer below) said. Part
        /// of the message, not a separate error source, so that error chains
        /// do not print it twice.
        cause: Arc<io::Error>,
    },

    /// The image ends before a structure that should be there.
    #[error("{structure} at {at} lies beyond the end of the image ({image_len} bytes)")]
    Truncated {
        /// Name of the on-disk structure, e.g. "directory record".
        structure: &'static str,
        /// Where it should have been.
        at: Location,
        /// Image length in bytes.
        image_len: u64,
    },

    /// A structure was found but its contents break the specification.
    #[error("corrupt {structure} at {at}: {reason}")]
    Corrupt {
        /// Name of the on-disk structure, e.g. "primary volume descriptor".
        structure: &'static str,
        /// Where it sits.
        at: Location,
        /// What is wrong, in plain words.
        reason: String,
    },

    /// Nothing this crate understands was found in the image.
    #[error("not a recognised disc image: {0}")]
    NotRecognized(String),

    /// The caller asked for a view (`--view`) that the image does not have.
    #[error("the image has no {0} view")]
    ViewUnavailable(crate::View),

    /// No entry of that name / no node of that id.
    #[error("not found: {0}")]
    NotFound(String),

    /// A directory operation on something that is not a directory.
    #[error("not a directory: {0}")]
    NotADirectory(String),

    /// A file operation on a directory.
    #[error("is a directory: {0}")]
    IsADirectory(String),

    /// `read_link` on something that is not a symbolic link.
    #[error("not a symbolic link: {0}")]
    NotASymlink(String),

    /// Too many symbolic links while resolving a path.
    #[error("too many levels of symbolic links resolving {0}")]
    SymlinkLoop(String),

    /// A valid image that uses a feature this reader does not implement.
    #[error("unsupported: {0}")]
    Unsupported(String),

    /// An overlay (`--add`, `--hide`) that cannot be applied, or a local
    /// file of one that cannot be read.
    #[error(transparent)]
    Overlay(#[from] crate::overlay::OverlayError),
}

impl Error {
    /// Shorthand for [`Error::Corrupt`].
    pub fn corrupt(structure: &'static str, at: Location, reason: impl Into<String>) -> Self {
        Error::Corrupt {
            structure,
            at,
            reason: reason.into(),
        }
    }

    /// Shorthand for an [`Error::Io`] from a failed read.
    pub fn io(offset: u64, len: usize, source: io::Error) -> Self {
        Error::Io {
            offset,
            len,
            cause: Arc::new(source),
        }
    }

    /// The closest POSIX errno, for backends that must answer with one.
    pub fn errno(&self) -> i32 {
        // Values are the Linux ones; they are also what WinFsp's POSIX mapping expects.
        const EIO: i32 = 5;
        const ENOENT: i32 = 2;
        const ENOTDIR: i32 = 20;
        const EISDIR: i32 = 21;
        const EINVAL: i32 = 22;
        const ELOOP: i32 = 40;
        const EOPNOTSUPP: i32 = 95;
        match self {
            Error::NotFound(_) | Error::ViewUnavailable(_) => ENOENT,
            Error::NotADirectory(_) => ENOTDIR,
            Error::IsADirectory(_) => EISDIR,
            Error::NotASymlink(_) => EINVAL,
            Error::SymlinkLoop(_) => ELOOP,
            Error::Unsupported(_) => EOPNOTSUPP,
            Error::Overlay(e) => e.errno(),
            Error::Io { .. }
            | Error::Truncated { .. }
            | Error::Corrupt { .. }
            | Error::NotRecognized(_) => EIO,
        }
    }
}
