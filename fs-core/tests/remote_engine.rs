//! The remote chunk engine under the real `Volume`: an image made by
//! xorriso, served from memory by a range fetcher (with faults, if asked),
//! walks and reads exactly as the same image opened as a file.
#![cfg(all(unix, feature = "remote"))]
// builds trees with symlinks and runs xorriso
// Test code: panicking on a failed expectation is the point.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[path = "support/data.rs"]
mod data;

use std::fs;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use fs_core::source::ReadAt;
use fs_core::source::remote::{
    FetchError, ObjectMeta, RangeFetcher, RemoteOptions, RemoteSource, RemoteStats,
};
use fs_core::{FileType, NodeId, OpenOptions, Volume};
use parking_lot::Mutex;
use sha2::{Digest, Sha256};

/// An object in memory, read in ranges; every `fail_every`-th request
/// fails (transient) or comes back short, alternately.
struct VecFetcher {
    data: Vec<u8>,
    requests: AtomicU64,
    fail_every: u64,
    ranges: Mutex<Vec<(u64, u64)>>,
}

impl VecFetcher {
    fn new(data: Vec<u8>, fail_every: u64) -> Arc<VecFetcher> {
        Arc::new(VecFetcher {
            data,
            requests: AtomicU64::new(0),
            fail_every,
            ranges: Mutex::new(Vec::new()),
        })
    }
}

impl RangeFetcher for VecFetcher {
    fn name(&self) -> &str {
        "https://example.test/image.iso"
    }

    fn stat(&self) -> Result<ObjectMeta, FetchError> {
        Ok(ObjectMeta {
            size: self.data.len() as u64,
            etag: Some("\"1\"".into()),
            last_modified: None,
        })
    }

    fn fetch(&self, start: u64, len: u64, pinned: &ObjectMeta) -> Result<Vec<u8>, FetchError> {
        assert_eq!(pinned.etag.as_deref(), Some("\"1\""));
        let n = self.requests.fetch_add(1, Ordering::SeqCst) + 1;
        self.ranges.lock().push((start, len));
        let end = (start + len).min(self.data.len() as u64) as usize;
        let mut out = self.data[start as usize..end].to_vec();
        if self.fail_every > 0 && n % self.fail_every == 0 {
            if n / self.fail_every % 2 == 0 {
                return Err(FetchError::Transient {
                    name: self.name().into(),
                    detail: "502 Bad Gateway".into(),
                });
            }
            out.truncate(out.len() / 3);
        }
        Ok(out)
    }
}

fn build_tree(root: &Path) {
    fs::create_dir_all(root.join("docs/deep/er/still")).unwrap();
    fs::create_dir_all(root.join("many")).unwrap();
    fs::create_dir_all(root.join("empty")).unwrap();
    fs::write(root.join("big.bin"), data::noise(5 * 1024 * 1024 + 321, 1)).unwrap();
    fs::write(
        root.join("docs/medium.bin"),
        data::noise(3 * 1024 * 1024, 2),
    )
    .unwrap();
    fs::write(root.join("docs/deep/er/still/leaf.txt"), b"leaf\n").unwrap();
    fs::write(root.join("zero"), b"").unwrap();
    for i in 0..300 {
        let len = (i * 997) % 40_000;
        fs::write(
            root.join(format!("many/file-{i:03}.dat")),
            data::noise(len, i as u64 + 7),
        )
        .unwrap();
    }
    std::os::unix::fs::symlink("docs/medium.bin", root.join("link")).unwrap();
}

fn make_image(dir: &Path) -> Vec<u8> {
    let tree = dir.join("tree");
    build_tree(&tree);
    let iso = dir.join("image.iso");
    let out = Command::new("xorriso")
        .args(["-as", "mkisofs", "-quiet", "-R", "-J", "-V", "REMOTE", "-o"])
        .arg(&iso)
        .arg(&tree)
        .env("LC_ALL", "C.UTF-8")
        .output()
        .expect("xorriso runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    fs::read(&iso).unwrap()
}

/// Every entry: path, attributes, link target and (with `contents`) the
/// SHA-256 of the bytes, read in 128 KiB pieces as FUSE would.
fn walk(vol: &Volume, contents: bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo: Vec<(NodeId, String)> = vec![(vol.root(), String::new())];
    while let Some((dir, path)) = todo.pop() {
        let listing = vol.read_dir(dir).unwrap();
        assert!(
            listing.problems().is_empty(),
            "{path}: {:?}",
            listing.problems()
        );
        for e in listing.entries() {
            let p = format!("{path}/{}", e.name);
            let node = vol.node(e.id).unwrap();
            let mut line = format!("{p} {:?} {:?}", node.attr(), node.link_target());
            if e.kind == FileType::Directory {
                todo.push((e.id, p));
            } else if contents && e.kind == FileType::Regular {
                let mut h = Sha256::new();
                let mut buf = vec![0u8; 128 * 1024];
                let mut off = 0;
                loop {
                    let n = vol.read(e.id, off, &mut buf).unwrap();
                    if n == 0 {
                        break;
                    }
                    h.update(&buf[..n]);
                    off += n as u64;
                }
                assert_eq!(off, node.attr().size, "{p}");
                line.push_str(&format!(" {:?}", h.finalize().as_slice()));
            }
            out.push(line);
        }
    }
    out.sort();
    out
}

fn open_remote(fetcher: &Arc<VecFetcher>, opts: RemoteOptions) -> (Volume, Arc<RemoteSource>) {
    let src = Arc::new(RemoteSource::open(fetcher.clone(), opts).unwrap());
    let vol = Volume::open(src.clone() as Arc<dyn ReadAt>, &OpenOptions::default()).unwrap();
    (vol, src)
}

#[test]
fn a_remote_image_walks_and_reads_as_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let image = make_image(tmp.path());
    let local = Volume::open_path(tmp.path().join("image.iso"), &OpenOptions::default()).unwrap();
    let want = walk(&local, true);
    assert!(want.len() > 300, "{}", want.len());

    let f = VecFetcher::new(image.clone(), 0);
    let (vol, src) = open_remote(&f, RemoteOptions::default());
    assert_eq!(vol.info().views, local.info().views);
    assert_eq!(walk(&vol, true), want);
    // Read-ahead may still be on its way: let it land before counting.
    src.settle(std::time::Duration::from_secs(10));
    let s: RemoteStats = src.stats();
    assert_eq!(s.requests, f.requests.load(Ordering::SeqCst));
    assert_eq!((s.retries, s.failures), (0, 0), "{s:?}");
    // Each byte fetched about once, at most twice (a piece, then its chunk).
    assert!(
        s.bytes_fetched <= 2 * image.len() as u64,
        "{s:?} of {}",
        image.len()
    );
    eprintln!("whole walk: {s:?}, image {} bytes", image.len());
}

#[test]
fn listing_a_remote_image_does_not_pull_its_files() {
    let tmp = tempfile::tempdir().unwrap();
    let image = make_image(tmp.path());
    let local = Volume::open_path(tmp.path().join("image.iso"), &OpenOptions::default()).unwrap();

    let f = VecFetcher::new(image.clone(), 0);
    let (vol, src) = open_remote(&f, RemoteOptions::default());
    assert_eq!(walk(&vol, false), walk(&local, false));
    std::thread::sleep(Duration::from_millis(100));
    let s = src.stats();
    eprintln!("listing: {s:?}, image {} bytes", image.len());
    // The metadata sits in the first few hundred KiB; the 8 MiB of file
    // data behind it stays where it is.
    assert!(s.bytes_fetched < 2 * 1024 * 1024, "{s:?}");
}

#[test]
fn a_remote_image_reads_right_through_faults_small_chunks_and_threads() {
    let tmp = tempfile::tempdir().unwrap();
    let image = make_image(tmp.path());
    let local = Volume::open_path(tmp.path().join("image.iso"), &OpenOptions::default()).unwrap();
    let want = walk(&local, true);

    let f = VecFetcher::new(image, 5);
    let opts = RemoteOptions {
        chunk_size: 64 * 1024,
        memory_bytes: 512 * 1024,
        readahead: 3,
        max_in_flight: 2,
        retries: 10,
        retry_base: Duration::from_millis(1),
        ..RemoteOptions::default()
    };
    let (vol, src) = open_remote(&f, opts);
    let vol = Arc::new(vol);
    let threads: Vec<_> = (0..6)
        .map(|_| {
            let vol = Arc::clone(&vol);
            std::thread::spawn(move || walk(&vol, true))
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), want);
    }
    let s = src.stats();
    assert!(s.retries > 0, "{s:?}");
    assert_eq!(s.failures, 0, "{s:?}");
}
