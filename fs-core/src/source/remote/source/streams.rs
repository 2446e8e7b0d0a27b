//! Telling sequential readers apart: up to [`STREAMS`] access streams, each
//! the position where its last read ended and how long it has read in
//! sequence, so read-ahead follows several files read at once (a FUSE
//! mount's readers) and a lone metadata read is not mistaken for a run.

use super::Inner;

/// How many access streams are told apart for read-ahead.
pub(super) const STREAMS: usize = 8;

#[derive(Clone, Copy, Default)]
pub(super) struct Stream {
    /// Where the last read of this stream ended.
    next: u64,
    /// Bytes read in sequence so far.
    run: u64,
    /// When it was last used (for replacement).
    tick: u64,
}

#[derive(Default)]
pub(super) struct Streams {
    slots: [Option<Stream>; STREAMS],
    tick: u64,
}

impl Inner {
    /// Notes a read of `len` bytes at `offset`; returns how many bytes its
    /// stream had read in sequence before it.
    pub(super) fn observe(&self, offset: u64, len: u64) -> u64 {
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
}
