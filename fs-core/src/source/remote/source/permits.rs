//! The bound on requests in flight ([`RemoteOptions::max_in_flight`]),
//! with one place kept for foreground reads: read-ahead never takes the
//! last place, and waiting foreground reads are served first.
//!
//! [`RemoteOptions::max_in_flight`]: super::RemoteOptions::max_in_flight

use std::sync::Arc;

use parking_lot::{Condvar, Mutex};

/// Whether a request may take the place kept for foreground reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Priority {
    Foreground,
    Background,
}

#[derive(Default)]
pub(super) struct Permits {
    in_use: usize,
    foreground_waiting: usize,
}

/// The bound on requests in flight, with one place kept for foreground
/// reads and foreground waiters served first.
pub(super) struct Semaphore {
    max: usize,
    state: Mutex<Permits>,
    freed: Condvar,
}

/// Holds one place among the requests in flight until dropped (it may move
/// to the thread that carries the request).
pub(super) struct Permit {
    sem: Arc<Semaphore>,
}

impl Semaphore {
    /// At most `max` requests in flight.
    pub(super) fn new(max: usize) -> Arc<Semaphore> {
        Arc::new(Semaphore {
            max,
            state: Mutex::new(Permits::default()),
            freed: Condvar::new(),
        })
    }

    pub(super) fn acquire(self: &Arc<Self>, prio: Priority) -> Permit {
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
