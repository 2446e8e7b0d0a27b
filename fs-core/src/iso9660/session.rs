//! Sessions of a multisession image on overwritable media (an image file).
//!
//! A plain file has no table of contents. When xorriso (libisoburn) appends
//! sessions to an image file it emulates one: the first session starts at
//! LBA 32 (not 0), every session is written with its own copy of the system
//! area and volume descriptor set (its primary volume descriptor at
//! `start + 16`, its volume space size counting the session's own blocks),
//! the next session starts at the following multiple of 32 blocks, and the
//! descriptor set at LBA 16 is overwritten with the newest session's (so an
//! ordinary reader sees the last session). `xorriso -indev IMG -toc` lists
//! the sessions found by that walk; we do the same walk:
//!
//! 1. if LBA 32 + 16 holds a primary volume descriptor (ECMA-119 8.4),
//!    sessions are chained from LBA 32: session `k + 1` starts at
//!    `round_up(start_k + size_k, 32)` while a primary volume descriptor is
//!    found at `start + 16`;
//! 2. otherwise the image has one session, at LBA 0.
//!
//! An image first written in one go (`xorriso -as mkisofs -o`) and then
//! appended to has lost its first session's descriptors (they were at 16);
//! like xorriso we then show one session.

use crate::error::{Error, Result};
use crate::source::ReadAt;

use crate::bytes::u32_le;

/// Sessions looked for at most.
pub(crate) const MAX_SESSIONS: usize = 1024;
/// Session starts are aligned to this many blocks.
const ALIGN: u64 = 32;

/// One session: its start LBA and its size in blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Session {
    /// First block of the session (its descriptors are at `start + 16`).
    pub start: u64,
    /// Volume space size the session's primary volume descriptor declares.
    pub blocks: u64,
}

/// The volume space size of the primary volume descriptor at `lba`, or
/// `None` when there is none.
fn pvd_blocks(src: &dyn ReadAt, lba: u64) -> Result<Option<u64>> {
    let Some(off) = lba.checked_mul(2048) else {
        return Ok(None);
    };
    if off.checked_add(2048).is_none_or(|e| e > src.len()) {
        return Ok(None);
    }
    let mut buf = vec![0u8; 2048];
    src.read_exact_at(off, &mut buf)
        .map_err(|e| Error::io(off, 2048, e))?;
    // Type 1, "CD001" (ECMA-119 8.4.1-8.4.2); volume space size, LE half at BP 81 (8.4.8).
    if buf.first() != Some(&1) || buf.get(1..6) != Some(b"CD001") {
        return Ok(None);
    }
    Ok(u32_le(&buf, 80).map(u64::from))
}

/// The sessions of the image, oldest first (at least one when LBA 16
/// holds a primary volume descriptor).
pub(crate) fn find(src: &dyn ReadAt) -> Result<Vec<Session>> {
    let mut out = Vec::new();
    let mut start = ALIGN;
    while out.len() < MAX_SESSIONS {
        let Some(blocks) = pvd_blocks(src, start + 16)? else {
            break;
        };
        out.push(Session { start, blocks });
        // xorriso's per-session copies count the session's own blocks; a
        // session written with `-as mkisofs -C a,b` counts from LBA 0.
        let relative = (start + blocks.max(1)).div_ceil(ALIGN) * ALIGN;
        let absolute = blocks.div_ceil(ALIGN) * ALIGN;
        let next = if pvd_blocks(src, relative + 16)?.is_some() || absolute <= start {
            relative
        } else {
            absolute
        };
        if next <= start {
            break;
        }
        start = next;
    }
    if out.is_empty() {
        if let Some(blocks) = pvd_blocks(src, 16)? {
            out.push(Session { start: 0, blocks });
        }
    }
    Ok(out)
}

/// `"3 (start LBAs 32, 64, 96); showing 3"` for `info`.
pub(crate) fn summary(sessions: &[Session], shown: usize) -> String {
    let starts: Vec<String> = sessions.iter().map(|s| s.start.to_string()).collect();
    format!(
        "{} (start LBAs {}); showing {shown}",
        sessions.len(),
        starts.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::MemSource;

    fn pvd(size: u32) -> Vec<u8> {
        let mut s = vec![0u8; 2048];
        s[0] = 1;
        s[1..6].copy_from_slice(b"CD001");
        s[80..84].copy_from_slice(&size.to_le_bytes());
        s
    }

    fn put(img: &mut Vec<u8>, lba: usize, sector: &[u8]) {
        if img.len() < (lba + 1) * 2048 {
            img.resize((lba + 1) * 2048, 0);
        }
        img[lba * 2048..(lba + 1) * 2048].copy_from_slice(sector);
    }

    #[test]
    fn chain_from_32() {
        let mut img = Vec::new();
        put(&mut img, 16, &pvd(121));
        put(&mut img, 48, &pvd(26));
        put(&mut img, 80, &pvd(25));
        put(&mut img, 112, &pvd(25));
        img.resize(121 * 2048, 0);
        let s = find(&MemSource::new(img)).unwrap();
        let starts: Vec<u64> = s.iter().map(|s| s.start).collect();
        assert_eq!(starts, [32, 64, 96]);
        assert_eq!(summary(&s, 3), "3 (start LBAs 32, 64, 96); showing 3");
    }

    #[test]
    fn absolute_sizes() {
        // Sessions written growisofs-style (`-C start,...`) declare their
        // end as an absolute block number.
        let mut img = Vec::new();
        put(&mut img, 16, &pvd(90));
        put(&mut img, 48, &pvd(50));
        put(&mut img, 80, &pvd(90));
        img.resize(200 * 2048, 0);
        let s = find(&MemSource::new(img)).unwrap();
        let starts: Vec<u64> = s.iter().map(|s| s.start).collect();
        assert_eq!(starts, [32, 64]);
    }

    #[test]
    fn single_session() {
        let mut img = Vec::new();
        put(&mut img, 16, &pvd(40));
        img.resize(40 * 2048, 0);
        let s = find(&MemSource::new(img)).unwrap();
        assert_eq!(
            s,
            [Session {
                start: 0,
                blocks: 40
            }]
        );
        assert!(find(&MemSource::new(vec![0u8; 100])).unwrap().is_empty());
    }

    #[test]
    fn zero_sizes_do_not_loop() {
        let mut img = Vec::new();
        put(&mut img, 16, &pvd(0));
        for lba in (48..2048).step_by(32) {
            put(&mut img, lba, &pvd(0));
        }
        let s = find(&MemSource::new(img)).unwrap();
        assert!(s.len() <= MAX_SESSIONS);
        assert!(s.windows(2).all(|w| w[0].start < w[1].start));
    }

    #[test]
    fn lba_past_the_end_or_overflowing() {
        let mut img = Vec::new();
        put(&mut img, 16, &pvd(40));
        let src = MemSource::new(img);
        assert_eq!(pvd_blocks(&src, 16).unwrap(), Some(40));
        assert_eq!(pvd_blocks(&src, 17).unwrap(), None);
        assert_eq!(pvd_blocks(&src, u64::MAX / 2048).unwrap(), None);
        assert_eq!(pvd_blocks(&src, u64::MAX).unwrap(), None);
    }
}
