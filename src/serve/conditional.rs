//! Validators and conditional requests (RFC 9110 §8.8, §13): the ETag and
//! Last-Modified of a file, `If-None-Match`, `If-Modified-Since` and
//! `If-Range`.

use std::time::{Duration, SystemTime};

use fs_core::Node;

/// A file's validators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validators {
    /// A strong entity tag, quoted (RFC 9110 §8.8.3): the image's identity,
    /// the node id, size and mtime. The same across restarts of the server
    /// on the same image.
    pub etag: String,
    /// The node's mtime, to the second, as an HTTP date (§5.6.7).
    pub last_modified: String,
    /// The same instant, for comparisons.
    modified: SystemTime,
}

impl Validators {
    /// The validators of `node` in the image with `identity`.
    pub fn of(identity: u64, node: &Node) -> Validators {
        let attr = node.attr();
        let etag = format!(
            "\"{identity:016x}-{:x}-{:x}-{:x}\"",
            node.id().0,
            attr.size,
            attr.mtime.secs
        );
        // HTTP dates cannot say anything before 1970.
        let modified = SystemTime::UNIX_EPOCH
            + Duration::from_secs(u64::try_from(attr.mtime.secs).unwrap_or(0));
        Validators {
            etag,
            last_modified: httpdate::fmt_http_date(modified),
            modified,
        }
    }

    /// True when the client's copy is current: `If-None-Match` lists this
    /// tag (weak comparison, §13.1.2), or, without `If-None-Match`,
    /// `If-Modified-Since` is not before the mtime (§13.1.3). An
    /// unparseable date is ignored.
    pub fn not_modified(
        &self,
        if_none_match: Option<&str>,
        if_modified_since: Option<&str>,
    ) -> bool {
        if let Some(list) = if_none_match {
            return list
                .split(',')
                .map(str::trim)
                .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == self.etag);
        }
        if_modified_since
            .and_then(|d| httpdate::parse_http_date(d.trim()).ok())
            .is_some_and(|since| self.modified <= since)
    }

    /// True when a `Range` may be honoured under `If-Range` (§13.1.5): no
    /// `If-Range`, or it holds this strong tag or exactly this date.
    pub fn range_applies(&self, if_range: Option<&str>) -> bool {
        match if_range.map(str::trim) {
            None => true,
            Some(v) if v.starts_with('"') => v == self.etag,
            Some(v) => httpdate::parse_http_date(v).is_ok_and(|d| d == self.modified),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v() -> Validators {
        let modified = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        Validators {
            etag: "\"abc-1\"".into(),
            last_modified: httpdate::fmt_http_date(modified),
            modified,
        }
    }

    #[test]
    fn if_none_match() {
        let v = v();
        assert!(v.not_modified(Some("\"abc-1\""), None));
        assert!(v.not_modified(Some("\"x\", W/\"abc-1\""), None));
        assert!(v.not_modified(Some("*"), None));
        assert!(!v.not_modified(Some("\"abc-2\""), None));
        // If-None-Match wins over If-Modified-Since.
        assert!(!v.not_modified(Some("\"abc-2\""), Some(&v.last_modified)));
    }

    #[test]
    fn if_modified_since() {
        let v = v();
        assert!(v.not_modified(None, Some(&v.last_modified)));
        assert!(v.not_modified(None, Some("Sat, 01 Jan 2050 00:00:00 GMT")));
        assert!(!v.not_modified(None, Some("Sat, 01 Jan 2000 00:00:00 GMT")));
        assert!(!v.not_modified(None, Some("yesterday")));
        assert!(!v.not_modified(None, None));
    }

    #[test]
    fn if_range() {
        let v = v();
        assert!(v.range_applies(None));
        assert!(v.range_applies(Some("\"abc-1\"")));
        assert!(!v.range_applies(Some("W/\"abc-1\"")));
        assert!(!v.range_applies(Some("\"abc-2\"")));
        assert!(v.range_applies(Some(&v.last_modified.clone())));
        assert!(!v.range_applies(Some("Sat, 01 Jan 2000 00:00:00 GMT")));
    }
}
