//! A panic inside a request handler (a reader bug) fails that request with
//! EIO; the mount and every other request go on. Without the guard in
//! `fs.rs` the panicking event-loop thread ends `Session::run`, `serve`
//! returns and the mount is gone (ENOTCONN).

mod common;

use std::fs;
use std::sync::atomic::Ordering;

use common::*;
use fuse_backend::MountOptions;

const EIO: i32 = 5;

#[test]
fn a_panicking_reader_fails_one_request_and_the_mount_stays_up() {
    if skip() || skip_unless_root("a_panicking_reader_fails_one_request_and_the_mount_stays_up") {
        return;
    }
    // Own test binary: the switch cannot affect other tests.
    PANIC_IN_BAD_DIR.store(true, Ordering::SeqCst);
    let mut opts = MountOptions::default();
    // One event-loop thread: a thread lost to the panic would leave none.
    opts.apply_o("ro,threads=1").unwrap();
    let m = Mounted::new(opts);

    for attempt in 0..3 {
        let err = fs::read_dir(m.p("baddir")).expect_err("listing baddir panics");
        assert_eq!(err.raw_os_error(), Some(EIO), "attempt {attempt}: {err}");
    }
    // Everything else still answers, on the same single thread.
    assert_eq!(fs::read(m.p("sub/inner.txt")).unwrap(), INNER);
    assert_eq!(fs::read(m.p("big.bin")).unwrap(), big_content());
    assert!(fs::read_dir(&m.path).unwrap().count() >= 10);
    assert!(is_mounted(&m.path));
    m.unmount().expect("clean unmount after the panics");
}
