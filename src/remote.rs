//! Images named by URL: `http://…`, `https://…`, `s3://bucket/key`.
//!
//! Every command that takes IMAGE takes these too; the image is read where
//! it lies through fs-core's `source::remote` (chunks fetched on demand,
//! kept in memory and in the persistent cache under `--cache-dir`).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Result, anyhow};
use fs_core::container::{Neighbour, Neighbours};
use fs_core::source::remote::{
    DiskCache, FetchError, HttpFetcher, HttpOptions, RangeFetcher, RemoteOptions, RemoteSource,
    RemoteStats, S3Config, S3Fetcher,
};

use crate::cli::ImageArgs;

/// Environment variable through which `mount` hands `--header` values to
/// its background server: argv is world-readable in /proc, the environment
/// is not.
pub const HEADERS_ENV: &str = "ISOMOUNT_HTTP_HEADERS";

/// Where an image is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageRef {
    /// A local file or block device.
    Local(PathBuf),
    /// An `http://` or `https://` URL.
    Http(String),
    /// An `s3://bucket/key` object.
    S3 {
        /// The bucket.
        bucket: String,
        /// The key (may contain `/`).
        key: String,
    },
}

impl ImageRef {
    /// Parses the IMAGE argument: a URL with a scheme isomount reads, or a
    /// local path. `x://...` with another scheme is an error (not a file
    /// named so), as is an `s3://` URL without a key.
    pub fn parse(image: &Path) -> Result<ImageRef> {
        let Some(s) = image.to_str() else {
            return Ok(ImageRef::Local(image.to_path_buf()));
        };
        let Some((scheme, rest)) = s.split_once("://") else {
            return Ok(ImageRef::Local(image.to_path_buf()));
        };
        match scheme.to_ascii_lowercase().as_str() {
            "http" | "https" => Ok(ImageRef::Http(s.to_string())),
            "s3" => {
                let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
                if bucket.is_empty() || key.is_empty() {
                    return Err(anyhow!("{s}: an S3 image is s3://BUCKET/KEY (both needed)"));
                }
                Ok(ImageRef::S3 {
                    bucket: bucket.to_string(),
                    key: key.to_string(),
                })
            }
            // A relative path such as `a://b` is unusual enough that a URL
            // was meant.
            _ if !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric()) => {
                Err(anyhow!(
                    "{s}: unsupported URL scheme {scheme:?} (isomount reads http, https and s3)"
                ))
            }
            _ => Ok(ImageRef::Local(image.to_path_buf())),
        }
    }

    /// True for the remote kinds.
    pub fn is_remote(&self) -> bool {
        !matches!(self, ImageRef::Local(_))
    }

    /// The image as shown in messages, `mount` output and `isomount list`:
    /// URLs without userinfo, query string or fragment (they may carry
    /// credentials or a signature).
    pub fn shown(&self) -> String {
        match self {
            ImageRef::Local(p) => p.display().to_string(),
            ImageRef::Http(url) => without_secrets(url),
            ImageRef::S3 { bucket, key } => format!("s3://{bucket}/{key}"),
        }
    }

    /// The file `name` (a relative path with `/` separators, as a cue
    /// sheet names its BIN) next to this remote image: the same directory
    /// of the same server or bucket. `None` for a local image, and for a
    /// name that is absolute or steps out with `..`. An HTTP image's query
    /// string (a presigned URL's signature is for that one object) and
    /// fragment are not carried over; its user info is.
    pub fn sibling(&self, name: &str) -> Option<ImageRef> {
        let segments: Vec<&str> = name.split('/').collect();
        if segments
            .iter()
            .any(|s| s.is_empty() || *s == "." || *s == "..")
        {
            return None;
        }
        match self {
            ImageRef::Local(_) => None,
            ImageRef::Http(url) => {
                let cut = url.find(['?', '#']).unwrap_or(url.len());
                let base = url.get(..cut)?;
                let path_start = base.find("://")? + 3;
                let dir_end = base.get(path_start..)?.rfind('/')? + path_start + 1;
                let encoded: Vec<String> = segments.iter().map(|s| percent_encode(s)).collect();
                Some(ImageRef::Http(format!(
                    "{}{}",
                    base.get(..dir_end)?,
                    encoded.join("/")
                )))
            }
            ImageRef::S3 { bucket, key } => {
                let dir = key.rfind('/').map_or("", |i| key.get(..=i).unwrap_or(""));
                Some(ImageRef::S3 {
                    bucket: bucket.clone(),
                    key: format!("{dir}{name}"),
                })
            }
        }
    }
}

/// `segment` as one path segment of a URL (RFC 3986 3.3): unreserved
/// characters and sub-delimiters as they are, every other byte as `%XX`.
fn percent_encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The files next to a remote image, read the same way (same options,
/// headers, credentials and caches): the BIN of a cue sheet given by URL,
/// the cue sheet next to a BIN, the MDF of an MDS. Each one opened is
/// counted in `--stats` with the image.
#[derive(Debug)]
pub struct RemoteDir {
    image: ImageRef,
    args: ImageArgs,
}

impl RemoteDir {
    /// The neighbours of the remote `image`, opened with `args`.
    pub fn new(image: ImageRef, args: ImageArgs) -> RemoteDir {
        RemoteDir { image, args }
    }
}

impl Neighbours for RemoteDir {
    fn image_name(&self) -> String {
        self.image.shown()
    }

    fn open(&self, name: &str) -> io::Result<Option<Neighbour>> {
        let Some(sibling) = self.image.sibling(name) else {
            return Ok(None);
        };
        match open_source(&sibling, &self.args) {
            Ok(src) => {
                let src = Arc::new(src);
                register(Arc::clone(&src));
                Ok(Some((sibling.shown(), src)))
            }
            Err(e) if matches!(e.downcast_ref(), Some(FetchError::NotFound { .. })) => Ok(None),
            // FetchError's messages carry no secrets.
            Err(e) => Err(io::Error::other(format!("{e:#}"))),
        }
    }

    fn is_image(&self, name: &str) -> bool {
        // The image's own URL may carry a query string its siblings lose.
        self.image
            .sibling(name)
            .is_some_and(|s| s.shown() == self.image.shown())
    }
}

/// `url` without `user:password@`, `?query` and `#fragment`.
pub fn without_secrets(url: &str) -> String {
    let cut = url.find(['?', '#']).unwrap_or(url.len());
    let url = url.get(..cut).unwrap_or(url);
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            format!("{scheme}://{host}{path}")
        }
        None => url.to_string(),
    }
}

/// The remote sources this process opened (the image, and the files next
/// to it a container named), for `--stats`, `info --json` and the mount's
/// SIGUSR1.
static OPENED: Mutex<Vec<Arc<RemoteSource>>> = Mutex::new(Vec::new());

fn opened() -> Vec<Arc<RemoteSource>> {
    OPENED.lock().map(|v| v.clone()).unwrap_or_default()
}

/// Remembers `src` as one of this process's remote sources.
pub fn register(src: Arc<RemoteSource>) {
    if let Ok(mut v) = OPENED.lock() {
        v.push(src);
    }
}

/// The first remote source (the image as named) and the sum of every
/// one's counters.
fn totals() -> Option<(String, RemoteStats)> {
    let all = opened();
    let name = without_secrets(all.first()?.name());
    let sum = all
        .iter()
        .map(|s| s.stats())
        .fold(RemoteStats::default(), |a, b| RemoteStats {
            bytes_fetched: a.bytes_fetched + b.bytes_fetched,
            requests: a.requests + b.requests,
            memory_hits: a.memory_hits + b.memory_hits,
            disk_hits: a.disk_hits + b.disk_hits,
            retries: a.retries + b.retries,
            failures: a.failures + b.failures,
        });
    Some((name, sum))
}

/// The transfer statistics of this process's remote image (the files next
/// to it included), if it has one: `{"image", "bytes_fetched", "requests",
/// "memory_hits", "disk_hits", "retries", "failures"}`.
pub fn stats_json() -> Option<serde_json::Value> {
    let (image, s) = totals()?;
    Some(serde_json::json!({
        "image": image,
        "bytes_fetched": s.bytes_fetched,
        "requests": s.requests,
        "memory_hits": s.memory_hits,
        "disk_hits": s.disk_hits,
        "retries": s.retries,
        "failures": s.failures,
    }))
}

/// Before this process exits: lets the remote sources' requests in flight
/// finish (5 s at most in all) so that what they fetched reaches the disk
/// cache.
pub fn settle() {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    for src in opened() {
        src.settle(deadline.saturating_duration_since(std::time::Instant::now()));
    }
}

/// One line for `--stats` and logs.
pub fn stats_line() -> Option<String> {
    let (image, s) = totals()?;
    Some(format!(
        "{}: fetched {} bytes in {} requests; chunk hits: {} in memory, {} on disk; {} retries, {} failed",
        image, s.bytes_fetched, s.requests, s.memory_hits, s.disk_hits, s.retries, s.failures
    ))
}

/// `Name: value` header arguments, checked.
fn headers(args: &ImageArgs) -> Result<Vec<(String, String)>> {
    let mut all: Vec<String> = args.headers.clone();
    if let Ok(env) = std::env::var(HEADERS_ENV) {
        all.extend(env.lines().filter(|l| !l.is_empty()).map(String::from));
    }
    all.iter()
        .map(|h| {
            let (name, value) = h.split_once(':').ok_or_else(|| {
                anyhow!("--header: expected 'Name: value' (the value is not shown here)")
            })?;
            let name = name.trim();
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
                return Err(anyhow!("--header: {name:?} is not a header name"));
            }
            Ok((name.to_string(), value.trim().to_string()))
        })
        .collect()
}

/// The source for a remote image, with the options of `args`.
pub fn open_source(image: &ImageRef, args: &ImageArgs) -> Result<RemoteSource> {
    let timeout = std::time::Duration::from_secs(args.timeout);
    let fetcher: Arc<dyn RangeFetcher> = match image {
        ImageRef::Local(_) => return Err(anyhow!("not a remote image")),
        ImageRef::Http(url) => {
            let opts = HttpOptions {
                headers: headers(args)?,
                timeout,
                ..HttpOptions::default()
            };
            Arc::new(HttpFetcher::new(url, &opts)?)
        }
        ImageRef::S3 { bucket, key } => {
            let mut cfg = S3Config::from_env(args.no_sign_request)?;
            cfg.http.timeout = timeout;
            Arc::new(S3Fetcher::new(bucket, key, &cfg)?)
        }
    };
    let disk = if args.no_disk_cache {
        None
    } else {
        let dir = match &args.cache_dir {
            Some(d) => d.clone(),
            None => DiskCache::default_dir().ok_or_else(|| {
                anyhow!(
                    "no cache directory is known here (no XDG_CACHE_HOME or home): \
                     give --cache-dir DIR or --no-disk-cache"
                )
            })?,
        };
        match DiskCache::open(&dir, args.disk_cache_size) {
            Ok(c) => Some(Arc::new(c)),
            Err(e) => {
                log::warn!(
                    "cannot use the disk cache {}: {e}; reading without it",
                    dir.display()
                );
                None
            }
        }
    };
    let mut opts = RemoteOptions {
        disk,
        // The engine gives up on a request (and retries it) after the same
        // time the HTTP client does.
        request_timeout: timeout,
        ..RemoteOptions::default()
    };
    if let Some(c) = args.chunk_size {
        opts.chunk_size =
            u32::try_from(c).map_err(|_| anyhow!("--chunk-size {c}: too large (at most 64M)"))?;
    }
    Ok(RemoteSource::open(fetcher, opts)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn siblings_share_the_directory_and_never_step_out() {
        let http = ImageRef::Http("https://u:p@h:8/a/b/x.cue?X-Amz-Signature=s#f".into());
        assert_eq!(
            http.sibling("data first.bin"),
            Some(ImageRef::Http(
                "https://u:p@h:8/a/b/data%20first.bin".into()
            ))
        );
        assert_eq!(
            http.sibling("sub/Ü#1.bin"),
            Some(ImageRef::Http(
                "https://u:p@h:8/a/b/sub/%C3%9C%231.bin".into()
            ))
        );
        let top = ImageRef::Http("http://h/x.cue".into());
        assert_eq!(
            top.sibling("x.bin"),
            Some(ImageRef::Http("http://h/x.bin".into()))
        );
        let s3 = ImageRef::S3 {
            bucket: "b".into(),
            key: "isos/x.mds".into(),
        };
        let bin = ImageRef::S3 {
            bucket: "b".into(),
            key: "isos/x y.mdf".into(),
        };
        assert_eq!(s3.sibling("x y.mdf"), Some(bin));
        for bad in ["../x.bin", "/etc/x.bin", "a//b", "./x", "", "a/.."] {
            assert_eq!(http.sibling(bad), None, "{bad}");
            assert_eq!(s3.sibling(bad), None, "{bad}");
        }
        assert_eq!(ImageRef::Local("x.cue".into()).sibling("x.bin"), None);
        let args = <crate::cli::Cli as clap::Parser>::parse_from(["isomount", "list"]).open;
        let d = RemoteDir::new(http.clone(), args);
        assert!(d.is_image("x.cue") && !d.is_image("x.bin"));
    }

    #[test]
    fn image_refs() {
        let p = |s: &str| ImageRef::parse(Path::new(s));
        assert_eq!(p("a.iso").unwrap(), ImageRef::Local("a.iso".into()));
        assert_eq!(
            p("/x/y:z.iso").unwrap(),
            ImageRef::Local("/x/y:z.iso".into())
        );
        assert_eq!(
            p("https://h/x.iso").unwrap(),
            ImageRef::Http("https://h/x.iso".into())
        );
        assert_eq!(
            p("s3://b/k/e/y.iso").unwrap(),
            ImageRef::S3 {
                bucket: "b".into(),
                key: "k/e/y.iso".into()
            }
        );
        assert!(p("s3://bucket").is_err());
        assert!(p("s3://bucket/").is_err());
        assert!(
            p("ftp://h/x.iso")
                .unwrap_err()
                .to_string()
                .contains("unsupported")
        );
    }

    #[test]
    fn secrets_are_not_shown() {
        assert_eq!(
            without_secrets("https://u:pw@host:8443/a/b.iso?X-Amz-Signature=s#f"),
            "https://host:8443/a/b.iso"
        );
        assert_eq!(without_secrets("http://host"), "http://host");
        assert_eq!(
            ImageRef::parse(Path::new("https://tok@h/i.iso?sig=1"))
                .unwrap()
                .shown(),
            "https://h/i.iso"
        );
    }
}
