//! `winfsp-backend`: shows an [`fs_core::Volume`] as a read-only Windows
//! drive letter or folder through [WinFsp](https://winfsp.dev) and the
//! `winfsp` crate (winfsp-rs).
//!
//! Licence: GPL-3.0, because winfsp-rs is; fs-core and fuse-backend stay
//! MIT OR Apache-2.0.
//!
//! Everything that does not need Windows is plain Rust, compiled and tested
//! on every platform:
//!
//! * [`names`]: path splitting on `\` (and `/`), listing order, paging by
//!   marker, wildcard patterns.
//! * [`tree`]: case-insensitive lookups with case-preserved names, and how
//!   symbolic links are shown (as their targets inside the image).
//! * [`attr`]: `FILE_ATTRIBUTE_*` bits, FILETIME times, index numbers.
//! * [`listing`]: a directory listing as Windows pages through it.
//! * [`sd`]: the fixed read-only security descriptor.
//! * [`label`]: the volume label Windows shows (cut to 32 UTF-16 units,
//!   with a fallback for images without one).
//! * [`mountpoint`]: drive letter, folder, or the next free drive letter
//!   (and which letters that may be).
//! * [`status`]: NTSTATUS codes for core errors.
//!
//! Only the glue to WinFsp is Windows-only: `WinFs` (the
//! `FileSystemContext`), and `serve` / `init` / `check_drive_free`, which
//! the `isomount` CLI calls. The WinFsp DLL is delay-loaded: the binary's build script links a
//! delay-load import library, and [`init`](crate#windows-only) loads
//! `<InstallDir>\bin\winfsp-x64.dll` (InstallDir from the registry) before
//! the first WinFsp call, so a machine without WinFsp gets a message saying
//! where to get it instead of a loader error at start-up.
#![warn(missing_docs)]

pub mod attr;
pub mod label;
pub mod listing;
pub mod mountpoint;
pub mod names;
pub mod sd;
pub mod status;
pub mod tree;

#[cfg(windows)]
mod fs;
#[cfg(windows)]
mod host;

#[cfg(windows)]
pub use fs::WinFs;
#[cfg(windows)]
pub use host::{NotInstalled, check_drive_free, init, serve};
pub use mountpoint::MountTarget;

/// Where WinFsp is downloaded from (for messages when it is missing).
pub const WINFSP_URL: &str = "https://winfsp.dev/rel/";
