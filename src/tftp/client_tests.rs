//! The server against real clients: tftp-hpa (RFC 1350 lock-step, no
//! options) and atftp (blksize, tsize, timeout, windowsize), fetching from
//! an image xorriso made of a tree the test wrote; every fetched file is
//! compared byte for byte with the tree.

use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use fs_core::{OpenOptions, Volume};

use super::packet::{Packet, ack, opcode, request};

// The test data of fs-core's and the CLI's integration tests.
#[path = "../../fs-core/tests/support/data.rs"]
mod data;
use super::volume_files::VolumeFiles;
use super::{Options, Running, Server};

/// Files of the tree: name and length. "big" passes 65535 blocks of 512
/// bytes (32 MiB), so its block numbers roll over in lock-step.
const FILES: &[(&str, usize)] = &[
    ("empty", 0),
    ("b511", 511),
    ("b512", 512),
    ("b513", 513),
    ("boot/grub/x86_64-efi/core.efi", 1_000_003),
    ("images/initrd.img", 3 << 20),
    ("lossy.bin", 300_001),
    ("lossy-small.bin", 60_001),
    ("big.img", (33 << 20) + 77),
];

/// The tree and its image, made once per test binary in a directory next
/// to it (reused by later runs while complete and of the same file list;
/// the contents are deterministic).
struct Fixture {
    tree: PathBuf,
    image: PathBuf,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let exe = std::env::current_exe().expect("test binary path");
        let dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("target directory")
            .join("tftp-fixture");
        let f = Fixture {
            tree: dir.join("tree"),
            image: dir.join("tftp.iso"),
        };
        // Written last, naming the files: a fixture of another version of
        // this list is made again.
        let done = dir.join("complete");
        let list = format!("{FILES:?}");
        if fs::read_to_string(&done).is_ok_and(|l| l == list) {
            return f;
        }
        let _ = fs::remove_dir_all(&dir);
        for (i, (name, len)) in FILES.iter().enumerate() {
            let p = f.tree.join(name);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            // Bytes of its own per file, so a mixed-up file cannot match.
            fs::write(&p, data::noise(*len, i as u64 + 1)).unwrap();
        }
        let out = Command::new("xorriso")
            .args(["-as", "mkisofs", "-quiet", "-R", "-J", "-o"])
            .arg(&f.image)
            .arg(&f.tree)
            .output()
            .unwrap_or_else(|e| panic!("xorriso (package xorriso) is needed: {e}"));
        assert!(
            out.status.success(),
            "xorriso: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        fs::write(&done, list).unwrap();
        f
    })
}

/// A server over the fixture's image, stopped on drop.
fn serve(opts: Options) -> Running {
    let vol = Volume::open_path(&fixture().image, &OpenOptions::default()).unwrap();
    let files = Arc::new(VolumeFiles::new(Arc::new(vol)));
    let server = Server::bind("127.0.0.1:0", files, opts).unwrap();
    server.spawn().unwrap()
}

/// Checks that `program` is the client the tests expect; a missing one
/// fails the test, naming the package.
fn require(program: &str, version_arg: &str, marker: &str, package: &str) {
    let out = Command::new(program)
        .arg(version_arg)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "{program} not runnable ({e}): install the {package} package (ci/install-deps.sh)"
            )
        });
    let text = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains(marker),
        "{program} is not {package}'s client (install {package}): {text}"
    );
}

fn tftp_hpa() -> Command {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| require("tftp", "-V", "tftp-hpa", "tftp-hpa"));
    Command::new("tftp")
}

fn atftp() -> Command {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| require("atftp", "--version", "atftp", "atftp"));
    Command::new("atftp")
}

/// Runs a client, killing it after `limit`. Its output goes to files, not
/// pipes, so that a chatty client never blocks on a full pipe.
fn run(cmd: Command, limit: Duration) -> Output {
    run_with_input(cmd, Stdio::null(), limit)
}

/// [`run`] with `input` as standard input.
fn run_with_input(mut cmd: Command, input: Stdio, limit: Duration) -> Output {
    let out = tempfile::tempfile().unwrap();
    let err = tempfile::tempfile().unwrap();
    let mut child = cmd
        .stdin(input)
        .stdout(out.try_clone().unwrap())
        .stderr(err.try_clone().unwrap())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{cmd:?} still running after {limit:?}: {}{}",
                String::from_utf8_lossy(&read_back(out)),
                String::from_utf8_lossy(&read_back(err))
            );
        }
        thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: read_back(out),
        stderr: read_back(err),
    }
}

fn read_back(mut f: fs::File) -> Vec<u8> {
    let mut v = Vec::new();
    f.seek(SeekFrom::Start(0)).unwrap();
    f.read_to_end(&mut v).unwrap();
    v
}

fn hpa_get(addr: SocketAddr, name: &str, dest: &Path) -> Command {
    let mut c = tftp_hpa();
    c.args([
        "-m",
        "binary",
        "127.0.0.1",
        &addr.port().to_string(),
        "-c",
        "get",
        name,
    ])
    .arg(dest);
    c
}

fn atftp_get(addr: SocketAddr, name: &str, dest: &Path, options: &[&str]) -> Command {
    let mut c = atftp();
    for o in options {
        c.args(["--option", o]);
    }
    c.args(["--tftp-timeout", "1", "-g", "-r", name, "-l"])
        .arg(dest)
        .args(["127.0.0.1", &addr.port().to_string()]);
    c
}

/// Asserts a client succeeded and wrote `name`'s exact bytes to `dest`.
fn assert_fetched(what: &str, out: &Output, name: &str, dest: &Path) {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{what} {name}: {:?} {text}",
        out.status
    );
    let want = fs::read(fixture().tree.join(name)).unwrap();
    let got = fs::read(dest).unwrap_or_else(|e| panic!("{what} {name}: no file ({e}): {text}"));
    assert!(
        got == want,
        "{what} {name}: {} bytes fetched, {} expected, first difference at {:?}; {text}",
        got.len(),
        want.len(),
        got.iter().zip(&want).position(|(a, b)| a != b)
    );
}

#[test]
fn tftp_hpa_fetches_every_file() {
    let srv = serve(Options::default());
    let tmp = tempfile::tempdir().unwrap();
    for (i, (name, _)) in FILES.iter().enumerate() {
        let dest = tmp.path().join(i.to_string());
        let out = run(
            hpa_get(srv.local_addr(), name, &dest),
            Duration::from_secs(120),
        );
        assert_fetched("tftp-hpa", &out, name, &dest);
    }
    // With a leading '/' as PXE configurations often have.
    let dest = tmp.path().join("slash");
    let out = run(
        hpa_get(srv.local_addr(), "/b513", &dest),
        Duration::from_secs(10),
    );
    assert_fetched("tftp-hpa", &out, "b513", &dest);
}

#[test]
fn atftp_fetches_every_file_with_options() {
    let srv = serve(Options::default());
    let tmp = tempfile::tempdir().unwrap();
    let options: &[&[&str]] = &[
        &["blksize 1428", "tsize 0", "windowsize 8"],
        &["blksize 512", "windowsize 4", "timeout 2"],
    ];
    for (j, opts) in options.iter().enumerate() {
        for (i, (name, _)) in FILES.iter().enumerate() {
            let dest = tmp.path().join(format!("{j}-{i}"));
            let out = run(
                atftp_get(srv.local_addr(), name, &dest, opts),
                Duration::from_secs(120),
            );
            assert_fetched("atftp", &out, name, &dest);
        }
    }
}

/// What the server answered to atftp's options, from its --trace output.
#[test]
fn atftp_sees_the_negotiated_options() {
    let srv = serve(Options::default());
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("f");
    let name = "boot/grub/x86_64-efi/core.efi";
    let mut cmd = atftp();
    for o in ["blksize 9000", "tsize 0", "windowsize 100", "timeout 3"] {
        cmd.args(["--option", o]);
    }
    cmd.args(["--trace", "-g", "-r", name, "-l"])
        .arg(&dest)
        .args(["127.0.0.1", &srv.local_addr().port().to_string()]);
    let out = run(cmd, Duration::from_secs(60));
    assert_fetched("atftp", &out, name, &dest);
    let text = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
    // Clamped to the defaults' 1468 and 64; tsize is the file's length.
    let oack = text
        .lines()
        .find(|l| l.contains("received OACK"))
        .unwrap_or_else(|| panic!("no OACK in atftp's trace: {text}"));
    for want in [
        "blksize: 1468",
        "tsize: 1000003",
        "windowsize: 64",
        "timeout: 3",
    ] {
        assert!(oack.contains(want), "{want:?} not in {oack:?}");
    }
}

#[test]
fn many_clients_at_once() {
    let srv = serve(Options::default());
    let tmp = tempfile::tempdir().unwrap();
    let names = [
        "images/initrd.img",
        "boot/grub/x86_64-efi/core.efi",
        "b513",
        "lossy.bin",
    ];
    let mut jobs = Vec::new();
    for i in 0..12 {
        let name = names[i % names.len()];
        let dest = tmp.path().join(i.to_string());
        let cmd = if i % 2 == 0 {
            hpa_get(srv.local_addr(), name, &dest)
        } else {
            atftp_get(
                srv.local_addr(),
                name,
                &dest,
                &["blksize 1428", "windowsize 16", "tsize 0"],
            )
        };
        let what = if i % 2 == 0 { "tftp-hpa" } else { "atftp" };
        jobs.push((what, name, dest.clone(), cmd.spawn_with_output()));
    }
    for (what, name, dest, job) in jobs {
        let out = job.join().unwrap();
        assert_fetched(what, &out, name, &dest);
    }
}

trait SpawnWithOutput {
    fn spawn_with_output(self) -> JoinHandle<Output>;
}

impl SpawnWithOutput for Command {
    fn spawn_with_output(self) -> JoinHandle<Output> {
        thread::spawn(move || run(self, Duration::from_secs(120)))
    }
}

/// A UDP relay between one client and the server that drops `percent` of
/// the datagrams each way, chosen by a seeded generator. The client sees
/// the relay's one port for the whole transfer; the relay follows the
/// server to its transfer port.
struct LossyProxy {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    dropped: Arc<AtomicU64>,
    passed: Arc<AtomicU64>,
    threads: Vec<JoinHandle<()>>,
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

impl LossyProxy {
    fn start(server: SocketAddr, percent: u64, seed: u64) -> LossyProxy {
        let front = Arc::new(UdpSocket::bind("127.0.0.1:0").unwrap());
        let back = Arc::new(UdpSocket::bind("127.0.0.1:0").unwrap());
        for s in [&front, &back] {
            s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        }
        let addr = front.local_addr().unwrap();
        let client: Arc<Mutex<Option<SocketAddr>>> = Arc::default();
        let target = Arc::new(Mutex::new(server));
        let stop = Arc::new(AtomicBool::new(false));
        let dropped = Arc::new(AtomicU64::new(0));
        let passed = Arc::new(AtomicU64::new(0));
        let relay = |from: Arc<UdpSocket>, to: Arc<UdpSocket>, seed: u64, towards_server: bool| {
            let (client, target, stop, dropped, passed) = (
                Arc::clone(&client),
                Arc::clone(&target),
                Arc::clone(&stop),
                Arc::clone(&dropped),
                Arc::clone(&passed),
            );
            thread::spawn(move || {
                let mut rng = Rng(seed);
                let mut buf = vec![0; 65_536];
                while !stop.load(Ordering::Relaxed) {
                    let Ok((n, src)) = from.recv_from(&mut buf) else {
                        continue;
                    };
                    let dest = if towards_server {
                        *client.lock().unwrap() = Some(src);
                        *target.lock().unwrap()
                    } else {
                        *target.lock().unwrap() = src;
                        match *client.lock().unwrap() {
                            Some(c) => c,
                            None => continue,
                        }
                    };
                    if rng.next() % 100 < percent {
                        dropped.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    passed.fetch_add(1, Ordering::Relaxed);
                    let _ = to.send_to(&buf[..n], dest);
                }
            })
        };
        let threads = vec![
            relay(Arc::clone(&front), Arc::clone(&back), seed, true),
            relay(
                Arc::clone(&back),
                Arc::clone(&front),
                seed ^ 0xDEAD_BEEF,
                false,
            ),
        ];
        LossyProxy {
            addr,
            stop,
            dropped,
            passed,
            threads,
        }
    }
}

impl Drop for LossyProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

#[test]
fn transfers_survive_a_lossy_network() {
    let srv = serve(Options {
        timeout: Duration::from_millis(250),
        retries: 20,
        ..Options::default()
    });
    let tmp = tempfile::tempdir().unwrap();
    // (client, file, atftp options)
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "atftp",
            "lossy.bin",
            &["blksize 1428", "tsize 0", "windowsize 8"],
        ),
        ("atftp", "lossy-small.bin", &["blksize 512"]),
        ("atftp", "b513", &["windowsize 4"]),
        ("tftp-hpa", "lossy-small.bin", &[]),
    ];
    let (mut dropped, mut passed) = (0, 0);
    for (seed, (client, name, opts)) in cases.iter().enumerate() {
        let proxy = LossyProxy::start(srv.local_addr(), 10, 0x5EED + seed as u64);
        let dest = tmp.path().join(seed.to_string());
        let limit = Duration::from_secs(180);
        let started = Instant::now();
        let out = match *client {
            "atftp" => run(atftp_get(proxy.addr, name, &dest, opts), limit),
            _ => {
                // Commands on standard input, to set the client's own
                // retransmission timeout to 1 s (5 s by default).
                let mut script = tempfile::tempfile().unwrap();
                writeln!(
                    script,
                    "binary\nrexmt 1\nget {name} {}\nquit",
                    dest.display()
                )
                .unwrap();
                script.seek(SeekFrom::Start(0)).unwrap();
                let mut cmd = tftp_hpa();
                cmd.args(["127.0.0.1", &proxy.addr.port().to_string()]);
                run_with_input(cmd, Stdio::from(script), limit)
            }
        };
        assert_fetched(&format!("{client} through loss"), &out, name, &dest);
        let (d, p) = (
            proxy.dropped.load(Ordering::Relaxed),
            proxy.passed.load(Ordering::Relaxed),
        );
        eprintln!(
            "{client} {name} {opts:?}: {d} datagrams dropped, {p} passed, {:.1?}",
            started.elapsed()
        );
        dropped += d;
        passed += p;
    }
    // The relay really dropped about a tenth.
    let share = dropped as f64 / (dropped + passed) as f64;
    assert!(
        (0.05..0.15).contains(&share),
        "{dropped} dropped, {passed} passed"
    );
}

fn raw_error(addr: SocketAddr, packet: &[u8]) -> (u16, String) {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.send_to(packet, addr).unwrap();
    let mut buf = [0; 1024];
    let n = s.recv(&mut buf).expect("an answer");
    match Packet::parse(&buf[..n]) {
        Ok(Packet::Error { code, message }) => (code.to_u16(), message.to_owned()),
        other => panic!("expected an ERROR, got {other:?}"),
    }
}

#[test]
fn errors_reach_the_clients() {
    let srv = serve(Options::default());
    let tmp = tempfile::tempdir().unwrap();
    // The codes on the wire.
    let rrq = |name: &str| request(opcode::RRQ, name, "octet", &[]);
    assert_eq!(raw_error(srv.local_addr(), &rrq("missing")).0, 1);
    assert_eq!(raw_error(srv.local_addr(), &rrq("boot/missing")).0, 1);
    assert_eq!(raw_error(srv.local_addr(), &rrq("../b513")).0, 2);
    assert_eq!(raw_error(srv.local_addr(), &rrq("boot/../b513")).0, 2);
    assert_eq!(raw_error(srv.local_addr(), &rrq("boot")).0, 2);
    assert_eq!(
        raw_error(srv.local_addr(), &request(opcode::WRQ, "new", "octet", &[])).0,
        2
    );
    assert_eq!(raw_error(srv.local_addr(), &ack(3)).0, 4);

    // What the clients make of them.
    let dest = tmp.path().join("x");
    let out = run(
        hpa_get(srv.local_addr(), "missing", &dest),
        Duration::from_secs(10),
    );
    let text = String::from_utf8_lossy(&out.stderr) + String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Error code 1"), "tftp-hpa: {text}");
    let out = run(
        hpa_get(srv.local_addr(), "../b513", &dest),
        Duration::from_secs(10),
    );
    let text = String::from_utf8_lossy(&out.stderr) + String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Error code 2"), "tftp-hpa: {text}");

    let local = tmp.path().join("upload");
    fs::write(&local, b"data").unwrap();
    let mut put = tftp_hpa();
    put.args([
        "-m",
        "binary",
        "127.0.0.1",
        &srv.local_addr().port().to_string(),
        "-c",
        "put",
    ])
    .arg(&local)
    .arg("upload");
    let out = run(put, Duration::from_secs(10));
    let text = String::from_utf8_lossy(&out.stderr) + String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Error code 2"), "tftp-hpa put: {text}");

    let out = run(
        atftp_get(srv.local_addr(), "missing", &dest, &["tsize 0"]),
        Duration::from_secs(10),
    );
    assert!(!out.status.success(), "atftp succeeded on a missing file");
    let text = String::from_utf8_lossy(&out.stderr) + String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("File not found"), "atftp: {text}");
}
