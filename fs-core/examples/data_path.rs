//! Measures whether bulk file data is better read through the block cache or
//! straight from the image file (the kernel page cache doing the caching).
//!
//! Run by hand (never a timed unit test):
//!
//! ```text
//! cargo run --release -p fs-core --example data_path -- IMAGE [ROUNDS]
//! ```
//!
//! It walks the image, then reads every regular file in 128 KiB requests (the
//! size FUSE sends by default) with `cache_file_data` off and on, alternating,
//! and prints throughput per round and the ratio. Both paths start warm in
//! the page cache after the first round, which is the case a mount lives in.

// A measuring tool run by hand: it stops with a message on a bad argument.
#![allow(clippy::expect_used)]

use std::sync::Arc;
use std::time::Instant;

use fs_core::{FileType, NodeId, OpenOptions, Volume};

fn files(vol: &Volume) -> Vec<(NodeId, u64)> {
    let mut out = Vec::new();
    let mut stack = vec![vol.root()];
    while let Some(dir) = stack.pop() {
        let Ok(listing) = vol.read_dir(dir) else {
            continue;
        };
        for e in listing.entries() {
            match e.kind {
                FileType::Directory => stack.push(e.id),
                FileType::Regular => {
                    let size = vol.attr(e.id).map(|a| a.size).unwrap_or(0);
                    out.push((e.id, size));
                }
                _ => {}
            }
        }
    }
    out
}

fn read_all(vol: &Volume, files: &[(NodeId, u64)], req: usize) -> (u64, f64) {
    let mut buf = vec![0u8; req];
    let mut total = 0u64;
    let t = Instant::now();
    for &(id, size) in files {
        let mut off = 0u64;
        while off < size {
            let n = vol.read(id, off, &mut buf).expect("read");
            if n == 0 {
                break;
            }
            off += n as u64;
            total += n as u64;
        }
    }
    (total, t.elapsed().as_secs_f64())
}

fn main() {
    let mut args = std::env::args().skip(1);
    let image = args.next().expect("usage: data_path IMAGE [ROUNDS]");
    let rounds: usize = args.next().map(|r| r.parse().expect("ROUNDS")).unwrap_or(3);
    let open = |cache_file_data| {
        let opts = OpenOptions {
            cache_file_data,
            ..OpenOptions::default()
        };
        Arc::new(Volume::open_path(&image, &opts).expect("open"))
    };
    let direct = open(false);
    let cached = open(true);
    let list_d = files(&direct);
    let list_c = files(&cached);
    let bytes: u64 = list_d.iter().map(|f| f.1).sum();
    println!(
        "{} files, {:.1} MiB",
        list_d.len(),
        bytes as f64 / 1048576.0
    );
    let (mut sum_d, mut sum_c) = (0.0, 0.0);
    for round in 0..rounds {
        let (nd, td) = read_all(&direct, &list_d, 128 * 1024);
        let (nc, tc) = read_all(&cached, &list_c, 128 * 1024);
        assert_eq!(nd, nc);
        let (md, mc) = (nd as f64 / 1048576.0 / td, nc as f64 / 1048576.0 / tc);
        println!(
            "round {round}: direct {md:8.0} MiB/s   cached {mc:8.0} MiB/s   direct/cached {:.2}",
            md / mc
        );
        if round > 0 {
            sum_d += md;
            sum_c += mc;
        }
    }
    if rounds > 1 {
        let n = (rounds - 1) as f64;
        println!(
            "warm mean: direct {:.0} MiB/s, cached {:.0} MiB/s, ratio {:.2}",
            sum_d / n,
            sum_c / n,
            sum_d / sum_c
        );
    }
    println!("cache stats (cached volume): {:?}", cached.cache_stats());
}
