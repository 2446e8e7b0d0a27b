//! `isomount mount`, `isomount open` and `isomount umount` on Windows,
//! through WinFsp.
//!
//! The mount runs in the foreground (`-f` is accepted and changes nothing):
//! Ctrl-C, Ctrl-Break or closing the console window unmounts. The mount
//! point is a free drive letter (`X:`), the next free one (no mount point,
//! or `*`: Z: downwards, see `winfsp_backend::mountpoint`), or a folder that
//! does not exist yet (WinFsp creates it; its parent must exist). Once
//! mounted, the mount point is printed alone on standard output (for
//! scripts) and a sentence on standard error (for people).
//!
//! `open` is what Explorer's "Mount with isomount" verb runs
//! (packaging/windows/): the next free drive letter, then Explorer on it.

use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use winfsp_backend::MountTarget;

use crate::cli::Cli;
use crate::mount_opts::{self, Caller};

/// Dispatcher threads serving the mount.
const THREADS: u32 = 4;

/// Runs `mount`. Of `-o`, the image options (`view=`, `session=`,
/// `cache_size=`, `no_boot_dir`) are taken, and `ro`; anything else would
/// change the mount itself, which WinFsp makes read-only always.
pub fn run(
    cli: &Cli,
    image: &Path,
    mountpoint: Option<&Path>,
    lists: &[String],
    caller: Caller,
) -> Result<()> {
    let mut cli = cli.clone();
    let rest = mount_opts::split(lists, &mut cli.open, caller)?;
    if rest.split(',').any(|o| !o.is_empty() && o != "ro") {
        return Err(anyhow!(
            "-o {rest}: on Windows only view=, session=, cache_size=, no_boot_dir \
             and ro are taken (the mount is always read-only)"
        ));
    }
    let cli = &cli;
    let target = match mountpoint {
        None => MountTarget::NextFreeDrive,
        Some(m) => MountTarget::parse(&m.to_string_lossy()).map_err(|e| anyhow!(e))?,
    };
    if let MountTarget::Drive(d) = &target {
        winfsp_backend::check_drive_free(d)?;
    }
    if let MountTarget::Folder(dir) = &target {
        if std::fs::symlink_metadata(dir).is_ok() {
            return Err(anyhow!(
                "mount point {} exists: on Windows the folder is created by WinFsp, \
                 so name one that does not exist yet (in an existing folder), or a drive letter such as X:",
                dir.display()
            ));
        }
        let parent = dir.parent().filter(|p| !p.as_os_str().is_empty());
        if let Some(parent) = parent {
            if !parent.is_dir() {
                return Err(anyhow!(
                    "mount point {}: folder {} does not exist",
                    dir.display(),
                    parent.display()
                ));
            }
        }
    }
    serve(cli, image, &target, |_| {})
}

/// Runs `open`: mounts on the next free drive letter and, unless
/// `no_open`, starts Explorer on it; then serves like `mount`.
pub fn open(cli: &Cli, image: &Path, no_open: bool) -> Result<()> {
    let quiet = cli.quiet;
    serve(cli, image, &MountTarget::NextFreeDrive, |shown| {
        if !no_open {
            start_explorer(shown);
        }
        if !quiet {
            // Started from Explorer, this console window is all there is.
            eprintln!("isomount: closing this window also unmounts {shown}");
        }
    })
}

/// Opens the image, mounts it on `target`, prints where, calls `then` with
/// the mount point, and serves until Ctrl-C.
fn serve(cli: &Cli, image: &Path, target: &MountTarget, then: impl FnOnce(&str)) -> Result<()> {
    // Open first, so a bad image is reported before WinFsp is looked for.
    let vol = Arc::new(crate::common::open_volume(&cli.open, image)?);
    winfsp_backend::init()?;
    let stem = image
        .file_stem()
        .map(|s| s.to_string_lossy())
        .unwrap_or_default();
    let label = winfsp_backend::label::volume_label(&vol.info().label, &stem);
    let quiet = cli.quiet;
    winfsp_backend::serve(vol, target, &label, THREADS, |shown| {
        if !quiet {
            eprintln!(
                "isomount: {} mounted read-only on {shown}; press Ctrl-C to unmount",
                image.display()
            );
        }
        // The mount point alone, for scripts; flushed now, since the
        // process goes on serving.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{shown}").and_then(|()| out.flush());
        drop(out);
        then(shown);
    })
    .with_context(|| format!("cannot mount {} (on {target})", image.display()))
}

/// Starts Explorer on `mount_point` (`E:` → `E:\`), without waiting for it.
fn start_explorer(mount_point: &str) {
    let mut dir = mount_point.to_string();
    if !dir.ends_with('\\') {
        dir.push('\\');
    }
    // By full path: Explorer from the current directory or PATH is not wanted.
    let explorer = std::env::var_os("SystemRoot")
        .map(|root| Path::new(&root).join("explorer.exe"))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| "explorer.exe".into());
    // Explorer hands the window to the running shell and exits (with code
    // 1, by habit), so the child is not waited for; it gets none of our
    // standard handles, so a script reading our stdout is not held up by it.
    let started = std::process::Command::new(&explorer)
        .arg(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    if let Err(e) = started {
        log::warn!(
            "cannot start {} on {dir}: {e} (the image stays mounted)",
            explorer.display()
        );
    }
}

/// Runs `umount`: nothing to do separately on Windows.
pub fn umount(mountpoint: Option<&Path>, _all: bool) -> Result<()> {
    let which = match mountpoint {
        Some(m) => format!("the mount on {} ends", m.display()),
        None => "each mount ends".to_string(),
    };
    Err(anyhow!(
        "on Windows there is no separate unmount: {which} with its `isomount mount` \
         (or `isomount open`) process: press Ctrl-C in its console window, or close the window"
    ))
}
