//! An HTTP/1.1 proxy on loopback that sits in front of a real server (the
//! tests' nginx) and, for a seeded share of requests, misbehaves the ways
//! networks do: answers 503, cuts the body short, resets the connection,
//! or stalls longer than any client waits. The same seed gives the same
//! sequence of faults, so a failing run repeats.
//!
//! Each request gets its own upstream connection with `Connection: close`
//! (and the client gets `Connection: close` too), so faults never leak from
//! one request into the next.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// What the proxy does to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forward faithfully.
    Pass,
    /// `503 Service Unavailable`, no body.
    Unavailable,
    /// Forward the headers and half the body, then close.
    ShortBody,
    /// Close the connection without answering.
    Reset,
    /// Say nothing for this long, then close.
    Stall(Duration),
}

/// A running proxy.
pub struct FaultProxy {
    /// Its port on 127.0.0.1.
    pub port: u16,
    stop: Arc<AtomicBool>,
    /// Faults dealt so far, by kind: pass, 503, short, reset, stall.
    pub counts: Arc<[AtomicU64; 5]>,
    rate: Arc<Mutex<(u32, u64)>>,
}

impl FaultProxy {
    /// Proxies to `127.0.0.1:upstream`; `percent` of requests get a fault
    /// (503, short body, reset or a stall of `stall`, in turn picked by an
    /// xorshift generator seeded with `seed`).
    pub fn start(upstream: u16, percent: u32, seed: u64, stall: Duration) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let counts: Arc<[AtomicU64; 5]> = Arc::new(Default::default());
        let rate = Arc::new(Mutex::new((percent, seed.max(1))));
        let (stop2, counts2, rate2) = (Arc::clone(&stop), Arc::clone(&counts), Arc::clone(&rate));
        thread::spawn(move || {
            while !stop2.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let fault = {
                            let mut g = rate2.lock().unwrap();
                            let (percent, ref mut x) = *g;
                            *x ^= *x << 13;
                            *x ^= *x >> 7;
                            *x ^= *x << 17;
                            if (*x % 100) as u32 >= percent {
                                Fault::Pass
                            } else {
                                match (*x >> 8) % 4 {
                                    0 => Fault::Unavailable,
                                    1 => Fault::ShortBody,
                                    2 => Fault::Reset,
                                    _ => Fault::Stall(stall),
                                }
                            }
                        };
                        let i = match fault {
                            Fault::Pass => 0,
                            Fault::Unavailable => 1,
                            Fault::ShortBody => 2,
                            Fault::Reset => 3,
                            Fault::Stall(_) => 4,
                        };
                        counts2[i].fetch_add(1, Ordering::SeqCst);
                        thread::spawn(move || {
                            let _ = serve(client, upstream, fault);
                        });
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        thread::sleep(Duration::from_millis(2));
                    }
                    Err(_) => break,
                }
            }
        });
        FaultProxy {
            port,
            stop,
            counts,
            rate,
        }
    }

    /// Changes the share of faulty requests from now on.
    pub fn set_percent(&self, percent: u32) {
        self.rate.lock().unwrap().0 = percent;
    }

    /// Faults dealt so far (everything but `Pass`).
    pub fn faults(&self) -> u64 {
        self.counts[1..]
            .iter()
            .map(|c| c.load(Ordering::SeqCst))
            .sum()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Reads one request head (through the blank line).
fn read_head(r: &mut BufReader<TcpStream>) -> std::io::Result<Vec<String>> {
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let line = line.trim_end_matches(['\r', '\n']).to_string();
        if line.is_empty() {
            return Ok(lines);
        }
        lines.push(line);
    }
}

fn serve(client: TcpStream, upstream: u16, fault: Fault) -> std::io::Result<()> {
    client.set_nonblocking(false)?;
    let mut reader = BufReader::new(client.try_clone()?);
    let head = read_head(&mut reader)?;
    let mut client = client;
    match fault {
        Fault::Unavailable => {
            client.write_all(
                b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            )?;
            return client.shutdown(Shutdown::Both);
        }
        Fault::Reset => return client.shutdown(Shutdown::Both),
        Fault::Stall(d) => {
            thread::sleep(d);
            return client.shutdown(Shutdown::Both);
        }
        Fault::Pass | Fault::ShortBody => {}
    }
    let mut up = TcpStream::connect(("127.0.0.1", upstream))?;
    let mut req = String::new();
    for l in &head {
        let lower = l.to_ascii_lowercase();
        if lower.starts_with("connection:") || lower.starts_with("keep-alive:") {
            continue;
        }
        req.push_str(l);
        req.push_str("\r\n");
    }
    req.push_str("Connection: close\r\n\r\n");
    up.write_all(req.as_bytes())?;
    let mut answer = Vec::new();
    up.read_to_end(&mut answer)?;
    let body_at = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(answer.len(), |p| p + 4);
    let keep = match fault {
        Fault::ShortBody => body_at + (answer.len() - body_at) / 2,
        _ => answer.len(),
    };
    client.write_all(&answer[..keep])?;
    client.shutdown(Shutdown::Both)
}
