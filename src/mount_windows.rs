//! `isomount mount` / `isomount umount` on Windows, through WinFsp.
//!
//! The mount runs in the foreground (`-f` is accepted and changes nothing):
//! Ctrl-C, Ctrl-Break or closing the console window unmounts. The mount
//! point is a free drive letter (`X:`), `*` for the next free one, or a
//! folder that does not exist yet (WinFsp creates it; its parent must exist).

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use winfsp_backend::MountTarget;

use crate::cli::Cli;

/// Dispatcher threads serving the mount.
const THREADS: u32 = 4;

/// Runs `mount`.
pub fn run(cli: &Cli, image: &Path, mountpoint: Option<&Path>, lists: &[String]) -> Result<()> {
    let Some(mountpoint) = mountpoint else {
        return Err(anyhow!(
            "give a mount point (next free drive letter: not built yet)"
        ));
    };
    if !lists.is_empty() {
        return Err(anyhow!(
            "-o: mount options are not supported on Windows (the mount is always read-only)"
        ));
    }
    let target = MountTarget::parse(&mountpoint.to_string_lossy()).map_err(|e| anyhow!(e))?;
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
    // Open first, so a bad image is reported before WinFsp is looked for.
    let vol = Arc::new(crate::common::open_volume(&cli.open, image)?);
    winfsp_backend::init()?;
    let quiet = cli.quiet;
    winfsp_backend::serve(vol, &target, THREADS, |shown| {
        if !quiet {
            eprintln!(
                "isomount: {} mounted read-only on {shown}; press Ctrl-C to unmount",
                image.display()
            );
        }
    })
    .with_context(|| format!("cannot mount {} (on {target})", image.display()))
}

/// Runs `umount`: nothing to do separately on Windows.
pub fn umount(mountpoint: Option<&Path>, _all: bool) -> Result<()> {
    let mountpoint = mountpoint.unwrap_or(Path::new("*"));
    Err(anyhow!(
        "on Windows there is no separate unmount: the mount on {} ends with its \
         `isomount mount` process (press Ctrl-C in its console window, or close the window)",
        mountpoint.display()
    ))
}
