//! TEMPORARY stand-in for the fuse-backend API in /work/contract.md, so that
//! the CLI branch compiles. The real crate (branch `fuse`) replaces this file
//! at merge; nothing here mounts anything.

use std::path::Path;
use std::sync::Arc;

use fs_core::Volume;

/// Mount options (see the contract).
#[derive(Debug, Clone)]
pub struct MountOptions {
    /// Let other users see the mount.
    pub allow_other: bool,
    /// Owner to report for every node.
    pub uid: Option<u32>,
    /// Group to report for every node.
    pub gid: Option<u32>,
    /// Worker threads.
    pub threads: usize,
    /// File system name shown in /proc/mounts.
    pub fsname: String,
    /// Unmount when the process dies.
    pub auto_unmount: bool,
    /// Kernel read-ahead in KiB.
    pub read_ahead_kb: Option<u32>,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            allow_other: false,
            uid: None,
            gid: None,
            threads: 4,
            fsname: "isomount".into(),
            auto_unmount: false,
            read_ahead_kb: None,
        }
    }
}

impl MountOptions {
    /// Applies one `-o` list; unknown option -> Err.
    pub fn apply_o(&mut self, list: &str) -> Result<(), String> {
        Err(format!("fuse-backend stand-in: cannot apply {list:?}"))
    }
}

/// Mounts `volume` at `mountpoint` (stand-in: always fails).
pub fn serve(
    volume: Arc<Volume>,
    mountpoint: &Path,
    opts: &MountOptions,
    ready: impl FnOnce(),
) -> std::io::Result<()> {
    let _ = (volume, mountpoint, opts, ready);
    Err(std::io::Error::other(
        "fuse-backend stand-in: not implemented",
    ))
}

/// Unmounts (stand-in: always fails).
pub fn unmount(mountpoint: &Path) -> std::io::Result<()> {
    let _ = mountpoint;
    Err(std::io::Error::other(
        "fuse-backend stand-in: not implemented",
    ))
}
