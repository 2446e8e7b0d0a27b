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
use crate::source::ReadAt;

use super::sector::USER;

/// Most track sectors searched for the root directory.
const MAX_SEARCH: u64 = 4096;

fn sector(src: &dyn ReadAt, s: u64) -> Result<Option<Vec<u8>>> {
    if (s + 1) * USER > src.len() {
        return Ok(None);
    }
    let mut b = vec![0; USER as usize];
    src.read_exact_at(s * USER, &mut b)
        .map_err(|e| Error::io(s * USER, b.len(), e))?;
    Ok(Some(b))
}

fn le32(b: &[u8]) -> u64 {
    u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// True when `sec` starts with a "." directory record whose extent is `lba`.
fn is_root_at(sec: &[u8], lba: u64) -> bool {
    sec[0] >= 34
        && sec[32] == 1
        && sec[33] == 0
        && le32(&sec[2..6]) == lba
        && u32::from_be_bytes([sec[6], sec[7], sec[8], sec[9]]) as u64 == lba
}

/// The disc address of the track's first sector when its ISO 9660 volume
/// uses disc addresses; `None` when it counts from the track (the usual case)
/// or has no ISO 9660 volume descriptor.
pub(crate) fn disc_address(track: &dyn ReadAt) -> Result<Option<u64>> {
    let Some(pvd) = sector(track, 16)? else {
        return Ok(None);
    };
    if pvd[0] != 1 || &pvd[1..6] != b"CD001" {
        return Ok(None);
    }
    let n = track.len() / USER;
    let root = le32(&pvd[156 + 2..156 + 6]);
    if root < n
        && let Some(sec) = sector(track, root)?
        && is_root_at(&sec, root)
    {
        return Ok(None);
    }
    let space = le32(&pvd[80..84]);
    let mut candidates: Vec<u64> = Vec::new();
    candidates.extend(space.checked_sub(n));
    candidates.extend((17..n.min(MAX_SEARCH)).filter_map(|k| root.checked_sub(k)));
    for d in candidates {
        if d == 0 || root < d {
            continue;
        }
        if let Some(sec) = sector(track, root - d)?
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
}

impl ReadAt for Shifted {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let len = self.len();
        if offset >= len || buf.is_empty() {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(len - offset).unwrap_or(usize::MAX));
        let base = self.shift * USER;
        let mut done = 0;
        while done < want {
            let pos = offset + done as u64;
            let (src, end) = if pos >= base {
                (Some(pos - base), len)
            } else if pos < self.inner.len() {
                (Some(pos), base.min(self.inner.len()))
            } else {
                (None, base)
            };
            let n = ((end - pos) as usize).min(want - done);
            match src {
                Some(p) => self.inner.read_exact_at(p, &mut buf[done..done + n])?,
                None => buf[done..done + n].fill(0),
            }
            done += n;
        }
        Ok(done)
    }

    fn len(&self) -> u64 {
        self.shift * USER + self.inner.len()
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
}
