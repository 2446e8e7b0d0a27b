//! Read-ahead: chunks queued after a sequential read, fetched by worker
//! threads in runs of consecutive chunks (one request per run), never
//! taking the place kept for foreground reads.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use super::inflight::Claim;
use super::permits::Priority;
use super::{Inner, Unit};

#[derive(Default)]
pub(super) struct Prefetch {
    pub(super) queue: VecDeque<u64>,
    pub(super) queued: HashSet<u64>,
    pub(super) shutdown: bool,
}

impl Inner {
    /// Chunks one read-ahead request carries at most: a quarter of the
    /// window (16 at most), so that three batches are ahead of the reader
    /// while the fourth is fetched.
    pub(super) fn batch(&self) -> u64 {
        u64::from(self.opts.readahead / 4).clamp(1, 16)
    }

    /// Queues chunks `from .. from + count` (those past the end, cached,
    /// coming or queued already are left out) for the read-ahead workers,
    /// once at least `min_run` of them are missing. A window that moves a
    /// chunk per read would otherwise send one chunk per request, however
    /// large the batches the workers may send.
    pub(super) fn read_ahead(&self, from: u64, count: u64, min_run: u64) {
        let chunks = self.meta.size.div_ceil(1u64 << self.chunk_shift);
        let cap = usize::try_from(self.opts.readahead)
            .unwrap_or(usize::MAX)
            .saturating_mul(2)
            .max(8);
        let absent: Vec<u64> = (from..from.saturating_add(count).min(chunks))
            .filter(|&i| {
                !self.held_or_in_flight(Unit {
                    shift: self.chunk_shift,
                    index: i,
                })
            })
            .collect();
        let mut queued = false;
        {
            // One lock for the queue check and the queueing.
            let mut p = self.prefetch.lock();
            let missing: Vec<u64> = absent
                .into_iter()
                .filter(|i| !p.queued.contains(i))
                .collect();
            if (missing.len() as u64) < min_run {
                return;
            }
            for i in missing {
                if p.queue.len() >= cap {
                    break;
                }
                if p.queued.insert(i) {
                    p.queue.push_back(i);
                    queued = true;
                }
            }
        }
        if queued {
            self.prefetch_ready.notify_all();
        }
    }

    /// True when `unit` is in memory or a request for it is in flight:
    /// read-ahead leaves it alone.
    pub(super) fn held_or_in_flight(&self, unit: Unit) -> bool {
        let map = self.in_flight.lock();
        map.contains_key(&unit) || self.memory.lock().lru.contains(&unit)
    }

    pub(super) fn prefetch_worker(self: Arc<Self>) {
        // Consecutive chunks queued together go out as one request.
        let batch = usize::try_from(self.batch()).unwrap_or(1);
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
}
