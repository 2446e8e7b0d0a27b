//! UDF (ECMA-167 3rd edition, OSTA UDF 1.02-2.60).
//!
//! * `recognition`: volume recognition sequence, BEA01/NSR02/NSR03 (ECMA-167 2/9.1).
//! * `anchor`: anchor volume descriptor pointer and block size (3/10.2).
//! * `vds`: main and reserve volume descriptor sequences (3/8.4, 3/10).
//! * `partition`: partition maps: physical, sparable, virtual (VAT), metadata (UDF 2.2.8-2.2.12).
//! * `file_set`: file set descriptor (4/14.1).
//! * `icb`: file entries, extended file entries, indirect entries (4/14.6-14.9, 4/14.17).
//! * `alloc`: allocation descriptors and their continuations (4/14.5, 4/14.14).
//! * `fid`: file identifier descriptors, the entries of a directory (4/14.4).
//! * `symlink`: path components of symbolic links (4/14.16).
//! * `tag`, `cs0`, `timestamp`: descriptor tags (3/7.2), OSTA CS0 strings
//!   (UDF 2.1.1), timestamps (1/7.3).
//!
//! Node ids: the absolute byte offset in the image of a node's file entry
//! (after strategy-4096 indirect entries are followed), so hard links (FIDs
//! naming one ICB) share one id. `Attributes.inode` is the node id.

mod alloc;
mod anchor;
mod cs0;
mod disk;
mod fid;
mod file_set;
mod icb;
mod le;
mod partition;
mod recognition;
mod symlink;
mod tag;
mod timestamp;
mod vds;

use std::sync::Arc;

use crate::error::{Error, Location, Result};
use crate::format::{DirContents, Format, NodeInfo, View, VolumeInfo};
use crate::node::{Attributes, Extent, FileData, FileType, NodeId, Timestamp};
use crate::source::ReadAt;

use disk::{Disk, MAX_READ, read_data};
use icb::{Entry, LongAd};
use partition::Partitions;

/// Longest symbolic link content read.
const MAX_SYMLINK_BYTES: u64 = 64 * 1024;
/// uid/gid value meaning "not set" (4/14.9.3).
const UNSET_ID: u32 = u32::MAX;

/// Opens the UDF side of an image. `Ok(None)` when there is no UDF (no
/// NSR02/NSR03 in the volume recognition sequence and no valid anchor).
/// `Err` only when UDF is clearly there but unreadable.
pub fn open(source: Arc<dyn ReadAt>) -> Result<Option<(Box<dyn Format>, VolumeInfo)>> {
    let rec = recognition::scan(&*source);
    let anchor = match anchor::find(&*source) {
        Ok(a) => a,
        Err(why) => {
            let Some(nsr) = rec.nsr else {
                return Ok(None);
            };
            let detail = if why.is_empty() {
                String::new()
            } else {
                format!(" ({})", why.join("; "))
            };
            return Err(Error::corrupt(
                "anchor volume descriptor pointer",
                Location::sector(256),
                format!(
                    "the volume recognition sequence has NSR0{nsr} but no anchor verifies at \
                     sectors 256, N-1 or N-257 with block sizes 2048, 512, 1024, 4096{detail}"
                ),
            ));
        }
    };
    let disk = Disk::new(source, anchor.block_size);
    let mut extra: Vec<(&'static str, String)> = Vec::new();
    let (seq, vds_note) = vds::read(&disk, anchor.main, anchor.reserve)?;
    if let Some(n) = vds_note {
        extra.push(("Volume descriptors", n));
    }
    let lv = seq
        .logical
        .clone()
        .ok_or_else(|| Error::NotRecognized("UDF without a logical volume descriptor".into()))?;
    if !lv.domain.is_empty() && lv.domain != "*OSTA UDF Compliant" {
        extra.push(("Domain", lv.domain.clone()));
    }
    if lv.block_size != disk.bs {
        extra.push((
            "warning",
            format!(
                "logical volume declares {}-byte blocks; the anchor was found with {}",
                lv.block_size, disk.bs
            ),
        ));
    }
    let mut notes = partition::Notes::default();
    let mut parts = partition::build(&disk, &lv, &seq.partitions, &mut notes)?;
    let fsd_at = LongAd::parse(&lv.fsd);
    let (fset, root_entry) = match load_root(&disk, &parts, fsd_at) {
        Ok(r) => r,
        Err(e) if parts.has_metadata() && parts.use_metadata_mirror() => {
            log::warn!("{e}; retrying through the metadata mirror file");
            notes
                .extra
                .push(("Metadata file", format!("mirror used: main damaged ({e})")));
            load_root(&disk, &parts, fsd_at)?
        }
        Err(e) => return Err(e),
    };

    let revision = if lv.udf_revision != 0 {
        lv.udf_revision
    } else if rec.nsr == Some(3) {
        0x0200
    } else {
        0x0102
    };
    let revision = format!("{}.{:02x}", revision >> 8, revision & 0xff);
    extra.insert(0, ("UDF revision", revision.clone()));
    extra.insert(
        1,
        (
            "Partition maps",
            partition::describe(&parts, notes.vat_form),
        ),
    );
    if anchor.sector != 256 {
        extra.push(("Anchor", format!("sector {}", anchor.sector)));
    }
    extra.extend(notes.extra);

    let pvd = seq.primary.clone().unwrap_or_default();
    let label = if lv.id.is_empty() {
        pvd.volume_id.clone()
    } else {
        lv.id.clone()
    };
    let ids: Vec<(&'static str, String)> = [
        ("volume_id", pvd.volume_id.clone()),
        ("volume_set_id", pvd.volume_set_id.clone()),
        ("logical_volume_id", lv.id.clone()),
        ("file_set_id", fset.file_set_id.clone()),
        (
            "implementation_id",
            if pvd.implementation_id.is_empty() {
                lv.implementation_id.clone()
            } else {
                pvd.implementation_id.clone()
            },
        ),
        ("application_id", pvd.application_id.clone()),
    ]
    .into_iter()
    .filter(|(_, v)| !v.is_empty())
    .collect();

    let fs = UdfFs {
        disk: disk.clone(),
        parts,
        root: NodeInfo {
            id: NodeId(0),
            attr: placeholder_attr(),
            data: FileData::empty(),
            link_target: None,
        },
    };
    let root = fs.node_info(&root_entry, false)?;
    if root.attr.kind != FileType::Directory {
        return Err(Error::corrupt(
            "file set descriptor",
            root_entry.at(&disk),
            "the root ICB is not a directory",
        ));
    }
    let fs = UdfFs { root, ..fs };
    let info = VolumeInfo {
        format: format!("UDF {revision}"),
        view: Some(View::Udf),
        views: vec![View::Udf],
        label,
        ids,
        block_size: disk.bs,
        volume_blocks: disk.blocks(),
        image_size: disk.len,
        created: pvd.recorded.or(fset.recorded),
        modified: None,
        expires: None,
        effective: None,
        extra,
    };
    Ok(Some((Box::new(fs), info)))
}

/// File set descriptor and the root directory's entry.
fn load_root(
    disk: &Disk,
    parts: &Partitions,
    fsd_at: LongAd,
) -> Result<(file_set::FileSet, Entry)> {
    let fset = file_set::read(disk, parts, fsd_at)?;
    let root = icb::read_entry(disk, parts, fset.root.part, fset.root.lbn)?;
    Ok((fset, root))
}

fn placeholder_attr() -> Attributes {
    Attributes {
        kind: FileType::Directory,
        size: 0,
        allocated: 0,
        mode: 0,
        nlink: 1,
        uid: 0,
        gid: 0,
        rdev: None,
        mtime: Timestamp::EPOCH,
        atime: None,
        ctime: None,
        crtime: None,
        hidden: false,
        inode: 0,
    }
}

/// The UDF reader.
struct UdfFs {
    disk: Disk,
    parts: Partitions,
    root: NodeInfo,
}

impl UdfFs {
    /// The node a file entry describes.
    fn node_info(&self, e: &Entry, hidden: bool) -> Result<NodeInfo> {
        let kind = e.kind(&self.disk)?;
        let at = e.at(&self.disk);
        let mut data = match kind {
            FileType::Regular | FileType::Directory | FileType::Symlink => {
                partition::entry_data(&self.disk, &self.parts, e)?
            }
            _ => FileData::empty(),
        };
        let mut link_target = None;
        let size = match kind {
            FileType::Symlink => {
                let bytes = read_data(&self.disk, &data, MAX_SYMLINK_BYTES, "symbolic link", at)?;
                let t = symlink::target(&bytes, at)?;
                data = FileData::empty();
                let n = t.len() as u64;
                link_target = Some(t);
                n
            }
            FileType::Regular | FileType::Directory => e.info_len,
            _ => 0,
        };
        let rdev = matches!(kind, FileType::CharDevice | FileType::BlockDevice)
            .then(|| e.device().unwrap_or_default());
        let unset = |id: u32| if id == UNSET_ID { 0 } else { id };
        let attr = Attributes {
            kind,
            size,
            allocated: e.blocks_recorded.saturating_mul(self.disk.bs64()),
            mode: e.mode(),
            nlink: u32::from(e.links).max(1),
            uid: unset(e.uid),
            gid: unset(e.gid),
            rdev,
            mtime: e.mtime.unwrap_or(Timestamp::EPOCH),
            atime: e.atime,
            ctime: e.attr_time,
            crtime: e.crtime,
            hidden,
            inode: e.abs,
        };
        Ok(NodeInfo {
            id: NodeId(e.abs),
            attr,
            data,
            link_target,
        })
    }

    /// Where byte `off` of a directory's content sits in the image.
    fn content_loc(&self, data: &FileData, off: usize) -> Location {
        match data.map(off as u64, 1).next() {
            Some((Extent::Recorded { start, .. }, within, _)) => self.disk.loc(start + within),
            _ => Location::sector(0),
        }
    }
}

/// Prefixes the entry's name to a corrupt-structure error.
fn for_entry(e: Error, name: &str) -> Error {
    match e {
        Error::Corrupt {
            structure,
            at,
            reason,
        } => Error::Corrupt {
            structure,
            at,
            reason: format!("entry {name:?}: {reason}"),
        },
        e => e,
    }
}

impl Format for UdfFs {
    fn view(&self) -> View {
        View::Udf
    }

    fn root(&self) -> Result<NodeInfo> {
        Ok(self.root.clone())
    }

    fn read_dir(&self, dir: &NodeInfo) -> Result<DirContents> {
        let mut out = DirContents::default();
        let mut data = dir.data.clone();
        let dir_at = self.disk.loc(dir.id.0);
        if data.len() > MAX_READ as u64 {
            out.problems.push(Error::corrupt(
                "directory",
                dir_at,
                format!(
                    "directory claims {} bytes; only the first {MAX_READ} are read",
                    data.len()
                ),
            ));
            data.truncate(MAX_READ as u64);
        }
        let bytes = read_data(&self.disk, &data, MAX_READ as u64, "directory", dir_at)?;
        let walk = fid::walk(&bytes, &|o| self.content_loc(&data, o));
        out.problems.extend(walk.problems);
        for f in walk.entries {
            if f.characteristics & fid::chars::METADATA != 0 {
                continue;
            }
            let says_dir = f.characteristics & fid::chars::DIRECTORY != 0;
            let node = icb::read_entry(&self.disk, &self.parts, f.icb.part, f.icb.lbn)
                .and_then(|e| self.node_info(&e, f.hidden()));
            match node {
                Ok(n) => {
                    if says_dir != (n.attr.kind == FileType::Directory) {
                        log::debug!(
                            "entry {:?}: directory bit of its identifier disagrees with its file entry",
                            f.name
                        );
                    }
                    out.entries.push((f.name, n));
                }
                Err(e) => out.problems.push(for_entry(e, &f.name)),
            }
        }
        Ok(out)
    }
}
