//! Little-endian field access that never panics.
//!
//! Every caller checks a structure's length before reading its fields; these
//! helpers are the second line of defence: a field outside the slice reads as
//! zero (or an empty slice) instead of panicking.

/// Byte at `o`, 0 when out of range.
pub(crate) fn u8_at(b: &[u8], o: usize) -> u8 {
    b.get(o).copied().unwrap_or(0)
}

/// Little-endian u16 at `o`, 0 when out of range.
pub(crate) fn u16_at(b: &[u8], o: usize) -> u16 {
    match bytes(b, o, 2) {
        [x, y] => u16::from_le_bytes([*x, *y]),
        _ => 0,
    }
}

/// Little-endian u32 at `o`, 0 when out of range.
pub(crate) fn u32_at(b: &[u8], o: usize) -> u32 {
    match bytes(b, o, 4) {
        [a, c, d, e] => u32::from_le_bytes([*a, *c, *d, *e]),
        _ => 0,
    }
}

/// Little-endian u64 at `o`, 0 when out of range.
pub(crate) fn u64_at(b: &[u8], o: usize) -> u64 {
    let s = bytes(b, o, 8);
    let mut a = [0u8; 8];
    if s.len() == 8 {
        a.copy_from_slice(s);
    }
    u64::from_le_bytes(a)
}

/// `len` bytes at `o`, or fewer (possibly none) when the slice is shorter.
pub(crate) fn bytes(b: &[u8], o: usize, len: usize) -> &[u8] {
    let rest = b.get(o..).unwrap_or_default();
    rest.get(..len).unwrap_or(rest)
}

/// An entity identifier (ECMA-167 1/7.4, "regid"): its identifier field as text.
pub(crate) fn regid_ident(b: &[u8]) -> String {
    let id = bytes(b, 1, 23);
    let id = id.split(|&c| c == 0).next().unwrap_or_default();
    String::from_utf8_lossy(id).trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_reads_zero() {
        let b = [1u8, 2, 3];
        assert_eq!(u16_at(&b, 1), 0x0302);
        assert_eq!(u16_at(&b, 2), 0);
        assert_eq!(u32_at(&b, usize::MAX), 0);
        assert_eq!(u64_at(&b, 0), 0);
        assert_eq!(bytes(&b, 2, 10), &[3]);
        assert!(bytes(&b, usize::MAX, 10).is_empty());
    }

    #[test]
    fn regid_text() {
        let mut r = [0u8; 32];
        r[1..20].copy_from_slice(b"*OSTA UDF Compliant");
        assert_eq!(regid_ident(&r), "*OSTA UDF Compliant");
    }
}
