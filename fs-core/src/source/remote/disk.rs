//! The persistent chunk cache: remote chunks kept on local disk, so a second
//! process, or a re-mount after a reboot, reading what was read before
//! fetches almost nothing.
//!
//! # Layout
//!
//! ```text
//! DIR/v1/tmp/<pid>-<counter>-<nanos>.tmp      being written
//! DIR/v1/<kk>/<key>/<chunk>.chunk             one chunk of one object
//! ```
//!
//! `<key>` is the SHA-256 (hex) of the object's identity ([`CacheKey`]: name,
//! pinned validator, size, chunk size), `<kk>` its first two hex digits,
//! `<chunk>` the chunk index in decimal. One file per chunk keeps everything
//! simple for several processes sharing the directory: a chunk appears
//! atomically (written to `tmp/`, then renamed into place), the least
//! recently used chunks are found by file modification time (touched on a
//! hit), and there is no index file and no locking.
//!
//! # Chunk file
//!
//! A 64-byte header, then the payload. All integers little-endian.
//!
//! | offset | size | field                                                  |
//! |-------:|-----:|--------------------------------------------------------|
//! |      0 |    8 | magic `ISOMCHK1`                                       |
//! |      8 |    4 | format version (1)                                     |
//! |     12 |    4 | CRC-32 (IEEE) of bytes 16..64 of the header + payload |
//! |     16 |    8 | chunk index                                            |
//! |     24 |    8 | payload length                                         |
//! |     32 |   32 | the key's SHA-256                                      |
//!
//! # Crash safety
//!
//! A reader trusts a chunk file only if the header is right (magic, version,
//! this key, this chunk index, the length the caller expects), the file is
//! exactly header + payload long, and the CRC matches; anything else is
//! removed and counted as corrupt, and the chunk is fetched again. So a
//! writer does not `fsync`: the data can always be fetched again, and a file
//! torn by a crash or power loss (a rename that reached the disk before the
//! data did leaves a short or zero-filled file on some filesystems) fails
//! the check instead of being served. Skipping the `fsync` keeps a cache fill
//! from stalling reads on a slow disk. A process killed mid-write leaves a
//! temp file, removed by the next [`DiskCache::open`] once it is an hour old.
//!
//! # Size bound and sharing
//!
//! The bound counts whole chunk files (header included). Each instance keeps
//! an estimate of the total: a scan of the directory at open, plus what it
//! stores since; it scans again when the estimate passes the bound, after
//! 64 stores, or after storing 1/16 of the bound, and then removes the
//! least recently used chunk files (oldest modification time) down to 90 %
//! of the bound. What other processes store is only seen by the next scan,
//! so with several writers the directory may overshoot the bound briefly,
//! by about 1/16 of it per other writer. Processes sharing a directory with
//! different bounds each enforce their own (the smallest wins). A chunk
//! removed by another process between a scan and a read is a plain miss;
//! the worst a race does is remove a chunk someone just stored.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;
use sha2::{Digest, Sha256};

use super::ObjectMeta;

/// The chunk file magic.
const MAGIC: [u8; 8] = *b"ISOMCHK1";
/// The chunk file format version.
const VERSION: u32 = 1;
/// The chunk file header size.
const HEADER_LEN: usize = 64;
/// The directory of this layout version, inside the cache directory.
const LAYOUT_DIR: &str = "v1";
/// Temp files, inside [`LAYOUT_DIR`].
const TMP_DIR: &str = "tmp";
/// Temp files older than this are left over from a crash.
const STALE_TMP: Duration = Duration::from_secs(3600);
/// A hit touches a chunk's modification time (its LRU age) only when it is
/// older than this: a chunk read over and over costs no metadata writes.
const TOUCH_AFTER: Duration = Duration::from_secs(60);
/// After this many stores the directory is scanned again, to notice what
/// other processes stored or evicted.
const RESCAN_EVERY_PUTS: u64 = 64;
/// ... or after storing this fraction of the bound: what other processes
/// store is invisible between scans, so each rescans often enough that
/// together they overshoot the bound by little.
const RESCAN_EVERY_FRACTION: u64 = 16;

/// Which object, which version, cut in which chunks: chunks are shared only
/// between readers of the same bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    /// SHA-256 of the identity.
    digest: [u8; 32],
    /// `digest` in lower-case hex: the directory name.
    hex: String,
    /// False when the object has no validator to pin a version with: such
    /// chunks are neither stored nor served, since a changed object could
    /// not be told apart.
    pinned: bool,
    /// The chunk size of the identity.
    chunk_size: u32,
}

impl CacheKey {
    /// The object's identity: its URL/name as shown (no secrets), the pinned
    /// validator (the strong ETag, else `Last-Modified`, as
    /// [`RangeFetcher::fetch`](super::RangeFetcher::fetch) pins it), its
    /// size, and the chunk size (chunks of different sizes never mix).
    ///
    /// An object with neither a strong ETag nor `Last-Modified` cannot be
    /// told from a changed one: its key is not [`pinned`](Self::is_pinned)
    /// and the disk cache neither stores nor serves its chunks.
    pub fn new(name: &str, meta: &ObjectMeta, chunk_size: u32) -> CacheKey {
        let validator = match (meta.strong_etag(), meta.last_modified.as_deref()) {
            (Some(etag), _) => Some(("etag", etag)),
            (None, Some(date)) => Some(("last-modified", date)),
            (None, None) => None,
        };
        let mut h = Sha256::new();
        h.update(b"isomount disk cache key v1\0");
        // Every variable-length field is length-prefixed, so no two
        // identities hash the same bytes.
        let mut field = |bytes: &[u8]| {
            h.update((bytes.len() as u64).to_le_bytes());
            h.update(bytes);
        };
        field(name.as_bytes());
        let (kind, value) = validator.unwrap_or(("none", ""));
        field(kind.as_bytes());
        field(value.as_bytes());
        field(&meta.size.to_le_bytes());
        field(&chunk_size.to_le_bytes());
        let digest: [u8; 32] = h.finalize().into();
        CacheKey {
            digest,
            hex: super::hex(&digest),
            pinned: validator.is_some(),
            chunk_size,
        }
    }

    /// The key as the directory name it is stored under (64 hex digits).
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// True when the object has a validator (strong ETag or
    /// `Last-Modified`), so its chunks can be cached on disk.
    pub fn is_pinned(&self) -> bool {
        self.pinned
    }

    /// The chunk size the key was made for.
    pub fn chunk_size(&self) -> u32 {
        self.chunk_size
    }
}

/// What a [`DiskCache`] did since it was opened (this instance only; other
/// processes sharing the directory keep their own).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DiskCacheStats {
    /// Chunks served from disk.
    pub hits: u64,
    /// Chunks asked for and not there (corrupt ones included).
    pub misses: u64,
    /// Chunk files found torn or corrupt, removed.
    pub corrupt: u64,
    /// Payload bytes stored.
    pub stored_bytes: u64,
    /// Bytes of chunk files removed to stay under the size bound (by this
    /// instance).
    pub evicted_bytes: u64,
    /// The estimated size of all chunk files in the directory (all
    /// processes), as of the last scan plus this instance's stores since.
    pub disk_bytes: u64,
}

/// A directory of cached chunks, bounded in size, shared safely by any
/// number of threads and processes. See the module docs for the layout and
/// the crash-safety argument.
#[derive(Debug)]
pub struct DiskCache {
    /// `DIR/v1`.
    root: PathBuf,
    /// `DIR/v1/tmp`.
    tmp: PathBuf,
    /// The bound on the chunk files' total size (headers included).
    max_bytes: u64,
    /// Estimated total size of the chunk files.
    approx_bytes: AtomicU64,
    /// Stores since the last scan.
    puts_since_scan: AtomicU64,
    /// Bytes of chunk files stored since the last scan.
    bytes_since_scan: AtomicU64,
    /// Held by the one thread scanning / evicting.
    scan_lock: Mutex<()>,
    hits: AtomicU64,
    misses: AtomicU64,
    corrupt: AtomicU64,
    stored_bytes: AtomicU64,
    evicted_bytes: AtomicU64,
    /// A corrupt chunk was logged at warn level already.
    warned_corrupt: AtomicBool,
    /// A failed store was logged at warn level already.
    warned_put: AtomicBool,
}

/// Distinguishes temp files of one process.
static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl DiskCache {
    /// Opens (creating, mode 0700 on unix) `dir`; `max_bytes` bounds the
    /// chunk files on disk (least recently used ones are evicted). Removes
    /// temp files left by a crash and evicts down to the bound.
    ///
    /// On unix, fails if `dir` or its `v1` directory belongs to another
    /// user, or `v1` is not a directory (a symlink, say): whatever is in the
    /// cache is served as the image's bytes, so only the user may write it.
    pub fn open(dir: &Path, max_bytes: u64) -> io::Result<DiskCache> {
        let root = dir.join(LAYOUT_DIR);
        let tmp = root.join(TMP_DIR);
        // `v1` is checked before anything is made inside it: a symlink
        // there must not get a `tmp` made where it points.
        make_dir_all(&root)?;
        check_layout_dir(&root)?;
        make_dir_all(&tmp)?;
        #[cfg(unix)]
        check_ownership(dir, &root, &tmp)?;
        let cache = DiskCache {
            root,
            tmp,
            max_bytes,
            approx_bytes: AtomicU64::new(0),
            puts_since_scan: AtomicU64::new(0),
            bytes_since_scan: AtomicU64::new(0),
            scan_lock: Mutex::new(()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            corrupt: AtomicU64::new(0),
            stored_bytes: AtomicU64::new(0),
            evicted_bytes: AtomicU64::new(0),
            warned_corrupt: AtomicBool::new(false),
            warned_put: AtomicBool::new(false),
        };
        cache.clean_stale_tmp();
        cache.scan_and_evict();
        Ok(cache)
    }

    /// `$XDG_CACHE_HOME/isomount`, else `~/.cache/isomount` (unix);
    /// `%LOCALAPPDATA%\isomount\cache` on Windows. None if no home is known.
    pub fn default_dir() -> Option<PathBuf> {
        Self::default_dir_with(|name| std::env::var_os(name))
    }

    /// [`default_dir`](Self::default_dir) with the environment given as a
    /// function (variable name → value), for tests and callers with an
    /// environment of their own. Empty and relative values are ignored (XDG
    /// Base Directory spec).
    pub fn default_dir_with(var: impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
        let absolute = |name: &str| var(name).map(PathBuf::from).filter(|p| p.is_absolute());
        if cfg!(windows) {
            absolute("LOCALAPPDATA")
                .or_else(|| absolute("USERPROFILE").map(|p| p.join("AppData").join("Local")))
                .map(|p| p.join("isomount").join("cache"))
        } else {
            absolute("XDG_CACHE_HOME")
                .or_else(|| absolute("HOME").map(|p| p.join(".cache")))
                .map(|p| p.join("isomount"))
        }
    }

    /// The bound given to [`open`](Self::open).
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Where chunk `chunk` of `key` is stored (whether it is there or not).
    pub fn chunk_path(&self, key: &CacheKey, chunk: u64) -> PathBuf {
        self.key_dir(key).join(format!("{chunk}.chunk"))
    }

    /// `DIR/v1/<kk>/<key>`.
    fn key_dir(&self, key: &CacheKey) -> PathBuf {
        let prefix = key.hex.get(..2).unwrap_or("00");
        self.root.join(prefix).join(&key.hex)
    }

    /// The chunk if present and intact (header for this key and chunk,
    /// payload length == `expected_len`, checksum right); a torn or corrupt
    /// entry is removed and None returned (logged at warn the first time,
    /// at debug after). A hit makes the chunk the most recently used.
    pub fn get(&self, key: &CacheKey, chunk: u64, expected_len: usize) -> Option<Vec<u8>> {
        let found = if key.pinned && expected_len <= key.chunk_size as usize {
            self.read_chunk(key, chunk, expected_len)
        } else {
            None
        };
        match found {
            Some(data) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                Some(data)
            }
            None => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// Reads and checks one chunk file; removes a bad one.
    fn read_chunk(&self, key: &CacheKey, chunk: u64, expected_len: usize) -> Option<Vec<u8>> {
        let path = self.chunk_path(key, chunk);
        let mut file = match open_for_read(&path) {
            Ok(f) => f,
            Err(e) => {
                if e.kind() != io::ErrorKind::NotFound {
                    log::debug!("disk cache: {}: {e}", path.display());
                }
                return None;
            }
        };
        match read_verified(&mut file, key, chunk, expected_len) {
            Ok(data) => {
                touch(&file, &path);
                Some(data)
            }
            Err(Bad::Io(e)) => {
                // Removed by another process's eviction meanwhile, say: a
                // plain miss.
                log::debug!("disk cache: {}: {e}", path.display());
                None
            }
            Err(Bad::Corrupt(why)) => {
                drop(file);
                self.corrupt.fetch_add(1, Ordering::Relaxed);
                if self.warned_corrupt.swap(true, Ordering::Relaxed) {
                    log::debug!(
                        "disk cache: {}: {why}; removed, fetching again",
                        path.display()
                    );
                } else {
                    log::warn!(
                        "disk cache: {}: {why}; removed, fetching again \
                         (later ones are logged at debug level)",
                        path.display()
                    );
                }
                if let Err(e) = fs::remove_file(&path)
                    && e.kind() != io::ErrorKind::NotFound
                {
                    log::debug!("disk cache: removing {}: {e}", path.display());
                }
                None
            }
        }
    }

    /// Stores a chunk: written to a temp file, then renamed into place, so
    /// readers see the whole chunk or none. No `fsync` (see the module docs:
    /// the checksum catches a file torn by a crash). Errors are logged and
    /// swallowed: a full disk must not fail a read. Keys that are not
    /// pinned, and chunks larger than the key's chunk size or the whole
    /// cache, are not stored.
    pub fn put(&self, key: &CacheKey, chunk: u64, data: &[u8]) {
        let file_len = (HEADER_LEN as u64).saturating_add(data.len() as u64);
        if !key.pinned || data.len() > key.chunk_size as usize || file_len > self.max_bytes {
            return;
        }
        let path = self.chunk_path(key, chunk);
        if let Err(e) = self.write_chunk(key, chunk, data, &path) {
            if self.warned_put.swap(true, Ordering::Relaxed) {
                log::debug!("disk cache: storing {}: {e}", path.display());
            } else {
                log::warn!(
                    "disk cache: storing {}: {e} (reads go on without it; later \
                     failures are logged at debug level)",
                    path.display()
                );
            }
            return;
        }
        self.stored_bytes
            .fetch_add(data.len() as u64, Ordering::Relaxed);
        let total = self
            .approx_bytes
            .fetch_add(file_len, Ordering::Relaxed)
            .saturating_add(file_len);
        let puts = self.puts_since_scan.fetch_add(1, Ordering::Relaxed) + 1;
        let bytes = self
            .bytes_since_scan
            .fetch_add(file_len, Ordering::Relaxed)
            .saturating_add(file_len);
        if total > self.max_bytes
            || puts >= RESCAN_EVERY_PUTS
            || bytes >= self.max_bytes / RESCAN_EVERY_FRACTION
        {
            self.scan_and_evict();
        }
    }

    /// Writes the temp file and renames it to `path`.
    fn write_chunk(&self, key: &CacheKey, chunk: u64, data: &[u8], path: &Path) -> io::Result<()> {
        let header = encode_header(key, chunk, data);
        let (tmp_path, mut file) = self.create_tmp()?;
        let written = file
            .write_all(&header)
            .and_then(|()| file.write_all(data))
            .and_then(|()| file.flush());
        drop(file);
        let placed = written.and_then(|()| {
            let dir = self.key_dir(key);
            make_dir_all(&dir)?;
            match fs::rename(&tmp_path, path) {
                // Another process's eviction removed the emptied key
                // directory between the two calls: once more.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    make_dir_all(&dir)?;
                    fs::rename(&tmp_path, path)
                }
                other => other,
            }
        });
        if placed.is_err() {
            let _ = fs::remove_file(&tmp_path);
        }
        placed
    }

    /// A new temp file in `DIR/v1/tmp`.
    fn create_tmp(&self) -> io::Result<(PathBuf, File)> {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let mut last = None;
        for _ in 0..4 {
            let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = self
                .tmp
                .join(format!("{}-{n}-{nanos}.tmp", std::process::id()));
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(f) => return Ok((path, f)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
                // The tmp directory was removed under us: make it again.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    make_dir_all(&self.tmp)?;
                    last = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other("no temp file name left")))
    }

    /// What this instance did so far.
    pub fn stats(&self) -> DiskCacheStats {
        DiskCacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            corrupt: self.corrupt.load(Ordering::Relaxed),
            stored_bytes: self.stored_bytes.load(Ordering::Relaxed),
            evicted_bytes: self.evicted_bytes.load(Ordering::Relaxed),
            disk_bytes: self.approx_bytes.load(Ordering::Relaxed),
        }
    }

    /// Removes temp files a crashed writer left behind.
    fn clean_stale_tmp(&self) {
        let Ok(entries) = fs::read_dir(&self.tmp) else {
            return;
        };
        let now = SystemTime::now();
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            let old = meta
                .modified()
                .ok()
                .and_then(|m| now.duration_since(m).ok())
                .is_some_and(|age| age >= STALE_TMP);
            if meta.is_file() && old {
                let path = entry.path();
                match fs::remove_file(&path) {
                    Ok(()) => log::debug!("disk cache: removed stale {}", path.display()),
                    Err(e) => log::debug!("disk cache: removing {}: {e}", path.display()),
                }
            }
        }
    }

    /// Scans the chunk files (all processes'), learns their total size and,
    /// above the bound, removes the least recently used down to 90 % of it.
    /// One thread at a time; others skip (their estimate is close enough).
    fn scan_and_evict(&self) {
        let Some(_guard) = self.scan_lock.try_lock() else {
            return;
        };
        self.puts_since_scan.store(0, Ordering::Relaxed);
        self.bytes_since_scan.store(0, Ordering::Relaxed);
        let mut files = self.scan();
        let mut total: u64 = files.iter().map(|f| f.len).sum();
        if total > self.max_bytes {
            let target = self.max_bytes / 10 * 9;
            files.sort_by(|a, b| a.mtime.cmp(&b.mtime).then_with(|| a.path.cmp(&b.path)));
            for f in &files {
                if total <= target {
                    break;
                }
                match fs::remove_file(&f.path) {
                    Ok(()) => {
                        total = total.saturating_sub(f.len);
                        self.evicted_bytes.fetch_add(f.len, Ordering::Relaxed);
                        if let Some(dir) = f.path.parent() {
                            // Only succeeds once the key directory is empty.
                            let _ = fs::remove_dir(dir);
                        }
                    }
                    // Evicted by another process first.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        total = total.saturating_sub(f.len);
                    }
                    Err(e) => log::debug!("disk cache: evicting {}: {e}", f.path.display()),
                }
            }
        }
        self.approx_bytes.store(total, Ordering::Relaxed);
    }

    /// Every chunk file under `DIR/v1/<kk>/<key>/`, without following
    /// symlinks.
    fn scan(&self) -> Vec<ChunkFile> {
        let mut out = Vec::new();
        for prefix in real_dirs(&self.root) {
            if !is_hex_name(&prefix, 2) {
                continue;
            }
            for key_dir in real_dirs(&prefix) {
                if !is_hex_name(&key_dir, 64) {
                    continue;
                }
                let Ok(entries) = fs::read_dir(&key_dir) else {
                    continue;
                };
                for entry in entries.flatten() {
                    let path = entry.path();
                    if path.extension().is_none_or(|e| e != "chunk") {
                        continue;
                    }
                    // DirEntry::metadata does not follow symlinks.
                    let Ok(meta) = entry.metadata() else { continue };
                    if !meta.is_file() {
                        continue;
                    }
                    out.push(ChunkFile {
                        mtime: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                        len: meta.len(),
                        path,
                    });
                }
            }
        }
        out
    }
}

/// One chunk file seen by a scan.
struct ChunkFile {
    path: PathBuf,
    mtime: SystemTime,
    len: u64,
}

/// The subdirectories of `dir` that are real directories (not symlinks).
fn real_dirs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect()
}

/// True when the last component of `path` is `len` lower-case hex digits.
fn is_hex_name(path: &Path, len: usize) -> bool {
    path.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
        n.len() == len && n.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

/// Why a chunk file was not served.
enum Bad {
    /// Reading failed (the file went away, say): a plain miss.
    Io(io::Error),
    /// The file is not a good chunk: remove it.
    Corrupt(String),
}

/// The header for `data` as chunk `chunk` of `key`.
fn encode_header(key: &CacheKey, chunk: u64, data: &[u8]) -> Vec<u8> {
    let mut tail = Vec::with_capacity(HEADER_LEN - 16);
    tail.extend_from_slice(&chunk.to_le_bytes());
    tail.extend_from_slice(&(data.len() as u64).to_le_bytes());
    tail.extend_from_slice(&key.digest);
    let mut crc = crc32fast::Hasher::new();
    crc.update(&tail);
    crc.update(data);
    let mut header = Vec::with_capacity(HEADER_LEN);
    header.extend_from_slice(&MAGIC);
    header.extend_from_slice(&VERSION.to_le_bytes());
    header.extend_from_slice(&crc.finalize().to_le_bytes());
    header.extend_from_slice(&tail);
    header
}

/// The first `N` bytes of `buf`, and the rest.
fn take<const N: usize>(buf: &mut &[u8]) -> [u8; N] {
    match buf.split_first_chunk::<N>() {
        Some((head, rest)) => {
            *buf = rest;
            *head
        }
        None => [0; N],
    }
}

/// Reads chunk `chunk` of `key` from `file` and checks it. Allocates only
/// `expected_len` (the caller's bound), and only once the file's length
/// matches it.
fn read_verified(
    file: &mut File,
    key: &CacheKey,
    chunk: u64,
    expected_len: usize,
) -> Result<Vec<u8>, Bad> {
    let meta = file.metadata().map_err(Bad::Io)?;
    if !meta.is_file() {
        return Err(Bad::Corrupt("not a regular file".into()));
    }
    let want = (HEADER_LEN as u64).saturating_add(expected_len as u64);
    if meta.len() != want {
        return Err(Bad::Corrupt(format!(
            "{} bytes long, expected {want} (torn write?)",
            meta.len()
        )));
    }
    let mut header = [0u8; HEADER_LEN];
    file.read_exact(&mut header).map_err(Bad::Io)?;
    let mut rest: &[u8] = &header;
    let magic: [u8; 8] = take(&mut rest);
    let version = u32::from_le_bytes(take(&mut rest));
    let crc = u32::from_le_bytes(take(&mut rest));
    let tail = rest;
    let file_chunk = u64::from_le_bytes(take(&mut rest));
    let len = u64::from_le_bytes(take(&mut rest));
    let digest: [u8; 32] = take(&mut rest);
    if magic != MAGIC {
        return Err(Bad::Corrupt("not a chunk file (bad magic)".into()));
    }
    if version != VERSION {
        return Err(Bad::Corrupt(format!("chunk format version {version}")));
    }
    if file_chunk != chunk || digest != key.digest {
        return Err(Bad::Corrupt("holds another chunk (misplaced file)".into()));
    }
    if len != expected_len as u64 {
        return Err(Bad::Corrupt(format!(
            "payload of {len} bytes, expected {expected_len}"
        )));
    }
    let mut data = vec![0u8; expected_len];
    file.read_exact(&mut data).map_err(Bad::Io)?;
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(tail);
    hasher.update(&data);
    if hasher.finalize() != crc {
        return Err(Bad::Corrupt("checksum mismatch".into()));
    }
    Ok(data)
}

/// Opens a chunk file to read it and, on a hit, set its modification time
/// (Windows needs the right to write attributes for that).
fn open_for_read(path: &Path) -> io::Result<File> {
    let mut options = fs::OpenOptions::new();
    options.read(true);
    #[cfg(windows)]
    {
        use std::os::windows::fs::OpenOptionsExt;
        /// `GENERIC_READ | FILE_WRITE_ATTRIBUTES`.
        const ACCESS: u32 = 0x8000_0000 | 0x0100;
        options.access_mode(ACCESS);
    }
    options.open(path)
}

/// Marks a chunk as just used (its modification time is its LRU age), unless
/// it was marked recently.
fn touch(file: &File, path: &Path) {
    let now = SystemTime::now();
    let recent = file
        .metadata()
        .and_then(|m| m.modified())
        .ok()
        .and_then(|m| now.duration_since(m).ok())
        .is_some_and(|age| age < TOUCH_AFTER);
    if !recent && let Err(e) = file.set_modified(now) {
        log::debug!("disk cache: touching {}: {e}", path.display());
    }
}

/// `create_dir_all`, mode 0700 on unix for what it creates.
fn make_dir_all(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// `root` (`dir/v1`) must be a real directory, not a symlink to one.
fn check_layout_dir(root: &Path) -> io::Result<()> {
    if fs::symlink_metadata(root)?.is_dir() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "disk cache: {} is not a directory",
            root.display()
        )))
    }
}

/// `dir` and `root` (`dir/v1`) must belong to the user (the owner of a file
/// just created in `tmp`: std does not tell the uid otherwise); `root` is
/// made 0700 if it is not.
#[cfg(unix)]
fn check_ownership(dir: &Path, root: &Path, tmp: &Path) -> io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let probe = tmp.join(format!("{}-{n}-probe.tmp", std::process::id()));
    let me = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .and_then(|f| f.metadata())
        .map(|m| m.uid());
    let _ = fs::remove_file(&probe);
    let me = me?;
    for d in [dir, root] {
        if fs::metadata(d)?.uid() != me {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "disk cache: {} belongs to another user; a cache directory must be \
                     your own",
                    d.display()
                ),
            ));
        }
    }
    if fs::symlink_metadata(root)?.permissions().mode() & 0o077 != 0 {
        fs::set_permissions(root, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str, etag: Option<&str>, last_modified: Option<&str>) -> CacheKey {
        let meta = ObjectMeta {
            size: 1000,
            etag: etag.map(str::to_owned),
            last_modified: last_modified.map(str::to_owned),
        };
        CacheKey::new(name, &meta, 4096)
    }

    #[test]
    fn hex() {
        assert_eq!(super::super::hex(&[0x00, 0x9f, 0xa0, 0xff]), "009fa0ff");
        let k = key("a", Some("\"e\""), None);
        assert_eq!(k.hex().len(), 64);
        assert!(is_hex_name(Path::new(k.hex()), 64));
        assert!(!is_hex_name(Path::new("tmp"), 2));
        assert!(!is_hex_name(Path::new("AB"), 2));
        assert!(is_hex_name(Path::new("x/ab"), 2));
    }

    #[test]
    fn fields_do_not_run_into_each_other() {
        // The same bytes split differently between name and validator.
        assert_ne!(key("ab", Some("\"c"), None), key("a", Some("b\"c"), None));
        // An ETag is not a date with the same text.
        assert_ne!(key("a", Some("\"x\""), None), key("a", None, Some("\"x\"")));
        // A weak ETag does not pin; the date does.
        assert_eq!(
            key("a", Some("W/\"x\""), Some("d")),
            key("a", None, Some("d"))
        );
    }

    #[test]
    fn header_layout() {
        let k = key("a", Some("\"e\""), None);
        let data = b"payload";
        let h = encode_header(&k, 0x0102_0304_0506_0708, data);
        assert_eq!(h.len(), HEADER_LEN);
        assert_eq!(h.get(..8), Some(&b"ISOMCHK1"[..]));
        assert_eq!(h.get(8..12), Some(&[1, 0, 0, 0][..]));
        assert_eq!(h.get(16..24), Some(&[8, 7, 6, 5, 4, 3, 2, 1][..]));
        assert_eq!(h.get(24..32), Some(&[7, 0, 0, 0, 0, 0, 0, 0][..]));
        assert_eq!(h.get(32..64), Some(&k.digest[..]));
        let mut crc = crc32fast::Hasher::new();
        crc.update(&h[16..]);
        crc.update(data);
        assert_eq!(h.get(12..16), Some(&crc.finalize().to_le_bytes()[..]));
    }

    #[test]
    fn read_back_and_every_header_byte_matters() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c");
        let k = key("a", Some("\"e\""), None);
        let data = vec![5u8; 100];
        let mut good = encode_header(&k, 3, &data);
        good.extend_from_slice(&data);
        fs::write(&path, &good).unwrap();
        let mut f = File::open(&path).unwrap();
        assert_eq!(read_verified(&mut f, &k, 3, 100).ok(), Some(data.clone()));
        for at in 0..HEADER_LEN {
            let mut bad = good.clone();
            bad[at] ^= 1;
            fs::write(&path, &bad).unwrap();
            let mut f = File::open(&path).unwrap();
            assert!(
                matches!(read_verified(&mut f, &k, 3, 100), Err(Bad::Corrupt(_))),
                "byte {at}"
            );
        }
    }
}
