//! Sending range requests: each on its own thread under the request
//! timeout, conditional on the pinned version, checked for its full
//! length, and retried with backoff and jitter while failures are
//! transient. A changed object is remembered: every later request fails
//! at once.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::Ordering;
use std::sync::{Arc, mpsc};
use std::time::Duration;

use bytes::Bytes;

use super::super::fetch::FetchError;
use super::buffers::BufferPool;
use super::inflight::{Claim, Part};
use super::permits::Priority;
use super::{Inner, RemoteOptions};

/// The longest backoff between two attempts.
pub(super) const BACKOFF_CAP: Duration = Duration::from_secs(5);

/// The pause before attempt `attempt + 1`: `retry_base * 2^attempt`, at
/// most [`BACKOFF_CAP`], times a random factor in `[0.5, 1)`.
pub(super) fn backoff(
    opts: &RemoteOptions,
    attempt: u32,
    jitter: &RandomState,
    n: u64,
) -> Duration {
    let full = opts
        .retry_base
        .saturating_mul(1u32 << attempt.min(16))
        .min(BACKOFF_CAP);
    let r = jitter.hash_one(n) % 1024;
    full.mul_f64(0.5 + r as f64 / 2048.0)
}

impl Inner {
    /// Fetches the bytes of `run` (claims of consecutive units, in order)
    /// with one request and completes each claim with its part; returns
    /// the parts by unit index, or the error every claim was given.
    pub(super) fn fetch_run(
        &self,
        run: Vec<Claim<'_>>,
        prio: Priority,
    ) -> Result<Vec<Part>, FetchError> {
        let (Some(first), Some(last)) = (run.first(), run.last()) else {
            return Ok(Vec::new());
        };
        let start = self.span(first.unit).0;
        let (last_start, last_len) = self.span(last.unit);
        match self.fetch(start, last_start + last_len - start, prio) {
            Ok(bytes) => {
                // Each claim gets its part of the one answer without a copy.
                let mut parts = Vec::with_capacity(run.len());
                for c in run {
                    let (s, l) = self.span(c.unit);
                    let part = usize::try_from(s - start)
                        .ok()
                        .zip(usize::try_from(l).ok())
                        .filter(|&(a, l)| a.checked_add(l).is_some_and(|end| end <= bytes.len()))
                        .map(|(a, l)| bytes.slice(a..a + l))
                        .ok_or_else(|| FetchError::Fatal {
                            name: self.name().to_string(),
                            detail: "a range outside the answer".into(),
                        });
                    if let Ok(data) = &part {
                        parts.push((c.unit.index, data.clone()));
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

    /// The error every request fails with once the object has changed.
    pub(super) fn changed(&self) -> Option<FetchError> {
        self.changed.lock().clone()
    }

    /// Bytes `start .. start + len`, retried with backoff while the
    /// failures are transient; exactly `len` bytes or an error. The bytes
    /// live in a pooled buffer ([`BufferPool`]).
    pub(super) fn fetch(&self, start: u64, len: u64, prio: Priority) -> Result<Bytes, FetchError> {
        let len_usize = usize::try_from(len).map_err(|_| FetchError::Fatal {
            name: self.name().to_string(),
            detail: format!("a range of {len} bytes does not fit in memory"),
        })?;
        let mut attempt = 0;
        loop {
            if let Some(e) = self.changed() {
                return Err(e);
            }
            let buf = self.buffers.take(len_usize);
            match self.fetch_once(start, buf, prio) {
                Ok(buf) => {
                    self.stats.bytes_fetched.fetch_add(len, Ordering::Relaxed);
                    return Ok(BufferPool::share(&self.buffers, buf));
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

    /// One request filling `buf`, on its own thread so that a stall past
    /// the request timeout can be given up on (the thread keeps its place
    /// among the requests in flight until the fetcher returns; the buffer
    /// goes with it).
    pub(super) fn fetch_once(
        &self,
        start: u64,
        mut buf: Vec<u8>,
        prio: Priority,
    ) -> Result<Vec<u8>, FetchError> {
        let len = buf.len();
        let permit = self.permits.acquire(prio);
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::sync_channel(1);
        let fetcher = Arc::clone(&self.fetcher);
        let meta = Arc::clone(&self.meta);
        let spawned = std::thread::Builder::new()
            .name("isomount-fetch".into())
            .spawn(move || {
                let r = fetcher.fetch_into(start, &mut buf, &meta).map(|()| buf);
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
