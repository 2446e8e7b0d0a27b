//! ISO 9660 (ECMA-119) with Joliet and Rock Ridge.
//!
//! * `bytes`: bounds-checked field access, shared by the parsers below.
//! * `volume_descriptor`: the descriptor set from sector 16 (ECMA-119 8).
//! * `directory_record`: one directory record (ECMA-119 9.1).
//! * `directory`: walking a directory extent, multi-extent files (6.5.1).
//! * `datetime`: the two date formats (9.1.5, 8.4.26.1).
//! * `joliet`: UCS-2 names of the Joliet supplementary tree.
//! * `susp` / `rock_ridge`: SUSP (IEEE P1281) and RRIP (IEEE P1282) entries.
//!
//! Three views of one image: plain ISO 9660 (primary tree), Joliet
//! (supplementary tree) and Rock Ridge (primary tree with POSIX names and
//! attributes from the system use areas).
//!
//! Node ids: a file's id is the absolute byte offset of its (first)
//! directory record; a directory's id is the byte offset of its extent's
//! data, so the "." record and the parent's record agree.
//!
//! A library user opens images with [`crate::Volume`], which picks the view
//! and adds the El Torito `[BOOT]` directory. [`open`] is the format-level
//! entry point (a [`Format`] for [`crate::Volume::with_format`]), public
//! for the workspace's tests; it may change in any release. The El Torito
//! types the volume hands out ([`el_torito::BootImage`] and what it holds)
//! are re-exported at the crate root and are supported.

pub(crate) mod check;
mod datetime;
pub(crate) mod directory;
pub(crate) mod directory_record;
pub mod el_torito;
pub(crate) mod joliet;
pub(crate) mod rock_ridge;
pub(crate) mod session;
pub(crate) mod susp;
pub(crate) mod volume_descriptor;
pub(crate) mod zisofs;

use std::sync::Arc;

use crate::error::{Error, Location, Result};
use crate::format::{DirContents, Format, NodeInfo, View, VolumeInfo};
use crate::node::{Attributes, Extent, FileData, FileType, NodeId, Timestamp};
use crate::source::ReadAt;

use directory::Listed;
use directory_record::DirectoryRecord;
use rock_ridge::RockRidge;
use susp::SuspInfo;

/// Largest single metadata read (a directory extent is capped at 64 MiB).
const MAX_READ: usize = directory::MAX_DIR_BYTES as usize;

/// Choices about the ISO 9660 side beyond the view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IsoOptions {
    /// Session of a multisession disc to open (1-based); the last when `None`.
    pub session: Option<u32>,
    /// Show El Torito boot images in a virtual `[BOOT]` directory.
    pub boot_dir: bool,
}

impl Default for IsoOptions {
    fn default() -> Self {
        IsoOptions {
            session: None,
            boot_dir: true,
        }
    }
}

/// [`open`] with [`IsoOptions`]: picks the session (`opts.session`, see
/// the private `session` module for how sessions are found) and adds the El Torito
/// `[BOOT]` directory (`opts.boot_dir`).
///
/// Errors: [`Error::NotFound`] when the session asked for does not exist.
pub(crate) fn open_with(
    source: Arc<dyn ReadAt>,
    want: Option<View>,
    opts: &IsoOptions,
) -> Result<(Box<dyn Format>, VolumeInfo)> {
    let sessions = match session::find(&*source) {
        Ok(s) => s,
        Err(e) => {
            log::warn!("looking for sessions: {e}");
            Vec::new()
        }
    };
    let (first, shown) = match opts.session {
        None => (volume_descriptor::FIRST_SECTOR, sessions.len()),
        Some(n) => {
            let s = usize::try_from(n)
                .ok()
                .and_then(|n| n.checked_sub(1))
                .and_then(|i| sessions.get(i))
                .ok_or_else(|| {
                    Error::NotFound(format!(
                        "session {n}: the image has {} session{}",
                        sessions.len(),
                        if sessions.len() == 1 { "" } else { "s" }
                    ))
                })?;
            (s.start + volume_descriptor::FIRST_SECTOR, n as usize)
        }
    };
    let (format, mut info) = open_at(Arc::clone(&source), want, first)?;
    if sessions.len() > 1 || opts.session.is_some() {
        info.extra
            .push(("Sessions", session::summary(&sessions, shown)));
    }
    Ok(add_boot_dir(&source, first, format, info, opts.boot_dir))
}

/// Adds the El Torito catalog of the descriptor set at `first` to `format`
/// (any reader's tree, e.g. the UDF tree of a bootable bridge disc): the
/// "El Torito" summary in `info`, [`Format::boot_images`], and the `[BOOT]`
/// directory when `boot_dir`. An image without a catalog is returned as is.
pub(crate) fn add_boot_dir(
    source: &Arc<dyn ReadAt>,
    first: u64,
    format: Box<dyn Format>,
    mut info: VolumeInfo,
    boot_dir: bool,
) -> (Box<dyn Format>, VolumeInfo) {
    let boot = match boot_images(source, first, &*format) {
        Ok(b) => b,
        Err(e) => {
            log::warn!("{e}");
            info.extra.retain(|(k, _)| *k != "El Torito");
            info.extra.push(("El Torito", format!("unreadable: {e}")));
            Vec::new()
        }
    };
    if boot.is_empty() {
        return (format, info);
    }
    let entries: Vec<_> = boot.iter().map(|b| b.entry.clone()).collect();
    let sizes: Vec<u64> = boot.iter().map(|b| b.size).collect();
    info.extra.retain(|(k, _)| *k != "El Torito");
    info.extra
        .push(("El Torito", el_torito::summary(&entries, &sizes)));
    let mtime = info.created.unwrap_or(Timestamp::EPOCH);
    let fs = BootDirFs::new(format, boot, mtime, boot_dir);
    (Box::new(fs), info)
}

/// [`add_boot_dir`] for the default (last) session's descriptor set.
pub(crate) fn add_boot_dir_default(
    source: &Arc<dyn ReadAt>,
    format: Box<dyn Format>,
    info: VolumeInfo,
    boot_dir: bool,
) -> (Box<dyn Format>, VolumeInfo) {
    add_boot_dir(
        source,
        volume_descriptor::FIRST_SECTOR,
        format,
        info,
        boot_dir,
    )
}

use el_torito::BootImage;

/// Reads the El Torito catalog of the descriptor set at `first` and sizes
/// its images: floppy emulation has fixed sizes (1.2M, 1.44M, 2.88M);
/// hard disk emulation takes the end of the last partition of the image's
/// MBR; no emulation is sector count x 512, except that an entry with a
/// count of 0 or 1 (EFI images are often given so) takes the size of the
/// file in the tree that starts at its load RBA when there is one. Every
/// size is clipped to the end of the image, as 7-Zip does.
fn boot_images(src: &Arc<dyn ReadAt>, first: u64, fs: &dyn Format) -> Result<Vec<BootImage>> {
    let Some(lba) = el_torito::find_catalog(&**src, first)? else {
        return Ok(Vec::new());
    };
    let entries = el_torito::read_catalog(&**src, lba)?;
    let len = src.len();
    let mut out = Vec::new();
    for e in entries {
        let start = u64::from(e.load_rba) * 2048;
        if start >= len {
            log::warn!(
                "El Torito boot image at LBA {} lies past the end of the image",
                e.load_rba
            );
            continue;
        }
        let counted = u64::from(e.sector_count) * 512;
        let size = match e.media {
            el_torito::BootMedia::HardDisk => {
                let mut mbr = vec![0u8; 512];
                match src.read_exact_at(start, &mut mbr) {
                    Ok(()) => el_torito::mbr_size(&mbr).unwrap_or(counted),
                    Err(_) => counted,
                }
            }
            el_torito::BootMedia::NoEmulation if e.sector_count <= 1 => {
                file_size_at(fs, start).unwrap_or(counted.max(512))
            }
            m => m.floppy_size().unwrap_or(counted),
        };
        out.push(BootImage {
            entry: e,
            name: String::new(),
            size: size.min(len - start),
        });
    }
    // 7-Zip's names: "Boot-NoEmul.img", numbered "1-Boot-NoEmul.img", ...
    // when the catalog lists several images.
    let several = out.len() > 1;
    for (i, b) in out.iter_mut().enumerate() {
        let stem = b.entry.media.file_stem();
        b.name = if several {
            format!("{}-{stem}.img", i + 1)
        } else {
            format!("{stem}.img")
        };
    }
    Ok(out)
}

/// The size of a regular file whose data starts at byte `start` (a bounded
/// breadth-first walk of the tree: at most 4096 directories).
fn file_size_at(fs: &dyn Format, start: u64) -> Option<u64> {
    let mut dirs = std::collections::VecDeque::from([fs.root().ok()?]);
    let mut seen = 0;
    while let Some(dir) = dirs.pop_front() {
        seen += 1;
        if seen > 4096 {
            break;
        }
        let Ok(list) = fs.read_dir(&dir) else {
            continue;
        };
        for (_, n) in list.entries {
            match n.attr.kind {
                FileType::Directory => dirs.push_back(n),
                FileType::Regular => {
                    if let Some(Extent::Recorded { start: s, .. }) = n.data.extents().first() {
                        if *s == start {
                            return Some(n.attr.size);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    None
}

/// Name of the virtual directory holding the boot images (as 7-Zip).
pub const BOOT_DIR: &str = "[BOOT]";

/// A view with the virtual `[BOOT]` directory added to its root.
///
/// Node ids cannot collide with real ones: the directory's id is the
/// catalog's first byte offset + 1 and each image's the byte offset of its
/// catalog entry; both lie inside the boot catalog's sector, where no
/// directory record or directory extent can be.
struct BootDirFs {
    inner: Box<dyn Format>,
    images: Vec<BootImage>,
    /// Show the `[BOOT]` directory (else only [`Format::boot_images`]).
    show: bool,
    dir: NodeInfo,
    files: Vec<(String, NodeInfo)>,
    /// The collision with a real `[BOOT]` was logged.
    warned: std::sync::atomic::AtomicBool,
}

impl BootDirFs {
    fn new(inner: Box<dyn Format>, images: Vec<BootImage>, mtime: Timestamp, show: bool) -> Self {
        let catalog = images
            .first()
            .map_or(0, |b| b.entry.entry_offset.saturating_sub(32));
        let attrs = |kind, size, id| Attributes {
            kind,
            size,
            allocated: size,
            mode: if kind == FileType::Directory {
                0o555
            } else {
                0o444
            },
            nlink: if kind == FileType::Directory { 2 } else { 1 },
            uid: 0,
            gid: 0,
            rdev: None,
            mtime,
            atime: None,
            ctime: None,
            crtime: None,
            hidden: false,
            inode: id,
        };
        let files = images
            .iter()
            .map(|b| {
                let name = b.name.clone();
                let id = b.entry.entry_offset;
                let start = u64::from(b.entry.load_rba) * 2048;
                (
                    name,
                    NodeInfo {
                        id: NodeId(id),
                        attr: attrs(FileType::Regular, b.size, id),
                        data: FileData::new([Extent::Recorded { start, len: b.size }]),
                        link_target: None,
                    },
                )
            })
            .collect();
        let dir_id = catalog + 1;
        BootDirFs {
            inner,
            images,
            show,
            dir: NodeInfo {
                id: NodeId(dir_id),
                attr: attrs(FileType::Directory, 0, dir_id),
                data: FileData::empty(),
                link_target: None,
            },
            files,
            warned: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

impl Format for BootDirFs {
    fn view(&self) -> View {
        self.inner.view()
    }

    fn root(&self) -> Result<NodeInfo> {
        self.inner.root()
    }

    fn read_dir(&self, dir: &NodeInfo) -> Result<DirContents> {
        if !self.show {
            return self.inner.read_dir(dir);
        }
        if dir.id == self.dir.id && dir.attr.kind == FileType::Directory {
            return Ok(DirContents {
                entries: self.files.clone(),
                problems: Vec::new(),
            });
        }
        let mut out = self.inner.read_dir(dir)?;
        if dir.id == self.inner.root()?.id {
            if out.entries.iter().any(|(n, _)| n == BOOT_DIR) {
                if !self.warned.swap(true, std::sync::atomic::Ordering::Relaxed) {
                    log::warn!("the image has a real {BOOT_DIR} entry; boot images not shown");
                }
            } else {
                out.entries.push((BOOT_DIR.to_string(), self.dir.clone()));
            }
        }
        Ok(out)
    }

    fn boot_images(&self) -> Vec<BootImage> {
        self.images.clone()
    }
}

/// Opens the ISO 9660 side of an image and picks a view: `want` if given
/// (error [`Error::ViewUnavailable`] if absent), else Rock Ridge, then Joliet,
/// then plain ISO 9660.
pub fn open(source: Arc<dyn ReadAt>, want: Option<View>) -> Result<(Box<dyn Format>, VolumeInfo)> {
    open_at(source, want, volume_descriptor::FIRST_SECTOR)
}

/// [`open`] for the descriptor set that starts at sector `first`.
fn open_at(
    source: Arc<dyn ReadAt>,
    want: Option<View>,
    first: u64,
) -> Result<(Box<dyn Format>, VolumeInfo)> {
    let set = volume_descriptor::read_set_from(&*source, first)?;
    let pvd = &set.primary;
    let image_len = source.len();
    let reader = Reader {
        src: Arc::clone(&source),
        image_len,
        block_size: pvd.block_size,
    };

    // The root's "." record carries the SUSP SP entry (IEEE P1281 5.3).
    let root_start = pvd.root.data_start(pvd.block_size);
    if root_start >= image_len {
        return Err(Error::Truncated {
            structure: "root directory",
            at: Location::sector(u64::from(pvd.root.extent)),
            image_len,
        });
    }
    let root_dot = directory::first_record(
        &|o, l| reader.read(o, l),
        image_len,
        root_start,
        pvd.block_size,
    );
    let susp_info = match &root_dot {
        Ok(dot) => {
            let at = Location::at(root_start / u64::from(pvd.block_size), 0);
            match susp::detect(&dot.system_use, pvd.block_size, at, &|o, l| {
                reader.read(o, l)
            }) {
                Ok(info) => info,
                Err(e) => {
                    log::warn!("{e}; Rock Ridge not used");
                    None
                }
            }
        }
        Err(e) => {
            log::warn!("root directory: {e}");
            None
        }
    };

    let mut views = Vec::new();
    if susp_info.is_some() {
        views.push(View::RockRidge);
    }
    if set.joliet.is_some() {
        views.push(View::Joliet);
    }
    views.push(View::Iso9660);
    let view = match want {
        Some(v) if views.contains(&v) => v,
        Some(v) => return Err(Error::ViewUnavailable(v)),
        // Never empty: the ISO 9660 view is always there.
        None => views.first().copied().unwrap_or(View::Iso9660),
    };

    let mut extra: Vec<(&'static str, String)> = Vec::new();
    if let Some(j) = &set.joliet {
        extra.push((
            "Joliet level",
            j.joliet_level.map(|l| l.to_string()).unwrap_or_default(),
        ));
    }
    if let Some(info) = &susp_info {
        let ext = if info.extensions.is_empty() {
            "yes".to_string()
        } else {
            info.extensions.join(", ")
        };
        extra.push(("Rock Ridge", ext));
    }
    if set.el_torito {
        extra.push(("El Torito", "boot record present".into()));
    }
    let declared = u64::from(pvd.volume_blocks) * u64::from(pvd.block_size);
    if declared > image_len {
        extra.push((
            "warning",
            format!(
                "image is {image_len} bytes but the volume declares {declared} (truncated image?)"
            ),
        ));
    }
    for w in &set.warnings {
        extra.push(("warning", w.clone()));
    }

    let label = set
        .joliet
        .as_ref()
        .map(|j| j.volume_id.clone())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| pvd.volume_id.clone());
    let info = VolumeInfo {
        format: "ISO 9660".into(),
        view: Some(view),
        views,
        label,
        ids: pvd
            .ids
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .cloned()
            .collect(),
        block_size: pvd.block_size,
        volume_blocks: u64::from(pvd.volume_blocks),
        image_size: image_len,
        created: pvd.created,
        modified: pvd.modified,
        expires: pvd.expires,
        effective: pvd.effective,
        extra,
    };

    let (root_rec, block_size, susp_info) = match view {
        View::Joliet => {
            let j = set.joliet.as_ref().ok_or(Error::ViewUnavailable(view))?;
            (j.root.clone(), j.block_size, None)
        }
        View::RockRidge => (pvd.root.clone(), pvd.block_size, susp_info),
        _ => (pvd.root.clone(), pvd.block_size, None),
    };
    let reader = Reader {
        block_size,
        ..reader
    };
    let mut fs = IsoFs {
        reader,
        view,
        susp: susp_info,
        root: NodeInfo {
            id: NodeId(0),
            attr: plain_attributes(&root_rec, FileType::Directory, 0, 0, 0),
            data: FileData::empty(),
            link_target: None,
        },
    };
    fs.root = fs.root_info(&root_rec, root_dot.ok())?;
    Ok((Box::new(fs), info))
}

/// Bounds-checked reads of image bytes through the block cache.
struct Reader {
    src: Arc<dyn ReadAt>,
    image_len: u64,
    block_size: u32,
}

impl Reader {
    /// Reads exactly `len` bytes at `off`, or a typed error.
    fn read(&self, off: u64, len: usize) -> Result<Vec<u8>> {
        let end = off.checked_add(len as u64);
        if len > MAX_READ || end.is_none_or(|e| e > self.image_len) {
            return Err(Error::Truncated {
                structure: "metadata",
                at: Location::sector(off / u64::from(self.block_size)),
                image_len: self.image_len,
            });
        }
        let mut buf = vec![0u8; len];
        self.src
            .read_exact_at(off, &mut buf)
            .map_err(|e| Error::io(off, len, e))?;
        Ok(buf)
    }
}

/// The ISO 9660 reader for one view.
struct IsoFs {
    reader: Reader,
    view: View,
    /// Set in the Rock Ridge view only.
    susp: Option<SuspInfo>,
    root: NodeInfo,
}

/// Attributes of a record without extensions, as Linux isofs shows them
/// without Rock Ridge: directories 0o555 with 2 links, files 0o444.
fn plain_attributes(
    rec: &DirectoryRecord,
    kind: FileType,
    size: u64,
    allocated: u64,
    id: u64,
) -> Attributes {
    let dir = kind == FileType::Directory;
    Attributes {
        kind,
        size,
        allocated,
        mode: if dir { 0o555 } else { 0o444 },
        nlink: if dir { 2 } else { 1 },
        uid: 0,
        gid: 0,
        rdev: None,
        mtime: rec.recorded.unwrap_or(Timestamp::EPOCH),
        atime: None,
        ctime: None,
        crtime: None,
        hidden: rec.is_hidden(),
        inode: id,
    }
}

fn round_up(len: u64, bs: u32) -> u64 {
    let bs = u64::from(bs);
    len.div_ceil(bs) * bs
}

impl IsoFs {
    fn bs(&self) -> u32 {
        self.reader.block_size
    }

    fn loc(&self, abs: u64) -> Location {
        let bs = u64::from(self.bs());
        Location::at(abs / bs, (abs % bs) as u32)
    }

    /// Rock Ridge entries of one record (only in the Rock Ridge view).
    fn rock_ridge(&self, su: &[u8], at: Location) -> Result<Option<RockRidge>> {
        let Some(info) = &self.susp else {
            return Ok(None);
        };
        let rr = rock_ridge::parse(su, info, self.bs(), at, &|o, l| self.reader.read(o, l))?;
        Ok(Some(rr))
    }

    /// A directory node for a directory whose data starts at `start`
    /// (`rec` describes it: its parent's record or its own "." record).
    fn dir_info(&self, rec: &DirectoryRecord, rr: Option<&RockRidge>) -> NodeInfo {
        let start = rec.data_start(self.bs());
        let size = u64::from(rec.data_len);
        let mut attr = plain_attributes(
            rec,
            FileType::Directory,
            size,
            round_up(size, self.bs()),
            start,
        );
        if let Some(rr) = rr {
            apply_rr(&mut attr, rr);
        }
        NodeInfo {
            id: NodeId(start),
            attr,
            data: FileData::new([Extent::Recorded { start, len: size }]),
            link_target: None,
        }
    }

    /// The root node: from the descriptor's root record, with Rock Ridge
    /// attributes from the root's "." record in the Rock Ridge view.
    fn root_info(&self, root: &DirectoryRecord, dot: Option<DirectoryRecord>) -> Result<NodeInfo> {
        let mut rr = None;
        if self.susp.is_some() {
            if let Some(dot) = &dot {
                let at = self.loc(root.data_start(self.bs()));
                match self.rock_ridge(&dot.system_use, at) {
                    Ok(r) => rr = r,
                    Err(e) => log::warn!("root directory: {e}"),
                }
            }
        }
        Ok(self.dir_info(root, rr.as_ref()))
    }

    /// Turns one listed record into a named node; `Ok(None)` hides it
    /// (Rock Ridge RE: the relocated original of a CL entry).
    fn entry(&self, l: &Listed) -> Result<Option<(String, NodeInfo)>> {
        let rec = &l.record;
        // Directory identifiers carry no version number (ECMA-119 7.6).
        let plain_name = match (self.view, rec.is_dir()) {
            (View::Joliet, false) => joliet::joliet_name(&rec.name),
            (View::Joliet, true) => joliet::decode_ucs2(&rec.name),
            (_, false) => directory_record::iso_name(&rec.name),
            (_, true) => String::from_utf8_lossy(&rec.name).into_owned(),
        };
        let rr = self.rock_ridge(&rec.system_use, l.at)?;
        let Some(rr) = rr.filter(|r| r.found) else {
            return Ok(Some((plain_name, self.plain_info(l))));
        };
        if rr.relocated {
            return Ok(None);
        }
        let name = rr.name.clone().unwrap_or(plain_name);
        if let Some(block) = rr.child_link {
            return Ok(Some((name, self.relocated_dir(block, &rr, l.at)?)));
        }
        let mut info = self.plain_info(l);
        apply_rr(&mut info.attr, &rr);
        if rec.is_dir() {
            info.attr.kind = FileType::Directory;
        } else {
            let from_mode = rr.mode.and_then(FileType::from_mode);
            info.attr.kind = match from_mode {
                Some(FileType::Directory) | None => FileType::Regular,
                Some(k) => k,
            };
            if rr.symlink.is_some() {
                info.attr.kind = FileType::Symlink;
            }
            match info.attr.kind {
                FileType::Symlink => {
                    let target = rr.symlink.clone().unwrap_or_default();
                    info.attr.size = target.len() as u64;
                    info.data = FileData::empty();
                    info.link_target = Some(target);
                }
                FileType::Regular => {
                    if let Some(zf) = rr.zf {
                        info.data = zisofs::decoded(std::mem::take(&mut info.data), zf, l.at);
                        info.attr.size = zf.size;
                    }
                }
                _ => {
                    info.attr.size = 0;
                    info.data = FileData::empty();
                }
            }
            if !matches!(info.attr.kind, FileType::CharDevice | FileType::BlockDevice) {
                info.attr.rdev = None;
            }
            if let (Some(serial), Some(n)) = (rr.serial, rr.nlink) {
                if n > 1 {
                    info.attr.inode = (1 << 63) | serial;
                }
            }
        }
        Ok(Some((name, info)))
    }

    /// A Rock Ridge CL entry: the directory really lives at `block`
    /// (RRIP 4.1.5.1); its "." record gives size and attributes.
    fn relocated_dir(&self, block: u32, link: &RockRidge, at: Location) -> Result<NodeInfo> {
        let start = u64::from(block) * u64::from(self.bs());
        if start >= self.reader.image_len {
            return Err(Error::Truncated {
                structure: "relocated directory (Rock Ridge CL)",
                at,
                image_len: self.reader.image_len,
            });
        }
        let dot = directory::first_record(
            &|o, l| self.reader.read(o, l),
            self.reader.image_len,
            start,
            self.bs(),
        )?;
        if !dot.is_self() || !dot.is_dir() {
            return Err(Error::corrupt(
                "relocated directory (Rock Ridge CL)",
                self.loc(start),
                "child link does not point at a directory's \".\" record",
            ));
        }
        let rr = self
            .rock_ridge(&dot.system_use, self.loc(start))?
            .filter(|r| r.found);
        let mut info = self.dir_info(&dot, rr.as_ref());
        if rr.is_none() {
            apply_rr(&mut info.attr, link);
        }
        info.attr.kind = FileType::Directory;
        Ok(info)
    }

    /// The node for a listed record without extensions.
    fn plain_info(&self, l: &Listed) -> NodeInfo {
        let rec = &l.record;
        if rec.is_dir() {
            return self.dir_info(rec, None);
        }
        let data = FileData::new(l.sections.iter().copied());
        let attr = plain_attributes(rec, FileType::Regular, l.size(), l.allocated, l.offset);
        NodeInfo {
            id: NodeId(l.offset),
            attr,
            data,
            link_target: None,
        }
    }

    /// Lists a directory, returning raw contents (no rr_moved handling).
    fn list(&self, dir: &NodeInfo) -> Result<DirContents> {
        let mut out = DirContents::default();
        let Some(&Extent::Recorded { start, len }) = dir.data.extents().first() else {
            return Ok(out);
        };
        let walk = directory::walk(
            &|o, l| self.reader.read(o, l),
            self.reader.image_len,
            start,
            len,
            self.bs(),
        )?;
        out.problems = walk.problems;
        for l in &walk.entries {
            match self.entry(l) {
                Ok(Some(e)) => out.entries.push(e),
                Ok(None) => {}
                Err(e) => out.problems.push(e),
            }
        }
        Ok(out)
    }
}

/// Applies Rock Ridge PX / PN / TF to attributes (RRIP 4.1.1, 4.1.2, 4.1.6).
fn apply_rr(attr: &mut Attributes, rr: &RockRidge) {
    if let Some(mode) = rr.mode {
        attr.mode = mode & 0o7777;
    }
    if let Some(n) = rr.nlink {
        attr.nlink = n;
    }
    if let Some(u) = rr.uid {
        attr.uid = u;
    }
    if let Some(g) = rr.gid {
        attr.gid = g;
    }
    if rr.rdev.is_some() {
        attr.rdev = rr.rdev;
    }
    if let Some(t) = rr.mtime {
        attr.mtime = t;
    }
    attr.atime = rr.atime.or(attr.atime);
    attr.ctime = rr.ctime.or(attr.ctime);
    attr.crtime = rr.crtime.or(attr.crtime);
}

impl Format for IsoFs {
    fn view(&self) -> View {
        self.view
    }

    fn root(&self) -> Result<NodeInfo> {
        Ok(self.root.clone())
    }

    fn read_dir(&self, dir: &NodeInfo) -> Result<DirContents> {
        let mut out = self.list(dir)?;
        if self.susp.is_some() && dir.id == self.root.id {
            // RRIP: relocated directories sit in rr_moved; once their
            // originals (RE) are hidden an empty rr_moved is hidden too.
            let mut hide = Vec::new();
            for (i, (name, info)) in out.entries.iter().enumerate() {
                let n = name.to_ascii_lowercase();
                if info.attr.kind == FileType::Directory && (n == "rr_moved" || n == ".rr_moved") {
                    if let Ok(c) = self.list(info) {
                        if c.entries.is_empty() && c.problems.is_empty() {
                            hide.push(i);
                        }
                    }
                }
            }
            for i in hide.into_iter().rev() {
                out.entries.remove(i);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::MemSource;
    use directory_record::flags;
    use directory_record::tests::record;
    use volume_descriptor::tests::descriptor;

    /// A hand-built image (ECMA-119 6.2, 8, 9.1): PVD at 16, terminator at
    /// 17, root directory at 18, SUB at 19, file data from 20.
    fn image() -> Vec<u8> {
        let mut img = vec![0u8; 16 * 2048];
        img.extend(descriptor(1, b"HAND", 18, b""));
        let mut term = vec![0u8; 2048];
        term[0] = 255;
        term[1..6].copy_from_slice(b"CD001");
        img.extend(term);
        let mut root = Vec::new();
        for r in [
            record(18, 2048, flags::DIRECTORY, &[0], b""),
            record(18, 2048, flags::DIRECTORY, &[1], b""),
            record(20, 5, flags::HIDDEN, b"FILE.;1", b""),
            record(21, 2048, flags::MULTI_EXTENT, b"BIG;1", b""),
            record(22, 3, 0, b"BIG;1", b""),
            record(23, 1, flags::ASSOCIATED, b"FILE.;1", b""),
            record(19, 2048, flags::DIRECTORY, b"SUB", b""),
        ] {
            root.extend(r);
        }
        root.resize(2048, 0);
        img.extend(root);
        let mut sub = Vec::new();
        sub.extend(record(19, 2048, flags::DIRECTORY, &[0], b""));
        sub.extend(record(18, 2048, flags::DIRECTORY, &[1], b""));
        sub.resize(2048, 0);
        img.extend(sub);
        img.resize(24 * 2048, 0);
        img
    }

    #[test]
    fn views_and_entries() {
        let src: Arc<dyn ReadAt> = Arc::new(MemSource::new(image()));
        assert!(matches!(
            open(Arc::clone(&src), Some(View::Joliet)),
            Err(Error::ViewUnavailable(View::Joliet))
        ));
        let (fs, info) = open(src, None).unwrap();
        assert_eq!(fs.view(), View::Iso9660);
        assert_eq!(info.views, vec![View::Iso9660]);
        assert_eq!(info.label, "HAND");
        let root = fs.root().unwrap();
        assert_eq!(root.id, NodeId(18 * 2048));
        assert_eq!(root.attr.mode, 0o555);
        let list = fs.read_dir(&root).unwrap();
        assert!(list.problems.is_empty(), "{:?}", list.problems);
        let names: Vec<_> = list.entries.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["FILE", "BIG", "SUB"]);
        let (_, file) = &list.entries[0];
        // Id of a file: byte offset of its record (root extent + "." + "..").
        assert_eq!(file.id, NodeId(18 * 2048 + 68));
        assert!(file.attr.hidden);
        assert_eq!(file.attr.mode, 0o444);
        assert_eq!(file.attr.size, 5);
        assert_eq!(file.attr.inode, file.id.0);
        assert_eq!(file.attr.mtime.to_rfc3339(), "2026-05-03T10:20:30Z");
        let (_, big) = &list.entries[1];
        assert_eq!(big.attr.size, 2051);
        assert_eq!(big.attr.allocated, 4096);
        assert_eq!(big.data.extents().len(), 2);
        let (_, sub) = &list.entries[2];
        assert_eq!(sub.id, NodeId(19 * 2048));
        assert_eq!(sub.attr.kind, FileType::Directory);
        assert_eq!(sub.attr.nlink, 2);
        assert!(fs.read_dir(sub).unwrap().entries.is_empty());
    }

    #[test]
    fn small_logical_blocks() {
        // Logical block size 512 (ECMA-119 6.1.2): extents count 512-byte
        // blocks. Root at block 18 * 4, file data at block 20 * 4 + 1.
        let mut img = vec![0u8; 16 * 2048];
        let mut pvd = descriptor(1, b"SMALL", 72, b"");
        pvd[128..130].copy_from_slice(&512u16.to_le_bytes());
        pvd[130..132].copy_from_slice(&512u16.to_be_bytes());
        img.extend(pvd);
        let mut term = vec![0u8; 2048];
        term[0] = 255;
        term[1..6].copy_from_slice(b"CD001");
        img.extend(term);
        let mut root = Vec::new();
        root.extend(record(72, 512, flags::DIRECTORY, &[0], b""));
        root.extend(record(72, 512, flags::DIRECTORY, &[1], b""));
        root.extend(record(81, 4, 0, b"F;1", b""));
        root.resize(2048, 0);
        img.extend(root);
        img.resize(20 * 2048, 0);
        img.extend(b"\0\0\0\0");
        img.resize(20 * 2048 + 512, 0);
        img.extend(b"DATA");
        img.resize(21 * 2048, 0);
        let (fs, info) = open(Arc::new(MemSource::new(img)), None).unwrap();
        assert_eq!(info.block_size, 512);
        let root = fs.root().unwrap();
        assert_eq!(root.id, NodeId(18 * 2048));
        let list = fs.read_dir(&root).unwrap();
        assert!(list.problems.is_empty(), "{:?}", list.problems);
        let (name, f) = &list.entries[0];
        assert_eq!(name, "F");
        assert_eq!(
            f.data.extents(),
            [Extent::Recorded {
                start: 20 * 2048 + 512,
                len: 4
            }]
        );
        assert_eq!(f.attr.allocated, 512);
    }

    #[test]
    fn root_past_the_end_is_truncated() {
        let mut img = image();
        img.truncate(18 * 2048);
        let src: Arc<dyn ReadAt> = Arc::new(MemSource::new(img));
        assert!(matches!(open(src, None), Err(Error::Truncated { .. })));
    }
}
