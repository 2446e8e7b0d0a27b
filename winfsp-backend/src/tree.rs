//! The tree Windows sees: case-insensitive lookups over a [`Volume`], and
//! what becomes of symbolic links.
//!
//! Windows has no POSIX symlinks in a WinFsp volume unless the file system
//! implements reparse points; this backend does not. Instead a link is shown
//! as what it points to, inside the image (relative targets from the link's
//! directory, absolute ones from the image's root): a link to a file is that
//! file, a link to a directory that directory. Links that lead nowhere in the
//! image (dangling, too many hops, pointing outside) are left out, and so is
//! a link to a directory that is already on the path to it (the cycle
//! `a\loop -> ..` would otherwise be an endless tree).

use std::sync::Arc;

use fs_core::{Error, FileType, Node, NodeId, Result, Volume};

use crate::names::{self, components};

/// Most symbolic links followed for one link (as Linux's `ELOOP`).
const MAX_HOPS: usize = 40;

/// A node reached by a Windows path.
#[derive(Debug, Clone)]
pub struct Found {
    /// What is shown: the node itself, or the target of a symbolic link.
    pub node: Arc<Node>,
    /// The directories from the root down to and including this one when
    /// it is a directory (to its parent otherwise), as they were walked:
    /// used to refuse links back to an ancestor.
    pub chain: Vec<NodeId>,
    /// Its name as the image spells it ("" for the root).
    pub name: String,
}

impl Found {
    /// True for a directory.
    pub fn is_dir(&self) -> bool {
        self.node.kind() == FileType::Directory
    }

    /// True for the root directory.
    pub fn is_root(&self) -> bool {
        self.chain.len() <= 1 && self.is_dir()
    }
}

/// A volume seen through Windows path rules.
#[derive(Debug, Clone)]
pub struct Tree {
    vol: Arc<Volume>,
}

impl Tree {
    /// Wraps a volume.
    pub fn new(vol: Arc<Volume>) -> Self {
        Tree { vol }
    }

    /// The volume.
    pub fn volume(&self) -> &Volume {
        &self.vol
    }

    /// The root directory.
    pub fn root(&self) -> Result<Found> {
        let node = self.vol.node(self.vol.root())?;
        Ok(Found {
            chain: vec![node.id()],
            node,
            name: String::new(),
        })
    }

    /// Looks a Windows path (`\dir\file`) up from the root, ignoring case.
    ///
    /// Errors: [`Error::NotFound`] when the last component is missing,
    /// [`Error::NotADirectory`] when an earlier one is missing or not a
    /// directory (Windows tells these apart: `STATUS_OBJECT_NAME_NOT_FOUND`
    /// vs `STATUS_OBJECT_PATH_NOT_FOUND`).
    pub fn lookup(&self, path: &str) -> Result<Found> {
        let mut cur = self.root()?;
        let comps: Vec<&str> = components(path).collect();
        for (i, name) in comps.iter().enumerate() {
            let last = i + 1 == comps.len();
            let step = if !cur.is_dir() {
                Err(Error::NotADirectory(path.to_string()))
            } else if *name == ".." {
                self.parent(&cur)
            } else {
                self.child(&cur, name)
            };
            cur = match step {
                Ok(f) => f,
                Err(Error::NotFound(_)) if last => return Err(Error::NotFound(path.to_string())),
                Err(Error::NotFound(_) | Error::NotADirectory(_)) => {
                    return Err(Error::NotADirectory(path.to_string()));
                }
                Err(e) => return Err(e),
            };
        }
        Ok(cur)
    }

    fn parent(&self, cur: &Found) -> Result<Found> {
        let mut chain = cur.chain.clone();
        if chain.len() > 1 {
            chain.pop();
        }
        let id = chain.last().copied().unwrap_or(self.vol.root());
        Ok(Found {
            node: self.vol.node(id)?,
            chain,
            name: String::new(),
        })
    }

    /// The entry `name` of directory `dir`, ignoring case, as shown
    /// (symbolic links followed; see the module docs).
    pub fn child(&self, dir: &Found, name: &str) -> Result<Found> {
        let listing = self.vol.read_dir(dir.node.id())?;
        let entry = listing
            .get_ignore_case(name)
            .ok_or_else(|| Error::NotFound(name.to_string()))?;
        let node = self.vol.node(entry.id)?;
        // Shown with the image's spelling of the name.
        self.show(dir, entry.name.clone(), node)
            .ok_or_else(|| Error::NotFound(name.to_string()))
    }

    /// Everything directory `dir` shows, in listing order
    /// ([`names::cmp_names`]); entries that are left out (see the module
    /// docs) are not there.
    pub fn list(&self, dir: &Found) -> Result<Vec<Found>> {
        let listing = self.vol.read_dir(dir.node.id())?;
        let mut out = Vec::with_capacity(listing.len());
        for e in listing.entries() {
            let Ok(node) = self.vol.node(e.id) else {
                continue;
            };
            if let Some(f) = self.show(dir, e.name.clone(), node) {
                out.push(f);
            }
        }
        names::sort_by_name(&mut out, |f| f.name.as_str());
        Ok(out)
    }

    /// How entry `node` called `name` in `dir` is shown, or None when it is
    /// left out.
    fn show(&self, dir: &Found, name: String, node: Arc<Node>) -> Option<Found> {
        let node = if node.kind() == FileType::Symlink {
            let mut hops = 0;
            self.follow(node, &mut hops)?
        } else {
            node
        };
        let mut chain = dir.chain.clone();
        if node.kind() == FileType::Directory {
            if chain.contains(&node.id()) {
                log::debug!("{name:?}: a link back to a directory above it; left out");
                return None;
            }
            chain.push(node.id());
        }
        Some(Found { node, chain, name })
    }

    /// The node a symbolic link leads to, or None.
    fn follow(&self, link: Arc<Node>, hops: &mut usize) -> Option<Arc<Node>> {
        let mut node = link;
        while node.kind() == FileType::Symlink {
            *hops += 1;
            if *hops > MAX_HOPS {
                return None;
            }
            let target = node.link_target()?;
            let mut cur = if target.starts_with('/') {
                self.vol.node(self.vol.root()).ok()?
            } else {
                self.vol.node(node.parent()).ok()?
            };
            let comps: Vec<&str> = target
                .split('/')
                .filter(|c| !c.is_empty() && *c != ".")
                .collect();
            for (i, c) in comps.iter().enumerate() {
                if cur.kind() != FileType::Directory {
                    return None;
                }
                let next = if *c == ".." {
                    self.vol.node(cur.parent()).ok()?
                } else {
                    self.vol.lookup(cur.id(), c).ok()?
                };
                cur = if next.kind() == FileType::Symlink && i + 1 < comps.len() {
                    self.follow(next, hops)?
                } else {
                    next
                };
            }
            node = cur;
        }
        Some(node)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use fs_core::cache::BlockCache;
    use fs_core::format::{DirContents, Format, NodeInfo, View, VolumeInfo};
    use fs_core::source::{MemSource, ReadAt};
    use fs_core::{Attributes, Extent, FileData, OpenOptions, Timestamp};

    fn attr(kind: FileType, size: u64, id: u64) -> Attributes {
        Attributes {
            kind,
            size,
            allocated: size,
            mode: 0o644,
            nlink: 1,
            uid: 0,
            gid: 0,
            rdev: None,
            mtime: Timestamp {
                secs: 1_704_164_645,
                nanos: 0,
            },
            atime: None,
            ctime: None,
            crtime: None,
            hidden: false,
            inode: id,
        }
    }

    fn file(id: u64, start: u64, len: u64) -> NodeInfo {
        NodeInfo {
            id: NodeId(id),
            attr: attr(FileType::Regular, len, id),
            data: FileData::new([Extent::Recorded { start, len }]),
            link_target: None,
        }
    }

    fn dir(id: u64) -> NodeInfo {
        NodeInfo {
            id: NodeId(id),
            attr: attr(FileType::Directory, 2048, id),
            data: FileData::default(),
            link_target: None,
        }
    }

    fn link(id: u64, target: &str) -> NodeInfo {
        NodeInfo {
            id: NodeId(id),
            attr: attr(FileType::Symlink, target.len() as u64, id),
            data: FileData::default(),
            link_target: Some(target.into()),
        }
    }

    /// / = { Hello.TXT, hello.txt~ "b.bin", Sub/{ Deep.txt, up -> .., top -> /Hello.TXT,
    /// sib -> ../Other }, Other/{ back -> ../Sub, x.txt }, rel -> Sub/Deep.txt,
    /// dangling -> nope, loop1 -> loop2, loop2 -> loop1, dlink -> Sub, via -> dlink/Deep.txt }
    struct Mem;

    impl Format for Mem {
        fn view(&self) -> View {
            View::RockRidge
        }
        fn root(&self) -> Result<NodeInfo> {
            Ok(dir(1))
        }
        fn read_dir(&self, d: &NodeInfo) -> Result<DirContents> {
            let entries: Vec<(&str, NodeInfo)> = match d.id.0 {
                1 => vec![
                    ("Hello.TXT", file(10, 0, 5)),
                    ("b.bin", file(11, 5, 6)),
                    ("Sub", dir(2)),
                    ("Other", dir(3)),
                    ("rel", link(12, "Sub/Deep.txt")),
                    ("dangling", link(13, "nope")),
                    ("loop1", link(14, "loop2")),
                    ("loop2", link(15, "loop1")),
                    ("dlink", link(16, "Sub")),
                    ("via", link(17, "dlink/Deep.txt")),
                ],
                2 => vec![
                    ("Deep.txt", file(20, 0, 11)),
                    ("up", link(21, "..")),
                    ("top", link(22, "/Hello.TXT")),
                    ("sib", link(23, "../Other")),
                ],
                3 => vec![("back", link(30, "../Sub")), ("x.txt", file(31, 0, 1))],
                _ => vec![],
            };
            Ok(DirContents {
                entries: entries
                    .into_iter()
                    .map(|(n, i)| (n.to_string(), i))
                    .collect(),
                problems: Vec::new(),
            })
        }
    }

    pub(crate) fn volume() -> Arc<Volume> {
        let src: Arc<dyn ReadAt> = Arc::new(MemSource::new(b"helloworld!".to_vec()));
        let meta = Arc::new(BlockCache::new(Arc::clone(&src), 4096, 1 << 20));
        let info = VolumeInfo {
            format: "test".into(),
            label: "TESTVOL".into(),
            block_size: 2048,
            volume_blocks: 10,
            ..VolumeInfo::default()
        };
        match Volume::with_format(Box::new(Mem), info, src, meta, &OpenOptions::default()) {
            Ok(v) => Arc::new(v),
            Err(e) => panic!("test volume: {e}"),
        }
    }

    fn names(t: &Tree, f: &Found) -> Vec<String> {
        t.list(f).unwrap().into_iter().map(|f| f.name).collect()
    }

    #[test]
    fn lookup_ignores_case_and_keeps_the_image_spelling() {
        let t = Tree::new(volume());
        let f = t.lookup(r"\hello.txt").unwrap();
        assert_eq!(f.name, "Hello.TXT");
        assert_eq!(f.node.id(), NodeId(10));
        let f = t.lookup(r"\SUB\deep.TXT").unwrap();
        assert_eq!(f.name, "Deep.txt");
        assert_eq!(f.chain, [NodeId(1), NodeId(2)]);
        let f = t.lookup("/sub").unwrap();
        assert!(f.is_dir() && !f.is_root());
        assert!(t.lookup(r"\").unwrap().is_root());
        assert!(t.lookup("").unwrap().is_root());
    }

    #[test]
    fn missing_name_vs_missing_path() {
        let t = Tree::new(volume());
        assert!(matches!(t.lookup(r"\nope"), Err(Error::NotFound(_))));
        assert!(matches!(t.lookup(r"\nope\x"), Err(Error::NotADirectory(_))));
        assert!(matches!(
            t.lookup(r"\Hello.TXT\x"),
            Err(Error::NotADirectory(_))
        ));
        assert!(matches!(t.lookup(r"\Sub\nope"), Err(Error::NotFound(_))));
    }

    #[test]
    fn links_show_their_targets() {
        let t = Tree::new(volume());
        assert_eq!(t.lookup(r"\rel").unwrap().node.id(), NodeId(20));
        assert_eq!(t.lookup(r"\Sub\top").unwrap().node.id(), NodeId(10));
        // A link in the middle of a path, and a link through a link.
        assert_eq!(t.lookup(r"\dlink\deep.txt").unwrap().node.id(), NodeId(20));
        assert_eq!(t.lookup(r"\via").unwrap().node.id(), NodeId(20));
        let sib = t.lookup(r"\Sub\sib").unwrap();
        assert_eq!(sib.chain, [NodeId(1), NodeId(2), NodeId(3)]);
        assert!(sib.is_dir());
    }

    #[test]
    fn dangling_looping_and_cyclic_links_are_left_out() {
        let t = Tree::new(volume());
        for p in [r"\dangling", r"\loop1", r"\loop2", r"\Sub\up"] {
            assert!(matches!(t.lookup(p), Err(Error::NotFound(_))), "{p}");
        }
        // Other\back -> Sub is fine from the root...
        assert!(t.lookup(r"\Other\back").is_ok());
        // ...but not below Sub (Sub\sib is Other, whose back is Sub again).
        assert!(t.lookup(r"\Sub\sib\back").is_err());
        let root = t.root().unwrap();
        assert_eq!(
            names(&t, &root),
            ["b.bin", "dlink", "Hello.TXT", "Other", "rel", "Sub", "via"]
        );
        let sub = t.lookup(r"\sub").unwrap();
        assert_eq!(names(&t, &sub), ["Deep.txt", "sib", "top"]);
        let sib = t.lookup(r"\sub\sib").unwrap();
        assert_eq!(names(&t, &sib), ["x.txt"]);
    }

    #[test]
    fn dot_dot_walks_the_chain() {
        let t = Tree::new(volume());
        assert_eq!(t.lookup(r"\Other\back\..").unwrap().node.id(), NodeId(3));
        assert!(t.lookup(r"\..").unwrap().is_root());
    }
}
