//! The persistent chunk cache (`source::remote::DiskCache`) on a real
//! directory: chunks survive the instance (and the process) that stored
//! them, torn and corrupt files are never served, the size bound holds with
//! least-recently-used eviction, keys of different objects never mix, and
//! many threads on several instances never see wrong bytes.
#![cfg(feature = "remote")]
// Test code: panicking on a failed expectation is the point.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::ffi::OsString;
#[path = "support/data.rs"]
mod data;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use fs_core::source::remote::{CacheKey, DiskCache, ObjectMeta};

const CHUNK: u32 = 4096;
/// A chunk file's header size (the on-disk format).
const HEADER: u64 = 64;

fn meta(size: u64, etag: Option<&str>, last_modified: Option<&str>) -> ObjectMeta {
    ObjectMeta {
        size,
        etag: etag.map(str::to_owned),
        last_modified: last_modified.map(str::to_owned),
    }
}

fn key(n: u32) -> CacheKey {
    CacheKey::new(
        &format!("https://example.org/image-{n}.iso"),
        &meta(1 << 30, Some(&format!("\"etag-{n}\"")), None),
        CHUNK,
    )
}

/// The bytes of chunk `chunk` of object `n`: distinct for every pair, of a
/// length that depends on both (at most `CHUNK`).
fn content(n: u32, chunk: u64) -> Vec<u8> {
    let len = 1000 + ((u64::from(n) * 7919 + chunk * 104_729) % 3000) as usize;
    data::noise(len, u64::from(n) << 32 ^ chunk)
}

fn set_mtime(path: &Path, ago: Duration) {
    let f = fs::File::options().write(true).open(path).unwrap();
    f.set_modified(SystemTime::now() - ago).unwrap();
}

fn flip_byte(path: &Path, at: u64) {
    let mut bytes = fs::read(path).unwrap();
    bytes[at as usize] ^= 0x40;
    fs::write(path, bytes).unwrap();
}

#[test]
fn round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let cache = DiskCache::open(dir.path(), 1 << 20).unwrap();
    let k = key(1);
    assert_eq!(cache.get(&k, 3, content(1, 3).len()), None);
    cache.put(&k, 3, &content(1, 3));
    assert_eq!(cache.get(&k, 3, content(1, 3).len()), Some(content(1, 3)));
    assert_eq!(cache.get(&k, 4, content(1, 4).len()), None);
    let path = cache.chunk_path(&k, 3);
    assert!(path.starts_with(dir.path().join("v1")));
    assert_eq!(
        fs::metadata(&path).unwrap().len(),
        HEADER + content(1, 3).len() as u64
    );
    let s = cache.stats();
    assert_eq!((s.hits, s.misses, s.corrupt), (1, 2, 0));
    assert_eq!(s.stored_bytes, content(1, 3).len() as u64);
    assert_eq!(s.disk_bytes, HEADER + content(1, 3).len() as u64);
    // An empty chunk is a chunk too.
    cache.put(&k, 9, &[]);
    assert_eq!(cache.get(&k, 9, 0), Some(Vec::new()));
}

#[cfg(unix)]
#[test]
fn directories_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let cache_dir = dir.path().join("a/b/isomount");
    let cache = DiskCache::open(&cache_dir, 1 << 20).unwrap();
    cache.put(&key(1), 0, &content(1, 0));
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&cache_dir) & 0o077, 0);
    assert_eq!(mode(&cache_dir.join("v1")), 0o700);
    let key_dir = cache.chunk_path(&key(1), 0).parent().unwrap().to_owned();
    assert_eq!(mode(&key_dir) & 0o077, 0);
    assert_eq!(mode(key_dir.parent().unwrap()) & 0o077, 0);
}

#[cfg(unix)]
#[test]
fn a_symlinked_layout_dir_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = dir.path().join("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    let cache_dir = dir.path().join("cache");
    fs::create_dir(&cache_dir).unwrap();
    std::os::unix::fs::symlink(&elsewhere, cache_dir.join("v1")).unwrap();
    assert!(DiskCache::open(&cache_dir, 1 << 20).is_err());
}

#[test]
fn a_second_instance_sees_the_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let first = DiskCache::open(dir.path(), 1 << 20).unwrap();
    for c in 0..5 {
        first.put(&key(1), c, &content(1, c));
    }
    drop(first);
    let second = DiskCache::open(dir.path(), 1 << 20).unwrap();
    for c in 0..5 {
        assert_eq!(
            second.get(&key(1), c, content(1, c).len()),
            Some(content(1, c))
        );
    }
    assert_eq!(second.stats().hits, 5);
    assert_eq!(second.stats().stored_bytes, 0);
    assert_eq!(
        second.stats().disk_bytes,
        (0..5)
            .map(|c| HEADER + content(1, c).len() as u64)
            .sum::<u64>()
    );
}

/// Set in the child started by `a_second_process_sees_the_chunks`.
const CHILD_ENV: &str = "ISOMOUNT_TEST_DISK_CACHE_CHILD";

/// The child half of `a_second_process_sees_the_chunks`; does nothing in a
/// plain test run.
#[test]
fn second_process_child() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let cache = DiskCache::open(Path::new(&dir), 1 << 20).unwrap();
    for c in 0..5 {
        assert_eq!(
            cache.get(&key(1), c, content(1, c).len()),
            Some(content(1, c)),
            "chunk {c}"
        );
    }
    cache.put(&key(2), 7, &content(2, 7));
}

#[test]
fn a_second_process_sees_the_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let cache = DiskCache::open(dir.path(), 1 << 20).unwrap();
    for c in 0..5 {
        cache.put(&key(1), c, &content(1, c));
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "second_process_child", "--test-threads=1"])
        .env(CHILD_ENV, dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "child failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 passed"));
    // And this process sees what the child stored.
    assert_eq!(
        cache.get(&key(2), 7, content(2, 7).len()),
        Some(content(2, 7))
    );
}

#[test]
fn a_corrupt_payload_is_removed_not_served() {
    let dir = tempfile::tempdir().unwrap();
    let cache = DiskCache::open(dir.path(), 1 << 20).unwrap();
    let (k, data) = (key(1), content(1, 0));
    cache.put(&k, 0, &data);
    let path = cache.chunk_path(&k, 0);
    flip_byte(&path, HEADER + 500);
    assert_eq!(cache.get(&k, 0, data.len()), None);
    assert!(!path.exists());
    assert_eq!(cache.stats().corrupt, 1);
    // Fetched again and stored again.
    cache.put(&k, 0, &data);
    assert_eq!(cache.get(&k, 0, data.len()), Some(data));
}

#[test]
fn a_corrupt_header_is_removed_not_served() {
    let dir = tempfile::tempdir().unwrap();
    let cache = DiskCache::open(dir.path(), 1 << 20).unwrap();
    let (k, data) = (key(1), content(1, 0));
    // magic, version, crc, chunk index, length, key digest
    for at in [0, 9, 13, 16, 25, 40] {
        cache.put(&k, 0, &data);
        let path = cache.chunk_path(&k, 0);
        flip_byte(&path, at);
        assert_eq!(cache.get(&k, 0, data.len()), None, "byte {at}");
        assert!(!path.exists(), "byte {at}");
    }
    assert_eq!(cache.stats().corrupt, 6);
}

#[test]
fn a_torn_file_is_removed_not_served() {
    let dir = tempfile::tempdir().unwrap();
    let cache = DiskCache::open(dir.path(), 1 << 20).unwrap();
    let (k, data) = (key(1), content(1, 0));
    for keep in [0, 10, HEADER, HEADER + 1, HEADER + data.len() as u64 - 1] {
        cache.put(&k, 0, &data);
        let path = cache.chunk_path(&k, 0);
        fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(keep)
            .unwrap();
        assert_eq!(cache.get(&k, 0, data.len()), None, "{keep} bytes kept");
        assert!(!path.exists(), "{keep} bytes kept");
    }
    // Zero-filled, as some filesystems leave a file whose data never
    // reached the disk.
    cache.put(&k, 0, &data);
    let path = cache.chunk_path(&k, 0);
    fs::write(&path, vec![0u8; HEADER as usize + data.len()]).unwrap();
    assert_eq!(cache.get(&k, 0, data.len()), None);
    assert!(!path.exists());
    // Longer than it should be.
    cache.put(&k, 0, &data);
    let mut long = fs::read(&path).unwrap();
    long.push(0);
    fs::write(&path, long).unwrap();
    assert_eq!(cache.get(&k, 0, data.len()), None);
    assert!(!path.exists());
}

#[test]
fn a_misplaced_file_is_not_served() {
    let dir = tempfile::tempdir().unwrap();
    let cache = DiskCache::open(dir.path(), 1 << 20).unwrap();
    let data = vec![7u8; 2000];
    cache.put(&key(1), 0, &data);
    // The same bytes as another chunk of the same key, and as the same
    // chunk of another key.
    let other_chunk = cache.chunk_path(&key(1), 1);
    fs::copy(cache.chunk_path(&key(1), 0), &other_chunk).unwrap();
    assert_eq!(cache.get(&key(1), 1, data.len()), None);
    assert!(!other_chunk.exists());
    let other_key = cache.chunk_path(&key(2), 0);
    fs::create_dir_all(other_key.parent().unwrap()).unwrap();
    fs::copy(cache.chunk_path(&key(1), 0), &other_key).unwrap();
    assert_eq!(cache.get(&key(2), 0, data.len()), None);
    assert!(!other_key.exists());
    assert_eq!(cache.get(&key(1), 0, data.len()), Some(data));
}

#[test]
fn a_wrong_length_is_a_miss() {
    let dir = tempfile::tempdir().unwrap();
    let cache = DiskCache::open(dir.path(), 1 << 20).unwrap();
    let (k, data) = (key(1), content(1, 0));
    cache.put(&k, 0, &data);
    assert_eq!(cache.get(&k, 0, data.len() - 1), None);
    cache.put(&k, 0, &data);
    assert_eq!(cache.get(&k, 0, data.len() + 1), None);
    // Never more than a chunk, whatever the caller asks for.
    assert_eq!(cache.get(&k, 0, usize::MAX), None);
    cache.put(&k, 0, &vec![0; CHUNK as usize + 1]);
    assert!(!cache.chunk_path(&k, 0).exists());
}

#[test]
fn stale_temp_files_are_cleaned_on_open() {
    let dir = tempfile::tempdir().unwrap();
    drop(DiskCache::open(dir.path(), 1 << 20).unwrap());
    let tmp = dir.path().join("v1/tmp");
    let stale = tmp.join("1234-0-5678.tmp");
    let fresh = tmp.join("1234-1-5678.tmp");
    fs::write(&stale, b"half a chunk").unwrap();
    fs::write(&fresh, b"being written").unwrap();
    set_mtime(&stale, Duration::from_secs(2 * 3600));
    let cache = DiskCache::open(dir.path(), 1 << 20).unwrap();
    assert!(!stale.exists());
    assert!(fresh.exists(), "another process may still be writing it");
    // Temp files are not chunks: not counted, not served.
    assert_eq!(cache.stats().disk_bytes, 0);
    // Nothing is left in tmp by a store.
    fs::remove_file(&fresh).unwrap();
    cache.put(&key(1), 0, &content(1, 0));
    assert_eq!(fs::read_dir(&tmp).unwrap().count(), 0);
}

#[test]
fn eviction_keeps_the_bound_and_removes_the_least_recently_used() {
    let dir = tempfile::tempdir().unwrap();
    let file = HEADER + 1000;
    let max = 4 * file + 10;
    let cache = DiskCache::open(dir.path(), max).unwrap();
    let k = key(1);
    let data = |c: u64| vec![c as u8; 1000];
    for c in 0..4 {
        cache.put(&k, c, &data(c));
    }
    assert_eq!(cache.stats().evicted_bytes, 0);
    for (c, ago) in [(0, 400), (1, 300), (2, 200), (3, 100)] {
        set_mtime(&cache.chunk_path(&k, c), Duration::from_secs(ago));
    }
    // A hit makes chunk 0 the most recently used.
    assert_eq!(cache.get(&k, 0, 1000), Some(data(0)));
    cache.put(&k, 4, &data(4));
    // Down to 90 % of the bound: three files; 1 and 2 were the oldest.
    for c in [1, 2] {
        assert!(!cache.chunk_path(&k, c).exists(), "chunk {c}");
        assert_eq!(cache.get(&k, c, 1000), None);
    }
    for c in [0, 3, 4] {
        assert_eq!(cache.get(&k, c, 1000), Some(data(c)), "chunk {c}");
    }
    let s = cache.stats();
    assert_eq!(s.evicted_bytes, 2 * file);
    assert_eq!(s.disk_bytes, 3 * file);
    assert!(s.disk_bytes <= max);
    // Opening with a smaller bound evicts at once, down to 90 % of it: one
    // file, the most recently used.
    drop(cache);
    for (c, ago) in [(0, 50), (3, 40), (4, 30)] {
        set_mtime(&cache_path(dir.path(), &k, c), Duration::from_secs(ago));
    }
    let small = DiskCache::open(dir.path(), 2 * file).unwrap();
    assert_eq!(small.stats().disk_bytes, file);
    assert!(small.get(&k, 4, 1000) == Some(data(4)));
    // A chunk larger than the whole cache is not stored.
    let tiny = DiskCache::open(dir.path(), 500).unwrap();
    tiny.put(&k, 9, &data(9));
    assert_eq!(tiny.get(&k, 9, 1000), None);
}

#[test]
fn the_bound_holds_under_many_stores() {
    let dir = tempfile::tempdir().unwrap();
    let max = 50_000;
    let cache = DiskCache::open(dir.path(), max).unwrap();
    for c in 0..200 {
        cache.put(&key(1), c, &content(1, c));
        assert!(cache.stats().disk_bytes <= max, "after chunk {c}");
    }
    let on_disk: u64 = data::files_under(&dir.path().join("v1"))
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "chunk"))
        .map(|p| fs::metadata(p).unwrap().len())
        .sum();
    assert!(on_disk <= max, "{on_disk} bytes on disk");
    assert_eq!(on_disk, cache.stats().disk_bytes);
    // The newest is still there.
    assert_eq!(
        cache.get(&key(1), 199, content(1, 199).len()),
        Some(content(1, 199))
    );
}

/// Where chunk `chunk` of `k` lives in the cache at `dir`.
fn cache_path(dir: &Path, k: &CacheKey, chunk: u64) -> PathBuf {
    dir.join("v1")
        .join(&k.hex()[..2])
        .join(k.hex())
        .join(format!("{chunk}.chunk"))
}

#[test]
fn keys_of_different_objects_never_mix() {
    let name = "https://example.org/a.iso";
    let base = CacheKey::new(name, &meta(100, Some("\"x\""), None), CHUNK);
    let others = [
        CacheKey::new(
            "https://example.org/b.iso",
            &meta(100, Some("\"x\""), None),
            CHUNK,
        ),
        CacheKey::new(name, &meta(100, Some("\"y\""), None), CHUNK),
        CacheKey::new(name, &meta(101, Some("\"x\""), None), CHUNK),
        CacheKey::new(name, &meta(100, Some("\"x\""), None), CHUNK * 2),
        CacheKey::new(name, &meta(100, None, Some("\"x\"")), CHUNK),
    ];
    for (i, other) in others.iter().enumerate() {
        assert_ne!(&base, other, "variant {i}");
        assert_ne!(base.hex(), other.hex(), "variant {i}");
    }
    // Same object, same key, whatever else the store says: the strong ETag
    // pins it.
    let same = CacheKey::new(name, &meta(100, Some("\"x\""), Some("Mon")), CHUNK);
    assert_eq!(base, same);
    assert_eq!(base.hex().len(), 64);

    let dir = tempfile::tempdir().unwrap();
    let cache = DiskCache::open(dir.path(), 1 << 20).unwrap();
    cache.put(&base, 0, &[1; 100]);
    for other in &others {
        assert_eq!(cache.get(other, 0, 100), None);
    }
    assert_eq!(cache.get(&same, 0, 100), Some(vec![1; 100]));
}

#[test]
fn objects_without_a_validator_are_not_cached() {
    let dir = tempfile::tempdir().unwrap();
    let cache = DiskCache::open(dir.path(), 1 << 20).unwrap();
    for m in [meta(100, None, None), meta(100, Some("W/\"weak\""), None)] {
        let k = CacheKey::new("https://example.org/a.iso", &m, CHUNK);
        assert!(!k.is_pinned());
        cache.put(&k, 0, &[1; 100]);
        assert!(!cache.chunk_path(&k, 0).exists());
        assert_eq!(cache.get(&k, 0, 100), None);
    }
    // A weak ETag with a date: the date pins it.
    let k = CacheKey::new(
        "https://example.org/a.iso",
        &meta(
            100,
            Some("W/\"weak\""),
            Some("Tue, 01 Dec 2026 10:00:00 GMT"),
        ),
        CHUNK,
    );
    assert!(k.is_pinned());
    cache.put(&k, 0, &[1; 100]);
    assert_eq!(cache.get(&k, 0, 100), Some(vec![1; 100]));
}

#[test]
fn a_failing_store_does_not_fail() {
    let dir = tempfile::tempdir().unwrap();
    let cache = DiskCache::open(dir.path(), 1 << 20).unwrap();
    // The temp directory replaced by a file: every store fails.
    let tmp = dir.path().join("v1/tmp");
    fs::remove_dir(&tmp).unwrap();
    fs::write(&tmp, b"in the way").unwrap();
    cache.put(&key(1), 0, &content(1, 0));
    assert_eq!(cache.get(&key(1), 0, content(1, 0).len()), None);
    assert_eq!(cache.stats().stored_bytes, 0);
    // Gone again: stores work again.
    fs::remove_file(&tmp).unwrap();
    cache.put(&key(1), 0, &content(1, 0));
    assert_eq!(
        cache.get(&key(1), 0, content(1, 0).len()),
        Some(content(1, 0))
    );
}

/// 600 random gets of object 0..4, chunk 0..12 from `cache`, storing each
/// miss, checking each hit's bytes; returns the hits.
fn storm(cache: &DiskCache, seed: u64) -> u64 {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut hits = 0;
    for _ in 0..600 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let n = (x % 4) as u32;
        let c = (x >> 8) % 12;
        let want = content(n, c);
        match cache.get(&key(n), c, want.len()) {
            Some(got) => {
                assert!(got == want, "object {n} chunk {c}: wrong bytes");
                hits += 1;
            }
            None => cache.put(&key(n), c, &want),
        }
    }
    assert_eq!(cache.stats().corrupt, 0, "{:?}", cache.stats());
    hits
}

/// Room for about a third of the storm's chunks: eviction runs all the
/// time.
const STORM_MAX: u64 = 60_000;

/// Everything left after a storm in `dir` is intact and within the bound
/// after a rescan, and no temp file is left.
fn check_after_storm(dir: &Path) {
    let reopened = DiskCache::open(dir, STORM_MAX).unwrap();
    assert!(reopened.stats().disk_bytes <= STORM_MAX);
    for n in 0..4 {
        for c in 0..12 {
            let want = content(n, c);
            if let Some(got) = reopened.get(&key(n), c, want.len()) {
                assert!(got == want);
            }
        }
    }
    assert_eq!(reopened.stats().corrupt, 0);
    assert_eq!(
        fs::read_dir(dir.join("v1/tmp")).unwrap().count(),
        0,
        "temp files left behind"
    );
}

#[test]
fn a_storm_of_threads_on_two_instances_never_sees_wrong_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let caches = [
        Arc::new(DiskCache::open(dir.path(), STORM_MAX).unwrap()),
        Arc::new(DiskCache::open(dir.path(), STORM_MAX).unwrap()),
    ];
    let threads: Vec<_> = (0..8u64)
        .map(|t| {
            let cache = Arc::clone(&caches[(t % 2) as usize]);
            std::thread::spawn(move || storm(&cache, t))
        })
        .collect();
    let hits: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert!(hits > 0);
    check_after_storm(dir.path());
}

/// Set in the children started by `a_storm_of_processes_never_sees_wrong_bytes`.
const STORM_CHILD_ENV: &str = "ISOMOUNT_TEST_DISK_CACHE_STORM";

/// The child half of `a_storm_of_processes_never_sees_wrong_bytes`; does
/// nothing in a plain test run.
#[test]
fn storm_child() {
    let Some(arg) = std::env::var_os(STORM_CHILD_ENV) else {
        return;
    };
    let arg = arg.into_string().unwrap();
    let (seed, dir) = arg.split_once(':').unwrap();
    let cache = Arc::new(DiskCache::open(Path::new(dir), STORM_MAX).unwrap());
    let seed: u64 = seed.parse().unwrap();
    let threads: Vec<_> = (0..2)
        .map(|t| {
            let cache = Arc::clone(&cache);
            std::thread::spawn(move || storm(&cache, seed * 2 + t))
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn a_storm_of_processes_never_sees_wrong_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let children: Vec<_> = (100..103)
        .map(|seed| {
            Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "storm_child", "--test-threads=1"])
                .env(
                    STORM_CHILD_ENV,
                    format!("{seed}:{}", dir.path().to_str().unwrap()),
                )
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let cache = DiskCache::open(dir.path(), STORM_MAX).unwrap();
    storm(&cache, 7);
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "child failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("1 passed"));
    }
    check_after_storm(dir.path());
}

/// An environment of just `vars`, for `DiskCache::default_dir_with`.
fn env(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<OsString> {
    move |name: &str| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| OsString::from(v))
    }
}

#[cfg(unix)]
#[test]
fn default_dir_follows_xdg() {
    assert_eq!(
        DiskCache::default_dir_with(env(&[("XDG_CACHE_HOME", "/x/cache"), ("HOME", "/home/u")])),
        Some(PathBuf::from("/x/cache/isomount"))
    );
    assert_eq!(
        DiskCache::default_dir_with(env(&[("HOME", "/home/u")])),
        Some(PathBuf::from("/home/u/.cache/isomount"))
    );
    // Empty and relative values are ignored (XDG Base Directory spec).
    assert_eq!(
        DiskCache::default_dir_with(env(&[("XDG_CACHE_HOME", ""), ("HOME", "/home/u")])),
        Some(PathBuf::from("/home/u/.cache/isomount"))
    );
    assert_eq!(
        DiskCache::default_dir_with(env(&[("XDG_CACHE_HOME", "rel"), ("HOME", "/home/u")])),
        Some(PathBuf::from("/home/u/.cache/isomount"))
    );
    assert_eq!(DiskCache::default_dir_with(env(&[])), None);
    assert_eq!(DiskCache::default_dir_with(env(&[("HOME", "")])), None);
}

#[cfg(windows)]
#[test]
fn default_dir_is_local_app_data() {
    assert_eq!(
        DiskCache::default_dir_with(env(&[("LOCALAPPDATA", r"C:\Users\u\AppData\Local")])),
        Some(PathBuf::from(r"C:\Users\u\AppData\Local\isomount\cache"))
    );
    assert_eq!(
        DiskCache::default_dir_with(env(&[("USERPROFILE", r"C:\Users\u")])),
        Some(PathBuf::from(r"C:\Users\u\AppData\Local\isomount\cache"))
    );
    assert_eq!(DiskCache::default_dir_with(env(&[])), None);
}
