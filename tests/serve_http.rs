//! `isomount serve` against real clients: curl (headers, ranges,
//! validators, methods, listings, a traversal corpus), `wget -r` mirroring
//! byte for byte, 32 parallel downloads under a memory bound, slow and
//! surplus connections, and SIGTERM.
//!
//! Images are made by xorriso (Rock Ridge + Joliet) from trees the tests
//! write; expected contents come from those trees. Missing tools fail the
//! test with the fix (ci/install-deps.sh installs them); nothing is skipped.
#![cfg(target_os = "linux")]

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::data::{files_under, noise};
use common::serve::Serve as Server;
use common::sha256_reader;
use tempfile::TempDir;

/// Runs a tool (stdin closed); a missing tool fails with the fix.
fn run(tool: &str, args: &[&str]) -> Output {
    match Command::new(tool).args(args).stdin(Stdio::null()).output() {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("{tool} is not installed: run `bash ci/install-deps.sh`; this test needs it")
        }
        Err(e) => panic!("cannot run {tool}: {e}"),
    }
}

/// A curl answer: status, headers (lower-case names), body.
struct Answer {
    status: u16,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }
}

/// `curl -s --path-as-is -D - ARGS URL`, parsed.
fn curl(url: &str, args: &[&str]) -> Answer {
    let mut all = vec![
        "-s",
        "--path-as-is",
        "--max-time",
        "20",
        "-D",
        "/dev/stderr",
    ];
    all.extend_from_slice(args);
    all.push(url);
    let o = run("curl", &all);
    assert!(o.status.success(), "curl {all:?}: {}", o.status);
    let head = String::from_utf8_lossy(&o.stderr);
    // The last block of headers (after any 1xx).
    let block = head.trim_end().rsplit("\r\n\r\n").next().unwrap_or("");
    let mut lines = block.lines();
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Answer {
        status,
        headers,
        body: o.stdout,
    }
}

fn write(path: &Path, data: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, data).unwrap();
}

/// A tree with nested directories, odd names and a file of a few MB.
fn odd_tree(root: &Path) {
    write(&root.join("readme.txt"), b"hello from the image\n");
    write(&root.join("dir one/sub/deep/leaf.bin"), &noise(70_001, 1));
    write(
        &root.join("dir one/50% off #1?.txt"),
        b"percent hash question\n",
    );
    write(
        &root.join("dir one/caf\u{e9} \u{65e5}\u{672c}.txt"),
        b"unicode\n",
    );
    write(&root.join("dir one/semi;colon & amp.html"), b"<p>x</p>\n");
    write(&root.join("boot/BCD"), b"bcd store\n");
    write(&root.join("boot/boot.sdi"), &noise(4096, 2));
    write(&root.join("big/data.bin"), &noise(3 << 20, 3));
    write(&root.join("empty.dat"), b"");
    std::fs::create_dir_all(root.join("emptydir")).unwrap();
}

/// A temp dir holding `tree/` (written by `fill`), `image.iso` made from it,
/// and a canary file next to the image that must never be served.
struct Fixture {
    dir: TempDir,
}

const CANARY: &[u8] = b"CANARY-outside-the-image-7f3a";

impl Fixture {
    fn new(fill: impl FnOnce(&Path)) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        fill(&dir.path().join("tree"));
        common::xorriso_image(
            &dir.path().join("tree"),
            &dir.path().join("image.iso"),
            "SERVETEST",
        );
        write(&dir.path().join("canary.txt"), CANARY);
        write(&dir.path().join("tree/../canary2.txt"), CANARY);
        Fixture { dir }
    }

    fn tree(&self) -> PathBuf {
        self.dir.path().join("tree")
    }

    fn iso(&self) -> PathBuf {
        self.dir.path().join("image.iso")
    }
}

#[test]
fn files_headers_ranges_validators_methods() {
    let fx = Fixture::new(odd_tree);
    let srv = Server::start(&[&fx.iso()], &[]);
    let data = std::fs::read(fx.tree().join("big/data.bin")).unwrap();
    let size = data.len();

    let get = curl(&srv.url("/big/data.bin"), &[]);
    assert_eq!(get.status, 200);
    assert!(get.body == data, "body differs from the source file");
    assert_eq!(get.header("content-length"), size.to_string());
    assert_eq!(get.header("accept-ranges"), "bytes");
    assert_eq!(get.header("content-type"), "application/octet-stream");
    let etag = get.header("etag").to_string();
    let modified = get.header("last-modified").to_string();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    assert!(modified.ends_with(" GMT"), "{modified}");

    // HEAD: the same headers, no body.
    let head = curl(&srv.url("/big/data.bin"), &["-I"]);
    assert_eq!(head.status, 200);
    let raw = raw_request(
        &srv.addr(),
        b"HEAD /big/data.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
    assert!(
        raw.ends_with("\r\n\r\n"),
        "HEAD answered with a body: {raw}"
    );
    for h in ["content-length", "etag", "last-modified", "content-type"] {
        assert_eq!(head.header(h), get.header(h), "{h}");
    }
    assert_eq!(
        curl(&srv.url("/readme.txt"), &["-I"]).header("content-type"),
        "text/plain"
    );
    assert_eq!(
        curl(&srv.url("/dir%20one/semi%3Bcolon%20%26%20amp.html"), &[]).header("content-type"),
        "text/html"
    );

    // Ranges: single, open-ended, suffix, beyond the end.
    let r = curl(&srv.url("/big/data.bin"), &["-H", "Range: bytes=1000-1999"]);
    assert_eq!(r.status, 206);
    assert_eq!(r.body, &data[1000..2000]);
    assert_eq!(r.header("content-range"), format!("bytes 1000-1999/{size}"));
    let r = curl(
        &srv.url("/big/data.bin"),
        &["-H", &format!("Range: bytes={}-", size - 10)],
    );
    assert_eq!(r.status, 206);
    assert_eq!(r.body, &data[size - 10..]);
    let r = curl(&srv.url("/big/data.bin"), &["-H", "Range: bytes=-300"]);
    assert_eq!(r.status, 206);
    assert_eq!(r.body, &data[size - 300..]);
    assert_eq!(
        r.header("content-range"),
        format!("bytes {}-{}/{size}", size - 300, size - 1)
    );
    let r = curl(
        &srv.url("/big/data.bin"),
        &["-H", &format!("Range: bytes={size}-")],
    );
    assert_eq!(r.status, 416);
    assert_eq!(r.header("content-range"), format!("bytes */{size}"));
    // If-Range with another tag: the whole file.
    let r = curl(
        &srv.url("/big/data.bin"),
        &["-H", "Range: bytes=0-9", "-H", "If-Range: \"other\""],
    );
    assert_eq!((r.status, r.body.len()), (200, size));
    let r = curl(
        &srv.url("/big/data.bin"),
        &["-H", "Range: bytes=0-9", "-H", &format!("If-Range: {etag}")],
    );
    assert_eq!((r.status, r.body.as_slice()), (206, &data[..10]));

    // Validators.
    let r = curl(
        &srv.url("/big/data.bin"),
        &["-H", &format!("If-None-Match: {etag}")],
    );
    assert_eq!(r.status, 304);
    assert!(r.body.is_empty());
    assert_eq!(r.header("etag"), etag);
    let r = curl(
        &srv.url("/big/data.bin"),
        &["-H", "If-None-Match: \"nope\""],
    );
    assert_eq!(r.status, 200);
    let r = curl(
        &srv.url("/big/data.bin"),
        &["-H", &format!("If-Modified-Since: {modified}")],
    );
    assert_eq!(r.status, 304);
    let r = curl(
        &srv.url("/big/data.bin"),
        &["-H", "If-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT"],
    );
    assert_eq!((r.status, r.body.len()), (200, size));

    // The ETag is the same from a new server on the same image.
    drop(srv);
    let srv = Server::start(&[&fx.iso()], &[]);
    assert_eq!(
        curl(&srv.url("/big/data.bin"), &["-I"]).header("etag"),
        etag
    );

    // Other methods.
    for m in ["POST", "PUT", "DELETE", "OPTIONS", "PATCH"] {
        let r = curl(&srv.url("/readme.txt"), &["-X", m, "-d", "x"]);
        assert_eq!(r.status, 405, "{m}");
        assert_eq!(r.header("allow"), "GET, HEAD");
    }

    // Odd names, as encoded by a client.
    let r = curl(&srv.url("/dir%20one/50%25%20off%20%231%3F.txt"), &[]);
    assert_eq!(
        (r.status, r.body.as_slice()),
        (200, &b"percent hash question\n"[..])
    );
    let r = curl(
        &srv.url("/dir%20one/caf%C3%A9%20%E6%97%A5%E6%9C%AC.txt"),
        &[],
    );
    assert_eq!((r.status, r.body.as_slice()), (200, &b"unicode\n"[..]));
    let r = curl(&srv.url("/empty.dat"), &[]);
    assert_eq!((r.status, r.header("content-length")), (200, "0"));
    assert_eq!(curl(&srv.url("/missing"), &[]).status, 404);
    assert_eq!(curl(&srv.url("/readme.txt/"), &[]).status, 404);

    // Directories: redirect to the slash form, HTML, JSON.
    let r = curl(&srv.url("/dir%20one"), &[]);
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), "/dir%20one/");
    let r = curl(&srv.url("/dir%20one/"), &[]);
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").starts_with("text/html"));
    let head = curl(&srv.url("/dir%20one/"), &["-I"]);
    assert_eq!(head.header("content-length"), r.body.len().to_string());
    let page = String::from_utf8(r.body).unwrap();
    assert!(
        page.contains("href=\"./50%25%20off%20%231%3F.txt\""),
        "{page}"
    );
    assert!(page.contains("href=\"./sub/\""), "{page}");
    let r = curl(&srv.url("/dir%20one/"), &["-H", "Accept: application/json"]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), "application/json");
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let mut names: Vec<String> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    let mut expected: Vec<String> = std::fs::read_dir(fx.tree().join("dir one"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    expected.sort();
    assert_eq!(names, expected);
    let leaf = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "sub")
        .unwrap();
    assert_eq!(leaf["type"], "dir");

    // The request log goes through `log` (shown at -v).
    assert_eq!(curl(&srv.url("/readme.txt"), &[]).status, 200);
    srv.wait_log("\"GET /readme.txt HTTP/1.1\" 200 21");
}

#[test]
fn traversal_corpus_never_leaves_the_image() {
    let fx = Fixture::new(odd_tree);
    let srv = Server::start(&[&fx.iso()], &[]);
    let corpus = [
        "/../canary.txt",
        "/../../../../etc/passwd",
        "/dir%20one/../../canary.txt",
        "/%2e%2e/canary.txt",
        "/%2E%2E/canary.txt",
        "/.%2e/canary.txt",
        "/%252e%252e/canary.txt",
        "/%252e%252e%252fcanary.txt",
        "/..%2fcanary.txt",
        "/%2f..%2fcanary.txt",
        "/dir%20one%2f..%2f..%2fcanary.txt",
        "/..%5ccanary.txt",
        "/%5c..%5ccanary.txt",
        "/%c0%ae%c0%ae/canary.txt",
        "/%c0%ae%c0%ae%c0%afcanary.txt",
        "/%e0%80%ae%e0%80%ae/canary.txt",
        "//etc/passwd",
        "//canary.txt",
        "/./../canary.txt",
        "/readme.txt%00.html",
        "/%00",
        "/%",
        "/%zz",
    ];
    for path in corpus {
        let r = curl(&srv.url(path), &[]);
        assert!(
            r.status == 400 || r.status == 404,
            "{path}: status {}",
            r.status
        );
        let body = String::from_utf8_lossy(&r.body);
        assert!(
            !body.contains("CANARY") && !body.contains("root:"),
            "{path}: {body}"
        );
    }
    // With --ignore-case, backslashes separate: `\..\` is refused too.
    drop(srv);
    let srv = Server::start(&[&fx.iso()], &["--ignore-case"]);
    for path in [
        "/..%5ccanary.txt",
        "/boot%5c..%5c..%5ccanary.txt",
        "/BOOT/%2e%2e/canary.txt",
    ] {
        let r = curl(&srv.url(path), &[]);
        assert_eq!(r.status, 400, "{path}");
    }
    // Targets curl does not send: absolute-form, a raw backslash, a raw
    // NUL, an asterisk, an overlong head.
    let long = format!(
        "GET /{} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "a".repeat(20_000)
    );
    let raw: Vec<Vec<u8>> = vec![
        format!(
            "GET http://{}/../canary.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            srv.addr()
        )
        .into(),
        format!(
            "GET http://{}/%2e%2e/canary.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            srv.addr()
        )
        .into(),
        b"GET \\..\\canary.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
        b"GET /\x00/../canary.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
        b"GET * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
        b"GET ../canary.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
        long.into_bytes(),
    ];
    for req in raw {
        let answer = raw_request(&srv.addr(), &req);
        let status: u16 = answer
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let shown = String::from_utf8_lossy(&req[..req.len().min(80)]).into_owned();
        assert!([400, 404, 431].contains(&status), "{shown:?}: {answer}");
        assert!(!answer.contains("CANARY"), "{shown:?}: {answer}");
    }
    // The server is still up, and the canary exists where it was looked for.
    assert_eq!(curl(&srv.url("/readme.txt"), &[]).status, 200);
    assert_eq!(
        std::fs::read(fx.dir.path().join("canary.txt")).unwrap(),
        CANARY
    );
}

/// Sends `req` on a new connection and returns everything that comes back
/// until the server closes (or 10 s pass).
fn raw_request(addr: &str, req: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // No half-close: hyper takes a client's end of input as the end of the
    // connection (requests here ask for `Connection: close` instead).
    let _ = s.write_all(req);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn wget_mirror_is_byte_identical() {
    let fx = Fixture::new(odd_tree);
    let srv = Server::start(&[&fx.iso()], &[]);
    let out = fx.dir.path().join("mirror");
    let o = run(
        "wget",
        &[
            "-r",
            "-np",
            "-nH",
            "-q",
            "-e",
            "robots=off",
            "--restrict-file-names=nocontrol",
            "-P",
            out.to_str().unwrap(),
            &srv.url("/"),
        ],
    );
    assert!(
        o.status.success(),
        "wget: {} {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    // wget saves each directory page as index.html; the tree has none.
    let mut got: BTreeMap<PathBuf, Vec<u8>> = BTreeMap::new();
    for f in files_under(&out) {
        if f.file_name().is_some_and(|n| n == "index.html") {
            continue;
        }
        got.insert(
            f.strip_prefix(&out).unwrap().to_path_buf(),
            std::fs::read(&f).unwrap(),
        );
    }
    let want: BTreeMap<PathBuf, Vec<u8>> = files_under(&fx.tree())
        .into_iter()
        .map(|f| {
            (
                f.strip_prefix(fx.tree()).unwrap().to_path_buf(),
                std::fs::read(&f).unwrap(),
            )
        })
        .collect();
    let got_names: Vec<_> = got.keys().collect();
    let want_names: Vec<_> = want.keys().collect();
    assert_eq!(got_names, want_names);
    for (name, data) in &want {
        assert!(got[name] == *data, "{}: contents differ", name.display());
    }
    assert!(out.join("emptydir").is_dir());
}

#[test]
fn ignore_case_and_backslashes() {
    let fx = Fixture::new(odd_tree);
    let strict = Server::start(&[&fx.iso()], &[]);
    assert_eq!(curl(&strict.url("/BOOT/bcd"), &[]).status, 404);
    assert_eq!(curl(&strict.url("/boot/BCD"), &[]).status, 200);
    let srv = Server::start(&[&fx.iso()], &["--ignore-case"]);
    for path in [
        "/BOOT/bcd",
        "/boot/BCD",
        "/Boot%5CBcd",
        "/BOOT\\BCD",
        "/%5cboot%5cbcd",
    ] {
        let r = curl(&srv.url(path), &[]);
        assert_eq!(
            (r.status, r.body.as_slice()),
            (200, &b"bcd store\n"[..]),
            "{path}"
        );
    }
    let sdi = std::fs::read(fx.tree().join("boot/boot.sdi")).unwrap();
    assert_eq!(curl(&srv.url("/BOOT/BOOT.SDI"), &[]).body, sdi);
}

#[test]
fn several_images_each_under_its_name() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("ta/only-a.txt"), b"from a\n");
    write(&dir.path().join("tb/only-b.txt"), b"from b\n");
    common::xorriso_image(
        &dir.path().join("ta"),
        &dir.path().join("a.iso"),
        "SERVETEST",
    );
    common::xorriso_image(
        &dir.path().join("tb"),
        &dir.path().join("b.iso"),
        "SERVETEST",
    );
    let srv = Server::start(&[&dir.path().join("a.iso"), &dir.path().join("b.iso")], &[]);
    let log = srv.log.lock().unwrap().clone();
    assert!(
        log.contains(&format!("{}/a/", srv.base)) && log.contains(&format!("{}/b/", srv.base)),
        "{log}"
    );
    let r = curl(&srv.url("/"), &["-H", "Accept: application/json"]);
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let names: Vec<&str> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(curl(&srv.url("/a/only-a.txt"), &[]).body, b"from a\n");
    assert_eq!(curl(&srv.url("/b/only-b.txt"), &[]).body, b"from b\n");
    assert_eq!(curl(&srv.url("/a/only-b.txt"), &[]).status, 404);
    assert_eq!(curl(&srv.url("/only-a.txt"), &[]).status, 404);
    assert_eq!(curl(&srv.url("/a"), &[]).status, 301);
}

/// Peak resident set of process `pid` (VmHWM), in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM");
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

#[test]
fn parallel_downloads_stay_within_memory() {
    const MIB: usize = 1 << 20;
    const SIZE: usize = 96 * MIB;
    const CLIENTS: usize = 32;
    let fx = Fixture::new(|root| {
        // Every MiB different (a counter at its start), without the cost
        // of 96 MiB of noise.
        let block = noise(MIB, 9);
        let mut f = std::io::BufWriter::new({
            std::fs::create_dir_all(root).unwrap();
            std::fs::File::create(root.join("large.bin")).unwrap()
        });
        for i in 0..SIZE / MIB {
            f.write_all(&(i as u64).to_le_bytes()).unwrap();
            f.write_all(&block[8..]).unwrap();
        }
        f.flush().unwrap();
    });
    let want = sha256_reader(std::fs::File::open(fx.tree().join("large.bin")).unwrap());
    let srv = Server::start(&[&fx.iso()], &[]);
    let url = srv.url("/large.bin");
    let started = Instant::now();
    let downloads: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let mut c = Command::new("curl")
                    .args(["-s", "--fail", "--max-time", "120", &url])
                    .stdout(Stdio::piped())
                    .spawn()
                    .expect("curl (ci/install-deps.sh installs it)");
                let sum = sha256_reader(c.stdout.take().unwrap());
                assert!(c.wait().unwrap().success());
                sum
            })
        })
        .collect();
    for d in downloads {
        assert_eq!(d.join().unwrap(), want);
    }
    let peak = peak_rss(srv.pid());
    eprintln!(
        "{CLIENTS} downloads of {} MiB in {:?}; server peak RSS {} MiB",
        SIZE / MIB,
        started.elapsed(),
        peak >> 20
    );
    assert!(peak < 256 << 20, "server peak RSS {} MiB", peak >> 20);
}

#[test]
fn slow_client_is_cut_and_others_are_served() {
    let fx = Fixture::new(odd_tree);
    let srv = Server::start(&[&fx.iso()], &["--header-timeout", "2"]);
    let mut slow = TcpStream::connect(srv.addr()).unwrap();
    slow.write_all(b"GET /readme.txt HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let started = Instant::now();
    // Others are served meanwhile.
    let r = curl(&srv.url("/readme.txt"), &[]);
    assert_eq!(r.status, 200);
    let mut rest = Vec::new();
    let r = slow.read_to_end(&mut rest);
    let took = started.elapsed();
    assert!(r.is_ok(), "the slow connection was not closed: {r:?}");
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(8),
        "closed after {took:?}"
    );
    assert!(!String::from_utf8_lossy(&rest).contains("hello"));
    assert_eq!(curl(&srv.url("/readme.txt"), &[]).status, 200);
}

#[test]
fn connection_cap_makes_the_next_one_wait() {
    let fx = Fixture::new(odd_tree);
    let srv = Server::start(
        &[&fx.iso()],
        &["--max-connections", "2", "--header-timeout", "60"],
    );
    let a = TcpStream::connect(srv.addr()).unwrap();
    let b = TcpStream::connect(srv.addr()).unwrap();
    // Let the server take both.
    std::thread::sleep(Duration::from_millis(300));
    let o = run(
        "curl",
        &[
            "-s",
            "-o",
            "/dev/null",
            "--max-time",
            "2",
            &srv.url("/readme.txt"),
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(28),
        "the third connection was served at once"
    );
    // A slot frees up: the next request goes through.
    drop(a);
    let r = curl(&srv.url("/readme.txt"), &[]);
    assert_eq!(r.status, 200);
    drop(b);
}

#[test]
fn sigterm_stops_promptly_with_status_0() {
    let fx = Fixture::new(odd_tree);
    let mut srv = Server::start(&[&fx.iso()], &[]);
    assert_eq!(curl(&srv.url("/readme.txt"), &[]).status, 200);
    // An idle keep-alive connection must not hold the exit up.
    let _idle = TcpStream::connect(srv.addr()).unwrap();
    let o = run("kill", &["-TERM", &srv.pid().to_string()]);
    assert!(o.status.success());
    let started = Instant::now();
    let status = loop {
        if let Some(s) = srv.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "still running 5 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");
}

#[test]
fn remote_image_is_served_like_a_local_one() {
    use common::servers::Nginx;
    let fx = Fixture::new(odd_tree);
    let n = Nginx::start();
    std::fs::copy(fx.iso(), n.root().join("remote.iso")).unwrap();
    let url = PathBuf::from(n.url("remote.iso"));
    let srv = Server::start(&[&url], &["--no-disk-cache", "--ignore-case"]);
    let data = std::fs::read(fx.tree().join("big/data.bin")).unwrap();
    let r = curl(&srv.url("/BIG/data.bin"), &[]);
    assert_eq!(r.status, 200, "{}", srv.log.lock().unwrap());
    assert!(r.body == data, "remote body differs from the source file");
    let r = curl(&srv.url("/big/data.bin"), &["-H", "Range: bytes=-4096"]);
    assert_eq!(
        (r.status, r.body.as_slice()),
        (206, &data[data.len() - 4096..])
    );
    let r = curl(&srv.url("/dir%20one/"), &["-H", "Accept: application/json"]);
    assert_eq!(r.status, 200);
    // The ETag is the local image's: the identity is the image's content.
    let local = Server::start(&[&fx.iso()], &[]);
    assert_eq!(
        curl(&srv.url("/big/data.bin"), &["-I"]).header("etag"),
        curl(&local.url("/big/data.bin"), &["-I"]).header("etag")
    );
}
