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
        let rest = usize::try_from(offset)
            .ok()
            .and_then(|start| self.data.get(start..))
            .unwrap_or_default();
        Ok(crate::bytes::copy_prefix(buf, rest))
    }

    fn len(&self) -> u64 {
        self.data.len() as u64
    }
}
