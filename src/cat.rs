//! `isomount cat`: file contents to standard output.

use std::io::Write;

use anyhow::{Context, Result, anyhow};
use fs_core::{FileType, Volume};

use crate::common::{self, Status, is_broken_pipe};

/// Size of each read: big enough that large files stream at disk speed.
const CHUNK: usize = 1 << 20;

/// Copies the content of the node at `path` (symlinks followed) to `out`.
fn cat_one(vol: &Volume, path: &str, buf: &mut [u8], out: &mut impl Write) -> Result<()> {
    let node = common::resolve(vol, path, true)?;
    if node.kind() == FileType::Directory {
        return Err(anyhow!("{path}: is a directory"));
    }
    let size = node.attr().size;
    let mut off = 0u64;
    while off < size {
        let n = common::read_salvaging(vol, &node, off, buf)
            .with_context(|| format!("{path}: read error at offset {off}"))?;
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n])
            .context("cannot write to standard output")?;
        off += n as u64;
    }
    Ok(())
}

/// Writes every path's content in turn; one that fails is reported and the
/// rest still go out. A closed pipe on the output stops at once.
pub fn run(vol: &Volume, paths: &[String], out: &mut impl Write) -> Result<bool> {
    let mut status = Status::default();
    let mut buf = vec![0u8; CHUNK];
    for p in paths {
        if let Err(e) = cat_one(vol, p, &mut buf, out) {
            if is_broken_pipe(&e) {
                return Err(e);
            }
            status.report(&e);
        }
    }
    out.flush().context("cannot write to standard output")?;
    Ok(status.ok())
}
