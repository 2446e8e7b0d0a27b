//! The one thing a remote store must do for isomount: say what the object is
//! and hand out byte ranges of it, always of the version first seen.

use std::fmt;

/// What an object was when it was opened: its size and the validators that
/// pin that version (RFC 9110 8.8: a strong `ETag`, else `Last-Modified`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// Size in bytes.
    pub size: u64,
    /// The entity tag, quotes included (`"abc"`, `W/"abc"`), if the store
    /// sent one.
    pub etag: Option<String>,
    /// The `Last-Modified` date as the store sent it (an HTTP-date).
    pub last_modified: Option<String>,
}

impl ObjectMeta {
    /// A strong ETag (RFC 9110 8.8.3: not `W/`), the validator `If-Match`
    /// can use; weak ones cannot pin a version for range requests.
    pub fn strong_etag(&self) -> Option<&str> {
        self.etag.as_deref().filter(|e| !e.starts_with("W/"))
    }
}

/// Why a remote request failed. Messages name the object (never with
/// credentials in it) and the cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// The object does not exist (HTTP 404, S3 `NoSuchKey` / `NoSuchBucket`).
    NotFound {
        /// The object, as shown to users.
        name: String,
    },
    /// The credentials were refused (HTTP 401/403; S3's error code, such as
    /// `SignatureDoesNotMatch`, `InvalidAccessKeyId` or `AccessDenied`, in
    /// `detail`).
    Denied {
        /// The object, as shown to users.
        name: String,
        /// What the store said.
        detail: String,
    },
    /// The object is no longer the version that was opened (HTTP 412 to a
    /// conditional request, or a different size / validator in an answer).
    Changed {
        /// The object, as shown to users.
        name: String,
        /// What differs.
        detail: String,
    },
    /// The store answered a range request with the whole object (HTTP 200)
    /// or without ranges at all.
    NoRanges {
        /// The object, as shown to users.
        name: String,
    },
    /// Worth retrying: HTTP 5xx or 429, a connection refused or reset, a
    /// timeout, a body shorter than announced.
    Transient {
        /// The object, as shown to users.
        name: String,
        /// What happened.
        detail: String,
    },
    /// Anything else (another 4xx, a malformed answer, a bad URL, a host that
    /// does not resolve).
    Fatal {
        /// The object, as shown to users.
        name: String,
        /// What happened.
        detail: String,
    },
}

impl FetchError {
    /// True when the same request may succeed if sent again.
    pub fn is_retryable(&self) -> bool {
        matches!(self, FetchError::Transient { .. })
    }
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::NotFound { name } => write!(f, "{name}: not found"),
            FetchError::Denied { name, detail } => write!(f, "{name}: access denied: {detail}"),
            FetchError::Changed { name, detail } => write!(
                f,
                "{name}: the image changed on the server since it was opened ({detail})"
            ),
            FetchError::NoRanges { name } => write!(
                f,
                "{name}: the server does not support byte ranges (Range requests), \
                 which reading an image in place needs"
            ),
            FetchError::Transient { name, detail } | FetchError::Fatal { name, detail } => {
                write!(f, "{name}: {detail}")
            }
        }
    }
}

impl std::error::Error for FetchError {}

impl From<FetchError> for std::io::Error {
    fn from(e: FetchError) -> Self {
        let kind = match &e {
            FetchError::NotFound { .. } => std::io::ErrorKind::NotFound,
            FetchError::Denied { .. } => std::io::ErrorKind::PermissionDenied,
            FetchError::Transient { .. } => std::io::ErrorKind::TimedOut,
            _ => std::io::ErrorKind::Other,
        };
        std::io::Error::new(kind, e)
    }
}

/// One remote object read in byte ranges: an HTTP(S) URL, an S3 object.
///
/// Implementations block (with their own connect/read timeouts) and are
/// called from many threads at once. They do not retry: the caller does
/// ([`FetchError::is_retryable`]), in one place, with backoff.
pub trait RangeFetcher: Send + Sync {
    /// The object as shown to users and in logs: never with credentials,
    /// signatures or tokens in it.
    fn name(&self) -> &str;

    /// Learns the object's size and validators (a `HEAD`, or a GET of the
    /// first byte where HEAD is not allowed). Fails promptly with
    /// [`FetchError::NotFound`] / [`FetchError::Denied`] /
    /// [`FetchError::Fatal`] for a missing object, refused credentials or an
    /// unreachable server.
    fn stat(&self) -> Result<ObjectMeta, FetchError>;

    /// The bytes `start .. start + len` of the object, as it was when `pinned`
    /// was learnt: the request is conditional (`If-Match` with the strong
    /// ETag, else `If-Unmodified-Since` with `Last-Modified`) and a changed
    /// object is [`FetchError::Changed`]. Returns exactly `len` bytes, fewer
    /// only where the object ends; a short body is
    /// [`FetchError::Transient`], a whole-object answer
    /// [`FetchError::NoRanges`].
    fn fetch(&self, start: u64, len: u64, pinned: &ObjectMeta) -> Result<Vec<u8>, FetchError>;

    /// [`RangeFetcher::fetch`] as a stream: the answer is checked as
    /// `fetch` checks it, and its body is handed out in order as it
    /// arrives, so that its first bytes can be used before its last have
    /// come. `start .. start + len` lies within the pinned size. The chunk
    /// engine reads through this. The default fetches the whole range
    /// first; the HTTP and S3 fetchers stream.
    fn fetch_stream(
        &self,
        start: u64,
        len: u64,
        pinned: &ObjectMeta,
    ) -> Result<Box<dyn RangeBody + '_>, FetchError> {
        let data = self.fetch(start, len, pinned)?;
        if data.len() as u64 != len {
            return Err(short_answer(self.name(), start, len, data.len() as u64));
        }
        Ok(Box::new(Fetched {
            name: self.name().to_owned(),
            data,
            at: 0,
        }))
    }
}

/// The body of one range answer ([`RangeFetcher::fetch_stream`]), read in
/// order.
pub trait RangeBody: Send {
    /// Fills `buf` with the next bytes of the answer, all of them: a body
    /// that ends first is [`FetchError::Transient`], a read past the range
    /// asked for [`FetchError::Fatal`].
    fn read_next(&mut self, buf: &mut [u8]) -> Result<(), FetchError>;
}

/// A whole answer already in memory, handed out in pieces.
struct Fetched {
    name: String,
    data: Vec<u8>,
    at: usize,
}

impl RangeBody for Fetched {
    fn read_next(&mut self, buf: &mut [u8]) -> Result<(), FetchError> {
        let src = self
            .data
            .get(self.at..)
            .and_then(|rest| rest.get(..buf.len()))
            .ok_or_else(|| FetchError::Fatal {
                name: self.name.clone(),
                detail: "a read past the range asked for".into(),
            })?;
        buf.copy_from_slice(src);
        self.at += buf.len();
        Ok(())
    }
}

/// The error for an answer of `got` bytes to a range of `want` at `start`:
/// fewer is a body cut short (worth retrying), more a broken server.
fn short_answer(name: &str, start: u64, want: u64, got: u64) -> FetchError {
    if got < want {
        FetchError::Transient {
            name: name.to_owned(),
            detail: format!("{got} bytes of the {want} asked at byte {start}"),
        }
    } else {
        FetchError::Fatal {
            name: name.to_owned(),
            detail: format!("{got} bytes for a range of {want} at byte {start}"),
        }
    }
}
