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
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use fs_core::Volume;
use fuse_backend::MountOptions;

use crate::cli::{Cli, ImageArgs};
use crate::mount_opts::{self, Caller};
use crate::mounts::{self, Registration};
use crate::remote::ImageRef;

/// Environment variable through which the daemon child learns its pipe fd.
pub const READY_FD_ENV: &str = "ISOMOUNT_READY_FD";

/// How long the parent waits for the child's mount.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Mount options from the `-o` lists; the image (a URL without its
/// secrets) is the default fsname.
pub fn mount_options(image: &Path, lists: &[String]) -> Result<MountOptions> {
    let mut opts = MountOptions {
        fsname: ImageRef::parse(image)?.shown(),
        ..MountOptions::default()
    };
    for l in lists {
        opts.apply_o(l).map_err(|e| anyhow!("-o {l}: {e}"))?;
    }
    Ok(opts)
}

/// A mount request, from `isomount mount`, `isomount open` or mount.fuse3.
pub struct Request<'a> {
    /// The command line (global options, log level).
    pub cli: &'a Cli,
    /// The image.
    pub image: &'a Path,
    /// Where; `None` for a new directory under [`mounts::runtime_dir`].
    pub mountpoint: Option<&'a Path>,
    /// Serve in this process instead of a background one.
    pub foreground: bool,
    /// The `-o` lists.
    pub lists: &'a [String],
    /// Who passed the lists.
    pub caller: Caller,
}

/// Runs `mount`; a mount point chosen here is printed on standard output.
pub fn run(req: &Request<'_>) -> Result<()> {
    let chosen = req.mountpoint.is_none();
    let at = mount(req)?;
    if chosen && !req.foreground {
        println!("{}", at.display());
    }
    Ok(())
}

/// Mounts as asked and returns where (after the server has ended, with
/// `foreground`).
fn mount(req: &Request<'_>) -> Result<PathBuf> {
    let image = req.image;
    let mut image_args = req.cli.open.clone();
    let fuse_list = mount_opts::split(req.lists, &mut image_args, req.caller)?;
    let opts = mount_options(image, std::slice::from_ref(&fuse_list))?;
    if let Some(m) = req.mountpoint {
        let meta = std::fs::metadata(m).with_context(|| format!("mount point {}", m.display()))?;
        if !meta.is_dir() {
            return Err(anyhow!("mount point {} is not a directory", m.display()));
        }
    }
    // Open first, so a bad image is reported before anything is mounted (or
    // a mount point made for it).
    let vol = Arc::new(crate::common::open_volume(&image_args, image)?);
    let mountpoint = match req.mountpoint {
        Some(m) => m.to_path_buf(),
        None => new_mountpoint(image)?,
    };
    let result = if req.foreground {
        serve(vol, image, &mountpoint, &opts)
    } else {
        drop(vol);
        spawn_daemon(req.cli, &image_args, image, &mountpoint, &fuse_list)
    };
    if result.is_err() || req.foreground {
        remove_if_ours(&mountpoint);
    }
    result.map(|()| mountpoint)
}

/// Serves in this process (the `-f` case, and the daemon child).
fn serve(vol: Arc<Volume>, image: &Path, mountpoint: &Path, opts: &MountOptions) -> Result<()> {
    let record = Arc::new(Mutex::new(None));
    let view = vol.view().as_str();
    let image_shown = match ImageRef::parse(image)? {
        ImageRef::Local(p) => absolute(&p)?.display().to_string(),
        remote => remote.shown(),
    };
    let mountpoint_abs = absolute(mountpoint)?;
    let on_ready = {
        let record = Arc::clone(&record);
        move || {
            if let Ok(mut slot) = record.lock() {
                *slot = Registration::write(&image_shown, &mountpoint_abs, view);
            }
        }
    };
    report_on_sigusr1(&record);
    let result = match std::env::var(READY_FD_ENV).ok() {
        Some(fd) => {
            // SAFETY: we are the daemon child and the parent passed us this fd.
            unsafe { std::env::remove_var(READY_FD_ENV) };
            serve_as_daemon(vol, mountpoint, opts, &fd, on_ready)
        }
        None => fuse_backend::serve(vol, mountpoint, opts, || {
            on_ready();
            log::info!("mounted on {}", mountpoint.display())
        })
        .with_context(|| format!("cannot serve on {}", mountpoint.display())),
    };
    if let Ok(mut slot) = record.lock() {
        slot.take();
    }
    result
}

/// On SIGUSR1, logs the remote image's transfer figures and writes them
/// into the mount's record (`isomount list --json` shows them). Nothing
/// for a local image.
fn report_on_sigusr1(record: &Arc<Mutex<Option<Registration>>>) {
    use signal_hook::consts::SIGUSR1;
    if crate::remote::stats_json().is_none() {
        return;
    }
    let mut signals = match signal_hook::iterator::Signals::new([SIGUSR1]) {
        Ok(s) => s,
        Err(e) => {
            log::warn!("cannot catch SIGUSR1 for transfer figures: {e}");
            return;
        }
    };
    let record = Arc::clone(record);
    let spawned = std::thread::Builder::new()
        .name("isomount-sigusr1".into())
        .spawn(move || {
            for _ in signals.forever() {
                if let Some(line) = crate::remote::stats_line() {
                    log::warn!("{line}");
                }
                if let (Some(stats), Ok(mut slot)) = (crate::remote::stats_json(), record.lock()) {
                    if let Some(reg) = slot.as_mut() {
                        reg.set_remote(stats);
                    }
                }
            }
        });
    if let Err(e) = spawned {
        log::warn!("cannot catch SIGUSR1 for transfer figures: {e}");
    }
}

/// A new empty directory `RUNTIME/mnt/NAME` for `image`, NAME being the
/// image's file name without its extension (`-2`, `-3`, ... added when taken).
fn new_mountpoint(image: &Path) -> Result<PathBuf> {
    let base = mounts_dir();
    mounts::private_dir(&base)?;
    let stem = image
        .file_stem()
        .map(|s| s.to_string_lossy().replace(|c: char| c.is_control(), "_"))
        .filter(|s| !s.is_empty() && !s.starts_with('.'))
        .unwrap_or_else(|| "image".to_string());
    for n in 1..=1000 {
        let name = if n == 1 {
            stem.clone()
        } else {
            format!("{stem}-{n}")
        };
        let dir = base.join(name);
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot create {}", dir.display())),
        }
    }
    Err(anyhow!(
        "no free name for a mount point of {} in {}",
        image.display(),
        base.display()
    ))
}

/// Where [`new_mountpoint`] makes its directories.
fn mounts_dir() -> PathBuf {
    mounts::runtime_dir().join("mnt")
}

/// Removes `dir` if it is one [`new_mountpoint`] made (and is empty again).
fn remove_if_ours(dir: &Path) {
    let ours = absolute(dir)
        .ok()
        .zip(absolute(&mounts_dir()).ok())
        .is_some_and(|(d, base)| d.parent() == Some(base.as_path()));
    if ours {
        let _ = std::fs::remove_dir(dir);
    }
}

/// Runs `umount`. A mount whose server is gone (killed: the mount answers
/// "transport endpoint is not connected") and that cannot be unmounted
/// plainly is detached lazily, and that is said on stderr; a busy mount
/// whose server is alive is refused. `all` unmounts every mount
/// `isomount list` shows that this user made (root: all of them).
pub fn umount(mountpoint: Option<&Path>, all: bool) -> Result<()> {
    if let Some(m) = mountpoint {
        return umount_one(m);
    }
    debug_assert!(all);
    let mut failed = 0;
    for r in mounts::list()?.into_iter().filter(|r| r.own) {
        match umount_one(&r.mountpoint) {
            Ok(()) => {
                log::info!("unmounted {} ({})", r.mountpoint.display(), r.image);
                remove_if_ours(&r.mountpoint);
            }
            Err(e) => {
                eprintln!("isomount: {e:#}");
                failed += 1;
            }
        }
    }
    if failed > 0 {
        return Err(anyhow!("{failed} mount(s) could not be unmounted"));
    }
    Ok(())
}

fn umount_one(mountpoint: &Path) -> Result<()> {
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

/// Runs `list`: one line (or JSON object) per isomount mount.
pub fn list(json: bool, out: &mut dyn Write) -> Result<()> {
    let mounts = mounts::list()?;
    if json {
        for r in &mounts {
            let mut v = serde_json::json!({
                "image": r.image,
                "mountpoint": r.mountpoint.to_string_lossy(),
                "view": r.view,
                "pid": r.pid,
            });
            if let Some(stats) = &r.remote {
                v["remote"] = stats.clone();
            }
            writeln!(out, "{v}")?;
        }
        return Ok(());
    }
    if mounts.is_empty() {
        return Ok(());
    }
    let show = |p: &str| crate::common::printable(p).into_owned();
    let rows: Vec<[String; 4]> = mounts
        .iter()
        .map(|r| {
            [
                show(&r.mountpoint.to_string_lossy()),
                show(&r.image),
                r.view.clone().unwrap_or_else(|| "-".into()),
                r.pid.map_or_else(|| "-".into(), |p| p.to_string()),
            ]
        })
        .collect();
    let head = ["MOUNTPOINT", "IMAGE", "VIEW", "PID"];
    let width = |i: usize| {
        rows.iter()
            .map(|r| r[i].chars().count())
            .chain([head[i].len()])
            .max()
            .unwrap_or(0)
    };
    let (w0, w1, w2) = (width(0), width(1), width(2));
    writeln!(
        out,
        "{:w0$}  {:w1$}  {:w2$}  {}",
        head[0], head[1], head[2], head[3]
    )?;
    for r in &rows {
        writeln!(out, "{:w0$}  {:w1$}  {:w2$}  {}", r[0], r[1], r[2], r[3])?;
    }
    Ok(())
}

/// Runs `open`: mounts `image` in a new directory of its own (or finds the
/// mount this user already has of it), prints where, and starts the file
/// manager there (`xdg-open`) unless `no_open`.
///
/// Started from a file manager (the desktop entry) nobody reads stderr, so
/// when stderr is not a terminal a failure is also shown as a desktop
/// notification (`notify-send`, where installed).
pub fn open(cli: &Cli, image: &Path, no_open: bool) -> Result<()> {
    let result = open_inner(cli, image, no_open);
    if let Err(e) = &result {
        if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            let _ = Command::new("notify-send")
                .args(["--app-name=isomount", "--icon=media-optical"])
                .arg(format!("Cannot open {}", image.display()))
                .arg(format!("{e:#}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
    result
}

fn open_inner(cli: &Cli, image: &Path, no_open: bool) -> Result<()> {
    // A mount's record does not say which overlay it shows: with --add or
    // --hide, always mount anew rather than open a mount without them.
    let overlay = !cli.open.adds.is_empty() || !cli.open.hides.is_empty();
    let existing = if overlay {
        None
    } else {
        mounts::find_own_mount_of(image)
    };
    let at = match existing {
        Some(r) => {
            log::info!(
                "{} is already mounted on {}",
                image.display(),
                r.mountpoint.display()
            );
            r.mountpoint
        }
        None => mount(&Request {
            cli,
            image,
            mountpoint: None,
            foreground: false,
            lists: &[],
            caller: Caller::Command,
        })?,
    };
    println!("{}", at.display());
    if !no_open {
        let status = Command::new("xdg-open")
            .arg(&at)
            .stdin(Stdio::null())
            .status()
            .context("cannot start xdg-open to show the mount (install xdg-utils)")?;
        if !status.success() {
            return Err(anyhow!("xdg-open {} failed ({status})", at.display()));
        }
    }
    Ok(())
}

fn serve_as_daemon(
    vol: Arc<Volume>,
    mountpoint: &Path,
    opts: &MountOptions,
    fd: &str,
    on_ready: impl FnOnce(),
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
            on_ready();
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
fn spawn_daemon(
    cli: &Cli,
    args: &ImageArgs,
    image: &Path,
    mountpoint: &Path,
    fuse_list: &str,
) -> Result<()> {
    let exe = std::env::current_exe().context("cannot find this program to start the server")?;
    // The child works from "/", so it gets absolute paths (URLs as given).
    let image = if ImageRef::parse(image)?.is_remote() {
        image.to_path_buf()
    } else {
        absolute(image)?
    };
    let mountpoint = absolute(mountpoint)?;
    let mut fds = [0i32; 2];
    // SAFETY: `fds` is a valid array of two ints.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error()).context("cannot create a pipe");
    }
    // SAFETY: pipe2 succeeded: both fds are open and owned by us alone.
    let (rd, wr) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let mut cmd = Command::new(exe);
    if let Some(v) = args.view {
        cmd.arg("--view").arg(v.as_str());
    }
    cmd.arg("--cache-size").arg(args.cache_size.to_string());
    // The server reopens the image: it must see the same session and
    // [BOOT] choice as the user asked for.
    if let Some(n) = args.session {
        cmd.arg("--session").arg(n.to_string());
    }
    if args.no_boot_dir {
        cmd.arg("--no-boot-dir");
    }
    // Remote images: the same fetching and caching. Headers may carry
    // tokens: they go through the environment (private to the user), not
    // argv (world-readable in /proc).
    if !args.headers.is_empty() {
        cmd.env(crate::remote::HEADERS_ENV, args.headers.join("\n"));
    }
    if args.no_sign_request {
        cmd.arg("--no-sign-request");
    }
    if let Some(dir) = &args.cache_dir {
        cmd.arg("--cache-dir").arg(absolute(dir)?);
    }
    cmd.arg("--disk-cache-size")
        .arg(args.disk_cache_size.to_string());
    if args.no_disk_cache {
        cmd.arg("--no-disk-cache");
    }
    if let Some(c) = args.chunk_size {
        cmd.arg("--chunk-size").arg(c.to_string());
    }
    cmd.arg("--timeout").arg(args.timeout.to_string());
    // The overlay, SRC already absolute (made so when parsed).
    for a in &args.adds {
        cmd.arg("--add").arg(a.to_arg());
    }
    for h in &args.hides {
        cmd.arg("--hide").arg(h);
    }
    if cli.verbose > 0 {
        cmd.arg(format!("-{}", "v".repeat(usize::from(cli.verbose))));
    }
    if cli.quiet {
        cmd.arg("-q");
    }
    cmd.arg("mount").arg(&image).arg(&mountpoint).arg("-f");
    if !fuse_list.is_empty() {
        cmd.arg("-o").arg(fuse_list);
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
