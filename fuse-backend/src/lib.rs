//! `fuse-backend`: shows an [`fs_core::Volume`] as a read-only Linux FUSE
//! mount, over the pure-Rust [`fuser`] crate (no libfuse needed; as root the
//! mount is made with `mount(2)` directly, otherwise through `fusermount3`).
//!
//! * [`MountOptions`] / [`MountOptions::apply_o`]: the `-o` options.
//! * [`serve`]: mount, call `ready`, serve until unmounted or SIGINT/SIGTERM.
//! * [`unmount`]: `umount2` as root, `fusermount3 -u` otherwise.
//! * [`unmount_or_detach_dead`]: the same, but a mount whose server died
//!   (`ENOTCONN`) is detached lazily when it cannot be unmounted plainly.
//!
//! The image is immutable, so the mount is made for caching: unlimited entry
//! and attribute TTLs, `FOPEN_KEEP_CACHE`, cached directory listings,
//! readdirplus, parallel directory operations, several event-loop threads
//! (`threads=N`) and a larger read-ahead (`read_ahead_kb=N`). Node numbers
//! are explained in [`attr`].
//!
//! Notes for callers:
//!
//! * Device nodes and set-id bits of the image are inert by default
//!   (`nodev,nosuid`, as fusermount3 and desktop automounters do): they are
//!   listed with their numbers and modes, but `-o dev` / `-o suid` are
//!   needed to make them work.
//! * After an unmount from outside, fuser 0.18 logs a harmless
//!   `WARN fuser::session: Failed to umount filesystem: Invalid argument`;
//!   a CLI may filter the `fuser` target to `error`.
//! * `serve` spawns threads: fork (or better, re-exec) before calling it,
//!   and use `ready` to tell the parent the mount is up.
#![warn(missing_docs)]
#![cfg(target_os = "linux")]

pub mod attr;
pub mod fs;
mod mount;
mod options;

pub use fs::IsoFs;
pub use mount::{Unmounted, serve, unmount, unmount_or_detach_dead};
pub use options::{
    DEFAULT_FSNAME, DEFAULT_READ_AHEAD_KB, DEFAULT_THREADS, MAX_THREADS, MountOptions, SUBTYPE,
};
