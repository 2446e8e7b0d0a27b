//! One request per unit: the first thread to miss a chunk or piece claims
//! it ([`Claim`]) and fetches it; threads that miss it meanwhile wait on its
//! [`Slot`] and share the answer, the failure included.

use std::collections::HashMap;
use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::{Condvar, Mutex};

use super::super::fetch::FetchError;
use super::request::BACKOFF_CAP;
use super::{Inner, Unit};

pub(super) type Answer = Result<Bytes, FetchError>;

/// One request in flight: whoever wants the same unit waits here.
pub(super) struct Slot {
    answer: Mutex<Option<Answer>>,
    done: Condvar,
}

/// One unit's bytes out of a multi-unit answer: (unit index, data).
pub(super) type Part = (u64, Bytes);

/// What a lookup found for one unit.
pub(super) enum Found {
    Ready(Bytes),
    Wait(Arc<Slot>),
    Missing,
}

/// This thread's duty to fetch one unit: completing it (or dropping it)
/// wakes everyone waiting for that unit.
pub(super) struct Claim<'a> {
    pub(super) inner: &'a Inner,
    pub(super) unit: Unit,
    pub(super) slot: Arc<Slot>,
    pub(super) done: bool,
}

impl Claim<'_> {
    pub(super) fn complete(mut self, answer: Answer) {
        self.finish(answer);
    }

    pub(super) fn finish(&mut self, answer: Answer) {
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
            self.inner.remember(self.unit, data.clone());
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

impl Inner {
    /// Looks `unit` up in memory and among the requests in flight; the
    /// caller holds the in-flight lock (taken before the memory lock).
    pub(super) fn find(&self, unit: Unit, in_flight: &HashMap<Unit, Arc<Slot>>) -> Found {
        if let Some(data) = self.memory.lock().lru.get(&unit) {
            self.stats.memory_hits.fetch_add(1, Ordering::Relaxed);
            return Found::Ready(data.clone());
        }
        match in_flight.get(&unit) {
            Some(slot) => Found::Wait(Arc::clone(slot)),
            None => Found::Missing,
        }
    }

    /// Memory, then in flight, then disk; or the duty to fetch it.
    pub(super) fn lookup(&self, unit: Unit) -> Result<Found, Claim<'_>> {
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

    /// Waits for another thread's request. That request is bounded by the
    /// request timeout and the retries; past that bound (plus a margin)
    /// this read gives up rather than hang.
    pub(super) fn wait(&self, slot: &Slot) -> io::Result<Bytes> {
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
}
