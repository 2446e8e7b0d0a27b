//! Bounds-checked access to fields of on-disk structures.
//!
//! Every structure the readers parse comes from the image, which is
//! untrusted input: a field read past the end of its buffer must be an
//! error the caller reports, never a panic. These helpers return `None`
//! (or copy fewer bytes) instead of panicking, and never overflow on a
//! hostile offset. The ISO 9660 and container readers use them; UDF has
//! its own little-endian readers in `udf::le`.
//!
//! Byte orders are those of ECMA-119 7.2 / 7.3: "little-endian" (7.2.1,
//! 7.3.1) and "big-endian" (7.2.2, 7.3.2); a both-endian field (7.2.3,
//! 7.3.3) is the two, one after the other.

/// The `N` bytes at `at`, or `None` when `buf` ends first.
pub(crate) fn array_at<const N: usize>(buf: &[u8], at: usize) -> Option<[u8; N]> {
    buf.get(at..)?.first_chunk::<N>().copied()
}

/// A little-endian `u16` (ECMA-119 7.2.1) at `at`.
pub(crate) fn u16_le(buf: &[u8], at: usize) -> Option<u16> {
    array_at(buf, at).map(u16::from_le_bytes)
}

/// A big-endian `u16` (ECMA-119 7.2.2) at `at`.
pub(crate) fn u16_be(buf: &[u8], at: usize) -> Option<u16> {
    array_at(buf, at).map(u16::from_be_bytes)
}

/// A little-endian `u32` (ECMA-119 7.3.1) at `at`.
pub(crate) fn u32_le(buf: &[u8], at: usize) -> Option<u32> {
    array_at(buf, at).map(u32::from_le_bytes)
}

/// A big-endian `u32` (ECMA-119 7.3.2) at `at`.
pub(crate) fn u32_be(buf: &[u8], at: usize) -> Option<u32> {
    array_at(buf, at).map(u32::from_be_bytes)
}

/// A little-endian `u64` at `at` (zisofs2 headers and block pointers).
pub(crate) fn u64_le(buf: &[u8], at: usize) -> Option<u64> {
    array_at(buf, at).map(u64::from_le_bytes)
}

/// Copies as many bytes as both slices have from the start of `src` to the
/// start of `dst`; returns how many.
pub(crate) fn copy_prefix(dst: &mut [u8], src: &[u8]) -> usize {
    let n = dst.len().min(src.len());
    if let (Some(d), Some(s)) = (dst.get_mut(..n), src.get(..n)) {
        d.copy_from_slice(s);
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_in_bounds() {
        let b = [1, 2, 3, 4, 5, 6, 7, 8, 9];
        assert_eq!(u16_le(&b, 0), Some(0x0201));
        assert_eq!(u16_be(&b, 7), Some(0x0809));
        assert_eq!(u32_le(&b, 1), Some(0x0504_0302));
        assert_eq!(u32_be(&b, 5), Some(0x0607_0809));
        assert_eq!(u64_le(&b, 1), Some(0x0908_0706_0504_0302));
        assert_eq!(array_at::<0>(&b, 9), Some([]));
    }

    #[test]
    fn short_buffers_and_huge_offsets_are_none() {
        let b = [1, 2, 3, 4, 5, 6, 7, 8, 9];
        assert_eq!(u16_le(&b, 8), None);
        assert_eq!(u16_be(&b, 9), None);
        assert_eq!(u32_le(&b, 6), None);
        assert_eq!(u32_be(&[], 0), None);
        assert_eq!(u64_le(&b, 2), None);
        assert_eq!(array_at::<1>(&b, 10), None);
        assert_eq!(u32_le(&b, usize::MAX), None);
        assert_eq!(u64_le(&b, usize::MAX - 3), None);
    }

    #[test]
    fn copy_prefix_takes_the_shorter() {
        let mut dst = [0u8; 4];
        assert_eq!(copy_prefix(&mut dst, &[9, 8]), 2);
        assert_eq!(dst, [9, 8, 0, 0]);
        assert_eq!(copy_prefix(&mut dst, &[1, 2, 3, 4, 5, 6]), 4);
        assert_eq!(dst, [1, 2, 3, 4]);
        assert_eq!(copy_prefix(&mut [], &[1]), 0);
    }
}
