//! An image held in memory.

use std::io;

use super::ReadAt;

/// An image held in memory (tests, tiny images, decompressed data).
#[derive(Debug, Clone, Default)]
pub struct MemSource {
    data: Vec<u8>,
}

impl MemSource {
    /// Takes ownership of the bytes.
    pub fn new(data: Vec<u8>) -> Self {
        MemSource { data }
    }
}

impl ReadAt for MemSource {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let Ok(start) = usize::try_from(offset) else {
            return Ok(0);
        };
        if start >= self.data.len() {
            return Ok(0);
        }
        let n = buf.len().min(self.data.len() - start);
        buf[..n].copy_from_slice(&self.data[start..start + n]);
        Ok(n)
    }

    fn len(&self) -> u64 {
        self.data.len() as u64
    }
}
