//! A read-only TFTP server (RFC 1350) with the options network-boot
//! clients use: blksize (RFC 2348), timeout and tsize (RFC 2349) and
//! windowsize (RFC 7440), negotiated as RFC 2347 describes.
//!
//! The server knows nothing of images: it reads through [`Files`], which
//! [`TreeFiles`] implements over `isomount serve`'s tree (with its path
//! rules), and the tests' `VolumeFiles` over one [`fs_core::Volume`].
//!
//! * [`packet`]: the wire format, decoded with every length checked;
//! * [`options`]: the negotiation;
//! * [`blocks`]: a file cut into numbered blocks (octet or netascii);
//! * [`transfer`]: one read transfer on its own UDP port (sliding window,
//!   retransmission, block-number rollover);
//! * [`server`]: the listening port, one thread per transfer up to a cap;
//! * [`tree_files`]: the files of `isomount serve`.
//!
//! Written by hand rather than with a crate: the one that has windowsize
//! and a custom file source (async-tftp) reads through `AsyncRead` on an
//! async executor while image reads are blocking calls, hands file names
//! over as `Path`s (wrong for an image's '/'-separated names on Windows),
//! and has no bound on the transfers it runs at once. The protocol is
//! small; threads and blocking sockets keep it plain.

pub mod blocks;
pub mod options;
pub mod packet;
pub mod server;
pub mod transfer;
pub mod tree_files;
#[cfg(test)]
pub mod volume_files;

#[cfg(all(test, target_os = "linux"))]
mod client_tests;

use std::io;
use std::time::Duration;

use thiserror::Error;

pub use server::{Running, Server};
pub use tree_files::TreeFiles;

/// The files a server offers.
pub trait Files: Send + Sync + 'static {
    /// Opens `name` (the filename of a read request, as the client sent
    /// it) for reading.
    fn open(&self, name: &str) -> Result<Box<dyn File>, OpenError>;
}

/// An open file: its length and positional reads.
pub trait File: Send {
    /// Length in bytes.
    fn len(&self) -> u64;

    /// Reads up to `buf.len()` bytes at `offset`; fewer only at the end.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize>;
}

/// Why a file cannot be opened; each maps to a TFTP error code.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum OpenError {
    /// Error 1, "File not found".
    #[error("file not found")]
    NotFound,
    /// Error 2, "Access violation", with the reason.
    #[error("access violation: {0}")]
    AccessViolation(String),
    /// Error 0 with the message.
    #[error("{0}")]
    Other(String),
}

/// The server's policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Transfers served at once; further requests are refused (error 0,
    /// "server busy") until one ends.
    pub max_transfers: usize,
    /// Retransmission timeout when the client does not negotiate one.
    pub timeout: Duration,
    /// Retransmissions of the same packet before a transfer is given up.
    pub retries: u32,
    /// Largest block size granted (8..=65464). The default, 1468, fills an
    /// Ethernet frame (1500 less the IP, UDP and TFTP headers) so that
    /// blocks are never fragmented.
    pub max_blksize: u16,
    /// Largest window granted (1..=65535).
    pub max_windowsize: u16,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            max_transfers: 64,
            timeout: Duration::from_secs(1),
            retries: 5,
            max_blksize: 1468,
            max_windowsize: 64,
        }
    }
}
