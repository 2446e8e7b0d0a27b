//! Bounds-checked reads of image bytes.

use std::sync::Arc;

use crate::error::{Error, Location, Result};
use crate::source::ReadAt;

/// Largest single metadata read: a directory's data is capped at 64 MiB.
pub(crate) const MAX_READ: usize = 64 * 1024 * 1024;

/// The image, read through the block cache, with its logical block size.
#[derive(Clone)]
pub(crate) struct Disk {
    src: Arc<dyn ReadAt>,
    /// Image length in bytes.
    pub len: u64,
    /// Logical block size (from the anchor search).
    pub bs: u32,
}

impl Disk {
    pub(crate) fn new(src: Arc<dyn ReadAt>, bs: u32) -> Self {
        let len = src.len();
        Disk { src, len, bs }
    }

    /// Block size as u64.
    pub(crate) fn bs64(&self) -> u64 {
        u64::from(self.bs)
    }

    /// Number of whole blocks in the image.
    pub(crate) fn blocks(&self) -> u64 {
        self.len / self.bs64()
    }

    /// Location of an absolute byte offset.
    pub(crate) fn loc(&self, abs: u64) -> Location {
        Location::at(abs / self.bs64(), (abs % self.bs64()) as u32)
    }

    /// Reads exactly `len` bytes at `off`, or [`Error::Truncated`] naming `structure`.
    pub(crate) fn read(&self, off: u64, len: usize, structure: &'static str) -> Result<Vec<u8>> {
        let end = off.checked_add(len as u64);
        if len > MAX_READ || end.is_none_or(|e| e > self.len) {
            return Err(Error::Truncated {
                structure,
                at: self.loc(off),
                image_len: self.len,
            });
        }
        let mut buf = vec![0u8; len];
        self.src
            .read_exact_at(off, &mut buf)
            .map_err(|e| Error::io(off, len, e))?;
        Ok(buf)
    }

    /// Reads absolute block `sector`.
    pub(crate) fn block(&self, sector: u64, structure: &'static str) -> Result<Vec<u8>> {
        let off = sector.checked_mul(self.bs64()).ok_or(Error::Truncated {
            structure,
            at: Location::sector(sector),
            image_len: self.len,
        })?;
        self.read(off, self.bs as usize, structure)
    }
}

/// Reads the whole content of `data` (at most `cap` bytes, else an error
/// naming `structure`): recorded extents from the image, zero extents as zeros.
pub(crate) fn read_data(
    disk: &Disk,
    data: &crate::node::FileData,
    cap: u64,
    structure: &'static str,
    at: Location,
) -> Result<Vec<u8>> {
    use crate::node::Extent;
    if data.len() > cap {
        return Err(Error::corrupt(
            structure,
            at,
            format!("{} bytes is more than the {cap} read at most", data.len()),
        ));
    }
    let mut out = Vec::with_capacity(data.len() as usize);
    for e in data.extents() {
        match *e {
            Extent::Recorded { start, len } => {
                out.extend(disk.read(start, len as usize, structure)?)
            }
            Extent::Zero { len } => out.resize(out.len() + len as usize, 0),
        }
    }
    Ok(out)
}
