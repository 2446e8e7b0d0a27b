//! Anchor volume descriptor pointer (ECMA-167 3/10.2, 3/8.4.2.1).
//!
//! The anchor sits at logical sector 256, and/or at N-1 and N-257 (N = the
//! number of sectors). It points at the main and reserve volume descriptor
//! sequences. The logical block size is not recorded anywhere before it, so
//! it is found by trying 2048 (optical media), then 512, 1024 and 4096: the
//! tag location must match the sector, which rules out a wrong size.

use crate::error::Location;
use crate::source::ReadAt;

use super::le::{bytes, u32_at};
use super::tag;

/// Block sizes tried, most likely first.
pub(crate) const BLOCK_SIZES: [u32; 4] = [2048, 512, 1024, 4096];

/// An extent of whole sectors (ECMA-167 3/7.1, extent_ad).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct ExtentAd {
    /// Length in bytes.
    pub len: u32,
    /// First sector.
    pub loc: u32,
}

impl ExtentAd {
    pub(crate) fn parse(b: &[u8]) -> ExtentAd {
        ExtentAd {
            len: u32_at(b, 0),
            loc: u32_at(b, 4),
        }
    }
}

/// A verified anchor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Anchor {
    /// Logical block size that made it verify.
    pub block_size: u32,
    /// Sector it was found at.
    pub sector: u64,
    /// Main volume descriptor sequence extent (3/10.2.2).
    pub main: ExtentAd,
    /// Reserve volume descriptor sequence extent (3/10.2.3).
    pub reserve: ExtentAd,
}

/// Finds the first anchor that verifies (tag checksum, CRC, location).
/// Returns the reasons the candidates failed when none does.
pub(crate) fn find(src: &dyn ReadAt) -> Result<Anchor, Vec<String>> {
    let len = src.len();
    let mut why = Vec::new();
    for bs in BLOCK_SIZES {
        let n = len / u64::from(bs);
        let mut candidates = vec![256u64];
        for back in [1u64, 257] {
            if n > back && !candidates.contains(&(n - back)) {
                candidates.push(n - back);
            }
        }
        for sector in candidates {
            let off = sector * u64::from(bs);
            if off + u64::from(bs) > len {
                continue;
            }
            let mut buf = vec![0u8; bs as usize];
            if src.read_exact_at(off, &mut buf).is_err() {
                continue;
            }
            if !tag::looks_like(&buf, tag::ident::AVDP) {
                continue;
            }
            let Ok(expected) = u32::try_from(sector) else {
                continue;
            };
            match tag::expect(
                &buf,
                tag::ident::AVDP,
                Some(expected),
                "anchor volume descriptor pointer",
                Location::sector(sector),
            ) {
                Ok(_) => {
                    return Ok(Anchor {
                        block_size: bs,
                        sector,
                        main: ExtentAd::parse(bytes(&buf, 16, 8)),
                        reserve: ExtentAd::parse(bytes(&buf, 24, 8)),
                    });
                }
                Err(e) => why.push(format!("{e} (block size {bs})")),
            }
        }
    }
    Err(why)
}

/// Builds an anchor block (for tests).
#[cfg(test)]
pub(crate) fn build(bs: usize, sector: u32, main: (u32, u32), reserve: (u32, u32)) -> Vec<u8> {
    let mut b = vec![0u8; bs];
    b[16..20].copy_from_slice(&main.0.to_le_bytes());
    b[20..24].copy_from_slice(&main.1.to_le_bytes());
    b[24..28].copy_from_slice(&reserve.0.to_le_bytes());
    b[28..32].copy_from_slice(&reserve.1.to_le_bytes());
    tag::write(&mut b, tag::ident::AVDP, sector, 496);
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::MemSource;

    #[test]
    fn finds_anchor_at_256_with_2048() {
        let mut img = vec![0u8; 300 * 2048];
        img[256 * 2048..257 * 2048].copy_from_slice(&build(2048, 256, (32768, 32), (32768, 48)));
        let a = find(&MemSource::new(img)).unwrap();
        assert_eq!((a.block_size, a.sector), (2048, 256));
        assert_eq!(
            a.main,
            ExtentAd {
                len: 32768,
                loc: 32
            }
        );
        assert_eq!(a.reserve.loc, 48);
    }

    #[test]
    fn finds_512_byte_anchor_at_last_sector() {
        let n = 1000usize;
        let mut img = vec![0u8; n * 512];
        img[(n - 1) * 512..].copy_from_slice(&build(512, (n - 1) as u32, (8192, 32), (8192, 64)));
        let a = find(&MemSource::new(img)).unwrap();
        assert_eq!((a.block_size, a.sector), (512, 999));
    }

    #[test]
    fn wrong_location_is_rejected_with_reason() {
        let mut img = vec![0u8; 300 * 2048];
        img[256 * 2048..257 * 2048].copy_from_slice(&build(2048, 255, (32768, 32), (0, 0)));
        let why = find(&MemSource::new(img)).unwrap_err();
        assert!(why.iter().any(|w| w.contains("block 255")), "{why:?}");
        assert!(find(&MemSource::new(vec![0u8; 10])).unwrap_err().is_empty());
    }
}
