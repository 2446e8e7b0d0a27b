//! Sending range requests: each on its own thread under the request
//! timeout, conditional on the pinned version, handed over a unit at a
//! time as the body arrives, and retried with backoff and jitter from the
//! first unit missing while failures are transient. A changed object is
//! remembered: every later request fails at once.

use std::collections::VecDeque;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::Ordering;
use std::sync::{Arc, mpsc};
use std::time::Duration;

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
    /// Fetches the units of `run` (claims of consecutive units, in order)
    /// with one request, completing each claim as soon as its bytes are in
    /// (a reader waiting for the first chunk of a batch does not wait for
    /// the whole batch). A transient failure part-way is retried, with
    /// backoff, from the first unit not yet complete. Returns the parts by
    /// unit index, or the error every claim left was given.
    pub(super) fn fetch_run(
        &self,
        run: Vec<Claim<'_>>,
        prio: Priority,
    ) -> Result<Vec<Part>, FetchError> {
        let mut parts = Vec::with_capacity(run.len());
        let mut rest: VecDeque<Claim<'_>> = run.into();
        let mut attempt = 0;
        while !rest.is_empty() {
            let result = match self.changed() {
                Some(e) => Err(e),
                None => self.stream_once(&mut rest, &mut parts, prio),
            };
            match result {
                Ok(()) => {}
                Err(e) if e.is_retryable() && attempt < self.opts.retries => {
                    self.stats.retries.fetch_add(1, Ordering::Relaxed);
                    log::debug!("{e}; retrying");
                    let n = self.jitter_count.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(backoff(&self.opts, attempt, &self.jitter, n));
                    attempt += 1;
                }
                Err(e) => {
                    self.give_up(&e);
                    for c in rest {
                        c.complete(Err(e.clone()));
                    }
                    return Err(e);
                }
            }
        }
        Ok(parts)
    }

    /// Counts and logs a request given up on; a changed object is
    /// remembered, so that every later request fails at once.
    fn give_up(&self, e: &FetchError) {
        if let FetchError::Changed { .. } = e {
            let mut changed = self.changed.lock();
            if changed.is_some() {
                // Remembered, counted and logged already.
                return;
            }
            log::error!("{e}; reads of data not cached yet fail from now on");
            *changed = Some(e.clone());
        } else {
            log::warn!("{e}");
        }
        self.stats.failures.fetch_add(1, Ordering::Relaxed);
    }

    /// The error every request fails with once the object has changed.
    pub(super) fn changed(&self) -> Option<FetchError> {
        self.changed.lock().clone()
    }

    /// One request for the units of `rest`, sent and read on a thread of
    /// its own, which hands each unit over as its bytes arrive (into a
    /// pooled buffer, [`BufferPool`]); each is completed and moved from
    /// `rest` to `parts`. Waiting longer than the request timeout for the
    /// next unit counts as a stall: the request is given up on (its thread
    /// keeps its place among the requests in flight until the fetcher
    /// returns).
    fn stream_once(
        &self,
        rest: &mut VecDeque<Claim<'_>>,
        parts: &mut Vec<Part>,
        prio: Priority,
    ) -> Result<(), FetchError> {
        let fatal = |detail: &str| FetchError::Fatal {
            name: self.name().to_string(),
            detail: detail.to_owned(),
        };
        let Some(first) = rest.front() else {
            return Ok(());
        };
        let start = self.span(first.unit).0;
        let lens = rest
            .iter()
            .map(|c| usize::try_from(self.span(c.unit).1))
            .collect::<Result<Vec<usize>, _>>()
            .map_err(|_| fatal("a unit larger than memory"))?;
        let total = lens.iter().map(|&l| l as u64).sum::<u64>();

        let permit = self.permits.acquire(prio);
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        // Room for every unit: the thread never blocks on a reader that
        // gave up.
        let (tx, rx) = mpsc::sync_channel(lens.len() + 1);
        let fetcher = Arc::clone(&self.fetcher);
        let meta = Arc::clone(&self.meta);
        let pool = Arc::clone(&self.buffers);
        let spawned = std::thread::Builder::new()
            .name("isomount-fetch".into())
            .spawn(move || {
                let result = fetcher
                    .fetch_stream(start, total, &meta)
                    .and_then(|mut body| {
                        for len in lens {
                            let mut buf = pool.take(len);
                            body.read_next(&mut buf)?;
                            if tx.send(Ok(buf)).is_err() {
                                break;
                            }
                        }
                        Ok(())
                    });
                drop(permit);
                if let Err(e) = result {
                    let _ = tx.send(Err(e));
                }
            });
        if let Err(e) = spawned {
            return Err(FetchError::Transient {
                name: self.name().to_string(),
                detail: format!("no thread for the request: {e}"),
            });
        }
        while let Some(claim) = rest.front() {
            let buf = match rx.recv_timeout(self.opts.request_timeout) {
                Ok(Ok(buf)) => buf,
                Ok(Err(e)) => return Err(e),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let (at, _) = self.span(claim.unit);
                    return Err(FetchError::Transient {
                        name: self.name().to_string(),
                        detail: format!(
                            "no answer within {:?} for the bytes at {at} of a request of \
                             {total} from byte {start}",
                            self.opts.request_timeout
                        ),
                    });
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(fatal("the request thread failed"));
                }
            };
            self.stats
                .bytes_fetched
                .fetch_add(buf.len() as u64, Ordering::Relaxed);
            let data = BufferPool::share(&self.buffers, buf);
            if let Some(claim) = rest.pop_front() {
                parts.push((claim.unit.index, data.clone()));
                claim.complete(Ok(data));
            }
        }
        Ok(())
    }
}
