//! A local image file read with positional reads.

use std::fs::File;
use std::io;
use std::path::Path;

use super::ReadAt;

/// A local file, read with `pread(2)` on Unix and `ReadFile` with an
/// explicit offset on Windows: no seek cursor is shared between threads.
#[derive(Debug)]
pub struct FileSource {
    file: File,
    len: u64,
}

impl FileSource {
    /// Opens `path` read-only and records its length.
    pub fn open(path: impl AsRef<Path>) -> io::Result<Self> {
        let file = File::open(path.as_ref())?;
        let meta = file.metadata()?;
        if meta.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{} is a directory, not an image file",
                    path.as_ref().display()
                ),
            ));
        }
        let len = block_device_len(&file).unwrap_or(meta.len());
        Ok(FileSource { file, len })
    }

    /// Wraps an already open file.
    pub fn from_file(file: File) -> io::Result<Self> {
        let len = block_device_len(&file).unwrap_or(file.metadata()?.len());
        Ok(FileSource { file, len })
    }
}

/// Block devices (`/dev/sr0`, a loop device) report length 0 in their
/// metadata; seeking to the end gives the real size.
fn block_device_len(file: &File) -> Option<u64> {
    use std::io::{Seek, SeekFrom};
    let meta = file.metadata().ok()?;
    if meta.len() != 0 || meta.is_file() {
        return None;
    }
    // A fresh handle's cursor is private to this call site; positional reads never use it.
    let mut f = file.try_clone().ok()?;
    f.seek(SeekFrom::End(0)).ok()
}

impl ReadAt for FileSource {
    #[cfg(unix)]
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        std::os::unix::fs::FileExt::read_at(&self.file, buf, offset)
    }

    #[cfg(windows)]
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        // seek_read moves the handle's cursor, but no code here depends on it.
        match std::os::windows::fs::FileExt::seek_read(&self.file, buf, offset) {
            Err(e) if e.raw_os_error() == Some(38) => Ok(0), // ERROR_HANDLE_EOF
            other => other,
        }
    }

    fn len(&self) -> u64 {
        self.len
    }
}
