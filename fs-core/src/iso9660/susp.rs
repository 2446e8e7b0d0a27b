//! System Use Sharing Protocol (IEEE P1281). STUB: the "rr" helper's
//! version replaces this file at merge.

use crate::error::{Location, Result};

/// Reads `len` bytes at absolute image byte offset `off` (through the block cache).
pub(crate) type ReadBytes<'a> = &'a dyn Fn(u64, usize) -> Result<Vec<u8>>;

/// What the root's SP / ER entries say.
#[derive(Debug, Clone, Default)]
pub(crate) struct SuspInfo {
    /// SP "bytes skipped" (LEN_SKP).
    pub skip: usize,
    /// Extension identifiers from ER entries.
    pub extensions: Vec<String>,
}

/// Stub: never detects SUSP.
pub(crate) fn detect(
    root_su: &[u8],
    block_size: u32,
    at: Location,
    read: ReadBytes<'_>,
) -> Result<Option<SuspInfo>> {
    let _ = (root_su, block_size, at, read);
    Ok(None)
}

/// One SUSP entry.
pub(crate) struct Entry {
    /// Signature.
    pub sig: [u8; 2],
    /// Version.
    pub version: u8,
    /// Data after the 4-byte header.
    pub data: Vec<u8>,
}

/// Stub: no entries.
pub(crate) fn entries(
    su: &[u8],
    info: &SuspInfo,
    block_size: u32,
    at: Location,
    read: ReadBytes<'_>,
) -> Result<Vec<Entry>> {
    let _ = (su, info, block_size, at, read);
    Ok(Vec::new())
}
