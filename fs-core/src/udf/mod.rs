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
//!
//! A library user opens images with [`crate::Volume`]. [`open`] is the
//! format-level entry point (a [`Format`] for [`crate::Volume::with_format`]),
//! public for the workspace's tests; it may change in any release.

pub(crate) mod alloc;
pub(crate) mod anchor;
pub(crate) mod check;
mod cs0;
pub(crate) mod disk;
pub(crate) mod fid;
pub(crate) mod file_set;
pub(crate) mod icb;
mod le;
pub(crate) mod partition;
pub(crate) mod recognition;
pub(crate) mod symlink;
pub(crate) mod tag;
mod timestamp;
pub(crate) mod vds;

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
    let lv_id = notes.vat_volume_id.take().unwrap_or_else(|| lv.id.clone());
    let label = if lv_id.is_empty() {
        pvd.volume_id.clone()
    } else {
        lv_id.clone()
    };
    let ids: Vec<(&'static str, String)> = [
        ("volume_id", pvd.volume_id.clone()),
        ("volume_set_id", pvd.volume_set_id.clone()),
        ("logical_volume_id", lv_id),
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

    let root = node_info(&disk, &parts, &root_entry, false)?;
    if root.attr.kind != FileType::Directory {
        return Err(Error::corrupt(
            "file set descriptor",
            root_entry.at(&disk),
            "the root ICB is not a directory",
        ));
    }
    let fs = UdfFs {
        disk: disk.clone(),
        mirror: parts.mirrored(),
        parts,
        root,
    };
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
        modified: vds::last_written(&disk, lv.integrity),
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

/// The UDF reader.
struct UdfFs {
    disk: Disk,
    parts: Partitions,
    /// The partitions read through the metadata mirror file (UDF 2.2.13.1),
    /// for entries and directories damaged in the main metadata file.
    mirror: Option<Partitions>,
    root: NodeInfo,
}

/// The node a file entry describes.
pub(crate) fn node_info(
    disk: &Disk,
    parts: &Partitions,
    e: &Entry,
    hidden: bool,
) -> Result<NodeInfo> {
    let kind = e.kind(disk)?;
    let at = e.at(disk);
    let mut data = match kind {
        FileType::Regular | FileType::Directory | FileType::Symlink => {
            partition::entry_data(disk, parts, e)?
        }
        _ => FileData::empty(),
    };
    let mut link_target = None;
    let size = match kind {
        FileType::Symlink => {
            let bytes = read_data(disk, &data, MAX_SYMLINK_BYTES, "symbolic link", at)?;
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
    // UDF counts the FIDs naming a node (4/14.9.6): for a directory its
    // parent's entry and its subdirectories' parent entries, but no
    // "." entry. Like Linux, add that one so directories look POSIX
    // (2 + subdirectories).
    let links = u32::from(e.links).max(1);
    let nlink = if kind == FileType::Directory {
        links + 1
    } else {
        links
    };
    let attr = Attributes {
        kind,
        size,
        allocated: e.blocks_recorded.saturating_mul(disk.bs64()),
        mode: e.mode(),
        nlink,
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

impl UdfFs {
    /// Walks a directory's copy in the metadata mirror file, if it has one.
    fn mirror_walk(&self, data: &FileData) -> Option<fid::Walk> {
        let alt = self.mirror.as_ref()?;
        let copy = self.parts.to_mirror(alt, data)?;
        let bytes = read_data(
            &self.disk,
            &copy,
            MAX_READ as u64,
            "directory",
            Location::sector(0),
        )
        .ok()?;
        Some(fid::walk(&bytes, &|o| self.content_loc(&copy, o)))
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
        let main = read_data(&self.disk, &data, MAX_READ as u64, "directory", dir_at)
            .map(|bytes| fid::walk(&bytes, &|o| self.content_loc(&data, o)));
        let damaged = main.as_ref().map_or(true, |w| !w.problems.is_empty());
        let walk = match self.mirror_walk(&data).filter(|_| damaged) {
            Some(w) if w.problems.is_empty() => {
                log::warn!("directory at {dir_at}: damaged; read from the metadata mirror file");
                w
            }
            _ => main?,
        };
        out.problems.extend(walk.problems);
        for f in walk.entries {
            if f.characteristics & fid::chars::METADATA != 0 {
                continue;
            }
            let says_dir = f.characteristics & fid::chars::DIRECTORY != 0;
            let read = |parts: &Partitions| {
                icb::read_entry(&self.disk, parts, f.icb.part, f.icb.lbn)
                    .and_then(|e| node_info(&self.disk, parts, &e, f.hidden()))
            };
            let node = match (read(&self.parts), &self.mirror) {
                (Err(e), Some(alt)) => read(alt)
                    .inspect(|_| {
                        log::warn!(
                            "entry {:?}: {e}; read from the metadata mirror file",
                            f.name
                        )
                    })
                    .map_err(|_| e),
                (r, _) => r,
            };
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::MemSource;
    use tag::ident;

    pub(super) const BS: usize = 2048;
    /// First sector of the physical partition.
    pub(super) const PART: usize = 300;

    /// An ICB: file entry, or extended file entry when `efe`.
    struct Icb<'a> {
        efe: bool,
        file_type: u8,
        flags: u16,
        links: u16,
        info_len: u64,
        ea: &'a [u8],
        ads: &'a [u8],
    }

    impl Icb<'_> {
        fn build(&self, lbn: u32) -> Vec<u8> {
            let mut b = vec![0u8; BS];
            let base = if self.efe { 216 } else { 176 };
            b[20..22].copy_from_slice(&4u16.to_le_bytes());
            b[27] = self.file_type;
            b[34..36].copy_from_slice(&self.flags.to_le_bytes());
            b[36..40].copy_from_slice(&1000u32.to_le_bytes());
            b[40..44].copy_from_slice(&u32::MAX.to_le_bytes());
            // owner rwx, group r-x, other r--  (4/14.9.5)
            let perms: u32 = 0x4 | (0x5 << 5) | (0x7 << 10) | (0x18 << 10);
            b[44..48].copy_from_slice(&perms.to_le_bytes());
            b[48..50].copy_from_slice(&self.links.to_le_bytes());
            b[56..64].copy_from_slice(&self.info_len.to_le_bytes());
            let mtime = timestamp::build(-300, 1960, 7, 4, 10, 20, 30, 0);
            let crtime = timestamp::build(0, 2040, 1, 1, 0, 0, 0, 0);
            if self.efe {
                b[92..104].copy_from_slice(&mtime);
                b[104..116].copy_from_slice(&crtime);
            } else {
                b[84..96].copy_from_slice(&mtime);
            }
            let l = if self.efe { 208 } else { 168 };
            b[l..l + 4].copy_from_slice(&(self.ea.len() as u32).to_le_bytes());
            b[l + 4..l + 8].copy_from_slice(&(self.ads.len() as u32).to_le_bytes());
            b[base..base + self.ea.len()].copy_from_slice(self.ea);
            let a = base + self.ea.len();
            b[a..a + self.ads.len()].copy_from_slice(self.ads);
            let id = if self.efe { ident::EFE } else { ident::FE };
            tag::write(&mut b, id, lbn, a + self.ads.len() - 16);
            b
        }
    }

    fn icb(file_type: u8, flags: u16, info_len: u64, ads: &[u8]) -> Icb<'_> {
        Icb {
            efe: false,
            file_type,
            flags,
            links: 1,
            info_len,
            ea: &[],
            ads,
        }
    }

    fn put(img: &mut [u8], sector: usize, b: &[u8]) {
        img[sector * BS..sector * BS + b.len()].copy_from_slice(b);
    }

    fn vsd(id: &[u8; 5]) -> Vec<u8> {
        let mut b = vec![0u8; BS];
        b[1..6].copy_from_slice(id);
        b[6] = 1;
        b
    }

    fn path_component(kind: u8, name: &str) -> Vec<u8> {
        let mut id = Vec::new();
        if !name.is_empty() {
            id.push(8);
            id.extend(name.bytes());
        }
        let mut v = vec![kind, id.len() as u8, 0, 0];
        v.extend(id);
        v
    }

    /// A UDF 2.50 volume with a metadata partition (UDF 2.2.10) and its
    /// mirror, exercising every kind of entry. Metadata block k lives at
    /// physical block 10 + k (main) and 40 + k (mirror).
    pub(super) fn metadata_image() -> Vec<u8> {
        let mut img = vec![0u8; 600 * BS];
        for (i, id) in [b"BEA01", b"NSR03", b"TEA01"].iter().enumerate() {
            put(&mut img, 16 + i, &vsd(id));
        }
        let mut meta_map = vec![0u8; 64];
        meta_map[0] = 2;
        meta_map[1] = 64;
        meta_map[5..28].copy_from_slice(b"*UDF Metadata Partition");
        meta_map[38..40].copy_from_slice(&0u16.to_le_bytes());
        meta_map[40..44].copy_from_slice(&0u32.to_le_bytes());
        meta_map[44..48].copy_from_slice(&1u32.to_le_bytes());
        meta_map[48..52].copy_from_slice(&u32::MAX.to_le_bytes());
        for base in [32u32, 48] {
            put(
                &mut img,
                base as usize,
                &vds::build::pvd(BS, base, "META_PVD"),
            );
            put(
                &mut img,
                base as usize + 1,
                &vds::build::pd(BS, base + 1, 0, PART as u32, 280),
            );
            let mut lvd = vds::build::lvd(
                BS,
                base + 2,
                "Meta Volume",
                &[vds::build::map1(0), meta_map.clone()],
                0,
            );
            // FSD in the metadata partition (reference 1), UDF 2.50.
            lvd[240..242].copy_from_slice(&0x0250u16.to_le_bytes());
            lvd[256..258].copy_from_slice(&1u16.to_le_bytes());
            let crc_len = 440 + 6 + 64 - 16;
            tag::write(&mut lvd, ident::LVD, base + 2, crc_len);
            put(&mut img, base as usize + 2, &lvd);
            put(&mut img, base as usize + 3, &vds::build::td(BS, base + 3));
        }
        put(
            &mut img,
            256,
            &anchor::build(BS, 256, (16 * BS as u32, 32), (16 * BS as u32, 48)),
        );

        // Metadata file and mirror: 20 blocks each.
        let meta_ads = alloc::build::short(0, 20 * BS as u32, 10);
        put(
            &mut img,
            PART,
            &icb(icb::file_type::METADATA, 0, 20 * BS as u64, &meta_ads).build(0),
        );
        let mirror_ads = alloc::build::short(0, 20 * BS as u32, 40);
        put(
            &mut img,
            PART + 1,
            &icb(
                icb::file_type::METADATA_MIRROR,
                0,
                20 * BS as u64,
                &mirror_ads,
            )
            .build(1),
        );

        // Metadata partition content, block k.
        let mut meta: Vec<Vec<u8>> = vec![vec![0u8; BS]; 20];
        meta[0] = file_set::build(BS, 0, 1, 1);
        // Root directory: FIDs over metadata blocks 2-3 (straddling).
        let mut dir = fid::build(fid::chars::PARENT | fid::chars::DIRECTORY, 1, 1, "", 0);
        let fids: Vec<(u8, u32, &str)> = vec![
            (0, 4, "hello.txt"),
            (0, 5, "link"),
            (0, 6, "hard1"),
            (0, 6, "hard2"),
            (fid::chars::DIRECTORY, 10, "sub"),
            (fid::chars::DELETED, 11, "gone"),
            (0, 8, "dev"),
            (0, 9, "huge"),
            (0, 12, "broken"),
        ];
        for (c, lbn, name) in fids {
            dir.extend(fid::build(c, lbn, 1, name, 0));
        }
        // A hidden entry with a 16-bit name and an implementation use area.
        let mut f = fid::build(fid::chars::HIDDEN, 7, 1, "", 32);
        let mut name = vec![16u8];
        for u in "Ωmega".encode_utf16() {
            name.extend(u.to_be_bytes());
        }
        f.truncate(38 + 32);
        f[19] = name.len() as u8;
        f.extend(&name);
        f.resize(f.len().next_multiple_of(4), 0);
        let n = f.len();
        tag::write(&mut f, ident::FID, 0, n - 16);
        dir.extend(f);
        // Fillers so that the directory crosses into block 3.
        for i in 0..40 {
            dir.extend(fid::build(0, 4, 1, &format!("filler-{i:02}"), 0));
        }
        assert!(dir.len() > BS && dir.len() < 2 * BS);
        let dir_len = dir.len();
        dir.resize(2 * BS, 0);
        meta[2] = dir[..BS].to_vec();
        meta[3] = dir[BS..].to_vec();
        let root_ads = alloc::build::short(0, dir_len as u32, 2);
        meta[1] = Icb {
            efe: true,
            links: 3,
            ..icb(icb::file_type::DIRECTORY, 0, dir_len as u64, &root_ads)
        }
        .build(1);
        // hello.txt: data embedded in the ICB.
        meta[4] = icb(icb::file_type::FILE, 3, 15, b"Hello, embedded").build(4);
        // link -> /sub/../x: path components embedded.
        let target = [
            path_component(2, ""),
            path_component(5, "sub"),
            path_component(3, ""),
            path_component(5, "x"),
        ]
        .concat();
        meta[5] = icb(icb::file_type::SYMLINK, 3, target.len() as u64, &target).build(5);
        // hard1/hard2: one ICB, two links, data in the physical partition.
        let ads = alloc::build::long(0, 3000, 101, 0);
        meta[6] = Icb {
            links: 2,
            ..icb(icb::file_type::FILE, 1, 3000, &ads)
        }
        .build(6);
        meta[7] = icb(icb::file_type::FILE, 1, 0, &[]).build(7);
        // dev: character device 1:3 from a device specification EA.
        let mut ea = vec![0u8; 24];
        tag::write(&mut ea, ident::EAHD, 8, 8);
        let mut attr = vec![0u8; 24];
        attr[0..4].copy_from_slice(&12u32.to_le_bytes());
        attr[8..12].copy_from_slice(&24u32.to_le_bytes());
        attr[16..20].copy_from_slice(&1u32.to_le_bytes());
        attr[20..24].copy_from_slice(&3u32.to_le_bytes());
        ea.extend(attr);
        meta[8] = Icb {
            ea: &ea,
            ..icb(icb::file_type::CHAR_DEVICE, 1, 0, &[])
        }
        .build(8);
        // huge: one recorded block, then 5 x ~1 GiB not recorded: > 4 GiB.
        let gig = 0x3fff_f800u32;
        let mut ads = alloc::build::long(0, BS as u32, 100, 0);
        for _ in 0..5 {
            ads.extend(alloc::build::long(1, gig, 0, 0));
        }
        let huge = BS as u64 + 5 * u64::from(gig);
        meta[9] = Icb {
            efe: true,
            ..icb(icb::file_type::FILE, 1, huge, &ads)
        }
        .build(9);
        // sub: directory with its FIDs embedded in the ICB, setgid+sticky.
        let mut sub = fid::build(fid::chars::PARENT | fid::chars::DIRECTORY, 1, 1, "", 0);
        sub.extend(fid::build(0, 4, 1, "inner", 0));
        meta[10] = icb(
            icb::file_type::DIRECTORY,
            3 | icb::flags::SETGID | icb::flags::STICKY,
            sub.len() as u64,
            &sub,
        )
        .build(10);
        for (k, b) in meta.iter().enumerate() {
            put(&mut img, PART + 10 + k, b);
            put(&mut img, PART + 40 + k, b);
        }
        // File data in the physical partition.
        put(&mut img, PART + 100, &[0xabu8; BS]);
        let data: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
        put(&mut img, PART + 101, &data);
        img
    }

    fn open_mem(img: Vec<u8>) -> (Box<dyn Format>, VolumeInfo) {
        open(Arc::new(MemSource::new(img))).unwrap().unwrap()
    }

    fn listing(fs: &dyn Format, dir: &NodeInfo) -> DirContents {
        fs.read_dir(dir).unwrap()
    }

    fn find<'a>(d: &'a DirContents, name: &str) -> &'a NodeInfo {
        &d.entries
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("{name} missing"))
            .1
    }

    #[test]
    fn metadata_partition_volume() {
        let img = metadata_image();
        let (fs, info) = open_mem(img.clone());
        assert_eq!(info.format, "UDF 2.50");
        assert_eq!(info.label, "Meta Volume");
        assert_eq!(info.views, vec![View::Udf]);
        assert!(
            info.extra
                .contains(&("Partition maps", "physical, metadata".into())),
            "{:?}",
            info.extra
        );
        assert!(info.ids.contains(&("file_set_id", "FSET".into())));
        assert!(info.ids.contains(&("volume_id", "META_PVD".into())));
        let root = fs.root().unwrap();
        // Root id: the root ICB's image offset (metadata block 1 -> physical 11).
        assert_eq!(root.id, NodeId(((PART + 11) * BS) as u64));
        assert_eq!(root.attr.mode, 0o754);
        assert_eq!(root.attr.uid, 1000);
        assert_eq!(root.attr.gid, 0, "unset gid maps to 0");
        assert_eq!(root.attr.nlink, 4, "3 FIDs name it, plus its own \".\"");
        assert_eq!(root.attr.mtime.to_rfc3339(), "1960-07-04T15:20:30Z");
        assert_eq!(
            root.attr.crtime.unwrap().to_rfc3339(),
            "2040-01-01T00:00:00Z"
        );

        let list = listing(&*fs, &root);
        assert_eq!(list.problems.len(), 1, "{:?}", list.problems);
        assert!(list.problems[0].to_string().contains("\"broken\""));
        assert_eq!(list.entries.len(), 8 + 40);
        assert!(list.entries.iter().all(|(n, _)| n != "gone"));

        let hello = find(&list, "hello.txt");
        let start = ((PART + 14) * BS + 176) as u64;
        assert_eq!(hello.data.extents(), [Extent::Recorded { start, len: 15 }]);
        assert_eq!(
            &img[start as usize..start as usize + 15],
            b"Hello, embedded"
        );

        let link = find(&list, "link");
        assert_eq!(link.attr.kind, FileType::Symlink);
        assert_eq!(link.link_target.as_deref(), Some("/sub/../x"));
        assert_eq!(link.attr.size, 9);

        let (h1, h2) = (find(&list, "hard1"), find(&list, "hard2"));
        assert_eq!(h1.id, h2.id);
        assert_eq!(h1.attr.inode, h1.id.0);
        assert_eq!(h1.attr.nlink, 2);
        assert_eq!(
            h1.data.extents(),
            [Extent::Recorded {
                start: ((PART + 101) * BS) as u64,
                len: 3000
            }]
        );

        let omega = find(&list, "Ωmega");
        assert!(omega.attr.hidden);
        assert_eq!(omega.attr.size, 0);

        let dev = find(&list, "dev");
        assert_eq!(dev.attr.kind, FileType::CharDevice);
        assert_eq!(
            dev.attr.rdev,
            Some(crate::node::DeviceNumber { major: 1, minor: 3 })
        );

        let huge = find(&list, "huge");
        assert!(huge.attr.size > 4 << 30);
        assert_eq!(huge.data.len(), huge.attr.size);
        assert_eq!(huge.data.extents().len(), 2, "zero runs merge");
        assert_eq!(huge.data.recorded_len(), BS as u64);

        let sub = find(&list, "sub");
        assert_eq!(sub.attr.mode, 0o3754);
        let inner = listing(&*fs, sub);
        assert_eq!(inner.entries.len(), 1);
        assert_eq!(inner.entries[0].1.id, hello.id);
        assert!(find(&list, "filler-39").id == hello.id);
    }

    #[test]
    fn damaged_metadata_file_uses_mirror() {
        // The main metadata file's entry is damaged: the mirror is used.
        let mut img = metadata_image();
        img[PART * BS + 100] ^= 0xff;
        let (fs, info) = open_mem(img);
        let note: Vec<_> = info
            .extra
            .iter()
            .filter(|(k, _)| *k == "Metadata file")
            .collect();
        assert!(
            note[0].1.starts_with("mirror used: main damaged"),
            "{note:?}"
        );
        let root = fs.root().unwrap();
        assert_eq!(root.id, NodeId(((PART + 41) * BS) as u64));
        assert_eq!(listing(&*fs, &root).entries.len(), 48);

        // The main file's entry is fine but its content is damaged (the FSD
        // in it fails its CRC): the mirror is used too.
        let mut img = metadata_image();
        img[(PART + 10) * BS + 320] ^= 0xff;
        let (fs, info) = open_mem(img);
        assert!(
            info.extra
                .iter()
                .any(|(k, v)| *k == "Metadata file" && v.contains("file set descriptor"))
        );
        assert_eq!(listing(&*fs, &fs.root().unwrap()).entries.len(), 48);

        // One entry's ICB and the root directory's FIDs damaged in the main
        // metadata file only: both are read from the mirror.
        let mut img = metadata_image();
        img[(PART + 10 + 6) * BS + 60] ^= 0xff; // hard1/hard2's entry
        img[(PART + 10 + 2) * BS + 300] ^= 0xff; // a FID in the root directory
        let (fs, info) = open_mem(img);
        assert!(!info.extra.iter().any(|(k, _)| *k == "Metadata file"));
        let list = listing(&*fs, &fs.root().unwrap());
        assert_eq!(
            list.problems.len(),
            1,
            "only the broken entry: {:?}",
            list.problems
        );
        assert_eq!(list.entries.len(), 48);
        let hard = find(&list, "hard1");
        assert_eq!(hard.id, NodeId(((PART + 40 + 6) * BS) as u64));
        assert_eq!(hard.attr.size, 3000);

        // Both damaged: a clear error.
        let mut img = metadata_image();
        img[PART * BS + 100] ^= 0xff;
        img[(PART + 1) * BS + 100] ^= 0xff;
        let e = open(Arc::new(MemSource::new(img)))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("metadata file") && e.contains("mirror"), "{e}");
    }

    #[test]
    fn partition_outside_image_and_self_pointing_root() {
        // Partition descriptor starting past the end of the image.
        let mut img = metadata_image();
        for base in [32usize, 48] {
            let mut pd = vds::build::pd(BS, base as u32 + 1, 0, 5000, 280);
            tag::write(&mut pd, ident::PD, base as u32 + 1, 496);
            put(&mut img, base + 1, &pd);
        }
        let e = open(Arc::new(MemSource::new(img)))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("outside the image"), "{e}");

        // Root ICB is an indirect entry pointing at itself (main and mirror).
        let mut img = metadata_image();
        for at in [PART + 11, PART + 41] {
            put(&mut img, at, &icb::build::ie(BS, 1, 1, 1));
        }
        let e = open(Arc::new(MemSource::new(img)))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("loop"), "{e}");
    }

    /// Flipping bytes all over the descriptors never panics or hangs: every
    /// outcome is a volume, an error, or listings with problems.
    #[test]
    fn damaged_bytes_never_panic() {
        let pristine = metadata_image();
        let mut regions: Vec<std::ops::Range<usize>> = vec![
            16 * BS..16 * BS + 8,
            32 * BS..32 * BS + 600,
            34 * BS..34 * BS + 520,
            256 * BS..256 * BS + 32,
            PART * BS..PART * BS + 200,
        ];
        for k in [0usize, 1, 2, 4, 5, 6, 8, 9, 10] {
            let at = (PART + 10 + k) * BS;
            regions.push(at..at + 260);
        }
        let mut outcomes = [0usize; 3];
        for r in regions {
            for i in r.step_by(3) {
                for flip in [0x01u8, 0x80, 0xff] {
                    let mut img = pristine.clone();
                    img[i] ^= flip;
                    match open(Arc::new(MemSource::new(img))) {
                        Ok(Some((fs, _))) => {
                            outcomes[0] += 1;
                            let root = fs.root().unwrap();
                            if let Ok(list) = fs.read_dir(&root) {
                                for (_, n) in &list.entries {
                                    if n.attr.kind == FileType::Directory {
                                        let _ = fs.read_dir(n);
                                    }
                                }
                            }
                        }
                        Ok(None) => outcomes[1] += 1,
                        Err(_) => outcomes[2] += 1,
                    }
                }
            }
        }
        assert!(outcomes[0] > 0 && outcomes[2] > 0, "{outcomes:?}");
    }
}
