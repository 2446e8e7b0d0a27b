//! Where image bytes come from.
//!
//! A [`ReadAt`] is a positional reader: every call names its own offset, so
//! any number of threads can read one source at once with no shared cursor
//! and no lock. Local files use `pread(2)` ([`FileSource`]); tests and small
//! images can use an in-memory buffer ([`MemSource`]).

mod file;
mod mem;
#[cfg(feature = "remote")]
pub mod remote;

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

    /// [`ReadAt::read_at`] with advice: the reader will not go on past byte
    /// `end` of the source in this stream (the end of the file it reads), so
    /// a source that reads ahead need not fetch beyond it. Only a hint: the
    /// bytes returned are the same. The default ignores it.
    fn read_at_until(&self, offset: u64, buf: &mut [u8], end: u64) -> io::Result<usize> {
        let _ = end;
        self.read_at(offset, buf)
    }

    /// Reads exactly `buf.len()` bytes at `offset`, retrying short reads.
    /// Fails with `UnexpectedEof` if the source ends first.
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.read_exact_at_until(offset, buf, u64::MAX)
    }

    /// [`ReadAt::read_exact_at`] with [`ReadAt::read_at_until`]'s advice.
    fn read_exact_at_until(&self, mut offset: u64, mut buf: &mut [u8], end: u64) -> io::Result<()> {
        while !buf.is_empty() {
            match self.read_at_until(offset, buf, end) {
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

impl<T: ReadAt + ?Sized> ReadAt for std::sync::Arc<T> {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        (**self).read_at(offset, buf)
    }
    fn read_at_until(&self, offset: u64, buf: &mut [u8], end: u64) -> io::Result<usize> {
        (**self).read_at_until(offset, buf, end)
    }
    fn len(&self) -> u64 {
        (**self).len()
    }
}

impl<T: ReadAt + ?Sized> ReadAt for Box<T> {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        (**self).read_at(offset, buf)
    }
    fn read_at_until(&self, offset: u64, buf: &mut [u8], end: u64) -> io::Result<usize> {
        (**self).read_at_until(offset, buf, end)
    }
    fn len(&self) -> u64 {
        (**self).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A broken source that claims to have read more than it was asked for.
    struct OverReports;

    impl ReadAt for OverReports {
        fn read_at(&self, _offset: u64, buf: &mut [u8]) -> io::Result<usize> {
            Ok(buf.len() + 1)
        }
        fn len(&self) -> u64 {
            100
        }
    }

    #[test]
    fn an_over_reporting_source_is_an_error_not_a_panic() {
        let mut b = [0u8; 8];
        let e = OverReports.read_exact_at(0, &mut b).unwrap_err();
        assert!(e.to_string().contains("reported 9"), "{e}");
    }

    /// Records the advised end of each read.
    #[derive(Default)]
    struct Advised(std::sync::Mutex<Vec<u64>>);

    impl ReadAt for Advised {
        fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
            self.read_at_until(offset, buf, u64::MAX)
        }
        fn read_at_until(&self, _offset: u64, buf: &mut [u8], end: u64) -> io::Result<usize> {
            self.0.lock().unwrap().push(end);
            buf.fill(7);
            Ok(buf.len())
        }
        fn len(&self) -> u64 {
            1 << 20
        }
    }

    #[test]
    fn the_advised_end_passes_through_arc_and_box() {
        // The Volume holds its source as `Arc<dyn ReadAt>`: method calls on
        // it go to the blanket impl, which must forward the advice rather
        // than fall back to the default (which drops it).
        let inner = std::sync::Arc::new(Advised::default());
        let src: std::sync::Arc<dyn ReadAt> = inner.clone();
        let mut b = [0u8; 16];
        src.read_exact_at_until(0, &mut b, 4096).unwrap();
        Box::new(src.clone())
            .read_exact_at_until(0, &mut b, 8192)
            .unwrap();
        src.read_exact_at(0, &mut b).unwrap();
        assert_eq!(*inner.0.lock().unwrap(), [4096, 8192, u64::MAX]);
    }

    #[test]
    fn clip_stays_in_range() {
        let mut b = [0u8; 8];
        assert_eq!(clip(&mut b, 0, 100).len(), 8);
        assert_eq!(clip(&mut b, 95, 100).len(), 5);
        assert!(clip(&mut b, 100, 100).is_empty());
        assert!(clip(&mut b, u64::MAX, 100).is_empty());
    }

    #[test]
    fn memory_reads_past_the_end_are_short() {
        let m = MemSource::new(vec![1, 2, 3]);
        let mut b = [0u8; 8];
        assert_eq!(m.read_at(1, &mut b).unwrap(), 2);
        assert_eq!(b[..2], [2, 3]);
        assert_eq!(m.read_at(3, &mut b).unwrap(), 0);
        assert_eq!(m.read_at(u64::MAX, &mut b).unwrap(), 0);
        assert!(m.read_exact_at(2, &mut b).is_err());
    }
}
