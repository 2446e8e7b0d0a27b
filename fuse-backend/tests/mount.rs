//! Really mounts a test volume through /dev/fuse and looks at it with std::fs.

mod common;

use std::collections::BTreeSet;
use std::ffi::CString;
use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirEntryExt, FileExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::sync::Arc;

use common::*;
use fuse_backend::MountOptions;

const EROFS: i32 = 30;
const EIO: i32 = 5;
const ENOENT: i32 = 2;

fn errno<T: std::fmt::Debug>(r: std::io::Result<T>) -> i32 {
    r.expect_err("should have failed")
        .raw_os_error()
        .expect("an OS error")
}

#[test]
fn mounted_volume_reads_like_the_image() {
    if skip() || skip_unless_root("mounted_volume_reads_like_the_image") {
        return;
    }
    let mut opts = MountOptions::default();
    opts.apply_o("ro,fsname=isomount-test,threads=4").unwrap();
    let m = Mounted::new(opts);

    // Walk.
    let names: BTreeSet<String> = fs::read_dir(&m.path)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let want: BTreeSet<String> = [
        "big.bin", "empty", "sub", "many", "link", "fifo", "null", "hard1", "broken", "baddir",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(names, want);
    let sub: BTreeSet<String> = fs::read_dir(m.p("sub"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        sub,
        ["hard2", "inner.txt"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    );

    // A listing bigger than one readdir reply: resumption at offsets.
    let many: Vec<String> = fs::read_dir(m.p("many"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(many.len(), MANY_COUNT);
    let unique: BTreeSet<&String> = many.iter().collect();
    assert_eq!(unique.len(), MANY_COUNT, "no entry repeated");
    assert!(many.contains(&"entry-with-a-longish-name-0499".to_string()));

    // Content and sizes.
    let big = fs::read(m.p("big.bin")).unwrap();
    assert_eq!(big.len() as u64, BIG_LEN);
    assert!(big == big_content(), "big.bin content differs");
    assert_eq!(fs::read(m.p("sub/inner.txt")).unwrap(), INNER);
    assert_eq!(fs::read(m.p("empty")).unwrap(), b"");
    assert_eq!(fs::read(m.p("hard1")).unwrap(), HARD);
    assert_eq!(fs::read(m.p("sub/hard2")).unwrap(), HARD);
    // Seek and partial reads, including the tail and past the end.
    let mut f = fs::File::open(m.p("big.bin")).unwrap();
    f.seek(SeekFrom::Start(BIG_LEN - 10)).unwrap();
    let mut tail = Vec::new();
    f.read_to_end(&mut tail).unwrap();
    assert_eq!(tail, &big_content()[BIG_LEN as usize - 10..]);
    let mut buf = [0u8; 16];
    assert_eq!(f.read_at(&mut buf, BIG_LEN + 100).unwrap(), 0);

    // Attributes.
    let md = fs::metadata(m.p("big.bin")).unwrap();
    assert_eq!(md.size(), BIG_LEN);
    assert_eq!(md.mode(), 0o100644);
    assert_eq!(md.blocks(), BIG_LEN.div_ceil(BS) * BS / 512);
    assert_eq!(md.blksize(), 2048);
    assert_eq!((md.uid(), md.gid()), (100, 200));
    assert_eq!(md.mtime(), MTIME.secs);
    assert_eq!(md.mtime_nsec(), i64::from(MTIME.nanos));
    assert_eq!(md.atime(), ATIME.secs);
    assert_eq!(md.ctime(), MTIME.secs, "ctime falls back to mtime");
    assert_eq!(md.nlink(), 1);
    let empty = fs::metadata(m.p("empty")).unwrap();
    assert_eq!(
        (empty.size(), empty.blocks(), empty.mode()),
        (0, 0, 0o100444)
    );
    let root = fs::metadata(&m.path).unwrap();
    assert!(root.is_dir());
    assert_eq!(root.ino(), 1, "root is FUSE node 1");
    assert_eq!(root.mode(), 0o040755);
    assert_eq!(root.nlink(), 4);
    assert!(fs::metadata(m.p("sub")).unwrap().is_dir());

    // Symlink.
    let lmd = fs::symlink_metadata(m.p("link")).unwrap();
    assert!(lmd.file_type().is_symlink());
    assert_eq!(lmd.size(), 7);
    assert_eq!(fs::read_link(m.p("link")).unwrap().as_os_str(), "big.bin");
    assert_eq!(fs::read(m.p("link")).unwrap().len() as u64, BIG_LEN);

    // Special files.
    let fifo = fs::symlink_metadata(m.p("fifo")).unwrap();
    assert!(fifo.file_type().is_fifo());
    assert_eq!(fifo.mode(), 0o010644);
    let null = fs::symlink_metadata(m.p("null")).unwrap();
    assert!(null.file_type().is_char_device());
    assert_eq!(null.rdev(), libc::makedev(1, 3));
    // nodev by default: the image's device node does not reach /dev/null.
    assert_eq!(errno(fs::File::open(m.p("null"))), libc::EACCES);

    // Hard links share st_ino and nlink; other files do not share it.
    let h1 = fs::metadata(m.p("hard1")).unwrap();
    let h2 = fs::metadata(m.p("sub/hard2")).unwrap();
    assert_eq!(h1.ino(), h2.ino());
    assert_eq!(h1.ino(), HARD_INODE + 2);
    assert_eq!((h1.nlink(), h2.nlink()), (2, 2));
    assert_ne!(md.ino(), h1.ino());
    assert_ne!(md.ino(), fs::metadata(m.p("sub/inner.txt")).unwrap().ino());
    // readdir's d_ino agrees with stat's st_ino.
    let d_ino = fs::read_dir(&m.path)
        .unwrap()
        .map(|e| e.unwrap())
        .find(|e| e.file_name() == "hard1")
        .unwrap()
        .ino();
    assert_eq!(d_ino, h1.ino());

    // Missing names (twice: the second answer comes from the negative cache).
    for _ in 0..2 {
        assert_eq!(errno(fs::metadata(m.p("no-such-file"))), ENOENT);
    }
    assert_eq!(errno(fs::read_dir(m.p("big.bin"))), libc::ENOTDIR);

    // statfs.
    let c = CString::new(m.path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a zeroed statvfs is a valid out-parameter; `c` outlives the call.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::statvfs(c.as_ptr(), &mut st) }, 0);
    assert_eq!(st.f_bsize, 2048);
    assert_eq!(st.f_frsize, 2048);
    assert_eq!(st.f_blocks, IMAGE_BLOCKS);
    assert_eq!(st.f_bfree, 0);
    assert_eq!(st.f_namemax, 255);
    assert!(st.f_files > 0);
    assert_ne!(st.f_flag & libc::ST_RDONLY, 0);

    // Nothing can be changed.
    assert_eq!(errno(fs::File::create(m.p("new"))), EROFS);
    assert_eq!(
        errno(fs::OpenOptions::new().write(true).open(m.p("big.bin"))),
        EROFS
    );
    assert_eq!(
        errno(fs::OpenOptions::new().append(true).open(m.p("big.bin"))),
        EROFS
    );
    assert_eq!(errno(fs::create_dir(m.p("newdir"))), EROFS);
    assert_eq!(errno(fs::remove_file(m.p("big.bin"))), EROFS);
    assert_eq!(errno(fs::remove_dir(m.p("sub"))), EROFS);
    assert_eq!(errno(fs::rename(m.p("big.bin"), m.p("moved"))), EROFS);
    assert_eq!(errno(fs::hard_link(m.p("big.bin"), m.p("hl"))), EROFS);
    assert_eq!(errno(std::os::unix::fs::symlink("x", m.p("sl"))), EROFS);
    assert_eq!(
        errno(fs::set_permissions(
            m.p("big.bin"),
            fs::Permissions::from_mode(0o777)
        )),
        EROFS
    );
    // SAFETY: `c` is a valid C string.
    assert_eq!(unsafe { libc::access(c.as_ptr(), libc::W_OK) }, -1);
    assert_eq!(std::io::Error::last_os_error().raw_os_error(), Some(EROFS));
    assert_eq!(unsafe { libc::access(c.as_ptr(), libc::R_OK) }, 0);

    // Extended attributes: none.
    let xname = CString::new("user.test").unwrap();
    let fc = CString::new(m.p("big.bin").as_os_str().as_bytes()).unwrap();
    let mut xbuf = [0u8; 64];
    // SAFETY: valid C strings and a buffer of the size given.
    let r = unsafe {
        libc::getxattr(
            fc.as_ptr(),
            xname.as_ptr(),
            xbuf.as_mut_ptr().cast(),
            xbuf.len(),
        )
    };
    assert_eq!(r, -1);
    assert_eq!(
        std::io::Error::last_os_error().raw_os_error(),
        Some(libc::ENODATA)
    );
    // SAFETY: as above.
    let r = unsafe { libc::listxattr(fc.as_ptr(), xbuf.as_mut_ptr().cast(), xbuf.len()) };
    assert_eq!(r, 0);

    // A broken file fails with EIO, and only it.
    assert_eq!(fs::metadata(m.p("broken")).unwrap().size(), 8192);
    assert_eq!(errno(fs::read(m.p("broken"))), EIO);
    assert_eq!(errno(fs::read(m.p("broken"))), EIO);
    assert!(fs::read(m.p("big.bin")).unwrap() == big_content());
    assert_eq!(fs::read(m.p("sub/inner.txt")).unwrap(), INNER);

    // A directory that cannot be read: EIO when listed, the rest stands.
    assert!(fs::metadata(m.p("baddir")).unwrap().is_dir());
    assert_eq!(errno(fs::read_dir(m.p("baddir"))), EIO);
    assert_eq!(errno(fs::metadata(m.p("baddir/x"))), EIO);
    assert_eq!(fs::read_dir(&m.path).unwrap().count(), 10);

    // Four threads reading at once, each its own file handle and offsets.
    let expected = Arc::new(big_content());
    let handles: Vec<_> = (0..4u64)
        .map(|t| {
            let path = m.p("big.bin");
            let inner = m.p("sub/inner.txt");
            let expected = Arc::clone(&expected);
            std::thread::spawn(move || {
                let f = fs::File::open(&path).unwrap();
                for round in 0..50u64 {
                    let off = (t * 7919 + round * 1543) % (BIG_LEN - 4096);
                    let mut buf = vec![0u8; 4096];
                    f.read_exact_at(&mut buf, off).unwrap();
                    assert!(buf == expected[off as usize..off as usize + 4096]);
                    if round % 10 == 0 {
                        assert_eq!(fs::read(&inner).unwrap(), INNER);
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("reader thread");
    }

    drop(f);
    m.unmount().expect("unmount and serve returns Ok");
}

#[test]
fn owner_override_and_external_unmount() {
    if skip() || skip_unless_root("owner_override_and_external_unmount") {
        return;
    }
    let mut opts = MountOptions::default();
    opts.apply_o("uid=1234,gid=4321,allow_other,read_ahead_kb=2048")
        .unwrap();
    let mut m = Mounted::new(opts);
    let md = fs::metadata(m.p("sub/inner.txt")).unwrap();
    assert_eq!((md.uid(), md.gid()), (1234, 4321));
    let root = fs::metadata(&m.path).unwrap();
    assert_eq!((root.uid(), root.gid()), (1234, 4321));
    // The bdi read-ahead was raised (we are root here; best effort otherwise).
    let bdi = format!(
        "/sys/class/bdi/{}:{}/read_ahead_kb",
        libc::major(root.dev()),
        libc::minor(root.dev())
    );
    if let Ok(v) = fs::read_to_string(&bdi) {
        assert_eq!(v.trim(), "2048", "{bdi}");
    }
    // Unmounted from outside: serve returns Ok by itself.
    let st = std::process::Command::new("fusermount3")
        .arg("-u")
        .arg(&m.path)
        .status();
    match st {
        Ok(s) if s.success() => {}
        _ => {
            let s = std::process::Command::new("umount")
                .arg(&m.path)
                .status()
                .unwrap();
            assert!(s.success());
        }
    }
    m.join()
        .expect("serve returns Ok after an external unmount");
    assert!(!is_mounted(&m.path));
}

#[test]
fn busy_mount_is_reported_not_detached() {
    if skip() {
        return;
    }
    let m = Mounted::new(MountOptions::default());
    let f = fs::File::open(m.p("big.bin")).unwrap();
    let cwd_holder = fs::File::open(&m.path).unwrap();
    // An open file keeps the mount busy.
    let e = fuse_backend::unmount(&m.path).unwrap_err();
    assert!(e.to_string().contains("busy"), "{e}");
    assert!(is_mounted(&m.path));
    drop(f);
    drop(cwd_holder);
    m.unmount().expect("unmount once idle");
}

#[test]
fn auto_unmount_goes_through_fusermount3() {
    if skip() || skip_unless_root("auto_unmount_goes_through_fusermount3") {
        return;
    }
    if std::process::Command::new("fusermount3")
        .arg("-V")
        .output()
        .is_err()
    {
        eprintln!("*** SKIPPED auto_unmount test: fusermount3 not installed ***");
        return;
    }
    let mut opts = MountOptions::default();
    opts.apply_o("auto_unmount").unwrap();
    let m = Mounted::new(opts);
    // fusermount3 made it, so the type carries the subtype.
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let line = info
        .lines()
        .find(|l| l.split(' ').nth(4) == Some(&*m.path.to_string_lossy()))
        .expect("mountinfo line");
    assert!(line.contains(" fuse.isomount "), "{line}");
    assert!(line.contains(" isomount "), "fsname: {line}");
    assert_eq!(fs::read(m.p("sub/inner.txt")).unwrap(), INNER);
    m.unmount().expect("unmount");
}
