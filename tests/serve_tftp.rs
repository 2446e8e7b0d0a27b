//! `isomount serve --tftp`: the images over TFTP beside HTTP, fetched with
//! tftp-hpa (RFC 1350 lock-step) and atftp (blksize, tsize, windowsize)
//! from a real `isomount serve` process, with serve's path rules; SIGTERM
//! stops both. Expected bytes come from the tree xorriso made the image of.
#![cfg(target_os = "linux")]

mod common;

use std::fs;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::data::noise;
use common::serve::Serve;

/// Files of the test tree: name and length.
const FILES: &[(&str, usize)] = &[
    ("empty", 0),
    ("b512", 512),
    ("boot/pxelinux.0", 46_001),
    ("boot/BCD", 262_144),
    ("sources/boot.wim", (5 << 20) + 3),
];

/// A tree and its image, in a temporary directory.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new(tag: &str) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path().join("tree");
        // Bytes of their own for every file of every image, so a file
        // served from the wrong place cannot compare equal.
        let tag_seed = tag.bytes().fold(0u64, |h, b| h * 131 + u64::from(b));
        for (i, (name, len)) in FILES.iter().enumerate() {
            let p = tree.join(name);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, noise(*len, tag_seed * 64 + i as u64)).unwrap();
        }
        let iso = dir.path().join(format!("{tag}.iso"));
        common::xorriso_image(&tree, &iso, "SERVETFTP");
        Fixture { dir }
    }

    fn iso(&self) -> PathBuf {
        let mut isos = fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "iso"));
        isos.next().unwrap()
    }

    fn file(&self, name: &str) -> Vec<u8> {
        fs::read(self.dir.path().join("tree").join(name)).unwrap()
    }
}

/// `isomount -v serve --listen 127.0.0.1:0 --tftp 127.0.0.1:0 EXTRA... IMAGES...`
/// and its TFTP port.
fn serve(images: &[&Path], extra: &[&str]) -> (Serve, u16) {
    let mut args = vec!["--tftp", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    let srv = Serve::start(images, &args);
    let port = srv.tftp_port();
    (srv, port)
}

fn log(srv: &Serve) -> String {
    srv.log.lock().unwrap().clone()
}

/// Runs a client with a time limit; output through files so that a chatty
/// client never blocks on a pipe.
fn run(mut cmd: Command, limit: Duration) -> (Output, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = fs::File::create(dir.path().join("out")).unwrap();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e} (ci/install-deps.sh installs the clients)"));
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{cmd:?} still running after {limit:?}: {}",
                fs::read_to_string(dir.path().join("out")).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let text = fs::read_to_string(dir.path().join("out")).unwrap_or_default();
    (
        Output {
            status,
            stdout: Vec::new(),
            stderr: Vec::new(),
        },
        text,
    )
}

/// Fails, naming the package, when a client is missing or another one.
fn require(program: &str, arg: &str, marker: &str, package: &str) {
    let o = Command::new(program)
        .arg(arg)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}: install {package} (ci/install-deps.sh)"));
    let text = String::from_utf8_lossy(&o.stdout) + String::from_utf8_lossy(&o.stderr);
    assert!(
        text.contains(marker),
        "{program} is not {package}'s: {text}"
    );
}

fn hpa(port: u16, args: &[&str]) -> Command {
    require("tftp", "-V", "tftp-hpa", "tftp-hpa");
    let mut c = Command::new("tftp");
    c.args(["-m", "binary", "127.0.0.1", &port.to_string(), "-c"])
        .args(args);
    c
}

fn atftp(port: u16, name: &str, dest: &Path, options: &[&str]) -> Command {
    require("atftp", "--version", "atftp", "atftp");
    let mut c = Command::new("atftp");
    for o in options {
        c.args(["--option", o]);
    }
    c.args(["--tftp-timeout", "1", "-g", "-r", name, "-l"])
        .arg(dest)
        .args(["127.0.0.1", &port.to_string()]);
    c
}

fn assert_same(what: &str, (out, text): &(Output, String), dest: &Path, want: &[u8]) {
    assert!(out.status.success(), "{what}: {:?}: {text}", out.status);
    let got = fs::read(dest).unwrap_or_else(|e| panic!("{what}: {e}: {text}"));
    assert!(
        got == want,
        "{what}: {} bytes, {} expected; {text}",
        got.len(),
        want.len()
    );
}

#[test]
fn tftp_beside_http_with_both_clients() {
    let fx = Fixture::new("one");
    let (srv, port) = serve(&[&fx.iso()], &[]);
    let tmp = tempfile::tempdir().unwrap();
    for (i, (name, _)) in FILES.iter().enumerate() {
        let want = fx.file(name);
        let dest = tmp.path().join(format!("h{i}"));
        let d = dest.to_str().unwrap();
        let r = run(hpa(port, &["get", name, d]), Duration::from_secs(60));
        assert_same(&format!("tftp-hpa {name}"), &r, &dest, &want);
        let dest = tmp.path().join(format!("a{i}"));
        let r = run(
            atftp(
                port,
                &format!("/{name}"),
                &dest,
                &["blksize 1428", "tsize 0", "windowsize 8"],
            ),
            Duration::from_secs(60),
        );
        assert_same(&format!("atftp {name}"), &r, &dest, &want);
    }
    // HTTP answers at the same time.
    let o = Command::new("curl")
        .args(["-sf", &srv.url("/boot/BCD")])
        .output()
        .expect("curl (package curl)");
    assert!(o.status.success());
    assert!(o.stdout == fx.file("boot/BCD"));
    assert!(
        log(&srv).contains("tftp: "),
        "transfers are logged at -v: {}",
        log(&srv)
    );
}

#[test]
fn ignore_case_backslashes_and_several_images() {
    let a = Fixture::new("a");
    let b = Fixture::new("b");
    let (_srv, port) = serve(&[&a.iso(), &b.iso()], &["--ignore-case"]);
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        ("a/boot/BCD", &a, "boot/BCD"),
        ("/B/BOOT/bcd", &b, "boot/BCD"),
        ("\\a\\Boot\\PXELINUX.0", &a, "boot/pxelinux.0"),
        ("b\\sources\\boot.wim", &b, "sources/boot.wim"),
    ];
    for (i, (asked, fx, name)) in cases.into_iter().enumerate() {
        let dest = tmp.path().join(i.to_string());
        let r = run(
            atftp(port, asked, &dest, &["blksize 1024"]),
            Duration::from_secs(60),
        );
        assert_same(&format!("atftp {asked}"), &r, &dest, &fx.file(name));
    }
}

#[test]
fn errors_reach_the_clients() {
    let fx = Fixture::new("err");
    let (_srv, port) = serve(&[&fx.iso()], &[]);
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("x");
    let d = dest.to_str().unwrap();
    for (name, code) in [
        ("missing", "Error code 1"),
        ("../b512", "Error code 2"),
        ("boot", "Error code 2"),
        // Without --ignore-case a backslash is part of a name.
        ("boot\\BCD", "Error code 1"),
    ] {
        let (_, text) = run(hpa(port, &["get", name, d]), Duration::from_secs(20));
        assert!(text.contains(code), "get {name}: {text}");
    }
    let local = tmp.path().join("up");
    fs::write(&local, b"data").unwrap();
    let (_, text) = run(
        hpa(port, &["put", local.to_str().unwrap(), "up"]),
        Duration::from_secs(20),
    );
    assert!(text.contains("Error code 2"), "put: {text}");
    let (out, text) = run(
        atftp(port, "missing", &dest, &["tsize 0"]),
        Duration::from_secs(20),
    );
    assert!(
        !out.status.success() && text.contains("File not found"),
        "atftp: {text}"
    );
}

#[test]
fn sigterm_stops_with_a_transfer_stalled() {
    let fx = Fixture::new("stop");
    let (mut srv, port) = serve(&[&fx.iso()], &[]);
    // A read request never acknowledged: the transfer waits and resends.
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut rrq = vec![0, 1];
    rrq.extend_from_slice(b"sources/boot.wim\0octet\0");
    s.send_to(&rrq, ("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0; 600];
    let (n, _) = s.recv_from(&mut buf).expect("DATA 1");
    assert_eq!(&buf[..4], &[0, 3, 0, 1], "{:?}", &buf[..n.min(8)]);
    let o = Command::new("kill")
        .args(["-TERM", &srv.pid().to_string()])
        .output()
        .unwrap();
    assert!(o.status.success());
    let started = Instant::now();
    let status = loop {
        if let Some(st) = srv.child.try_wait().unwrap() {
            break st;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "still running 5 s after SIGTERM: {}",
            log(&srv)
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}: {}", log(&srv));
}

#[test]
fn a_taken_tftp_port_is_a_clear_error() {
    let fx = Fixture::new("busy");
    let taken = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let o = Command::new(env!("CARGO_BIN_EXE_isomount"))
        .args(["serve", "--listen", "127.0.0.1:0", "--tftp", &addr])
        .arg(fx.iso())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(err.contains(&addr) && err.contains("TFTP"), "{err}");
}
