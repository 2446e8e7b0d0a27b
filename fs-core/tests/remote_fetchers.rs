//! The HTTP and S3 range fetchers against real servers on loopback, each
//! started by the shared harness (`support/servers.rs`) with its own
//! configuration in a temporary directory and stopped by pid (also when a
//! test panics):
//!
//! - nginx (`nginx-light`) serving an image xorriso made: sizes and ETags,
//!   ranges byte for byte against the file, a redirect, a location without
//!   range support, one that wants a bearer token, a missing file, a file
//!   replaced after it was opened;
//! - moto's S3 server with IAM enforced: a user allowed only `s3:GetObject`
//!   reads through environment keys, a profile in a credentials file and the
//!   endpoint variables; a wrong secret, an unknown key id, another bucket,
//!   anonymous reads of a public and of a private object, a missing key.
//!
//! `ci/install-deps.sh` installs both (moto into `/opt/isomount-moto`, or
//! `$ISOMOUNT_MOTO_VENV`). Run with
//! `cargo test -p fs-core --features remote --test remote_fetchers`.
#![cfg(all(feature = "remote", unix))]
// Test code: panicking on a failed expectation is the point.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[path = "support/data.rs"]
mod data;
#[path = "support/servers.rs"]
mod servers;

use data::noise;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use fs_core::source::remote::{
    FetchError, HttpFetcher, HttpOptions, ObjectMeta, RangeFetcher, S3Config, S3Fetcher,
};
use servers::{Moto, Nginx, S3Object, TOKEN, free_port};

/// An image xorriso makes from a small tree, about 700 KiB.
fn make_image(dir: &Path, name: &str, seed: u64) -> PathBuf {
    let tree = dir.join(format!("{name}-tree"));
    std::fs::create_dir_all(tree.join("sub")).unwrap();
    std::fs::write(tree.join("a.bin"), noise(300_001, seed)).unwrap();
    std::fs::write(tree.join("sub/b.bin"), noise(377_777, seed + 1)).unwrap();
    std::fs::write(tree.join("readme.txt"), format!("image {name}\n")).unwrap();
    let iso = dir.join(name);
    let out = Command::new("xorriso")
        .args(["-as", "mkisofs", "-R", "-J", "-quiet", "-o"])
        .arg(&iso)
        .arg(&tree)
        .output()
        .expect("xorriso (run ci/install-deps.sh)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    iso
}

/// Ranges at several offsets, the last bytes and a read past the end, each
/// compared with the file itself.
fn check_ranges(f: &dyn RangeFetcher, meta: &ObjectMeta, file: &[u8]) {
    let size = file.len() as u64;
    assert_eq!(meta.size, size, "{}", f.name());
    let ranges = [
        (0, 2048),
        (0, 1),
        (1, 1),
        (2047, 2),
        (32_768, 65_536),
        (100_003, 4_097),
        (size - 4096, 4096),
        (size - 1, 1),
        (size - 10, 100), // past the end: the last 10 bytes
    ];
    for (start, len) in ranges {
        let got = f.fetch(start, len, meta).unwrap();
        let end = (start + len).min(size);
        assert!(
            got == file[start as usize..end as usize],
            "{}: bytes {start}+{len} differ from the file",
            f.name()
        );
    }
    assert!(f.fetch(size, 10, meta).unwrap().is_empty());
}

fn http(url: &str) -> HttpFetcher {
    HttpFetcher::new(url, &HttpOptions::default()).unwrap()
}

#[test]
fn nginx_http() {
    let tmp = tempfile::tempdir().unwrap();
    // TLS with a self-signed certificate, which no system trusts.
    let nginx = Nginx::builder().tls().start();
    let root = nginx.root();
    std::fs::create_dir_all(root.join("files")).unwrap();
    let iso = make_image(tmp.path(), "image.iso", 1);
    let file = std::fs::read(&iso).unwrap();
    std::fs::copy(&iso, root.join("files/image.iso")).unwrap();
    std::fs::copy(&iso, root.join("files/changing.iso")).unwrap();
    let base = nginx.base();
    let port = nginx.port;

    // TLS works (the platform verifier is set up) and refuses a certificate
    // no trusted root signed, for good.
    let t = http(&nginx.tls_url("files/image.iso"));
    match t.stat() {
        Err(e @ FetchError::Fatal { .. }) => {
            assert!(e.to_string().contains("TLS"), "{e}");
            eprintln!("refused as expected: {e}");
        }
        other => panic!("{other:?}"),
    }

    // Size and validators as nginx makes them ("mtime-size" in hex).
    let f = http(&format!("{base}/files/image.iso"));
    assert_eq!(f.name(), format!("{base}/files/image.iso"));
    let meta = f.stat().unwrap();
    let md = std::fs::metadata(root.join("files/image.iso")).unwrap();
    let mtime = md
        .modified()
        .unwrap()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert_eq!(meta.size, md.len());
    assert_eq!(
        meta.etag.as_deref(),
        Some(format!("\"{mtime:x}-{:x}\"", md.len()).as_str())
    );
    assert!(meta.strong_etag().is_some());
    assert!(meta.last_modified.as_deref().unwrap().ends_with(" GMT"));
    check_ranges(&f, &meta, &file);

    // Neither the query string nor user info is shown.
    let g = http(&format!(
        "http://user:pw@127.0.0.1:{port}/files/image.iso?token=abc#x"
    ));
    assert_eq!(g.name(), format!("{base}/files/image.iso"));

    // A redirect is followed, for the HEAD and for conditional ranges.
    let r = http(&format!("{base}/moved/files/image.iso"));
    let rmeta = r.stat().unwrap();
    assert_eq!(rmeta, meta);
    check_ranges(&r, &rmeta, &file);

    // ... and keeps If-Match: a version the server does not have is a 412.
    let bogus = ObjectMeta {
        etag: Some("\"0-0\"".to_owned()),
        ..meta.clone()
    };
    match r.fetch(0, 10, &bogus) {
        Err(FetchError::Changed { detail, .. }) => assert!(detail.contains("412"), "{detail}"),
        other => panic!("{other:?}"),
    }

    // No range support: found at stat time, and a 200 to a range is too.
    let n = http(&format!("{base}/noranges/files/image.iso"));
    assert!(
        matches!(n.stat(), Err(FetchError::NoRanges { .. })),
        "{:?}",
        n.stat()
    );
    assert!(matches!(
        n.fetch(0, 10, &meta),
        Err(FetchError::NoRanges { .. })
    ));

    // A bearer token: refused without it or with a wrong one (never shown),
    // read with it.
    let p_url = format!("{base}/private/files/image.iso");
    match http(&p_url).stat() {
        Err(e @ FetchError::Denied { .. }) => assert!(e.to_string().contains("403"), "{e}"),
        other => panic!("{other:?}"),
    }
    let with = |token: &str| HttpOptions {
        headers: vec![("Authorization".to_owned(), format!("Bearer {token}"))],
        ..HttpOptions::default()
    };
    let wrong = HttpFetcher::new(&p_url, &with("wrong-secret-456")).unwrap();
    let e = wrong.stat().unwrap_err();
    assert!(matches!(e, FetchError::Denied { .. }), "{e:?}");
    let e = wrong.fetch(0, 10, &meta).unwrap_err();
    assert!(matches!(e, FetchError::Denied { .. }), "{e:?}");
    assert!(!format!("{e} {e:?}").contains("wrong-secret-456"));
    assert!(!format!("{:?}", with("wrong-secret-456")).contains("wrong-secret-456"));
    let p = HttpFetcher::new(&p_url, &with(TOKEN)).unwrap();
    let pmeta = p.stat().unwrap();
    assert_eq!(pmeta, meta);
    check_ranges(&p, &pmeta, &file);

    // Missing.
    let m = http(&format!("{base}/files/missing.iso"));
    assert_eq!(
        m.stat(),
        Err(FetchError::NotFound {
            name: format!("{base}/files/missing.iso")
        })
    );

    // Replaced after it was opened: other bytes, another mtime, so another
    // ETag; If-Match then fails (412), and so does If-Unmodified-Since.
    let c = http(&format!("{base}/files/changing.iso"));
    let cmeta = c.stat().unwrap();
    assert_eq!(c.fetch(4096, 100, &cmeta).unwrap(), file[4096..4196]);
    let path = root.join("files/changing.iso");
    std::fs::write(&path, noise(file.len(), 99)).unwrap();
    let later = SystemTime::now() + Duration::from_secs(100);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(later)
        .unwrap();
    match c.fetch(4096, 100, &cmeta) {
        Err(FetchError::Changed { detail, .. }) => assert!(detail.contains("412"), "{detail}"),
        other => panic!("{other:?}"),
    }
    let by_date = ObjectMeta {
        etag: None,
        ..cmeta.clone()
    };
    assert!(matches!(
        c.fetch(0, 100, &by_date),
        Err(FetchError::Changed { .. })
    ));
    // A weak ETag cannot pin (RFC 9110 8.8.3.2), so the date does; the
    // validator check on the 206 still catches the new ETag.
    let weak = ObjectMeta {
        etag: Some(format!("W/{}", cmeta.etag.clone().unwrap())),
        last_modified: None,
        ..cmeta
    };
    assert!(matches!(
        c.fetch(0, 100, &weak),
        Err(FetchError::Changed { .. })
    ));
    // The new version reads as the new bytes.
    let now = c.stat().unwrap();
    assert_ne!(now.etag, meta.etag);
    assert_eq!(c.fetch(0, 64, &now).unwrap(), noise(file.len(), 99)[..64]);
}

#[test]
fn closed_port_is_transient() {
    let port = free_port(); // bound and released: nothing listens there
    let f = http(&format!("http://127.0.0.1:{port}/x.iso"));
    let e = f.stat().unwrap_err();
    assert!(e.is_retryable(), "{e:?}");
    assert!(e.to_string().contains("refused"), "{e}");
}

#[test]
fn unresolvable_host_is_fatal_and_prompt() {
    let t = Instant::now();
    let f = http("http://no-such-host.invalid/x.iso");
    let e = f.stat().unwrap_err();
    assert!(!e.is_retryable(), "{e:?}");
    assert_eq!(
        e.to_string(),
        "http://no-such-host.invalid/x.iso: cannot resolve host no-such-host.invalid"
    );
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
}

/// A variable lookup over `pairs` only (HOME points nowhere, so no real
/// ~/.aws file is read).
fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let mut m: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    m.entry("HOME".to_owned())
        .or_insert_with(|| "/nonexistent".to_owned());
    move |k| m.get(k).cloned()
}

fn s3(bucket: &str, key: &str, pairs: &[(&str, &str)], anonymous: bool) -> S3Fetcher {
    let cfg = S3Config::from_vars(&vars(pairs), anonymous).unwrap();
    S3Fetcher::new(bucket, key, &cfg).unwrap()
}

fn denied_detail(r: Result<ObjectMeta, FetchError>, secret: &str) -> String {
    match r {
        Err(e @ FetchError::Denied { .. }) => {
            let shown = format!("{e} {e:?}");
            assert!(!shown.contains(secret), "the secret is shown: {shown}");
            eprintln!("denied as expected: {e}");
            e.to_string()
        }
        other => panic!("expected Denied, got {other:?}"),
    }
}

#[test]
fn moto_s3() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let iso = make_image(dir, "image.iso", 7);
    let other = make_image(dir, "other.iso", 8);
    let file = std::fs::read(&iso).unwrap();
    // "bkt" (the reader's) holds a private and a public copy, "other" an
    // image the reader may not read.
    assert_eq!(Moto::READABLE, "bkt");
    let objects = [
        S3Object {
            bucket: "bkt",
            key: "dir/image.iso",
            file: &iso,
            public: false,
        },
        S3Object {
            bucket: "bkt",
            key: "public/image.iso",
            file: &iso,
            public: true,
        },
        S3Object {
            bucket: "other",
            key: "image.iso",
            file: &other,
            public: false,
        },
    ];
    let iam = Moto::start(true, &objects);
    let url = iam.endpoint.clone();
    let (id, secret) = (iam.reader.id.clone(), iam.reader.secret.clone());

    // The GetObject-only user, keys in the environment, path-style endpoint.
    let env = [
        ("AWS_ACCESS_KEY_ID", id.as_str()),
        ("AWS_SECRET_ACCESS_KEY", secret.as_str()),
        ("AWS_ENDPOINT_URL", url.as_str()),
    ];
    let f = s3("bkt", "dir/image.iso", &env, false);
    assert_eq!(f.name(), "s3://bkt/dir/image.iso");
    let meta = f.stat().unwrap();
    assert!(meta.strong_etag().is_some(), "{meta:?}");
    check_ranges(&f, &meta, &file);

    // Missing key, with GetObject on the bucket's keys.
    let m = s3("bkt", "dir/missing.iso", &env, false);
    assert!(
        matches!(m.stat(), Err(FetchError::NotFound { .. })),
        "{:?}",
        m.stat()
    );

    // Another bucket: the policy does not allow it.
    let d = denied_detail(s3("other", "image.iso", &env, false).stat(), &secret);
    assert!(d.contains("AccessDenied"), "{d}");

    // A wrong secret: the store's code and a hint, never the secret.
    let bad_secret = "wrong-secret-0123456789abcdef";
    let wrong = [
        ("AWS_ACCESS_KEY_ID", id.as_str()),
        ("AWS_SECRET_ACCESS_KEY", bad_secret),
        ("AWS_ENDPOINT_URL", url.as_str()),
    ];
    let w = s3("bkt", "dir/image.iso", &wrong, false);
    let d = denied_detail(w.stat(), bad_secret);
    assert!(
        d.contains("SignatureDoesNotMatch") && d.contains("AWS_SECRET_ACCESS_KEY"),
        "{d}"
    );
    match w.fetch(0, 100, &meta) {
        Err(e @ FetchError::Denied { .. }) => {
            let shown = format!("{e} {e:?}");
            assert!(shown.contains("SignatureDoesNotMatch"), "{shown}");
            assert!(!shown.contains(bad_secret));
        }
        other => panic!("{other:?}"),
    }

    // An unknown key id.
    let unknown = [
        ("AWS_ACCESS_KEY_ID", "AKIAUNKNOWNUNKNOWN00"),
        ("AWS_SECRET_ACCESS_KEY", bad_secret),
        ("AWS_ENDPOINT_URL", url.as_str()),
    ];
    let d = denied_detail(
        s3("bkt", "dir/image.iso", &unknown, false).stat(),
        bad_secret,
    );
    assert!(d.contains("InvalidAccessKeyId"), "{d}");

    // A profile: keys in a credentials file, endpoint and region in the
    // config file.
    let creds = dir.join("credentials");
    let config = dir.join("config");
    std::fs::write(
        &creds,
        format!(
            "# test\n[default]\naws_access_key_id = nope\naws_secret_access_key = nope\n\n\
             [reader]\naws_access_key_id = {id}\naws_secret_access_key = {secret}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        &config,
        format!("[profile reader]\nregion = us-east-1\nendpoint_url = {url}\n"),
    )
    .unwrap();
    let profile = [
        ("AWS_PROFILE", "reader"),
        ("AWS_SHARED_CREDENTIALS_FILE", creds.to_str().unwrap()),
        ("AWS_CONFIG_FILE", config.to_str().unwrap()),
    ];
    let p = s3("bkt", "dir/image.iso", &profile, false);
    let pmeta = p.stat().unwrap();
    assert_eq!(pmeta, meta);
    check_ranges(&p, &pmeta, &file);
    // The default profile's (wrong) keys are refused, and the hint names
    // the file they came from.
    let mut default = profile.to_vec();
    default.retain(|(k, _)| *k != "AWS_PROFILE");
    default.push(("AWS_ENDPOINT_URL", &url));
    let d = denied_detail(s3("bkt", "dir/image.iso", &default, false).stat(), "nope\n");
    assert!(d.contains(creds.to_str().unwrap()), "{d}");

    // AWS_ENDPOINT_URL_S3 beats AWS_ENDPOINT_URL (here a closed port).
    let closed = format!("http://127.0.0.1:{}", free_port());
    let mut both = env.to_vec();
    both[2] = ("AWS_ENDPOINT_URL", &closed);
    both.push(("AWS_ENDPOINT_URL_S3", &url));
    assert_eq!(
        s3("bkt", "dir/image.iso", &both, false).stat().unwrap(),
        meta
    );

    // Anonymous: a private object is refused.
    let anon = [("AWS_ENDPOINT_URL", url.as_str())];
    let d = denied_detail(s3("bkt", "dir/image.iso", &anon, true).stat(), &secret);
    assert!(d.contains("--no-sign-request"), "{d}");

    // moto answers anonymous requests for public objects with a 500 while
    // IAM is enforced, so those go to a second server that does not.
    let open = Moto::start(false, &objects);
    let open_url = open.endpoint.clone();
    let anon = [("AWS_ENDPOINT_URL", open_url.as_str())];
    let a = s3("bkt", "public/image.iso", &anon, true);
    let ameta = a.stat().unwrap();
    check_ranges(&a, &ameta, &file);
    assert!(matches!(
        s3("bkt", "dir/image.iso", &anon, true).stat(),
        Err(FetchError::Denied { .. })
    ));
}

/// Answers each request with what its path asks for: the misbehaving
/// servers no real one would be.
fn canned_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            std::thread::spawn(move || {
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") && req.len() < 65_536 {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let req = String::from_utf8_lossy(&req);
                let path = req.split_whitespace().nth(1).unwrap_or("").to_owned();
                let ok = "HTTP/1.1 206 Partial Content\r\nETag: \"v1\"\r\nConnection: close\r\n";
                let answer: Vec<u8> = match path.as_str() {
                    // announces far more than was asked for
                    "/big" => format!(
                        "{ok}Content-Range: bytes 0-9/100\r\nContent-Length: 999999999999\r\n\r\n0123456789"
                    )
                    .into(),
                    // sends more than asked for, chunked (no length to check)
                    "/chunked" => format!(
                        "{ok}Content-Range: bytes 0-9/100\r\nTransfer-Encoding: chunked\r\n\r\n14\r\n01234567890123456789\r\n0\r\n\r\n"
                    )
                    .into(),
                    // closes half way
                    "/short" => format!(
                        "{ok}Content-Range: bytes 0-9/100\r\nContent-Length: 10\r\n\r\n01234"
                    )
                    .into(),
                    "/etag" => "HTTP/1.1 206 Partial Content\r\nETag: \"v2\"\r\nContent-Range: bytes 0-9/100\r\nContent-Length: 10\r\nConnection: close\r\n\r\n0123456789".into(),
                    "/size" => format!(
                        "{ok}Content-Range: bytes 0-9/200\r\nContent-Length: 10\r\n\r\n0123456789"
                    )
                    .into(),
                    "/range" => format!(
                        "{ok}Content-Range: bytes 5-14/100\r\nContent-Length: 10\r\n\r\n0123456789"
                    )
                    .into(),
                    "/slowdown" => {
                        let xml = "<Error><Code>SlowDown</Code><Message>Please reduce your \
                                   request rate.</Message></Error>";
                        format!(
                            "HTTP/1.1 503 Slow Down\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{xml}",
                            xml.len()
                        )
                        .into()
                    }
                    "/429" => "HTTP/1.1 429 Too Many Requests\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".into(),
                    "/416" => "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */50\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".into(),
                    "/401" => "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".into(),
                    "/410" => "HTTP/1.1 410 Gone\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".into(),
                    "/hang" => {
                        std::thread::sleep(Duration::from_secs(4));
                        Vec::new()
                    }
                    _ => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".into(),
                };
                let _ = conn.write_all(&answer);
            });
        }
    });
    port
}

#[test]
fn misbehaving_servers() {
    let port = canned_server();
    let opts = HttpOptions {
        timeout: Duration::from_secs(1),
        ..HttpOptions::default()
    };
    let pinned = ObjectMeta {
        size: 100,
        etag: Some("\"v1\"".to_owned()),
        last_modified: None,
    };
    let get = |path: &str| {
        HttpFetcher::new(&format!("http://127.0.0.1:{port}{path}"), &opts)
            .unwrap()
            .fetch(0, 10, &pinned)
    };
    let kind = |r: Result<Vec<u8>, FetchError>| match r {
        Ok(b) => format!("Ok({})", String::from_utf8_lossy(&b)),
        Err(e) => {
            let k = format!("{e:?}");
            k[..k.find(' ').unwrap_or(k.len())].to_owned()
        }
    };
    assert_eq!(kind(get("/big")), "Fatal");
    assert_eq!(kind(get("/chunked")), "Fatal");
    assert_eq!(kind(get("/short")), "Transient");
    assert_eq!(kind(get("/etag")), "Changed");
    assert_eq!(kind(get("/size")), "Changed");
    assert_eq!(kind(get("/range")), "Transient");
    let e = get("/slowdown").unwrap_err();
    assert!(
        e.is_retryable() && e.to_string().contains("SlowDown: Please reduce"),
        "{e}"
    );
    assert_eq!(kind(get("/429")), "Transient");
    let e = get("/416").unwrap_err();
    assert!(
        matches!(e, FetchError::Fatal { .. }) && e.to_string().contains("bytes */50"),
        "{e}"
    );
    assert_eq!(kind(get("/401")), "Denied");
    assert_eq!(kind(get("/410")), "Fatal");
    assert_eq!(kind(get("/missing")), "NotFound");
    let t = Instant::now();
    let e = get("/hang").unwrap_err();
    assert!(
        e.is_retryable() && e.to_string().contains("timed out"),
        "{e}"
    );
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
}
