//! `isomount ls` and `isomount stat`.

use std::io::Write;

use anyhow::{Context, Result, anyhow};
use fs_core::{FileType, Node, NodeId, Volume};

use crate::common::{self, Status, base_name, join, normalize};
use crate::entry::{Entry, long_lines};

/// How to list.
#[derive(Debug, Clone, Copy, Default)]
pub struct LsOptions {
    /// `-l`.
    pub long: bool,
    /// `-R`.
    pub recursive: bool,
    /// `--json`.
    pub json: bool,
}

fn entry(vol: &Volume, path: String, name: String, node: &Node) -> Entry {
    let target = if node.kind() == FileType::Symlink {
        vol.read_link(node.id()).ok()
    } else {
        None
    };
    Entry {
        id: node.id(),
        path,
        name,
        attr: node.attr().clone(),
        target,
    }
}

/// The entries of directory `id` (at `path`), sorted by name.
fn list(vol: &Volume, id: NodeId, path: &str, status: &mut Status) -> Result<Vec<Entry>> {
    let dir = vol
        .read_dir(id)
        .with_context(|| format!("{path}: cannot list"))?;
    for p in dir.problems() {
        status.report(&anyhow!("{path}: an entry could not be read: {p}"));
    }
    let mut out = Vec::with_capacity(dir.len());
    for e in dir.entries() {
        match vol.node(e.id) {
            Ok(node) => out.push(entry(vol, join(path, &e.name), e.name.clone(), &node)),
            Err(err) => status.report(&anyhow::Error::new(err).context(join(path, &e.name))),
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

fn print(entries: &[Entry], opts: LsOptions, out: &mut impl Write) -> Result<()> {
    if opts.json {
        for e in entries {
            writeln!(out, "{}", e.to_json_line())?;
        }
    } else if opts.long {
        for l in long_lines(entries) {
            writeln!(out, "{l}")?;
        }
    } else {
        for e in entries {
            writeln!(out, "{}", e.name)?;
        }
    }
    Ok(())
}

/// Lists `path`: a directory's entries, or the file itself.
pub fn run(vol: &Volume, path: &str, opts: LsOptions, out: &mut impl Write) -> Result<bool> {
    let mut status = Status::default();
    let norm = normalize(path);
    // Like ls: a symlink named on the command line is followed unless -l
    // (a trailing '/' always follows); a dangling one is shown as itself.
    let follow = !opts.long || path.ends_with('/');
    let node = if follow {
        common::resolve(vol, path, true).or_else(|_| common::resolve(vol, path, false))?
    } else {
        common::resolve(vol, path, false)?
    };
    if node.kind() != FileType::Directory {
        let e = entry(vol, norm.clone(), base_name(&norm).to_string(), &node);
        print(&[e], opts, out)?;
        return Ok(true);
    }
    // Depth-first, in name order, without recursion (images can nest deep).
    let mut stack = vec![(node.id(), norm)];
    let mut first = true;
    while let Some((id, dir_path)) = stack.pop() {
        let entries = match list(vol, id, &dir_path, &mut status) {
            Ok(e) => e,
            Err(e) => {
                status.report(&e);
                continue;
            }
        };
        if opts.recursive && !opts.json {
            if !first {
                writeln!(out)?;
            }
            writeln!(out, "{dir_path}:")?;
        }
        first = false;
        print(&entries, opts, out)?;
        if opts.recursive {
            for e in entries.iter().rev() {
                if e.attr.kind == FileType::Directory {
                    stack.push((e.id, e.path.clone()));
                }
            }
        }
    }
    Ok(status.ok())
}

/// `stat`: every attribute of the node at `path` (not following a final symlink).
pub fn stat(vol: &Volume, path: &str, json: bool, out: &mut impl Write) -> Result<()> {
    let node = common::resolve(vol, path, false)?;
    let norm = normalize(path);
    let e = entry(vol, norm.clone(), base_name(&norm).to_string(), &node);
    if json {
        writeln!(out, "{}", e.to_json_line())?;
        return Ok(());
    }
    let a = &e.attr;
    let time = |t: Option<fs_core::Timestamp>| t.map_or_else(|| "-".into(), |t| t.to_rfc3339());
    let kind = match a.kind {
        FileType::Regular => "regular file",
        FileType::Directory => "directory",
        FileType::Symlink => "symbolic link",
        FileType::CharDevice => "character device",
        FileType::BlockDevice => "block device",
        FileType::Fifo => "fifo",
        FileType::Socket => "socket",
    };
    match &e.target {
        Some(t) => writeln!(out, "  File: {} -> {t}", e.path)?,
        None => writeln!(out, "  File: {}", e.path)?,
    }
    writeln!(
        out,
        "  Size: {:<12} Allocated: {:<10} Type: {kind}",
        a.size, a.allocated
    )?;
    if let Some(d) = a.rdev {
        writeln!(out, "Device: {}, {}", d.major, d.minor)?;
    }
    writeln!(
        out,
        "  Mode: ({:04o}/{})  Uid: {}  Gid: {}",
        a.mode & 0o7777,
        crate::entry::mode_string(a),
        a.uid,
        a.gid
    )?;
    writeln!(
        out,
        " Inode: {:<20} Links: {:<6} Hidden: {}",
        a.inode,
        a.nlink,
        if a.hidden { "yes" } else { "no" }
    )?;
    writeln!(out, "Access: {}", time(a.atime))?;
    writeln!(out, "Modify: {}", a.mtime.to_rfc3339())?;
    writeln!(out, "Change: {}", time(a.ctime))?;
    writeln!(out, " Birth: {}", time(a.crtime))?;
    Ok(())
}
