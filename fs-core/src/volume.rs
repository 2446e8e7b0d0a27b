//! The one read-only API that backends and the CLI see.
//!
//! A [`Volume`] owns a format reader (picked by [`Volume::open`]), lists
//! directories lazily on first use, indexes each listing by name for O(1)
//! lookup, remembers every node it has handed out by its stable [`NodeId`],
//! and serves file content straight from the node's extent list.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::RwLock;

use crate::cache::{BlockCache, CacheStats, DEFAULT_BLOCK_SIZE, DEFAULT_CAPACITY};
use crate::container::{ContainerInfo, Neighbours};
use crate::error::{Error, Result};
use crate::format::{Format, NodeInfo, View, VolumeInfo};
use crate::node::{Attributes, Extent, FileData, FileType, NodeId};
use crate::overlay::{Overlay, OverlayFormat};
use crate::source::{FileSource, ReadAt};
use crate::views::ViewReport;

/// Most symbolic links followed while resolving one path (as Linux's `ELOOP`).
const MAX_SYMLINK_HOPS: usize = 40;

/// How to open an image.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// Force a view instead of the richest one the image offers.
    pub view: Option<View>,
    /// Bytes of metadata cache (the block cache in front of the source).
    pub cache_bytes: u64,
    /// The image's file name, when it came from a file: containers use it to
    /// find sidecar files (a `.cue` sheet next to a `.bin`, an `.mds`
    /// next to an `.mdf`). [`Volume::open_path`] sets it.
    pub image_path: Option<PathBuf>,
    /// Where the files next to an image that is not a local file are (one
    /// read from a URL); wins over `image_path`.
    pub neighbours: Option<Arc<dyn Neighbours>>,
    /// Which session of a multisession disc to open (1-based); the last one
    /// when `None`.
    pub session: Option<u32>,
    /// Show El Torito boot images as files in a virtual `[BOOT]` directory.
    pub boot_dir: bool,
    /// Serve file content through the block cache too. Worth it for slow or
    /// remote sources; for a local file the kernel page cache is faster, so
    /// the default is off. Measured with `examples/data_path.rs` (2 cores,
    /// 128 KiB requests, image warm in the page cache): a 400 MiB file plus
    /// 3,000 small files read 2.8x faster straight from the file (10.3 GB/s
    /// vs 3.7 GB/s); the first read of 3,000 small files 3.0x faster. Only
    /// repeat reads of small files that fit the cache were faster cached
    /// (1.8x), and under a mount the kernel's page cache (`FOPEN_KEEP_CACHE`)
    /// serves those before they reach us.
    pub cache_file_data: bool,
    /// Local files and directories shown in the view, and entries hidden
    /// from it (see [`crate::overlay`]); checked when the image is opened.
    pub overlay: Overlay,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            view: None,
            cache_bytes: DEFAULT_CAPACITY,
            image_path: None,
            neighbours: None,
            session: None,
            boot_dir: true,
            cache_file_data: false,
            overlay: Overlay::default(),
        }
    }
}

/// A node the volume has seen: what the reader said, plus its place in the tree.
#[derive(Debug)]
pub struct Node {
    info: NodeInfo,
    parent: NodeId,
    dir: OnceLock<Arc<Directory>>,
    /// Asked for since the last eviction sweep (a second chance, "clock").
    used: AtomicBool,
}

impl Node {
    /// Its id.
    pub fn id(&self) -> NodeId {
        self.info.id
    }

    /// The directory that holds it (the root is its own parent).
    pub fn parent(&self) -> NodeId {
        self.parent
    }

    /// Its attributes.
    pub fn attr(&self) -> &Attributes {
        &self.info.attr
    }

    /// Its type.
    pub fn kind(&self) -> FileType {
        self.info.attr.kind
    }

    /// Where its content lies.
    pub fn data(&self) -> &FileData {
        &self.info.data
    }

    /// Target of a symbolic link.
    pub fn link_target(&self) -> Option<&str> {
        self.info.link_target.as_deref()
    }
}

/// A name not yet in `taken`: duplicates (e.g. two versions of one ISO 9660
/// file) get a `~N` suffix so that both stay reachable.
fn unique_name(taken: &HashSet<String>, name: String) -> String {
    if !taken.contains(&name) {
        return name;
    }
    let mut n = 2;
    loop {
        let candidate = format!("{name}~{n}");
        if !taken.contains(&candidate) {
            log::warn!("duplicate name {name:?} shown as {candidate:?}");
            return candidate;
        }
        n += 1;
    }
}

/// One entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// Name, unique within the directory, never empty, ".", ".." and never
    /// containing '/' or NUL.
    pub name: String,
    /// The node it names.
    pub id: NodeId,
    /// The node's type.
    pub kind: FileType,
}

/// A listed directory, indexed by name.
///
/// The index is the entries' positions sorted by name (4 bytes an entry,
/// binary-searched), not a map holding a second copy of every name: a walk
/// of 100,000 files keeps every listing, so bytes per entry count.
#[derive(Debug, Default)]
pub struct Directory {
    entries: Vec<DirEntry>,
    by_name: Vec<u32>,
    folded: OnceLock<HashMap<String, usize>>,
    problems: Vec<Error>,
}

/// The name of entry `i` of a name index (every index in it is an entry's).
fn name_at(entries: &[DirEntry], i: u32) -> &str {
    entries.get(i as usize).map_or("", |e| e.name.as_str())
}

impl Directory {
    /// Entries in on-disk order.
    pub fn entries(&self) -> &[DirEntry] {
        &self.entries
    }

    /// The entry called `name` (exact match).
    pub fn get(&self, name: &str) -> Option<&DirEntry> {
        let at = self
            .by_name
            .binary_search_by(|&i| name_at(&self.entries, i).cmp(name))
            .ok()?;
        self.entries.get(*self.by_name.get(at)? as usize)
    }

    /// Sorts the name index once all entries are in (their count was
    /// checked to fit a `u32`).
    fn index(&mut self) {
        let entries = &self.entries;
        let mut by_name: Vec<u32> = (0..entries.len() as u32).collect();
        by_name.sort_unstable_by(|&a, &b| name_at(entries, a).cmp(name_at(entries, b)));
        self.by_name = by_name;
    }

    /// The entry called `name`, ignoring case (Unicode simple lowercase), as
    /// Windows looks names up. An exact match wins over a folded one.
    pub fn get_ignore_case(&self, name: &str) -> Option<&DirEntry> {
        if let Some(e) = self.get(name) {
            return Some(e);
        }
        let folded = self.folded.get_or_init(|| {
            let mut m = HashMap::with_capacity(self.entries.len());
            for (i, e) in self.entries.iter().enumerate() {
                m.entry(e.name.to_lowercase()).or_insert(i);
            }
            m
        });
        folded
            .get(&name.to_lowercase())
            .and_then(|&i| self.entries.get(i))
    }

    /// Entries of this directory that could not be read (left out of the listing).
    pub fn problems(&self) -> &[Error] {
        &self.problems
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the directory has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// An opened image: one tree, read-only.
pub struct Volume {
    format: Box<dyn Format>,
    info: VolumeInfo,
    meta: Arc<BlockCache<Arc<dyn ReadAt>>>,
    data: Arc<dyn ReadAt>,
    root: NodeId,
    /// Nodes in memory: bounded by `node_budget`, least recently used
    /// ones dropped and read again from the image when asked for.
    nodes: RwLock<HashMap<NodeId, Arc<Node>>>,
    /// The parent of every node listed so far (8 + 8 bytes each, kept for
    /// good): how an evicted node is found again, and how a directory met
    /// in a second place (a loop) is recognised even after eviction.
    parents: RwLock<HashMap<NodeId, NodeId>>,
    /// Most nodes kept in `nodes` (see [`node_budget`]).
    node_budget: usize,
    container: ContainerInfo,
}

/// Bytes of `--cache-size` that buy room for one node in memory: a node
/// with its name and extents takes about 300 bytes, so the node table stays
/// near the size of the block cache. Never fewer than [`MIN_NODES`].
const BYTES_PER_NODE: u64 = 512;

/// Fewest nodes kept, however small the cache: enough for the directories
/// a walk is in and the entries of a large directory being listed.
const MIN_NODES: usize = 4096;

/// How many nodes a volume keeps for a block cache of `cache_bytes`.
///
/// Public for the workspace's tests that check the bound; not part of the
/// supported API.
pub fn node_budget(cache_bytes: u64) -> usize {
    usize::try_from(cache_bytes / BYTES_PER_NODE)
        .unwrap_or(usize::MAX)
        .max(MIN_NODES)
}

impl std::fmt::Debug for Volume {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Volume")
            .field("info", &self.info)
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

impl Volume {
    /// Opens the image file at `path`.
    pub fn open_path(path: impl AsRef<Path>, opts: &OpenOptions) -> Result<Volume> {
        let path = path.as_ref();
        let src = FileSource::open(path).map_err(|e| Error::io(0, 0, e))?;
        let opts = OpenOptions {
            image_path: Some(path.to_path_buf()),
            ..opts.clone()
        };
        Volume::open(Arc::new(src), &opts)
    }

    /// Opens an image from any source, picking the richest view it offers
    /// (or the one `opts.view` forces).
    pub fn open(source: Arc<dyn ReadAt>, opts: &OpenOptions) -> Result<Volume> {
        let image_size = source.len();
        let hood = crate::container::neighbours_of(&opts.neighbours, opts.image_path.as_deref());
        let (source, container) = crate::container::open(source, hood.as_deref())?;
        let meta = Arc::new(BlockCache::new(
            Arc::clone(&source),
            DEFAULT_BLOCK_SIZE,
            opts.cache_bytes,
        ));
        let meta_src: Arc<dyn ReadAt> = meta.clone();
        let iso = crate::iso9660::IsoOptions {
            session: opts.session,
            boot_dir: opts.boot_dir,
        };
        let (format, info) = crate::views::open_format(meta_src, opts.view, &iso)?;
        let mut vol = Volume::with_format(format, info, source, meta, opts)?;
        vol.info.image_size = image_size;
        vol.container = container;
        if vol.view() != View::Udf && vol.info.views.contains(&View::Udf) {
            // A forced ISO 9660 view of a bridge disc: say where it misleads.
            for (what, note) in vol.view_report().notes {
                log::warn!("--view {}: {what}: {note}", vol.view());
            }
        }
        Ok(vol)
    }

    /// Every view of the image with its root entry count and, on a UDF
    /// bridge image, where the UDF and ISO 9660 trees disagree (a stub ISO
    /// 9660 side, files whose sizes differ). Reads the other views' root
    /// directories and walks both trees (bounded), so it is meant for `info`,
    /// not for every open.
    pub fn view_report(&self) -> ViewReport {
        let src: Arc<dyn ReadAt> = self.meta.clone();
        crate::views::report(&src, &self.info.views, self.view())
    }

    /// Builds a volume over a format reader that the caller opened itself
    /// (a reader of another crate, or a test's). `meta` is the cache the
    /// reader reads through; `source` is the raw image. A non-empty
    /// `opts.overlay` is put over the reader here.
    pub fn with_format(
        mut format: Box<dyn Format>,
        mut info: VolumeInfo,
        source: Arc<dyn ReadAt>,
        meta: Arc<BlockCache<Arc<dyn ReadAt>>>,
        opts: &OpenOptions,
    ) -> Result<Volume> {
        info.image_size = source.len();
        let data: Arc<dyn ReadAt> = if opts.cache_file_data {
            meta.clone()
        } else {
            source
        };
        if !opts.overlay.is_empty() {
            format = Box::new(OverlayFormat::new(format, &opts.overlay)?);
        }
        let root_info = format.root()?;
        if root_info.attr.kind != FileType::Directory {
            return Err(Error::NotRecognized("the root is not a directory".into()));
        }
        let root = root_info.id;
        let root_node = Arc::new(Node {
            info: root_info,
            parent: root,
            dir: OnceLock::new(),
            used: AtomicBool::new(true),
        });
        let nodes = RwLock::new(HashMap::from([(root, root_node)]));
        Ok(Volume {
            format,
            info,
            meta,
            data,
            root,
            nodes,
            parents: RwLock::new(HashMap::new()),
            node_budget: node_budget(opts.cache_bytes),
            container: ContainerInfo {
                kind: "plain".into(),
                details: Vec::new(),
            },
        })
    }

    /// Facts about the image, for `info`.
    pub fn info(&self) -> &VolumeInfo {
        &self.info
    }

    /// The container the image came in (plain, BIN/CUE, NRG, CSO, ...).
    pub fn container(&self) -> &ContainerInfo {
        &self.container
    }

    /// The view in use.
    pub fn view(&self) -> View {
        self.format.view()
    }

    /// The El Torito boot images (catalog order), with the names and sizes
    /// the `[BOOT]` directory uses; empty when the image is not bootable.
    pub fn boot_images(&self) -> Vec<crate::iso9660::el_torito::BootImage> {
        self.format.boot_images()
    }

    /// Counters of the metadata cache.
    pub fn cache_stats(&self) -> CacheStats {
        self.meta.stats()
    }

    /// The root directory's id.
    pub fn root(&self) -> NodeId {
        self.root
    }

    /// A node this volume has handed out (by listing its parent).
    ///
    /// Nodes are kept in memory up to a budget that follows the cache size
    /// ([`node_budget`]); one dropped since is read again from the image
    /// (its parent directory is listed again).
    pub fn node(&self, id: NodeId) -> Result<Arc<Node>> {
        if let Some(n) = self.nodes.read().get(&id) {
            n.used.store(true, Ordering::Relaxed);
            return Ok(Arc::clone(n));
        }
        // Another thread's eviction may strike between the re-listing and
        // the look-up that follows it: try again, a bounded number of times.
        let mut tries = 0;
        loop {
            match self.reload(id) {
                Err(Error::NotFound(_)) if tries < 3 && self.parents.read().contains_key(&id) => {
                    tries += 1
                }
                r => return r,
            }
        }
    }

    /// Brings node `id` back into memory: lists again the nearest ancestor
    /// still there, then each evicted directory down to `id`'s parent.
    /// Iterative, so a deep tree cannot exhaust the stack.
    fn reload(&self, id: NodeId) -> Result<Arc<Node>> {
        let not_found = || Error::NotFound(format!("node {id}"));
        // `id` and its evicted ancestors, nearest first.
        let mut chain = vec![id];
        let mut top = {
            let parents = self.parents.read();
            let nodes = self.nodes.read();
            let mut cur = id;
            loop {
                let parent = *parents.get(&cur).ok_or_else(not_found)?;
                if let Some(n) = nodes.get(&parent) {
                    break Arc::clone(n);
                }
                // Parents are recorded from a walk down from the root, so
                // they form a tree; this bound only guards that belief.
                if chain.len() > parents.len() {
                    return Err(not_found());
                }
                chain.push(parent);
                cur = parent;
            }
        };
        while let Some(next) = chain.pop() {
            self.fill(&top)?;
            let n = self
                .nodes
                .read()
                .get(&next)
                .cloned()
                .ok_or_else(not_found)?;
            n.used.store(true, Ordering::Relaxed);
            top = n;
        }
        Ok(top)
    }

    /// Drops nodes from memory down to three quarters of the budget: those
    /// not asked for since the last sweep and held by nobody else; the
    /// others lose their mark and go at a later sweep (second chance). The
    /// entries of `dir`, the directory just listed, all stay: a directory
    /// larger than the budget, read in order, would otherwise lose the
    /// entries not read yet at every listing and be listed again for each
    /// (seen: `tar` of a 20,000-entry directory with a 16,384-node budget).
    fn evict(&self, nodes: &mut HashMap<NodeId, Arc<Node>>, dir: NodeId) {
        let mut excess = nodes.len().saturating_sub(self.node_budget / 4 * 3);
        nodes.retain(|&id, n| {
            if excess == 0 || id == self.root || n.parent == dir || Arc::strong_count(n) > 1 {
                return true;
            }
            if n.used.swap(false, Ordering::Relaxed) {
                return true;
            }
            excess -= 1;
            false
        });
    }

    /// Nodes in memory now (for tests and statistics; not part of the
    /// supported API).
    pub fn nodes_in_memory(&self) -> usize {
        self.nodes.read().len()
    }

    /// Attributes of a node.
    pub fn attr(&self, id: NodeId) -> Result<Attributes> {
        Ok(self.node(id)?.info.attr.clone())
    }

    /// Lists a directory (parsed on first use, then kept).
    pub fn read_dir(&self, id: NodeId) -> Result<Arc<Directory>> {
        let node = self.node(id)?;
        self.listing(&node)
    }

    fn listing(&self, node: &Node) -> Result<Arc<Directory>> {
        if node.info.attr.kind != FileType::Directory {
            return Err(Error::NotADirectory(format!("node {}", node.id())));
        }
        if let Some(d) = node.dir.get() {
            return Ok(Arc::clone(d));
        }
        self.fill(node)
    }

    /// Reads directory `node` from the image: its listing (kept with the
    /// node) and a node for every entry not in memory. Read again after
    /// eviction, the listing stands and only the nodes come back: no names,
    /// index or problem reports are made a second time.
    /// Where the records of directory `node` start, for errors about them:
    /// the first sector of its data (sector 0 for a directory without any).
    fn dir_location(&self, node: &Node) -> crate::error::Location {
        let bs = u64::from(self.info.block_size.max(1));
        let sector = match node.data().extents().first() {
            Some(crate::node::Extent::Recorded { start, .. }) => start / bs,
            _ => 0,
        };
        crate::error::Location::sector(sector)
    }

    fn fill(&self, node: &Node) -> Result<Arc<Directory>> {
        let listed = node.dir.get().cloned();
        let contents = self.format.read_dir(&node.info)?;
        if listed.is_some() {
            log::debug!(
                "directory {} read again for evicted entries ({} entries)",
                node.id(),
                contents.entries.len()
            );
        }
        if u32::try_from(contents.entries.len()).is_err() {
            return Err(Error::corrupt(
                "directory",
                self.dir_location(node),
                format!("directory {} lists 2^32 entries or more", node.id()),
            ));
        }
        let mut dir = Directory {
            problems: contents.problems,
            ..Directory::default()
        };
        if listed.is_none() {
            for p in &dir.problems {
                log::warn!("{p}");
            }
        }
        // Names taken so far, for `unique_name`; dropped once the listing is built.
        let first = listed.is_none();
        let mut taken: HashSet<String> =
            HashSet::with_capacity(if first { contents.entries.len() } else { 0 });
        let mut parents = self.parents.write();
        let mut nodes = self.nodes.write();
        for (raw, mut info) in contents.entries {
            let name = first.then(|| unique_name(&taken, sanitize_name(raw)));
            let id = info.id;
            let kind = info.attr.kind;
            // A directory has one parent (files may sit in several: hard
            // links). A second one is a loop or an alias made by a corrupt
            // or hostile image. Parents are kept for good, so this holds
            // after eviction too.
            let alias = id == self.root
                || match parents.entry(id) {
                    Entry::Vacant(v) => {
                        v.insert(node.id());
                        false
                    }
                    Entry::Occupied(o) => kind == FileType::Directory && *o.get() != node.id(),
                };
            if alias {
                if let Some(name) = name {
                    let e = Error::corrupt(
                        "directory record",
                        self.dir_location(node),
                        format!(
                            "entry {name:?} in directory {} points at directory {id} \
                             which already sits elsewhere in the tree (a loop); left out",
                            node.id()
                        ),
                    );
                    log::warn!("{e}");
                    dir.problems.push(e);
                }
                continue;
            }
            if let Entry::Vacant(v) = nodes.entry(id) {
                info.data.shrink_to_fit();
                v.insert(Arc::new(Node {
                    info,
                    parent: node.id(),
                    dir: OnceLock::new(),
                    used: AtomicBool::new(true),
                }));
            }
            if let Some(mut name) = name {
                taken.insert(name.clone());
                name.shrink_to_fit();
                dir.entries.push(DirEntry { name, id, kind });
            }
        }
        if nodes.len() > self.node_budget {
            self.evict(&mut nodes, node.id());
        }
        drop(parents);
        drop(nodes);
        if let Some(listed) = listed {
            return Ok(listed);
        }
        drop(taken);
        dir.entries.shrink_to_fit();
        dir.index();
        let dir = Arc::new(dir);
        // If another thread won the race, its listing is identical; keep one.
        let _ = node.dir.set(Arc::clone(&dir));
        Ok(Arc::clone(node.dir.get().unwrap_or(&dir)))
    }

    /// Looks `name` up in directory `dir`. "." and ".." are understood.
    pub fn lookup(&self, dir: NodeId, name: &str) -> Result<Arc<Node>> {
        let node = self.node(dir)?;
        match name {
            "" | "." => return Ok(node),
            ".." => return self.node(node.parent),
            _ => {}
        }
        let listing = self.listing(&node)?;
        let entry = listing
            .get(name)
            .ok_or_else(|| Error::NotFound(name.to_string()))?;
        self.node(entry.id)
    }

    /// Like [`Volume::lookup`], ignoring case (for Windows).
    pub fn lookup_ignore_case(&self, dir: NodeId, name: &str) -> Result<Arc<Node>> {
        let node = self.node(dir)?;
        match name {
            "" | "." => return Ok(node),
            ".." => return self.node(node.parent),
            _ => {}
        }
        let listing = self.listing(&node)?;
        let entry = listing
            .get_ignore_case(name)
            .ok_or_else(|| Error::NotFound(name.to_string()))?;
        self.node(entry.id)
    }

    /// Target of a symbolic link.
    pub fn read_link(&self, id: NodeId) -> Result<String> {
        let node = self.node(id)?;
        node.info
            .link_target
            .clone()
            .ok_or_else(|| Error::NotASymlink(format!("node {id}")))
    }

    /// Resolves a '/'-separated path from the root. Symbolic links in the
    /// middle of the path are followed (absolute targets from the image's
    /// root); the last component is followed only when `follow` is true.
    pub fn resolve(&self, path: &str, follow: bool) -> Result<Arc<Node>> {
        let mut hops = 0usize;
        let mut pending: Vec<String> = components(path).rev().map(str::to_owned).collect();
        let mut cur = self.node(self.root)?;
        while let Some(comp) = pending.pop() {
            if cur.kind() != FileType::Directory {
                return Err(Error::NotADirectory(path.to_string()));
            }
            let next = self.lookup(cur.id(), &comp).map_err(|e| match e {
                Error::NotFound(_) => Error::NotFound(path.to_string()),
                e => e,
            })?;
            let last = pending.is_empty();
            if next.kind() == FileType::Symlink && (!last || follow) {
                hops += 1;
                if hops > MAX_SYMLINK_HOPS {
                    return Err(Error::SymlinkLoop(path.to_string()));
                }
                let target = next.link_target().unwrap_or("");
                if target.starts_with('/') {
                    cur = self.node(self.root)?;
                }
                pending.extend(components(target).rev().map(str::to_owned));
                continue;
            }
            cur = next;
        }
        Ok(cur)
    }

    /// Reads up to `buf.len()` bytes of a file's content at `offset`.
    /// Returns the number of bytes read: fewer only at the end of the file.
    pub fn read(&self, id: NodeId, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let node = self.node(id)?;
        self.read_node(&node, offset, buf)
    }

    /// [`Volume::read`] for a node already in hand.
    pub fn read_node(&self, node: &Node, offset: u64, buf: &mut [u8]) -> Result<usize> {
        match node.kind() {
            FileType::Directory => return Err(Error::IsADirectory(format!("node {}", node.id()))),
            FileType::Regular => {}
            _ => return Ok(0),
        }
        if let Some(decoder) = node.info.data.decoder() {
            let len = node.info.data.len();
            let want = len.saturating_sub(offset).min(buf.len() as u64) as usize;
            let mut done = 0;
            while done < want {
                let at = offset + done as u64;
                let Some(out) = buf.get_mut(done..want) else {
                    break;
                };
                let n = decoder.read_at(&*self.meta, at, out)?;
                if n == 0 {
                    break;
                }
                done += n;
            }
            return Ok(done);
        }
        let mut done = 0usize;
        for (extent, within, n) in node.info.data.map(offset, buf.len() as u64) {
            let n = n as usize;
            // `map` clips to the buffer's length: the piece always fits.
            let Some(out) = buf.get_mut(done..done + n) else {
                break;
            };
            match extent {
                Extent::Zero { .. } => out.fill(0),
                Extent::Recorded { start, len } => {
                    let at = start.saturating_add(within);
                    if at.saturating_add(n as u64) > self.data.len() {
                        return Err(Error::Truncated {
                            structure: "file extent",
                            at: crate::error::Location::sector(start / 2048),
                            image_len: self.data.len(),
                        });
                    }
                    // The extent's end bounds a remote source's read-ahead.
                    self.data
                        .read_exact_at_until(at, out, start.saturating_add(len))
                        .map_err(|e| Error::io(at, n, e))?;
                }
            }
            done += n;
        }
        Ok(done)
    }
}

/// The non-empty, non-"." components of a '/'-separated path.
fn components(path: &str) -> impl DoubleEndedIterator<Item = &str> {
    path.split('/').filter(|c| !c.is_empty() && *c != ".")
}

/// Makes a name from the image safe to show as one path component: never
/// empty, ".", "..", and never holding '/' or NUL (a hostile image could
/// otherwise make `extract` write outside its target).
fn sanitize_name(name: String) -> String {
    let name = if name.contains(['/', '\0']) {
        name.replace(['/', '\0'], "_")
    } else {
        name
    };
    match name.as_str() {
        "" => "_".into(),
        "." => "_.".into(),
        ".." => "_..".into(),
        _ => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::DirContents;

    #[test]
    fn sanitizes_dangerous_names() {
        assert_eq!(sanitize_name("../etc".into()), ".._etc");
        assert_eq!(sanitize_name("..".into()), "_..");
        assert_eq!(sanitize_name("".into()), "_");
        assert_eq!(sanitize_name("a\0b".into()), "a_b");
        assert_eq!(sanitize_name("ok.txt".into()), "ok.txt");
    }

    /// An in-memory format: the root is node 1, and a directory's entries
    /// are what `list` gives for its id.
    struct Mem<F>(F);

    type Entries = Vec<(String, NodeInfo)>;

    fn info(id: u64, kind: FileType) -> NodeInfo {
        NodeInfo {
            id: NodeId(id),
            attr: Attributes {
                kind,
                size: 0,
                allocated: 0,
                mode: 0o644,
                nlink: 1,
                uid: 0,
                gid: 0,
                rdev: None,
                mtime: crate::Timestamp::EPOCH,
                atime: None,
                ctime: None,
                crtime: None,
                hidden: false,
                inode: id,
            },
            data: FileData::default(),
            link_target: None,
        }
    }

    impl<F: Fn(u64) -> Entries + Send + Sync> Format for Mem<F> {
        fn view(&self) -> View {
            View::Iso9660
        }
        fn root(&self) -> Result<NodeInfo> {
            Ok(info(1, FileType::Directory))
        }
        fn read_dir(&self, dir: &NodeInfo) -> Result<DirContents> {
            Ok(DirContents {
                entries: (self.0)(dir.id.0),
                problems: Vec::new(),
            })
        }
    }

    /// A volume over `list` whose node budget follows `cache_bytes`.
    fn mem_volume(
        list: impl Fn(u64) -> Entries + Send + Sync + 'static,
        cache_bytes: u64,
    ) -> Volume {
        let src: Arc<dyn ReadAt> = Arc::new(crate::source::MemSource::new(vec![0; 4096]));
        let meta = Arc::new(BlockCache::new(Arc::clone(&src), 2048, 1 << 20));
        let opts = OpenOptions {
            cache_bytes,
            ..OpenOptions::default()
        };
        let format = Box::new(Mem(list));
        Volume::with_format(format, VolumeInfo::default(), src, meta, &opts).unwrap()
    }

    /// A root listing `names` as empty files, ids 10, 11, ...
    fn volume(names: Vec<&'static str>) -> Volume {
        let list = move |_| {
            (names.iter().zip(10..))
                .map(|(n, id)| (n.to_string(), info(id, FileType::Regular)))
                .collect()
        };
        mem_volume(list, DEFAULT_CAPACITY)
    }

    #[test]
    fn listing_keeps_disk_order_and_indexes_unique_names() {
        let vol = volume(vec!["b", "a", "b", "b~2", "A", "c"]);
        let dir = vol.read_dir(vol.root()).unwrap();
        let names: Vec<_> = dir.entries().iter().map(|e| e.name.as_str()).collect();
        // Duplicates get ~N, never colliding with a name already taken.
        assert_eq!(names, ["b", "a", "b~2", "b~2~2", "A", "c"]);
        for (i, e) in dir.entries().iter().enumerate() {
            assert_eq!(dir.get(&e.name).map(|f| f.id), Some(NodeId(10 + i as u64)));
            assert_eq!(vol.lookup(vol.root(), &e.name).unwrap().id(), e.id);
        }
        assert!(dir.get("d").is_none() && dir.get("").is_none() && dir.get("b~3").is_none());
        assert!(matches!(
            vol.lookup(vol.root(), "B"),
            Err(Error::NotFound(_))
        ));
        // Exact match first, then the first entry that folds the same.
        assert_eq!(dir.get_ignore_case("A").unwrap().id, NodeId(14));
        assert_eq!(dir.get_ignore_case("B").unwrap().id, NodeId(10));
    }

    #[test]
    fn a_wide_directory_is_found_by_binary_search() {
        let names: Vec<&'static str> = (0..5000)
            .rev()
            .map(|i| &*format!("f{i:05}").leak())
            .collect();
        let vol = volume(names);
        let dir = vol.read_dir(vol.root()).unwrap();
        assert_eq!(dir.len(), 5000);
        assert_eq!(dir.get("f04999").unwrap().id, NodeId(10));
        assert_eq!(dir.get("f00000").unwrap().id, NodeId(10 + 4999));
        assert!(dir.get("f05000").is_none());
    }

    /// A root with `dirs` directories (ids 1000 + d) of `files` files each
    /// (ids 1_000_000 + d * files + f), and one more level under the first
    /// directory, `depth` directories deep (ids 500 + level).
    struct Tree {
        dirs: u64,
        files: u64,
        depth: u64,
        /// Entries of the last directory instead of `files`.
        wide: u64,
        /// How often each directory was listed, by id.
        listed: Arc<parking_lot::Mutex<HashMap<u64, usize>>>,
    }

    impl Tree {
        fn list(&self, id: u64) -> Entries {
            let mut entries = Vec::new();
            *self.listed.lock().entry(id).or_default() += 1;
            if id == 1 {
                for i in 0..self.dirs {
                    entries.push((format!("d{i}"), info(1000 + i, FileType::Directory)));
                }
            } else if (1000..1000 + self.dirs).contains(&id) {
                let i = id - 1000;
                let n = if i == self.dirs - 1 {
                    self.wide
                } else {
                    self.files
                };
                for f in 0..n {
                    let fid = 1_000_000 + i * self.files + f;
                    entries.push((format!("f{f}"), info(fid, FileType::Regular)));
                }
                if i == 0 && self.depth > 0 {
                    entries.push(("deep".into(), info(500, FileType::Directory)));
                }
            } else if (500..500 + self.depth).contains(&id) && id + 1 < 500 + self.depth {
                entries.push(("deeper".into(), info(id + 1, FileType::Directory)));
            }
            entries
        }

        /// A volume over this tree with the smallest node budget.
        fn volume(self) -> Volume {
            mem_volume(move |id| self.list(id), 0)
        }
    }

    #[test]
    fn the_node_table_stays_within_its_budget_and_evicted_nodes_come_back() {
        let (dirs, files) = (40, 500);
        let vol = Tree {
            dirs,
            files,
            depth: 300,
            wide: files,
            listed: Default::default(),
        }
        .volume();
        assert_eq!(vol.node_budget, MIN_NODES);
        // Walk everything, as find does, remembering every id and name.
        let mut seen = Vec::new();
        let mut stack = vec![vol.root()];
        let mut peak = 0;
        while let Some(d) = stack.pop() {
            let listing = vol.read_dir(d).unwrap();
            for e in listing.entries() {
                let n = vol.node(e.id).unwrap();
                assert_eq!(n.parent(), d);
                seen.push((d, e.name.clone(), e.id));
                if n.kind() == FileType::Directory {
                    stack.push(e.id);
                }
            }
            peak = peak.max(vol.nodes_in_memory());
        }
        assert_eq!(seen.len() as u64, dirs + dirs * files + 300);
        // Bounded: the budget plus at most one directory's worth of new nodes.
        assert!(peak <= MIN_NODES + files as usize + 1, "peak {peak}");
        assert!(vol.nodes_in_memory() < seen.len() / 2);
        // Every node can be asked for again, also the bottom of the deep
        // chain whose every ancestor was evicted, and lookups agree.
        let bottom = NodeId(500 + 299);
        assert_eq!(vol.node(bottom).unwrap().parent(), NodeId(500 + 298));
        for (d, name, id) in &seen {
            assert_eq!(vol.node(*id).unwrap().id(), *id);
            assert_eq!(vol.lookup(*d, name).unwrap().id(), *id);
        }
        assert!(matches!(vol.node(NodeId(7)), Err(Error::NotFound(_))));
    }

    #[test]
    fn a_directory_larger_than_the_budget_is_not_listed_again_and_again() {
        // As `find` and then `tar` through a mount: list everything, then
        // read every file again, directory by directory, in order; the last
        // directory is larger than the whole node budget.
        let listed = Arc::new(parking_lot::Mutex::new(HashMap::new()));
        let vol = Tree {
            dirs: 10,
            files: 500,
            depth: 0,
            wide: MIN_NODES as u64 * 3 / 2,
            listed: Arc::clone(&listed),
        }
        .volume();
        let dirs: Vec<NodeId> = vol
            .read_dir(vol.root())
            .unwrap()
            .entries()
            .iter()
            .map(|e| e.id)
            .collect();
        for &d in &dirs {
            vol.read_dir(d).unwrap();
        }
        for &d in &dirs {
            // The kernel's READDIRPLUS asks for each entry's node, then the
            // reads ask again.
            let entries: Vec<NodeId> = vol
                .read_dir(d)
                .unwrap()
                .entries()
                .iter()
                .map(|e| e.id)
                .collect();
            for chunk in entries.chunks(200) {
                for &id in chunk {
                    vol.node(id).unwrap();
                }
                for &id in chunk {
                    vol.node(id).unwrap();
                }
            }
        }
        // Each directory: listed by the walk, and at most once more to bring
        // its evicted entries back.
        let listed = listed.lock();
        for d in &dirs {
            let n = listed[&d.0];
            assert!(n <= 2, "directory {d} listed {n} times");
        }
    }

    #[test]
    fn path_components_skip_dots_and_slashes() {
        let c: Vec<_> = components("//a/./b/../c/").collect();
        assert_eq!(c, ["a", "b", "..", "c"]);
    }
}
