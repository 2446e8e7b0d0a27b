//! Checking a UDF volume for `verify`: every descriptor the reader would
//! trust or fall back from, not just the first that works.
//!
//! * Anchors at 256, N-1 and N-257 (ECMA-167 3/8.4.2.1): each one recorded
//!   must verify, not only the one the reader found.
//! * Both the main and the reserve volume descriptor sequence (3/8.4.2):
//!   tag checksum, CRC and location of every descriptor (3/7.2).
//! * The logical volume integrity sequence (3/10.10).
//! * The partition maps, and a metadata partition's metadata file byte for
//!   byte against its mirror (OSTA UDF 2.60 2.2.13.1).
//! * The file set descriptor (4/14.1) and, through the main metadata file
//!   only, every file entry (4/14.9, 4/14.17) and file identifier descriptor
//!   (4/14.4) of the tree; a directory met twice is a loop.

use std::collections::HashSet;
use std::sync::Arc;

use crate::error::{Error, Location, Result};
use crate::format::Format;
use crate::node::{Extent, FileData, FileType};
use crate::source::ReadAt;
use crate::verify::Report;

use super::anchor::{self, ExtentAd};
use super::disk::{Disk, MAX_READ, read_data};
use super::icb::{self, Entry, LongAd};
use super::le::u16_at;
use super::partition::{self, Kind, Partitions};
use super::tag::{self, ident};
use super::{fid, file_set, recognition, vds};

/// Most descriptors read in one sequence (as the reader's own bound).
const MAX_SEQUENCE: u64 = 4096;
/// Deepest directory nesting walked.
const MAX_DEPTH: usize = 4096;
/// Bytes of the metadata file compared per read.
const COMPARE_CHUNK: u64 = 1 << 20;

/// What the UDF side holds, for the rest of the check.
pub(crate) struct UdfSide {
    /// A UDF volume is there (recognition sequence or a valid anchor), whether or not it reads.
    pub recognised: bool,
    /// The UDF tree as the reader shows it, when it opens.
    pub format: Option<Box<dyn Format>>,
}

/// Checks the UDF side of `src` (the logical image, through the cache).
pub(crate) fn run(src: &Arc<dyn ReadAt>, report: &mut Report) -> UdfSide {
    let rec = recognition::scan(&**src);
    let found = match anchor::find(&**src) {
        Ok(a) => a,
        Err(why) => {
            if rec.nsr.is_some() {
                report.problem(
                    "anchor volume descriptor pointer",
                    Some(256),
                    None,
                    format!(
                        "the volume recognition sequence names UDF but no anchor verifies{}",
                        if why.is_empty() {
                            String::new()
                        } else {
                            format!(": {}", why.join("; "))
                        }
                    ),
                );
            }
            return UdfSide {
                recognised: rec.nsr.is_some(),
                format: None,
            };
        }
    };
    let before = report.problems.len() + report.problems_omitted as usize;
    report
        .checked
        .push("UDF descriptors (tag checksum, CRC, location)".into());
    let disk = Disk::new(Arc::clone(src), found.block_size);
    check_anchors(&disk, report);
    check_sequence(&disk, found.main, "main", report);
    check_sequence(&disk, found.reserve, "reserve", report);
    if let Ok((seq, _)) = vds::read(&disk, found.main, found.reserve) {
        if let Some(lv) = &seq.logical {
            check_integrity(&disk, lv.integrity, report);
            let mut notes = partition::Notes::default();
            match partition::build(&disk, lv, &seq.partitions, &mut notes) {
                Ok(parts) => {
                    check_partitions(&disk, &parts, &notes, report);
                    report
                        .checked
                        .push("UDF tree (file entries, identifiers)".into());
                    let fsd_at = LongAd::parse(&lv.fsd);
                    match file_set::read(&disk, &parts, fsd_at) {
                        Ok(fset) => {
                            report.counters.descriptors += 1;
                            walk(&disk, &parts, fset.root, report);
                        }
                        Err(e) => report.error(&e, "file set descriptor", None),
                    }
                }
                Err(e) => report.error(&e, "partition map", None),
            }
        }
    }
    let format = match super::open(Arc::clone(src)) {
        Ok(Some((f, _))) => Some(f),
        Ok(None) => None,
        Err(e) => {
            // Only news when the checks above did not already say why.
            if report.problems.len() + report.problems_omitted as usize == before {
                report.error(&e, "UDF volume", None);
            }
            None
        }
    };
    UdfSide {
        recognised: true,
        format,
    }
}

/// Every anchor recorded at 256, N-1 and N-257 must verify; 256 must be there.
fn check_anchors(disk: &Disk, report: &mut Report) {
    let n = disk.blocks();
    let mut places = vec![256u64];
    for back in [1u64, 257] {
        if n > back && !places.contains(&(n - back)) {
            places.push(n - back);
        }
    }
    for sector in places {
        let Ok(b) = disk.block(sector, "anchor volume descriptor pointer") else {
            continue;
        };
        // Only 256 is required; the others count when something is recorded there.
        if sector != 256 && u16_at(&b, 0) != ident::AVDP {
            continue;
        }
        let at = Location::sector(sector);
        match tag::expect(
            &b,
            ident::AVDP,
            u32::try_from(sector).ok(),
            "anchor volume descriptor pointer",
            at,
        ) {
            Ok(_) => report.counters.descriptors += 1,
            Err(e) => report.error(&e, "anchor volume descriptor pointer", None),
        }
    }
}

/// Every descriptor of one volume descriptor sequence (3/8.4.2), following
/// volume descriptor pointers (3/10.3), to its terminator.
fn check_sequence(disk: &Disk, extent: ExtentAd, which: &str, report: &mut Report) {
    let mut extent = extent;
    let mut seen = HashSet::new();
    let mut read = 0u64;
    'extents: while seen.insert(extent.loc) {
        let blocks = u64::from(extent.len) / disk.bs64();
        if blocks == 0 {
            report.problem(
                "volume descriptor sequence",
                Some(u64::from(extent.loc)),
                None,
                format!("the {which} sequence's extent is shorter than one block"),
            );
            return;
        }
        for i in 0..blocks {
            read += 1;
            if read > MAX_SEQUENCE {
                report.problem(
                    "volume descriptor sequence",
                    Some(u64::from(extent.loc)),
                    None,
                    format!("the {which} sequence has more than {MAX_SEQUENCE} descriptors"),
                );
                return;
            }
            let sector = u64::from(extent.loc) + i;
            let b = match disk.block(sector, "volume descriptor") {
                Ok(b) => b,
                Err(e) => {
                    report.error(&e, "volume descriptor", None);
                    return;
                }
            };
            if b.iter().take(tag::TAG_LEN).all(|&x| x == 0) {
                return; // an unrecorded block ends the sequence (3/8.4.2)
            }
            match tag::parse(
                &b,
                u32::try_from(sector).ok(),
                descriptor_name(&b),
                Location::sector(sector),
            ) {
                Ok(t) => {
                    report.counters.descriptors += 1;
                    match t.ident {
                        ident::TD => return,
                        ident::VDP => {
                            extent = ExtentAd::parse(b.get(20..28).unwrap_or_default());
                            continue 'extents;
                        }
                        _ => {}
                    }
                }
                Err(e) => report.error(&e, "volume descriptor", None),
            }
        }
        return;
    }
    report.problem(
        "volume descriptor pointer",
        Some(u64::from(extent.loc)),
        None,
        format!("the {which} sequence continues at an extent already read (a loop)"),
    );
}

/// The name of the descriptor whose tag starts `b`, for messages.
fn descriptor_name(b: &[u8]) -> &'static str {
    match u16_at(b, 0) {
        ident::PVD => "primary volume descriptor",
        ident::AVDP => "anchor volume descriptor pointer",
        ident::VDP => "volume descriptor pointer",
        ident::IUVD => "implementation use volume descriptor",
        ident::PD => "partition descriptor",
        ident::LVD => "logical volume descriptor",
        ident::USD => "unallocated space descriptor",
        ident::TD => "terminating descriptor",
        ident::LVID => "logical volume integrity descriptor",
        _ => "volume descriptor",
    }
}

/// The logical volume integrity sequence (3/10.10, 3/8.8.2): each
/// descriptor verifies; continuations (next integrity extent) are followed.
fn check_integrity(disk: &Disk, extent: ExtentAd, report: &mut Report) {
    let mut extent = extent;
    let mut seen = HashSet::new();
    let mut read = 0u64;
    while extent.len > 0 && seen.insert(extent.loc) {
        let blocks = u64::from(extent.len) / disk.bs64();
        let mut next = None;
        for i in 0..blocks.max(1) {
            read += 1;
            if read > MAX_SEQUENCE {
                return;
            }
            let sector = u64::from(extent.loc) + i;
            let Ok(b) = disk.block(sector, "logical volume integrity descriptor") else {
                report.problem(
                    "logical volume integrity descriptor",
                    Some(sector),
                    None,
                    "lies beyond the end of the image",
                );
                return;
            };
            if b.iter().take(tag::TAG_LEN).all(|&x| x == 0) {
                break;
            }
            let at = Location::sector(sector);
            match tag::parse(
                &b,
                u32::try_from(sector).ok(),
                "logical volume integrity descriptor",
                at,
            ) {
                Ok(t) if t.ident == ident::LVID => {
                    report.counters.descriptors += 1;
                    let n = ExtentAd::parse(b.get(24..32).unwrap_or_default());
                    if n.len > 0 {
                        next = Some(n);
                    }
                }
                Ok(t) if t.ident == ident::TD => {
                    report.counters.descriptors += 1;
                    break;
                }
                Ok(t) => {
                    report.problem(
                        "logical volume integrity descriptor",
                        Some(sector),
                        None,
                        format!(
                            "tag identifier {} where 9 (integrity) or 8 (terminator) is expected",
                            t.ident
                        ),
                    );
                    break;
                }
                Err(e) => {
                    report.error(&e, "logical volume integrity descriptor", None);
                    break;
                }
            }
        }
        match next {
            Some(n) => extent = n,
            None => return,
        }
    }
}

/// Unusable maps, a metadata file read from its mirror or a mirror that
/// does not read, and the metadata file against its mirror, byte for byte.
fn check_partitions(
    disk: &Disk,
    parts: &Partitions,
    notes: &partition::Notes,
    report: &mut Report,
) {
    for (what, note) in &notes.extra {
        if *what == "Metadata file" {
            report.problem("metadata file", None, None, note.clone());
        }
    }
    if let Some(e) = &notes.mirror_unreadable {
        let message = format!("the metadata mirror file does not read: {e}");
        match e {
            Error::Corrupt { at, .. } | Error::Truncated { at, .. } => {
                report.problem("metadata mirror file", Some(at.sector), None, message)
            }
            _ => report.problem("metadata mirror file", None, None, message),
        }
    }
    for (i, map) in parts.maps.iter().enumerate() {
        match &map.kind {
            Kind::Unusable(why) => report.problem(
                "partition map",
                None,
                None,
                format!(
                    "partition map {i} (partition {}) is unusable: {why}",
                    map.number
                ),
            ),
            Kind::Metadata {
                file,
                mirror: Some(mirror),
            } => {
                report
                    .checked
                    .push("UDF metadata file against its mirror".into());
                compare_metadata(disk, file, mirror, report);
            }
            _ => {}
        }
    }
}

/// The metadata file and its mirror hold the same bytes (UDF 2.60 2.2.13.1).
fn compare_metadata(disk: &Disk, file: &FileData, mirror: &FileData, report: &mut Report) {
    if file.len() != mirror.len() {
        report.problem(
            "metadata mirror file",
            first_sector(disk, mirror),
            None,
            format!(
                "{} bytes, the metadata file has {}",
                mirror.len(),
                file.len()
            ),
        );
    }
    let len = file.len().min(mirror.len());
    let mut off = 0u64;
    while off < len {
        let n = (len - off).min(COMPARE_CHUNK);
        let (a, b) = match (
            read_range(disk, file, off, n),
            read_range(disk, mirror, off, n),
        ) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) => return report.error(&e, "metadata file", None),
            (_, Err(e)) => return report.error(&e, "metadata mirror file", None),
        };
        report.counters.metadata_bytes_compared += n;
        report.counters.bytes += 2 * n;
        if let Some(i) = a.iter().zip(&b).position(|(x, y)| x != y) {
            let at = off + i as u64;
            let block = at / disk.bs64();
            let main = sector_of(disk, file, at);
            let copy = sector_of(disk, mirror, at);
            report.problem(
                "metadata file",
                main,
                None,
                format!(
                    "differs from its mirror from byte {at} on (metadata block {block}; mirror copy \
                     at sector {}): one of the two copies is damaged",
                    copy.map_or("?".to_string(), |s| s.to_string())
                ),
            );
            return;
        }
        off += n;
    }
}

/// The image sector holding byte `at` of `data`.
fn sector_of(disk: &Disk, data: &FileData, at: u64) -> Option<u64> {
    match data.map(at, 1).next() {
        Some((Extent::Recorded { start, .. }, within, _)) => Some((start + within) / disk.bs64()),
        _ => None,
    }
}

fn first_sector(disk: &Disk, data: &FileData) -> Option<u64> {
    sector_of(disk, data, 0)
}

/// `len` bytes of `data` from `off` (zero extents read as zeros).
fn read_range(disk: &Disk, data: &FileData, off: u64, len: u64) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    for (extent, within, n) in data.map(off, len) {
        match extent {
            Extent::Recorded { start, .. } => out.extend(disk.read(
                start + within,
                usize::try_from(n).unwrap_or(usize::MAX),
                "metadata file",
            )?),
            Extent::Zero { .. } => out.resize(out.len() + usize::try_from(n).unwrap_or(0), 0),
        }
    }
    Ok(out)
}

/// Every file entry and file identifier of the tree under `root`, read
/// through the main metadata file (the mirror stands in for nothing here).
fn walk(disk: &Disk, parts: &Partitions, root: LongAd, report: &mut Report) {
    let root = match icb::read_entry(disk, parts, root.part, root.lbn) {
        Ok(e) => e,
        Err(e) => return report.error(&e, "file entry", Some("/")),
    };
    report.counters.file_entries += 1;
    let mut visited = HashSet::from([root.abs]);
    let mut stack: Vec<(Entry, String, usize)> = vec![(root, String::new(), 0)];
    while let Some((dir, path, depth)) = stack.pop() {
        report.counters.directories += 1;
        let shown = if path.is_empty() { "/" } else { path.as_str() };
        let data = match partition::entry_data(disk, parts, &dir) {
            Ok(d) => d,
            Err(e) => {
                report.error(&e, "allocation descriptor", Some(shown));
                continue;
            }
        };
        let at = dir.at(disk);
        let bytes = match read_data(disk, &data, MAX_READ as u64, "directory", at) {
            Ok(b) => b,
            Err(e) => {
                report.error(&e, "directory", Some(shown));
                continue;
            }
        };
        let fids = fid::walk(&bytes, &|o| match sector_of(disk, &data, o as u64) {
            Some(s) => Location::at(s, 0),
            None => at,
        });
        report.counters.fids += (fids.entries.len() + fids.problems.len()) as u64;
        for e in &fids.problems {
            report.error(e, "file identifier descriptor", Some(shown));
        }
        for f in fids.entries {
            if f.characteristics & fid::chars::METADATA != 0 {
                continue;
            }
            let child = format!("{path}/{}", f.name);
            let entry = match icb::read_entry(disk, parts, f.icb.part, f.icb.lbn) {
                Ok(e) => e,
                Err(e) => {
                    report.error(&e, "file entry", Some(&child));
                    continue;
                }
            };
            report.counters.file_entries += 1;
            match entry.kind(disk) {
                Ok(FileType::Directory) => {
                    if !visited.insert(entry.abs) {
                        report.problem(
                            "file identifier descriptor",
                            Some(entry.abs / disk.bs64()),
                            Some(&child),
                            "names a directory already in the tree (a loop or a hard-linked directory)",
                        );
                    } else if depth >= MAX_DEPTH {
                        report.problem(
                            "directory",
                            Some(entry.abs / disk.bs64()),
                            Some(&child),
                            format!("nested more than {MAX_DEPTH} deep"),
                        );
                    } else {
                        stack.push((entry, child, depth + 1));
                    }
                }
                Ok(FileType::Regular | FileType::Symlink) => {
                    match partition::entry_data(disk, parts, &entry) {
                        Ok(d) => {
                            report.counters.extents += d.extents().len() as u64;
                            if let Some(problem) = outside(disk, &d) {
                                report.problem(
                                    "allocation descriptor",
                                    Some(entry.abs / disk.bs64()),
                                    Some(&child),
                                    problem,
                                );
                            }
                        }
                        Err(e) => report.error(&e, "allocation descriptor", Some(&child)),
                    }
                }
                Ok(_) => {}
                Err(e) => report.error(&e, "file entry", Some(&child)),
            }
        }
    }
}

/// Why a file's recorded extents do not all lie inside the image, if they do not.
fn outside(disk: &Disk, data: &FileData) -> Option<String> {
    data.extents().iter().find_map(|e| match *e {
        Extent::Recorded { start, len } if start.saturating_add(len) > disk.len => Some(format!(
            "an extent of {len} bytes at sector {} runs past the end of the image ({} bytes)",
            start / disk.bs64(),
            disk.len
        )),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::MemSource;
    use crate::udf::tests::{BS, PART, metadata_image};

    fn check(img: Vec<u8>) -> Report {
        let src: Arc<dyn ReadAt> = Arc::new(MemSource::new(img));
        let mut r = Report::default();
        let side = run(&src, &mut r);
        assert!(side.recognised);
        r
    }

    fn structures(r: &Report) -> Vec<(&'static str, Option<String>)> {
        r.problems
            .iter()
            .map(|p| (p.structure, p.path.clone()))
            .collect()
    }

    /// The image's one deliberately broken entry (its tag names another block).
    fn only_the_broken_entry(r: &Report) -> bool {
        r.problems.len() == 1
            && r.problems.iter().all(|p| {
                p.structure == "file entry"
                    && p.path.as_deref() == Some("/broken")
                    && p.sector == Some((PART + 22) as u64)
            })
    }

    #[test]
    fn a_clean_metadata_volume_has_no_problems_but_its_broken_entry() {
        let r = check(metadata_image());
        assert!(only_the_broken_entry(&r), "{:?}", r.problems);
        assert!(r.counters.metadata_bytes_compared > 0);
        assert!(r.counters.fids >= 48 && r.counters.file_entries > 48);
        // Anchor, both sequences (PVD, PD, LVD, TD each), the FSD.
        assert!(r.counters.descriptors >= 10, "{:?}", r.counters);
    }

    #[test]
    fn damage_in_the_main_metadata_file_is_found_though_the_mirror_is_good() {
        // A FID in the root directory and one file entry, in the main copy only.
        let mut img = metadata_image();
        img[(PART + 10 + 2) * BS + 300] ^= 0xff;
        img[(PART + 10 + 6) * BS + 60] ^= 0xff;
        let r = check(img);
        let s = structures(&r);
        assert!(
            s.iter().any(|(k, p)| *k == "metadata file" && p.is_none()),
            "{s:?}"
        );
        assert!(
            s.iter()
                .any(|(k, p)| *k == "file identifier descriptor" && p.as_deref() == Some("/")),
            "{s:?}"
        );
        assert!(
            s.iter().any(|(k, p)| *k == "file entry" && p.is_some()),
            "{s:?}"
        );
    }

    #[test]
    fn a_damaged_volume_descriptor_names_itself() {
        // The LVD of the main sequence (sector 34): its CRC fails; the
        // reserve sequence keeps the rest checkable.
        let mut img = metadata_image();
        img[34 * BS + 100] ^= 1;
        let mut r = check(img);
        let p = r.problems.remove(0);
        assert_eq!(p.structure, "logical volume descriptor", "{p:?}");
        assert_eq!(p.sector, Some(34));
        assert!(p.message.contains("CRC"), "{p:?}");
        assert!(only_the_broken_entry(&r), "{:?}", r.problems);
        assert!(r.counters.fids >= 48);
    }
}
