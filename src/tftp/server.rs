//! The listening port: reads requests, answers write requests and bad
//! packets with an ERROR, and starts each read transfer on a thread of its
//! own with a new UDP port (RFC 1350 section 4), up to a cap.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::blocks::Blocks;
use super::options::{Limits, negotiate};
use super::packet::{self, ErrorCode, Mode, Packet};
use super::transfer::{Transfer, TransferError};
use super::{Files, OpenError, Options};

/// Longest wait between two looks at the stop flag.
const STOP_POLL: Duration = Duration::from_millis(100);

/// Largest request read; RFC 2347 keeps requests within 512 bytes, a longer
/// datagram is cut here and then reads as malformed.
const REQUEST_BUF: usize = 1024;

/// A TFTP server bound to its port.
pub struct Server {
    socket: UdpSocket,
    files: Arc<dyn Files>,
    opts: Options,
    stop: Arc<AtomicBool>,
    /// Clients (address and port) with a transfer running, with the
    /// request that started it: the same request again from the same port
    /// is the client repeating itself (its answer was lost or is slow).
    active: Active,
}

/// A server serving on its own thread ([`Server::spawn`]); dropping it
/// stops the server and waits for it and its transfers to end.
pub struct Running {
    addr: SocketAddr,
    stop: StopHandle,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl Running {
    /// The address bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.stop();
        if let Some(t) = self.thread.take() {
            match t.join() {
                // A failure was logged when it happened.
                Ok(_) => {}
                Err(_) => log::error!("tftp: the server's thread panicked"),
            }
        }
    }
}

/// Stops a running [`Server`] from another thread.
#[derive(Debug, Clone)]
pub struct StopHandle(Arc<AtomicBool>);

impl StopHandle {
    /// Asks the server and its transfers to stop; [`Server::run`] returns
    /// once they have (within a fraction of a second).
    pub fn stop(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

impl Server {
    /// Binds the listening port.
    pub fn bind(
        addr: impl ToSocketAddrs,
        files: Arc<dyn Files>,
        opts: Options,
    ) -> io::Result<Server> {
        let socket = UdpSocket::bind(addr)?;
        socket.set_read_timeout(Some(STOP_POLL))?;
        Ok(Server {
            socket,
            files,
            opts,
            stop: Arc::new(AtomicBool::new(false)),
            active: Active::default(),
        })
    }

    /// The address bound (with the port chosen when bound to port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// A handle that stops [`Server::run`].
    pub fn stop_handle(&self) -> StopHandle {
        StopHandle(Arc::clone(&self.stop))
    }

    /// Serves on a thread of its own until the [`Running`] is dropped.
    pub fn spawn(self) -> io::Result<Running> {
        let addr = self.local_addr()?;
        let stop = self.stop_handle();
        let thread = thread::Builder::new().name("tftp".into()).spawn(move || {
            let r = self.run();
            if let Err(e) = &r {
                log::error!("tftp: the server on {addr} stopped: {e}");
            }
            r
        })?;
        Ok(Running {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    /// Serves until stopped, then waits for the transfers to end.
    pub fn run(&self) -> io::Result<()> {
        let mut threads: Vec<JoinHandle<()>> = Vec::new();
        let mut buf = [0u8; REQUEST_BUF];
        let r = loop {
            if self.stop.load(Ordering::Relaxed) {
                break Ok(());
            }
            threads.retain(|t| !t.is_finished());
            let (n, peer) = match self.socket.recv_from(&mut buf) {
                Ok(got) => got,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                            // An ICMP error for an earlier reply (Windows
                            // reports it on the next receive).
                            | io::ErrorKind::ConnectionReset
                            | io::ErrorKind::ConnectionRefused
                    ) =>
                {
                    continue;
                }
                Err(e) => break Err(e),
            };
            if let Some(t) = self.request(&buf[..n], peer) {
                threads.push(t);
            }
        };
        for t in threads {
            let _ = t.join();
        }
        r
    }

    /// Handles one datagram on the listening port.
    fn request(&self, datagram: &[u8], peer: SocketAddr) -> Option<JoinHandle<()>> {
        let refuse = |code, message: &str| {
            log::info!("tftp: {peer}: refused: {message}");
            let _ = self.socket.send_to(&packet::error(code, message), peer);
        };
        let req = match Packet::parse(datagram) {
            Ok(Packet::Rrq(req)) => req,
            Ok(Packet::Wrq(req)) => {
                refuse(
                    ErrorCode::AccessViolation,
                    &format!("{}: read-only server", req.filename),
                );
                return None;
            }
            // Never answer an ERROR: two servers could bounce them forever.
            Ok(Packet::Error { .. }) => return None,
            Ok(_) => {
                refuse(ErrorCode::IllegalOperation, "expected a read request");
                return None;
            }
            Err(e) => {
                refuse(ErrorCode::IllegalOperation, &e.to_string());
                return None;
            }
        };
        {
            let mut active = self.active.lock();
            if active.get(&peer).is_some_and(|r| r == datagram) {
                log::debug!("tftp: {peer}: repeated request ignored");
                return None;
            }
            if active.len() >= self.opts.max_transfers {
                drop(active);
                refuse(ErrorCode::NotDefined, "server busy, try again later");
                return None;
            }
            active.insert(peer, datagram.to_vec());
        }
        let job = Job {
            peer,
            name: req.filename.to_owned(),
            mode: req.mode,
            options: req
                .options
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            local: self
                .local_addr()
                .map(|a| a.ip())
                .unwrap_or(unspecified(peer)),
            files: Arc::clone(&self.files),
            opts: self.opts,
            stop: Arc::clone(&self.stop),
            active: self.active.clone(),
        };
        match thread::Builder::new()
            .name(format!("tftp {peer}"))
            .spawn(move || job.run())
        {
            Ok(t) => Some(t),
            Err(e) => {
                self.active.lock().remove(&peer);
                refuse(ErrorCode::NotDefined, &format!("cannot start: {e}"));
                None
            }
        }
    }
}

fn unspecified(peer: SocketAddr) -> IpAddr {
    match peer {
        SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    }
}

/// A read request, handed to its thread.
struct Job {
    peer: SocketAddr,
    name: String,
    mode: Mode,
    options: Vec<(String, String)>,
    local: IpAddr,
    files: Arc<dyn Files>,
    opts: Options,
    stop: Arc<AtomicBool>,
    active: Active,
}

/// The running transfers by client.
#[derive(Clone, Default)]
struct Active(Arc<Mutex<HashMap<SocketAddr, Vec<u8>>>>);

impl Active {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, Vec<u8>>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Job {
    fn run(self) {
        let peer = self.peer;
        let name = self.name.clone();
        let active = self.active.clone();
        if let Err(e) = self.serve() {
            log::warn!("tftp: {peer}: {name}: {e}");
        }
        active.lock().remove(&peer);
    }

    fn serve(self) -> io::Result<()> {
        // The transfer's own port, on the address the request came to.
        let socket = UdpSocket::bind((self.local, 0))?;
        socket.connect(self.peer)?;
        let file = match self.files.open(&self.name) {
            Ok(f) => f,
            Err(e) => {
                let code = match e {
                    OpenError::NotFound => ErrorCode::FileNotFound,
                    OpenError::AccessViolation(_) => ErrorCode::AccessViolation,
                    OpenError::Other(_) => ErrorCode::NotDefined,
                };
                log::info!("tftp: {}: {}: {e}", self.peer, self.name);
                // Done with this client before it hears so: its next
                // request may follow at once.
                self.active.lock().remove(&self.peer);
                let message = match e {
                    OpenError::NotFound => "File not found".to_owned(),
                    e => e.to_string(),
                };
                socket.send(&packet::error(code, &message))?;
                return Ok(());
            }
        };
        let len = file.len();
        let options: Vec<(&str, &str)> = self
            .options
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let limits = Limits {
            max_blksize: self.opts.max_blksize,
            max_windowsize: self.opts.max_windowsize,
            default_timeout: self.opts.timeout,
        };
        let negotiated = negotiate(&options, self.mode, len, &limits);
        log::info!(
            "tftp: {}: sending {} ({len} bytes, {}, blksize {}, windowsize {})",
            self.peer,
            self.name,
            self.mode.name(),
            negotiated.blksize,
            negotiated.windowsize
        );
        let blocks = Blocks::new(file, self.mode, negotiated.blksize);
        let started = Instant::now();
        let transfer = Transfer::new(socket, blocks, negotiated, self.opts.retries, self.stop);
        match transfer.run() {
            Ok(s) => log::info!(
                "tftp: {}: sent {} ({} blocks, {} sent again) in {:.2?}",
                self.peer,
                self.name,
                s.blocks,
                s.resent,
                started.elapsed()
            ),
            Err(e @ TransferError::LastAckLost(_)) => {
                log::info!("tftp: {}: {}: {e}", self.peer, self.name)
            }
            Err(e) => log::warn!("tftp: {}: {}: {e}", self.peer, self.name),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::tftp::File;
    use crate::tftp::blocks::tests::Mem;
    use crate::tftp::packet::{ack, opcode, request};

    struct MemFiles(HashMap<&'static str, Vec<u8>>);

    impl Files for MemFiles {
        fn open(&self, name: &str) -> Result<Box<dyn File>, OpenError> {
            crate::tftp::volume_files::check_name(name)?;
            let name = name.strip_prefix('/').unwrap_or(name);
            let data = self.0.get(name).ok_or(OpenError::NotFound)?;
            Ok(Box::new(Mem(data.clone())))
        }
    }

    /// A running server over `files`, stopped and joined on drop.
    fn start(files: &[(&'static str, Vec<u8>)], opts: Options) -> Running {
        let files = MemFiles(files.iter().cloned().collect());
        let server = Server::bind("127.0.0.1:0", Arc::new(files), opts).unwrap();
        server.spawn().unwrap()
    }

    fn fast() -> Options {
        Options {
            timeout: Duration::from_millis(200),
            retries: 3,
            max_blksize: MAX_BLKSIZE_FOR_TESTS,
            ..Options::default()
        }
    }
    const MAX_BLKSIZE_FOR_TESTS: u16 = 65464;

    fn client() -> UdpSocket {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s
    }

    fn recv(s: &UdpSocket) -> (Vec<u8>, SocketAddr) {
        let mut buf = vec![0; 70_000];
        let (n, from) = s.recv_from(&mut buf).expect("no answer from the server");
        buf.truncate(n);
        (buf, from)
    }

    fn error_code(p: &[u8]) -> (u16, String) {
        match Packet::parse(p) {
            Ok(Packet::Error { code, message }) => (code.to_u16(), message.to_owned()),
            other => panic!("expected an ERROR, got {other:?}"),
        }
    }

    /// Fetches `name` as a well-behaved RFC 7440 client that ACKs at the
    /// end of each window; returns the OACK's options and the data.
    fn fetch(
        addr: SocketAddr,
        name: &str,
        mode: &str,
        options: &[(&str, &str)],
    ) -> (Vec<(String, String)>, Vec<u8>) {
        let s = client();
        s.send_to(&request(opcode::RRQ, name, mode, options), addr)
            .unwrap();
        let mut oack = Vec::new();
        let mut blksize = 512;
        let mut window = 1u64;
        let mut data = Vec::new();
        let mut expect: u64 = 1;
        let mut in_window = 0;
        loop {
            let (p, from) = recv(&s);
            assert_ne!(from, addr, "the transfer must use a port of its own");
            match Packet::parse(&p).unwrap() {
                Packet::Oack(o) => {
                    for (k, v) in o {
                        match k {
                            "blksize" => blksize = v.parse().unwrap(),
                            "windowsize" => window = v.parse().unwrap(),
                            _ => {}
                        }
                        oack.push((k.to_owned(), v.to_owned()));
                    }
                    s.send_to(&ack(0), from).unwrap();
                }
                Packet::Data { block, data: d } => {
                    assert_eq!(block, expect as u16, "blocks in order on loopback");
                    data.extend_from_slice(d);
                    in_window += 1;
                    let last = d.len() < blksize;
                    if last || in_window == window {
                        s.send_to(&ack(block), from).unwrap();
                        in_window = 0;
                    }
                    if last {
                        return (oack, data);
                    }
                    expect += 1;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[test]
    fn plain_and_negotiated_transfers() {
        let files = [
            ("empty", vec![]),
            ("511", pattern(511)),
            ("512", pattern(512)),
            ("513", pattern(513)),
            ("dir/big", pattern(300_000)),
        ];
        let srv = start(&files, fast());
        for (name, want) in &files {
            let (oack, got) = fetch(srv.local_addr(), name, "octet", &[]);
            assert!(oack.is_empty());
            assert_eq!(&got, want, "{name}");
            let (oack, got) = fetch(
                srv.local_addr(),
                &format!("/{name}"),
                "octet",
                &[("blksize", "1428"), ("tsize", "0"), ("windowsize", "8")],
            );
            assert_eq!(&got, want, "{name}");
            let tsize = want.len().to_string();
            assert_eq!(
                oack,
                [("blksize", "1428"), ("tsize", &tsize), ("windowsize", "8")]
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
            );
        }
    }

    #[test]
    fn block_numbers_roll_over() {
        // blksize 8: 70,001 blocks, past 65535 and back through 0.
        let want = pattern(8 * 70_000 + 3);
        let srv = start(&[("f", want.clone())], fast());
        let (_, got) = fetch(
            srv.local_addr(),
            "f",
            "octet",
            &[("blksize", "8"), ("windowsize", "16")],
        );
        assert_eq!(got.len(), want.len());
        assert!(got == want);
    }

    #[test]
    fn netascii_is_converted() {
        let srv = start(&[("t", b"a\nb\rc".repeat(200))], fast());
        let (oack, got) = fetch(srv.local_addr(), "t", "netascii", &[("tsize", "0")]);
        assert!(oack.is_empty(), "no tsize for netascii: {oack:?}");
        assert_eq!(got, b"a\r\nb\r\0c".repeat(200));
    }

    #[test]
    fn errors_for_bad_requests() {
        let srv = start(&[("f", pattern(10))], fast());
        let s = client();
        let ask = |p: &[u8]| {
            s.send_to(p, srv.local_addr()).unwrap();
            error_code(&recv(&s).0)
        };
        assert_eq!(ask(&request(opcode::RRQ, "nope", "octet", &[])).0, 1);
        assert_eq!(ask(&request(opcode::RRQ, "../f", "octet", &[])).0, 2);
        assert_eq!(ask(&request(opcode::RRQ, "a\\f", "octet", &[])).0, 2);
        let (code, msg) = ask(&request(opcode::WRQ, "f", "octet", &[]));
        assert_eq!(code, 2);
        assert!(msg.contains("read-only"), "{msg}");
        assert_eq!(ask(&[0, 9, 1, 2, 3]).0, 4);
        assert_eq!(ask(&[1]).0, 4);
        assert_eq!(ask(&ack(1)).0, 4);
        assert_eq!(ask(b"\0\x01f\0mail\0").0, 4);
        assert_eq!(ask(b"\0\x01f\0octet\0blksize\0").0, 4);
        // An ERROR gets no answer.
        s.send_to(&packet::error(ErrorCode::NotDefined, "x"), srv.local_addr())
            .unwrap();
        s.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        assert!(s.recv_from(&mut [0; 100]).is_err());
    }

    /// Receives DATA packets for `for_how_long`, returning their block
    /// numbers (and the last ERROR's code, if one came).
    fn collect(s: &UdpSocket, for_how_long: Duration) -> (Vec<u16>, Option<u16>) {
        let end = Instant::now() + for_how_long;
        let mut blocks = Vec::new();
        let mut error = None;
        let mut buf = [0; 2048];
        while Instant::now() < end {
            s.set_read_timeout(Some(end - Instant::now() + Duration::from_millis(1)))
                .unwrap();
            let Ok(n) = s.recv(&mut buf) else { break };
            match Packet::parse(&buf[..n]).unwrap() {
                Packet::Data { block, .. } => blocks.push(block),
                Packet::Error { code, .. } => error = Some(code.to_u16()),
                _ => {}
            }
        }
        (blocks, error)
    }

    #[test]
    fn retransmits_then_gives_up() {
        let srv = start(&[("f", pattern(2000))], fast());
        let s = client();
        s.send_to(&request(opcode::RRQ, "f", "octet", &[]), srv.local_addr())
            .unwrap();
        let (_, from) = recv(&s);
        s.connect(from).unwrap();
        // Never ACKed: sent again `retries` times, then an ERROR.
        let (blocks, error) = collect(&s, Duration::from_millis(3300));
        // After 200, 400 and 800 ms (the wait doubles), and the ERROR 1.6 s later.
        assert_eq!(blocks, vec![1, 1, 1], "3 retransmissions of block 1");
        assert_eq!(error, Some(0));
    }

    #[test]
    fn repeated_ack_is_not_answered_in_lock_step() {
        let srv = start(&[("f", pattern(3000))], fast());
        let s = client();
        s.send_to(&request(opcode::RRQ, "f", "octet", &[]), srv.local_addr())
            .unwrap();
        let (_, from) = recv(&s);
        s.connect(from).unwrap();
        s.send(&ack(1)).unwrap();
        s.send(&ack(1)).unwrap();
        // One DATA 2 for the two ACKs (the Sorcerer's Apprentice bug would
        // send two), then its retransmission after 200 ms.
        let (blocks, _) = collect(&s, Duration::from_millis(150));
        assert_eq!(blocks, vec![2]);
    }

    #[test]
    fn a_gap_ack_resends_from_the_gap() {
        let srv = start(&[("f", pattern(512 * 10))], fast());
        let s = client();
        s.send_to(
            &request(opcode::RRQ, "f", "octet", &[("windowsize", "4")]),
            srv.local_addr(),
        )
        .unwrap();
        let (_, from) = recv(&s);
        s.connect(from).unwrap();
        s.send(&ack(0)).unwrap();
        let (blocks, _) = collect(&s, Duration::from_millis(100));
        assert_eq!(blocks, vec![1, 2, 3, 4]);
        // "Block 3 was lost": the next window starts at 3.
        s.send(&ack(2)).unwrap();
        let (blocks, _) = collect(&s, Duration::from_millis(100));
        assert_eq!(blocks, vec![3, 4, 5, 6]);
        // The ACK before the window again: its first block was lost.
        s.send(&ack(2)).unwrap();
        let (blocks, _) = collect(&s, Duration::from_millis(100));
        assert_eq!(blocks, vec![3, 4, 5, 6]);
    }

    #[test]
    fn busy_when_full_and_stops_promptly() {
        let opts = Options {
            max_transfers: 1,
            timeout: Duration::from_secs(30),
            ..fast()
        };
        let srv = start(&[("f", pattern(2000))], opts);
        let first = client();
        first
            .send_to(&request(opcode::RRQ, "f", "octet", &[]), srv.local_addr())
            .unwrap();
        recv(&first);
        // The same request again (the client's retransmission) starts nothing.
        first
            .send_to(&request(opcode::RRQ, "f", "octet", &[]), srv.local_addr())
            .unwrap();
        let second = client();
        second
            .send_to(&request(opcode::RRQ, "f", "octet", &[]), srv.local_addr())
            .unwrap();
        let (code, msg) = error_code(&recv(&second).0);
        assert_eq!(code, 0);
        assert!(msg.contains("busy"), "{msg}");
        // The stalled transfer (30 s timeout) does not hold up stopping.
        let t = Instant::now();
        drop(srv);
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
        let (blocks, error) = collect(&first, Duration::from_millis(300));
        assert!(blocks.is_empty(), "{blocks:?}");
        assert_eq!(error, Some(0));
    }
}
