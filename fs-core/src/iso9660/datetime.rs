//! The two date formats of ECMA-119.
//!
//! * The 7-byte "recording date and time" of a directory record (ECMA-119 9.1.5).
//! * The 17-byte "dec-datetime" of the volume descriptors (ECMA-119 8.4.26.1).
//!
//! Both carry an offset from Greenwich Mean Time in 15-minute units, a signed
//! byte. ECMA-119 allows -48..=52; like Linux we accept -52..=52 and ignore
//! anything else (the time is then taken as UTC).

use crate::node::Timestamp;

/// Offset byte (15-minute units, signed) to minutes east of UTC, or 0 when out of range.
fn offset_minutes(b: u8) -> i32 {
    let q = i32::from(b as i8);
    if (-52..=52).contains(&q) { q * 15 } else { 0 }
}

/// Parses a 7-byte recording date (ECMA-119 9.1.5): years since 1900, month,
/// day, hour, minute, second, GMT offset. All zeros means "not specified"
/// (`None`), as do impossible fields.
pub(crate) fn parse_record_date(b: &[u8]) -> Option<Timestamp> {
    let b: &[u8; 7] = b.get(..7)?.try_into().ok()?;
    if b.iter().all(|&x| x == 0) {
        return None;
    }
    Timestamp::from_civil(
        1900 + i64::from(b[0]),
        u32::from(b[1]),
        u32::from(b[2]),
        u32::from(b[3]),
        u32::from(b[4]),
        u32::from(b[5]),
        0,
        offset_minutes(b[6]),
    )
}

/// Parses a 17-byte dec-datetime (ECMA-119 8.4.26.1): "YYYYMMDDhhmmsscc" as
/// ASCII digits (cc = hundredths) plus the GMT offset byte. All "0" digits
/// (or all zero bytes) means "not specified" (`None`); so do non-digits and
/// impossible fields.
pub(crate) fn parse_dec_datetime(b: &[u8]) -> Option<Timestamp> {
    let b: &[u8; 17] = b.get(..17)?.try_into().ok()?;
    let digits = &b[..16];
    if digits.iter().all(|&x| x == b'0' || x == 0) {
        return None;
    }
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // At most 4 digits each: no overflow.
    let num = |field: &[u8]| -> u32 {
        field
            .iter()
            .fold(0u32, |acc, &d| acc * 10 + u32::from(d - b'0'))
    };
    let year = num(&b[0..4]);
    if year == 0 {
        return None;
    }
    Timestamp::from_civil(
        i64::from(year),
        num(&b[4..6]),
        num(&b[6..8]),
        num(&b[8..10]),
        num(&b[10..12]),
        num(&b[12..14]),
        num(&b[14..16]) * 10_000_000,
        offset_minutes(b[16]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_date_far_future_and_past() {
        // 2040-01-01 00:00:00 UTC: year byte 140.
        let t = parse_record_date(&[140, 1, 1, 0, 0, 0, 0]).unwrap();
        assert_eq!(t.to_rfc3339(), "2040-01-01T00:00:00Z");
        assert_eq!(t.secs, 2_208_988_800);
        // 1965-06-01 12:30:15 UTC is negative.
        let t = parse_record_date(&[65, 6, 1, 12, 30, 15, 0]).unwrap();
        assert_eq!(t.to_rfc3339(), "1965-06-01T12:30:15Z");
        assert!(t.secs < 0);
    }

    #[test]
    fn record_date_applies_offset() {
        // 12:00 at GMT+1 (4 quarter hours) is 11:00 UTC; at GMT-5 (-20) 17:00 UTC.
        let t = parse_record_date(&[120, 3, 4, 12, 0, 0, 4]).unwrap();
        assert_eq!(t.to_rfc3339(), "2020-03-04T11:00:00Z");
        let t = parse_record_date(&[120, 3, 4, 12, 0, 0, (-20i8) as u8]).unwrap();
        assert_eq!(t.to_rfc3339(), "2020-03-04T17:00:00Z");
        // Out-of-range offset is ignored.
        let t = parse_record_date(&[120, 3, 4, 12, 0, 0, 100]).unwrap();
        assert_eq!(t.to_rfc3339(), "2020-03-04T12:00:00Z");
    }

    #[test]
    fn record_date_unspecified_or_bad() {
        assert_eq!(parse_record_date(&[0; 7]), None);
        assert_eq!(parse_record_date(&[120, 13, 1, 0, 0, 0, 0]), None);
        assert_eq!(parse_record_date(&[120, 0, 0, 0, 0, 0, 0]), None);
        assert_eq!(parse_record_date(&[1, 2]), None);
    }

    #[test]
    fn dec_datetime() {
        let mut b = *b"2026050312345678\0";
        b[16] = 8; // GMT+2
        let t = parse_dec_datetime(&b).unwrap();
        assert_eq!(t.to_rfc3339(), "2026-05-03T10:34:56.78Z");
        assert_eq!(parse_dec_datetime(b"0000000000000000\0"), None);
        assert_eq!(parse_dec_datetime(&[0; 17]), None);
        assert_eq!(parse_dec_datetime(b"20x6050312345678\0"), None);
        assert_eq!(parse_dec_datetime(b"2026130312345678\0"), None);
        let t = parse_dec_datetime(b"2040010100000000\0").unwrap();
        assert_eq!(t.secs, 2_208_988_800);
    }

    #[test]
    fn short_dates_are_none() {
        let b = *b"2026050312345678\0";
        for n in 0..b.len() {
            assert_eq!(parse_dec_datetime(&b[..n]), None);
        }
        let r = [120, 3, 4, 12, 0, 0, 4];
        for n in 0..r.len() {
            assert_eq!(parse_record_date(&r[..n]), None);
        }
    }
}
