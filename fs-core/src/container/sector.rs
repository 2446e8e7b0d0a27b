//! Raw CD sectors seen as 2048-byte logical sectors.
//!
//! A CD-ROM sector is 2352 bytes on the disc (ECMA-130 14, "Yellow Book"):
//! 12 sync bytes (00 FF×10 00), a 4-byte header (address as BCD minutes,
//! seconds, frames; mode byte), then for Mode 1 2048 bytes of user data, EDC
//! and ECC; for Mode 2 Form 1 (CD-ROM XA) an 8-byte subheader comes before the
//! 2048 user bytes. Images that store 2336 bytes per sector drop sync and
//! header (the subheader is first). [`SectorMap`] serves only the user data,
//! contiguous, so the format readers above it see a plain image.

use std::io;
use std::sync::Arc;

use crate::bytes::copy_prefix;
use crate::source::{ReadAt, clip};

/// Logical (user data) sector size.
pub(crate) const USER: u64 = 2048;
/// The 12-byte sync pattern at the start of every raw data sector (ECMA-130 14.1).
pub(crate) const SYNC: [u8; 12] = [
    0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0,
];
/// Raw sectors read per underlying read call when a request spans many sectors.
const BATCH: u64 = 32;

/// How one track stores its sectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackMode {
    /// CD-DA audio, 2352 bytes per sector, no user data.
    Audio,
    /// Mode 1 user data only, 2048 bytes per sector.
    Mode1Cooked,
    /// Mode 1 raw, 2352 bytes per sector, data at +16.
    Mode1Raw,
    /// Mode 2 (XA Form 1) raw, 2352 bytes per sector, data at +24.
    Mode2Raw,
    /// Mode 2 without sync and header, 2336 bytes per sector, data at +8.
    Mode2Headerless,
    /// Mode 2 Form 1 user data only, 2048 bytes per sector.
    Mode2Cooked,
    /// Mode 1 raw with 96 bytes of subchannel after each sector (2448 bytes, data at +16).
    Mode1RawSub,
    /// Mode 2 raw with 96 bytes of subchannel after each sector (2448 bytes, data at +24).
    Mode2RawSub,
}

impl TrackMode {
    /// Bytes per sector in the image file.
    pub fn sector_size(self) -> u64 {
        match self {
            TrackMode::Audio | TrackMode::Mode1Raw | TrackMode::Mode2Raw => 2352,
            TrackMode::Mode2Headerless => 2336,
            TrackMode::Mode1Cooked | TrackMode::Mode2Cooked => 2048,
            TrackMode::Mode1RawSub | TrackMode::Mode2RawSub => 2448,
        }
    }

    /// Offset of the 2048 user bytes inside a sector; `None` for audio.
    pub fn data_offset(self) -> Option<u64> {
        match self {
            TrackMode::Audio => None,
            TrackMode::Mode1Raw | TrackMode::Mode1RawSub => Some(16),
            TrackMode::Mode2Raw | TrackMode::Mode2RawSub => Some(24),
            TrackMode::Mode2Headerless => Some(8),
            TrackMode::Mode1Cooked | TrackMode::Mode2Cooked => Some(0),
        }
    }

    /// The cue-sheet spelling, e.g. "MODE1/2352".
    pub fn name(self) -> &'static str {
        match self {
            TrackMode::Audio => "AUDIO",
            TrackMode::Mode1Cooked => "MODE1/2048",
            TrackMode::Mode1Raw => "MODE1/2352",
            TrackMode::Mode2Raw => "MODE2/2352",
            TrackMode::Mode2Headerless => "MODE2/2336",
            TrackMode::Mode2Cooked => "MODE2/2048",
            TrackMode::Mode1RawSub => "MODE1/2448",
            TrackMode::Mode2RawSub => "MODE2/2448",
        }
    }
}

/// A data track seen as contiguous 2048-byte sectors from offset 0.
pub(crate) struct SectorMap {
    inner: Arc<dyn ReadAt>,
    /// Byte offset of the track's first sector in `inner`.
    start: u64,
    raw: u64,
    data_off: u64,
    sectors: u64,
}

impl SectorMap {
    /// Maps `sectors` sectors of `mode` starting at byte `start` of `inner`
    /// (fewer when the file ends first). `None` for audio.
    pub fn new(inner: Arc<dyn ReadAt>, start: u64, mode: TrackMode, sectors: u64) -> Option<Self> {
        let data_off = mode.data_offset()?;
        let raw = mode.sector_size();
        let avail = inner.len().saturating_sub(start) / raw;
        Some(SectorMap {
            inner,
            start,
            raw,
            data_off,
            sectors: sectors.min(avail),
        })
    }
}

impl ReadAt for SectorMap {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let buf = clip(buf, offset, self.len());
        if buf.is_empty() {
            return Ok(0);
        }
        if self.raw == USER {
            return self.inner.read_at(self.start + offset, buf);
        }
        let (raw, data_off, user_len) = (self.raw as usize, self.data_off as usize, USER as usize);
        let mut done = 0usize;
        let mut scratch = Vec::new();
        while let Some(rest) = buf.get_mut(done..).filter(|r| !r.is_empty()) {
            let pos = offset + done as u64;
            let first = pos / USER;
            let last = (pos + rest.len() as u64 - 1) / USER;
            let count = (last - first + 1).min(BATCH);
            // Read whole raw sectors in one call (the last one only up to the
            // end of its user data), then copy each user area.
            let span = ((count - 1) * self.raw + self.data_off + USER) as usize;
            scratch.resize(span, 0);
            self.inner
                .read_exact_at(self.start + first * self.raw, &mut scratch)?;
            let before = done;
            let mut from = (pos % USER) as usize;
            for sector in scratch.chunks(raw) {
                let user = sector.get(data_off + from..data_off + user_len);
                let Some(out) = buf.get_mut(done..).filter(|o| !o.is_empty()) else {
                    break;
                };
                done += copy_prefix(out, user.unwrap_or_default());
                from = 0;
            }
            if done == before {
                break;
            }
        }
        Ok(done)
    }

    fn len(&self) -> u64 {
        self.sectors * USER
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::MemSource;

    fn raw_image(mode: TrackMode, sectors: u64, lead: usize) -> (Vec<u8>, Vec<u8>) {
        let mut img = vec![0xEEu8; lead];
        let mut user = Vec::new();
        for s in 0..sectors {
            let mut sec = vec![0xAAu8; mode.sector_size() as usize];
            let off = mode.data_offset().unwrap() as usize;
            for i in 0..2048 {
                sec[off + i] = (s as usize * 7 + i) as u8;
            }
            user.extend_from_slice(&sec[off..off + 2048]);
            img.extend_from_slice(&sec);
        }
        (img, user)
    }

    #[test]
    fn every_mode_reads_back_its_user_data_at_any_offset() {
        for mode in [
            TrackMode::Mode1Raw,
            TrackMode::Mode2Raw,
            TrackMode::Mode2Headerless,
            TrackMode::Mode1Cooked,
            TrackMode::Mode1RawSub,
            TrackMode::Mode2RawSub,
        ] {
            let (img, user) = raw_image(mode, 70, 100);
            let map = SectorMap::new(Arc::new(MemSource::new(img)), 100, mode, 70).unwrap();
            assert_eq!(map.len(), user.len() as u64);
            for (off, n) in [
                (0u64, 2048usize),
                (5, 10),
                (2040, 100),
                (3000, 2048 * 40 + 7),
                (0, 70 * 2048),
            ] {
                let mut buf = vec![0; n];
                map.read_exact_at(off, &mut buf).unwrap();
                assert_eq!(
                    buf,
                    &user[off as usize..off as usize + n],
                    "{mode:?} {off} {n}"
                );
            }
            let mut buf = vec![0; 4096];
            assert_eq!(map.read_at(69 * 2048 + 100, &mut buf).unwrap(), 2048 - 100);
            assert_eq!(map.read_at(70 * 2048, &mut buf).unwrap(), 0);
        }
    }

    #[test]
    fn a_short_file_limits_the_sector_count_and_audio_has_no_view() {
        let (img, _) = raw_image(TrackMode::Mode1Raw, 3, 0);
        let map = SectorMap::new(
            Arc::new(MemSource::new(img.clone())),
            0,
            TrackMode::Mode1Raw,
            1000,
        )
        .unwrap();
        assert_eq!(map.len(), 3 * 2048);
        assert!(SectorMap::new(Arc::new(MemSource::new(img)), 0, TrackMode::Audio, 3).is_none());
    }

    #[test]
    fn reads_past_the_end_and_empty_buffers_are_short() {
        let (img, user) = raw_image(TrackMode::Mode2Raw, 2, 0);
        let map = SectorMap::new(Arc::new(MemSource::new(img)), 0, TrackMode::Mode2Raw, 2).unwrap();
        let mut buf = vec![0; 5000];
        assert_eq!(map.read_at(4000, &mut buf).unwrap(), 96);
        assert_eq!(buf[..96], user[4000..]);
        assert_eq!(map.read_at(u64::MAX, &mut buf).unwrap(), 0);
        assert_eq!(map.read_at(0, &mut []).unwrap(), 0);
    }
}
