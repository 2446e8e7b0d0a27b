//! Real servers on loopback for the remote-image tests, each started by a
//! test with its own configuration in a temporary directory and stopped by
//! its pid (also when the test panics):
//!
//! - nginx (Debian `nginx-light`) serving a directory, with a redirect, a
//!   view without range support, one that wants a bearer token, optional
//!   TLS with a self-signed certificate, and an access log that counts the
//!   bytes each request moved, so tests measure transfers from the server's
//!   side, not from ours;
//! - moto's S3 server, optionally with IAM enforced: buckets and objects
//!   made by an admin user, and a user allowed only `s3:GetObject` on one
//!   bucket.
//!
//! `ci/install-deps.sh` installs both (moto into `/opt/isomount-moto`, or
//! `$ISOMOUNT_MOTO_VENV`). One file for two crates: `fs-core`'s
//! `tests/remote_fetchers.rs` includes it with `#[path]`, and so does the
//! root crate's `tests/common/mod.rs`.
#![allow(dead_code)]

use std::fs;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A server process, stopped and reaped when dropped (a test that panics
/// included; then its logs are shown too).
pub struct Server {
    child: Child,
    what: &'static str,
    logs: Vec<PathBuf>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.log_text());
        }
        // SIGTERM first: nginx's master then stops its workers, which a
        // SIGKILL of the master would leave running.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .stderr(Stdio::null())
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
    /// Starts `cmd` (its output going to `out`) and waits until it listens
    /// on `port`. `logs` are further files it writes, shown with `out` if
    /// it fails.
    pub fn start(
        what: &'static str,
        cmd: &mut Command,
        out: PathBuf,
        logs: Vec<PathBuf>,
        port: u16,
    ) -> Server {
        let file = fs::File::create(&out).unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what} (run ci/install-deps.sh): {e}"));
        let mut all = vec![out];
        all.extend(logs);
        let mut s = Server {
            child,
            what,
            logs: all,
        };
        s.wait_for(port);
        s
    }

    /// Waits (30 s at most) until something listens on `port`; panics with
    /// the logs if the server exits first.
    pub fn wait_for(&mut self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{} exited ({status}):\n{}", self.what, self.log_text());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "{} does not listen on port {port}:\n{}",
            self.what,
            self.log_text()
        );
    }

    /// The server's logs so far (their last 8 KiB each).
    pub fn log_text(&self) -> String {
        let mut s = String::new();
        for log in &self.logs {
            let text = fs::read_to_string(log).unwrap_or_default();
            let tail = text
                .char_indices()
                .rev()
                .nth(8191)
                .map_or(text.as_str(), |(i, _)| &text[i..]);
            s.push_str(&format!(
                "--- {} ({}) ---\n{tail}\n",
                self.what,
                log.display()
            ));
        }
        s
    }
}

/// A port nothing listens on (bound and released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// The bearer token nginx's `/private/` wants.
pub const TOKEN: &str = "s3cr3t-token-123";

/// How to start nginx: [`Nginx::builder`].
#[derive(Debug, Default, Clone)]
pub struct NginxBuilder {
    tls: bool,
}

impl NginxBuilder {
    /// Also listen with TLS (a certificate for 127.0.0.1 that openssl makes
    /// here, self-signed: no system trusts it) on [`Nginx::tls_port`].
    pub fn tls(mut self) -> NginxBuilder {
        self.tls = true;
        self
    }

    /// Starts nginx serving [`Nginx::root`] (empty at first) on
    /// `127.0.0.1:port`:
    ///
    /// - `/X`: the file `root/X`, with ranges and an ETag;
    /// - `/moved/X`: a redirect (302) to `/X`;
    /// - `/noranges/X`: `root/X` without range support (`max_ranges 0`);
    /// - `/private/X`: `root/X` with `Authorization: Bearer` [`TOKEN`] only,
    ///   403 otherwise.
    pub fn start(self) -> Nginx {
        let nginx = Path::new("/usr/sbin/nginx");
        assert!(
            nginx.exists(),
            "nginx is missing (Debian package nginx-light): run ci/install-deps.sh"
        );
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        // nginx's workers run as nobody: the tree must be readable to them.
        fs::set_permissions(d, fs::Permissions::from_mode(0o755)).unwrap();
        fs::create_dir_all(d.join("root")).unwrap();
        for t in ["body", "proxy", "fastcgi", "uwsgi", "scgi"] {
            fs::create_dir_all(d.join("tmp").join(t)).unwrap();
        }
        let port = free_port();
        let tls_port = self.tls.then(free_port);
        let p = |rel: &str| d.join(rel).display().to_string();
        let tls_server = match tls_port {
            None => String::new(),
            Some(tls_port) => {
                let out = Command::new("openssl")
                    .args([
                        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    ])
                    .args(["-subj", "/CN=127.0.0.1"])
                    .args(["-addext", "subjectAltName=IP:127.0.0.1"])
                    .arg("-keyout")
                    .arg(d.join("key.pem"))
                    .arg("-out")
                    .arg(d.join("cert.pem"))
                    .output()
                    .expect("openssl (run ci/install-deps.sh)");
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                format!(
                    "    server {{
        listen 127.0.0.1:{tls_port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        root {root};
    }}
",
                    cert = p("cert.pem"),
                    key = p("key.pem"),
                    root = p("root"),
                )
            }
        };
        let conf = format!(
            r#"worker_processes 2;
pid {pid};
error_log {err} info;
events {{ worker_connections 512; }}
http {{
    log_format bytes '$request_method $uri $status $body_bytes_sent "$http_range"';
    access_log {acc} bytes;
    client_body_temp_path {tb};
    proxy_temp_path {tp};
    fastcgi_temp_path {tf};
    uwsgi_temp_path {tu};
    scgi_temp_path {ts};
    default_type application/octet-stream;
    etag on;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location /moved/ {{ rewrite ^/moved/(.*)$ /$1 redirect; }}
        location /noranges/ {{ max_ranges 0; alias {root}/; }}
        location /private/ {{
            if ($http_authorization != "Bearer {TOKEN}") {{ return 403; }}
            alias {root}/;
        }}
    }}
{tls_server}}}
"#,
            pid = p("nginx.pid"),
            err = p("error.log"),
            acc = p("access.log"),
            tb = p("tmp/body"),
            tp = p("tmp/proxy"),
            tf = p("tmp/fastcgi"),
            tu = p("tmp/uwsgi"),
            ts = p("tmp/scgi"),
            root = p("root"),
        );
        fs::write(d.join("nginx.conf"), conf).unwrap();
        let mut server = Server::start(
            "nginx",
            Command::new(nginx)
                .arg("-p")
                .arg(d)
                .arg("-c")
                .arg(d.join("nginx.conf"))
                .args(["-g", "daemon off;"]),
            d.join("nginx.out"),
            vec![d.join("error.log")],
            port,
        );
        if let Some(t) = tls_port {
            server.wait_for(t);
        }
        Nginx {
            server,
            dir,
            port,
            tls_port,
        }
    }
}

/// A running nginx: [`NginxBuilder::start`] says what it serves.
pub struct Nginx {
    // Declared first: stopped before its directory goes.
    server: Server,
    dir: tempfile::TempDir,
    /// The port it listens on.
    pub port: u16,
    /// The TLS port, when asked for.
    pub tls_port: Option<u16>,
}

/// One line of nginx's access log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// Request method.
    pub method: String,
    /// Request path.
    pub uri: String,
    /// Status code sent.
    pub status: u16,
    /// Body bytes sent.
    pub bytes: u64,
    /// The Range header asked, `-` when none.
    pub range: String,
}

impl Nginx {
    /// How to start one.
    pub fn builder() -> NginxBuilder {
        NginxBuilder::default()
    }

    /// Plain HTTP, no TLS.
    pub fn start() -> Nginx {
        Nginx::builder().start()
    }

    /// The served directory.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:PORT/rel`.
    pub fn url(&self, rel: &str) -> String {
        format!("{}/{rel}", self.base())
    }

    /// `https://127.0.0.1:TLS_PORT/rel`.
    pub fn tls_url(&self, rel: &str) -> String {
        let port = self.tls_port.expect("nginx was started without TLS");
        format!("https://127.0.0.1:{port}/{rel}")
    }

    /// The access log so far (nginx writes each line as the request ends).
    pub fn hits(&self) -> Vec<Hit> {
        let text = fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default();
        text.lines()
            .filter_map(|l| {
                let (head, range) = l.split_once(" \"")?;
                let mut f = head.split(' ');
                Some(Hit {
                    method: f.next()?.to_string(),
                    uri: f.next()?.to_string(),
                    status: f.next()?.parse().ok()?,
                    bytes: f.next()?.parse().ok()?,
                    range: range.trim_end_matches('"').to_string(),
                })
            })
            .collect()
    }

    /// Body bytes sent for `uri` so far.
    pub fn bytes_for(&self, uri: &str) -> u64 {
        self.hits()
            .iter()
            .filter(|h| h.uri == uri)
            .map(|h| h.bytes)
            .sum()
    }

    /// Empties the access log (nginx keeps appending to the same file).
    pub fn clear_log(&self) {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(self.dir.path().join("access.log"))
            .unwrap();
        f.flush().unwrap();
    }
}

/// An access key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    /// `AWS_ACCESS_KEY_ID`.
    pub id: String,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret: String,
}

/// An object [`Moto::start`] uploads.
#[derive(Debug, Clone)]
pub struct S3Object<'a> {
    /// Its bucket (made if new).
    pub bucket: &'a str,
    /// Its key.
    pub key: &'a str,
    /// The file whose bytes it holds.
    pub file: &'a Path,
    /// Readable by anyone (`public-read`).
    pub public: bool,
}

/// A running moto S3 server.
pub struct Moto {
    // Declared first: stopped before its directory goes.
    server: Server,
    dir: tempfile::TempDir,
    /// `http://127.0.0.1:PORT`, for `AWS_ENDPOINT_URL`.
    pub endpoint: String,
    /// The bucket `reader` may read ([`Moto::READABLE`]).
    pub bucket: String,
    /// A user allowed `s3:GetObject` on `bucket`'s objects and nothing else.
    pub reader: Keys,
    /// A user allowed everything.
    pub admin: Keys,
    /// Whether IAM is enforced.
    pub iam: bool,
}

const MOTO_SETUP: &str = r#"
import json, sys
import boto3
from botocore.config import Config
endpoint, spec = sys.argv[1], json.loads(sys.argv[2])
kw = dict(endpoint_url=endpoint, region_name="us-east-1",
          aws_access_key_id="setup", aws_secret_access_key="setup-secret",
          config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}))
s3 = boto3.client("s3", **kw)
iam = boto3.client("iam", **kw)
# Exactly the requests the caller counted for INITIAL_NO_AUTH_ACTION_COUNT:
# every request after these is authenticated and authorised.
for b in spec["buckets"]:
    s3.create_bucket(Bucket=b)
for o in spec["objects"]:
    extra = {"ACL": "public-read"} if o["public"] else {}
    s3.put_object(Bucket=o["bucket"], Key=o["key"], Body=open(o["file"], "rb").read(), **extra)
def user(name, action, resource):
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName=name + "-policy", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}]}))
    k = iam.create_access_key(UserName=name)["AccessKey"]
    return {"id": k["AccessKeyId"], "secret": k["SecretAccessKey"]}
out = {"reader": user("reader", "s3:GetObject", "arn:aws:s3:::%s/*" % spec["readable"]),
       "admin": user("admin", "*", "*")}
print(json.dumps(out))
"#;

fn json_str(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// The value of `"name": "..."` in `json` (the setup script's output:
/// plain ASCII keys, no escapes).
fn json_field<'a>(json: &'a str, name: &str) -> &'a str {
    let at = json
        .find(&format!("\"{name}\": \""))
        .unwrap_or_else(|| panic!("no {name} in {json}"));
    let rest = &json[at + name.len() + 5..];
    &rest[..rest.find('"').unwrap()]
}

impl Moto {
    /// The bucket the reader may read: made even when no object is in it.
    pub const READABLE: &'static str = "bkt";

    /// Starts moto, makes the buckets and objects, a reader (GetObject on
    /// [`Moto::READABLE`]'s objects) and an admin user; with `iam`, every
    /// request after that setup is authenticated and authorised.
    pub fn start(iam: bool, objects: &[S3Object<'_>]) -> Moto {
        let venv = std::env::var_os("ISOMOUNT_MOTO_VENV")
            .map_or_else(|| PathBuf::from("/opt/isomount-moto"), PathBuf::from);
        let dir = tempfile::tempdir().unwrap();
        let mut buckets = vec![Self::READABLE];
        for o in objects {
            if !buckets.contains(&o.bucket) {
                buckets.push(o.bucket);
            }
        }
        // Buckets, objects, and three IAM requests for each of two users.
        let setup_requests = buckets.len() + objects.len() + 6;
        let port = free_port();
        let mut cmd = Command::new(venv.join("bin/moto_server"));
        cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
        // Not the machine's: moto's own boto3 must not read ~/.aws either.
        cmd.env("AWS_SHARED_CREDENTIALS_FILE", dir.path().join("none"))
            .env("AWS_CONFIG_FILE", dir.path().join("none"));
        if iam {
            cmd.env("INITIAL_NO_AUTH_ACTION_COUNT", setup_requests.to_string());
        }
        let tag = if iam { "moto (IAM)" } else { "moto (open)" };
        let server = Server::start(tag, &mut cmd, dir.path().join("moto.log"), vec![], port);
        let endpoint = format!("http://127.0.0.1:{port}");
        let spec = format!(
            "{{\"readable\": {}, \"buckets\": [{}], \"objects\": [{}]}}",
            json_str(Self::READABLE),
            buckets
                .iter()
                .map(|b| json_str(b))
                .collect::<Vec<_>>()
                .join(", "),
            objects
                .iter()
                .map(|o| format!(
                    "{{\"bucket\": {}, \"key\": {}, \"file\": {}, \"public\": {}}}",
                    json_str(o.bucket),
                    json_str(o.key),
                    json_str(o.file.to_str().expect("a UTF-8 path")),
                    o.public
                ))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let script = dir.path().join("setup.py");
        fs::write(&script, MOTO_SETUP).unwrap();
        let out = Command::new(venv.join("bin/python"))
            .arg(&script)
            .arg(&endpoint)
            .arg(&spec)
            .env("AWS_SHARED_CREDENTIALS_FILE", dir.path().join("none"))
            .env("AWS_CONFIG_FILE", dir.path().join("none"))
            .output()
            .unwrap_or_else(|e| panic!("moto's python (run ci/install-deps.sh): {e}"));
        assert!(
            out.status.success(),
            "moto setup failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            server.log_text()
        );
        let out = String::from_utf8(out.stdout).unwrap();
        let keys = |who: &str| {
            let obj = &out[out.find(&format!("\"{who}\"")).unwrap()..];
            Keys {
                id: json_field(obj, "id").to_owned(),
                secret: json_field(obj, "secret").to_owned(),
            }
        };
        Moto {
            reader: keys("reader"),
            admin: keys("admin"),
            server,
            dir,
            endpoint,
            bucket: Self::READABLE.to_owned(),
            iam,
        }
    }

    /// The server's log so far.
    pub fn log_text(&self) -> String {
        self.server.log_text()
    }
}
