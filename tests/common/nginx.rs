//! A real nginx (Debian `nginx-light`) on loopback, started by a test with
//! its own configuration in a temporary directory and stopped by its pid.
//! Its access log counts the bytes every request moved, so tests measure
//! transfers from the server's side, not from ours.

use std::fs;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running nginx serving `root()` on `127.0.0.1:port`.
pub struct Nginx {
    dir: tempfile::TempDir,
    child: Child,
    /// The port it listens on.
    pub port: u16,
}

/// One line of the access log.
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

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl Nginx {
    /// Starts nginx serving the directory it makes (`root()`, empty at
    /// first). `/private/` needs `Authorization: Bearer s3cret`;
    /// `/noranges/` serves without range support (`max_ranges 0`);
    /// `/moved/X` redirects (302) to `/X`.
    pub fn start() -> Nginx {
        let nginx = Path::new("/usr/sbin/nginx");
        assert!(
            nginx.exists(),
            "nginx is missing (Debian package nginx-light): run ci/install-deps.sh"
        );
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::create_dir_all(d.join("root/private")).unwrap();
        fs::create_dir_all(d.join("root/noranges")).unwrap();
        for t in ["body", "proxy", "fastcgi", "uwsgi", "scgi"] {
            fs::create_dir_all(d.join("tmp").join(t)).unwrap();
        }
        let port = free_port();
        let p = |rel: &str| d.join(rel).display().to_string();
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
        location /private/ {{
            if ($http_authorization != "Bearer s3cret") {{ return 403; }}
        }}
        location /noranges/ {{ max_ranges 0; }}
        location /moved/ {{ rewrite ^/moved/(.*)$ /$1 redirect; }}
    }}
}}
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
        let child = Command::new(nginx)
            .arg("-p")
            .arg(d)
            .arg("-c")
            .arg(d.join("nginx.conf"))
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start nginx");
        let n = Nginx { dir, child, port };
        let t = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(t.elapsed() < Duration::from_secs(10), "nginx did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        n
    }

    /// The served directory.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// `http://127.0.0.1:PORT/rel`.
    pub fn url(&self, rel: &str) -> String {
        format!("http://127.0.0.1:{}/{rel}", self.port)
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

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM (fast shutdown) to the master by its pid, then reap it.
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
