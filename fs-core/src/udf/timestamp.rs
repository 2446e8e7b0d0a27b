//! UDF timestamps (ECMA-167 1/7.3, OSTA UDF 2.1.4).
//!
//! Twelve bytes: type and time zone (u16: type in bits 12-15, a signed
//! 12-bit offset in minutes east of UTC in bits 0-11, -2047 meaning "not
//! specified"), year (i16), month, day, hour, minute, second, centiseconds,
//! hundreds of microseconds, microseconds.

use crate::node::Timestamp;

use super::le::{u8_at, u16_at};

/// Length of a timestamp field.
pub(crate) const LEN: usize = 12;

/// Parses a timestamp; `None` when it is all zeros or its fields are
/// impossible. An unspecified time zone is taken as UTC.
pub(crate) fn parse(b: &[u8]) -> Option<Timestamp> {
    let b = b.get(..LEN)?;
    if b.iter().all(|&x| x == 0) {
        return None;
    }
    let tz = u16_at(b, 0);
    let kind = tz >> 12;
    // Sign-extend the 12-bit offset.
    let raw = i32::from(((tz & 0x0fff) << 4) as i16 >> 4);
    let offset = if kind == 1 && raw != -2047 && (-1440..=1440).contains(&raw) {
        raw
    } else {
        0
    };
    let year = i64::from(u16_at(b, 2) as i16);
    let cs = u32::from(u8_at(b, 9));
    let hundreds_us = u32::from(u8_at(b, 10));
    let us = u32::from(u8_at(b, 11));
    if cs > 99 || hundreds_us > 99 || us > 99 {
        return None;
    }
    let nanos = (cs * 10_000 + hundreds_us * 100 + us) * 1000;
    Timestamp::from_civil(
        year,
        u32::from(u8_at(b, 4)),
        u32::from(u8_at(b, 5)),
        u32::from(u8_at(b, 6)),
        u32::from(u8_at(b, 7)),
        u32::from(u8_at(b, 8)),
        nanos,
        offset,
    )
}

/// Builds a timestamp field (for tests).
#[cfg(test)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn build(
    tz_minutes: i16,
    year: i16,
    mon: u8,
    day: u8,
    h: u8,
    mi: u8,
    s: u8,
    cs: u8,
) -> [u8; LEN] {
    let tz = (1u16 << 12) | (tz_minutes as u16 & 0x0fff);
    let mut b = [0u8; LEN];
    b[0..2].copy_from_slice(&tz.to_le_bytes());
    b[2..4].copy_from_slice(&year.to_le_bytes());
    b[4..10].copy_from_slice(&[mon, day, h, mi, s, cs]);
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_zone_and_far_years() {
        // 2040-02-29 12:00:01 at UTC-05:00 is 17:00:01 UTC.
        let t = parse(&build(-300, 2040, 2, 29, 12, 0, 1, 50)).unwrap();
        assert_eq!(t.to_rfc3339(), "2040-02-29T17:00:01.5Z");
        let t = parse(&build(120, 1960, 1, 1, 2, 0, 0, 0)).unwrap();
        assert_eq!(t.to_rfc3339(), "1960-01-01T00:00:00Z");
        assert!(t.secs < 0);
    }

    #[test]
    fn unspecified_zone_is_utc_and_microseconds_count() {
        let mut b = build(-2047, 2020, 5, 6, 7, 8, 9, 1);
        b[10] = 2;
        b[11] = 3;
        let t = parse(&b).unwrap();
        assert_eq!(t.to_rfc3339(), "2020-05-06T07:08:09.010203Z");
        // Type 0 (UTC) ignores the offset field.
        b[1] &= 0x0f;
        assert_eq!(parse(&b).unwrap().secs, t.secs);
    }

    #[test]
    fn zero_and_impossible_are_none() {
        assert!(parse(&[0u8; 12]).is_none());
        assert!(parse(&build(0, 2020, 13, 1, 0, 0, 0, 0)).is_none());
        assert!(parse(&[1, 2, 3]).is_none());
    }
}
