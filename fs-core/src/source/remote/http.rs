//! Plain HTTP(S) URLs, and the request/response mapping the S3 fetcher
//! shares.
//!
//! The protocol is RFC 9110's: a `HEAD` (or, where the server refuses it, a
//! `GET` of the first byte) learns the size and the validators (section 8.8:
//! `ETag`, `Last-Modified`); each read is a `GET` with `Range: bytes=a-b`
//! (section 14.2) answered by `206 Partial Content` with a `Content-Range`
//! (sections 14.4, 15.3.7), made conditional with `If-Match` on the strong
//! ETag (section 13.1.1) or, without one, `If-Unmodified-Since` (section
//! 13.1.4), so that a replaced object answers `412 Precondition Failed`
//! (section 15.5.13) instead of bytes of another version.
//!
//! Extra request headers (tokens) and query strings (presigned URLs) are
//! secrets: they are sent, never shown. [`RangeFetcher::name`] is the URL
//! without user info, query and fragment, and no message quotes a header or a
//! response body beyond an S3 error's `Code` and `Message`.

use std::io::Read;
use std::time::Duration;

use ureq::Agent;
use ureq::config::RedirectAuthHeaders;
use ureq::http::{Response, StatusCode, Uri};
use ureq::tls::{RootCerts, TlsConfig};

use super::fetch::{FetchError, ObjectMeta, RangeBody, RangeFetcher};

/// How requests to an HTTP(S) server are made.
#[derive(Clone)]
pub struct HttpOptions {
    /// Sent with every request, such as `("Authorization", "Bearer …")`.
    /// Never logged nor shown in a message.
    pub headers: Vec<(String, String)>,
    /// Name resolution plus TCP and TLS connection setup.
    pub connect_timeout: Duration,
    /// One whole request, redirects and the response body included.
    pub timeout: Duration,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            headers: Vec::new(),
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(60),
        }
    }
}

impl std::fmt::Debug for HttpOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Header values are credentials: only their names are shown.
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("HttpOptions")
            .field("headers", &names)
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// An image at an `http://` or `https://` URL, read with range requests.
pub struct HttpFetcher {
    agent: Agent,
    url: String,
    name: String,
    host: String,
    headers: Vec<(String, String)>,
}

impl HttpFetcher {
    /// A fetcher for `url` (`http` or `https`, with a host). Makes no request
    /// yet; [`RangeFetcher::stat`] is the first.
    pub fn new(url: &str, opts: &HttpOptions) -> Result<HttpFetcher, FetchError> {
        let (name, host) = check_url(url)?;
        check_headers(&opts.headers, &name)?;
        Ok(HttpFetcher {
            agent: agent(opts),
            url: url.to_owned(),
            name,
            host,
            headers: opts.headers.clone(),
        })
    }

    fn target(&self) -> Target<'_> {
        Target {
            agent: &self.agent,
            headers: &self.headers,
            name: &self.name,
            host: &self.host,
            auth: &|_| Vec::new(),
            hint: &no_hint,
        }
    }
}

impl RangeFetcher for HttpFetcher {
    fn name(&self) -> &str {
        &self.name
    }

    fn stat(&self) -> Result<ObjectMeta, FetchError> {
        stat(&self.target(), &self.url)
    }

    fn fetch(&self, start: u64, len: u64, pinned: &ObjectMeta) -> Result<Vec<u8>, FetchError> {
        get_range(&self.target(), &self.url, start, len, pinned)
    }

    fn fetch_stream(
        &self,
        start: u64,
        len: u64,
        pinned: &ObjectMeta,
    ) -> Result<Box<dyn RangeBody + '_>, FetchError> {
        Ok(Box::new(get_range_stream(
            &self.target(),
            &self.url,
            start,
            len,
            pinned,
        )?))
    }
}

fn no_hint(_code: &str) -> Option<String> {
    None
}

/// Validates an `http`/`https` URL with a host; returns the name to show
/// (no user info, query or fragment) and the host.
pub(crate) fn check_url(url: &str) -> Result<(String, String), FetchError> {
    let shown = display_url(url);
    let fatal = |detail: &str| FetchError::Fatal {
        name: shown.clone(),
        detail: detail.to_owned(),
    };
    let uri: Uri = url.parse().map_err(|_| fatal("not a valid URL"))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        Some(_) => return Err(fatal("only http:// and https:// URLs can be read")),
        None => return Err(fatal("not a URL (no http:// or https://)")),
    }
    let host = match uri.host() {
        Some(h) if !h.is_empty() => h.to_owned(),
        _ => return Err(fatal("the URL has no host")),
    };
    Ok((shown, host))
}

/// `url` as it may be shown: without `user:password@`, `?query` and
/// `#fragment` (a presigned query string is a credential).
pub(crate) fn display_url(url: &str) -> String {
    let cut = url.find(['?', '#']).unwrap_or(url.len());
    let base = url.get(..cut).unwrap_or(url);
    let (scheme, rest) = match base.find("://") {
        Some(i) => (
            base.get(..i + 3).unwrap_or(""),
            base.get(i + 3..).unwrap_or(""),
        ),
        None => ("", base),
    };
    let auth_end = rest.find('/').unwrap_or(rest.len());
    let authority = rest.get(..auth_end).unwrap_or(rest);
    let path = rest.get(auth_end..).unwrap_or("");
    let authority = match authority.rfind('@') {
        Some(i) => authority.get(i + 1..).unwrap_or(""),
        None => authority,
    };
    format!("{scheme}{authority}{path}")
}

fn check_headers(headers: &[(String, String)], name: &str) -> Result<(), FetchError> {
    for (n, v) in headers {
        let bad = ureq::http::HeaderName::from_bytes(n.as_bytes()).is_err()
            || ureq::http::HeaderValue::from_str(v).is_err();
        if bad {
            // The value is a secret: only the name is quoted, and only if it
            // is printable.
            let shown: String = n
                .chars()
                .filter(|c| c.is_ascii_graphic())
                .take(64)
                .collect();
            return Err(FetchError::Fatal {
                name: name.to_owned(),
                detail: format!("invalid request header {shown:?} (expected 'Name: value')"),
            });
        }
        let lower = n.to_ascii_lowercase();
        if matches!(
            lower.as_str(),
            "range" | "if-match" | "if-unmodified-since" | "host"
        ) {
            return Err(FetchError::Fatal {
                name: name.to_owned(),
                detail: format!("the {n} header is set by isomount itself"),
            });
        }
    }
    Ok(())
}

/// The agent every request of one fetcher goes through: statuses come back
/// as answers (not errors), the platform's root certificates are trusted,
/// redirects are followed (ureq keeps `Range` and `If-Match` on them, and
/// `Authorization` only to the same host over https).
pub(crate) fn agent(opts: &HttpOptions) -> Agent {
    let tls = TlsConfig::builder()
        .root_certs(RootCerts::PlatformVerifier)
        .build();
    Agent::config_builder()
        .http_status_as_error(false)
        .tls_config(tls)
        .timeout_resolve(Some(opts.connect_timeout))
        .timeout_connect(Some(opts.connect_timeout))
        .timeout_global(Some(opts.timeout))
        .max_redirects(10)
        .redirect_auth_headers(RedirectAuthHeaders::SameHost)
        .max_idle_connections_per_host(16)
        .user_agent(concat!("isomount/", env!("CARGO_PKG_VERSION")))
        .build()
        .new_agent()
}

/// What a request is made with and how its failures are worded.
pub(crate) struct Target<'a> {
    pub(crate) agent: &'a Agent,
    /// Sent with every request; never shown.
    pub(crate) headers: &'a [(String, String)],
    /// The object as shown to users.
    pub(crate) name: &'a str,
    /// The host, for "cannot resolve host X".
    pub(crate) host: &'a str,
    /// Per-request headers that depend on the method (an S3 signature);
    /// never shown.
    pub(crate) auth: &'a dyn Fn(Method) -> Vec<(&'static str, String)>,
    /// A hint appended to a refusal, by the store's error code (S3's
    /// `SignatureDoesNotMatch`, …; `""` when the answer had none).
    pub(crate) hint: &'a dyn Fn(&str) -> Option<String>,
}

/// The bytes of an error answer read at most: enough for an S3 `<Error>`.
const ERROR_BODY_LIMIT: u64 = 16 * 1024;

type Resp = Response<ureq::Body>;

/// The two methods a fetcher sends.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Method {
    /// `HEAD`
    Head,
    /// `GET`
    Get,
}

impl Method {
    /// The method's name on the wire.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Method::Head => "HEAD",
            Method::Get => "GET",
        }
    }
}

fn send(
    t: &Target<'_>,
    method: Method,
    url: &str,
    extra: &[(&str, String)],
) -> Result<Resp, FetchError> {
    // The name and the range only: never the URL's query nor a header value.
    let range = extra
        .iter()
        .find(|(n, _)| *n == "Range")
        .map_or("", |(_, v)| v);
    log::debug!("{}: {} {range}", t.name, method.as_str());
    let mut req = match method {
        Method::Head => t.agent.head(url),
        Method::Get => t.agent.get(url),
    };
    for (n, v) in t.headers {
        req = req.header(n.as_str(), v.as_str());
    }
    for (n, v) in extra {
        req = req.header(*n, v.as_str());
    }
    for (n, v) in (t.auth)(method) {
        req = req.header(n, v);
    }
    req.call().map_err(|e| transport_error(t.name, t.host, &e))
}

/// A failure before any status came back.
fn transport_error(name: &str, host: &str, e: &ureq::Error) -> FetchError {
    let name = name.to_owned();
    let transient = |detail: String| FetchError::Transient {
        name: name.clone(),
        detail,
    };
    let fatal = |detail: String| FetchError::Fatal {
        name: name.clone(),
        detail,
    };
    use std::io::ErrorKind as K;
    match e {
        ureq::Error::HostNotFound => fatal(format!("cannot resolve host {}", host)),
        ureq::Error::Timeout(which) => transient(format!("timed out ({which})")),
        ureq::Error::Io(io) => match io.kind() {
            K::ConnectionRefused => transient(format!("connection refused by {}", host)),
            K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => {
                transient(format!("connection to {} lost ({io})", host))
            }
            K::UnexpectedEof => transient("the server closed the connection early".to_owned()),
            K::TimedOut | K::WouldBlock => transient(format!("timed out ({io})")),
            // std's resolver reports getaddrinfo failures as
            // "failed to lookup address information: <gai_strerror>".
            _ if io.to_string().contains("lookup address") => {
                if io.to_string().contains("Temporary failure") {
                    transient(format!("cannot resolve host {} (DNS failure)", host))
                } else {
                    fatal(format!("cannot resolve host {}", host))
                }
            }
            // rustls reports a refused certificate or a failed handshake
            // through the transport as InvalidData: retrying will not help.
            K::InvalidData if io.to_string().contains("certificate") => fatal(format!(
                "TLS: the server's certificate is not trusted ({io})"
            )),
            K::InvalidData => fatal(format!("TLS or protocol error: {io}")),
            _ => transient(format!("network error: {io}")),
        },
        ureq::Error::ConnectionFailed => transient(format!("cannot connect to {}", host)),
        ureq::Error::TooManyRedirects => fatal("too many redirects".to_owned()),
        ureq::Error::RedirectFailed => fatal("a redirect could not be followed".to_owned()),
        ureq::Error::BodyExceedsLimit(_) => {
            fatal("the server sent more bytes than were asked for".to_owned())
        }
        // Certificate and handshake failures do not mend by retrying.
        ureq::Error::Tls(m) => fatal(format!("TLS: {m}")),
        ureq::Error::Rustls(r) => fatal(format!("TLS: {r}")),
        ureq::Error::Protocol(p) => fatal(format!("malformed HTTP answer: {p}")),
        // BadUri and Http can quote the URL, with its query: not shown.
        ureq::Error::BadUri(_) | ureq::Error::Http(_) => {
            fatal("the URL or a redirect target is not valid".to_owned())
        }
        other => fatal(format!("request failed: {}", sanitize_ureq(other))),
    }
}

fn sanitize_ureq(e: &ureq::Error) -> String {
    // Whatever else ureq reports; cut any URL query that might ride along.
    let s = e.to_string();
    match s.find('?') {
        Some(i) => s.get(..i).unwrap_or("").to_owned(),
        None => s,
    }
}

fn header<'r>(r: &'r Resp, name: &str) -> Option<&'r str> {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

fn content_length(r: &Resp) -> Option<u64> {
    header(r, "content-length").and_then(|v| v.parse().ok())
}

/// A parsed `Content-Range` (RFC 9110 14.4): `bytes a-b/size` or
/// `bytes */size`.
#[derive(Debug, PartialEq, Eq)]
struct ContentRange {
    range: Option<(u64, u64)>,
    size: Option<u64>,
}

fn parse_content_range(v: &str) -> Option<ContentRange> {
    let rest = v.trim().strip_prefix("bytes")?.trim_start();
    let (range, size) = rest.split_once('/')?;
    let size = match size.trim() {
        "*" => None,
        s => Some(s.parse().ok()?),
    };
    let range = match range.trim() {
        "*" => None,
        r => {
            let (a, b) = r.split_once('-')?;
            let (a, b): (u64, u64) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
            if b < a {
                return None;
            }
            Some((a, b))
        }
    };
    Some(ContentRange { range, size })
}

fn meta_of(r: &Resp, size: u64) -> ObjectMeta {
    ObjectMeta {
        size,
        etag: header(r, "etag").map(str::to_owned),
        last_modified: header(r, "last-modified").map(str::to_owned),
    }
}

/// Learns the object's size and validators: a `HEAD`, and a `GET` of byte 0
/// where the `HEAD` was refused (405, 501, or 401/403, whose `HEAD` answer
/// carries no explanation), gave no length, or did not say
/// `Accept-Ranges: bytes` (RFC 9110 14.3), so that a server without ranges
/// is found out now rather than at the first read.
pub(crate) fn stat(t: &Target<'_>, url: &str) -> Result<ObjectMeta, FetchError> {
    let resp = send(t, Method::Head, url, &[])?;
    let status = resp.status();
    match status.as_u16() {
        200 => {
            let ranges = header(&resp, "accept-ranges").map(str::to_ascii_lowercase);
            if ranges.as_deref() == Some("none") {
                return Err(FetchError::NoRanges {
                    name: t.name.to_owned(),
                });
            }
            match content_length(&resp) {
                Some(size) if ranges.as_deref() == Some("bytes") => Ok(meta_of(&resp, size)),
                _ => stat_by_get(t, url),
            }
        }
        401 | 403 | 405 | 501 => stat_by_get(t, url),
        _ => Err(status_error(t, Method::Head, resp)),
    }
}

/// `GET` with `Range: bytes=0-0`: the `Content-Range` of the 206 gives the
/// size; a 200 shows the server ignores ranges.
fn stat_by_get(t: &Target<'_>, url: &str) -> Result<ObjectMeta, FetchError> {
    let mut resp = send(t, Method::Get, url, &[("Range", "bytes=0-0".to_owned())])?;
    match resp.status().as_u16() {
        206 => {
            let cr = header(&resp, "content-range").and_then(parse_content_range);
            let size = match cr {
                Some(ContentRange {
                    range: Some((0, 0)),
                    size: Some(size),
                }) => size,
                _ => {
                    return Err(FetchError::Fatal {
                        name: t.name.to_owned(),
                        detail: "the server's answer to a range request has no usable \
                                 Content-Range"
                            .to_owned(),
                    });
                }
            };
            let meta = meta_of(&resp, size);
            // Drain the one byte so the connection can be reused.
            let _ = resp
                .body_mut()
                .as_reader()
                .take(2)
                .read_to_end(&mut Vec::new());
            Ok(meta)
        }
        // An empty object: no byte 0 to send (RFC 9110 15.5.17).
        416 if header(&resp, "content-range")
            .and_then(parse_content_range)
            .is_some_and(|c| c.size == Some(0)) =>
        {
            Ok(meta_of(&resp, 0))
        }
        200 => Err(FetchError::NoRanges {
            name: t.name.to_owned(),
        }),
        _ => Err(status_error(t, Method::Get, resp)),
    }
}

/// The bytes `start .. start + len` of the object pinned by `pinned`
/// (fewer only where the object ends), in a new buffer: see
/// [`get_range_stream`].
pub(crate) fn get_range(
    t: &Target<'_>,
    url: &str,
    start: u64,
    len: u64,
    pinned: &ObjectMeta,
) -> Result<Vec<u8>, FetchError> {
    if len == 0 || start >= pinned.size {
        return Ok(Vec::new());
    }
    // Never past the end the object had when it was opened.
    let want = len.min(pinned.size - start);
    let mut buf = vec![
        0;
        usize::try_from(want).map_err(|_| FetchError::Fatal {
            name: t.name.to_owned(),
            detail: format!("a range of {want} bytes does not fit in memory"),
        })?
    ];
    get_range_stream(t, url, start, want, pinned)?.read_next(&mut buf)?;
    Ok(buf)
}

/// Asks for the bytes `start .. start + len` (within `pinned.size`) of the
/// object pinned by `pinned` (RFC 9110 13.1.1 `If-Match`, else 13.1.4
/// `If-Unmodified-Since`); a 206 whose `Content-Range`, length or
/// validator disagrees is not accepted. The body is left to be read as it
/// arrives.
pub(crate) fn get_range_stream(
    t: &Target<'_>,
    url: &str,
    start: u64,
    len: u64,
    pinned: &ObjectMeta,
) -> Result<HttpBody, FetchError> {
    let name = || t.name.to_owned();
    let want = len;
    let end = start
        .checked_add(want)
        .filter(|&end| want > 0 && end <= pinned.size)
        .map(|end| end - 1)
        .ok_or_else(|| FetchError::Fatal {
            name: name(),
            detail: format!(
                "bytes {start}+{want} are not within the object ({} bytes)",
                pinned.size
            ),
        })?;
    let mut extra = vec![("Range", format!("bytes={start}-{end}"))];
    if let Some(etag) = pinned.strong_etag() {
        extra.push(("If-Match", etag.to_owned()));
    } else if let Some(lm) = &pinned.last_modified {
        extra.push(("If-Unmodified-Since", lm.clone()));
    }
    let resp = send(t, Method::Get, url, &extra)?;
    match resp.status().as_u16() {
        206 => {}
        200 => return Err(FetchError::NoRanges { name: name() }),
        412 => {
            return Err(FetchError::Changed {
                name: name(),
                detail: "the server says its version no longer matches (HTTP 412)".to_owned(),
            });
        }
        _ => return Err(status_error(t, Method::Get, resp)),
    }
    check_validators(t, &resp, pinned)?;
    let cr = header(&resp, "content-range").and_then(parse_content_range);
    match cr {
        Some(ContentRange {
            range: Some((a, b)),
            size,
        }) if a == start && b == end => {
            if let Some(size) = size.filter(|s| *s != pinned.size) {
                return Err(FetchError::Changed {
                    name: name(),
                    detail: format!("its size is now {size} bytes, was {}", pinned.size),
                });
            }
        }
        Some(_) => {
            return Err(FetchError::Transient {
                name: name(),
                detail: format!(
                    "asked for bytes {start}-{end}, the server sent {}",
                    header(&resp, "content-range").unwrap_or("")
                ),
            });
        }
        None => {
            // Several ranges (multipart/byteranges) or none: not what was
            // asked for.
            return Err(FetchError::Fatal {
                name: name(),
                detail: "the server's 206 answer has no usable Content-Range".to_owned(),
            });
        }
    }
    if let Some(cl) = content_length(&resp).filter(|cl| *cl != want) {
        return Err(FetchError::Fatal {
            name: name(),
            detail: format!("the server announced {cl} bytes for a range of {want}"),
        });
    }
    Ok(HttpBody {
        reader: resp.into_body().into_reader(),
        name: name(),
        host: t.host.to_owned(),
        start,
        end,
        at: start,
    })
}

/// The body of a checked 206 answer for bytes `start ..= end`.
pub(crate) struct HttpBody {
    reader: ureq::BodyReader<'static>,
    name: String,
    host: String,
    start: u64,
    end: u64,
    /// The object byte the next read starts at.
    at: u64,
}

impl RangeBody for HttpBody {
    /// Reads straight into `buf`. Once the range is complete, reads on to
    /// the end of the body: a longer body is an error (a hostile server
    /// cannot make us take more), and a body read to its end hands the
    /// connection back for the next request.
    fn read_next(&mut self, buf: &mut [u8]) -> Result<(), FetchError> {
        let (start, end) = (self.start, self.end);
        if self.at + buf.len() as u64 > end + 1 {
            return Err(FetchError::Fatal {
                name: self.name.clone(),
                detail: format!("a read past the range {start}-{end} asked for"),
            });
        }
        let io_error =
            |e: std::io::Error| transport_error(&self.name, &self.host, &ureq::Error::Io(e));
        let mut got = 0;
        while got < buf.len() {
            let dst = buf.get_mut(got..).unwrap_or_default();
            match self.reader.read(dst) {
                Ok(0) => {
                    let sent = self.at + got as u64 - start;
                    return Err(FetchError::Transient {
                        name: self.name.clone(),
                        detail: format!(
                            "the server sent {sent} of the {} bytes of range {start}-{end}",
                            end - start + 1
                        ),
                    });
                }
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io_error(e)),
            }
        }
        self.at += got as u64;
        if self.at > end {
            let mut probe = [0u8; 1];
            loop {
                match self.reader.read(&mut probe) {
                    Ok(0) => break,
                    Ok(_) => {
                        return Err(FetchError::Fatal {
                            name: self.name.clone(),
                            detail: "the server sent more bytes than were asked for".into(),
                        });
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(io_error(e)),
                }
            }
        }
        Ok(())
    }
}

/// The validators of a 206 must be those of the pinned version: a server
/// (or a cache in between) that ignored `If-Match` is caught here.
fn check_validators(t: &Target<'_>, resp: &Resp, pinned: &ObjectMeta) -> Result<(), FetchError> {
    let changed = |what: &str, now: &str, was: &str| FetchError::Changed {
        name: t.name.to_owned(),
        detail: format!("its {what} is now {now}, was {was}"),
    };
    if let (Some(now), Some(was)) = (header(resp, "etag"), pinned.etag.as_deref()) {
        if now != was {
            return Err(changed("ETag", now, was));
        }
    } else if pinned.etag.is_none() {
        if let (Some(now), Some(was)) = (
            header(resp, "last-modified"),
            pinned.last_modified.as_deref(),
        ) {
            if now != was {
                return Err(changed("Last-Modified date", now, was));
            }
        }
    }
    Ok(())
}

/// An S3-style `<Error><Code>…</Code><Message>…</Message></Error>` body's
/// code and message, if the answer has one. Bounded: at most
/// [`ERROR_BODY_LIMIT`] bytes are read, and each field is cut short.
fn error_body(resp: &mut Resp) -> Option<(String, String)> {
    let mut buf = Vec::new();
    // A body cut short still has its code, most likely: what came is used.
    let _ = resp
        .body_mut()
        .as_reader()
        .take(ERROR_BODY_LIMIT)
        .read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    let field = |tag: &str| -> Option<String> {
        let open = format!("<{tag}>");
        let close = format!("</{tag}>");
        let from = text.find(&open)? + open.len();
        let len = text.get(from..)?.find(&close)?;
        let raw = text.get(from..from + len)?;
        let s = raw
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&");
        Some(s.chars().filter(|c| !c.is_control()).take(300).collect())
    };
    let code = field("Code")?;
    Some((code, field("Message").unwrap_or_default()))
}

/// A status that is not the expected answer, as a [`FetchError`].
fn status_error(t: &Target<'_>, method: Method, mut resp: Resp) -> FetchError {
    let status = resp.status();
    let name = t.name.to_owned();
    let coded = if method == Method::Get {
        error_body(&mut resp)
    } else {
        None
    };
    let mut detail = match &coded {
        Some((code, msg)) if msg.is_empty() => code.clone(),
        Some((code, msg)) => format!("{code}: {msg}"),
        None => status_line(status),
    };
    let code = coded.as_ref().map_or("", |(c, _)| c.as_str());
    match status.as_u16() {
        404 => FetchError::NotFound { name },
        401 | 403 => {
            if let Some(h) = (t.hint)(code) {
                detail.push_str(" (");
                detail.push_str(&h);
                detail.push(')');
            }
            FetchError::Denied { name, detail }
        }
        416 => FetchError::Fatal {
            name,
            detail: format!(
                "range not satisfiable ({detail}; the server says the object is {})",
                header(&resp, "content-range").unwrap_or("of unknown size")
            ),
        },
        408 | 429 | 500..=599 => FetchError::Transient { name, detail },
        300..=399 => FetchError::Fatal {
            name,
            detail: format!("a redirect that was not followed ({detail})"),
        },
        _ => {
            if let Some(h) = (t.hint)(code) {
                detail.push_str(" (");
                detail.push_str(&h);
                detail.push(')');
            }
            FetchError::Fatal { name, detail }
        }
    }
}

fn status_line(s: StatusCode) -> String {
    match s.canonical_reason() {
        Some(r) => format!("HTTP {} {r}", s.as_u16()),
        None => format!("HTTP {}", s.as_u16()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_url_drops_credentials() {
        assert_eq!(
            display_url("https://u:p@h.example:8443/a/b.iso?X-Amz-Signature=s#f"),
            "https://h.example:8443/a/b.iso"
        );
        assert_eq!(display_url("http://h/x.iso"), "http://h/x.iso");
        assert_eq!(display_url("http://h?q=1"), "http://h");
    }

    #[test]
    fn urls_are_checked() {
        let o = HttpOptions::default();
        assert!(HttpFetcher::new("ftp://h/x", &o).is_err());
        assert!(HttpFetcher::new("h/x", &o).is_err());
        assert!(HttpFetcher::new("http:///x", &o).is_err());
        assert!(HttpFetcher::new("https://h/x.iso", &o).is_ok());
        let bad = HttpOptions {
            headers: vec![("Bad Name".into(), "secret".into())],
            ..HttpOptions::default()
        };
        let e = HttpFetcher::new("https://h/x.iso", &bad)
            .err()
            .map(|e| e.to_string());
        assert!(e.is_some_and(|e| !e.contains("secret")));
    }

    #[test]
    fn content_range() {
        assert_eq!(
            parse_content_range("bytes 0-0/1234"),
            Some(ContentRange {
                range: Some((0, 0)),
                size: Some(1234)
            })
        );
        assert_eq!(
            parse_content_range("bytes */0"),
            Some(ContentRange {
                range: None,
                size: Some(0)
            })
        );
        assert_eq!(
            parse_content_range("bytes 5-9/*"),
            Some(ContentRange {
                range: Some((5, 9)),
                size: None
            })
        );
        assert_eq!(parse_content_range("bytes 9-5/10"), None);
        assert_eq!(parse_content_range("items 0-1/2"), None);
    }
}
