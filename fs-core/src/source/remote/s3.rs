//! S3 objects (AWS, and S3-compatible stores: MinIO, Ceph, R2, …).
//!
//! Each request is signed (AWS Signature Version 4, `Authorization` header:
//! AWS docs, "Signature Version 4 for API requests", "Authenticating
//! Requests: Using the Authorization Header") a moment before it is sent,
//! and then goes through exactly the HTTP code of
//! [`HttpFetcher`](super::HttpFetcher): the same range and conditional
//! requests (RFC 9110) and the same mapping of answers. The header rather
//! than a presigned query string: the signature then never becomes part of
//! a URL (that a redirect, a proxy log or an error could show), and stores
//! that verify only header signatures (moto's IAM emulation) accept it too.
//! rusty-s3 makes the object URLs (virtual-hosted or path style, key
//! encoding). Only `s3:GetObject` is needed: `HeadObject` is authorised by
//! it, and where a store refuses the `HEAD` anyway, the first byte is
//! fetched with a `GET` instead. Bucket listings and `HeadBucket` are never
//! asked for.
//!
//! S3 error answers (`<Error><Code>…</Code><Message>…</Message></Error>`)
//! become the detail of the error, with a hint at the setting to check; the
//! secret key, session token and signatures appear in no message.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use rusty_s3::{Bucket, UrlStyle};
use sha2::{Digest, Sha256};
use ureq::Agent;

use super::aws_config::{S3Config, S3Credentials};
use super::fetch::{FetchError, ObjectMeta, RangeBody, RangeFetcher};
use super::hex;
use super::http::{self, Method, Target};

/// One S3 object, read with signed range requests.
pub struct S3Fetcher {
    agent: Agent,
    /// The object's URL.
    url: String,
    /// `host[:port]` as sent in the `Host` header (and signed).
    host_header: String,
    /// The path of `url`, already percent-encoded: the canonical URI.
    path: String,
    region: String,
    credentials: Option<S3Credentials>,
    headers: Vec<(String, String)>,
    name: String,
    host: String,
}

impl S3Fetcher {
    /// A fetcher for `s3://bucket/key` as configured by `cfg` (see
    /// [`S3Config::from_env`]). Makes no request yet.
    pub fn new(bucket: &str, key: &str, cfg: &S3Config) -> Result<S3Fetcher, FetchError> {
        let name = format!("s3://{bucket}/{key}");
        let fatal = |detail: String| FetchError::Fatal {
            name: name.clone(),
            detail,
        };
        if bucket.is_empty() || key.is_empty() {
            return Err(fatal("an S3 location is s3://BUCKET/KEY".to_owned()));
        }
        let (endpoint, style) = match &cfg.endpoint {
            Some(e) => (e.clone(), UrlStyle::Path),
            // Virtual-hosted style, except for names with dots, which do not
            // match the wildcard certificate.
            None if bucket.contains('.') => (
                format!("https://s3.{}.amazonaws.com", cfg.region),
                UrlStyle::Path,
            ),
            None => (
                format!("https://s3.{}.amazonaws.com", cfg.region),
                UrlStyle::VirtualHost,
            ),
        };
        let shown_endpoint = http::display_url(&endpoint);
        let endpoint_url = endpoint
            .parse()
            .map_err(|e| fatal(format!("invalid S3 endpoint {shown_endpoint}: {e}")))?;
        let bucket_obj = Bucket::new(endpoint_url, style, bucket.to_owned(), cfg.region.clone())
            .map_err(|e| {
                fatal(format!(
                    "cannot address the bucket at {shown_endpoint}: {e:?}"
                ))
            })?;
        let url = bucket_obj.object_url(key);
        let host = url.host_str().unwrap_or("").to_owned();
        let host_header = match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.clone(),
        };
        Ok(S3Fetcher {
            agent: http::agent(&cfg.http),
            path: url.path().to_owned(),
            url: url.to_string(),
            host_header,
            region: cfg.region.clone(),
            credentials: cfg.credentials.clone(),
            headers: cfg.http.headers.clone(),
            name,
            host,
        })
    }

    /// The signature headers of one request sent now.
    fn auth(&self, method: Method) -> Vec<(&'static str, String)> {
        match &self.credentials {
            Some(c) => sign_v4(
                c,
                &self.region,
                method.as_str(),
                &self.host_header,
                &self.path,
                SystemTime::now(),
            ),
            None => Vec::new(),
        }
    }

    /// What to check, by S3 error code.
    fn hint(&self, code: &str) -> Option<String> {
        let from = match &self.credentials {
            Some(c) => format!("; the keys came from {}", c.source),
            None => String::new(),
        };
        let anonymous = self.credentials.is_none();
        Some(match code {
            "SignatureDoesNotMatch" => {
                format!("check AWS_SECRET_ACCESS_KEY / the profile's aws_secret_access_key{from}")
            }
            "InvalidAccessKeyId" => {
                format!("check AWS_ACCESS_KEY_ID / the profile's aws_access_key_id{from}")
            }
            "ExpiredToken" | "InvalidToken" | "TokenRefreshRequired" => format!(
                "the session token (AWS_SESSION_TOKEN / aws_session_token) is expired or \
                 wrong{from}"
            ),
            "RequestTimeTooSkewed" => "the system clock is wrong".to_owned(),
            "AuthorizationHeaderMalformed"
            | "AuthorizationQueryParametersError"
            | "PermanentRedirect"
            | "IllegalLocationConstraintException" => {
                "check the region: AWS_REGION / the profile's region".to_owned()
            }
            "AccessDenied" | "" if anonymous => {
                "the object is not public: give credentials instead of --no-sign-request".to_owned()
            }
            // Without s3:ListBucket, S3 answers 403, not 404, for a key
            // that does not exist.
            "AccessDenied" => format!(
                "the credentials need s3:GetObject on this object, or the key does not \
                 exist{from}"
            ),
            "" => format!("the key may be wrong or lack s3:GetObject{from}"),
            _ => return None,
        })
    }

    fn with_target<R>(&self, f: impl FnOnce(&Target<'_>) -> R) -> R {
        let hint = |code: &str| self.hint(code);
        let auth = |method: Method| self.auth(method);
        f(&Target {
            agent: &self.agent,
            headers: &self.headers,
            name: &self.name,
            host: &self.host,
            auth: &auth,
            hint: &hint,
        })
    }
}

impl RangeFetcher for S3Fetcher {
    fn name(&self) -> &str {
        &self.name
    }

    fn stat(&self) -> Result<ObjectMeta, FetchError> {
        self.with_target(|t| http::stat(t, &self.url))
    }

    fn fetch(&self, start: u64, len: u64, pinned: &ObjectMeta) -> Result<Vec<u8>, FetchError> {
        self.with_target(|t| http::get_range(t, &self.url, start, len, pinned))
    }

    fn fetch_stream(
        &self,
        start: u64,
        len: u64,
        pinned: &ObjectMeta,
    ) -> Result<Box<dyn RangeBody + '_>, FetchError> {
        let body =
            self.with_target(|t| http::get_range_stream(t, &self.url, start, len, pinned))?;
        Ok(Box::new(body))
    }
}

/// SHA-256 of the empty body of a `GET` / `HEAD`.
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// HMAC-SHA256 (RFC 2104) on `sha2`, the one MAC SigV4 needs.
fn hmac(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        for (d, s) in k.iter_mut().zip(Sha256::digest(key).iter()) {
            *d = *s;
        }
    } else {
        for (d, s) in k.iter_mut().zip(key) {
            *d = *s;
        }
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(msg);
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    let mut out = [0u8; 32];
    for (d, s) in out.iter_mut().zip(outer.finalize().iter()) {
        *d = *s;
    }
    out
}

/// `YYYYMMDDTHHMMSSZ` of `t` (UTC).
fn amz_date(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Days since 1970-01-01 to a civil date (H. Hinnant, "chrono-Compatible
    // Low-Level Date Algorithms", civil_from_days).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// The headers that sign a body-less request with SigV4 (AWS docs,
/// "Create a signed AWS API request"): `x-amz-date`,
/// `x-amz-content-sha256`, `x-amz-security-token` with temporary
/// credentials, and `Authorization`. Signed are `host` and those `x-amz-*`
/// headers, so `Range` and `If-Match` can be added freely. `path` is the
/// URL's path as sent (already percent-encoded, which S3 does not encode a
/// second time), with no query string.
fn sign_v4(
    c: &S3Credentials,
    region: &str,
    method: &str,
    host: &str,
    path: &str,
    now: SystemTime,
) -> Vec<(&'static str, String)> {
    let date_time = amz_date(now);
    let date = date_time.get(..8).unwrap_or("");
    let mut headers: Vec<(&'static str, String)> = vec![
        ("host", host.to_owned()),
        ("x-amz-content-sha256", EMPTY_SHA256.to_owned()),
        ("x-amz-date", date_time.clone()),
    ];
    if let Some(t) = &c.session_token {
        headers.push(("x-amz-security-token", t.clone()));
    }
    let signature = signature(c, region, method, path, &headers, &date_time);
    let signed: Vec<&str> = headers.iter().map(|(n, _)| *n).collect();
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={}/{date}/{region}/s3/aws4_request, \
         SignedHeaders={}, Signature={signature}",
        c.access_key_id,
        signed.join(";")
    );
    headers.retain(|(n, _)| *n != "host"); // ureq sends Host itself
    headers.push(("Authorization", authorization));
    headers
}

/// The SigV4 signature of a request without query nor body, whose signed
/// `headers` are lower-case, sorted and trimmed.
fn signature(
    c: &S3Credentials,
    region: &str,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    date_time: &str,
) -> String {
    let date = date_time.get(..8).unwrap_or("");
    let mut canonical = format!("{method}\n{path}\n\n");
    for (n, v) in headers {
        let _ = writeln!(canonical, "{n}:{}", v.trim());
    }
    let signed: Vec<&str> = headers.iter().map(|(n, _)| *n).collect();
    let _ = write!(canonical, "\n{}\n{EMPTY_SHA256}", signed.join(";"));
    let scope = format!("{date}/{region}/s3/aws4_request");
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{date_time}\n{scope}\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let k_date = hmac(
        format!("AWS4{}", c.secret_access_key).as_bytes(),
        date.as_bytes(),
    );
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, b"s3");
    let k_signing = hmac(&k_service, b"aws4_request");
    hex(&hmac(&k_signing, to_sign.as_bytes()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::source::remote::{HttpOptions, S3Credentials};

    fn cfg(endpoint: Option<&str>) -> S3Config {
        S3Config {
            region: "eu-west-1".to_owned(),
            endpoint: endpoint.map(str::to_owned),
            credentials: Some(S3Credentials {
                access_key_id: "AKIDEXAMPLE".to_owned(),
                secret_access_key: "topsecret".to_owned(),
                session_token: None,
                source: "the environment".to_owned(),
            }),
            http: HttpOptions::default(),
        }
    }

    #[test]
    fn addressing() {
        let f = S3Fetcher::new("bkt", "dir/a b.iso", &cfg(None)).unwrap();
        assert_eq!(f.name(), "s3://bkt/dir/a b.iso");
        assert_eq!(
            f.url,
            "https://bkt.s3.eu-west-1.amazonaws.com/dir/a%20b.iso"
        );
        assert_eq!(f.host_header, "bkt.s3.eu-west-1.amazonaws.com");
        let f = S3Fetcher::new("bkt", "k", &cfg(Some("http://127.0.0.1:9000"))).unwrap();
        assert_eq!(f.url, "http://127.0.0.1:9000/bkt/k");
        assert_eq!(f.host_header, "127.0.0.1:9000");
        let f = S3Fetcher::new("a.b", "k", &cfg(None)).unwrap();
        assert_eq!(f.url, "https://s3.eu-west-1.amazonaws.com/a.b/k");
        assert!(S3Fetcher::new("bkt", "k", &cfg(Some("ftp://x"))).is_err());
        assert!(S3Fetcher::new("", "k", &cfg(None)).is_err());
    }

    #[test]
    fn dates() {
        let at = |s: u64| amz_date(UNIX_EPOCH + std::time::Duration::from_secs(s));
        assert_eq!(at(0), "19700101T000000Z");
        assert_eq!(at(1_369_353_600), "20130524T000000Z");
        assert_eq!(at(951_782_400 + 3661), "20000229T010101Z");
        assert_eq!(at(4_102_444_799), "20991231T235959Z");
    }

    #[test]
    fn hmac_rfc4231_case_2() {
        assert_eq!(
            hex(&hmac(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    /// The "GET Object" example of the AWS docs ("Signature Calculations for
    /// the Authorization Header"), whose signed headers include `range`.
    #[test]
    fn sigv4_aws_example() {
        let c = S3Credentials {
            access_key_id: "AKIAIOSFODNN7EXAMPLE".to_owned(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".to_owned(),
            session_token: None,
            source: String::new(),
        };
        let headers = [
            ("host", "examplebucket.s3.amazonaws.com".to_owned()),
            ("range", "bytes=0-9".to_owned()),
            ("x-amz-content-sha256", EMPTY_SHA256.to_owned()),
            ("x-amz-date", "20130524T000000Z".to_owned()),
        ];
        assert_eq!(
            signature(
                &c,
                "us-east-1",
                "GET",
                "/test.txt",
                &headers,
                "20130524T000000Z"
            ),
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
        let h = sign_v4(
            &c,
            "us-east-1",
            "GET",
            "examplebucket.s3.amazonaws.com",
            "/test.txt",
            UNIX_EPOCH + std::time::Duration::from_secs(1_369_353_600),
        );
        let auth = &h.iter().find(|(n, _)| *n == "Authorization").unwrap().1;
        assert!(auth.starts_with(
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature="
        ));
        assert!(!format!("{h:?}").contains("EXAMPLEKEY"));

        // Temporary credentials: the token is sent and signed.
        let c = S3Credentials {
            session_token: Some("TOKEN".to_owned()),
            ..c
        };
        let h = sign_v4(&c, "us-east-1", "HEAD", "h", "/k", UNIX_EPOCH);
        assert!(h.contains(&("x-amz-security-token", "TOKEN".to_owned())));
        let auth = &h.iter().find(|(n, _)| *n == "Authorization").unwrap().1;
        assert!(auth.contains(
            "/19700101/us-east-1/s3/aws4_request, \
             SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token, "
        ));
    }
}
