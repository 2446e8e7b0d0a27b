//! Rock Ridge (IEEE P1282). STUB: the "rr" helper's version replaces this
//! file at merge.
#![allow(dead_code)]

use crate::error::{Location, Result};
use crate::node::{DeviceNumber, Timestamp};

use super::susp::{ReadBytes, SuspInfo};

/// What the Rock Ridge entries of one record say.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct RockRidge {
    pub found: bool,
    pub mode: Option<u32>,
    pub nlink: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub serial: Option<u64>,
    pub rdev: Option<DeviceNumber>,
    pub name: Option<String>,
    pub symlink: Option<String>,
    pub mtime: Option<Timestamp>,
    pub atime: Option<Timestamp>,
    pub ctime: Option<Timestamp>,
    pub crtime: Option<Timestamp>,
    pub child_link: Option<u32>,
    pub parent_link: Option<u32>,
    pub relocated: bool,
}

/// Stub: nothing found.
pub(crate) fn parse(
    su: &[u8],
    info: &SuspInfo,
    block_size: u32,
    at: Location,
    read: ReadBytes<'_>,
) -> Result<RockRidge> {
    let _ = (su, info, block_size, at, read);
    Ok(RockRidge::default())
}
