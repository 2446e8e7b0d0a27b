//! Mounting, serving until unmounted or signalled, and unmounting.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use fs_core::Volume;
use log::{debug, info, warn};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::attr::Owner;
use crate::fs::IsoFs;
use crate::options::MountOptions;

/// How long [`unmount`] retries a busy mount before reporting it.
const BUSY_RETRY: Duration = Duration::from_millis(1000);

/// How long to wait for the session to end after a forced (lazy) unmount.
const FORCED_EXIT_WAIT: Duration = Duration::from_secs(2);

/// Mounts `volume` read-only at `mountpoint` and serves it.
///
/// Calls `ready()` once the kernel has the mount and requests are being
/// served (so a daemonizing parent can exit). Returns `Ok` when the mount
/// goes away: unmounted from outside (`fusermount3 -u`, `umount`,
/// [`unmount`]), or on SIGINT/SIGTERM, which unmount it cleanly first. If the
/// mount is busy then, the error is logged and serving goes on; a second
/// signal detaches it lazily (`umount -l`) and ends the FUSE connection.
///
/// SIGINT and SIGTERM are caught for the whole process while this runs
/// (with the `signal-hook` crate); afterwards they stay caught and do
/// nothing, which suits a CLI that exits when this returns.
pub fn serve(
    volume: Arc<Volume>,
    mountpoint: &Path,
    opts: &MountOptions,
    ready: impl FnOnce(),
) -> io::Result<()> {
    let mountpoint = mountpoint.canonicalize().map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("mount point {}: {e}", mountpoint.display()),
        )
    })?;
    let config = opts.to_config();
    let fs = IsoFs::new(
        volume,
        Owner {
            uid: opts.uid,
            gid: opts.gid,
            fmask: opts.fmask,
            dmask: opts.dmask,
        },
    );
    // Catch signals before mounting: one that arrives while mounting is then
    // seen as soon as the mount is up, and the mount is not left behind.
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    let handle = signals.handle();
    // Session::new mounts and completes the INIT handshake.
    let session = fuser::Session::new(fs, &mountpoint, &config).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot mount on {}: {e}", mountpoint.display()),
        )
    })?;
    info!("mounted on {}", mountpoint.display());
    let worker = thread::Builder::new()
        .name("isomount-fuse".into())
        .spawn(move || {
            let res = session.run();
            // Ends the signal loop below.
            handle.close();
            res
        })?;

    if let Some(kb) = opts.effective_read_ahead_kb() {
        set_read_ahead(&mountpoint, kb);
    }
    ready();

    let mut forced = false;
    for sig in signals.forever() {
        info!("signal {sig}: unmounting {}", mountpoint.display());
        if !forced {
            match unmount(&mountpoint) {
                Ok(()) => {}
                Err(e) => {
                    warn!("{e}; still serving. Send the signal again to detach it lazily.");
                    forced = true;
                }
            }
        } else {
            force_unmount(&mountpoint);
            // The session may not notice at once; do not hang on it.
            let deadline = Instant::now() + FORCED_EXIT_WAIT;
            while !worker.is_finished() && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(20));
            }
            if !worker.is_finished() {
                warn!("FUSE session did not end after a lazy unmount; leaving it behind");
                return Ok(());
            }
            break;
        }
    }
    let res = worker
        .join()
        .map_err(|_| io::Error::other("FUSE session thread panicked"))?;
    info!("unmounted {}", mountpoint.display());
    res
}

/// Unmounts a mount made by [`serve`] (or any FUSE mount).
///
/// Tries `umount2(path, 0)` first (works for root); on `EPERM` runs
/// `fusermount3 -u` (then `fusermount -u`). A mount that stays busy for a
/// second (files still closing are waited for) is reported as an error that
/// says so; it is not detached lazily.
pub fn unmount(mountpoint: &Path) -> io::Result<()> {
    let c = c_path(mountpoint)?;
    let deadline = Instant::now() + BUSY_RETRY;
    let err = loop {
        // SAFETY: `c` is a valid NUL-terminated string that outlives the call.
        let rc = unsafe { libc::umount2(c.as_ptr(), 0) };
        if rc == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        // Right after the last close() the kernel may still hold the mount
        // for a RELEASE request in flight: retry EBUSY for a moment.
        if err.raw_os_error() != Some(libc::EBUSY) || Instant::now() >= deadline {
            break err;
        }
        debug!("{}: busy, retrying", mountpoint.display());
        thread::sleep(Duration::from_millis(20));
    };
    let shown = mountpoint.display();
    match err.raw_os_error() {
        Some(libc::EPERM) => fusermount_u(mountpoint),
        Some(libc::EBUSY) => Err(io::Error::new(
            err.kind(),
            format!(
                "cannot unmount {shown}: it is busy (a process has a file open or its \
                 working directory there); close it and retry, or detach it with `umount -l`"
            ),
        )),
        Some(libc::EINVAL) => Err(io::Error::new(
            err.kind(),
            format!("cannot unmount {shown}: not a mount point"),
        )),
        _ => Err(io::Error::new(
            err.kind(),
            format!("cannot unmount {shown}: {err}"),
        )),
    }
}

/// What [`unmount_or_detach_dead`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unmounted {
    /// A plain unmount.
    Clean,
    /// The mount's server is gone (the mount answers `ENOTCONN`, e.g.
    /// after `kill -9`) and the mount could not be unmounted plainly (a
    /// process still had its working directory or a file there): it was
    /// detached lazily (`MNT_DETACH` / `fusermount3 -uz`). Nothing can use
    /// such a mount any more, so nothing is lost by detaching it.
    DetachedDead,
}

/// [`unmount`], except that a mount whose server has died is detached
/// lazily when a plain unmount fails. A busy mount whose server is alive
/// is still refused with [`unmount`]'s error: detaching it would leave
/// processes working in a tree that no longer has a name.
pub fn unmount_or_detach_dead(mountpoint: &Path) -> io::Result<Unmounted> {
    if !server_is_gone(mountpoint) {
        match unmount(mountpoint) {
            Ok(()) => return Ok(Unmounted::Clean),
            // The server may have died while we tried.
            Err(e) if !server_is_gone(mountpoint) => return Err(e),
            Err(e) => debug!("{}: server gone; {e}", mountpoint.display()),
        }
    } else {
        // A dead mount that nothing uses still unmounts plainly; a busy one
        // will not become idle by waiting (its users get ENOTCONN and may
        // never leave), so no retries.
        let c = c_path(mountpoint)?;
        // SAFETY: `c` is a valid NUL-terminated string that outlives the call.
        if unsafe { libc::umount2(c.as_ptr(), 0) } == 0 {
            return Ok(Unmounted::Clean);
        }
        let e = io::Error::last_os_error();
        debug!("{}: server gone; umount: {e}", mountpoint.display());
    }
    detach_lazily(mountpoint).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "cannot unmount {}: its server is gone and a lazy unmount failed: {e}",
                mountpoint.display()
            ),
        )
    })?;
    Ok(Unmounted::DetachedDead)
}

/// True when `mountpoint` answers `ENOTCONN`: a FUSE mount whose server
/// has died (or whose connection was aborted). Asked with `statfs`, which
/// always reaches the server: `stat` may be answered from attributes the
/// kernel still caches (our TTLs are unlimited).
fn server_is_gone(mountpoint: &Path) -> bool {
    let Ok(c) = c_path(mountpoint) else {
        return false;
    };
    let mut st = std::mem::MaybeUninit::<libc::statfs>::uninit();
    // SAFETY: `c` is a valid NUL-terminated string and `st` is writable
    // memory of the size statfs(2) fills; both outlive the call.
    let rc = unsafe { libc::statfs(c.as_ptr(), st.as_mut_ptr()) };
    rc != 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ENOTCONN)
}

/// `umount2(MNT_DETACH)`, or `fusermount3 -u -z` where that is not permitted.
fn detach_lazily(mountpoint: &Path) -> io::Result<()> {
    let c = c_path(mountpoint)?;
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call.
    if unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) } == 0 {
        return Ok(());
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() != Some(libc::EPERM) {
        return Err(e);
    }
    let out = Command::new("fusermount3")
        .args(["-u", "-z", "--"])
        .arg(mountpoint)
        .output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "fusermount3 -u -z: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// `path` as the NUL-terminated string the mount system calls take.
fn c_path(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains NUL"))
}

/// `fusermount3 -u PATH`, falling back to `fusermount` (FUSE 2).
fn fusermount_u(mountpoint: &Path) -> io::Result<()> {
    let mut last = None;
    for prog in ["fusermount3", "fusermount"] {
        match Command::new(prog)
            .arg("-u")
            .arg("--")
            .arg(mountpoint)
            .output()
        {
            Ok(out) if out.status.success() => return Ok(()),
            Ok(out) => {
                return Err(io::Error::other(format!(
                    "{prog} -u {}: {}",
                    mountpoint.display(),
                    String::from_utf8_lossy(&out.stderr).trim()
                )));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        format!(
            "cannot unmount {}: not permitted, and neither fusermount3 nor fusermount \
             was found ({})",
            mountpoint.display(),
            last.map(|e| e.to_string()).unwrap_or_default()
        ),
    ))
}

/// Detaches the mount lazily and aborts its FUSE connection, so that the
/// session ends even while files are still open (they get `ENOTCONN`).
fn force_unmount(mountpoint: &Path) {
    let dev = mount_device(mountpoint);
    if let Err(e) = detach_lazily(mountpoint) {
        warn!("lazy unmount of {}: {e}", mountpoint.display());
    }
    if let Some((_, minor)) = dev {
        // fusectl names a connection after the minor number of its st_dev.
        let abort = format!("/sys/fs/fuse/connections/{minor}/abort");
        match std::fs::write(&abort, b"1") {
            Ok(()) => info!("aborted FUSE connection {minor}"),
            Err(e) => debug!("{abort}: {e}"),
        }
    }
}

/// Raises the read-ahead of the mount's backing device info to `kb` KiB
/// (buffered reads are capped by it: 128 KiB by default, 1 MiB gave 7x the
/// throughput at 2 ms per request in our measurements). Best effort: logs
/// and goes on when it cannot.
fn set_read_ahead(mountpoint: &Path, kb: u32) {
    let Some((major, minor)) = mount_device(mountpoint) else {
        debug!(
            "read_ahead_kb: {} not found in /proc/self/mountinfo",
            mountpoint.display()
        );
        return;
    };
    let path = PathBuf::from(format!("/sys/class/bdi/{major}:{minor}/read_ahead_kb"));
    match std::fs::write(&path, format!("{kb}\n")) {
        Ok(()) => debug!("{} = {kb}", path.display()),
        Err(e) => info!("could not set {} to {kb}: {e}", path.display()),
    }
}

/// `st_dev` (major, minor) of the mount at `mountpoint`, read from
/// `/proc/self/mountinfo` rather than by `stat`, which would be a FUSE
/// request to ourselves. The last (topmost) mount at that path wins.
fn mount_device(mountpoint: &Path) -> Option<(u32, u32)> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    find_mount_device(&text, mountpoint.as_os_str().as_bytes())
}

/// The (major, minor) of the last line of `mountinfo` text whose mount point
/// (field 5, octal-escaped) is `mountpoint`.
fn find_mount_device(mountinfo: &str, mountpoint: &[u8]) -> Option<(u32, u32)> {
    mountinfo.lines().rev().find_map(|line| {
        let mut fields = line.split(' ');
        let dev = fields.nth(2)?;
        let point = fields.nth(1)?;
        if unescape_octal(point) != mountpoint {
            return None;
        }
        let (major, minor) = dev.split_once(':')?;
        Some((major.parse().ok()?, minor.parse().ok()?))
    })
}

/// Undoes the kernel's `\NNN` octal escapes (space, tab, newline, backslash).
fn unescape_octal(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() {
            let digits = &b[i + 1..i + 4];
            if digits.iter().all(|d| (b'0'..=b'7').contains(d)) {
                let v = digits
                    .iter()
                    .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                if let Ok(byte) = u8::try_from(v) {
                    out.push(byte);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
40 22 0:45 / /tmp/my\\040mnt rw,nosuid,nodev - fuse isomount ro,user_id=0
41 22 0:46 / /tmp/x rw - fuse isomount ro
42 41 0:47 / /tmp/x rw - fuse isomount ro
";

    #[test]
    fn finds_device_of_mount_point() {
        assert_eq!(find_mount_device(MOUNTINFO, b"/tmp/my mnt"), Some((0, 45)));
        assert_eq!(find_mount_device(MOUNTINFO, b"/"), Some((8, 1)));
        // Stacked mounts: the topmost (last) one.
        assert_eq!(find_mount_device(MOUNTINFO, b"/tmp/x"), Some((0, 47)));
        assert_eq!(find_mount_device(MOUNTINFO, b"/nope"), None);
        assert_eq!(find_mount_device("garbage\n1 2\n", b"/"), None);
    }

    #[test]
    fn unescapes_octal() {
        assert_eq!(unescape_octal("a\\040b\\134c"), b"a b\\c");
        assert_eq!(unescape_octal("end\\04"), b"end\\04");
        assert_eq!(unescape_octal("\\999"), b"\\999");
        assert_eq!(unescape_octal("\\"), b"\\");
    }

    #[test]
    fn unmount_of_a_non_mount_is_a_clear_error() {
        let dir = std::env::temp_dir();
        let e = unmount(&dir).unwrap_err();
        assert!(e.to_string().contains(&*dir.to_string_lossy()), "{e}");
    }
}
