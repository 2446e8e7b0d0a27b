//! SIGTERM makes `serve` unmount and return Ok; on a busy mount a second
//! one detaches it. A test binary of its own:
//! the signal goes to the whole process, and would end other tests' mounts.

mod common;

use std::fs;
use std::time::{Duration, Instant};

use common::*;
use fuse_backend::MountOptions;

fn sigterm() {
    // SAFETY: plain libc calls; serve() has SIGTERM caught since before ready().
    assert_eq!(unsafe { libc::kill(libc::getpid(), libc::SIGTERM) }, 0);
}

/// Both cases in one test: they must not run at the same time.
#[test]
fn sigterm_unmounts_cleanly_and_twice_when_busy() {
    if skip() {
        return;
    }
    let mut m = Mounted::new(MountOptions::default());
    assert_eq!(fs::read(m.p("sub/inner.txt")).unwrap(), INNER);
    sigterm();
    m.join().expect("serve returns Ok after SIGTERM");
    assert!(!is_mounted(&m.path), "still mounted after SIGTERM");

    // Busy: the first signal is logged and serving goes on.
    let mut m = Mounted::new(MountOptions::default());
    let f = fs::File::open(m.p("big.bin")).unwrap();
    sigterm();
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        is_mounted(&m.path),
        "a busy mount must stay after one signal"
    );
    assert_eq!(fs::read(m.p("sub/inner.txt")).unwrap(), INNER);
    // The second detaches it lazily; serve returns (within its 2 s grace).
    let t0 = Instant::now();
    sigterm();
    m.join().expect("serve returns Ok after the second SIGTERM");
    assert!(t0.elapsed() < Duration::from_secs(10));
    assert!(!is_mounted(&m.path), "detached after the second signal");
    drop(f);
}
