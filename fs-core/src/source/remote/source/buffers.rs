//! Chunk buffers, reused: a request's body is read straight into buffers
//! that earlier chunks left when the memory cache evicted them.
//!
//! A fresh buffer per request costs the kernel a page fault per 4 KiB the
//! first time it is written, and `read_to_end` zeroed it on top: on
//! `isomount cat` of a 2.5 GB file over loopback that was ~180,000 faults
//! and a fifth of the CPU time (`perf`, bench/REMOTE.md). A buffer that
//! comes back keeps its pages. Idle buffers are bounded in bytes, so a
//! source that stops reading holds little beyond its memory cache.

use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;

/// Idle buffers by exact length (one per chunk or piece, so few sizes: a
/// piece, a chunk, the object's last partial ones), at most `limit` bytes
/// of them.
pub(super) struct BufferPool {
    idle: Mutex<Idle>,
    limit: usize,
}

#[derive(Default)]
struct Idle {
    buffers: Vec<Vec<u8>>,
    bytes: usize,
}

impl BufferPool {
    /// A pool keeping at most `limit` bytes of idle buffers.
    pub(super) fn new(limit: usize) -> Arc<BufferPool> {
        Arc::new(BufferPool {
            idle: Mutex::new(Idle::default()),
            limit,
        })
    }

    /// A buffer of exactly `len` bytes: an idle one of that length (its old
    /// contents are overwritten by the caller), else a new zeroed one.
    pub(super) fn take(&self, len: usize) -> Vec<u8> {
        let mut idle = self.idle.lock();
        if let Some(i) = idle.buffers.iter().position(|b| b.len() == len) {
            let buf = idle.buffers.swap_remove(i);
            idle.bytes -= len;
            return buf;
        }
        drop(idle);
        // `vec!` of zeros is `calloc`: large ones are fresh zero pages,
        // not a memset.
        vec![0; len]
    }

    /// Hands `buf` back, kept if the idle bound allows (the oldest idle
    /// buffers make room for it: it is as good as they are, and lengths in
    /// use change when a read pattern does).
    fn give(&self, buf: Vec<u8>) {
        let len = buf.len();
        if len == 0 || len > self.limit {
            return;
        }
        let mut idle = self.idle.lock();
        while idle.bytes + len > self.limit && !idle.buffers.is_empty() {
            let old = idle.buffers.remove(0);
            idle.bytes -= old.len();
        }
        idle.bytes += len;
        idle.buffers.push(buf);
    }

    /// `buf` as shared bytes that give it back to `pool` when the last
    /// slice of them is dropped.
    pub(super) fn share(pool: &Arc<BufferPool>, buf: Vec<u8>) -> Bytes {
        Bytes::from_owner(Pooled {
            buf,
            pool: Arc::clone(pool),
        })
    }

    #[cfg(test)]
    fn idle_bytes(&self) -> usize {
        self.idle.lock().bytes
    }
}

/// A buffer on loan from a [`BufferPool`] to the [`Bytes`] of an answer.
struct Pooled {
    buf: Vec<u8>,
    pool: Arc<BufferPool>,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        self.pool.give(std::mem::take(&mut self.buf));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_comes_back_when_its_last_slice_is_dropped() {
        let pool = BufferPool::new(1 << 20);
        let mut buf = pool.take(4096);
        buf[0] = 7;
        let ptr = buf.as_ptr();
        let bytes = BufferPool::share(&pool, buf);
        let half = bytes.slice(..2048);
        drop(bytes);
        assert_eq!(pool.idle_bytes(), 0, "a slice still holds it");
        drop(half);
        assert_eq!(pool.idle_bytes(), 4096);
        let again = pool.take(4096);
        assert_eq!(again.as_ptr(), ptr, "the same allocation is reused");
        assert_eq!(pool.idle_bytes(), 0);
        // Another length is a new buffer.
        assert_eq!(pool.take(100).len(), 100);
    }

    #[test]
    fn idle_buffers_stay_within_the_bound() {
        let pool = BufferPool::new(10_000);
        let shared: Vec<Bytes> = (0..5)
            .map(|_| BufferPool::share(&pool, pool.take(3000)))
            .collect();
        drop(shared);
        assert_eq!(pool.idle_bytes(), 9000, "three of the five are kept");
        // A buffer larger than the bound is never kept.
        drop(BufferPool::share(&pool, pool.take(20_000)));
        assert_eq!(pool.idle_bytes(), 9000);
        // A new length pushes the oldest out.
        drop(BufferPool::share(&pool, pool.take(5000)));
        assert_eq!(pool.idle_bytes(), 3000 + 5000);
    }
}
