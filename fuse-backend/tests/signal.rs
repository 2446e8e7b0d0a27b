//! SIGTERM makes `serve` unmount and return Ok. A test binary of its own:
//! the signal goes to the whole process, and would end other tests' mounts.

mod common;

use std::fs;

use common::*;
use fuse_backend::MountOptions;

#[test]
fn sigterm_unmounts_cleanly() {
    if skip() {
        return;
    }
    let mut m = Mounted::new(MountOptions::default());
    assert_eq!(fs::read(m.p("sub/inner.txt")).unwrap(), INNER);
    // SAFETY: plain libc calls; serve() has SIGTERM caught since before ready().
    assert_eq!(unsafe { libc::kill(libc::getpid(), libc::SIGTERM) }, 0);
    m.join().expect("serve returns Ok after SIGTERM");
    assert!(!is_mounted(&m.path), "still mounted after SIGTERM");
}
