//! The walk of a whole tree through the library (`fs_core::Volume`) into
//! the `ref.jsonl` shape.

use std::collections::{BTreeMap, HashSet};

use fs_core::{FileType, Node, NodeId, Volume};
use serde_json::Value;

use super::{Listing, entry, sha256_hex};

/// Reads a whole file through the library, in 1 MiB requests, and checks
/// that a read at the end gives 0 bytes.
pub fn read_all(vol: &Volume, id: NodeId, size: u64) -> Vec<u8> {
    let mut out = vec![0u8; size as usize];
    let mut done = 0;
    while done < out.len() {
        let end = (done + (1 << 20)).min(out.len());
        let n = vol
            .read(id, done as u64, &mut out[done..end])
            .expect("read");
        assert!(n > 0, "short read at {done} of {size}");
        done += n;
    }
    assert_eq!(vol.read(id, size, &mut [0u8; 16]).expect("read at EOF"), 0);
    out
}

/// Walks the whole tree through the library into the `ref.jsonl` shape.
/// Every directory must list without problems; lookup by name and resolve
/// by path must find the same node as the listing; no path twice.
pub fn volume_listing(vol: &Volume) -> Listing {
    let mut out = Listing::new();
    let mut stack = vec![(vol.root(), String::new())];
    while let Some((dir, prefix)) = stack.pop() {
        let listing = vol.read_dir(dir).expect("read_dir");
        assert!(
            listing.problems().is_empty(),
            "problems in {prefix:?}: {:?}",
            listing.problems()
        );
        for e in listing.entries() {
            let node = vol.node(e.id).expect("node");
            let a = node.attr();
            let path = format!("{prefix}{}", e.name);
            let sha =
                (a.kind == FileType::Regular).then(|| sha256_hex(&read_all(vol, e.id, a.size)));
            let row = node_row(&node, sha);
            assert_eq!(vol.lookup(dir, &e.name).expect("lookup").id(), e.id);
            assert_eq!(vol.resolve(&path, false).expect("resolve").id(), e.id);
            if a.kind == FileType::Directory {
                stack.push((e.id, format!("{path}/")));
            }
            assert!(
                out.insert(path.clone(), row).is_none(),
                "{path} listed twice"
            );
        }
    }
    out
}

/// One node's row in the `ref.jsonl` shape; `sha256` is the digest of a
/// regular file's content.
pub fn node_row(node: &Node, sha256: Option<String>) -> BTreeMap<String, Value> {
    let a = node.attr();
    let rdev = a
        .rdev
        .filter(|_| matches!(a.kind, FileType::CharDevice | FileType::BlockDevice))
        .map(|d| (d.major, d.minor));
    entry(
        a.kind.as_str(),
        a.size,
        sha256,
        node.link_target().map(str::to_owned),
        a.mode,
        a.mtime.secs,
        a.uid,
        a.gid,
        rdev,
        a.inode,
    )
}

/// What a walk that goes on past errors saw.
#[derive(Debug, Default)]
pub struct Lenient {
    /// Every path listed: `dir`, `symlink TARGET`, `file SHA256` (for a
    /// regular file that read in full) or `other`. A file that failed to
    /// read is left out.
    pub entries: BTreeMap<String, String>,
    /// Every error met (listing, listing problems, node, read), with its path.
    pub errors: Vec<String>,
}

impl Lenient {
    /// True when some error mentions every one of `words` (lower case).
    pub fn mentions(&self, words: &[&str]) -> bool {
        self.errors.iter().any(|e| {
            let l = e.to_lowercase();
            words.iter().all(|w| l.contains(w))
        })
    }

    /// Regular files that read in full: path -> SHA-256.
    pub fn files(&self) -> BTreeMap<&str, &str> {
        self.entries
            .iter()
            .filter_map(|(p, w)| Some((p.as_str(), w.strip_prefix("file ")?)))
            .collect()
    }
}

/// Walks the whole tree and reads every regular file (at most 64 MiB of
/// each), recording every error instead of stopping at it. A directory met
/// a second time is recorded as an error ("listed twice") and not listed
/// again; deeper than `max_depth` levels fails the test (a cycle followed).
pub fn walk_lenient(vol: &Volume, max_depth: usize) -> Lenient {
    let mut out = Lenient::default();
    let mut stack = vec![(vol.root(), String::new(), 0usize)];
    let mut seen = HashSet::new();
    while let Some((dir, prefix, depth)) = stack.pop() {
        assert!(
            depth < max_depth,
            "directory depth {depth}: a cycle was followed"
        );
        if !seen.insert(dir) {
            out.errors
                .push(format!("{prefix}: directory listed twice (cycle)"));
            continue;
        }
        let list = match vol.read_dir(dir) {
            Ok(l) => l,
            Err(e) => {
                out.errors.push(format!("{prefix}: {e}"));
                continue;
            }
        };
        out.errors
            .extend(list.problems().iter().map(|e| format!("{prefix}: {e}")));
        for e in list.entries() {
            let path = format!("{prefix}{}", e.name);
            let node = match vol.node(e.id) {
                Ok(n) => n,
                Err(err) => {
                    out.errors.push(format!("{path}: {err}"));
                    continue;
                }
            };
            let what = match e.kind {
                FileType::Directory => {
                    stack.push((e.id, format!("{path}/"), depth + 1));
                    "dir".to_string()
                }
                FileType::Symlink => format!("symlink {}", node.link_target().unwrap_or("")),
                FileType::Regular => {
                    let size = node.attr().size.min(64 << 20) as usize;
                    let mut buf = vec![0u8; size];
                    let mut done = 0;
                    let mut failed = None;
                    while done < size {
                        match vol.read(e.id, done as u64, &mut buf[done..]) {
                            Ok(0) => break,
                            Ok(n) => done += n,
                            Err(err) => {
                                failed = Some(err);
                                break;
                            }
                        }
                    }
                    if let Some(err) = failed {
                        out.errors.push(format!("{path}: {err}"));
                        continue;
                    }
                    format!("file {}", sha256_hex(&buf[..done]))
                }
                _ => "other".to_string(),
            };
            out.entries.insert(path, what);
        }
    }
    out
}
