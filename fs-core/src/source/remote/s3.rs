//! S3 objects (AWS, and S3-compatible stores: MinIO, Ceph, R2, …).
//!
//! Each request is presigned (SigV4 in the query string, rusty-s3) a moment
//! before it is sent, and then goes through exactly the HTTP code of
//! [`HttpFetcher`](super::HttpFetcher): the same range and conditional
//! requests (RFC 9110) and the same mapping of answers. Only `s3:GetObject`
//! is needed: `HeadObject` is authorised by it, and where a store refuses the
//! `HEAD` anyway, the first byte is fetched with a `GET` instead. Bucket
//! listings and `HeadBucket` are never asked for.
//!
//! S3 error answers (`<Error><Code>…</Code><Message>…</Message></Error>`)
//! become the detail of the error, with a hint at the setting to check; the
//! secret key, session token and signatures appear in no message.

use std::time::Duration;

use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};
use ureq::Agent;

use super::aws_config::S3Config;
use super::fetch::{FetchError, ObjectMeta, RangeFetcher};
use super::http::{self, Target};

/// How long a presigned URL is valid: it is signed just before its one
/// request, which the request timeout bounds.
const PRESIGN_FOR: Duration = Duration::from_secs(5 * 60);

/// One S3 object, read with presigned range requests.
pub struct S3Fetcher {
    agent: Agent,
    bucket: Bucket,
    key: String,
    credentials: Option<Credentials>,
    /// Where the credentials came from, for hints.
    source: Option<String>,
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
        let host = bucket_obj.base_url().host_str().unwrap_or("").to_owned();
        let credentials = cfg.credentials.as_ref().map(|c| match &c.session_token {
            Some(t) => Credentials::new_with_token(
                c.access_key_id.clone(),
                c.secret_access_key.clone(),
                t.clone(),
            ),
            None => Credentials::new(c.access_key_id.clone(), c.secret_access_key.clone()),
        });
        Ok(S3Fetcher {
            agent: http::agent(&cfg.http),
            bucket: bucket_obj,
            key: key.to_owned(),
            credentials,
            source: cfg.credentials.as_ref().map(|c| c.source.clone()),
            headers: cfg.http.headers.clone(),
            name,
            host,
        })
    }

    fn get_url(&self) -> String {
        self.bucket
            .get_object(self.credentials.as_ref(), &self.key)
            .sign(PRESIGN_FOR)
            .to_string()
    }

    fn head_url(&self) -> String {
        self.bucket
            .head_object(self.credentials.as_ref(), &self.key)
            .sign(PRESIGN_FOR)
            .to_string()
    }

    /// What to check, by S3 error code.
    fn hint(&self, code: &str) -> Option<String> {
        let from = match &self.source {
            Some(s) => format!("; the keys came from {s}"),
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
            "AccessDenied" => format!("the credentials need s3:GetObject on this object{from}"),
            "" => format!("the key may be wrong or lack s3:GetObject{from}"),
            _ => return None,
        })
    }

    fn with_target<R>(&self, f: impl FnOnce(&Target<'_>) -> R) -> R {
        let hint = |code: &str| self.hint(code);
        f(&Target {
            agent: &self.agent,
            headers: &self.headers,
            name: &self.name,
            host: &self.host,
            hint: &hint,
        })
    }
}

impl RangeFetcher for S3Fetcher {
    fn name(&self) -> &str {
        &self.name
    }

    fn stat(&self) -> Result<ObjectMeta, FetchError> {
        self.with_target(|t| http::stat(t, &self.head_url(), &|| self.get_url()))
    }

    fn fetch(&self, start: u64, len: u64, pinned: &ObjectMeta) -> Result<Vec<u8>, FetchError> {
        self.with_target(|t| http::get_range(t, &self.get_url(), start, len, pinned))
    }
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
        let u = f.get_url();
        assert!(
            u.starts_with("https://bkt.s3.eu-west-1.amazonaws.com/dir/a%20b.iso?"),
            "{u}"
        );
        assert!(!u.contains("topsecret"));
        let f = S3Fetcher::new("bkt", "k", &cfg(Some("http://127.0.0.1:9000"))).unwrap();
        assert!(f.get_url().starts_with("http://127.0.0.1:9000/bkt/k?"));
        let f = S3Fetcher::new("a.b", "k", &cfg(None)).unwrap();
        assert!(
            f.get_url()
                .starts_with("https://s3.eu-west-1.amazonaws.com/a.b/k?")
        );
        assert!(S3Fetcher::new("bkt", "k", &cfg(Some("ftp://x"))).is_err());
        assert!(S3Fetcher::new("", "k", &cfg(None)).is_err());
    }
}
