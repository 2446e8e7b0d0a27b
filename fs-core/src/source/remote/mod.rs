//! Images read where they lie: HTTP(S) URLs and S3 objects (feature
//! `remote`).
//!
//! A [`RangeFetcher`] knows one store's protocol (`http`, `s3`); the
//! `RemoteSource` on top of it is a [`ReadAt`](super::ReadAt) like any
//! other: it fetches large aligned chunks, coalesces concurrent misses of
//! one chunk into one request, reads ahead on sequential access, bounds the
//! requests in flight, retries transient failures with backoff, pins the
//! object's version when it is opened, and keeps chunks in memory and,
//! optionally, in a persistent `DiskCache` shared between processes.
//! Everything is synchronous: no async runtime reaches the `Volume` API or
//! the FUSE and WinFsp callbacks.

mod fetch;

pub use fetch::{FetchError, ObjectMeta, RangeBody, RangeFetcher};

mod aws_config;
mod disk;
mod http;
mod s3;

pub use aws_config::{S3Config, S3Credentials};
pub use disk::{CacheKey, DiskCache, DiskCacheStats};
pub use http::{HttpFetcher, HttpOptions};
pub use s3::S3Fetcher;

mod source;

pub use source::{
    DEFAULT_CHUNK_SIZE, DEFAULT_READAHEAD, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE, PIECE_SIZE,
    READAHEAD_LANES, RemoteOptions, RemoteSource, RemoteStats,
};

/// Lower-case hex of `bytes` (cache keys, SigV4 signatures).
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        for nibble in [b >> 4, b & 0xf] {
            s.push(char::from(
                *DIGITS.get(usize::from(nibble)).unwrap_or(&b'0'),
            ));
        }
    }
    s
}
