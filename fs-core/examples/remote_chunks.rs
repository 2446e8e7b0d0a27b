//! Measures the remote chunk engine against a real HTTP server, to choose
//! the default chunk size. Run by hand (not in CI):
//!
//! ```text
//! cargo run --release -p fs-core --features remote --example remote_chunks -- \
//!     http://127.0.0.1:18471/image.bin [--rtt-ms 20] [--mib 256] [--chunks 256,512,1024,...]
//!     [--readahead 4]
//! ```
//!
//! For each chunk size (KiB), on a cold cache each time:
//!
//! - `seq`: one stream reads `--mib` MiB from the start in 128 KiB reads
//!   (as FUSE asks): throughput, requests, bytes moved;
//! - `meta`: 200 random 32 KiB reads (the `Volume`'s metadata blocks);
//! - `files`: 40 files of 512 KiB at random places, each read through in
//!   128 KiB reads: what a chunk size costs for many small files.
//!
//! `--rtt-ms` adds that much to every request before it is sent (one round
//! trip of a keep-alive connection; no bandwidth limit): a stand-in for a
//! far server where `tc netem` is not available.
//!
//! The fetcher here is a minimal one (GET with `Range` and `If-Match`); the
//! real ones live in `source::remote`'s `http` and `s3` modules.

#[cfg(feature = "remote")]
fn main() -> std::process::ExitCode {
    match bench::run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("remote_chunks: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(not(feature = "remote"))]
fn main() {
    eprintln!("remote_chunks: build with --features remote");
}

#[cfg(feature = "remote")]
mod bench {
    use std::error::Error;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use fs_core::source::ReadAt;
    use fs_core::source::remote::{
        FetchError, ObjectMeta, RangeFetcher, RemoteOptions, RemoteSource, RemoteStats,
    };

    struct Http {
        url: String,
        agent: ureq::Agent,
        rtt: Duration,
    }

    impl Http {
        fn err(&self, e: impl std::fmt::Display) -> FetchError {
            FetchError::Transient {
                name: self.url.clone(),
                detail: e.to_string(),
            }
        }
    }

    impl RangeFetcher for Http {
        fn name(&self) -> &str {
            &self.url
        }

        fn stat(&self) -> Result<ObjectMeta, FetchError> {
            let resp = self.agent.head(&self.url).call().map_err(|e| self.err(e))?;
            let h = |n: &str| {
                resp.headers()
                    .get(n)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            let size = h("content-length")
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| self.err("no Content-Length"))?;
            Ok(ObjectMeta {
                size,
                etag: h("etag"),
                last_modified: h("last-modified"),
            })
        }

        fn fetch(&self, start: u64, len: u64, pinned: &ObjectMeta) -> Result<Vec<u8>, FetchError> {
            std::thread::sleep(self.rtt);
            let mut req = self
                .agent
                .get(&self.url)
                .header("Range", format!("bytes={start}-{}", start + len - 1));
            if let Some(etag) = pinned.strong_etag() {
                req = req.header("If-Match", etag);
            }
            let mut resp = req.call().map_err(|e| self.err(e))?;
            match resp.status().as_u16() {
                206 => {}
                412 => {
                    return Err(FetchError::Changed {
                        name: self.url.clone(),
                        detail: "412".into(),
                    });
                }
                s => return Err(self.err(format!("HTTP {s}"))),
            }
            resp.body_mut()
                .with_config()
                .limit(len + 1)
                .read_to_vec()
                .map_err(|e| self.err(e))
        }
    }

    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n.max(1)
        }
    }

    fn line(what: &str, chunk_kib: u32, t: Duration, read: u64, s: &RemoteStats) {
        let secs = t.as_secs_f64();
        println!(
            "{what:5} {chunk_kib:>5} KiB  {:>8.1} MB/s  {:>7.2} s  read {:>7.1} MB  moved {:>8.1} MB  {:>5} requests",
            read as f64 / secs / 1e6,
            secs,
            read as f64 / 1e6,
            s.bytes_fetched as f64 / 1e6,
            s.requests
        );
    }

    pub fn run() -> Result<(), Box<dyn Error>> {
        let mut args = std::env::args().skip(1);
        let mut url = None;
        let mut rtt_ms = 0u64;
        let mut mib = 256u64;
        let mut chunks = vec![256u32, 512, 1024, 2048, 4096, 8192];
        let mut readahead = RemoteOptions::default().readahead;
        while let Some(a) = args.next() {
            match a.as_str() {
                "--rtt-ms" => rtt_ms = args.next().ok_or("--rtt-ms N")?.parse()?,
                "--readahead" => readahead = args.next().ok_or("--readahead N")?.parse()?,
                "--mib" => mib = args.next().ok_or("--mib N")?.parse()?,
                "--chunks" => {
                    chunks = args
                        .next()
                        .ok_or("--chunks KIB,KIB,...")?
                        .split(',')
                        .map(str::parse)
                        .collect::<Result<_, _>>()?;
                }
                _ => url = Some(a),
            }
        }
        let url = url.ok_or("usage: remote_chunks URL [--rtt-ms N] [--mib N] [--chunks KIB,..]")?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_idle_connections_per_host(64)
            .build()
            .into();
        let fetcher = Arc::new(Http {
            url,
            agent,
            rtt: Duration::from_millis(rtt_ms),
        });
        println!("rtt {rtt_ms} ms, sequential {mib} MiB, read-ahead {readahead} chunks");
        for &kib in &chunks {
            let open = || {
                let opts = RemoteOptions {
                    chunk_size: kib * 1024,
                    readahead,
                    ..RemoteOptions::default()
                };
                RemoteSource::open(fetcher.clone(), opts)
            };

            let src = open()?;
            let mut buf = vec![0u8; 128 * 1024];
            let t = Instant::now();
            let total = (mib << 20).min(src.len());
            let mut off = 0;
            while off < total {
                src.read_exact_at(off, &mut buf)?;
                off += buf.len() as u64;
            }
            line("seq", kib, t.elapsed(), off, &src.stats());
            drop(src);

            let src = open()?;
            let mut rng = Rng(0x5eed);
            let mut block = vec![0u8; 32 * 1024];
            let t = Instant::now();
            for _ in 0..200 {
                let off = rng.below(src.len() / block.len() as u64) * block.len() as u64;
                src.read_exact_at(off, &mut block)?;
            }
            line(
                "meta",
                kib,
                t.elapsed(),
                200 * block.len() as u64,
                &src.stats(),
            );
            drop(src);

            let src = open()?;
            let t = Instant::now();
            for _ in 0..40 {
                let start = rng.below((src.len() - (1 << 20)) / 2048) * 2048;
                for k in 0..4 {
                    src.read_exact_at(start + k * buf.len() as u64, &mut buf)?;
                }
            }
            line(
                "files",
                kib,
                t.elapsed(),
                40 * 4 * buf.len() as u64,
                &src.stats(),
            );
            // Read-ahead of the last file may still be coming.
            std::thread::sleep(Duration::from_millis(200));
        }
        Ok(())
    }
}
