//! Volume recognition sequence (ECMA-167 2/9.1, 2/8.3; 3/9.1).
//!
//! From byte 32768 the image holds 2048-byte volume structure descriptors:
//! "BEA01" opens the extended area, "NSR02" (ECMA-167 2nd edition, UDF
//! 1.02-1.50) or "NSR03" (3rd edition, UDF 2.00+) says a UDF/ECMA-167
//! volume is recorded, "TEA01" closes it. ISO 9660 "CD001" descriptors may
//! come first (a bridge image). With sectors larger than 2048 bytes each
//! descriptor starts a sector, so empty 2048-byte slots are stepped over.

use crate::source::ReadAt;

/// Where the sequence starts.
const START: u64 = 32768;
/// How many 2048-byte slots are looked at, at most.
const MAX_SLOTS: u64 = 128;

/// What the recognition sequence said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Recognition {
    /// "NSR02" or "NSR03" found inside BEA01..TEA01: 2 or 3.
    pub nsr: Option<u8>,
}

/// Scans the volume recognition sequence. Never fails: an unreadable or
/// short image simply has no NSR descriptor.
pub(crate) fn scan(src: &dyn ReadAt) -> Recognition {
    let mut out = Recognition::default();
    let mut in_extended = false;
    for slot in 0..MAX_SLOTS {
        let off = START + slot * 2048;
        let mut id = [0u8; 7];
        if off + 2048 > src.len() || src.read_exact_at(off, &mut id).is_err() {
            break;
        }
        match &id[1..6] {
            b"BEA01" => in_extended = true,
            b"TEA01" => {
                if out.nsr.is_some() {
                    break;
                }
                in_extended = false;
            }
            b"NSR02" if in_extended => out.nsr = Some(2),
            b"NSR03" if in_extended => out.nsr = Some(3),
            // ISO 9660, El Torito boot record, ECMA-168 and empty slots.
            b"CD001" | b"CDW02" | b"BOOT2" | b"\0\0\0\0\0" => {}
            _ => {
                if out.nsr.is_some() || !in_extended {
                    break;
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::MemSource;

    fn vsd(id: &[u8; 5]) -> Vec<u8> {
        let mut b = vec![0u8; 2048];
        b[1..6].copy_from_slice(id);
        b[6] = 1;
        b
    }

    #[test]
    fn finds_nsr_after_iso_descriptors() {
        let mut img = vec![0u8; 32768];
        for id in [b"CD001", b"CD001", b"BEA01", b"NSR02", b"TEA01"] {
            img.extend(vsd(id));
        }
        img.resize(img.len() + 4096, 0);
        assert_eq!(scan(&MemSource::new(img)).nsr, Some(2));
    }

    #[test]
    fn nsr_outside_extended_area_and_plain_iso() {
        let mut img = vec![0u8; 32768];
        for id in [b"CD001", b"NSR03", b"TEA01"] {
            img.extend(vsd(id));
        }
        assert_eq!(scan(&MemSource::new(img)).nsr, None);
        assert_eq!(scan(&MemSource::new(vec![0u8; 100])).nsr, None);
    }

    #[test]
    fn large_sectors_leave_empty_slots() {
        let mut img = vec![0u8; 32768];
        for id in [b"BEA01", b"NSR03", b"TEA01"] {
            img.extend(vsd(id));
            img.extend(vec![0u8; 2048]);
        }
        assert_eq!(scan(&MemSource::new(img)).nsr, Some(3));
    }
}
