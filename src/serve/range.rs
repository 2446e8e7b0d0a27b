//! The `Range` request header (RFC 9110 §14.2) for one byte range.

/// What to send for a `Range` header on a representation of `size` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ranged {
    /// The whole representation (200): no header, a unit other than
    /// `bytes`, a syntax error, or several ranges (RFC 9110 §14.2 lets a
    /// server ignore the header; multipart answers are not made).
    Full,
    /// `len` bytes from `start` (206 with `Content-Range`).
    Part {
        /// First byte.
        start: u64,
        /// Number of bytes (at least one).
        len: u64,
    },
    /// No byte of the range exists (416 with `Content-Range: bytes */size`).
    Unsatisfiable,
}

/// Interprets a `Range` header value for a representation of `size` bytes:
/// `bytes=FIRST-LAST`, `bytes=FIRST-` and the suffix form `bytes=-N`.
pub fn parse(value: &str, size: u64) -> Ranged {
    let Some(set) = strip_prefix_ignore_case(value.trim(), "bytes=") else {
        return Ranged::Full;
    };
    if set.contains(',') {
        return Ranged::Full;
    }
    let Some((first, last)) = set.trim().split_once('-') else {
        return Ranged::Full;
    };
    let (first, last) = (first.trim(), last.trim());
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match (first.is_empty(), last.is_empty()) {
        // bytes=-N: the last N bytes.
        (true, false) if digits(last) => {
            // A suffix longer than u64 is longer than any file.
            let n = last.parse::<u64>().unwrap_or(u64::MAX);
            if n == 0 || size == 0 {
                return Ranged::Unsatisfiable;
            }
            let len = n.min(size);
            Ranged::Part {
                start: size - len,
                len,
            }
        }
        // bytes=A- and bytes=A-B.
        (false, _) if digits(first) && (last.is_empty() || digits(last)) => {
            let Ok(start) = first.parse::<u64>() else {
                return Ranged::Unsatisfiable;
            };
            let end = if last.is_empty() {
                u64::MAX
            } else {
                last.parse::<u64>().unwrap_or(u64::MAX)
            };
            if end < start {
                // An invalid range-spec: the header is ignored (§14.1.1).
                return Ranged::Full;
            }
            if start >= size {
                return Ranged::Unsatisfiable;
            }
            let end = end.min(size - 1);
            Ranged::Part {
                start,
                len: end - start + 1,
            }
        }
        _ => Ranged::Full,
    }
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let part = |start, len| Ranged::Part { start, len };
        assert_eq!(parse("bytes=0-9", 100), part(0, 10));
        assert_eq!(parse("bytes=90-200", 100), part(90, 10));
        assert_eq!(parse("bytes=95-", 100), part(95, 5));
        assert_eq!(parse("bytes=-10", 100), part(90, 10));
        assert_eq!(parse("bytes=-1000", 100), part(0, 100));
        assert_eq!(parse("Bytes = 5-5", 100), Ranged::Full);
        assert_eq!(parse("BYTES=5-5", 100), part(5, 1));
        assert_eq!(parse("bytes=99-99999999999999999999999", 100), part(99, 1));
    }

    #[test]
    fn unsatisfiable() {
        assert_eq!(parse("bytes=100-", 100), Ranged::Unsatisfiable);
        assert_eq!(parse("bytes=100-200", 100), Ranged::Unsatisfiable);
        assert_eq!(parse("bytes=-0", 100), Ranged::Unsatisfiable);
        assert_eq!(parse("bytes=0-", 0), Ranged::Unsatisfiable);
        assert_eq!(parse("bytes=-5", 0), Ranged::Unsatisfiable);
        assert_eq!(
            parse("bytes=99999999999999999999999-", 100),
            Ranged::Unsatisfiable
        );
    }

    #[test]
    fn ignored() {
        for v in [
            "items=0-1",
            "bytes=5-1",
            "bytes=0-1,5-6",
            "bytes=-",
            "bytes=a-b",
            "bytes=1",
            "bytes=+1-2",
            "",
        ] {
            assert_eq!(parse(v, 100), Ranged::Full, "{v}");
        }
    }
}
