//! Data tracks whose ISO 9660 addresses count from the start of the disc.
//!
//! A data track that is not the first on the disc (CD-Extra / Enhanced CD,
//! whose data sits in a second session after the audio) is mastered for its
//! place on the disc: every extent location in its volume descriptors and
//! directories (ECMA-119 6.2.1, 9.1.3) is an absolute disc address, so its
//! root directory lies at "track start + k", beyond the track when seen from
//! sector 0. Rips (BIN/CUE, NRG, ...) store only the track and the gap before
//! it (session lead-out/lead-in: 11 400 sectors) is not in the file, so the
//! track start `D` is found from the content: the sector `L - D` of the track
//! must hold the root directory whose "." record (ECMA-119 6.8.2.2) names
//! extent `L` again. [`Shifted`] then serves the track at sectors `D..`, and
//! its first sectors also at `0..` so the volume descriptors stay at 16.

use std::io;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::source::{ReadAt, clip};

use super::sector::USER;
use crate::bytes::array_at;

/// Most track sectors searched for the root directory.
const MAX_SEARCH: u64 = 4096;

/// Sector `s` of the track; `None` when the track ends before it does.
fn sector(src: &dyn ReadAt, s: u64) -> Result<Option<Vec<u8>>> {
    let Some(at) = s
        .checked_mul(USER)
        .filter(|at| src.len().saturating_sub(*at) >= USER)
    else {
        return Ok(None);
    };
    let mut b = vec![0; USER as usize];
    src.read_exact_at(at, &mut b)
        .map_err(|e| Error::io(at, b.len(), e))?;
    Ok(Some(b))
}

/// The little-endian u32 at `at` (ECMA-119 7.3.1), `None` past the end.
fn le32(b: &[u8], at: usize) -> Option<u64> {
    array_at(b, at).map(|a| u64::from(u32::from_le_bytes(a)))
}

/// True when `sec` starts with a "." directory record whose extent is `lba`:
/// record length (at least 34), the extent location in both byte orders
/// (ECMA-119 9.1.3, 7.3.3) and a one-byte identifier 0 (6.8.2.2).
fn is_root_at(sec: &[u8], lba: u64) -> bool {
    let extent_be = array_at(sec, 6).map(|a| u64::from(u32::from_be_bytes(a)));
    sec.first().is_some_and(|&len| len >= 34)
        && sec.get(32..34) == Some(&[1, 0][..])
        && le32(sec, 2) == Some(lba)
        && extent_be == Some(lba)
}

/// The disc address of the track's first sector when its ISO 9660 volume
/// uses disc addresses; `None` when it counts from the track (the usual case)
/// or has no ISO 9660 volume descriptor.
pub(crate) fn disc_address(track: &dyn ReadAt) -> Result<Option<u64>> {
    let Some(pvd) = sector(track, 16)? else {
        return Ok(None);
    };
    // Type 1, "CD001" (ECMA-119 8.4.1, 8.4.2); the root directory record
    // at 156 (8.4.18) holds its extent at +2, the volume space size is at 80 (8.4.8).
    if !pvd.starts_with(b"\x01CD001") {
        return Ok(None);
    }
    let (Some(root), Some(space)) = (le32(&pvd, 156 + 2), le32(&pvd, 80)) else {
        return Ok(None);
    };
    let n = track.len() / USER;
    if root < n
        && let Some(sec) = sector(track, root)?
        && is_root_at(&sec, root)
    {
        return Ok(None);
    }
    let mut candidates: Vec<u64> = Vec::new();
    candidates.extend(space.checked_sub(n));
    candidates.extend((17..n.min(MAX_SEARCH)).filter_map(|k| root.checked_sub(k)));
    for d in candidates.into_iter().filter(|&d| d != 0) {
        let Some(at) = root.checked_sub(d) else {
            continue;
        };
        if let Some(sec) = sector(track, at)?
            && is_root_at(&sec, root)
        {
            return Ok(Some(d));
        }
    }
    Ok(None)
}

/// A track seen at disc address `shift`: sectors `shift..` are the track,
/// sectors below that repeat the track's first sectors (the volume
/// descriptors), or read as zeros past its end.
pub(crate) struct Shifted {
    inner: Arc<dyn ReadAt>,
    shift: u64,
}

impl Shifted {
    pub(crate) fn new(inner: Arc<dyn ReadAt>, shift: u64) -> Self {
        Shifted { inner, shift }
    }

    /// Byte offset of the track's first sector.
    fn base(&self) -> u64 {
        self.shift.saturating_mul(USER)
    }
}

impl ReadAt for Shifted {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let len = self.len();
        let buf = clip(buf, offset, len);
        let base = self.base();
        let mut done = 0;
        while let Some(rest) = buf.get_mut(done..).filter(|r| !r.is_empty()) {
            let pos = offset + done as u64;
            // Which bytes serve `pos`, and up to where they continue.
            let (src, end) = if pos >= base {
                (Some(pos - base), len)
            } else if pos < self.inner.len() {
                (Some(pos), base.min(self.inner.len()))
            } else {
                (None, base)
            };
            let n = usize::try_from(end.saturating_sub(pos)).unwrap_or(usize::MAX);
            let Some(out) = rest.get_mut(..n.min(rest.len())).filter(|o| !o.is_empty()) else {
                break;
            };
            match src {
                Some(p) => self.inner.read_exact_at(p, out)?,
                None => out.fill(0),
            }
            done += out.len();
        }
        Ok(done)
    }

    fn len(&self) -> u64 {
        self.base().saturating_add(self.inner.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::MemSource;

    /// A 40-sector track whose volume lives at disc address `d`.
    fn track(d: u64) -> Vec<u8> {
        let mut v = vec![0u8; 40 * 2048];
        let pvd = 16 * 2048;
        v[pvd] = 1;
        v[pvd + 1..pvd + 6].copy_from_slice(b"CD001");
        v[pvd + 80..pvd + 84].copy_from_slice(&(40u32).to_le_bytes());
        let root = d + 20;
        v[pvd + 158..pvd + 162].copy_from_slice(&(root as u32).to_le_bytes());
        let r = 20 * 2048;
        v[r] = 34;
        v[r + 2..r + 6].copy_from_slice(&(root as u32).to_le_bytes());
        v[r + 6..r + 10].copy_from_slice(&(root as u32).to_be_bytes());
        v[r + 32] = 1;
        v[r + 39] = 0xAB;
        v
    }

    #[test]
    fn relative_volumes_stay_and_absolute_ones_shift() {
        assert_eq!(disc_address(&MemSource::new(track(0))).unwrap(), None);
        let t = track(11_750);
        assert_eq!(
            disc_address(&MemSource::new(t.clone())).unwrap(),
            Some(11_750)
        );
        let s = Shifted::new(Arc::new(MemSource::new(t.clone())), 11_750);
        assert_eq!(s.len(), (11_750 + 40) * 2048);
        let mut b = vec![0; 2048 * 3];
        s.read_exact_at((11_750 + 19) * 2048, &mut b).unwrap();
        assert_eq!(&b[..], &t[19 * 2048..22 * 2048]);
        s.read_exact_at(16 * 2048, &mut b[..2048]).unwrap();
        assert_eq!(&b[..6], b"\x01CD001");
        s.read_exact_at(100 * 2048 - 10, &mut b[..20]).unwrap();
        assert_eq!(&b[..20], &[0; 20]);
        assert_eq!(disc_address(&MemSource::new(vec![0; 100])).unwrap(), None);
    }

    #[test]
    fn short_records_and_huge_shifts_do_not_panic() {
        assert!(!is_root_at(&[], 0));
        assert!(!is_root_at(&[34; 20], 0x2222_2222));
        let mut rec = [0u8; 34];
        rec[0] = 34;
        rec[32] = 1;
        assert!(is_root_at(&rec, 0));
        assert!(!is_root_at(&rec[..33], 0));
        // A root extent near u32::MAX: candidates are far past the track.
        let mut t = track(0);
        t[16 * 2048 + 158..16 * 2048 + 162].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(disc_address(&MemSource::new(t)).unwrap(), None);
        let s = Shifted::new(Arc::new(MemSource::new(vec![7; 100])), u64::MAX);
        assert_eq!(s.len(), u64::MAX);
        let mut b = [1u8; 16];
        assert_eq!(s.read_at(4096, &mut b).unwrap(), 16);
        assert_eq!(b, [0; 16]);
        assert_eq!(s.read_at(u64::MAX, &mut b).unwrap(), 0);
    }
}
