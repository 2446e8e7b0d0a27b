//! The chunk engine: a remote object as a [`ReadAt`].
//!
//! The object is cut into aligned chunks of [`RemoteOptions::chunk_size`]
//! bytes (chunk `i` covers `i * C .. min((i + 1) * C, size)`). A read is
//! served chunk by chunk from memory (an LRU bounded by
//! [`RemoteOptions::memory_bytes`]), then from the persistent
//! [`DiskCache`], then from the store. Misses of one chunk by several
//! threads at once are coalesced into one request; sequential reads start
//! read-ahead on a few worker threads; all requests of one source share a
//! bound ([`RemoteOptions::max_in_flight`]) in which a foreground read
//! always gets the next free place.
//!
//! Small reads that are not part of a sequential run (metadata lookups,
//! directory reads: the `Volume` asks in 32 KiB blocks) fetch only the
//! [`PIECE_SIZE`] pieces they touch, not the whole chunk, so a lookup does
//! not pull megabytes. A run of sequential reads switches to whole chunks
//! and a read-ahead window that grows with the run, as the kernel's page
//! cache does.
//!
//! Every request is conditional on the version pinned at
//! [`RemoteSource::open`]; a changed object fails the reads of data not yet
//! cached (EIO), is logged once, and is never asked again. Bytes of two
//! versions cannot meet: the caches are keyed by the pinned version, and a
//! fetched range is only accepted at its full expected length.
//!
//! Transient failures (5xx, resets, short bodies, stalls past
//! [`RemoteOptions::request_timeout`]) are retried with exponential backoff
//! and jitter; when retries run out that one read fails and the next one
//! starts afresh.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use lru::LruCache;
use parking_lot::{Condvar, Mutex};

use super::disk::{CacheKey, DiskCache};
use super::fetch::{FetchError, ObjectMeta, RangeFetcher};
use crate::source::{ReadAt, clip};

mod buffers;
mod inflight;
mod permits;
mod prefetch;
mod request;
mod streams;

use buffers::BufferPool;
use inflight::{Claim, Found, Slot};
use permits::{Priority, Semaphore};
use prefetch::Prefetch;
use request::backoff;
use streams::Streams;

/// The default chunk size: 1 MiB, with [`DEFAULT_READAHEAD`] chunks of
/// read-ahead.
///
/// Measured with `examples/remote_chunks.rs` against nginx on loopback
/// (a 1 GiB file; a round trip added before each request, as `tc netem` was
/// not available; 2 shared cores). One sequential stream in 128 KiB reads,
/// and 40 random 512 KiB files read through (21 MB), cold caches:
///
/// | chunk   | seq 0 ms  | seq 20 ms | seq 50 ms | files: bytes moved |
/// |--------:|----------:|----------:|----------:|-------------------:|
/// | 256 KiB |  348 MB/s |   42 MB/s |         - |              42 MB |
/// | 512 KiB |  686 MB/s |   85 MB/s |         - |              42 MB |
/// |   1 MiB |  785 MB/s |  160 MB/s |   68 MB/s |              67 MB |
/// |   2 MiB |  876 MB/s |  269 MB/s |  121 MB/s |             115 MB |
/// |   4 MiB |  657 MB/s |  304 MB/s |  179 MB/s |             193 MB |
/// |   8 MiB |  568 MB/s |  485 MB/s |         - |             336 MB |
///
/// (read-ahead 4). Sequential speed is about (read-ahead + 1) chunks per
/// round trip; the cost of a random file read is about one chunk. With
/// read-ahead 8, 1 MiB chunks carried 258 MB/s at 20 ms and 103 MB/s at
/// 50 ms (read-ahead is 64 now: [`DEFAULT_READAHEAD`]) while random files
/// still move 67 MB, not 115-336: the window only opens after a whole chunk read in
/// sequence, so it costs random access nothing. Metadata blocks (32 KiB)
/// move one 64 KiB piece each whatever the chunk size. Far stores or fast
/// links: raise `chunk_size`.
pub const DEFAULT_CHUNK_SIZE: u32 = 1 << 20;

/// The default read-ahead: 64 chunks (see [`DEFAULT_CHUNK_SIZE`]), at most
/// half the memory bound, queued and sent in batches of a quarter of it
/// (16 consecutive chunks, one request each, on at most
/// [`READAHEAD_LANES`] requests at once) so that the window is refilled a
/// batch at a time, not a chunk per read. Each chunk of a batch is handed
/// to its readers as soon as its bytes are in, so a large batch does not
/// keep the reader waiting for its end. Measured with the bench/REMOTE.md
/// image (`cat` of install.wim, 2.5 GB, nginx on loopback, through
/// bench/delay-proxy.py for 20 ms; builds alternating, medians of three
/// runs, 2 shared cores; curl of the same bytes took 1.5-2.0 s at 0 ms
/// and 2.7 s at 20 ms):
///
/// | window    | chunks per request | lanes | 0 ms  | 20 ms | requests |
/// |-----------|-------------------:|------:|------:|------:|---------:|
/// | 32 chunks |                  8 |     7 | 3.6 s | 4.3 s |      340 |
/// | 32 chunks |                  8 |     4 | 1.8 s | 4.6 s |      340 |
/// | 64 chunks |                  8 |     7 | 1.6 s | 3.3 s |      330 |
/// | 64 chunks |                 16 |     4 | 1.5 s | 3.4 s |      177 |
///
/// On loopback, many requests at once share the server's one stream of
/// bytes, so the chunk the reader needs comes slowly; a deep window with
/// few lanes keeps the server busy without that. The window opens only in
/// a sequential read and stops at the end of the file, so random access
/// and small files pay nothing for it.
pub const DEFAULT_READAHEAD: u32 = 64;

/// The most read-ahead requests in flight at once for one source (within
/// [`RemoteOptions::max_in_flight`]): see [`DEFAULT_READAHEAD`].
pub const READAHEAD_LANES: usize = 4;

/// The smallest chunk size [`RemoteSource::open`] accepts (64 KiB).
pub const MIN_CHUNK_SIZE: u32 = 64 << 10;

/// The largest chunk size [`RemoteSource::open`] accepts (64 MiB).
pub const MAX_CHUNK_SIZE: u32 = 64 << 20;

/// What a small read away from any sequential run fetches: the aligned
/// 64 KiB pieces it touches (two of the `Volume`'s 32 KiB metadata blocks).
pub const PIECE_SIZE: u32 = 64 << 10;

/// How many bytes a stream must have read in sequence before reads switch
/// from pieces to whole chunks (read-ahead begins after a whole chunk).
const SEQUENTIAL_AFTER: u64 = 256 << 10;

/// Settings of a [`RemoteSource`].
#[derive(Clone)]
pub struct RemoteOptions {
    /// Bytes per chunk: a power of two, [`MIN_CHUNK_SIZE`] ..=
    /// [`MAX_CHUNK_SIZE`]. Default [`DEFAULT_CHUNK_SIZE`].
    pub chunk_size: u32,
    /// The most bytes of chunks kept in memory (LRU). Default 128 MiB, so
    /// that the default read-ahead window (64 MiB) is at most half of it.
    pub memory_bytes: u64,
    /// Chunks fetched ahead of a sequential reader (0: none); the window
    /// opens after a whole chunk read in sequence and grows a chunk per
    /// chunk. Default [`DEFAULT_READAHEAD`].
    pub readahead: u32,
    /// Requests in flight at once for this source, read-ahead included
    /// (at least 1). Default 8.
    pub max_in_flight: usize,
    /// Attempts after the first for a transient failure. Default 5.
    pub retries: u32,
    /// The first backoff, doubled (with jitter) after each failed attempt,
    /// at most 5 s. Default 200 ms.
    pub retry_base: Duration,
    /// The longest wait for the next chunk (or piece) of an answer before
    /// the request counts as stalled and is retried from that chunk.
    /// Default 60 s.
    pub request_timeout: Duration,
    /// A persistent chunk cache shared between processes, if any.
    pub disk: Option<Arc<DiskCache>>,
}

impl Default for RemoteOptions {
    fn default() -> Self {
        RemoteOptions {
            chunk_size: DEFAULT_CHUNK_SIZE,
            memory_bytes: 128 << 20,
            readahead: DEFAULT_READAHEAD,
            max_in_flight: 8,
            retries: 5,
            retry_base: Duration::from_millis(200),
            request_timeout: Duration::from_secs(60),
            disk: None,
        }
    }
}

impl std::fmt::Debug for RemoteOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteOptions")
            .field("chunk_size", &self.chunk_size)
            .field("memory_bytes", &self.memory_bytes)
            .field("readahead", &self.readahead)
            .field("max_in_flight", &self.max_in_flight)
            .field("retries", &self.retries)
            .field("retry_base", &self.retry_base)
            .field("request_timeout", &self.request_timeout)
            .field("disk", &self.disk.is_some())
            .finish()
    }
}

/// What a [`RemoteSource`] has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RemoteStats {
    /// Bytes received from the store (accepted answers only).
    pub bytes_fetched: u64,
    /// Range requests sent, retries and read-ahead included.
    pub requests: u64,
    /// Chunks or pieces served from memory.
    pub memory_hits: u64,
    /// Chunks or pieces served from the disk cache.
    pub disk_hits: u64,
    /// Attempts repeated after a transient failure.
    pub retries: u64,
    /// Requests given up on: retries exhausted or a permanent error.
    pub failures: u64,
}

/// A remote object read in chunks, cached, read ahead and retried: the
/// [`ReadAt`] for images over HTTP(S) and S3.
pub struct RemoteSource {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RemoteSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteSource")
            .field("name", &self.inner.fetcher.name())
            .field("meta", &self.inner.meta)
            .finish_non_exhaustive()
    }
}

/// A cached or fetched unit: chunk `index` (`shift` = log2 of the chunk
/// size) or piece `index` (`shift` = log2 of [`PIECE_SIZE`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Unit {
    shift: u8,
    index: u64,
}

struct Memory {
    lru: LruCache<Unit, Bytes>,
    bytes: u64,
}

#[derive(Default)]
struct Stats {
    bytes_fetched: AtomicU64,
    requests: AtomicU64,
    memory_hits: AtomicU64,
    disk_hits: AtomicU64,
    retries: AtomicU64,
    failures: AtomicU64,
}

struct Inner {
    fetcher: Arc<dyn RangeFetcher>,
    meta: Arc<ObjectMeta>,
    chunk_shift: u8,
    piece_shift: u8,
    opts: RemoteOptions,
    disk_chunks: Option<CacheKey>,
    disk_pieces: Option<CacheKey>,
    memory: Mutex<Memory>,
    in_flight: Mutex<HashMap<Unit, Arc<Slot>>>,
    permits: Arc<Semaphore>,
    streams: Mutex<Streams>,
    prefetch: Mutex<Prefetch>,
    prefetch_ready: Condvar,
    changed: Mutex<Option<FetchError>>,
    buffers: Arc<BufferPool>,
    stats: Stats,
    jitter: RandomState,
    jitter_count: AtomicU64,
}

impl RemoteSource {
    /// Stats the object (retrying transient failures), pins its
    /// [`ObjectMeta`] and returns the source. A missing object, refused
    /// credentials, a store without ranges or invalid options fail at once.
    pub fn open(
        fetcher: Arc<dyn RangeFetcher>,
        opts: RemoteOptions,
    ) -> Result<RemoteSource, FetchError> {
        let name = fetcher.name().to_string();
        let invalid = |detail: String| FetchError::Fatal {
            name: name.clone(),
            detail,
        };
        let c = opts.chunk_size;
        if !c.is_power_of_two() || !(MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&c) {
            return Err(invalid(format!(
                "chunk size {c} is not a power of two from 64 KiB to 64 MiB"
            )));
        }
        if opts.max_in_flight == 0 {
            return Err(invalid(
                "at least one request must be allowed in flight".into(),
            ));
        }
        let chunk_shift = u8::try_from(c.trailing_zeros()).unwrap_or(20);
        let piece_shift = u8::try_from(PIECE_SIZE.trailing_zeros()).unwrap_or(16);

        let mut attempt = 0;
        let meta = loop {
            match fetcher.stat() {
                Ok(meta) => break meta,
                Err(e) if e.is_retryable() && attempt < opts.retries => {
                    log::warn!("{e}; retrying");
                    std::thread::sleep(backoff(&opts, attempt, &RandomState::new(), 0));
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        };
        if meta.strong_etag().is_none() && meta.last_modified.is_none() {
            log::warn!(
                "{name}: the server sends neither a strong ETag nor Last-Modified, so a \
                 change of the image under the mount cannot be detected"
            );
        }
        let disk_chunks = opts.disk.as_ref().map(|_| CacheKey::new(&name, &meta, c));
        let disk_pieces = opts
            .disk
            .as_ref()
            .map(|_| CacheKey::new(&name, &meta, PIECE_SIZE));
        let workers = if opts.readahead == 0 {
            0
        } else {
            usize::try_from(opts.readahead)
                .unwrap_or(usize::MAX)
                .min(opts.max_in_flight.saturating_sub(1).max(1))
                .min(READAHEAD_LANES)
        };
        let inner = Arc::new(Inner {
            meta: Arc::new(meta),
            chunk_shift,
            piece_shift,
            disk_chunks,
            disk_pieces,
            memory: Mutex::new(Memory {
                lru: LruCache::unbounded(),
                bytes: 0,
            }),
            in_flight: Mutex::new(HashMap::new()),
            permits: Semaphore::new(opts.max_in_flight),
            streams: Mutex::new(Streams::default()),
            prefetch: Mutex::new(Prefetch::default()),
            prefetch_ready: Condvar::new(),
            changed: Mutex::new(None),
            // An eighth of the memory bound idle at most: `cat` of
            // install.wim takes 2,410 chunk buffers, and 159 are new
            // whatever the bound (the memory cache fills before it evicts);
            // an eighth makes 180 new, a sixteenth 435.
            buffers: BufferPool::new(usize::try_from(opts.memory_bytes / 8).unwrap_or(usize::MAX)),
            stats: Stats::default(),
            jitter: RandomState::new(),
            jitter_count: AtomicU64::new(0),
            fetcher,
            opts,
        });
        for n in 0..workers {
            let inner = Arc::clone(&inner);
            let spawned = std::thread::Builder::new()
                .name(format!("isomount-ahead-{n}"))
                .spawn(move || inner.prefetch_worker());
            if let Err(e) = spawned {
                log::warn!("no read-ahead thread: {e}");
            }
        }
        Ok(RemoteSource { inner })
    }

    /// The object's size and validators as pinned when it was opened.
    pub fn meta(&self) -> &ObjectMeta {
        &self.inner.meta
    }

    /// The object as shown to users (no credentials).
    pub fn name(&self) -> &str {
        self.inner.fetcher.name()
    }

    /// Lets the requests in flight finish (at most `limit`), so that every
    /// chunk fetched so far is in the disk cache, and drops read-ahead not
    /// yet started. For a process about to exit: its worker threads would
    /// otherwise die in the middle of storing what it fetched, and the next
    /// process would fetch it again.
    pub fn settle(&self, limit: Duration) {
        {
            let mut p = self.inner.prefetch.lock();
            p.queue.clear();
            p.queued.clear();
        }
        let deadline = Instant::now() + limit;
        while !self.inner.in_flight.lock().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> RemoteStats {
        let s = &self.inner.stats;
        RemoteStats {
            bytes_fetched: s.bytes_fetched.load(Ordering::Relaxed),
            requests: s.requests.load(Ordering::Relaxed),
            memory_hits: s.memory_hits.load(Ordering::Relaxed),
            disk_hits: s.disk_hits.load(Ordering::Relaxed),
            retries: s.retries.load(Ordering::Relaxed),
            failures: s.failures.load(Ordering::Relaxed),
        }
    }

    #[cfg(test)]
    fn memory_bytes(&self) -> u64 {
        self.inner.memory.lock().bytes
    }
}

impl Drop for RemoteSource {
    fn drop(&mut self) {
        // The workers end after the request they carry, if any.
        self.inner.prefetch.lock().shutdown = true;
        self.inner.prefetch_ready.notify_all();
    }
}

impl ReadAt for RemoteSource {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.read_at_until(offset, buf, u64::MAX)
    }

    /// Reads ahead no further than the chunk holding byte `end - 1`: the
    /// end of the file being read (the Volume passes its extent's end), so
    /// reading a file through does not fetch chunks of what follows it on
    /// the disc (bench/REMOTE.md: 11 MiB over a 145 MiB file with 1 MiB
    /// chunks before this, 48 MiB over install.wim with 8 MiB chunks).
    fn read_at_until(&self, offset: u64, buf: &mut [u8], end: u64) -> io::Result<usize> {
        let inner = &*self.inner;
        let advised_end = end;
        let size = inner.meta.size;
        let buf = clip(buf, offset, size);
        if buf.is_empty() {
            return Ok(0);
        }
        let len = buf.len() as u64;
        let end = offset + len;
        let cs = inner.chunk_shift;
        let chunk_len = 1u64 << cs;
        let run = inner.observe(offset, len);
        // Pieces for small reads off any run (the Volume's 32 KiB metadata
        // blocks); FUSE's 128 KiB file reads take whole chunks at once,
        // which costs fewer round trips than growing from pieces.
        let pieces =
            cs > inner.piece_shift && run < SEQUENTIAL_AFTER && len <= u64::from(PIECE_SIZE);
        let last_chunk = (end - 1) >> cs;
        // The window opens once the stream has read a whole chunk in
        // sequence (a small file read through does not pull the next
        // chunk) and grows by a chunk per chunk read, up to `readahead`.
        // Never more than half the memory bound ahead, or read-ahead would
        // evict itself before it is read.
        let open = u64::from(inner.opts.readahead)
            .min(run / chunk_len)
            .min(inner.opts.memory_bytes / chunk_len / 2);
        // Never past the chunk holding the advised end's last byte.
        let to_end = (advised_end.min(size).saturating_sub(1) >> cs).saturating_sub(last_chunk);
        let ahead = open.min(to_end);
        // Whole batches (one request each) while the window moves inside
        // the file, at most a quarter of the window (large chunks make a
        // window of few chunks, which must not empty before it refills);
        // what is left when it reaches the end, however little.
        let min_run = if to_end <= open {
            1
        } else {
            inner.batch().min(open / 4).max(1)
        };
        // Small reads (the Volume's metadata blocks) never read ahead: a
        // long directory is read in sequence, but what follows it on the
        // disc is usually file data nobody asked for. File reads (FUSE's
        // 128 KiB, the CLI's 1 MiB) do.
        if !pieces && ahead > 0 && len > u64::from(PIECE_SIZE) {
            // Queued first: the workers fetch ahead while this read waits.
            inner.read_ahead(last_chunk + 1, ahead, min_run);
        }
        for i in (offset >> cs)..=last_chunk {
            let start = i << cs;
            let a = offset.max(start);
            let b = end.min(start + chunk_len);
            let dst = slice_mut(buf, a - offset, b - offset)?;
            let chunk = Unit {
                shift: cs,
                index: i,
            };
            let data = if pieces {
                inner.cached_or_in_flight(chunk)?
            } else {
                None
            };
            match data {
                Some(data) => copy_out(&data, a - start, dst)?,
                None if pieces => inner.read_pieces(a, dst)?,
                None => {
                    let data = inner.get(chunk, Priority::Foreground)?;
                    copy_out(&data, a - start, dst)?;
                }
            }
        }
        Ok(buf.len())
    }

    fn len(&self) -> u64 {
        self.inner.meta.size
    }
}

/// `buf[a..b]`, or an error instead of a panic.
fn slice_mut(buf: &mut [u8], a: u64, b: u64) -> io::Result<&mut [u8]> {
    let a = usize::try_from(a).map_err(io::Error::other)?;
    let b = usize::try_from(b).map_err(io::Error::other)?;
    buf.get_mut(a..b)
        .ok_or_else(|| io::Error::other("read range outside the buffer"))
}

/// Copies `data[at..]` into all of `dst`.
fn copy_out(data: &[u8], at: u64, dst: &mut [u8]) -> io::Result<()> {
    let at = usize::try_from(at).map_err(io::Error::other)?;
    let src = data
        .get(at..)
        .and_then(|s| s.get(..dst.len()))
        .ok_or_else(|| io::Error::other("cached range shorter than expected"))?;
    dst.copy_from_slice(src);
    Ok(())
}

impl Inner {
    fn name(&self) -> &str {
        self.fetcher.name()
    }

    /// Byte range of `unit` in the object.
    fn span(&self, unit: Unit) -> (u64, u64) {
        let start = unit.index << unit.shift;
        let end = (start + (1u64 << unit.shift)).min(self.meta.size);
        (start, end.saturating_sub(start))
    }

    fn disk_key(&self, unit: Unit) -> Option<&CacheKey> {
        if unit.shift == self.chunk_shift {
            self.disk_chunks.as_ref()
        } else {
            self.disk_pieces.as_ref()
        }
    }

    fn disk_lookup(&self, unit: Unit) -> Option<Bytes> {
        let disk = self.opts.disk.as_ref()?;
        let key = self.disk_key(unit)?;
        let (_, len) = self.span(unit);
        let data = disk.get(key, unit.index, usize::try_from(len).ok()?)?;
        if data.len() as u64 != len {
            return None;
        }
        self.stats.disk_hits.fetch_add(1, Ordering::Relaxed);
        let data: Bytes = data.into();
        self.remember(unit, data.clone());
        Some(data)
    }

    fn disk_store(&self, unit: Unit, data: &[u8]) {
        if let (Some(disk), Some(key)) = (self.opts.disk.as_ref(), self.disk_key(unit)) {
            disk.put(key, unit.index, data);
        }
    }

    /// A chunk if it is at hand or coming (waits for it then), without
    /// sending a request.
    fn cached_or_in_flight(&self, chunk: Unit) -> io::Result<Option<Bytes>> {
        let found = self.find(chunk, &self.in_flight.lock());
        match found {
            Found::Ready(data) => Ok(Some(data)),
            Found::Wait(slot) => Ok(Some(self.wait(&slot)?)),
            Found::Missing => Ok(self.disk_lookup(chunk)),
        }
    }

    /// One unit, fetched by this thread or by whoever already asked.
    fn get(&self, unit: Unit, prio: Priority) -> io::Result<Bytes> {
        match self.lookup(unit) {
            Ok(Found::Ready(data)) => Ok(data),
            Ok(Found::Wait(slot)) => self.wait(&slot),
            Ok(Found::Missing) => Err(io::Error::other("lookup found nothing")),
            Err(claim) => self
                .fetch_run(vec![claim], prio)?
                .pop()
                .map(|(_, data)| data)
                .ok_or_else(|| io::Error::other("a request without an answer")),
        }
    }

    /// Fills `dst` (object bytes from `at`, all in one chunk) from pieces:
    /// missing neighbouring pieces are fetched with one request, pieces
    /// others are fetching are waited for (after this thread's own requests
    /// are done, so two readers never wait on each other).
    fn read_pieces(&self, at: u64, dst: &mut [u8]) -> io::Result<()> {
        let ps = self.piece_shift;
        let end = at + dst.len() as u64;
        let first = at >> ps;
        let last = (end - 1) >> ps;
        let mut got: Vec<(u64, Found)> = Vec::new();
        let mut claims: Vec<Claim<'_>> = Vec::new();
        for j in first..=last {
            match self.lookup(Unit {
                shift: ps,
                index: j,
            }) {
                Ok(found) => got.push((j, found)),
                Err(claim) => claims.push(claim),
            }
        }
        // This thread's requests: runs of consecutive claimed pieces.
        let mut err = None;
        let mut claims = claims.into_iter().peekable();
        while let Some(head) = claims.next() {
            let mut run = vec![head];
            while let Some(next) =
                claims.next_if(|c| run.last().is_some_and(|l| c.unit.index == l.unit.index + 1))
            {
                run.push(next);
            }
            if let Some(e) = &err {
                for c in run {
                    c.complete(Err(FetchError::clone(e)));
                }
                continue;
            }
            match self.fetch_run(run, Priority::Foreground) {
                Ok(parts) => got.extend(parts.into_iter().map(|(j, d)| (j, Found::Ready(d)))),
                Err(e) => err = Some(e),
            }
        }
        if let Some(e) = err {
            return Err(e.into());
        }
        for (j, found) in got {
            let data = match found {
                Found::Ready(data) => data,
                Found::Wait(slot) => self.wait(&slot)?,
                Found::Missing => return Err(io::Error::other("lookup found nothing")),
            };
            let s = j << ps;
            let a = at.max(s);
            let b = end.min(s + (1u64 << ps));
            copy_out(&data, a - s, slice_mut(dst, a - at, b - at)?)?;
        }
        Ok(())
    }

    /// Keeps `data` in memory, evicting the least recently used beyond the
    /// bound; a whole chunk replaces its pieces.
    fn remember(&self, unit: Unit, data: Bytes) {
        let mut m = self.memory.lock();
        if unit.shift == self.chunk_shift && self.chunk_shift > self.piece_shift {
            let per = 1u64 << (self.chunk_shift - self.piece_shift);
            for j in unit.index * per..(unit.index + 1) * per {
                let piece = Unit {
                    shift: self.piece_shift,
                    index: j,
                };
                if let Some(old) = m.lru.pop(&piece) {
                    m.bytes = m.bytes.saturating_sub(old.len() as u64);
                }
            }
        }
        m.bytes += data.len() as u64;
        if let Some(old) = m.lru.put(unit, data) {
            m.bytes = m.bytes.saturating_sub(old.len() as u64);
        }
        while m.bytes > self.opts.memory_bytes {
            match m.lru.pop_lru() {
                Some((_, old)) => m.bytes = m.bytes.saturating_sub(old.len() as u64),
                None => break,
            }
        }
    }
}

#[cfg(test)]
mod tests;
