//! Where image bytes come from.
//!
//! A [`ReadAt`] is a positional reader: every call names its own offset, so
//! any number of threads can read one source at once with no shared cursor
//! and no lock. Local files use `pread(2)` ([`FileSource`]); tests and small
//! images can use an in-memory buffer ([`MemSource`]).

mod file;
mod mem;

pub use file::FileSource;
pub use mem::MemSource;

use std::io;

/// A read-only, positional byte source of known length.
pub trait ReadAt: Send + Sync {
    /// Reads up to `buf.len()` bytes at byte `offset`. Returns how many bytes
    /// were read; fewer than asked only at the end of the source.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize>;

    /// Length of the source in bytes.
    fn len(&self) -> u64;

    /// True when the source holds no bytes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reads exactly `buf.len()` bytes at `offset`, retrying short reads.
    /// Fails with `UnexpectedEof` if the source ends first.
    fn read_exact_at(&self, mut offset: u64, mut buf: &mut [u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match self.read_at(offset, buf) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("source ends at byte {}", self.len()),
                    ));
                }
                Ok(n) => {
                    let asked = buf.len();
                    // A source that claims more than it was asked for is broken.
                    let Some(rest) = std::mem::take(&mut buf).get_mut(n..) else {
                        return Err(io::Error::other(format!(
                            "a read of {asked} bytes at byte {offset} reported {n}"
                        )));
                    };
                    buf = rest;
                    offset += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// The front of `buf` that a read at `offset` of a `len`-byte source can
/// fill: all of it, or the bytes up to the source's end (none past it).
pub(crate) fn clip(buf: &mut [u8], offset: u64, len: u64) -> &mut [u8] {
    let avail = usize::try_from(len.saturating_sub(offset)).unwrap_or(usize::MAX);
    let n = buf.len().min(avail);
    buf.get_mut(..n).unwrap_or_default()
}

/// Copies the bytes `dst` and `src` both have room for; returns how many.
pub(crate) fn copy_prefix(dst: &mut [u8], src: &[u8]) -> usize {
    let n = dst.len().min(src.len());
    if let (Some(d), Some(s)) = (dst.get_mut(..n), src.get(..n)) {
        d.copy_from_slice(s);
    }
    n
}

impl<T: ReadAt + ?Sized> ReadAt for std::sync::Arc<T> {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        (**self).read_at(offset, buf)
    }
    fn len(&self) -> u64 {
        (**self).len()
    }
}

impl<T: ReadAt + ?Sized> ReadAt for Box<T> {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        (**self).read_at(offset, buf)
    }
    fn len(&self) -> u64 {
        (**self).len()
    }
}
