//! A bounded block cache in front of a [`ReadAt`] source.
//!
//! Fixed-size blocks live in [`lru::LruCache`]s behind sharded
//! [`parking_lot::Mutex`]es: a block's shard is picked from its index, so two
//! threads reading different blocks rarely contend. The capacity is given in
//! bytes and split evenly over the shards. Hits and misses are counted.
//!
//! Metadata (volume descriptors, directories, continuation areas) is read
//! again and again and is small, so it always goes through the cache. Bulk
//! file data from a local file does not by default: the kernel page cache
//! already holds it, and copying it into a second cache costs more than it
//! saves (see `bench/` for the measurement).
//!
//! [`CacheStats`] is part of the supported API ([`crate::Volume::cache_stats`]);
//! [`BlockCache`] is an extension point, for [`crate::Volume::with_format`].

use std::io;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use lru::LruCache;
use parking_lot::Mutex;

use crate::bytes::copy_prefix;
use crate::source::{ReadAt, clip};

/// Default block size: 32 KiB, sixteen 2048-byte sectors.
pub const DEFAULT_BLOCK_SIZE: usize = 32 * 1024;
/// Default capacity: 8 MiB. The cache holds metadata only (file data is
/// read straight from the image, whose pages the kernel caches), and each
/// structure is parsed once and kept, so a larger cache bought no speed in
/// `bench/run.sh` (find + tar of 120k files: same times at 4, 16 and 64 MiB)
/// while a UDF walk filled 64 MiB of it with file entries read once.
pub const DEFAULT_CAPACITY: u64 = 8 * 1024 * 1024;

const SHARDS: usize = 16;

/// One shard: block index to block bytes.
type Shard = Mutex<LruCache<u64, Arc<[u8]>>>;

/// Hit and miss counts of a [`BlockCache`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheStats {
    /// Block lookups answered from memory.
    pub hits: u64,
    /// Block lookups that read the source.
    pub misses: u64,
    /// Blocks held now.
    pub blocks: u64,
    /// Size of one block in bytes.
    pub block_size: u64,
    /// Most bytes the cache holds.
    pub capacity: u64,
}

/// A source read through a bounded LRU cache of fixed-size blocks.
pub struct BlockCache<S: ReadAt> {
    inner: S,
    block_size: usize,
    capacity: u64,
    shards: Box<[Shard]>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl<S: ReadAt> BlockCache<S> {
    /// Caches `inner` in blocks of `block_size` bytes, holding at most
    /// `capacity` bytes (at least one block per shard).
    pub fn new(inner: S, block_size: usize, capacity: u64) -> Self {
        let block_size = block_size.max(512);
        let per_shard = (capacity / SHARDS as u64 / block_size as u64).max(1);
        let per_shard = NonZeroUsize::new(usize::try_from(per_shard).unwrap_or(usize::MAX))
            .unwrap_or(NonZeroUsize::MIN);
        let shards = (0..SHARDS)
            .map(|_| Mutex::new(LruCache::new(per_shard)))
            .collect();
        BlockCache {
            inner,
            block_size,
            capacity: per_shard.get() as u64 * SHARDS as u64 * block_size as u64,
            shards,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The source behind the cache.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Current counters.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            blocks: self.shards.iter().map(|s| s.lock().len() as u64).sum(),
            block_size: self.block_size as u64,
            capacity: self.capacity,
        }
    }

    fn shard(&self, index: u64) -> io::Result<&Shard> {
        // Neighbouring blocks land in different shards; `new` makes all SHARDS.
        self.shards
            .get((index % SHARDS as u64) as usize)
            .ok_or_else(|| io::Error::other(format!("no cache shard for block {index}")))
    }

    /// Returns block `index`, reading it from the source on a miss. The last
    /// block of the source may be shorter than the block size.
    fn block(&self, index: u64) -> io::Result<Arc<[u8]>> {
        let shard = self.shard(index)?;
        if let Some(b) = shard.lock().get(&index) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(Arc::clone(b));
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let start = index * self.block_size as u64;
        let len = (self.inner.len().saturating_sub(start)).min(self.block_size as u64) as usize;
        let mut buf = vec![0u8; len];
        // Read outside the lock: a slow source must not stall other readers of the shard.
        self.inner.read_exact_at(start, &mut buf)?;
        let block: Arc<[u8]> = buf.into();
        shard.lock().put(index, Arc::clone(&block));
        Ok(block)
    }
}

impl<S: ReadAt> ReadAt for BlockCache<S> {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let buf = clip(buf, offset, self.inner.len());
        let bs = self.block_size as u64;
        let mut done = 0usize;
        while let Some(out) = buf.get_mut(done..).filter(|o| !o.is_empty()) {
            let pos = offset + done as u64;
            let block = match self.block(pos / bs) {
                Ok(b) => b,
                Err(e) => {
                    // A bad sector elsewhere in the block (a file's data
                    // next to a directory) must not fail this read: read
                    // just the asked-for part of the block, uncached.
                    let to_block_end = usize::try_from(bs - pos % bs).unwrap_or(usize::MAX);
                    let n = to_block_end.min(out.len());
                    let part = out.get_mut(..n).unwrap_or_default();
                    if self.inner.read_exact_at(pos, part).is_err() {
                        return Err(e);
                    }
                    done += n;
                    continue;
                }
            };
            let within = (pos % bs) as usize;
            let n = copy_prefix(out, block.get(within..).unwrap_or_default());
            if n == 0 {
                break;
            }
            done += n;
        }
        Ok(done)
    }

    fn len(&self) -> u64 {
        self.inner.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::MemSource;

    fn pattern(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 % 251) as u8).collect()
    }

    #[test]
    fn reads_across_blocks_match_source() {
        let data = pattern(10_000);
        let c = BlockCache::new(MemSource::new(data.clone()), 1024, 4 * 1024 * 16);
        for (off, len) in [(0, 10), (1000, 100), (1020, 3000), (9990, 100), (10_000, 5)] {
            let mut buf = vec![0u8; len];
            let n = c.read_at(off as u64, &mut buf).unwrap();
            let end = (off + len).min(data.len());
            assert_eq!(n, end.saturating_sub(off));
            assert_eq!(&buf[..n], &data[off.min(end)..end]);
        }
    }

    #[test]
    fn reads_at_and_past_the_end_are_short_not_panics() {
        let c = BlockCache::new(MemSource::new(pattern(3000)), 1024, 64 * 1024);
        let mut buf = vec![0u8; 4096];
        assert_eq!(c.read_at(2000, &mut buf).unwrap(), 1000);
        assert_eq!(c.read_at(3000, &mut buf).unwrap(), 0);
        assert_eq!(c.read_at(u64::MAX, &mut buf).unwrap(), 0);
        assert_eq!(c.read_at(0, &mut []).unwrap(), 0);
    }

    #[test]
    fn counts_hits_and_misses_and_stays_bounded() {
        let data = pattern(1 << 20);
        // 16 shards x 1 block of 1 KiB.
        let c = BlockCache::new(MemSource::new(data), 1024, 16 * 1024);
        let mut b = [0u8; 16];
        c.read_at(0, &mut b).unwrap();
        c.read_at(8, &mut b).unwrap();
        let s = c.stats();
        assert_eq!((s.hits, s.misses), (1, 1));
        for i in 0..200u64 {
            c.read_at(i * 1024, &mut b).unwrap();
        }
        assert!(c.stats().blocks <= 16, "cache grew past its capacity");
    }
}
