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
            writeln!(out, "{}", common::printable(&e.name))?;
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
            writeln!(out, "{}:", common::printable(&dir_path))?;
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
        Some(t) => writeln!(
            out,
            "  File: {} -> {}",
            common::printable(&e.path),
            common::printable(t)
        )?,
        None => writeln!(out, "  File: {}", common::printable(&e.path))?,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ls(path: &str, opts: LsOptions) -> String {
        let vol = crate::testvol::volume();
        let mut out = Vec::new();
        let ok = run(&vol, path, opts, &mut out);
        assert!(matches!(ok, Ok(true)), "{ok:?}");
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn plain_long_recursive() {
        let o = LsOptions::default();
        assert_eq!(ls("/", o), "a.txt\nbig\nfifo\nh1\nln\nnull\nro\nsub\n");
        assert_eq!(ls("/sub/", o), "b.txt\nh2\n");
        assert_eq!(ls("/ln", o), "ln\n");
        let long = ls("/", LsOptions { long: true, ..o });
        let lines: Vec<&str> = long.lines().collect();
        assert_eq!(
            lines[0],
            "-rwsr-xr-x 1 1000 1000       5 2020-01-02 03:04 a.txt"
        );
        assert!(lines[4].ends_with(" ln -> a.txt"), "{}", lines[4]);
        assert!(
            lines[5].starts_with("crw------- 1 1000 1000    1, 3 "),
            "{}",
            lines[5]
        );
        let rec = ls(
            "/",
            LsOptions {
                recursive: true,
                ..o
            },
        );
        assert!(rec.starts_with("/:\na.txt\n"), "{rec}");
        assert!(
            rec.contains("\n\n/ro:\nc.txt\n\n/sub:\nb.txt\nh2\n"),
            "{rec}"
        );
    }

    #[test]
    fn json_lines_recursive() {
        let out = ls(
            "/",
            LsOptions {
                json: true,
                recursive: true,
                ..LsOptions::default()
            },
        );
        let rows: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_default())
            .collect();
        assert_eq!(rows.len(), 11);
        let find = |p: &str| {
            rows.iter()
                .find(|r| r["path"] == p)
                .cloned()
                .unwrap_or_default()
        };
        assert_eq!(find("/sub/h2")["inode"], find("/h1")["inode"]);
        assert_eq!(find("/ln")["target"], "a.txt");
        assert_eq!(find("/a.txt")["mode"], 0o4755);
        assert_eq!(find("/ro/c.txt")["size"], 6);
    }

    #[test]
    fn stat_json_and_missing() {
        let vol = crate::testvol::volume();
        let mut out = Vec::new();
        assert!(stat(&vol, "/ln", true, &mut out).is_ok());
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap_or_default();
        assert_eq!(v["type"], "symlink");
        assert_eq!(v["name"], "ln");
        let err = stat(&vol, "/nope/x", false, &mut Vec::new());
        let msg = format!("{:#}", err.err().map(|e| e.to_string()).unwrap_or_default());
        assert!(msg.contains("not found"), "{msg}");
    }
}
