//! The HTTP and S3 range fetchers against real servers on loopback, each
//! started here with its own configuration in a temporary directory and
//! stopped by pid (also when a test panics):
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

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use fs_core::source::remote::{
    FetchError, HttpFetcher, HttpOptions, ObjectMeta, RangeFetcher, S3Config, S3Fetcher,
};

/// A server process, stopped and reaped when dropped (a test that panics
/// included).
struct Server {
    child: Child,
    what: &'static str,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        // SIGTERM first: nginx's master then stops its workers, which a
        // SIGKILL of the master would leave running.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(what: &'static str, cmd: &mut Command, log: PathBuf, port: u16) -> Server {
        let out = std::fs::File::create(&log).unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what} (run ci/install-deps.sh): {e}"));
        let mut s = Server { child, what, log };
        s.wait_for(port);
        s
    }

    fn wait_for(&mut self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} exited ({status}): {}",
                    self.what,
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("{} does not listen on port {port}", self.what);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Bytes no two offsets of which are likely to match by chance.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

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

fn nginx_conf(root: &Path, port: u16, tls_port: u16) -> String {
    let r = root.display();
    format!(
        r#"worker_processes 1;
pid {r}/nginx.pid;
error_log {r}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log {r}/access.log;
    client_body_temp_path {r}/tmp/body;
    proxy_temp_path {r}/tmp/proxy;
    fastcgi_temp_path {r}/tmp/fastcgi;
    uwsgi_temp_path {r}/tmp/uwsgi;
    scgi_temp_path {r}/tmp/scgi;
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{port};
        root {r}/www;
        etag on;
        location /files/ {{ }}
        location = /redirect/image.iso {{ return 302 /files/image.iso; }}
        location /noranges/ {{ max_ranges 0; alias {r}/www/files/; }}
        location /private/ {{
            if ($http_authorization != "Bearer s3cr3t-token-123") {{ return 403; }}
            alias {r}/www/files/;
        }}
    }}
    server {{
        listen 127.0.0.1:{tls_port} ssl;
        ssl_certificate {r}/cert.pem;
        ssl_certificate_key {r}/key.pem;
        root {r}/www;
    }}
}}
"#
    )
}

fn http(url: &str) -> HttpFetcher {
    HttpFetcher::new(url, &HttpOptions::default()).unwrap()
}

#[test]
fn nginx_http() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    // nginx's workers run as nobody: the tree must be readable to them.
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir_all(root.join("www/files")).unwrap();
    std::fs::create_dir_all(root.join("tmp")).unwrap();
    let iso = make_image(root, "image.iso", 1);
    let file = std::fs::read(&iso).unwrap();
    std::fs::copy(&iso, root.join("www/files/image.iso")).unwrap();
    std::fs::copy(&iso, root.join("www/files/changing.iso")).unwrap();
    // A self-signed certificate, which no system trusts.
    let out = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args([
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(root.join("key.pem"))
        .arg("-out")
        .arg(root.join("cert.pem"))
        .output()
        .expect("openssl (run ci/install-deps.sh)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let port = free_port();
    let tls_port = free_port();
    std::fs::write(root.join("nginx.conf"), nginx_conf(root, port, tls_port)).unwrap();
    let mut nginx = Server::start(
        "nginx",
        Command::new("/usr/sbin/nginx")
            .arg("-p")
            .arg(root)
            .arg("-c")
            .arg(root.join("nginx.conf"))
            .args(["-g", "daemon off;"]),
        root.join("nginx.out"),
        port,
    );
    nginx.wait_for(tls_port);
    let base = format!("http://127.0.0.1:{port}");

    // TLS works (the platform verifier is set up) and refuses a certificate
    // no trusted root signed, for good.
    let t = http(&format!("https://127.0.0.1:{tls_port}/files/image.iso"));
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
    let md = std::fs::metadata(root.join("www/files/image.iso")).unwrap();
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
    let r = http(&format!("{base}/redirect/image.iso"));
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
    let n = http(&format!("{base}/noranges/image.iso"));
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
    let p_url = format!("{base}/private/image.iso");
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
    let p = HttpFetcher::new(&p_url, &with("s3cr3t-token-123")).unwrap();
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
    let path = root.join("www/files/changing.iso");
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

const MOTO_SETUP: &str = r#"
import json, sys
import boto3
from botocore.config import Config
endpoint, image, other = sys.argv[1:4]
kw = dict(endpoint_url=endpoint, region_name="us-east-1",
          aws_access_key_id="admin", aws_secret_access_key="admin-secret",
          config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}))
s3 = boto3.client("s3", **kw)
iam = boto3.client("iam", **kw)
data = open(image, "rb").read()
# 8 requests, the INITIAL_NO_AUTH_ACTION_COUNT the test gives moto: every
# request after these is authenticated and authorised.
s3.create_bucket(Bucket="bkt")
s3.put_object(Bucket="bkt", Key="dir/image.iso", Body=data)
s3.put_object(Bucket="bkt", Key="public/image.iso", Body=data, ACL="public-read")
s3.create_bucket(Bucket="other")
s3.put_object(Bucket="other", Key="image.iso", Body=open(other, "rb").read())
iam.create_user(UserName="reader")
iam.put_user_policy(UserName="reader", PolicyName="get-only", PolicyDocument=json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                   "Resource": "arn:aws:s3:::bkt/*"}]}))
key = iam.create_access_key(UserName="reader")["AccessKey"]
print(key["AccessKeyId"])
print(key["SecretAccessKey"])
"#;

/// A moto S3 server set up by [`MOTO_SETUP`]; with `enforce`, IAM is
/// enforced after the setup. Returns the server, its URL and the reader's
/// key id and secret.
fn moto(dir: &Path, enforce: bool, image: &Path, other: &Path) -> (Server, String, String, String) {
    let venv = std::env::var_os("ISOMOUNT_MOTO_VENV")
        .map_or_else(|| PathBuf::from("/opt/isomount-moto"), PathBuf::from);
    let port = free_port();
    let mut cmd = Command::new(venv.join("bin/moto_server"));
    cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
    if enforce {
        cmd.env("INITIAL_NO_AUTH_ACTION_COUNT", "8");
    }
    let tag = if enforce { "moto-iam" } else { "moto-open" };
    let server = Server::start(
        "moto_server",
        &mut cmd,
        dir.join(format!("{tag}.log")),
        port,
    );
    let url = format!("http://127.0.0.1:{port}");
    let script = dir.join("setup.py");
    std::fs::write(&script, MOTO_SETUP).unwrap();
    let out = Command::new(venv.join("bin/python"))
        .arg(&script)
        .arg(&url)
        .arg(image)
        .arg(other)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = String::from_utf8(out.stdout).unwrap();
    let mut lines = out.lines();
    let id = lines.next().unwrap().to_owned();
    let secret = lines.next().unwrap().to_owned();
    (server, url, id, secret)
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
    let (_iam, url, id, secret) = moto(dir, true, &iso, &other);

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
    let (_open, open_url, _, _) = moto(dir, false, &iso, &other);
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
