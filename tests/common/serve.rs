//! A running `isomount serve` for the tests of the HTTP and TFTP servers
//! and of what they serve (the overlay): started on a free loopback port,
//! its address read from the line it prints, stopped by its pid.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running `isomount serve`, killed (by its pid) when dropped.
pub struct Serve {
    /// The server process.
    pub child: Child,
    /// `http://127.0.0.1:PORT` (no final slash).
    pub base: String,
    /// What it printed on standard error so far.
    pub log: Arc<Mutex<String>>,
}

impl Serve {
    /// `isomount -v serve --listen 127.0.0.1:0 EXTRA... IMAGES...`, once it
    /// says where it listens.
    pub fn start(images: &[&Path], extra: &[&str]) -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_isomount"))
            .arg("-v")
            .arg("serve")
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .args(images)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run isomount serve");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push_str(&format!("{line}\n"));
                if line.starts_with("isomount: serving ") {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(line);
                    }
                }
            }
        });
        let line = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(l) => l,
            Err(_) => {
                let _ = child.kill();
                panic!("serve did not start: {}", log.lock().unwrap());
            }
        };
        // "isomount: serving http://ADDR/... (IMAGE)...": the server's URL first.
        let at = line.find("http://").expect("URL in the startup line");
        let rest = &line[at + "http://".len()..];
        let host = &rest[..rest.find('/').expect("slash after the address")];
        Serve {
            child,
            base: format!("http://{host}"),
            log,
        }
    }

    /// The URL of `path` (which starts with '/').
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        self.base.trim_start_matches("http://").to_string()
    }

    /// Waits (up to 10 s) for `needle` in the server's standard error: the
    /// line is written before the answer goes out, but reaches the pipe's
    /// reader thread in its own time.
    pub fn wait_log(&self, needle: &str) {
        let started = Instant::now();
        while !self.log.lock().unwrap().contains(needle) {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{needle:?} not in the log: {}",
                self.log.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The TFTP port, when started with `--tftp` (from the "TFTP on
    /// ADDR:PORT" line printed before the startup line).
    pub fn tftp_port(&self) -> u16 {
        let log = self.log.lock().unwrap();
        let at = log.find("TFTP on ").expect("a TFTP line (serve --tftp)");
        let addr = log[at + "TFTP on ".len()..]
            .split_whitespace()
            .next()
            .unwrap_or_default();
        addr.rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {addr:?}"))
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
