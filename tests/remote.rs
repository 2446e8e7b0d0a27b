//! Remote images through the CLI and a FUSE mount, served by a real nginx on
//! loopback that the tests start (`common::servers`), and S3 objects served
//! by moto with IAM enforced (the same harness). Bytes moved are counted
//! from nginx's own access log. Expected contents come from the tree
//! xorriso was given, or from the same command on the local file.
//!
//! Every run passes `--cache-dir` (a temp dir) or `--no-disk-cache`: tests
//! never touch the user's `~/.cache`. S3 runs (`isomount_s3`) also drop
//! every `AWS_*` variable of the environment and point the credentials and
//! config files into a temp dir: they never read the user's `~/.aws`.
#![cfg(target_os = "linux")]

mod common;

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::data::{files_under, noise};
use common::servers::{Moto, Nginx, S3Object, TOKEN};

/// A tree, its xorriso image, both in a temp dir.
struct Fixture {
    _dir: tempfile::TempDir,
    tree: PathBuf,
    image: PathBuf,
    cache: PathBuf,
}

impl Fixture {
    /// 300 small files in 10 directories, a 3 MiB file and a `big` file of
    /// `big_mib` MiB.
    fn new(big_mib: usize, seed: u32) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path().join("tree");
        for d in 0..10 {
            let sub = tree.join(format!("dir{d:02}"));
            fs::create_dir_all(&sub).unwrap();
            for f in 0..30 {
                let n = d * 30 + f;
                fs::write(
                    sub.join(format!("file{f:02}.txt")),
                    noise(100 + (n as usize * 37) % 5000, u64::from(seed + n)),
                )
                .unwrap();
            }
        }
        fs::write(
            tree.join("medium.bin"),
            noise(3 << 20, u64::from(seed + 1000)),
        )
        .unwrap();
        fs::write(
            tree.join("big.bin"),
            noise(big_mib << 20, u64::from(seed + 2000)),
        )
        .unwrap();
        let image = dir.path().join("image.iso");
        let out = Command::new("xorriso")
            .args(["-as", "mkisofs", "-quiet", "-R", "-J", "-V", "REMOTE", "-o"])
            .arg(&image)
            .arg(&tree)
            .output()
            .expect("xorriso");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let cache = dir.path().join("cache");
        Fixture {
            _dir: dir,
            tree,
            image,
            cache,
        }
    }
}

fn isomount(args: &[&OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_isomount"))
        .args(args)
        .env("RUST_LOG", "warn")
        // Never the user's cache, whatever a test forgets.
        .env("XDG_CACHE_HOME", "/nonexistent-isomount-test-cache")
        .output()
        .expect("run isomount")
}

fn ok(args: &[&str]) -> Output {
    let a: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    let o = isomount(&a);
    assert!(
        o.status.success(),
        "isomount {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Serves `f.image` as `/NAME` and returns its URL.
fn publish(n: &Nginx, f: &Fixture, name: &str) -> String {
    fs::copy(&f.image, n.root().join(name)).unwrap();
    n.url(name)
}

#[test]
fn listing_reading_and_extract_match_the_local_image() {
    let f = Fixture::new(8, 1);
    let n = Nginx::start();
    let url = publish(&n, &f, "image.iso");
    let cache = f.cache.to_str().unwrap();
    let local = f.image.to_str().unwrap();

    for args in [
        &["ls", "-R", "--json"][..],
        &["ls", "-lR"],
        &["stat", "--json", "/dir03/file07.txt"][..],
    ] {
        let with = |img: &str| {
            let mut a = vec!["--cache-dir", cache, args[0], img];
            a.extend(&args[1..]);
            ok(&a).stdout
        };
        assert_eq!(with(&url), with(local), "{args:?}");
    }

    // cat: the tree's bytes.
    for rel in [
        "dir00/file00.txt",
        "dir09/file29.txt",
        "medium.bin",
        "big.bin",
    ] {
        let o = ok(&["--no-disk-cache", "cat", &url, &format!("/{rel}")]);
        assert!(o.stdout == fs::read(f.tree.join(rel)).unwrap(), "{rel}");
    }

    // extract: the whole tree.
    let out = f.cache.parent().unwrap().join("out");
    ok(&[
        "--cache-dir",
        cache,
        "extract",
        &url,
        "-C",
        out.to_str().unwrap(),
    ]);
    let diff = Command::new("diff")
        .arg("-r")
        .arg(&f.tree)
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        diff.status.success(),
        "{}",
        String::from_utf8_lossy(&diff.stdout)
    );

    // info --json carries the transfer figures, which match nginx's log.
    n.clear_log();
    let o = ok(&["--no-disk-cache", "info", "--json", &url]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let fetched = v["remote"]["bytes_fetched"].as_u64().expect("remote stats");
    assert_eq!(v["remote"]["image"], url.as_str());
    assert!(v["remote"]["requests"].as_u64().unwrap() >= 1);
    // nginx counts headers' bodies only; a HEAD moves none.
    assert_eq!(fetched, n.bytes_for("/image.iso"), "{:?}", n.hits());
    assert_eq!(
        v["image_size"].as_u64(),
        Some(fs::metadata(&f.image).unwrap().len())
    );
}

#[test]
fn a_listing_moves_little_and_a_second_process_reads_from_the_disk_cache() {
    let f = Fixture::new(64, 2);
    let n = Nginx::start();
    let url = publish(&n, &f, "image.iso");
    let image_size = fs::metadata(&f.image).unwrap().len();
    let cache = f.cache.to_str().unwrap();

    n.clear_log();
    ok(&["--cache-dir", cache, "ls", "-R", &url]);
    let listing = n.bytes_for("/image.iso");
    eprintln!("ls -R of a {image_size}-byte image moved {listing} bytes");
    assert!(listing < 4 << 20, "a listing moved {listing} bytes");

    // First read of the 64 MiB file: about its size.
    n.clear_log();
    let o = ok(&["--cache-dir", cache, "cat", &url, "/big.bin"]);
    assert!(o.stdout == fs::read(f.tree.join("big.bin")).unwrap());
    let first = n.bytes_for("/image.iso");
    assert!(
        ((64 << 20)..(80 << 20)).contains(&first),
        "first read moved {first} bytes"
    );

    // A second process with the same cache: almost nothing.
    n.clear_log();
    let o = ok(&["--cache-dir", cache, "--stats", "cat", &url, "/big.bin"]);
    assert!(o.stdout == fs::read(f.tree.join("big.bin")).unwrap());
    let second = n.bytes_for("/image.iso");
    assert!(
        second < 1 << 20,
        "second read moved {second} bytes: {:?}",
        n.hits()
            .iter()
            .map(|h| format!("{} {} {}", h.status, h.bytes, h.range))
            .collect::<Vec<_>>()
    );
    assert!(stderr(&o).contains("on disk"), "--stats: {}", stderr(&o));
}

#[test]
fn errors_are_prompt_and_name_the_cause() {
    let f = Fixture::new(1, 3);
    let n = Nginx::start();
    // /private/ and /noranges/ serve the same file.
    publish(&n, &f, "image.iso");
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let cases: Vec<(String, Vec<&str>, &str)> = vec![
        (n.url("missing.iso"), vec![], "not found"),
        (n.url("private/image.iso"), vec![], "access denied"),
        (n.url("noranges/image.iso"), vec![], "byte ranges"),
        (
            format!("http://127.0.0.1:{closed}/x.iso"),
            vec![],
            "127.0.0.1",
        ),
        (
            "http://no-such-host.invalid/x.iso".into(),
            vec![],
            "no-such-host.invalid",
        ),
        ("ftp://host/x.iso".into(), vec![], "unsupported URL scheme"),
    ];
    for (url, extra, want) in &cases {
        let t = Instant::now();
        let mut a = vec!["--no-disk-cache"];
        a.extend(extra);
        a.extend(["info", url.as_str()]);
        let args: Vec<&OsStr> = a.iter().map(OsStr::new).collect();
        let o = isomount(&args);
        let took = t.elapsed();
        assert_eq!(o.status.code(), Some(1), "{url}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(want),
            "{url}: want {want:?} in {}",
            stderr(&o)
        );
        assert!(took < Duration::from_secs(60), "{url}: took {took:?}");
        assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    }

    // The token opens the private image; it is never printed.
    let header = format!("Authorization: Bearer {TOKEN}");
    let o = ok(&[
        "--no-disk-cache",
        "--header",
        &header,
        "-vv",
        "ls",
        &n.url("private/image.iso"),
    ]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("medium.bin"));
    assert!(!stderr(&o).contains(TOKEN), "{}", stderr(&o));
    // The same from the environment, off the command line.
    let o = Command::new(env!("CARGO_BIN_EXE_isomount"))
        .args(["--no-disk-cache", "ls", &n.url("private/image.iso")])
        .env("ISOMOUNT_HTTP_HEADERS", format!("X-Unused: 1\n{header}\n"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("medium.bin"));
    // Redirects are followed.
    let o = ok(&["--no-disk-cache", "ls", &n.url("moved/image.iso")]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("medium.bin"));
}

/// FUSE: a URL mounted like a file; `list` shows it; SIGUSR1 reports the
/// figures; replacing the object on the server fails uncached reads (EIO)
/// while cached ones and the mount live on.
#[test]
fn a_mounted_url_reads_and_survives_the_object_changing() {
    if !common::fuse_available() {
        return;
    }
    let f = Fixture::new(48, 4);
    let other = Fixture::new(48, 5);
    let n = Nginx::start();
    let url = publish(&n, &f, "image.iso");
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    let run = dir.path().join("run");
    fs::create_dir(&mnt).unwrap();
    fs::create_dir(&run).unwrap();
    let mount = Command::new(env!("CARGO_BIN_EXE_isomount"))
        .args(["--no-disk-cache", "mount", &url])
        .arg(&mnt)
        .env("XDG_RUNTIME_DIR", &run)
        .output()
        .unwrap();
    assert!(mount.status.success(), "{}", stderr(&mount));
    let _guard = Unmount(mnt.clone());

    // Everything but big.bin, which stays unread (and so uncached) for the
    // change below.
    for entry in files_under(&f.tree) {
        let rel = entry.strip_prefix(&f.tree).unwrap();
        if rel != Path::new("big.bin") {
            assert!(
                fs::read(mnt.join(rel)).unwrap() == fs::read(&entry).unwrap(),
                "{rel:?}"
            );
        }
    }

    let list = |_: ()| {
        let o = Command::new(env!("CARGO_BIN_EXE_isomount"))
            .args(["list", "--json"])
            .env("XDG_RUNTIME_DIR", &run)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        text.lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .find(|v| v["mountpoint"] == mnt.to_str().unwrap())
            .expect("the mount in isomount list")
    };
    let rec = list(());
    assert_eq!(rec["image"], url.as_str());
    let pid = rec["pid"].as_u64().unwrap() as i32;
    // SAFETY: kill(2) with a pid isomount list reported.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGUSR1) }, 0);
    let t = Instant::now();
    let stats = loop {
        let r = list(());
        if let Some(b) = r["remote"]["bytes_fetched"].as_u64() {
            break b;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "no figures after SIGUSR1: {r}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        stats >= 3 << 20,
        "bytes_fetched {stats} after reading everything but big.bin"
    );

    // The object changes under the mount.
    let medium_before = fs::read(mnt.join("medium.bin")).unwrap();
    fs::copy(&other.image, n.root().join("image.iso.new")).unwrap();
    // nginx's ETag is mtime (in seconds) and size, and both images have one
    // size: give the new one another second, or nothing could tell them
    // apart (a limit of such validators, said in the README).
    let later = std::time::SystemTime::now() + Duration::from_secs(3600);
    fs::File::options()
        .write(true)
        .open(n.root().join("image.iso.new"))
        .unwrap()
        .set_modified(later)
        .unwrap();
    fs::rename(n.root().join("image.iso.new"), n.root().join("image.iso")).unwrap();
    // Cached: still the old bytes (the kernel's page cache, or ours).
    assert_eq!(fs::read(mnt.join("medium.bin")).unwrap(), medium_before);
    assert!(medium_before == fs::read(f.tree.join("medium.bin")).unwrap());
    // Uncached data: EIO (16 MiB is far past any read-ahead of medium.bin),
    // never the new version's bytes.
    // The end of big.bin: far from anything read before (and from any
    // read-ahead that reading medium.bin started).
    let tail = |path: &Path| -> std::io::Result<Vec<u8>> {
        use std::io::{Read, Seek, SeekFrom};
        let mut file = fs::File::open(path)?;
        file.seek(SeekFrom::End(-(1 << 20)))?;
        let mut buf = vec![0u8; 1 << 20];
        file.read_exact(&mut buf)?;
        Ok(buf)
    };
    match tail(&mnt.join("big.bin")) {
        Ok(bytes) => panic!(
            "a read of uncached data succeeded after the change (old bytes: {})",
            bytes == tail(&f.tree.join("big.bin")).unwrap()
        ),
        Err(e) => assert_eq!(e.raw_os_error(), Some(5), "{e}"),
    }
    assert!(
        fs::metadata(mnt.join("dir00")).unwrap().is_dir(),
        "the mount lives on"
    );
}

struct Unmount(PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = Command::new(env!("CARGO_BIN_EXE_isomount"))
            .arg("umount")
            .arg(&self.0)
            .output();
    }
}

/// Through a proxy that answers 503, cuts bodies, resets and stalls (a
/// seeded 30 % of requests): every byte still right, the retries counted.
/// With every request failing: a clear error, and through a mount EIO for
/// that read only; once the network is back, the same mount reads again.
#[test]
fn faults_are_retried_and_a_lost_read_fails_alone() {
    use common::fault_proxy::FaultProxy;
    let f = Fixture::new(12, 6);
    let n = Nginx::start();
    publish(&n, &f, "image.iso");
    let proxy = FaultProxy::start(n.port, 30, 42, Duration::from_secs(3));
    let url = format!("http://127.0.0.1:{}/image.iso", proxy.port);

    let o = ok(&[
        "--no-disk-cache",
        "--timeout",
        "1",
        "--stats",
        "cat",
        &url,
        "/big.bin",
    ]);
    assert!(
        o.stdout == fs::read(f.tree.join("big.bin")).unwrap(),
        "bytes differ"
    );
    assert!(proxy.faults() > 0, "the proxy dealt no faults");
    let line = stderr(&o);
    let retries: u64 = line
        .split(", ")
        .find_map(|p| p.strip_suffix(" retries"))
        .and_then(|n| n.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no retries figure in --stats: {line}"));
    assert!(retries > 0, "{line}");

    // Nothing gets through: a clear error naming the image, in bounded time.
    proxy.set_percent(100);
    let t = Instant::now();
    let args = ["--no-disk-cache", "--timeout", "1", "info", &url];
    let a: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    let o = isomount(&a);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("/image.iso"), "{}", stderr(&o));
    assert!(
        t.elapsed() < Duration::from_secs(120),
        "took {:?}",
        t.elapsed()
    );

    if !common::fuse_available() {
        return;
    }
    proxy.set_percent(0);
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    fs::create_dir(&mnt).unwrap();
    let mount = Command::new(env!("CARGO_BIN_EXE_isomount"))
        .args(["--no-disk-cache", "--timeout", "1", "mount", &url])
        .arg(&mnt)
        .env("XDG_RUNTIME_DIR", dir.path())
        .output()
        .unwrap();
    assert!(mount.status.success(), "{}", stderr(&mount));
    let _guard = Unmount(mnt.clone());
    assert!(
        fs::read(mnt.join("dir01/file01.txt")).unwrap()
            == fs::read(f.tree.join("dir01/file01.txt")).unwrap()
    );
    proxy.set_percent(100);
    let err = fs::read(mnt.join("big.bin")).expect_err("no request gets through");
    assert_eq!(err.raw_os_error(), Some(5), "{err}");
    proxy.set_percent(0);
    // Not remembered: the same file reads now.
    assert!(fs::read(mnt.join("big.bin")).unwrap() == fs::read(f.tree.join("big.bin")).unwrap());
}

/// `isomount ARGS` with exactly the AWS settings of `vars`: every `AWS_*`
/// variable of this process removed, the credentials and config files and
/// the XDG directories in `dir` unless `vars` says otherwise, so neither the
/// machine's `~/.aws` nor its `~/.cache` is ever read or written. The mount
/// daemon inherits all of it.
fn isomount_s3(dir: &Path, vars: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_isomount"));
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("AWS_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("AWS_SHARED_CREDENTIALS_FILE", dir.join("no-credentials"))
        .env("AWS_CONFIG_FILE", dir.join("no-config"))
        .env("XDG_CACHE_HOME", dir.join("xdg-cache"))
        .env("XDG_RUNTIME_DIR", dir.join("run"))
        .env("RUST_LOG", "warn");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.args(args).output().expect("run isomount")
}

/// An IAM-enforcing moto holding `f.image` as `s3://bkt/images/tree.iso`
/// (which the reader may get) and as `s3://locked/tree.iso` (which it may
/// not), and a temp dir with `run/` and `cache/` in it.
fn s3_setup(f: &Fixture) -> (Moto, tempfile::TempDir) {
    let moto = Moto::start(
        true,
        &[
            S3Object {
                bucket: Moto::READABLE,
                key: "images/tree.iso",
                file: &f.image,
                public: false,
            },
            S3Object {
                bucket: "locked",
                key: "tree.iso",
                file: &f.image,
                public: false,
            },
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("run")).unwrap();
    fs::create_dir(dir.path().join("cache")).unwrap();
    (moto, dir)
}

/// Issue 10's done-criterion: an S3 mount with GetObject-only credentials
/// in the environment is byte-identical to the source tree; `list` shows
/// the object; `umount` ends it.
#[test]
fn an_s3_mount_with_get_object_only_keys_is_the_tree() {
    if !common::fuse_available() {
        return;
    }
    let f = Fixture::new(6, 11);
    let (moto, dir) = s3_setup(&f);
    let d = dir.path();
    let env = [
        ("AWS_ACCESS_KEY_ID", moto.reader.id.as_str()),
        ("AWS_SECRET_ACCESS_KEY", moto.reader.secret.as_str()),
        ("AWS_ENDPOINT_URL", moto.endpoint.as_str()),
        ("AWS_REGION", "us-east-1"),
    ];
    let image = format!("s3://{}/images/tree.iso", moto.bucket);
    let mnt = d.join("mnt");
    fs::create_dir(&mnt).unwrap();
    let cache = d.join("cache");
    let o = isomount_s3(
        d,
        &env,
        &[
            "--cache-dir",
            cache.to_str().unwrap(),
            "mount",
            &image,
            mnt.to_str().unwrap(),
        ],
    );
    assert!(
        o.status.success(),
        "mount: {}\n{}",
        stderr(&o),
        moto.log_text()
    );
    let guard = Unmount(mnt.clone());
    assert!(common::mount::is_mounted(&mnt));

    let diff = Command::new("diff")
        .arg("-r")
        .arg(&f.tree)
        .arg(&mnt)
        .output()
        .unwrap();
    assert!(
        diff.status.success(),
        "the mount differs from the tree: {}{}",
        String::from_utf8_lossy(&diff.stdout),
        String::from_utf8_lossy(&diff.stderr)
    );
    // diff -r compares what both sides have; also nothing is missing.
    let mut want: Vec<PathBuf> = files_under(&f.tree)
        .iter()
        .map(|p| p.strip_prefix(&f.tree).unwrap().to_path_buf())
        .collect();
    let mut got: Vec<PathBuf> = files_under(&mnt)
        .iter()
        .map(|p| p.strip_prefix(&mnt).unwrap().to_path_buf())
        .collect();
    want.sort();
    got.sort();
    assert_eq!(got, want);
    assert_eq!(want.len(), 302);

    let o = isomount_s3(d, &[], &["list", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let rec = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["mountpoint"] == mnt.to_str().unwrap())
        .unwrap_or_else(|| panic!("the mount is not in isomount list: {text}"));
    assert_eq!(rec["image"], image.as_str(), "{rec}");
    assert!(
        !text.contains(&moto.reader.secret),
        "list shows the secret: {text}"
    );

    let o = isomount_s3(d, &[], &["umount", mnt.to_str().unwrap()]);
    assert!(o.status.success(), "umount: {}", stderr(&o));
    common::mount::wait_unmounted(&mnt, "isomount umount");
    std::mem::forget(guard);
}

/// S3 through the CLI without a mount: keys from a profile in a
/// credentials file with the endpoint and region in a config file; a wrong
/// secret, a missing key and a bucket the user may not read, each refused
/// with its cause; an anonymous read of a public object.
#[test]
fn s3_profiles_errors_and_anonymous_reads_through_the_cli() {
    let f = Fixture::new(4, 12);
    let (moto, dir) = s3_setup(&f);
    let d = dir.path();
    let image = format!("s3://{}/images/tree.iso", moto.bucket);
    let local = f.image.to_str().unwrap();
    let local_ls = ok(&["--no-disk-cache", "ls", "-R", local]).stdout;

    // A profile: keys in the credentials file, endpoint and region in the
    // config file (the default profile's keys are wrong on purpose).
    let creds = d.join("credentials");
    let config = d.join("config");
    fs::write(
        &creds,
        format!(
            "[default]\naws_access_key_id = nope\naws_secret_access_key = nope\n\n\
             [reader]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            moto.reader.id, moto.reader.secret
        ),
    )
    .unwrap();
    fs::write(
        &config,
        format!(
            "[profile reader]\nregion = us-east-1\nendpoint_url = {}\n",
            moto.endpoint
        ),
    )
    .unwrap();
    let profile = [
        ("AWS_PROFILE", "reader"),
        ("AWS_SHARED_CREDENTIALS_FILE", creds.to_str().unwrap()),
        ("AWS_CONFIG_FILE", config.to_str().unwrap()),
    ];
    let cache = d.join("cache");
    let cache = cache.to_str().unwrap();
    let o = isomount_s3(d, &profile, &["--cache-dir", cache, "ls", "-R", &image]);
    assert!(o.status.success(), "{}\n{}", stderr(&o), moto.log_text());
    assert!(o.stdout == local_ls, "ls -R differs from the local image's");
    let o = isomount_s3(
        d,
        &profile,
        &["--cache-dir", cache, "cat", &image, "/big.bin"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(o.stdout == fs::read(f.tree.join("big.bin")).unwrap());

    // Refusals: exit status 1, the cause named, the secret never shown.
    let env = |secret: &'static str| {
        let secret = if secret.is_empty() {
            moto.reader.secret.clone()
        } else {
            secret.to_owned()
        };
        vec![
            ("AWS_ACCESS_KEY_ID", moto.reader.id.clone()),
            ("AWS_SECRET_ACCESS_KEY", secret),
            ("AWS_ENDPOINT_URL", moto.endpoint.clone()),
            ("AWS_REGION", "us-east-1".to_owned()),
        ]
    };
    let bad_secret = "wrong-secret-0123456789abcdef";
    let cases = [
        (
            env(bad_secret),
            image.clone(),
            vec!["SignatureDoesNotMatch", "AWS_SECRET_ACCESS_KEY"],
        ),
        (
            env(""),
            format!("s3://{}/images/missing.iso", moto.bucket),
            vec!["not found"],
        ),
        (
            env(""),
            "s3://locked/tree.iso".to_owned(),
            vec!["access denied"],
        ),
    ];
    for (vars, url, wants) in &cases {
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let t = Instant::now();
        let o = isomount_s3(d, &vars, &["--no-disk-cache", "info", url]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{url}: {err}");
        for want in wants {
            assert!(err.contains(want), "{url}: want {want:?} in {err}");
        }
        for (_, secret) in vars.iter().filter(|(k, _)| *k == "AWS_SECRET_ACCESS_KEY") {
            assert!(!err.contains(secret), "{url}: the secret is shown: {err}");
        }
        assert!(!err.contains("panicked"), "{err}");
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "{url}: {:?}",
            t.elapsed()
        );
        eprintln!("refused as expected: {}", err.trim());
    }
    // The locked object is there: the admin's keys read it.
    let admin = [
        ("AWS_ACCESS_KEY_ID", moto.admin.id.as_str()),
        ("AWS_SECRET_ACCESS_KEY", moto.admin.secret.as_str()),
        ("AWS_ENDPOINT_URL", moto.endpoint.as_str()),
        ("AWS_REGION", "us-east-1"),
    ];
    let o = isomount_s3(
        d,
        &admin,
        &["--no-disk-cache", "ls", "s3://locked/tree.iso"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("medium.bin"));

    // --no-sign-request: a public object reads. (moto answers anonymous
    // requests with a 500 while IAM is enforced, so this is a second moto
    // that does not enforce it; the private object is refused there too.)
    let open = Moto::start(
        false,
        &[
            S3Object {
                bucket: Moto::READABLE,
                key: "public/tree.iso",
                file: &f.image,
                public: true,
            },
            S3Object {
                bucket: Moto::READABLE,
                key: "private/tree.iso",
                file: &f.image,
                public: false,
            },
        ],
    );
    let anon = [
        ("AWS_ENDPOINT_URL", open.endpoint.as_str()),
        ("AWS_REGION", "us-east-1"),
    ];
    let o = isomount_s3(
        d,
        &anon,
        &[
            "--no-disk-cache",
            "--no-sign-request",
            "ls",
            "-R",
            &format!("s3://{}/public/tree.iso", open.bucket),
        ],
    );
    assert!(o.status.success(), "{}\n{}", stderr(&o), open.log_text());
    assert!(o.stdout == local_ls, "anonymous ls -R differs");
    let o = isomount_s3(
        d,
        &anon,
        &[
            "--no-disk-cache",
            "--no-sign-request",
            "info",
            &format!("s3://{}/private/tree.iso", open.bucket),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("access denied"), "{}", stderr(&o));
}
