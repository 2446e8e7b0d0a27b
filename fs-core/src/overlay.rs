//! Overlay: local files and directories placed into the view (`--add
//! SRC=DEST`) and entries taken out of it (`--hide PATH`), without touching
//! the image.
//!
//! An [`Overlay`] given through [`crate::OpenOptions::overlay`] wraps the
//! image's format reader in an [`OverlayFormat`], a [`Format`] like any
//! other: the [`crate::Volume`] above it lists, indexes, evicts and reads
//! overlay nodes exactly as image nodes, so every front end (FUSE, WinFsp,
//! the CLI commands, `serve`) sees one view without knowing about overlays.
//!
//! # Rules
//!
//! * `--add SRC=DEST` puts the local file or directory `SRC` at `DEST`,
//!   replacing whatever the image has of that name (an added directory
//!   replaces the image's directory entirely: nothing of the image's shows
//!   inside it). Missing directories on the way to `DEST` are made
//!   (virtual, empty but for what is added below them). A `DEST` component
//!   matches the image's name exactly or, failing that, ignoring case (one
//!   match only), so `/Sources/x` goes into the image's `sources`.
//! * `--hide PATH` removes an entry (a file or a whole directory). A path
//!   that is not in the view is an error: a typo must not silently do
//!   nothing.
//! * Order: `--add`s apply in the order given (a later one wins over an
//!   earlier one at the same place, and may add inside a directory an
//!   earlier one added), then every `--hide`, so a hide can remove an entry
//!   of an added directory.
//! * Attributes: size and mtime of the local file; permissions its own
//!   without write bits (0444/0555 where the platform has none); owner and
//!   group those of the image's root. Symbolic links inside an added
//!   directory are shown as links, never followed when the overlay is
//!   built; `SRC` itself is followed. Other special files (FIFOs, sockets,
//!   devices) are left out with a warning.
//!
//! # When local files are read
//!
//! * The `DEST` paths, and every `SRC`'s type, size and mtime: when the
//!   image is opened.
//! * The entries of an added directory: when that directory is first listed
//!   (or at open, when a later flag reaches inside it); from then on the
//!   listing is kept for the life of the volume, about 100 bytes an entry.
//! * File content: at each read, from the local file, after checking that
//!   its size and mtime are still those of the snapshot; if not, the read
//!   fails ([`OverlayError::Changed`]) rather than mix two versions of a
//!   file. Re-open (re-mount) to see a changed file.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, Metadata};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::UNIX_EPOCH;

use parking_lot::RwLock;

use crate::error::{Error, Result};
use crate::format::{DirContents, Format, NodeInfo, View};
use crate::node::{Attributes, Decoder, FileData, FileType, NodeId, Timestamp};
use crate::source::{FileSource, ReadAt};

/// First node id of overlay nodes. Readers derive ids from byte positions
/// in the image (ISO 9660: directory records and extents; UDF: file
/// entries), which stay far below 2^62 for any image that can exist, so the
/// two never meet.
pub const ID_BASE: u64 = 1 << 62;

/// What to change in the view: local entries to add and paths to hide.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overlay {
    /// `(SRC, DEST)`: the local file or directory `SRC` shown at `DEST`, a
    /// '/'-separated path in the view. Applied in order.
    pub adds: Vec<(PathBuf, String)>,
    /// Paths of the view to remove, applied after every add.
    pub hides: Vec<String>,
}

impl Overlay {
    /// True when the overlay changes nothing.
    pub fn is_empty(&self) -> bool {
        self.adds.is_empty() && self.hides.is_empty()
    }

    /// Splits a `SRC=DEST` argument at its last `=` followed by `/`, so that
    /// `SRC` may hold `=` (a `DEST` component cannot end in `=` when another
    /// follows it).
    pub fn parse_add(spec: &str) -> std::result::Result<(PathBuf, String), OverlayError> {
        let bad = || OverlayError::Syntax(spec.to_string());
        let at = spec.rfind("=/").ok_or_else(bad)?;
        let (src, dest) = (spec.get(..at).ok_or_else(bad)?, spec.get(at + 1..));
        let dest = dest.ok_or_else(bad)?;
        if src.is_empty() {
            return Err(bad());
        }
        Ok((PathBuf::from(src), dest.to_string()))
    }
}

/// What is wrong with an overlay, or with a local file it shows.
#[derive(Debug, Clone, thiserror::Error)]
pub enum OverlayError {
    /// An `--add` argument without `=/`.
    #[error("--add {0:?}: expected SRC=DEST, DEST a path in the image starting with '/'")]
    Syntax(String),
    /// A `DEST` or `--hide` path that cannot name an entry.
    #[error("{flag} {path:?}: {reason}")]
    BadPath {
        /// `--add` or `--hide`.
        flag: &'static str,
        /// The path as given.
        path: String,
        /// Why.
        reason: &'static str,
    },
    /// `SRC` is missing or unreadable.
    #[error("--add {}: {cause}", src.display())]
    Source {
        /// The local path.
        src: PathBuf,
        /// What the system said.
        cause: Arc<io::Error>,
    },
    /// `SRC` is neither a regular file nor a directory.
    #[error("--add {}: not a regular file or directory", src.display())]
    SourceKind {
        /// The local path.
        src: PathBuf,
    },
    /// A component on the way to the path is a file.
    #[error("{flag} {path}: {parent} is not a directory")]
    NotADirectory {
        /// `--add` or `--hide`.
        flag: &'static str,
        /// The path as given.
        path: String,
        /// The component that is a file.
        parent: String,
    },
    /// Two entries match a component when case is ignored, none exactly.
    #[error(
        "{flag} {path}: {name:?} matches several entries when case is ignored; spell it exactly"
    )]
    Ambiguous {
        /// `--add` or `--hide`.
        flag: &'static str,
        /// The path as given.
        path: String,
        /// The component.
        name: String,
    },
    /// `--hide` of a path the view does not have.
    #[error("--hide {0}: no such entry in the image")]
    HideMissing(String),
    /// A local file or directory of the overlay could not be read.
    #[error("overlay {}: {cause}", path.display())]
    Local {
        /// The local path.
        path: PathBuf,
        /// What the system said.
        cause: Arc<io::Error>,
    },
    /// A local file is no longer the one snapshotted when the image was opened.
    #[error(
        "overlay {}: changed since the image was opened ({what}); re-open the image to see the new version",
        path.display()
    )]
    Changed {
        /// The local path.
        path: PathBuf,
        /// What differs.
        what: String,
    },
}

impl OverlayError {
    /// The closest POSIX errno: `EINVAL` for a bad overlay, `EIO` for a
    /// local file that cannot be read or changed.
    pub fn errno(&self) -> i32 {
        match self {
            OverlayError::Local { .. } | OverlayError::Changed { .. } => 5,
            _ => 22,
        }
    }
}

fn local_err(path: &Path, e: io::Error) -> Error {
    Error::Overlay(OverlayError::Local {
        path: path.to_path_buf(),
        cause: Arc::new(e),
    })
}

/// The components of an overlay path: '/'-separated, empty and "."
/// components skipped; ".." and NUL refused.
fn path_components<'a>(
    flag: &'static str,
    path: &'a str,
) -> std::result::Result<Vec<&'a str>, OverlayError> {
    let bad = |reason| OverlayError::BadPath {
        flag,
        path: path.to_string(),
        reason,
    };
    if !path.starts_with('/') {
        return Err(bad("must start with '/' (a path from the image's root)"));
    }
    let comps: Vec<&str> = path
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    if comps.contains(&"..") {
        return Err(bad("'..' is not allowed"));
    }
    if path.contains('\0') {
        return Err(bad("NUL is not allowed"));
    }
    if comps.is_empty() {
        return Err(bad("names the root; name an entry inside it"));
    }
    Ok(comps)
}

/// The entry of `entries` called `name`: exactly, else the one entry equal
/// ignoring case.
fn find<'a>(
    entries: &'a [(String, NodeInfo)],
    name: &str,
    flag: &'static str,
    path: &str,
) -> std::result::Result<Option<&'a (String, NodeInfo)>, OverlayError> {
    if let Some(e) = entries.iter().find(|(n, _)| n == name) {
        return Ok(Some(e));
    }
    let folded = name.to_lowercase();
    let mut matches = entries.iter().filter(|(n, _)| n.to_lowercase() == folded);
    let first = matches.next();
    if matches.next().is_some() {
        return Err(OverlayError::Ambiguous {
            flag,
            path: path.to_string(),
            name: name.to_string(),
        });
    }
    Ok(first)
}

/// How the overlay changes one directory of the view.
#[derive(Debug, Default)]
struct Patch {
    /// Names of the underlying listing left out (replaced or hidden).
    drop: HashSet<String>,
    /// Entries shown in addition, in the order they were added.
    put: Vec<(String, NodeInfo)>,
}

impl Patch {
    /// Takes entry `name` (if any) out of the view.
    fn remove(&mut self, name: &str) {
        self.put.retain(|(n, _)| n != name);
        self.drop.insert(name.to_string());
    }

    fn apply(&self, contents: &mut DirContents) {
        contents.entries.retain(|(n, _)| !self.drop.contains(n));
        contents.entries.extend(self.put.iter().cloned());
    }
}

/// One entry of a local directory, as snapshotted when it was first listed.
#[derive(Debug)]
struct LocalEntry {
    name: Box<str>,
    id: NodeId,
    kind: FileType,
    size: u64,
    mode: u32,
    mtime: Timestamp,
    target: Option<Box<str>>,
}

/// A directory that exists only in the overlay: a local one (`src`) or one
/// made on the way to a `DEST` (no `src`).
#[derive(Debug)]
struct OverlayDir {
    src: Option<PathBuf>,
    /// Entries and problems, set by the first listing.
    listing: OnceLock<Arc<(Vec<LocalEntry>, Vec<Error>)>>,
}

/// A local file's content, read at each read after checking that the file
/// is still the one the overlay snapshotted. It is served through
/// [`Decoder`], the hook [`FileData`] has for content that is not a plain
/// run of image bytes, so [`crate::Volume::read_node`] needs nothing of its
/// own for overlays; the image is never touched.
#[derive(Debug)]
struct LocalFile {
    path: PathBuf,
    size: u64,
    mtime: Timestamp,
}

impl LocalFile {
    /// Opens the file, checking its size and mtime against the snapshot
    /// both before opening (so a FIFO put in its place is never opened) and
    /// on the handle that is read.
    fn open(&self) -> Result<FileSource> {
        let check = |meta: &Metadata| -> Result<()> {
            let mtime = timestamp(meta);
            let what = if !meta.is_file() {
                "no longer a regular file".to_string()
            } else if meta.len() != self.size {
                format!("size {} now, {} then", meta.len(), self.size)
            } else if mtime != self.mtime {
                format!(
                    "mtime {} now, {} then",
                    mtime.to_rfc3339(),
                    self.mtime.to_rfc3339()
                )
            } else {
                return Ok(());
            };
            Err(Error::Overlay(OverlayError::Changed {
                path: self.path.clone(),
                what,
            }))
        };
        check(&fs::metadata(&self.path).map_err(|e| local_err(&self.path, e))?)?;
        let file = File::open(&self.path).map_err(|e| local_err(&self.path, e))?;
        check(&file.metadata().map_err(|e| local_err(&self.path, e))?)?;
        FileSource::from_file(file).map_err(|e| local_err(&self.path, e))
    }
}

impl Decoder for LocalFile {
    fn read_at(&self, _image: &dyn ReadAt, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let want = self.size.saturating_sub(offset).min(buf.len() as u64) as usize;
        let Some(out) = buf.get_mut(..want) else {
            return Ok(0);
        };
        if out.is_empty() {
            return Ok(0);
        }
        self.open()?
            .read_at(offset, out)
            .map_err(|e| local_err(&self.path, e))
    }
}

/// A local file's mtime (the epoch where the platform has none).
fn timestamp(meta: &Metadata) -> Timestamp {
    let Ok(t) = meta.modified() else {
        return Timestamp::EPOCH;
    };
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => Timestamp {
            secs: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            nanos: d.subsec_nanos(),
        },
        Err(e) => {
            // Before 1970: whole seconds down, nanoseconds up.
            let d = e.duration();
            let (secs, nanos) = match d.subsec_nanos() {
                0 => (d.as_secs(), 0),
                n => (d.as_secs() + 1, 1_000_000_000 - n),
            };
            Timestamp {
                secs: -i64::try_from(secs).unwrap_or(i64::MAX),
                nanos,
            }
        }
    }
}

/// Permission bits of a local file without its write and set-id bits.
fn read_only_mode(meta: &Metadata) -> u32 {
    #[cfg(unix)]
    {
        std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o1555
    }
    #[cfg(not(unix))]
    {
        if meta.is_dir() { 0o555 } else { 0o444 }
    }
}

/// A format reader with an overlay on top: see the [module docs](self).
pub struct OverlayFormat {
    inner: Box<dyn Format>,
    /// Changes to directories of the view, by the directory's id.
    patches: HashMap<NodeId, Patch>,
    /// Directories that exist only in the overlay, by id.
    dirs: RwLock<HashMap<NodeId, Arc<OverlayDir>>>,
    next_id: AtomicU64,
    /// Owner, group and mtime for overlay nodes: the image root's.
    uid: u32,
    gid: u32,
    root_mtime: Timestamp,
}

impl OverlayFormat {
    /// Puts `overlay` over `inner`, checking every flag: a missing `SRC`, a
    /// bad path or a hidden path the view does not have is an error here.
    pub fn new(inner: Box<dyn Format>, overlay: &Overlay) -> Result<OverlayFormat> {
        let root = inner.root()?;
        let mut ov = OverlayFormat {
            inner,
            patches: Default::default(),
            dirs: Default::default(),
            next_id: AtomicU64::new(ID_BASE),
            uid: root.attr.uid,
            gid: root.attr.gid,
            root_mtime: root.attr.mtime,
        };
        for (src, dest) in &overlay.adds {
            ov.add(&root, src, dest)?;
        }
        for path in &overlay.hides {
            ov.hide(&root, path)?;
        }
        Ok(ov)
    }

    fn add(&mut self, root: &NodeInfo, src: &Path, dest: &str) -> Result<()> {
        const FLAG: &str = "--add";
        let comps = path_components(FLAG, dest)?;
        let meta = fs::metadata(src).map_err(|e| OverlayError::Source {
            src: src.to_path_buf(),
            cause: Arc::new(e),
        })?;
        if !meta.is_file() && !meta.is_dir() {
            return Err(OverlayError::SourceKind {
                src: src.to_path_buf(),
            }
            .into());
        }
        let Some((last, parents)) = comps.split_last() else {
            return Ok(()); // `path_components` returns at least one.
        };
        let dir = self.walk(root, parents, FLAG, dest, true)?;
        let listing = self.read_dir(&dir)?;
        let replaced = find(&listing.entries, last, FLAG, dest)?.map(|(n, _)| n.clone());
        let node = self.local_node(src.to_path_buf(), &meta);
        let patch = self.patches.entry(dir.id).or_default();
        if let Some(old) = replaced {
            patch.remove(&old);
        }
        patch.remove(last);
        patch.put.push((last.to_string(), node));
        Ok(())
    }

    fn hide(&mut self, root: &NodeInfo, path: &str) -> Result<()> {
        const FLAG: &str = "--hide";
        let comps = path_components(FLAG, path)?;
        let Some((last, parents)) = comps.split_last() else {
            return Ok(());
        };
        let dir = self.walk(root, parents, FLAG, path, false)?;
        let listing = self.read_dir(&dir)?;
        let Some((name, _)) = find(&listing.entries, last, FLAG, path)? else {
            return Err(OverlayError::HideMissing(path.to_string()).into());
        };
        self.patches.entry(dir.id).or_default().remove(name);
        Ok(())
    }

    /// The directory at `comps` in the view built so far. Missing ones are
    /// made when `make`, else the path is missing (an error for `--hide`).
    fn walk(
        &mut self,
        root: &NodeInfo,
        comps: &[&str],
        flag: &'static str,
        path: &str,
        make: bool,
    ) -> Result<NodeInfo> {
        let mut cur = root.clone();
        let mut at = String::new();
        for &c in comps {
            at.push('/');
            at.push_str(c);
            let listing = self.read_dir(&cur)?;
            cur = match find(&listing.entries, c, flag, path)? {
                Some((_, info)) if info.attr.kind == FileType::Directory => info.clone(),
                Some(_) => {
                    return Err(OverlayError::NotADirectory {
                        flag,
                        path: path.to_string(),
                        parent: at,
                    }
                    .into());
                }
                None if make => {
                    let dir = self.virtual_dir();
                    let patch = self.patches.entry(cur.id).or_default();
                    patch.put.push((c.to_string(), dir.clone()));
                    dir
                }
                None => return Err(OverlayError::HideMissing(path.to_string()).into()),
            };
        }
        Ok(cur)
    }

    fn new_id(&self) -> NodeId {
        NodeId(self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    fn attributes(
        &self,
        id: NodeId,
        kind: FileType,
        size: u64,
        mode: u32,
        mtime: Timestamp,
    ) -> Attributes {
        Attributes {
            kind,
            size,
            allocated: if kind == FileType::Regular { size } else { 0 },
            mode,
            nlink: if kind == FileType::Directory { 2 } else { 1 },
            uid: self.uid,
            gid: self.gid,
            rdev: None,
            mtime,
            atime: None,
            ctime: None,
            crtime: None,
            hidden: false,
            inode: id.0,
        }
    }

    /// A directory made on the way to a `DEST`.
    fn virtual_dir(&self) -> NodeInfo {
        let id = self.new_id();
        self.dirs.write().insert(
            id,
            Arc::new(OverlayDir {
                src: None,
                listing: OnceLock::new(),
            }),
        );
        NodeInfo {
            id,
            attr: self.attributes(id, FileType::Directory, 0, 0o555, self.root_mtime),
            data: FileData::empty(),
            link_target: None,
        }
    }

    /// The node for an `--add` source (a file or a directory).
    fn local_node(&self, src: PathBuf, meta: &Metadata) -> NodeInfo {
        let kind = if meta.is_dir() {
            FileType::Directory
        } else {
            FileType::Regular
        };
        let entry = LocalEntry {
            name: "".into(),
            id: self.new_id(),
            kind,
            size: if meta.is_dir() { 0 } else { meta.len() },
            mode: read_only_mode(meta),
            mtime: timestamp(meta),
            target: None,
        };
        if kind == FileType::Directory {
            self.register_dir(entry.id, src.clone());
        }
        self.node_info(&entry, src)
    }

    fn register_dir(&self, id: NodeId, src: PathBuf) {
        self.dirs.write().insert(
            id,
            Arc::new(OverlayDir {
                src: Some(src),
                listing: OnceLock::new(),
            }),
        );
    }

    /// The node of a snapshotted local entry at `path`.
    fn node_info(&self, e: &LocalEntry, path: PathBuf) -> NodeInfo {
        let data = match e.kind {
            FileType::Regular => FileData::empty().with_decoder(
                e.size,
                Arc::new(LocalFile {
                    path,
                    size: e.size,
                    mtime: e.mtime,
                }),
            ),
            _ => FileData::empty(),
        };
        NodeInfo {
            id: e.id,
            attr: self.attributes(e.id, e.kind, e.size, e.mode, e.mtime),
            data,
            link_target: e.target.as_deref().map(str::to_owned),
        }
    }

    /// Lists the local directory `path` once: regular files, directories
    /// and symbolic links (not followed), sorted by name; anything else is
    /// left out with a problem.
    fn snapshot(&self, path: &Path) -> Result<(Vec<LocalEntry>, Vec<Error>)> {
        let mut entries = Vec::new();
        let mut problems = Vec::new();
        for item in fs::read_dir(path).map_err(|e| local_err(path, e))? {
            let item = item.map_err(|e| local_err(path, e))?;
            let full = item.path();
            let Some(name) = item.file_name().to_str().map(Box::<str>::from) else {
                problems.push(Error::Unsupported(format!(
                    "overlay {}: a name that is not UTF-8; left out",
                    full.display()
                )));
                continue;
            };
            let meta = match fs::symlink_metadata(&full) {
                Ok(m) => m,
                Err(e) => {
                    problems.push(local_err(&full, e));
                    continue;
                }
            };
            let ft = meta.file_type();
            let (kind, size, target) = if ft.is_file() {
                (FileType::Regular, meta.len(), None)
            } else if ft.is_dir() {
                (FileType::Directory, 0, None)
            } else if ft.is_symlink() {
                let target = match fs::read_link(&full) {
                    Ok(t) => t,
                    Err(e) => {
                        problems.push(local_err(&full, e));
                        continue;
                    }
                };
                let Some(t) = target.to_str().map(Box::<str>::from) else {
                    problems.push(Error::Unsupported(format!(
                        "overlay {}: a link target that is not UTF-8; left out",
                        full.display()
                    )));
                    continue;
                };
                (FileType::Symlink, t.len() as u64, Some(t))
            } else {
                problems.push(Error::Unsupported(format!(
                    "overlay {}: not a regular file, directory or symbolic link; left out",
                    full.display()
                )));
                continue;
            };
            let id = self.new_id();
            if kind == FileType::Directory {
                self.register_dir(id, full);
            }
            entries.push(LocalEntry {
                name,
                id,
                kind,
                size,
                mode: read_only_mode(&meta),
                mtime: timestamp(&meta),
                target,
            });
        }
        entries.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        Ok((entries, problems))
    }

    /// The listing of a directory that exists only in the overlay.
    fn overlay_listing(&self, id: NodeId) -> Result<DirContents> {
        let dir = self
            .dirs
            .read()
            .get(&id)
            .cloned()
            .ok_or_else(|| Error::NotFound(format!("overlay node {id}")))?;
        let Some(src) = &dir.src else {
            return Ok(DirContents::default());
        };
        let listing = match dir.listing.get() {
            Some(l) => Arc::clone(l),
            None => {
                let made = Arc::new(self.snapshot(src)?);
                // Two threads may list at once; the first listing stands.
                let _ = dir.listing.set(made);
                dir.listing.get().cloned().unwrap_or_default()
            }
        };
        let (entries, problems) = &*listing;
        Ok(DirContents {
            entries: entries
                .iter()
                .map(|e| (e.name.to_string(), self.node_info(e, src.join(&*e.name))))
                .collect(),
            problems: problems.clone(),
        })
    }
}

impl Format for OverlayFormat {
    fn view(&self) -> View {
        self.inner.view()
    }

    fn root(&self) -> Result<NodeInfo> {
        self.inner.root()
    }

    fn read_dir(&self, dir: &NodeInfo) -> Result<DirContents> {
        let mut contents = if dir.id.0 >= ID_BASE {
            self.overlay_listing(dir.id)?
        } else {
            let mut c = self.inner.read_dir(dir)?;
            c.entries.retain(|(_, info)| info.id.0 < ID_BASE);
            c
        };
        if let Some(patch) = self.patches.get(&dir.id) {
            patch.apply(&mut contents);
        }
        Ok(contents)
    }

    fn boot_images(&self) -> Vec<crate::iso9660::el_torito::BootImage> {
        self.inner.boot_images()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::BlockCache;
    use crate::node::Extent;
    use crate::source::MemSource;
    use crate::{OpenOptions, Volume, VolumeInfo};

    /// The image bytes: "readme\n" at 0, "wim!" at 100.
    fn image() -> Vec<u8> {
        let mut b = vec![0u8; 4096];
        b[..7].copy_from_slice(b"readme\n");
        b[100..104].copy_from_slice(b"wim!");
        b
    }

    fn info(id: u64, kind: FileType, start: u64, len: u64) -> NodeInfo {
        NodeInfo {
            id: NodeId(id),
            attr: Attributes {
                kind,
                size: len,
                allocated: len,
                mode: 0o444,
                nlink: 1,
                uid: 7,
                gid: 8,
                rdev: None,
                mtime: Timestamp {
                    secs: 1000,
                    nanos: 0,
                },
                atime: None,
                ctime: None,
                crtime: None,
                hidden: false,
                inode: id,
            },
            data: FileData::new([Extent::Recorded { start, len }]),
            link_target: None,
        }
    }

    /// `/README.TXT`, `/sources/{install.wim, boot/}`, `/empty/`.
    struct Image;

    impl Format for Image {
        fn view(&self) -> View {
            View::Udf
        }
        fn root(&self) -> Result<NodeInfo> {
            Ok(info(1, FileType::Directory, 0, 0))
        }
        fn read_dir(&self, dir: &NodeInfo) -> Result<DirContents> {
            let entries = match dir.id.0 {
                1 => vec![
                    ("README.TXT".into(), info(10, FileType::Regular, 0, 7)),
                    ("sources".into(), info(20, FileType::Directory, 0, 0)),
                    ("empty".into(), info(30, FileType::Directory, 0, 0)),
                ],
                20 => vec![
                    ("install.wim".into(), info(21, FileType::Regular, 100, 4)),
                    ("boot".into(), info(22, FileType::Directory, 0, 0)),
                ],
                _ => vec![],
            };
            Ok(DirContents {
                entries,
                problems: vec![],
            })
        }
    }

    fn open(overlay: Overlay) -> Result<Volume> {
        open_with_cache(overlay, OpenOptions::default().cache_bytes)
    }

    fn open_with_cache(overlay: Overlay, cache_bytes: u64) -> Result<Volume> {
        let src: Arc<dyn ReadAt> = Arc::new(MemSource::new(image()));
        let meta = Arc::new(BlockCache::new(Arc::clone(&src), 2048, 1 << 20));
        let opts = OpenOptions {
            overlay,
            cache_bytes,
            ..OpenOptions::default()
        };
        Volume::with_format(Box::new(Image), VolumeInfo::default(), src, meta, &opts)
    }

    fn names(vol: &Volume, path: &str) -> Vec<String> {
        let dir = vol.resolve(path, true).unwrap();
        let mut n: Vec<String> = (vol.read_dir(dir.id()).unwrap().entries().iter())
            .map(|e| e.name.clone())
            .collect();
        n.sort();
        n
    }

    fn content(vol: &Volume, path: &str) -> Result<Vec<u8>> {
        let node = vol.resolve(path, true)?;
        let mut buf = vec![0u8; node.attr().size as usize + 10];
        let mut done = 0;
        loop {
            let n = vol.read_node(&node, done as u64, &mut buf[done..])?;
            if n == 0 {
                break;
            }
            done += n;
        }
        buf.truncate(done);
        Ok(buf)
    }

    /// A local tree: `autounattend.xml`, `drivers/{a.inf, net/b.sys}`.
    fn local() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        fs::write(t.path().join("autounattend.xml"), "<unattend/>\n").unwrap();
        fs::create_dir_all(t.path().join("drivers/net")).unwrap();
        fs::write(t.path().join("drivers/a.inf"), "inf").unwrap();
        fs::write(t.path().join("drivers/net/b.sys"), "sys!").unwrap();
        t
    }

    #[test]
    fn parses_src_dest_at_the_last_equals_slash() {
        let p = Overlay::parse_add;
        assert_eq!(p("./a=/b").unwrap(), (PathBuf::from("./a"), "/b".into()));
        assert_eq!(
            p("x=y.txt=/dir/f").unwrap(),
            (PathBuf::from("x=y.txt"), "/dir/f".into())
        );
        for bad in ["./a", "./a=b", "=/b", "a/b"] {
            assert!(matches!(p(bad), Err(OverlayError::Syntax(_))), "{bad}");
        }
    }

    #[test]
    fn adds_replace_create_and_hide() {
        let t = local();
        let l = t.path();
        let vol = open(Overlay {
            adds: vec![
                // Replaces README.TXT, matched ignoring case, shown as spelt here.
                (l.join("autounattend.xml"), "/readme.txt".into()),
                // Missing $OEM$ and $1 are made.
                (l.join("drivers"), "/sources/$OEM$/$1/Drivers".into()),
                // Replaces the image's directory entirely.
                (l.join("drivers"), "/empty".into()),
                // A later add inside an added directory.
                (l.join("autounattend.xml"), "/empty/net/x.xml".into()),
            ],
            hides: vec!["/sources/boot".into(), "/empty/a.inf".into()],
        })
        .unwrap();
        assert_eq!(names(&vol, "/"), ["empty", "readme.txt", "sources"]);
        assert_eq!(names(&vol, "/sources"), ["$OEM$", "install.wim"]);
        assert_eq!(names(&vol, "/sources/$OEM$/$1/Drivers"), ["a.inf", "net"]);
        assert_eq!(names(&vol, "/empty"), ["net"]);
        assert_eq!(names(&vol, "/empty/net"), ["b.sys", "x.xml"]);
        assert_eq!(content(&vol, "/readme.txt").unwrap(), b"<unattend/>\n");
        assert_eq!(content(&vol, "/sources/install.wim").unwrap(), b"wim!");
        assert_eq!(
            content(&vol, "/sources/$OEM$/$1/Drivers/net/b.sys").unwrap(),
            b"sys!"
        );
        assert_eq!(content(&vol, "/empty/net/x.xml").unwrap(), b"<unattend/>\n");

        // Attributes: the local size and mtime, read-only, the root's owner.
        let a = vol.resolve("/readme.txt", true).unwrap().attr().clone();
        let m = fs::metadata(l.join("autounattend.xml")).unwrap();
        assert_eq!(a.size, 12);
        assert_eq!(a.mtime, timestamp(&m));
        assert_eq!(a.mode & 0o222, 0);
        assert_eq!((a.uid, a.gid), (7, 8));
        assert!(a.inode >= ID_BASE);
        let d = vol.resolve("/sources/$OEM$", true).unwrap();
        assert_eq!(d.kind(), FileType::Directory);
        assert!(d.id().0 >= ID_BASE);
        assert_eq!(d.attr().mode, 0o555);
    }

    #[test]
    fn a_changed_file_fails_to_read_instead_of_mixing_versions() {
        let t = local();
        let f = t.path().join("autounattend.xml");
        let vol = open(Overlay {
            adds: vec![(f.clone(), "/a.xml".into())],
            hides: vec![],
        })
        .unwrap();
        assert_eq!(content(&vol, "/a.xml").unwrap(), b"<unattend/>\n");
        fs::write(&f, "<unattend>longer</unattend>\n").unwrap();
        let err = content(&vol, "/a.xml").unwrap_err();
        assert!(
            matches!(err, Error::Overlay(OverlayError::Changed { .. })),
            "{err}"
        );
        assert_eq!(err.errno(), 5);
        assert!(
            err.to_string()
                .contains("changed since the image was opened"),
            "{err}"
        );
        fs::remove_file(&f).unwrap();
        let err = content(&vol, "/a.xml").unwrap_err();
        assert!(
            matches!(err, Error::Overlay(OverlayError::Local { .. })),
            "{err}"
        );
    }

    #[test]
    fn listings_of_added_directories_are_snapshots_with_stable_ids() {
        let t = local();
        let ov = OverlayFormat::new(
            Box::new(Image),
            &Overlay {
                adds: vec![(t.path().join("drivers"), "/d".into())],
                hides: vec![],
            },
        )
        .unwrap();
        let root = ov.root().unwrap();
        let d = ov.read_dir(&root).unwrap();
        let (_, dnode) = d.entries.iter().find(|(n, _)| n == "d").unwrap();
        // Nothing of the added directory was read at open.
        let unlisted = |ov: &OverlayFormat| ov.dirs.read()[&dnode.id].listing.get().is_none();
        assert!(unlisted(&ov));
        let first: Vec<(String, NodeId)> = (ov.read_dir(dnode).unwrap().entries.iter())
            .map(|(n, i)| (n.clone(), i.id))
            .collect();
        assert!(!unlisted(&ov));
        fs::write(t.path().join("drivers/new.inf"), "new").unwrap();
        let again: Vec<(String, NodeId)> = (ov.read_dir(dnode).unwrap().entries.iter())
            .map(|(n, i)| (n.clone(), i.id))
            .collect();
        assert_eq!(first, again);
        assert_eq!(first.len(), 2);
    }

    #[test]
    fn an_added_directory_wider_than_the_node_budget_keeps_its_ids() {
        let t = tempfile::tempdir().unwrap();
        let n = crate::volume::node_budget(0) + 1000;
        for i in 0..n {
            fs::write(t.path().join(format!("f{i:05}")), i.to_string()).unwrap();
        }
        let vol = open_with_cache(
            Overlay {
                adds: vec![
                    (t.path().to_path_buf(), "/wide".into()),
                    (t.path().to_path_buf(), "/again".into()),
                    (t.path().to_path_buf(), "/third".into()),
                ],
                hides: vec![],
            },
            0,
        )
        .unwrap();
        let wide = vol.resolve("/wide", true).unwrap();
        let ids: Vec<(String, NodeId)> = (vol.read_dir(wide.id()).unwrap().entries().iter())
            .map(|e| (e.name.clone(), e.id))
            .collect();
        assert_eq!(ids.len(), n);
        // Listing two more copies pushes the first one's nodes out (the
        // first sweep only takes their "recently used" marks).
        for copy in ["/again", "/third"] {
            let dir = vol.resolve(copy, true).unwrap();
            assert_eq!(vol.read_dir(dir.id()).unwrap().len(), n);
        }
        assert!(vol.nodes_in_memory() < 2 * n, "{}", vol.nodes_in_memory());
        // Evicted or not, every entry comes back under its id, with its content.
        for (name, id) in ids.iter().step_by(97) {
            let node = vol.node(*id).unwrap();
            assert_eq!(vol.lookup(wide.id(), name).unwrap().id(), *id);
            let want = name.trim_start_matches('f').trim_start_matches('0');
            let want = if want.is_empty() { "0" } else { want };
            let mut buf = [0u8; 16];
            let got = vol.read_node(&node, 0, &mut buf).unwrap();
            assert_eq!(&buf[..got], want.as_bytes(), "{name}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_shown_not_followed_and_special_files_left_out() {
        let t = local();
        std::os::unix::fs::symlink("/etc/passwd", t.path().join("drivers/link")).unwrap();
        std::os::unix::net::UnixListener::bind(t.path().join("drivers/sock")).unwrap();
        let vol = open(Overlay {
            adds: vec![(t.path().join("drivers"), "/d".into())],
            hides: vec![],
        })
        .unwrap();
        let link = vol.resolve("/d/link", false).unwrap();
        assert_eq!(link.kind(), FileType::Symlink);
        assert_eq!(vol.read_link(link.id()).unwrap(), "/etc/passwd");
        // Followed inside the view, the target is the image's, not the host's.
        assert!(matches!(
            vol.resolve("/d/link", true),
            Err(Error::NotFound(_))
        ));
        let d = vol.resolve("/d", true).unwrap();
        let listing = vol.read_dir(d.id()).unwrap();
        assert!(listing.get("sock").is_none());
        assert_eq!(listing.problems().len(), 1);
    }

    #[test]
    fn bad_overlays_are_refused_at_open_with_clear_messages() {
        let t = local();
        let f = t.path().join("autounattend.xml");
        let add = |src: PathBuf, dest: &str| Overlay {
            adds: vec![(src, dest.into())],
            hides: vec![],
        };
        let hide = |p: &str| Overlay {
            adds: vec![],
            hides: vec![p.into()],
        };
        let cases = [
            (add(t.path().join("missing"), "/m"), "--add "),
            (add(f.clone(), "relative"), "must start with '/'"),
            (add(f.clone(), "/a/../b"), "'..' is not allowed"),
            (add(f.clone(), "/"), "names the root"),
            (
                add(f.clone(), "/README.TXT/x"),
                "/README.TXT is not a directory",
            ),
            (
                hide("/sources/nothing"),
                "--hide /sources/nothing: no such entry",
            ),
            (hide("/nothing/x"), "--hide /nothing/x: no such entry"),
            (hide("/"), "names the root"),
        ];
        for (overlay, want) in cases {
            let err = open(overlay.clone()).unwrap_err();
            assert!(matches!(err, Error::Overlay(_)), "{overlay:?}: {err}");
            assert!(err.to_string().contains(want), "{overlay:?}: {err}");
        }
        let err = open(add(t.path().join("missing"), "/m")).unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
    }
}
