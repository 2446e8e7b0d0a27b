//! Entry points for the `cargo fuzz` targets in `fuzz/` (see `FUZZING.md`).
//!
//! One function per parser: each takes arbitrary bytes, drives the real
//! parser of this crate on them and ignores the result. Only a panic, a
//! hang or an unbounded allocation is a finding. Compiled with the
//! `fuzzing` feature (for the fuzz targets) and in this crate's own tests
//! (the regression tests at the end run every committed crash input, so
//! `cargo test --workspace` runs them without any feature).
//!
//! Several targets take a small header before the structure itself, so
//! one input can reach more than one configuration. UDF descriptors carry
//! a checksum and a CRC that random mutations nearly always break; the UDF
//! targets repair them before parsing unless the header asks them not to
//! (bit 0 of the first byte), so the fuzzer gets past the tag check.

use std::sync::Arc;

use crate::error::Location;
use crate::format::View;
use crate::node::{Extent, FileData, FileType, NodeId};
use crate::source::{MemSource, ReadAt};
use crate::volume::{OpenOptions, Volume};
use crate::{container, iso9660, udf};

/// Most bytes a target reads out of one input's files (decoded content).
const READ_BUDGET: usize = 1 << 20;
/// Most nodes the whole-image walk visits per view.
const NODE_BUDGET: usize = 2_000;
/// Chunk size of content reads.
const CHUNK: usize = 16 * 1024;

/// An in-memory source over a copy of `data`.
fn source(data: &[u8]) -> Arc<dyn ReadAt> {
    Arc::new(MemSource::new(data.to_vec()))
}

/// A reader of `data` as a byte image, like the readers' own closures.
fn reader(data: &[u8]) -> impl Fn(u64, usize) -> crate::Result<Vec<u8>> + '_ {
    move |off, len| {
        usize::try_from(off)
            .ok()
            .and_then(|o| data.get(o..o.checked_add(len)?))
            .map(<[u8]>::to_vec)
            .ok_or(crate::Error::Truncated {
                structure: "fuzz input",
                at: Location::sector(off / 2048),
                image_len: data.len() as u64,
            })
    }
}

/// Splits `n` header bytes off the input (zeros when it is shorter).
fn header<const N: usize>(data: &[u8]) -> ([u8; N], &[u8]) {
    let mut h = [0u8; N];
    let (head, rest) = data.split_at_checked(N).unwrap_or((data, &[]));
    h.iter_mut().zip(head).for_each(|(d, s)| *d = *s);
    (h, rest)
}

// ---------------------------------------------------------------- ISO 9660

/// The volume descriptor set (ECMA-119 8): the input is the image from
/// sector 16 on (16 zero sectors are put in front), as the descriptor
/// reader, the session finder and the El Torito boot record search see it.
pub fn iso9660_volume_descriptors(data: &[u8]) {
    let mut img = vec![0u8; 16 * 2048];
    img.extend_from_slice(data);
    let src = MemSource::new(img);
    let _ = iso9660::volume_descriptor::read_set_from(&src, 16);
    let _ = iso9660::session::find(&src);
    let _ = iso9660::el_torito::find_catalog(&src, 16);
    for sector in data.chunks(2048) {
        let _ = iso9660::volume_descriptor::parse_descriptor(sector, 16, None);
        let _ = iso9660::volume_descriptor::parse_descriptor(sector, 16, Some(3));
    }
}

/// A directory extent (ECMA-119 9.1, 6.8): byte 0 picks the block size
/// (512 << (b & 3)); the rest is the extent, walked as the reader walks a
/// directory (multi-extent files joined), with every name decoded.
pub fn iso9660_directory(data: &[u8]) {
    let ([sel], dir) = header::<1>(data);
    let block_size = 512u32 << (sel & 3);
    let read = reader(dir);
    let len = dir.len() as u64;
    let _ = iso9660::directory::first_record(&read, len, 0, block_size);
    if let Ok(walk) = iso9660::directory::walk(&read, len, 0, len, block_size) {
        for e in &walk.entries {
            let name = iso9660::directory_record::iso_name(&e.record.name);
            let _ = iso9660::directory_record::strip_version(&name);
            let _ = iso9660::joliet::joliet_name(&e.record.name);
            let _ = e.size();
            let _ = e.record.data_start(block_size);
        }
    }
}

/// A system-use area with SUSP and Rock Ridge entries (IEEE P1281/P1282):
/// bytes 0-1 (little endian) are the area's length, the area follows, and
/// the whole input is the image continuation areas (CE) are read from.
/// Parsed as the root's "." record (SP detection, ER) and as an ordinary
/// record, then any ZF entry found is parsed too.
pub fn susp_rock_ridge(data: &[u8]) {
    let ([lo, hi], rest) = header::<2>(data);
    let su_len = usize::from(u16::from_le_bytes([lo, hi])).min(rest.len());
    let su = rest.get(..su_len).unwrap_or(rest);
    let read = reader(data);
    let at = Location::sector(0);
    let detected = iso9660::susp::detect(su, 2048, at, &read);
    let mut infos = vec![iso9660::susp::SuspInfo {
        skip: 0,
        extensions: Vec::new(),
    }];
    if let Ok(Some(info)) = detected {
        infos.push(info);
    }
    for info in &infos {
        let _ = iso9660::susp::entries(su, info, 2048, at, &read);
        let _ = iso9660::rock_ridge::parse(su, info, 2048, at, &read);
    }
}

/// Joliet names and identifiers (UCS-2 big endian), the escape sequences
/// that give the Joliet level, and plain ISO 9660 names.
pub fn joliet_name(data: &[u8]) {
    let _ = iso9660::joliet::joliet_level(data);
    let _ = iso9660::joliet::decode_ucs2(data);
    let _ = iso9660::joliet::joliet_name(data);
    let _ = iso9660::joliet::decode_id(data);
    let name = iso9660::directory_record::iso_name(data);
    let _ = iso9660::directory_record::strip_version(&name);
}

/// An El Torito boot catalog (input = catalog bytes), read through the
/// catalog reader at LBA 0 and parsed directly; the first sector is also
/// tried as a boot record descriptor and as an MBR (hard-disk emulation
/// image size), and a summary of the entries is made.
pub fn el_torito(data: &[u8]) {
    let et = iso9660::el_torito::read_catalog(&MemSource::new(data.to_vec()), 0);
    if let Ok(entries) = iso9660::el_torito::parse_catalog(data, 0) {
        let sizes: Vec<u64> = entries.iter().map(|e| u64::from(e.sector_count)).collect();
        let _ = iso9660::el_torito::summary(&entries, &sizes);
        for e in &entries {
            let _ = e.effective_load_segment();
            let _ = e.media.as_str();
            let _ = iso9660::el_torito::platform_name(e.platform);
        }
    }
    drop(et);
    let _ = iso9660::el_torito::catalog_lba(data);
    let _ = iso9660::el_torito::mbr_size(data);
}

/// A zisofs file (v1 and zisofs2): bytes 0-11 are the ZF entry's data
/// after its 4-byte SUSP header ("pz"/"PZ", header size, log2 block size,
/// uncompressed size), the rest is the stored (compressed) file. Its decoded
/// content is read (at most 1 MiB, front to back, plus its last bytes).
pub fn zisofs(data: &[u8]) {
    let Some(head) = data.get(..12) else {
        return;
    };
    let at = Location::sector(0);
    let Some(zf) = iso9660::zisofs::parse_zf(head, at) else {
        return;
    };
    let src = MemSource::new(data.to_vec());
    let stored = FileData::new([Extent::Recorded {
        start: 12,
        len: data.len() as u64 - 12,
    }]);
    let file = iso9660::zisofs::decoded(stored, zf, at);
    let Some(decoder) = file.decoder() else {
        return;
    };
    let size = file.len();
    let mut buf = vec![0u8; CHUNK];
    let mut off = 0u64;
    while off < size && off < READ_BUDGET as u64 {
        match decoder.read_at(&src, off, &mut buf) {
            Ok(n) if n > 0 => off += n as u64,
            _ => break,
        }
    }
    let _ = decoder.read_at(&src, size.saturating_sub(100), &mut buf);
}

// --------------------------------------------------------------------- UDF

/// Repairs the checksum and CRC of a descriptor tag at the start of `d`
/// (when its identifier is one ECMA-167 defines), and sets its location.
fn fix_tag(d: &mut [u8], location: Option<u32>) {
    let Some(tag) = d.get(..16).and_then(|t| <[u8; 16]>::try_from(t).ok()) else {
        return;
    };
    let ident = u16::from_le_bytes([tag[0], tag[1]]);
    if !(1..=9).contains(&ident) && !(256..=266).contains(&ident) {
        return;
    }
    if let (Some(l), Some(field)) = (location, d.get_mut(12..16)) {
        field.copy_from_slice(&l.to_le_bytes());
    }
    let crc_len = usize::from(u16::from_le_bytes([tag[10], tag[11]]));
    if let Some(body) = d.get(16..16 + crc_len) {
        let crc = udf::tag::crc16(body);
        if let Some(field) = d.get_mut(8..10) {
            field.copy_from_slice(&crc.to_le_bytes());
        }
    }
    let sum = udf::tag::checksum(d);
    if let Some(b) = d.get_mut(4) {
        *b = sum;
    }
}

/// Header byte of the UDF targets: bit 0 set keeps the tags as they are,
/// bit 1 set keeps their locations, bits 2-3 pick the block size.
fn udf_setup(flags: u8, data: &[u8]) -> (Vec<u8>, u32) {
    let bs = udf::anchor::BLOCK_SIZES
        .get(usize::from(flags >> 2 & 3))
        .copied()
        .unwrap_or(2048);
    let mut img = data.to_vec();
    if flags & 1 == 0 {
        for (i, block) in img.chunks_mut(bs as usize).enumerate() {
            let loc = (flags & 2 == 0).then(|| u32::try_from(i).unwrap_or(u32::MAX));
            fix_tag(block, loc);
        }
    }
    (img, bs)
}

/// One physical partition over the whole image (block 0 = byte 0).
fn whole_partition(disk: &udf::disk::Disk) -> udf::partition::Partitions {
    udf::partition::Partitions {
        maps: vec![udf::partition::Map {
            number: 0,
            start: 0,
            length: disk.blocks(),
            kind: udf::partition::Kind::Physical,
        }],
    }
}

/// Descriptor tags, the volume recognition sequence, the anchor search and
/// a volume descriptor sequence with the partition maps it describes.
/// Byte 0 is the UDF header byte (see the module notes); the rest is an
/// image whose blocks from 0 are taken as the main and reserve sequence.
pub fn udf_vds(data: &[u8]) {
    let ([flags], rest) = header::<1>(data);
    let (img, bs) = udf_setup(flags, rest);
    for block in img.chunks(bs as usize) {
        let _ = udf::tag::parse(block, None, "fuzz", Location::sector(0));
    }
    let src = source(&img);
    let _ = udf::recognition::scan(&*src);
    let _ = udf::anchor::find(&*src);
    let disk = udf::disk::Disk::new(src, bs);
    let whole = udf::anchor::ExtentAd {
        len: u32::try_from(img.len()).unwrap_or(u32::MAX),
        loc: 0,
    };
    let Ok((seq, _)) = udf::vds::read(&disk, whole, whole) else {
        return;
    };
    let _ = udf::vds::last_written(&disk, whole);
    if let Some(lv) = &seq.logical {
        let mut notes = udf::partition::Notes::default();
        if let Ok(parts) = udf::partition::build(&disk, lv, &seq.partitions, &mut notes) {
            let _ = udf::partition::describe(&parts, notes.vat_form);
            let fsd = udf::icb::LongAd::parse(&lv.fsd);
            let _ = udf::file_set::read(&disk, &parts, fsd);
        }
    }
}

/// Reads what the reader reads of one node: its file entry, the content
/// its allocation descriptors map, a symbolic link's target and a
/// directory's FIDs (content read up to 1 MiB).
fn udf_node(disk: &udf::disk::Disk, parts: &udf::partition::Partitions, part: u16, lbn: u32) {
    let Ok(entry) = udf::icb::read_entry(disk, parts, part, lbn) else {
        return;
    };
    let _ = entry.mode();
    let _ = entry.device();
    let kind = entry.kind(disk);
    let _ = udf::node_info(disk, parts, &entry, false);
    let Ok(data) = udf::partition::entry_data(disk, parts, &entry) else {
        return;
    };
    let at = entry.at(disk);
    let Ok(bytes) = udf::disk::read_data(disk, &data, READ_BUDGET as u64, "fuzz", at) else {
        return;
    };
    match kind {
        Ok(FileType::Symlink) => {
            let _ = udf::symlink::target(&bytes, at);
        }
        Ok(FileType::Directory) => {
            let walk = udf::fid::walk(&bytes, &|_| at);
            for f in walk.entries.iter().take(16) {
                let _ = f.hidden();
                let _ = parts.block_abs(disk, f.icb.part, f.icb.lbn);
            }
        }
        _ => {}
    }
}

/// A file entry or extended file entry, with its allocation descriptors
/// (short, long, extended, embedded; continued in allocation extent
/// descriptors), indirect entries and the content they map. Bytes: the UDF
/// header byte, then the entry's block number (u16, little endian), then
/// the partition (block 0 first, one physical partition over all of it).
pub fn udf_icb(data: &[u8]) {
    let ([flags, lo, hi], rest) = header::<3>(data);
    let (img, bs) = udf_setup(flags, rest);
    let disk = udf::disk::Disk::new(source(&img), bs);
    let parts = whole_partition(&disk);
    udf_node(&disk, &parts, 0, u32::from(u16::from_le_bytes([lo, hi])));
}

/// File identifier descriptors: the input (after the UDF header byte) is a
/// directory's content. Tags are repaired FID by FID, as the walk finds
/// their lengths.
pub fn udf_fid(data: &[u8]) {
    let ([flags], rest) = header::<1>(data);
    let mut dir = rest.to_vec();
    if flags & 1 == 0 {
        let mut pos = 0usize;
        while let Some(h) = dir
            .get(pos..pos + 38)
            .and_then(|h| <[u8; 38]>::try_from(h).ok())
        {
            let l_iu = usize::from(u16::from_le_bytes([h[36], h[37]]));
            let l_fi = usize::from(h[19]);
            let len = (38 + l_iu + l_fi).next_multiple_of(4);
            let Some(d) = dir.get_mut(pos..pos + len) else {
                break;
            };
            fix_tag(d, None);
            pos += len;
        }
    }
    let walk = udf::fid::walk(&dir, &|_| Location::sector(0));
    for f in &walk.entries {
        let _ = f.hidden();
    }
}

/// Partition maps over partition 0 (a physical partition over the whole
/// image): `kind` is the type-2 map's identifier, `tail` its bytes 40..
fn udf_volume(
    disk: &udf::disk::Disk,
    kind: &str,
    revision: u16,
    tail: &[u8],
) -> Option<udf::partition::Partitions> {
    let mut maps = vec![1u8, 6, 1, 0, 0, 0];
    let mut t2 = [0u8; 64];
    t2[0] = 2;
    t2[1] = 64;
    for (d, s) in t2.iter_mut().skip(5).zip(kind.as_bytes()) {
        *d = *s;
    }
    for (d, s) in t2.iter_mut().skip(40).zip(tail.iter().take(24)) {
        *d = *s;
    }
    maps.extend(t2);
    let lv = udf::vds::LogicalVolume {
        block_size: disk.bs,
        udf_revision: revision,
        maps,
        map_count: 2,
        ..Default::default()
    };
    let pds = [udf::vds::PartitionDesc {
        vdsn: 0,
        number: 0,
        start: 0,
        length: u32::try_from(disk.blocks()).unwrap_or(u32::MAX),
    }];
    let mut notes = udf::partition::Notes::default();
    let parts = udf::partition::build(disk, &lv, &pds, &mut notes).ok()?;
    let _ = udf::partition::describe(&parts, notes.vat_form);
    Some(parts)
}

/// A virtual partition (UDF 2.2.8) and its VAT (2.2.11): the VAT's file
/// entry is searched near the last block of the image (both the 2.00+
/// form, file type 248 with a header, and the 1.50 form). Bytes: the UDF
/// header byte, a UDF revision (u16, little endian), then the image (block
/// 0 first). Blocks of the virtual partition are then mapped and a few
/// virtual blocks read as file entries.
pub fn udf_vat(data: &[u8]) {
    let ([flags, lo, hi], rest) = header::<3>(data);
    let (img, bs) = udf_setup(flags, rest);
    let disk = udf::disk::Disk::new(source(&img), bs);
    let revision = u16::from_le_bytes([lo, hi]);
    let Some(parts) = udf_volume(&disk, "*UDF Virtual Partition", revision, &[]) else {
        return;
    };
    for lbn in 0..4 {
        let _ = parts.extent(&disk, 1, lbn, 3 * disk.bs64());
        udf_node(&disk, &parts, 1, lbn);
    }
}

/// A metadata partition (UDF 2.2.10): the metadata file and its mirror
/// (file types 250 and 251) give the blocks of partition 1. Bytes: the UDF
/// header byte, the map's bytes 40..64 (metadata file location, mirror
/// location, bitmap location, allocation unit size, alignment unit size,
/// flags), then the image (block 0 first). The file set descriptor at
/// block 0 of the metadata partition and the root it names are read,
/// through the main file and through the mirror.
pub fn udf_metadata(data: &[u8]) {
    let ([flags], rest) = header::<1>(data);
    let (map_tail, rest) = header::<24>(rest);
    let (img, bs) = udf_setup(flags, rest);
    let disk = udf::disk::Disk::new(source(&img), bs);
    let Some(mut parts) = udf_volume(&disk, "*UDF Metadata Partition", 0x0250, &map_tail) else {
        return;
    };
    let mirror = parts.mirrored();
    for p in std::iter::once(&parts).chain(mirror.as_ref()) {
        let at = udf::icb::LongAd {
            len: disk.bs,
            lbn: 0,
            part: 1,
        };
        if let Ok(fset) = udf::file_set::read(&disk, p, at) {
            udf_node(&disk, p, fset.root.part, fset.root.lbn);
        }
        let _ = p.extent(&disk, 1, 0, 4 * disk.bs64());
    }
    if let Some(m) = &mirror {
        let data = FileData::new([Extent::Recorded {
            start: 0,
            len: 4 * disk.bs64(),
        }]);
        let _ = parts.to_mirror(m, &data);
    }
    if parts.use_metadata_mirror() {
        udf_node(&disk, &parts, 1, 1);
    }
}

// -------------------------------------------------------------- containers

/// A cue sheet (text), placed against data files of a length the first 8
/// bytes give (little endian; file `i` is `len >> i` bytes).
pub fn cue_text(data: &[u8]) {
    let (len, text) = header::<8>(data);
    let len = u64::from_le_bytes(len);
    let text = String::from_utf8_lossy(text);
    let _ = container::cue::looks_like_cue(text.as_bytes());
    let Ok(sheet) = container::cue::parse(&text) else {
        return;
    };
    let _ = container::cue::layout(&sheet, &|i| len.checked_shr(i as u32));
    let _ = container::cue::layout(&sheet, &|_| None);
}

/// Reads up to 1 MiB of a container's logical view: its
/// start (where the volume descriptors are) and its end.
fn read_view(view: &dyn ReadAt) {
    let mut buf = vec![0u8; CHUNK];
    let len = view.len();
    let mut off = 0u64;
    while off < len && off < READ_BUDGET as u64 / 2 {
        match view.read_at(off, &mut buf) {
            Ok(n) if n > 0 => off += n as u64,
            _ => break,
        }
    }
    let _ = view.read_at(len.saturating_sub(CHUNK as u64), &mut buf);
}

/// An NRG image (Nero, v1 and v2 footers, DAO and TAO chunks): the footer
/// and chunk chain, then the container layer's view of its data track.
pub fn nrg(data: &[u8]) {
    let src = source(data);
    if let Ok(Some((version, first))) = container::nrg::detect(&*src) {
        let _ = container::nrg::parse(&*src, version, first);
    }
    if let Ok((view, _)) = container::open(src, None) {
        read_view(&*view);
    }
}

/// An MDS descriptor (Alcohol 120%) and its MDF: bytes 0-3 (little endian)
/// are the MDS length, the MDS follows, the rest is the MDF.
pub fn mdf_mds(data: &[u8]) {
    let (n, rest) = header::<4>(data);
    let n = (u32::from_le_bytes(n) as usize).min(rest.len());
    let (mds, mdf) = rest.split_at(n);
    let _ = container::mdf::is_mds(mds);
    if container::mdf::parse(mds).is_err() {
        return;
    }
    if let Ok((view, _)) = container::open_mds(mds, "fuzz.mds", source(mdf), "fuzz.mdf") {
        read_view(&*view);
    }
}

/// A CloneCD control file (`.ccd` text) and its IMG: bytes 0-3 (little
/// endian) are the CCD length, the CCD follows, the rest is the IMG.
pub fn ccd(data: &[u8]) {
    let (n, rest) = header::<4>(data);
    let n = (u32::from_le_bytes(n) as usize).min(rest.len());
    let (text, img) = rest.split_at(n);
    let _ = container::ccd::looks_like_ccd(text);
    if container::ccd::parse(&String::from_utf8_lossy(text)).is_err() {
        return;
    }
    if let Ok((view, _)) = container::open_ccd(text, "fuzz.ccd", source(img), "fuzz.img") {
        read_view(&*view);
    }
}

/// A CSO (v1, v2) or ZSO image: header, block index, and the blocks
/// (deflate, LZ4, stored) read back through the decompressing view.
pub fn cso(data: &[u8]) {
    if let Ok(Some((view, _))) = container::cso::open(&source(data)) {
        read_view(&*view);
    }
}

// -------------------------------------------------------------- whole image

/// [`whole_image`] after the UDF tags of every block are repaired (the UDF
/// header byte, as for the other UDF targets: bit 1 keeps the recorded tag
/// locations, which a whole image needs for its partition-relative file
/// entries). Without the repair a mutated UDF descriptor stops at its
/// checksum or CRC, so the readers behind it are reached through the
/// `Volume` API only by this target.
pub fn whole_image_udf(data: &[u8]) {
    let ([flags], rest) = header::<1>(data);
    let (img, _) = udf_setup(flags, rest);
    whole_image(&img);
}

/// Opens the input as an image through the public API ([`Volume::open`],
/// which also detects CSO/ZSO, NRG and raw-sector containers from the
/// bytes) in its default view and in every other view it offers, and for
/// each walks the tree: every directory listed, every node looked up by
/// name (also ignoring case) and by path, symbolic links read and
/// resolved, files read at their start and end. Bounded: at most
/// 2,000 nodes per view and 1 MiB read per input.
pub fn whole_image(data: &[u8]) {
    let src = source(data);
    let opts = OpenOptions {
        cache_bytes: 1 << 20,
        ..OpenOptions::default()
    };
    let Ok(vol) = Volume::open(Arc::clone(&src), &opts) else {
        return;
    };
    let _ = vol.view_report();
    let _ = vol.boot_images();
    let mut budget = READ_BUDGET;
    walk(&vol, &mut budget);
    let shown = vol.view();
    let views: Vec<View> = vol.info().views.clone();
    drop(vol);
    for view in views.into_iter().filter(|v| *v != shown) {
        let opts = OpenOptions {
            view: Some(view),
            ..opts.clone()
        };
        if let Ok(vol) = Volume::open(Arc::clone(&src), &opts) {
            walk(&vol, &mut budget);
        }
    }
}

/// Walks one view of a volume (see [`whole_image`]).
fn walk(vol: &Volume, budget: &mut usize) {
    let mut stack: Vec<(NodeId, String)> = vec![(vol.root(), String::new())];
    let mut visited = 0usize;
    let mut buf = vec![0u8; CHUNK];
    while let Some((dir, path)) = stack.pop() {
        let Ok(listing) = vol.read_dir(dir) else {
            continue;
        };
        for e in listing.entries() {
            visited += 1;
            if visited > NODE_BUDGET {
                return;
            }
            let _ = vol.lookup(dir, &e.name);
            let _ = vol.lookup_ignore_case(dir, &e.name);
            let Ok(node) = vol.node(e.id) else {
                continue;
            };
            let _ = vol.attr(e.id);
            let full = format!("{path}/{}", e.name);
            let _ = vol.resolve(&full, false);
            match node.kind() {
                FileType::Directory => stack.push((e.id, full)),
                FileType::Symlink => {
                    let _ = vol.read_link(e.id);
                    let _ = vol.resolve(&full, true);
                }
                FileType::Regular => {
                    let size = node.attr().size;
                    for off in [0, size.saturating_sub(CHUNK as u64 / 2)] {
                        if *budget == 0 {
                            break;
                        }
                        if let Ok(n) = vol.read(e.id, off, &mut buf) {
                            *budget = budget.saturating_sub(n.max(1));
                        }
                    }
                }
                _ => {
                    let _ = vol.read(e.id, 0, &mut buf);
                }
            }
        }
        let _ = vol.lookup(dir, "..");
    }
}

/// A fuzz entry point.
pub type Target = fn(&[u8]);

/// Every target by name (the directory names under
/// `fs-core/tests/fuzz-regressions/` and the `fuzz/fuzz_targets/` files).
pub const TARGETS: &[(&str, Target)] = &[
    ("iso9660_volume_descriptors", iso9660_volume_descriptors),
    ("iso9660_directory", iso9660_directory),
    ("susp_rock_ridge", susp_rock_ridge),
    ("joliet_name", joliet_name),
    ("el_torito", el_torito),
    ("zisofs", zisofs),
    ("udf_vds", udf_vds),
    ("udf_icb", udf_icb),
    ("udf_fid", udf_fid),
    ("udf_vat", udf_vat),
    ("udf_metadata", udf_metadata),
    ("cue_text", cue_text),
    ("nrg", nrg),
    ("mdf_mds", mdf_mds),
    ("ccd", ccd),
    ("cso", cso),
    ("whole_image", whole_image),
    ("whole_image_udf", whole_image_udf),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Every minimized crash input found by fuzzing, run through the target
    /// that found it (see `FUZZING.md`). Each must now return normally.
    #[test]
    fn fuzz_regressions_do_not_panic() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions");
        let dirs = std::fs::read_dir(&root).unwrap_or_else(|e| panic!("{}: {e}", root.display()));
        let mut ran = 0;
        for dir in dirs {
            let dir = dir.unwrap().path();
            if !dir.is_dir() {
                continue; // README.md
            }
            let name = dir.file_name().unwrap().to_string_lossy().into_owned();
            let target = TARGETS
                .iter()
                .find(|(n, _)| *n == name)
                .unwrap_or_else(|| panic!("{}: no fuzz target of that name", dir.display()))
                .1;
            for input in std::fs::read_dir(&dir).unwrap() {
                let input = input.unwrap().path();
                let bytes = std::fs::read(&input).unwrap();
                eprintln!("{}", input.display());
                target(&bytes);
                ran += 1;
            }
        }
        eprintln!("{ran} fuzz regression inputs");
    }

    /// Empty and tiny inputs reach every target without a panic.
    #[test]
    fn targets_take_empty_and_tiny_inputs() {
        for (_, target) in TARGETS {
            target(&[]);
            target(&[0]);
            target(&[0xff; 64]);
        }
    }
}
