//! `isomount mount` / `isomount umount`.
//!
//! Without `-f` the command daemonizes by re-executing itself with `-f` and
//! the environment variable [`READY_FD_ENV`] naming the write end of a pipe.
//! (A fresh exec, not a bare `fork`, so the server never inherits a
//! half-copied multi-threaded process.) The child starts a new session, serves
//! with stdio on /dev/null, and writes one 0 byte to the pipe once the kernel
//! has the mount, or its error message if it fails. The parent waits for that
//! (30 s at most), then exits 0 or prints the error and exits 1.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use fs_core::Volume;
use fuse_backend::MountOptions;

use crate::cli::Cli;

/// Environment variable through which the daemon child learns its pipe fd.
pub const READY_FD_ENV: &str = "ISOMOUNT_READY_FD";

/// How long the parent waits for the child's mount.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Mount options from the `-o` lists; the image path is the default fsname.
pub fn mount_options(image: &Path, lists: &[String]) -> Result<MountOptions> {
    let mut opts = MountOptions {
        fsname: image.display().to_string(),
        ..MountOptions::default()
    };
    for l in lists {
        opts.apply_o(l).map_err(|e| anyhow!("-o {l}: {e}"))?;
    }
    Ok(opts)
}

/// Runs `mount`.
pub fn run(
    cli: &Cli,
    image: &Path,
    mountpoint: Option<&Path>,
    foreground: bool,
    lists: &[String],
) -> Result<()> {
    let Some(mountpoint) = mountpoint else {
        return Err(anyhow!("give a mount point (default place: not built yet)"));
    };
    let opts = mount_options(image, lists)?;
    let meta = std::fs::metadata(mountpoint)
        .with_context(|| format!("mount point {}", mountpoint.display()))?;
    if !meta.is_dir() {
        return Err(anyhow!(
            "mount point {} is not a directory",
            mountpoint.display()
        ));
    }
    // Open first, so a bad image is reported before anything is mounted.
    let vol = Arc::new(crate::common::open_volume(&cli.open, image)?);
    if !foreground {
        return spawn_daemon(cli, image, mountpoint, lists);
    }
    match std::env::var(READY_FD_ENV).ok() {
        Some(fd) => {
            // SAFETY: we are the daemon child and the parent passed us this fd.
            unsafe { std::env::remove_var(READY_FD_ENV) };
            serve_as_daemon(vol, mountpoint, &opts, &fd)
        }
        None => fuse_backend::serve(vol, mountpoint, &opts, || {
            log::info!("mounted on {}", mountpoint.display())
        })
        .with_context(|| format!("cannot serve on {}", mountpoint.display())),
    }
}

/// Runs `umount`. A mount whose server is gone (killed: the mount answers
/// "transport endpoint is not connected") and that cannot be unmounted
/// plainly is detached lazily, and that is said on stderr; a busy mount
/// whose server is alive is refused.
pub fn umount(mountpoint: Option<&Path>, _all: bool) -> Result<()> {
    let Some(mountpoint) = mountpoint else {
        return Err(anyhow!("--all: not built yet"));
    };
    let done = fuse_backend::unmount_or_detach_dead(mountpoint).map_err(|e| {
        // The backend's messages usually name the mount point already.
        let shown = mountpoint.display().to_string();
        if e.to_string().contains(&shown) {
            anyhow::Error::new(e)
        } else {
            anyhow::Error::new(e).context(format!("cannot unmount {shown}"))
        }
    })?;
    if done == fuse_backend::Unmounted::DetachedDead {
        log::warn!(
            "the server of {} is gone (transport endpoint is not connected) and the mount \
             was still in use: detached it lazily",
            mountpoint.display()
        );
    }
    Ok(())
}

fn serve_as_daemon(
    vol: Arc<Volume>,
    mountpoint: &Path,
    opts: &MountOptions,
    fd: &str,
) -> Result<()> {
    let fd: i32 = fd
        .parse()
        .map_err(|_| anyhow!("{READY_FD_ENV}={fd:?} is not a file descriptor"))?;
    // Keep the pipe away from anything the server spawns (fusermount3 may
    // linger with auto_unmount and would hold the parent's read open).
    // SAFETY: fcntl on an integer fd has no memory-safety preconditions.
    if fd < 3 || unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } != 0 {
        return Err(anyhow!(
            "{READY_FD_ENV}={fd} is not an open file descriptor"
        ));
    }
    // SAFETY: the fd is open (fcntl succeeded) and nothing else in this
    // process owns it.
    let pipe = Arc::new(File::from(unsafe { OwnedFd::from_raw_fd(fd) }));
    let sent = Arc::new(AtomicBool::new(false));
    let ready = {
        let pipe = Arc::clone(&pipe);
        let sent = Arc::clone(&sent);
        move || {
            sent.store(true, Ordering::SeqCst);
            let _ = (&*pipe).write_all(&[0]);
        }
    };
    let result = fuse_backend::serve(vol, mountpoint, opts, ready)
        .with_context(|| format!("cannot serve on {}", mountpoint.display()));
    if let Err(e) = &result {
        if !sent.load(Ordering::SeqCst) {
            let _ = (&*pipe).write_all(format!("{e:#}").as_bytes());
        }
    }
    result
}

/// Re-executes this program in the background and waits for its mount.
fn spawn_daemon(cli: &Cli, image: &Path, mountpoint: &Path, lists: &[String]) -> Result<()> {
    let exe = std::env::current_exe().context("cannot find this program to start the server")?;
    // The child works from "/", so it gets absolute paths.
    let image = absolute(image)?;
    let mountpoint = absolute(mountpoint)?;
    let mut fds = [0i32; 2];
    // SAFETY: `fds` is a valid array of two ints.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error()).context("cannot create a pipe");
    }
    // SAFETY: pipe2 succeeded: both fds are open and owned by us alone.
    let (rd, wr) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let mut cmd = Command::new(exe);
    if let Some(v) = cli.open.view {
        cmd.arg("--view").arg(v.as_str());
    }
    cmd.arg("--cache-size").arg(cli.open.cache_size.to_string());
    // The server reopens the image: it must see the same session and
    // [BOOT] choice as the user asked for.
    if let Some(n) = cli.open.session {
        cmd.arg("--session").arg(n.to_string());
    }
    if cli.open.no_boot_dir {
        cmd.arg("--no-boot-dir");
    }
    if cli.verbose > 0 {
        cmd.arg(format!("-{}", "v".repeat(usize::from(cli.verbose))));
    }
    if cli.quiet {
        cmd.arg("-q");
    }
    cmd.arg("mount").arg(&image).arg(&mountpoint).arg("-f");
    for l in lists {
        cmd.arg("-o").arg(l);
    }
    let wr_fd = std::os::fd::AsRawFd::as_raw_fd(&wr);
    cmd.env(READY_FD_ENV, wr_fd.to_string())
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(if cli.verbose > 0 {
            Stdio::inherit()
        } else {
            Stdio::null()
        });
    // SAFETY: between fork and exec only async-signal-safe calls (fcntl,
    // setsid) run, touching no memory of the parent.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || {
            if libc::fcntl(wr_fd, libc::F_SETFD, 0) != 0 || libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().context("cannot start the server process")?;
    // Only the child may hold the write end, so its death reads as EOF.
    drop(wr);
    let mut rd = File::from(rd);
    let deadline = Instant::now() + READY_TIMEOUT;
    let mut msg = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            let _ = child.kill();
            let _ = child.wait();
            return Err(anyhow!(
                "the server did not mount {} within {} s (stopped it)",
                mountpoint.display(),
                READY_TIMEOUT.as_secs()
            ));
        }
        let mut pfd = libc::pollfd {
            fd: std::os::fd::AsRawFd::as_raw_fd(&rd),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = i32::try_from(left.as_millis()).unwrap_or(i32::MAX).max(1);
        // SAFETY: `pfd` is one valid pollfd.
        let r = unsafe { libc::poll(&mut pfd, 1, ms) };
        if r < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e).context("waiting for the server");
        }
        if r == 0 {
            continue;
        }
        let mut buf = [0u8; 4096];
        let n = match rd.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).context("waiting for the server"),
        };
        if n == 0 {
            break;
        }
        if msg.is_empty() && buf[0] == 0 {
            log::info!(
                "mounted {} on {} (server pid {})",
                image.display(),
                mountpoint.display(),
                child.id()
            );
            return Ok(());
        }
        msg.extend_from_slice(&buf[..n]);
    }
    let status = child.wait().ok();
    if msg.is_empty() {
        let how = status.map_or_else(|| "unknown status".to_string(), |s| s.to_string());
        return Err(anyhow!(
            "the server process ended ({how}) before mounting {}",
            mountpoint.display()
        ));
    }
    Err(anyhow!("{}", String::from_utf8_lossy(&msg).trim_end()))
}

fn absolute(p: &Path) -> Result<PathBuf> {
    std::path::absolute(p).with_context(|| format!("{}", p.display()))
}
