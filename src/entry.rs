//! How one node is shown: the JSON object of `ls --json` / `stat --json`
//! (keys alphabetical, see the contract) and the `ls -l` line.

use std::collections::BTreeMap;

use fs_core::{Attributes, FileType, NodeId, Timestamp};
use serde_json::{Value, json};

/// One node to show: where it is, what it is.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The node.
    pub id: NodeId,
    /// "/"-rooted path in the image.
    pub path: String,
    /// Its name ("/" for the root).
    pub name: String,
    /// Its attributes.
    pub attr: Attributes,
    /// Symlink target.
    pub target: Option<String>,
}

fn secs(t: Option<Timestamp>) -> Value {
    t.map_or(Value::Null, |t| json!(t.secs))
}

impl Entry {
    /// The JSON object, keys in alphabetical order (a `BTreeMap` keeps them so
    /// whatever features serde_json is built with).
    pub fn to_json(&self) -> BTreeMap<&'static str, Value> {
        let a = &self.attr;
        let mut m = BTreeMap::new();
        m.insert("path", json!(self.path));
        m.insert("name", json!(self.name));
        m.insert("type", json!(a.kind.as_str()));
        m.insert("size", json!(a.size));
        m.insert("mode", json!(a.mode & 0o7777));
        m.insert("nlink", json!(a.nlink));
        m.insert("uid", json!(a.uid));
        m.insert("gid", json!(a.gid));
        m.insert("inode", json!(a.inode));
        m.insert("mtime", json!(a.mtime.secs));
        m.insert("mtime_nsec", json!(a.mtime.nanos));
        m.insert("atime", secs(a.atime));
        m.insert("ctime", secs(a.ctime));
        m.insert("crtime", secs(a.crtime));
        m.insert("hidden", json!(a.hidden));
        if a.kind == FileType::Symlink {
            m.insert("target", json!(self.target.as_deref().unwrap_or("")));
        }
        if matches!(a.kind, FileType::CharDevice | FileType::BlockDevice) {
            let d = a.rdev.unwrap_or_default();
            m.insert("rdev", json!({"major": d.major, "minor": d.minor}));
        }
        m
    }

    /// The JSON object on one line.
    pub fn to_json_line(&self) -> String {
        // Serializing string keys and plain values cannot fail.
        serde_json::to_string(&self.to_json()).unwrap_or_default()
    }

    /// The columns of an `ls -l` line before the name, unpadded:
    /// mode, links, uid, gid, size (or "major, minor"), mtime.
    pub fn long_columns(&self) -> [String; 6] {
        let a = &self.attr;
        let size = match (a.kind, a.rdev) {
            (FileType::CharDevice | FileType::BlockDevice, d) => {
                let d = d.unwrap_or_default();
                format!("{}, {}", d.major, d.minor)
            }
            _ => a.size.to_string(),
        };
        [
            mode_string(a),
            a.nlink.to_string(),
            a.uid.to_string(),
            a.gid.to_string(),
            size,
            short_time(a.mtime),
        ]
    }

    /// The name part of an `ls -l` line: name, `-> target` for symlinks,
    /// `[hidden]` for entries the image marks hidden.
    pub fn long_name(&self) -> String {
        let mut s = crate::common::printable(&self.name).into_owned();
        if let Some(t) = &self.target {
            s.push_str(" -> ");
            s.push_str(&crate::common::printable(t));
        }
        if self.attr.hidden {
            s.push_str("  [hidden]");
        }
        s
    }
}

/// Renders `ls -l` lines for `entries` with columns padded like ls does.
pub fn long_lines(entries: &[Entry]) -> Vec<String> {
    let cols: Vec<[String; 6]> = entries.iter().map(Entry::long_columns).collect();
    let mut width = [0usize; 6];
    for c in &cols {
        for (w, s) in width.iter_mut().zip(c) {
            *w = (*w).max(s.chars().count());
        }
    }
    cols.iter()
        .zip(entries)
        .map(|(c, e)| {
            format!(
                "{} {:>w1$} {:>w2$} {:>w3$} {:>w4$} {} {}",
                c[0],
                c[1],
                c[2],
                c[3],
                c[4],
                c[5],
                e.long_name(),
                w1 = width[1],
                w2 = width[2],
                w3 = width[3],
                w4 = width[4],
            )
        })
        .collect()
}

/// `ls`-style mode string, e.g. `drwxr-xr-x`, `-rwsr-xr-x`, `drwxrwxrwt`.
pub fn mode_string(a: &Attributes) -> String {
    let m = a.posix_mode();
    let kind = match a.kind {
        FileType::Regular => '-',
        FileType::Directory => 'd',
        FileType::Symlink => 'l',
        FileType::CharDevice => 'c',
        FileType::BlockDevice => 'b',
        FileType::Fifo => 'p',
        FileType::Socket => 's',
    };
    let bit = |mask: u32, c: char| if m & mask != 0 { c } else { '-' };
    let special = |x: bool, special: bool, on: char, off: char| match (x, special) {
        (true, true) => on,
        (false, true) => off,
        (true, false) => 'x',
        (false, false) => '-',
    };
    [
        kind,
        bit(0o400, 'r'),
        bit(0o200, 'w'),
        special(m & 0o100 != 0, m & 0o4000 != 0, 's', 'S'),
        bit(0o040, 'r'),
        bit(0o020, 'w'),
        special(m & 0o010 != 0, m & 0o2000 != 0, 's', 'S'),
        bit(0o004, 'r'),
        bit(0o002, 'w'),
        special(m & 0o001 != 0, m & 0o1000 != 0, 't', 'T'),
    ]
    .iter()
    .collect()
}

/// `YYYY-MM-DD HH:MM` in UTC (ls `--time-style=long-iso`, but never local time).
pub fn short_time(t: Timestamp) -> String {
    let (y, mo, d, h, mi, _) = t.to_civil();
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use fs_core::DeviceNumber;

    fn attr(kind: FileType, mode: u32) -> Attributes {
        Attributes {
            kind,
            size: 12,
            allocated: 2048,
            mode,
            nlink: 1,
            uid: 1000,
            gid: 100,
            rdev: None,
            mtime: Timestamp {
                secs: 1_577_934_245,
                nanos: 0,
            },
            atime: None,
            ctime: Some(Timestamp { secs: 5, nanos: 0 }),
            crtime: None,
            hidden: false,
            inode: 42,
        }
    }

    #[test]
    fn mode_strings() {
        assert_eq!(mode_string(&attr(FileType::Directory, 0o755)), "drwxr-xr-x");
        assert_eq!(mode_string(&attr(FileType::Regular, 0o4755)), "-rwsr-xr-x");
        assert_eq!(mode_string(&attr(FileType::Regular, 0o6644)), "-rwSr-Sr--");
        assert_eq!(
            mode_string(&attr(FileType::Directory, 0o1777)),
            "drwxrwxrwt"
        );
        assert_eq!(
            mode_string(&attr(FileType::Directory, 0o1776)),
            "drwxrwxrwT"
        );
        assert_eq!(mode_string(&attr(FileType::Symlink, 0o777)), "lrwxrwxrwx");
        assert_eq!(mode_string(&attr(FileType::Fifo, 0o644)), "prw-r--r--");
    }

    #[test]
    fn json_keys_sorted_and_typed() {
        let e = Entry {
            id: NodeId(1),
            path: "/a/l".into(),
            name: "l".into(),
            attr: attr(FileType::Symlink, 0o777),
            target: Some("x".into()),
        };
        let line = e.to_json_line();
        assert_eq!(
            line,
            r#"{"atime":null,"crtime":null,"ctime":5,"gid":100,"hidden":false,"inode":42,"mode":511,"mtime":1577934245,"mtime_nsec":0,"name":"l","nlink":1,"path":"/a/l","size":12,"target":"x","type":"symlink","uid":1000}"#
        );
        let mut a = attr(FileType::CharDevice, 0o600);
        a.rdev = Some(DeviceNumber { major: 1, minor: 3 });
        let e = Entry {
            id: NodeId(1),
            path: "/null".into(),
            name: "null".into(),
            attr: a,
            target: None,
        };
        let v = e.to_json();
        assert_eq!(v["rdev"], json!({"major": 1, "minor": 3}));
        assert!(!v.contains_key("target"));
        assert_eq!(e.long_columns()[4], "1, 3");
    }

    #[test]
    fn long_lines_align() {
        let mut big = attr(FileType::Regular, 0o644);
        big.size = 123_456;
        let e = |name: &str, a: Attributes| Entry {
            id: NodeId(1),
            path: format!("/{name}"),
            name: name.into(),
            attr: a,
            target: None,
        };
        let lines = long_lines(&[e("a", attr(FileType::Regular, 0o644)), e("b", big)]);
        assert_eq!(lines[0], "-rw-r--r-- 1 1000 100     12 2020-01-02 03:04 a");
        assert_eq!(lines[1], "-rw-r--r-- 1 1000 100 123456 2020-01-02 03:04 b");
    }
}
