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

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::BuildHasher;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use lru::LruCache;
use parking_lot::{Condvar, Mutex};

use super::disk::{CacheKey, DiskCache};
use super::fetch::{FetchError, ObjectMeta, RangeFetcher};
use crate::source::{ReadAt, clip};

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
/// 50 ms (read-ahead is 16 now: [`DEFAULT_READAHEAD`]) while random files
/// still move 67 MB, not 115-336: the window only opens after a whole chunk read in
/// sequence, so it costs random access nothing. Metadata blocks (32 KiB)
/// move one 64 KiB piece each whatever the chunk size. Far stores or fast
/// links: raise `chunk_size`.
pub const DEFAULT_CHUNK_SIZE: u32 = 1 << 20;

/// The default read-ahead: 16 chunks (see [`DEFAULT_CHUNK_SIZE`]), sent
/// as requests of up to 8 consecutive chunks. Measured against 8 (the
/// bench/REMOTE.md image, install.wim 2.5 GB through bench/delay-proxy.py,
/// alternating runs on a loaded machine): at 20 ms 8.8 s against 13.0 and
/// 17.6 s; at 0 ms no difference beyond the noise (3.8-5.7 s both). The
/// window opens only in a sequential read and stops at the end of the
/// file, so random access and small files pay nothing for it.
pub const DEFAULT_READAHEAD: u32 = 16;

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

/// The longest backoff between two attempts.
const BACKOFF_CAP: Duration = Duration::from_secs(5);

/// How many access streams are told apart for read-ahead.
const STREAMS: usize = 8;

/// Settings of a [`RemoteSource`].
#[derive(Clone)]
pub struct RemoteOptions {
    /// Bytes per chunk: a power of two, [`MIN_CHUNK_SIZE`] ..=
    /// [`MAX_CHUNK_SIZE`]. Default [`DEFAULT_CHUNK_SIZE`].
    pub chunk_size: u32,
    /// The most bytes of chunks kept in memory (LRU). Default 64 MiB.
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
    /// The longest one request may take before it counts as stalled and is
    /// retried. Default 60 s.
    pub request_timeout: Duration,
    /// A persistent chunk cache shared between processes, if any.
    pub disk: Option<Arc<DiskCache>>,
}

impl Default for RemoteOptions {
    fn default() -> Self {
        RemoteOptions {
            chunk_size: DEFAULT_CHUNK_SIZE,
            memory_bytes: 64 << 20,
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

/// Whether a request may take the place kept for foreground reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Priority {
    Foreground,
    Background,
}

type Answer = Result<Arc<[u8]>, FetchError>;

/// One request in flight: whoever wants the same unit waits here.
struct Slot {
    answer: Mutex<Option<Answer>>,
    done: Condvar,
}

struct Memory {
    lru: LruCache<Unit, Arc<[u8]>>,
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

#[derive(Clone, Copy, Default)]
struct Stream {
    /// Where the last read of this stream ended.
    next: u64,
    /// Bytes read in sequence so far.
    run: u64,
    /// When it was last used (for replacement).
    tick: u64,
}

#[derive(Default)]
struct Streams {
    slots: [Option<Stream>; STREAMS],
    tick: u64,
}

#[derive(Default)]
struct Permits {
    in_use: usize,
    foreground_waiting: usize,
}

/// The bound on requests in flight, with one place kept for foreground
/// reads and foreground waiters served first.
struct Semaphore {
    max: usize,
    state: Mutex<Permits>,
    freed: Condvar,
}

/// Holds one place among the requests in flight until dropped (it may move
/// to the thread that carries the request).
struct Permit {
    sem: Arc<Semaphore>,
}

#[derive(Default)]
struct Prefetch {
    queue: VecDeque<u64>,
    queued: HashSet<u64>,
    shutdown: bool,
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
            permits: Arc::new(Semaphore {
                max: opts.max_in_flight,
                state: Mutex::new(Permits::default()),
                freed: Condvar::new(),
            }),
            streams: Mutex::new(Streams::default()),
            prefetch: Mutex::new(Prefetch::default()),
            prefetch_ready: Condvar::new(),
            changed: Mutex::new(None),
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
        let ahead = u64::from(inner.opts.readahead)
            .min(run / chunk_len)
            .min(inner.opts.memory_bytes / chunk_len / 2);
        // Small reads (the Volume's metadata blocks) never read ahead: a
        // long directory is read in sequence, but what follows it on the
        // disc is usually file data nobody asked for. File reads (FUSE's
        // 128 KiB, the CLI's 1 MiB) do.
        // Chunks up to the one holding the advised end's last byte.
        let ahead =
            ahead.min((advised_end.min(size).saturating_sub(1) >> cs).saturating_sub(last_chunk));
        if !pieces && ahead > 0 && len > u64::from(PIECE_SIZE) {
            // Queued first: the workers fetch ahead while this read waits.
            inner.read_ahead(last_chunk + 1, ahead);
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

/// The pause before attempt `attempt + 1`: `retry_base * 2^attempt`, at
/// most [`BACKOFF_CAP`], times a random factor in `[0.5, 1)`.
fn backoff(opts: &RemoteOptions, attempt: u32, jitter: &RandomState, n: u64) -> Duration {
    let full = opts
        .retry_base
        .saturating_mul(1u32 << attempt.min(16))
        .min(BACKOFF_CAP);
    let r = jitter.hash_one(n) % 1024;
    full.mul_f64(0.5 + r as f64 / 2048.0)
}

/// One unit's bytes out of a multi-unit answer: (unit index, data).
type Part = (u64, Arc<[u8]>);

/// What a lookup found for one unit.
enum Found {
    Ready(Arc<[u8]>),
    Wait(Arc<Slot>),
    Missing,
}

/// This thread's duty to fetch one unit: completing it (or dropping it)
/// wakes everyone waiting for that unit.
struct Claim<'a> {
    inner: &'a Inner,
    unit: Unit,
    slot: Arc<Slot>,
    done: bool,
}

impl Claim<'_> {
    fn complete(mut self, answer: Answer) {
        self.finish(answer);
    }

    fn finish(&mut self, answer: Answer) {
        if self.done {
            return;
        }
        self.done = true;
        if let Ok(data) = &answer {
            // On disk first (only fetched data reaches a claim), then in
            // memory, then the waiters: no reader gets the bytes before they
            // are in the disk cache, so a process that exits right after its
            // last read (`isomount cat`) leaves every chunk it served there.
            // The write goes to the page cache (no fsync), well under a
            // millisecond for a chunk.
            self.inner.disk_store(self.unit, data);
            // In memory before the slot goes: a reader that misses the slot
            // finds the data.
            self.inner.remember(self.unit, Arc::clone(data));
        }
        self.inner.in_flight.lock().remove(&self.unit);
        *self.slot.answer.lock() = Some(answer);
        self.slot.done.notify_all();
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        let name = self.inner.fetcher.name().to_string();
        self.finish(Err(FetchError::Fatal {
            name,
            detail: "the request was abandoned".into(),
        }));
    }
}

impl Semaphore {
    fn acquire(self: &Arc<Self>, prio: Priority) -> Permit {
        let mut st = self.state.lock();
        match prio {
            Priority::Foreground => {
                st.foreground_waiting += 1;
                while st.in_use >= self.max {
                    self.freed.wait(&mut st);
                }
                st.foreground_waiting -= 1;
            }
            Priority::Background => {
                // One place stays free for foreground reads.
                let limit = self.max.saturating_sub(1).max(1);
                while st.in_use >= limit || st.foreground_waiting > 0 {
                    self.freed.wait(&mut st);
                }
            }
        }
        st.in_use += 1;
        Permit {
            sem: Arc::clone(self),
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut st = self.sem.state.lock();
        st.in_use = st.in_use.saturating_sub(1);
        drop(st);
        self.sem.freed.notify_all();
    }
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

    /// Notes a read of `len` bytes at `offset`; returns how many bytes its
    /// stream had read in sequence before it.
    fn observe(&self, offset: u64, len: u64) -> u64 {
        let slack = 1u64 << self.chunk_shift;
        let mut s = self.streams.lock();
        s.tick += 1;
        let tick = s.tick;
        let hit = s.slots.iter_mut().flatten().find(|st| {
            offset >= st.next.saturating_sub(slack) && offset <= st.next.saturating_add(slack)
        });
        if let Some(st) = hit {
            let run = st.run;
            st.run = st.run.saturating_add(len);
            st.next = st.next.max(offset + len);
            st.tick = tick;
            return run;
        }
        let fresh = Stream {
            next: offset + len,
            run: len,
            tick,
        };
        let victim = s
            .slots
            .iter_mut()
            .min_by_key(|st| st.map_or(0, |st| st.tick));
        if let Some(v) = victim {
            *v = Some(fresh);
        }
        0
    }

    /// Looks `unit` up in memory and among the requests in flight; the
    /// caller holds the in-flight lock (taken before the memory lock).
    fn find(&self, unit: Unit, in_flight: &HashMap<Unit, Arc<Slot>>) -> Found {
        if let Some(data) = self.memory.lock().lru.get(&unit) {
            self.stats.memory_hits.fetch_add(1, Ordering::Relaxed);
            return Found::Ready(Arc::clone(data));
        }
        match in_flight.get(&unit) {
            Some(slot) => Found::Wait(Arc::clone(slot)),
            None => Found::Missing,
        }
    }

    fn disk_key(&self, unit: Unit) -> Option<&CacheKey> {
        if unit.shift == self.chunk_shift {
            self.disk_chunks.as_ref()
        } else {
            self.disk_pieces.as_ref()
        }
    }

    fn disk_lookup(&self, unit: Unit) -> Option<Arc<[u8]>> {
        let disk = self.opts.disk.as_ref()?;
        let key = self.disk_key(unit)?;
        let (_, len) = self.span(unit);
        let data = disk.get(key, unit.index, usize::try_from(len).ok()?)?;
        if data.len() as u64 != len {
            return None;
        }
        self.stats.disk_hits.fetch_add(1, Ordering::Relaxed);
        let data: Arc<[u8]> = data.into();
        self.remember(unit, Arc::clone(&data));
        Some(data)
    }

    fn disk_store(&self, unit: Unit, data: &[u8]) {
        if let (Some(disk), Some(key)) = (self.opts.disk.as_ref(), self.disk_key(unit)) {
            disk.put(key, unit.index, data);
        }
    }

    /// Memory, then in flight, then disk; or the duty to fetch it.
    fn lookup(&self, unit: Unit) -> Result<Found, Claim<'_>> {
        match self.find(unit, &self.in_flight.lock()) {
            Found::Missing => {}
            found => return Ok(found),
        }
        if let Some(data) = self.disk_lookup(unit) {
            return Ok(Found::Ready(data));
        }
        let mut map = self.in_flight.lock();
        match self.find(unit, &map) {
            Found::Missing => {}
            found => return Ok(found),
        }
        let slot = Arc::new(Slot {
            answer: Mutex::new(None),
            done: Condvar::new(),
        });
        map.insert(unit, Arc::clone(&slot));
        Err(Claim {
            inner: self,
            unit,
            slot,
            done: false,
        })
    }

    /// A chunk if it is at hand or coming (waits for it then), without
    /// sending a request.
    fn cached_or_in_flight(&self, chunk: Unit) -> io::Result<Option<Arc<[u8]>>> {
        let found = self.find(chunk, &self.in_flight.lock());
        match found {
            Found::Ready(data) => Ok(Some(data)),
            Found::Wait(slot) => Ok(Some(self.wait(&slot)?)),
            Found::Missing => Ok(self.disk_lookup(chunk)),
        }
    }

    /// One unit, fetched by this thread or by whoever already asked.
    fn get(&self, unit: Unit, prio: Priority) -> io::Result<Arc<[u8]>> {
        match self.lookup(unit) {
            Ok(Found::Ready(data)) => Ok(data),
            Ok(Found::Wait(slot)) => self.wait(&slot),
            Ok(Found::Missing) => Err(io::Error::other("lookup found nothing")),
            Err(claim) => {
                let (start, len) = self.span(unit);
                let answer = self.fetch(start, len, prio).map(Arc::<[u8]>::from);
                claim.complete(answer.clone());
                Ok(answer?)
            }
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

    /// Waits for another thread's request. That request is bounded by the
    /// request timeout and the retries; past that bound (plus a margin)
    /// this read gives up rather than hang.
    fn wait(&self, slot: &Slot) -> io::Result<Arc<[u8]>> {
        let per_attempt = self.opts.request_timeout.saturating_add(BACKOFF_CAP);
        let bound = per_attempt
            .saturating_mul(self.opts.retries.saturating_add(2))
            .saturating_add(Duration::from_secs(5));
        let deadline = Instant::now() + bound;
        let mut answer = slot.answer.lock();
        loop {
            if let Some(a) = answer.as_ref() {
                return a.clone().map_err(io::Error::from);
            }
            if slot.done.wait_until(&mut answer, deadline).timed_out() && answer.is_none() {
                return Err(FetchError::Transient {
                    name: self.name().to_string(),
                    detail: "no answer while waiting for another request of the same range".into(),
                }
                .into());
            }
        }
    }

    /// Keeps `data` in memory, evicting the least recently used beyond the
    /// bound; a whole chunk replaces its pieces.
    fn remember(&self, unit: Unit, data: Arc<[u8]>) {
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

    /// Queues chunks `from .. from + count` (those past the end, cached or
    /// coming are left out) for the read-ahead workers.
    fn read_ahead(&self, from: u64, count: u64) {
        let chunks = self.meta.size.div_ceil(1u64 << self.chunk_shift);
        let cap = usize::try_from(self.opts.readahead)
            .unwrap_or(usize::MAX)
            .saturating_mul(2)
            .max(8);
        let mut queued = false;
        for i in from..from.saturating_add(count).min(chunks) {
            let unit = Unit {
                shift: self.chunk_shift,
                index: i,
            };
            if self.held_or_in_flight(unit) {
                continue;
            }
            let mut p = self.prefetch.lock();
            if p.queue.len() >= cap {
                break;
            }
            if p.queued.insert(i) {
                p.queue.push_back(i);
                queued = true;
            }
        }
        if queued {
            self.prefetch_ready.notify_all();
        }
    }

    /// Fetches the bytes of `run` (claims of consecutive units, in order)
    /// with one request and completes each claim with its part; returns
    /// the parts by unit index, or the error every claim was given.
    fn fetch_run(&self, run: Vec<Claim<'_>>, prio: Priority) -> Result<Vec<Part>, FetchError> {
        let (Some(first), Some(last)) = (run.first(), run.last()) else {
            return Ok(Vec::new());
        };
        let start = self.span(first.unit).0;
        let (last_start, last_len) = self.span(last.unit);
        match self.fetch(start, last_start + last_len - start, prio) {
            Ok(bytes) => {
                let mut parts = Vec::with_capacity(run.len());
                for c in run {
                    let (s, l) = self.span(c.unit);
                    let part = usize::try_from(s - start)
                        .ok()
                        .zip(usize::try_from(l).ok())
                        .and_then(|(a, l)| bytes.get(a..a + l))
                        .map(Arc::<[u8]>::from)
                        .ok_or_else(|| FetchError::Fatal {
                            name: self.name().to_string(),
                            detail: "a range outside the answer".into(),
                        });
                    if let Ok(data) = &part {
                        parts.push((c.unit.index, Arc::clone(data)));
                    }
                    c.complete(part);
                }
                Ok(parts)
            }
            Err(e) => {
                for c in run {
                    c.complete(Err(e.clone()));
                }
                Err(e)
            }
        }
    }

    /// True when `unit` is in memory or a request for it is in flight:
    /// read-ahead leaves it alone.
    fn held_or_in_flight(&self, unit: Unit) -> bool {
        let map = self.in_flight.lock();
        map.contains_key(&unit) || self.memory.lock().lru.contains(&unit)
    }

    fn prefetch_worker(self: Arc<Self>) {
        // Consecutive chunks queued together go out as one request of up to
        // half the read-ahead window: per-request overhead, not bandwidth,
        // bounded sequential reads at 1 MiB per request (bench/REMOTE.md:
        // 0.34x curl with 1 MiB requests, 0.58x with 8 MiB chunks), while
        // two such requests still overlap.
        let batch = usize::try_from(self.opts.readahead / 2)
            .unwrap_or(1)
            .clamp(1, 16);
        loop {
            let indices = {
                let mut p = self.prefetch.lock();
                let first = loop {
                    if p.shutdown {
                        return;
                    }
                    if let Some(i) = p.queue.pop_front() {
                        p.queued.remove(&i);
                        break i;
                    }
                    self.prefetch_ready.wait(&mut p);
                };
                let mut indices = vec![first];
                while indices.len() < batch {
                    let next = first + indices.len() as u64;
                    if p.queue.front() != Some(&next) {
                        break;
                    }
                    p.queue.pop_front();
                    p.queued.remove(&next);
                    indices.push(next);
                }
                indices
            };
            // Claim a run of consecutive chunks nobody has or is getting;
            // never wait here. A chunk that is taken ends the run (the rest
            // of the batch is left to the foreground or the next window).
            let mut claims: Vec<Claim<'_>> = Vec::new();
            for i in indices {
                let unit = Unit {
                    shift: self.chunk_shift,
                    index: i,
                };
                if self.held_or_in_flight(unit) {
                    if claims.is_empty() {
                        continue;
                    }
                    break;
                }
                match self.lookup(unit) {
                    Err(claim) => claims.push(claim),
                    Ok(_) if claims.is_empty() => {}
                    Ok(_) => break,
                }
            }
            let first = claims.first().map(|c| c.unit.index);
            if let Err(e) = self.fetch_run(claims, Priority::Background) {
                log::debug!("read-ahead from chunk {first:?}: {e}");
            }
        }
    }

    /// The error every request fails with once the object has changed.
    fn changed(&self) -> Option<FetchError> {
        self.changed.lock().clone()
    }

    /// Bytes `start .. start + len`, retried with backoff while the
    /// failures are transient; exactly `len` bytes or an error.
    fn fetch(&self, start: u64, len: u64, prio: Priority) -> Result<Vec<u8>, FetchError> {
        let mut attempt = 0;
        loop {
            if let Some(e) = self.changed() {
                return Err(e);
            }
            let result = self.fetch_once(start, len, prio).and_then(|bytes| {
                let got = bytes.len() as u64;
                if got == len {
                    Ok(bytes)
                } else if got < len {
                    Err(FetchError::Transient {
                        name: self.name().to_string(),
                        detail: format!("{got} bytes of the {len} asked at byte {start}"),
                    })
                } else {
                    Err(FetchError::Fatal {
                        name: self.name().to_string(),
                        detail: format!("{got} bytes for a range of {len} at byte {start}"),
                    })
                }
            });
            match result {
                Ok(bytes) => {
                    self.stats.bytes_fetched.fetch_add(len, Ordering::Relaxed);
                    return Ok(bytes);
                }
                Err(e) if e.is_retryable() && attempt < self.opts.retries => {
                    self.stats.retries.fetch_add(1, Ordering::Relaxed);
                    log::debug!("{e}; retrying");
                    let n = self.jitter_count.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(backoff(&self.opts, attempt, &self.jitter, n));
                    attempt += 1;
                }
                Err(e) => {
                    self.stats.failures.fetch_add(1, Ordering::Relaxed);
                    if let FetchError::Changed { .. } = e {
                        let mut changed = self.changed.lock();
                        if changed.is_none() {
                            log::error!("{e}; reads of data not cached yet fail from now on");
                            *changed = Some(e.clone());
                        }
                    } else {
                        log::warn!("{e}");
                    }
                    return Err(e);
                }
            }
        }
    }

    /// One request, on its own thread so that a stall past the request
    /// timeout can be given up on (the thread keeps its place among the
    /// requests in flight until the fetcher returns).
    fn fetch_once(&self, start: u64, len: u64, prio: Priority) -> Result<Vec<u8>, FetchError> {
        let permit = self.permits.acquire(prio);
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::sync_channel(1);
        let fetcher = Arc::clone(&self.fetcher);
        let meta = Arc::clone(&self.meta);
        let spawned = std::thread::Builder::new()
            .name("isomount-fetch".into())
            .spawn(move || {
                let r = fetcher.fetch(start, len, &meta);
                drop(permit);
                let _ = tx.send(r);
            });
        if let Err(e) = spawned {
            return Err(FetchError::Transient {
                name: self.name().to_string(),
                detail: format!("no thread for the request: {e}"),
            });
        }
        match rx.recv_timeout(self.opts.request_timeout) {
            Ok(r) => r,
            Err(mpsc::RecvTimeoutError::Timeout) => Err(FetchError::Transient {
                name: self.name().to_string(),
                detail: format!(
                    "no answer within {:?} for {len} bytes at byte {start}",
                    self.opts.request_timeout
                ),
            }),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(FetchError::Fatal {
                name: self.name().to_string(),
                detail: "the request thread failed".into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Barrier;
    use std::sync::atomic::AtomicUsize;

    /// Deterministic pseudo-random numbers (xorshift64*).
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    #[derive(Default)]
    struct Faults {
        /// The next N requests fail as Transient.
        transient: u32,
        /// The next N requests answer a short body.
        short: u32,
        /// Requests from the K-th on (counting from 1) answer Changed.
        changed_after: Option<u64>,
        /// The next N requests stall for this long first.
        stall: Option<(u32, Duration)>,
        /// Percent of requests failing at random (Transient or short).
        flaky: Option<(Rng, u64)>,
    }

    /// Serves a Vec; counts requests and their concurrency; faults on
    /// demand.
    struct TestFetcher {
        data: Vec<u8>,
        delay: Duration,
        faults: Mutex<Faults>,
        stats: AtomicU64,
        requests: AtomicU64,
        bytes: AtomicU64,
        in_flight: AtomicUsize,
        max_in_flight: AtomicUsize,
        ranges: Mutex<Vec<(u64, u64)>>,
    }

    impl TestFetcher {
        fn new(data: Vec<u8>) -> TestFetcher {
            TestFetcher {
                data,
                delay: Duration::ZERO,
                faults: Mutex::new(Faults::default()),
                stats: AtomicU64::new(0),
                requests: AtomicU64::new(0),
                bytes: AtomicU64::new(0),
                in_flight: AtomicUsize::new(0),
                max_in_flight: AtomicUsize::new(0),
                ranges: Mutex::new(Vec::new()),
            }
        }
        fn with_delay(mut self, d: Duration) -> TestFetcher {
            self.delay = d;
            self
        }
        fn requests(&self) -> u64 {
            self.requests.load(Ordering::SeqCst)
        }
        fn meta(&self) -> ObjectMeta {
            ObjectMeta {
                size: self.data.len() as u64,
                etag: Some("\"v1\"".into()),
                last_modified: None,
            }
        }
        fn transient(&self, detail: &str) -> FetchError {
            FetchError::Transient {
                name: "test".into(),
                detail: detail.into(),
            }
        }
    }

    impl RangeFetcher for TestFetcher {
        fn name(&self) -> &str {
            "test://image.iso"
        }
        fn stat(&self) -> Result<ObjectMeta, FetchError> {
            self.stats.fetch_add(1, Ordering::SeqCst);
            Ok(self.meta())
        }
        fn fetch(&self, start: u64, len: u64, pinned: &ObjectMeta) -> Result<Vec<u8>, FetchError> {
            assert_eq!(pinned, &self.meta());
            let n = self.requests.fetch_add(1, Ordering::SeqCst) + 1;
            self.ranges.lock().push((start, len));
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.max_in_flight.fetch_max(now, Ordering::SeqCst);
            let _done = Done(&self.in_flight);
            let (stall, short) = {
                let mut f = self.faults.lock();
                if f.changed_after.is_some_and(|k| n >= k) {
                    return Err(FetchError::Changed {
                        name: "test".into(),
                        detail: "ETag \"v2\"".into(),
                    });
                }
                if f.transient > 0 {
                    f.transient -= 1;
                    drop(f);
                    // A failing request takes its time too.
                    std::thread::sleep(self.delay);
                    return Err(self.transient("503 Service Unavailable"));
                }
                let mut short = false;
                if f.short > 0 {
                    f.short -= 1;
                    short = true;
                }
                if let Some((rng, pct)) = f.flaky.as_mut() {
                    let pct = *pct;
                    match rng.below(100) {
                        r if r < pct / 2 => return Err(self.transient("connection reset")),
                        r if r < pct => short = true,
                        _ => {}
                    }
                }
                let stall = match f.stall.as_mut() {
                    Some((k, d)) if *k > 0 => {
                        *k -= 1;
                        Some(*d)
                    }
                    _ => None,
                };
                (stall, short)
            };
            std::thread::sleep(stall.unwrap_or(self.delay));
            let s = start as usize;
            let e = (start + len).min(self.data.len() as u64) as usize;
            let mut out = self.data[s..e].to_vec();
            if short {
                out.truncate(out.len() / 2);
            }
            self.bytes.fetch_add(out.len() as u64, Ordering::SeqCst);
            Ok(out)
        }
    }

    struct Done<'a>(&'a AtomicUsize);
    impl Drop for Done<'_> {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }

    fn patterned(len: usize) -> Vec<u8> {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        (0..len).map(|_| rng.next() as u8).collect()
    }

    const K: usize = 1024;

    fn opts(chunk: u32) -> RemoteOptions {
        RemoteOptions {
            chunk_size: chunk,
            retry_base: Duration::from_millis(1),
            ..RemoteOptions::default()
        }
    }

    fn open(f: &Arc<TestFetcher>, o: RemoteOptions) -> RemoteSource {
        RemoteSource::open(Arc::clone(f) as Arc<dyn RangeFetcher>, o).unwrap()
    }

    fn check_random_reads(src: &RemoteSource, data: &[u8], seed: u64, n: usize) {
        let mut rng = Rng(seed);
        let size = data.len() as u64;
        for _ in 0..n {
            let off = match rng.below(4) {
                0 => size - rng.below(5000).min(size),
                1 => (rng.below(size >> 16) << 16).saturating_sub(rng.below(3000)),
                _ => rng.below(size + 10),
            };
            let len = match rng.below(3) {
                0 => rng.below(4096) as usize,
                1 => rng.below(200 * K as u64) as usize,
                _ => rng.below(3 << 20) as usize,
            };
            let mut buf = vec![0u8; len];
            let n = src.read_at(off, &mut buf).unwrap();
            let want = &data[(off.min(size) as usize)..((off + len as u64).min(size) as usize)];
            assert_eq!(n, want.len(), "read of {len} at {off}");
            assert!(buf[..n] == *want, "bytes of a read of {len} at {off}");
        }
    }

    #[test]
    fn random_reads_equal_the_object() {
        let data = patterned(5 * 1024 * K + 12345);
        let f = Arc::new(TestFetcher::new(data.clone()));
        let src = open(&f, opts(256 * K as u32));
        assert_eq!(src.len(), data.len() as u64);
        assert_eq!(src.name(), "test://image.iso");
        assert_eq!(src.meta(), &f.meta());
        check_random_reads(&src, &data, 1, 400);
        // Everything fetched once at most (the memory holds it all):
        // pieces and then their chunk, at most twice the object.
        assert!(f.bytes.load(Ordering::SeqCst) <= 2 * data.len() as u64);
        assert!(src.stats().memory_hits > 0);
    }

    #[test]
    fn random_reads_equal_the_object_through_faults() {
        let data = patterned(3 * 1024 * K + 777);
        let f = Arc::new(TestFetcher::new(data.clone()));
        f.faults.lock().flaky = Some((Rng(42), 30));
        let o = RemoteOptions {
            retries: 30,
            memory_bytes: 512 * K as u64,
            ..opts(64 * K as u32)
        };
        let src = open(&f, o);
        check_random_reads(&src, &data, 7, 300);
        let s = src.stats();
        assert!(s.retries > 0, "{s:?}");
        assert_eq!(s.failures, 0, "{s:?}");
        assert_eq!(s.requests, f.requests());
    }

    #[test]
    fn concurrent_misses_of_one_chunk_are_one_request() {
        let data = patterned(4 * 1024 * K);
        let f = Arc::new(TestFetcher::new(data.clone()).with_delay(Duration::from_millis(100)));
        let o = RemoteOptions {
            readahead: 0,
            ..opts(1024 * K as u32)
        };
        let src = Arc::new(open(&f, o));
        let barrier = Arc::new(Barrier::new(16));
        let threads: Vec<_> = (0..16)
            .map(|t| {
                let (src, barrier, data) = (Arc::clone(&src), Arc::clone(&barrier), data.clone());
                std::thread::spawn(move || {
                    let off = 1024 * K as u64 + t * 40 * K as u64;
                    let mut buf = vec![0u8; 300 * K];
                    barrier.wait();
                    src.read_exact_at(off, &mut buf).unwrap();
                    assert!(buf[..] == data[off as usize..off as usize + 300 * K]);
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(f.requests(), 1, "{:?}", f.ranges.lock());
    }

    #[test]
    fn waiters_share_the_failure_of_the_request_they_waited_for() {
        let data = patterned(2 * 1024 * K);
        let f = Arc::new(TestFetcher::new(data).with_delay(Duration::from_millis(50)));
        f.faults.lock().transient = 1000;
        let o = RemoteOptions {
            retries: 1,
            readahead: 0,
            ..opts(1024 * K as u32)
        };
        let src = Arc::new(open(&f, o));
        let barrier = Arc::new(Barrier::new(8));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (src, barrier) = (Arc::clone(&src), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    let mut buf = vec![0u8; 512 * K];
                    barrier.wait();
                    src.read_exact_at(0, &mut buf).unwrap_err()
                })
            })
            .collect();
        for t in threads {
            let e = t.join().unwrap();
            assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
        }
        // One request and its one retry (the threads arrive together).
        assert!(f.requests() <= 4, "{}", f.requests());
        assert!(src.inner.in_flight.lock().is_empty());
    }

    #[test]
    fn sequential_reads_read_ahead_within_the_bound() {
        const CHUNK: usize = 256 * K;
        let data = patterned(64 * CHUNK);
        let f = Arc::new(TestFetcher::new(data.clone()).with_delay(Duration::from_millis(5)));
        let o = RemoteOptions {
            readahead: 6,
            max_in_flight: 3,
            memory_bytes: 16 * CHUNK as u64,
            ..opts(CHUNK as u32)
        };
        let src = open(&f, o);
        let mut buf = vec![0u8; 128 * K];
        let mut off = 0;
        while off < data.len() {
            src.read_exact_at(off as u64, &mut buf).unwrap();
            assert!(buf[..] == data[off..off + buf.len()]);
            off += buf.len();
        }
        let max = f.max_in_flight.load(Ordering::SeqCst);
        assert!(max <= 3, "{max} requests in flight");
        assert!(max >= 2, "no read-ahead in flight alongside");
        // Whole chunks from the first 128 KiB read on, read-ahead in
        // batches of up to readahead / 2 = 3 consecutive chunks per request:
        // fewer requests than chunks, and no range twice.
        let requests = f.requests();
        assert!((64 / 3..64).contains(&requests), "{requests} requests");
        assert_eq!(f.bytes.load(Ordering::SeqCst), data.len() as u64);
        let mut ranges = f.ranges.lock().clone();
        ranges.sort_unstable();
        for w in ranges.windows(2) {
            assert!(w[0].0 + w[0].1 <= w[1].0, "overlap {w:?}");
        }
        assert!(src.stats().memory_hits > 0);
    }

    #[test]
    fn read_ahead_stops_at_the_advised_end() {
        // A 20-chunk file at chunk 4 of a 64-chunk image, read through in
        // 128 KiB pieces with its end advised: the read-ahead window is open
        // (6 chunks) when the file ends, yet nothing past its last chunk is
        // fetched, however long the workers are given.
        const CHUNK: usize = 256 * K;
        let data = patterned(64 * CHUNK);
        let f = Arc::new(TestFetcher::new(data.clone()));
        let o = RemoteOptions {
            readahead: 6,
            memory_bytes: 32 * CHUNK as u64,
            ..opts(CHUNK as u32)
        };
        let src = open(&f, o.clone());
        let (start, end) = (4 * CHUNK, 24 * CHUNK - 1000);
        let mut buf = vec![0u8; 128 * K];
        let mut off = start;
        while off < end {
            let n = buf.len().min(end - off);
            src.read_exact_at_until(off as u64, &mut buf[..n], end as u64)
                .unwrap();
            assert!(buf[..n] == data[off..off + n]);
            off += n;
        }
        // Time for queued read-ahead to go out, were any queued.
        std::thread::sleep(Duration::from_millis(300));
        src.settle(Duration::from_secs(5));
        let ranges = f.ranges.lock().clone();
        let furthest = ranges.iter().map(|&(a, l)| a + l).max().unwrap();
        assert_eq!(furthest, 24 * CHUNK as u64, "{ranges:?}");
        assert!(src.stats().memory_hits > 0, "no read-ahead at all");
        // Without the advice the same reads run ahead past the file.
        let f = Arc::new(TestFetcher::new(data.clone()));
        let src = open(&f, o);
        let mut off = start;
        while off < end {
            let n = buf.len().min(end - off);
            src.read_exact_at(off as u64, &mut buf[..n]).unwrap();
            off += n;
        }
        let furthest = || f.ranges.lock().iter().map(|&(a, l)| a + l).max().unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while furthest() <= 24 * CHUNK as u64 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(
            furthest() > 24 * CHUNK as u64,
            "the control read no further"
        );
    }

    #[test]
    fn a_long_run_of_metadata_reads_does_not_read_ahead() {
        // A directory of thousands of entries read in the Volume's 32 KiB
        // blocks: sequential, but what follows it is not wanted.
        const CHUNK: usize = 1024 * K;
        let data = patterned(32 * CHUNK);
        let f = Arc::new(TestFetcher::new(data.clone()));
        let src = open(&f, opts(CHUNK as u32));
        let mut buf = vec![0u8; 32 * K];
        let scanned = 4 * CHUNK;
        for off in (0..scanned).step_by(buf.len()) {
            src.read_exact_at(off as u64, &mut buf).unwrap();
            assert!(buf[..] == data[off..off + buf.len()]);
        }
        src.settle(Duration::from_secs(5));
        // The first SEQUENTIAL_AFTER bytes come as pieces, the rest in
        // chunks (chunk 0 again whole): nothing past the scan.
        let moved = f.bytes.load(Ordering::SeqCst);
        assert!(
            moved <= scanned as u64 + SEQUENTIAL_AFTER,
            "{moved} bytes moved for a {scanned}-byte scan"
        );
    }

    #[test]
    fn a_metadata_read_moves_one_piece() {
        let data = patterned(16 * 1024 * K);
        let f = Arc::new(TestFetcher::new(data.clone()));
        let src = open(&f, RemoteOptions::default());
        let mut buf = vec![0u8; 2048];
        src.read_exact_at(16 * 2048, &mut buf).unwrap();
        assert!(buf[..] == data[16 * 2048..17 * 2048]);
        // A Volume metadata block: 32 KiB, aligned, elsewhere.
        let mut block = vec![0u8; 32 * K];
        src.read_exact_at(9 * 1024 * K as u64 + 96 * K as u64, &mut block)
            .unwrap();
        let s = src.stats();
        assert_eq!(s.requests, 2, "{s:?}");
        assert_eq!(s.bytes_fetched, 2 * u64::from(PIECE_SIZE), "{s:?}");
        // Another read in the first piece costs nothing.
        src.read_exact_at(100, &mut buf).unwrap();
        assert_eq!(src.stats().requests, 2);
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(f.requests(), 2, "no read-ahead for random reads");
    }

    #[test]
    fn transient_faults_are_retried() {
        let data = patterned(1024 * K);
        let f = Arc::new(TestFetcher::new(data.clone()));
        f.faults.lock().transient = 3;
        f.faults.lock().short = 1;
        let o = RemoteOptions {
            readahead: 0,
            ..opts(256 * K as u32)
        };
        let src = open(&f, o);
        let mut buf = vec![0u8; 300 * K];
        src.read_exact_at(0, &mut buf).unwrap();
        assert!(buf[..] == data[..300 * K]);
        let s = src.stats();
        assert_eq!(s.retries, 4, "{s:?}");
        assert_eq!(s.failures, 0, "{s:?}");
        assert_eq!(s.requests, f.requests());
    }

    #[test]
    fn when_retries_run_out_one_read_fails_and_the_next_works() {
        let data = patterned(1024 * K);
        let f = Arc::new(TestFetcher::new(data.clone()));
        let o = RemoteOptions {
            retries: 2,
            ..opts(256 * K as u32)
        };
        f.faults.lock().transient = 3;
        let src = open(&f, o);
        let mut buf = vec![0u8; 4096];
        let e = src.read_exact_at(5000, &mut buf).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert_eq!(f.requests(), 3);
        assert_eq!(src.stats().failures, 1);
        src.read_exact_at(5000, &mut buf).unwrap();
        assert!(buf[..] == data[5000..5000 + 4096]);
    }

    #[test]
    fn a_stalled_request_is_given_up_on_and_retried() {
        let data = patterned(1024 * K);
        let f = Arc::new(TestFetcher::new(data.clone()));
        f.faults.lock().stall = Some((1, Duration::from_secs(3)));
        let o = RemoteOptions {
            request_timeout: Duration::from_millis(200),
            ..opts(256 * K as u32)
        };
        let src = open(&f, o);
        let t = Instant::now();
        let mut buf = vec![0u8; 4096];
        src.read_exact_at(0, &mut buf).unwrap();
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
        assert!(buf[..] == data[..4096]);
        assert_eq!(src.stats().retries, 1);
    }

    #[test]
    fn a_changed_object_fails_uncached_reads_only() {
        let data = patterned(4 * 1024 * K);
        let f = Arc::new(TestFetcher::new(data.clone()));
        let o = RemoteOptions {
            readahead: 0,
            ..opts(1024 * K as u32)
        };
        let src = open(&f, o);
        let mut big = vec![0u8; 1024 * K];
        src.read_exact_at(0, &mut big).unwrap();
        f.faults.lock().changed_after = Some(2);
        let mut buf = vec![0u8; 4096];
        let e = src
            .read_exact_at(2 * 1024 * K as u64, &mut buf)
            .unwrap_err();
        assert!(e.to_string().contains("changed"), "{e}");
        assert_eq!(f.requests(), 2);
        // Not asked again, not even for other ranges.
        let e = src
            .read_exact_at(3 * 1024 * K as u64, &mut buf)
            .unwrap_err();
        assert!(e.to_string().contains("changed"), "{e}");
        assert_eq!(f.requests(), 2);
        // What was cached still reads.
        src.read_exact_at(1000, &mut buf).unwrap();
        assert!(buf[..] == data[1000..1000 + 4096]);
        assert_eq!(src.stats().retries, 0);
    }

    #[test]
    fn memory_stays_within_its_bound() {
        const CHUNK: usize = 64 * K;
        let data = patterned(40 * CHUNK + 100);
        let f = Arc::new(TestFetcher::new(data.clone()));
        let o = RemoteOptions {
            memory_bytes: 4 * CHUNK as u64,
            readahead: 2,
            ..opts(CHUNK as u32)
        };
        let src = open(&f, o);
        let mut buf = vec![0u8; 48 * K];
        for round in 0..2 {
            let mut off = 0;
            while off < data.len() {
                let n = src.read_at(off as u64, &mut buf).unwrap();
                assert!(buf[..n] == data[off..off + n], "round {round} at {off}");
                assert!(src.memory_bytes() <= 4 * CHUNK as u64);
                off += n;
            }
        }
        check_random_reads(&src, &data, 3, 50);
        assert!(src.memory_bytes() <= 4 * CHUNK as u64);
    }

    #[test]
    fn open_rejects_bad_options_and_missing_objects_at_once() {
        let f = Arc::new(TestFetcher::new(patterned(1000)));
        for chunk in [0, 1000, 32 * K as u32, 128 << 20, (64 * K as u32) + 1] {
            let e = RemoteSource::open(f.clone(), opts(chunk)).unwrap_err();
            assert!(e.to_string().contains("chunk size"), "{e}");
        }
        let o = RemoteOptions {
            max_in_flight: 0,
            ..RemoteOptions::default()
        };
        assert!(RemoteSource::open(f.clone(), o).is_err());

        struct Missing(AtomicU64, FetchError);
        impl RangeFetcher for Missing {
            fn name(&self) -> &str {
                "test://gone"
            }
            fn stat(&self) -> Result<ObjectMeta, FetchError> {
                self.0.fetch_add(1, Ordering::SeqCst);
                Err(self.1.clone())
            }
            fn fetch(&self, _: u64, _: u64, _: &ObjectMeta) -> Result<Vec<u8>, FetchError> {
                Err(self.1.clone())
            }
        }
        let gone = Arc::new(Missing(
            AtomicU64::new(0),
            FetchError::NotFound {
                name: "test://gone".into(),
            },
        ));
        let e = RemoteSource::open(gone.clone(), opts(64 * K as u32)).unwrap_err();
        assert!(matches!(e, FetchError::NotFound { .. }));
        assert_eq!(gone.0.load(Ordering::SeqCst), 1);
        let flaky = Arc::new(Missing(
            AtomicU64::new(0),
            FetchError::Transient {
                name: "test://gone".into(),
                detail: "503".into(),
            },
        ));
        let o = RemoteOptions {
            retries: 3,
            ..opts(64 * K as u32)
        };
        assert!(
            RemoteSource::open(flaky.clone(), o)
                .unwrap_err()
                .is_retryable()
        );
        assert_eq!(flaky.0.load(Ordering::SeqCst), 4);
    }

    #[test]
    fn a_second_source_reads_from_the_disk_cache() {
        let dir = tempfile::tempdir().unwrap();
        let disk = Arc::new(DiskCache::open(dir.path(), 64 << 20).unwrap());
        let data = patterned(3 * 1024 * K + 5);
        let f = Arc::new(TestFetcher::new(data.clone()));
        let o = RemoteOptions {
            disk: Some(Arc::clone(&disk)),
            ..opts(256 * K as u32)
        };
        let first = open(&f, o.clone());
        check_random_reads(&first, &data, 11, 100);
        // A metadata read elsewhere: a piece, on disk too.
        let mut small = vec![0u8; 2048];
        first
            .read_exact_at(3 * 1024 * K as u64 - 4096, &mut small)
            .unwrap();
        let mut all = vec![0u8; data.len()];
        first.read_exact_at(0, &mut all).unwrap();
        drop(first);
        std::thread::sleep(Duration::from_millis(100));
        let before = f.requests();

        let second = open(&f, o);
        second
            .read_exact_at(3 * 1024 * K as u64 - 4096, &mut small)
            .unwrap();
        let off = 3 * 1024 * K - 4096;
        assert!(small[..] == data[off..off + 2048]);
        check_random_reads(&second, &data, 12, 100);
        assert_eq!(f.requests(), before, "everything came from the disk");
        assert!(second.stats().disk_hits > 0);
        assert_eq!(second.stats().bytes_fetched, 0);
    }

    #[test]
    fn dropping_the_source_ends_its_read_ahead_threads() {
        let data = patterned(8 * 256 * K);
        let f = Arc::new(TestFetcher::new(data).with_delay(Duration::from_millis(20)));
        let src = open(&f, opts(256 * K as u32));
        let mut buf = vec![0u8; 128 * K];
        for k in 0..6 {
            src.read_exact_at(k * 128 * K as u64, &mut buf).unwrap();
        }
        let inner = Arc::downgrade(&src.inner);
        drop(src);
        let t = Instant::now();
        while inner.upgrade().is_some() {
            assert!(
                t.elapsed() < Duration::from_secs(5),
                "workers still hold the source"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn an_empty_object_reads_nothing() {
        let f = Arc::new(TestFetcher::new(Vec::new()));
        let src = open(&f, RemoteOptions::default());
        let mut buf = [0u8; 10];
        assert_eq!(src.read_at(0, &mut buf).unwrap(), 0);
        assert_eq!(src.read_at(u64::MAX, &mut buf).unwrap(), 0);
        assert_eq!(f.requests(), 0);
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let o = RemoteOptions {
            retry_base: Duration::from_millis(100),
            ..RemoteOptions::default()
        };
        let j = RandomState::new();
        for n in 0..50 {
            let b0 = backoff(&o, 0, &j, n);
            assert!(b0 >= Duration::from_millis(50) && b0 < Duration::from_millis(100));
            let b3 = backoff(&o, 3, &j, n);
            assert!(b3 >= Duration::from_millis(400) && b3 < Duration::from_millis(800));
            assert!(backoff(&o, 40, &j, n) < BACKOFF_CAP);
        }
    }
}
