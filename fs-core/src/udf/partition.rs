//! Partition maps (ECMA-167 3/10.7; OSTA UDF 2.2.8-2.2.12) and the mapping
//! of (partition reference, logical block) to an image byte offset.
//!
//! * Type 1: a physical partition, blocks counted from its start sector.
//! * Type 2 "*UDF Sparable Partition" (UDF 2.2.9): packets remapped through
//!   a sparing table (2.2.12).
//! * Type 2 "*UDF Virtual Partition" (UDF 2.2.8): virtual blocks mapped
//!   through the virtual allocation table (VAT, 2.2.11), a file found at the
//!   last recorded sector: file type 248 with a header (UDF 2.00+), or the
//!   UDF 1.50 form ending in a "*UDF Virtual Alloc Tbl" entity id.
//! * Type 2 "*UDF Metadata Partition" (UDF 2.2.10, 2.50+): blocks are
//!   offsets inside the metadata file; its mirror file is used when the
//!   main one is damaged.
//!
//! Every mapping is checked against the partition's length and the image.

use crate::error::{Error, Location, Result};
use crate::node::{Extent, FileData};

use super::alloc;
use super::disk::{Disk, read_data};
use super::icb::{self, file_type};
use super::le::{bytes, regid_ident, u8_at, u16_at, u32_at};
use super::tag;
use super::vds::{LogicalVolume, PartitionDesc};

/// Most partition maps read from one logical volume.
const MAX_MAPS: usize = 64;
/// Largest sparing table read.
const MAX_SPARING_BYTES: usize = 1 << 20;
/// How far back from the last sector the VAT's ICB is looked for.
const VAT_SEARCH: u64 = 300;
/// How many trailing zero bytes are stepped over to find the last recorded
/// sector of an image file made larger than what was written.
const MAX_TRAILING_ZEROS: u64 = 256 << 20;
/// Largest VAT read (4 bytes per virtual block).
const MAX_VAT_BYTES: u64 = 64 << 20;

/// What a partition map is.
#[derive(Debug, Clone)]
pub(crate) enum Kind {
    /// Type 1 (3/10.7.2).
    Physical,
    /// Sparable: packet length and (original, mapped) packet pairs.
    Sparable { packet: u32, table: Vec<(u32, u32)> },
    /// Virtual: the physical map it lives in and the VAT.
    Virtual { phys: u16, vat: Vec<u32> },
    /// Metadata: the physical map and the metadata (or mirror) file's content.
    Metadata {
        file: FileData,
        /// The mirror file, when readable and not in use yet.
        mirror: Option<FileData>,
    },
    /// Not yet resolved, or unusable (the reason).
    Unusable(String),
}

/// One partition map.
#[derive(Debug, Clone)]
pub(crate) struct Map {
    /// Partition number (of the partition descriptor it names).
    pub number: u16,
    /// First sector of the partition.
    pub start: u64,
    /// Length in blocks.
    pub length: u64,
    pub kind: Kind,
}

/// The partition maps of the logical volume, indexed by partition reference.
#[derive(Debug, Clone, Default)]
pub(crate) struct Partitions {
    pub maps: Vec<Map>,
}

/// What the maps are, for `info` (e.g. "physical, metadata").
pub(crate) fn describe(parts: &Partitions, vat_form: Option<&str>) -> String {
    parts
        .maps
        .iter()
        .map(|m| match &m.kind {
            Kind::Physical => "physical".to_string(),
            Kind::Sparable { .. } => "sparable".to_string(),
            Kind::Virtual { .. } => format!("virtual ({})", vat_form.unwrap_or("VAT")),
            Kind::Metadata { .. } => "metadata".to_string(),
            Kind::Unusable(why) => format!("unusable ({why})"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl Partitions {
    /// One physical partition of `length` blocks from sector `start` (tests).
    #[cfg(test)]
    pub(crate) fn physical_for_tests(start: u64, length: u64) -> Self {
        Partitions {
            maps: vec![Map {
                number: 0,
                start,
                length,
                kind: Kind::Physical,
            }],
        }
    }

    fn map(&self, part: u16, lbn: u32) -> Result<&Map> {
        self.maps.get(usize::from(part)).ok_or_else(|| {
            Error::corrupt(
                "long allocation descriptor",
                Location::sector(u64::from(lbn)),
                format!(
                    "partition reference {part} names no partition map (the volume has {})",
                    self.maps.len()
                ),
            )
        })
    }

    /// Absolute byte offset of block `lbn` of partition reference `part`.
    pub(crate) fn block_abs(&self, disk: &Disk, part: u16, lbn: u32) -> Result<u64> {
        let pieces = self.extent(disk, part, lbn, disk.bs64())?;
        Ok(pieces.first().map(|p| p.0).unwrap_or(0))
    }

    /// Image pieces (offset, length) holding `len` bytes from block `lbn`
    /// of partition reference `part`, contiguous pieces merged.
    pub(crate) fn extent(
        &self,
        disk: &Disk,
        part: u16,
        lbn: u32,
        len: u64,
    ) -> Result<Vec<(u64, u64)>> {
        let map = self.map(part, lbn)?;
        match &map.kind {
            Kind::Physical | Kind::Sparable { .. } => self.physical(disk, map, part, lbn, len),
            Kind::Virtual { phys, vat } => {
                let pmap = self.map(*phys, lbn)?;
                let bs = disk.bs64();
                let blocks = len.div_ceil(bs);
                let mut out: Vec<(u64, u64)> = Vec::new();
                for i in 0..blocks {
                    let v = u64::from(lbn) + i;
                    let Some(&p) = usize::try_from(v).ok().and_then(|v| vat.get(v)) else {
                        return Err(outside(disk, map, part, lbn, len, "virtual partition"));
                    };
                    if p == u32::MAX {
                        return Err(Error::corrupt(
                            "virtual allocation table",
                            Location::sector(v),
                            format!("virtual block {v} is not in use"),
                        ));
                    }
                    let n = (len - i * bs).min(bs);
                    for piece in self.physical(disk, pmap, *phys, p, n)? {
                        push_merged(&mut out, piece);
                    }
                }
                Ok(out)
            }
            Kind::Metadata { file, .. } => {
                let off = u64::from(lbn) * disk.bs64();
                if off.checked_add(len).is_none_or(|e| e > file.len()) {
                    return Err(outside(disk, map, part, lbn, len, "metadata partition"));
                }
                let mut out = Vec::new();
                for (e, within, n) in file.map(off, len) {
                    match e {
                        Extent::Recorded { start, .. } => {
                            push_merged(&mut out, (start + within, n))
                        }
                        Extent::Zero { .. } => {
                            return Err(Error::corrupt(
                                "metadata file",
                                Location::sector(u64::from(lbn)),
                                format!("metadata block {lbn} is not recorded"),
                            ));
                        }
                    }
                }
                Ok(out)
            }
            Kind::Unusable(why) => Err(Error::corrupt(
                "partition map",
                Location::sector(u64::from(lbn)),
                format!("partition reference {part} cannot be read: {why}"),
            )),
        }
    }

    /// Mapping inside a physical or sparable partition.
    fn physical(
        &self,
        disk: &Disk,
        map: &Map,
        part: u16,
        lbn: u32,
        len: u64,
    ) -> Result<Vec<(u64, u64)>> {
        let bs = disk.bs64();
        let blocks = len.div_ceil(bs);
        if u64::from(lbn) + blocks > map.length {
            return Err(outside(disk, map, part, lbn, len, "partition"));
        }
        let mut out = Vec::new();
        match &map.kind {
            Kind::Sparable { packet, table } if *packet > 0 => {
                let packet = u64::from(*packet);
                let mut i = 0u64;
                while i < blocks {
                    let b = u64::from(lbn) + i;
                    let in_packet = b % packet;
                    let run = (packet - in_packet).min(blocks - i);
                    let first = b - in_packet;
                    let sector = match table.iter().find(|(o, _)| u64::from(*o) == first) {
                        Some(&(_, mapped)) => u64::from(mapped) + in_packet,
                        None => map.start + b,
                    };
                    let n = (len - i * bs).min(run * bs);
                    push_merged(&mut out, (sector * bs, n));
                    i += run;
                }
            }
            _ => out.push(((map.start + u64::from(lbn)) * bs, len)),
        }
        for &(start, n) in &out {
            if start.saturating_add(n) > disk.len {
                return Err(Error::Truncated {
                    structure: "partition block",
                    at: disk.loc(start),
                    image_len: disk.len,
                });
            }
        }
        Ok(out)
    }

    /// Switches a metadata partition to its mirror file. True when there
    /// was one to switch to.
    pub(crate) fn use_metadata_mirror(&mut self) -> bool {
        for m in &mut self.maps {
            if let Kind::Metadata { file, mirror, .. } = &mut m.kind {
                if let Some(mf) = mirror.take() {
                    *file = mf;
                    return true;
                }
            }
        }
        false
    }

    /// The same partitions read through the metadata mirror file, when the
    /// volume has a metadata partition whose mirror is still unused.
    pub(crate) fn mirrored(&self) -> Option<Partitions> {
        let mut alt = self.clone();
        alt.use_metadata_mirror().then_some(alt)
    }

    /// Translates image pieces inside the main metadata file to the same
    /// bytes of the mirror file (`mirror` is what [`Partitions::mirrored`]
    /// returned). `None` when a piece lies outside the metadata file.
    pub(crate) fn to_mirror(&self, mirror: &Partitions, data: &FileData) -> Option<FileData> {
        let (main, alt) =
            self.maps
                .iter()
                .zip(&mirror.maps)
                .find_map(|(m, a)| match (&m.kind, &a.kind) {
                    (Kind::Metadata { file: f, .. }, Kind::Metadata { file: g, .. }) => {
                        Some((f, g))
                    }
                    _ => None,
                })?;
        let mut out = FileData::empty();
        for e in data.extents() {
            let Extent::Recorded { start, len } = *e else {
                out.push(*e);
                continue;
            };
            // File offset of `start` in the main metadata file.
            let mut file_off = 0u64;
            let mut found = None;
            for m in main.extents() {
                if let Extent::Recorded { start: s, len: l } = *m {
                    if start >= s && start + len <= s + l {
                        found = Some(file_off + (start - s));
                        break;
                    }
                }
                file_off += m.len();
            }
            let off = found?;
            for (piece, within, n) in alt.map(off, len) {
                match piece {
                    Extent::Recorded { start, .. } => out.push(Extent::Recorded {
                        start: start + within,
                        len: n,
                    }),
                    Extent::Zero { .. } => return None,
                }
            }
        }
        (out.len() == data.len()).then_some(out)
    }

    /// True when the volume has a metadata partition.
    pub(crate) fn has_metadata(&self) -> bool {
        self.maps
            .iter()
            .any(|m| matches!(m.kind, Kind::Metadata { .. }))
    }
}

fn push_merged(out: &mut Vec<(u64, u64)>, piece: (u64, u64)) {
    if let Some(last) = out.last_mut() {
        if last.0 + last.1 == piece.0 {
            last.1 += piece.1;
            return;
        }
    }
    out.push(piece);
}

fn outside(disk: &Disk, map: &Map, part: u16, lbn: u32, len: u64, what: &str) -> Error {
    let limit = match &map.kind {
        Kind::Virtual { vat, .. } => vat.len() as u64,
        Kind::Metadata { file, .. } => file.len() / disk.bs64(),
        _ => map.length,
    };
    Error::corrupt(
        "allocation descriptor",
        Location::sector(u64::from(lbn)),
        format!("{len} bytes from block {lbn} lie outside {what} {part} ({limit} blocks long)"),
    )
}

/// Everything learnt while building the maps, for `info`.
#[derive(Debug, Default)]
pub(crate) struct Notes {
    /// "VAT 2.00" or "VAT 1.50".
    pub vat_form: Option<&'static str>,
    /// Logical volume identifier from a UDF 2.00+ VAT header (2.2.11): on
    /// write-once media it supersedes the one in the LVD.
    pub vat_volume_id: Option<String>,
    /// Facts and warnings.
    pub extra: Vec<(&'static str, String)>,
    /// Why a metadata mirror file that is recorded could not be read (the
    /// main file is used; `verify` reports it).
    pub mirror_unreadable: Option<Error>,
}

/// Builds the partition maps of `lv` over the partition descriptors `pds`.
pub(crate) fn build(
    disk: &Disk,
    lv: &LogicalVolume,
    pds: &[PartitionDesc],
    notes: &mut Notes,
) -> Result<Partitions> {
    let lvd_at = Location::sector(0);
    let mut parts = Partitions::default();
    let table = &lv.maps;
    let mut pos = 0usize;
    let count = usize::try_from(lv.map_count).unwrap_or(usize::MAX);
    if count > MAX_MAPS {
        return Err(Error::corrupt(
            "logical volume descriptor",
            lvd_at,
            format!("{count} partition maps (at most {MAX_MAPS} are read)"),
        ));
    }
    // Type-2 maps waiting for the physical maps: (index, raw map).
    let mut pending: Vec<(usize, Vec<u8>, String)> = Vec::new();
    for i in 0..count {
        let ty = u8_at(table, pos);
        let len = usize::from(u8_at(table, pos + 1));
        if len < 6 || pos + len > table.len() {
            return Err(Error::corrupt(
                "partition map",
                lvd_at,
                format!(
                    "map {i} of {len} bytes does not fit the {}-byte map table",
                    table.len()
                ),
            ));
        }
        let raw = bytes(table, pos, len).to_vec();
        pos += len;
        let (number, kind_id) = match ty {
            1 => (u16_at(&raw, 4), String::new()),
            2 => (u16_at(&raw, 38), regid_ident(bytes(&raw, 4, 32))),
            other => {
                return Err(Error::corrupt(
                    "partition map",
                    lvd_at,
                    format!("map {i} has unknown type {other}"),
                ));
            }
        };
        let Some(pd) = pds.iter().find(|p| p.number == number) else {
            return Err(Error::corrupt(
                "partition map",
                lvd_at,
                format!("map {i} names partition {number}, which has no partition descriptor"),
            ));
        };
        let start = u64::from(pd.start);
        if start >= disk.blocks() {
            return Err(Error::corrupt(
                "partition descriptor",
                Location::sector(start),
                format!(
                    "partition {number} starts at sector {start}, outside the image ({} sectors)",
                    disk.blocks()
                ),
            ));
        }
        let length = u64::from(pd.length);
        if start + length > disk.blocks() {
            notes.extra.push((
                "warning",
                format!(
                    "partition {number} ends at sector {}, past the end of the image ({} sectors)",
                    start + length,
                    disk.blocks()
                ),
            ));
        }
        let kind = if ty == 1 {
            Kind::Physical
        } else {
            Kind::Unusable(format!("{kind_id:?} not resolved"))
        };
        parts.maps.push(Map {
            number,
            start,
            length,
            kind,
        });
        if ty == 2 {
            pending.push((i, raw, kind_id));
        }
    }
    // Sparable maps first: the virtual and metadata maps may sit on them.
    for (i, raw, id) in &pending {
        if id.as_str() == "*UDF Sparable Partition"
            && let Some(map) = parts.maps.get_mut(*i)
        {
            map.kind = sparable(disk, raw, notes);
        }
    }
    for (i, raw, id) in &pending {
        let Some(number) = parts.maps.get(*i).map(|m| m.number) else {
            continue;
        };
        let phys = parts.maps.iter().position(|m| {
            m.number == number && matches!(m.kind, Kind::Physical | Kind::Sparable { .. })
        });
        let kind = match (id.as_str(), phys) {
            ("*UDF Sparable Partition", _) => continue,
            ("*UDF Virtual Partition", Some(p)) => {
                virtual_kind(disk, &parts, p as u16, lv.udf_revision, notes)
            }
            ("*UDF Metadata Partition", Some(p)) => {
                metadata_kind(disk, &parts, p as u16, raw, notes)
            }
            (_, None) if id.starts_with("*UDF") => {
                Kind::Unusable(format!("{id} map without a physical partition {number}"))
            }
            _ => Kind::Unusable(format!("unknown partition map type {id:?}")),
        };
        if let Kind::Unusable(why) = &kind {
            notes
                .extra
                .push(("warning", format!("partition map {i}: {why}")));
        }
        if let Some(map) = parts.maps.get_mut(*i) {
            map.kind = kind;
        }
    }
    Ok(parts)
}

/// A sparable map (UDF 2.2.9) and its sparing table (2.2.12).
fn sparable(disk: &Disk, raw: &[u8], notes: &mut Notes) -> Kind {
    let packet = u32::from(u16_at(raw, 40));
    let n_tables = usize::from(u8_at(raw, 42)).min(4);
    let size = (u32_at(raw, 44) as usize).clamp(64, MAX_SPARING_BYTES);
    for t in 0..n_tables {
        let loc = u32_at(raw, 48 + 4 * t);
        let off = u64::from(loc) * disk.bs64();
        let len = size.div_ceil(disk.bs as usize) * disk.bs as usize;
        let Ok(b) = disk.read(off, len, "sparing table") else {
            continue;
        };
        let at = Location::sector(u64::from(loc));
        if let Err(e) = tag::parse(&b, Some(loc), "sparing table", at) {
            log::warn!("{e}");
            continue;
        }
        if regid_ident(bytes(&b, 16, 32)) != "*UDF Sparing Table" {
            continue;
        }
        let entries = usize::from(u16_at(&b, 48));
        let table = (0..entries)
            .filter_map(|k| {
                let o = 56 + 8 * k;
                (o + 8 <= b.len()).then(|| (u32_at(&b, o), u32_at(&b, o + 4)))
            })
            .filter(|&(orig, _)| orig < 0xffff_fff0)
            .collect();
        return Kind::Sparable { packet, table };
    }
    notes.extra.push((
        "warning",
        "no readable sparing table: blocks are read unremapped".into(),
    ));
    Kind::Sparable {
        packet,
        table: Vec::new(),
    }
}

/// A virtual map (UDF 2.2.8): finds and reads the VAT (2.2.11).
fn virtual_kind(
    disk: &Disk,
    parts: &Partitions,
    phys: u16,
    revision: u16,
    notes: &mut Notes,
) -> Kind {
    let Some(pmap) = parts.maps.get(usize::from(phys)) else {
        return Kind::Unusable(format!("no partition map {phys} to hold the VAT"));
    };
    let end = disk.blocks().saturating_sub(1);
    let mut why = String::from("no VAT file entry near the last sector");
    // The VAT's ICB is the last sector written (UDF 2.2.11). On a disc
    // that is the end of the track; an image file may carry zeros after it.
    let mut lasts = vec![end];
    if let Some(l) = last_recorded(disk) {
        if l != end {
            lasts.push(l);
        }
    }
    for (back, last) in lasts
        .into_iter()
        .flat_map(|l| (0..VAT_SEARCH).map(move |b| (b, l)))
    {
        let Some(sector) = last.checked_sub(back) else {
            break;
        };
        if sector < pmap.start {
            break;
        }
        let Ok(lbn) = u32::try_from(sector - pmap.start) else {
            break;
        };
        let b = match disk.block(sector, "VAT file entry") {
            Ok(b) => b,
            Err(_) => continue,
        };
        if !(tag::looks_like(&b, tag::ident::FE) || tag::looks_like(&b, tag::ident::EFE)) {
            continue;
        }
        let Ok(entry) = icb::read_entry(disk, parts, phys, lbn) else {
            continue;
        };
        if entry.file_type != file_type::VAT && entry.file_type != file_type::UNSPECIFIED {
            continue;
        }
        match read_vat(disk, parts, &entry, revision, notes) {
            Ok((vat, form)) => {
                notes.vat_form = Some(form);
                notes.extra.push((
                    "VAT",
                    format!("{form} at sector {sector}, {} entries", vat.len()),
                ));
                return Kind::Virtual { phys, vat };
            }
            Err(e) => why = e.to_string(),
        }
    }
    Kind::Unusable(why)
}

fn read_vat(
    disk: &Disk,
    parts: &Partitions,
    entry: &icb::Entry,
    revision: u16,
    notes: &mut Notes,
) -> Result<(Vec<u32>, &'static str)> {
    let at = entry.at(disk);
    let data = entry_data(disk, parts, entry)?;
    let bytes_ = read_data(disk, &data, MAX_VAT_BYTES, "virtual allocation table", at)?;
    let (body, form) = if entry.file_type == file_type::VAT {
        let header = usize::from(u16_at(&bytes_, 0));
        let body = bytes_.get(header..).filter(|_| header >= 152);
        let Some(body) = body else {
            return Err(Error::corrupt(
                "virtual allocation table",
                at,
                format!(
                    "header length {header} does not fit the {}-byte table",
                    bytes_.len()
                ),
            ));
        };
        let id = super::cs0::dstring(bytes(&bytes_, 4, 128));
        if !id.is_empty() {
            notes.vat_volume_id = Some(id);
        }
        (body, "VAT 2.00")
    } else {
        // UDF 1.50 2.2.10: the entries, then a 32-byte regid and the
        // previous VAT's ICB (u32) at the very end.
        let split = bytes_
            .len()
            .checked_sub(36)
            .and_then(|n| bytes_.split_at_checked(n));
        let Some((body, _)) =
            split.filter(|(_, tail)| regid_ident(bytes(tail, 0, 32)) == "*UDF Virtual Alloc Tbl")
        else {
            return Err(Error::corrupt(
                "virtual allocation table",
                at,
                format!(
                    "file type 0 without the \"*UDF Virtual Alloc Tbl\" identifier (UDF revision {revision:#06x})"
                ),
            ));
        };
        (body, "VAT 1.50")
    };
    let vat = body.chunks_exact(4).map(|c| u32_at(c, 0)).collect();
    Ok((vat, form))
}

/// Content of an entry (through its allocation descriptors or embedded).
pub(crate) fn entry_data(disk: &Disk, parts: &Partitions, entry: &icb::Entry) -> Result<FileData> {
    let at = entry.at(disk);
    match entry.ad_type(disk)? {
        alloc::AdType::Embedded => {
            // The bytes sit in the entry's own block: point at them there.
            let len = entry.info_len.min(entry.ads.len() as u64);
            let mut data = FileData::new([Extent::Recorded {
                start: entry.abs + entry.ads_offset as u64,
                len,
            }]);
            if len < entry.info_len {
                log::warn!(
                    "file entry at {at}: {} bytes embedded, {} recorded as its size; the rest reads as zeros",
                    len,
                    entry.info_len
                );
                data.push(Extent::Zero {
                    len: entry.info_len - len,
                });
            }
            Ok(data)
        }
        ty => {
            let ads = alloc::collect(disk, parts, &entry.ads, ty, entry.part, at)?;
            alloc::file_data(disk, parts, &ads, entry.info_len, at)
        }
    }
}

/// The last block of the image that is not all zeros, looking back at most
/// [`MAX_TRAILING_ZEROS`] bytes from the end.
fn last_recorded(disk: &Disk) -> Option<u64> {
    const CHUNK: u64 = 1 << 20;
    let bs = disk.bs64();
    let mut end = disk.blocks() * bs;
    let floor = end.saturating_sub(MAX_TRAILING_ZEROS);
    while end > floor {
        let start = end.saturating_sub(CHUNK).max(floor);
        let buf = disk
            .read(start, (end - start) as usize, "image tail")
            .ok()?;
        if let Some(i) = buf.iter().rposition(|&b| b != 0) {
            return Some((start + i as u64) / bs);
        }
        end = start;
    }
    None
}

/// A metadata map (UDF 2.2.10): the metadata file, else its mirror.
fn metadata_kind(
    disk: &Disk,
    parts: &Partitions,
    phys: u16,
    raw: &[u8],
    notes: &mut Notes,
) -> Kind {
    let main_loc = u32_at(raw, 40);
    let mirror_loc = u32_at(raw, 44);
    let read = |loc: u32, want: u8| -> Result<FileData> {
        let e = icb::read_entry(disk, parts, phys, loc)?;
        if e.file_type != want {
            return Err(Error::corrupt(
                "metadata file entry",
                e.at(disk),
                format!("file type {} where {want} is expected", e.file_type),
            ));
        }
        entry_data(disk, parts, &e)
    };
    let main = read(main_loc, file_type::METADATA);
    let mirror = if mirror_loc != main_loc && mirror_loc != u32::MAX {
        read(mirror_loc, file_type::METADATA_MIRROR)
    } else {
        Err(Error::corrupt(
            "metadata mirror file",
            Location::sector(u64::from(mirror_loc)),
            "none recorded",
        ))
    };
    let recorded = mirror_loc != main_loc && mirror_loc != u32::MAX;
    match (main, mirror) {
        (Ok(file), Err(m)) if recorded => {
            notes.mirror_unreadable = Some(m);
            Kind::Metadata { file, mirror: None }
        }
        (Ok(file), mirror) => Kind::Metadata {
            file,
            mirror: mirror.ok(),
        },
        (Err(e), Ok(file)) => {
            log::warn!("metadata file unreadable ({e}); using the metadata mirror file");
            notes
                .extra
                .push(("Metadata file", format!("mirror used: main damaged ({e})")));
            Kind::Metadata { file, mirror: None }
        }
        (Err(e), Err(m)) => Kind::Unusable(format!("metadata file: {e}; mirror: {m}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::MemSource;
    use std::sync::Arc;

    fn disk(blocks: usize) -> Disk {
        Disk::new(Arc::new(MemSource::new(vec![0u8; blocks * 2048])), 2048)
    }

    fn lv(maps: &[Vec<u8>]) -> LogicalVolume {
        LogicalVolume {
            maps: maps.concat(),
            map_count: maps.len() as u32,
            udf_revision: 0x0201,
            ..LogicalVolume::default()
        }
    }

    fn pd(number: u16, start: u32, length: u32) -> PartitionDesc {
        PartitionDesc {
            number,
            start,
            length,
            ..PartitionDesc::default()
        }
    }

    #[test]
    fn physical_mapping_and_bounds() {
        let d = disk(100);
        let mut notes = Notes::default();
        let p = build(
            &d,
            &lv(&[super::super::vds::build::map1(3)]),
            &[pd(3, 10, 50)],
            &mut notes,
        )
        .unwrap();
        assert_eq!(p.block_abs(&d, 0, 2).unwrap(), 12 * 2048);
        assert_eq!(p.extent(&d, 0, 0, 5000).unwrap(), vec![(10 * 2048, 5000)]);
        assert!(p.extent(&d, 0, 49, 4096).is_err());
        assert!(p.block_abs(&d, 1, 0).is_err());
        assert!(notes.extra.is_empty());
    }

    #[test]
    fn partition_outside_the_image_is_a_clear_error() {
        let d = disk(100);
        let e = build(
            &d,
            &lv(&[super::super::vds::build::map1(0)]),
            &[pd(0, 500, 50)],
            &mut Notes::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("outside the image"), "{e}");
        // Ends past the image: a warning, and blocks past the end are Truncated.
        let mut notes = Notes::default();
        let p = build(
            &d,
            &lv(&[super::super::vds::build::map1(0)]),
            &[pd(0, 90, 50)],
            &mut notes,
        )
        .unwrap();
        assert!(notes.extra[0].1.contains("past the end"));
        assert!(matches!(
            p.block_abs(&d, 0, 20),
            Err(Error::Truncated { .. })
        ));
        // A map naming a partition that has no descriptor.
        assert!(
            build(
                &d,
                &lv(&[super::super::vds::build::map1(1)]),
                &[pd(0, 0, 5)],
                &mut notes
            )
            .is_err()
        );
    }

    #[test]
    fn sparable_remaps_packets() {
        let d = disk(100);
        let map = Map {
            number: 0,
            start: 10,
            length: 64,
            kind: Kind::Sparable {
                packet: 4,
                table: vec![(4, 80)],
            },
        };
        let p = Partitions { maps: vec![map] };
        // Blocks 2..10: 2,3 in place; packet 4..8 remapped to 80..84; 8,9 in place.
        let got = p.extent(&d, 0, 2, 8 * 2048).unwrap();
        assert_eq!(
            got,
            vec![(12 * 2048, 4096), (80 * 2048, 4 * 2048), (18 * 2048, 4096)]
        );
    }

    #[test]
    fn virtual_maps_through_vat() {
        let d = disk(100);
        let p = Partitions {
            maps: vec![
                Map {
                    number: 0,
                    start: 10,
                    length: 80,
                    kind: Kind::Physical,
                },
                Map {
                    number: 0,
                    start: 10,
                    length: 80,
                    kind: Kind::Virtual {
                        phys: 0,
                        vat: vec![5, 6, 40, u32::MAX],
                    },
                },
            ],
        };
        assert_eq!(
            p.extent(&d, 1, 0, 3 * 2048).unwrap(),
            vec![(15 * 2048, 4096), (50 * 2048, 2048)]
        );
        assert!(p.extent(&d, 1, 3, 10).is_err());
        assert!(p.extent(&d, 1, 4, 10).is_err());
    }

    #[test]
    fn metadata_maps_through_file_and_mirror() {
        let d = disk(100);
        let file = FileData::new([Extent::Recorded {
            start: 20 * 2048,
            len: 4096,
        }]);
        let mirror = FileData::new([Extent::Recorded {
            start: 30 * 2048,
            len: 4096,
        }]);
        let mut p = Partitions {
            maps: vec![
                Map {
                    number: 0,
                    start: 0,
                    length: 100,
                    kind: Kind::Physical,
                },
                Map {
                    number: 0,
                    start: 0,
                    length: 100,
                    kind: Kind::Metadata {
                        file,
                        mirror: Some(mirror),
                    },
                },
            ],
        };
        assert_eq!(p.block_abs(&d, 1, 1).unwrap(), 21 * 2048);
        assert!(p.block_abs(&d, 1, 2).is_err());
        assert!(p.has_metadata());
        assert!(p.use_metadata_mirror());
        assert_eq!(p.block_abs(&d, 1, 1).unwrap(), 31 * 2048);
        assert!(!p.use_metadata_mirror());
    }

    fn virtual_map() -> Vec<u8> {
        let mut m = vec![0u8; 64];
        m[0] = 2;
        m[1] = 64;
        m[5..27].copy_from_slice(b"*UDF Virtual Partition");
        m
    }

    /// A VAT (UDF 2.2.11) with `entries`, embedded in its ICB at `sector`
    /// (partition from sector 10), in the 2.00 form with a header or the 1.50
    /// form with the trailing entity id.
    fn vat_image(sector: usize, entries: &[u32], v200: bool, trailing_zeros: usize) -> Vec<u8> {
        let mut body = Vec::new();
        if v200 {
            let mut h = vec![0u8; 152];
            h[0..2].copy_from_slice(&152u16.to_le_bytes());
            h[4] = 8;
            h[5..13].copy_from_slice(b"VAT NAME");
            h[131] = 9;
            body.extend(h);
        }
        for e in entries {
            body.extend(e.to_le_bytes());
        }
        if !v200 {
            let mut id = vec![0u8; 36];
            id[1..23].copy_from_slice(b"*UDF Virtual Alloc Tbl");
            body.extend(id);
        }
        let ft = if v200 { file_type::VAT } else { 0 };
        let fe = icb::build::fe(2048, (sector - 10) as u32, ft, 3, body.len() as u64, &body);
        let mut img = vec![0u8; (sector + 1 + trailing_zeros) * 2048];
        img[sector * 2048..(sector + 1) * 2048].copy_from_slice(&fe);
        img
    }

    #[test]
    fn finds_and_reads_the_vat() {
        for (v200, zeros, form) in [
            (true, 0, "VAT 2.00"),
            (false, 0, "VAT 1.50"),
            (true, 5000, "VAT 2.00"),
        ] {
            let img = vat_image(60, &[5, 6, u32::MAX], v200, zeros);
            let d = Disk::new(Arc::new(MemSource::new(img)), 2048);
            let mut notes = Notes::default();
            let lv = lv(&[super::super::vds::build::map1(0), virtual_map()]);
            let p = build(&d, &lv, &[pd(0, 10, 6000)], &mut notes).unwrap();
            assert_eq!(notes.vat_form, Some(form));
            assert_eq!(
                describe(&p, notes.vat_form),
                format!("physical, virtual ({form})")
            );
            assert_eq!(notes.vat_volume_id.as_deref(), v200.then_some("VAT NAME"));
            assert_eq!(p.block_abs(&d, 1, 1).unwrap(), 16 * 2048);
            assert!(p.block_abs(&d, 1, 2).is_err());
        }
        // No VAT at all: the map is unusable, with a warning, not a failure.
        let d = Disk::new(Arc::new(MemSource::new(vec![0u8; 100 * 2048])), 2048);
        let mut notes = Notes::default();
        let lv = lv(&[super::super::vds::build::map1(0), virtual_map()]);
        let p = build(&d, &lv, &[pd(0, 10, 90)], &mut notes).unwrap();
        assert!(
            p.block_abs(&d, 1, 0)
                .unwrap_err()
                .to_string()
                .contains("VAT")
        );
        assert!(notes.extra.iter().any(|(k, _)| *k == "warning"));
    }
}
