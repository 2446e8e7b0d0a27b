//! Volume descriptor sequence (ECMA-167 3/8.4, 3/10).
//!
//! Read from the extent the anchor names: primary volume descriptor (3/10.1),
//! implementation use (3/10.4), partition descriptors (3/10.5), logical
//! volume descriptor (3/10.6), unallocated space (3/10.8), volume descriptor
//! pointers (3/10.3, continuing the sequence elsewhere) up to the
//! terminating descriptor (3/10.9). For each kind the descriptor with the
//! highest volume descriptor sequence number wins (3/8.4.3). When the main
//! sequence is damaged (a bad tag, or no LVD / PD) the reserve copy is used.

use crate::error::{Error, Location, Result};
use crate::node::Timestamp;

use super::anchor::ExtentAd;
use super::cs0::dstring;
use super::disk::Disk;
use super::le::{bytes, regid_ident, u16_at, u32_at};
use super::tag::{self, ident};
use super::timestamp;

/// Most descriptors read from one sequence, continuations included.
const MAX_DESCRIPTORS: usize = 512;
/// Most volume descriptor pointers followed in one sequence.
const MAX_POINTERS: usize = 16;

/// Primary volume descriptor fields (3/10.1).
#[derive(Debug, Clone, Default)]
pub(crate) struct Primary {
    /// Volume descriptor sequence number (3/10.1.2): the highest wins.
    pub vdsn: u32,
    /// Volume identifier (3/10.1.4).
    pub volume_id: String,
    /// Volume set identifier (3/10.1.11).
    pub volume_set_id: String,
    /// Application identifier (3/10.1.15).
    pub application_id: String,
    /// Implementation identifier.
    pub implementation_id: String,
    /// Recording date and time (3/10.1.16).
    pub recorded: Option<Timestamp>,
}

/// Partition descriptor fields (3/10.5).
#[derive(Debug, Clone, Default)]
pub(crate) struct PartitionDesc {
    /// Volume descriptor sequence number (3/10.1.2): the highest wins.
    pub vdsn: u32,
    /// Partition number (3/10.5.5), named by partition maps.
    pub number: u16,
    /// First sector.
    pub start: u32,
    /// Length in sectors.
    pub length: u32,
}

/// Logical volume descriptor fields (3/10.6).
#[derive(Debug, Clone, Default)]
pub(crate) struct LogicalVolume {
    /// Volume descriptor sequence number (3/10.1.2): the highest wins.
    pub vdsn: u32,
    /// Logical volume identifier (3/10.6.4).
    pub id: String,
    /// Logical block size (3/10.6.5).
    pub block_size: u32,
    /// Domain identifier (should be "*OSTA UDF Compliant").
    pub domain: String,
    /// UDF revision from the domain identifier suffix (e.g. 0x0102).
    pub udf_revision: u16,
    /// Logical volume contents use: long_ad of the file set descriptor (4/3.1).
    pub fsd: [u8; 16],
    /// Logical volume integrity sequence extent (3/10.6.12).
    pub integrity: ExtentAd,
    /// Implementation identifier.
    pub implementation_id: String,
    /// Raw partition map bytes (3/10.7) and their declared count.
    pub maps: Vec<u8>,
    pub map_count: u32,
}

/// The descriptors of one sequence.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sequence {
    /// The primary volume descriptor.
    pub primary: Option<Primary>,
    /// The logical volume descriptor.
    pub logical: Option<LogicalVolume>,
    /// Partition descriptors, one per partition number.
    pub partitions: Vec<PartitionDesc>,
}

/// Reads the main sequence, falling back to the reserve. Returns the
/// sequence and a note when the reserve had to be used.
pub(crate) fn read(
    disk: &Disk,
    main: ExtentAd,
    reserve: ExtentAd,
) -> Result<(Sequence, Option<String>)> {
    let main_err = match read_one(disk, main) {
        Ok(s) => return Ok((s, None)),
        Err(e) => e,
    };
    log::warn!("main volume descriptor sequence unusable ({main_err}); trying the reserve");
    match read_one(disk, reserve) {
        Ok(s) => Ok((
            s,
            Some(format!(
                "reserve sequence used: main one is damaged ({main_err})"
            )),
        )),
        Err(e) => Err(Error::corrupt(
            "volume descriptor sequence",
            Location::sector(u64::from(main.loc)),
            format!("main sequence: {main_err}; reserve sequence: {e}"),
        )),
    }
}

/// Reads one sequence and checks that it has what a UDF volume needs.
fn read_one(disk: &Disk, extent: ExtentAd) -> Result<Sequence> {
    let mut seq = Sequence::default();
    let mut visited = Vec::new();
    let mut extent = extent;
    let mut pointers = 0usize;
    let mut count = 0usize;
    'extents: loop {
        if visited.contains(&extent.loc) {
            return Err(Error::corrupt(
                "volume descriptor pointer",
                Location::sector(u64::from(extent.loc)),
                "the sequence continues at an extent already read (a loop)",
            ));
        }
        visited.push(extent.loc);
        let blocks = u64::from(extent.len) / disk.bs64();
        if blocks == 0 {
            return Err(Error::corrupt(
                "volume descriptor sequence",
                Location::sector(u64::from(extent.loc)),
                "extent is shorter than one block",
            ));
        }
        for i in 0..blocks {
            count += 1;
            if count > MAX_DESCRIPTORS {
                return Err(Error::corrupt(
                    "volume descriptor sequence",
                    Location::sector(u64::from(extent.loc)),
                    format!("more than {MAX_DESCRIPTORS} descriptors without a terminator"),
                ));
            }
            let sector = u64::from(extent.loc) + i;
            let b = disk.block(sector, "volume descriptor")?;
            if b.iter().take(16).all(|&x| x == 0) {
                // An unrecorded block ends the sequence (3/8.4.2).
                break 'extents;
            }
            let at = Location::sector(sector);
            let t = tag::parse(&b, u32::try_from(sector).ok(), "volume descriptor", at)?;
            match t.ident {
                ident::PVD => {
                    let p = parse_primary(&b);
                    if seq.primary.as_ref().is_none_or(|o| p.vdsn >= o.vdsn) {
                        seq.primary = Some(p);
                    }
                }
                ident::LVD => {
                    let l = parse_logical(&b, at)?;
                    if seq.logical.as_ref().is_none_or(|o| l.vdsn >= o.vdsn) {
                        seq.logical = Some(l);
                    }
                }
                ident::PD => {
                    let p = parse_partition(&b);
                    match seq.partitions.iter_mut().find(|o| o.number == p.number) {
                        Some(o) if p.vdsn >= o.vdsn => *o = p,
                        Some(_) => {}
                        None => seq.partitions.push(p),
                    }
                }
                ident::VDP => {
                    pointers += 1;
                    if pointers > MAX_POINTERS {
                        return Err(Error::corrupt(
                            "volume descriptor pointer",
                            at,
                            format!("more than {MAX_POINTERS} continuations"),
                        ));
                    }
                    extent = ExtentAd::parse(bytes(&b, 20, 8));
                    continue 'extents;
                }
                ident::TD => break 'extents,
                ident::IUVD | ident::USD | ident::AVDP => {}
                other => {
                    return Err(Error::corrupt(
                        "volume descriptor",
                        at,
                        format!("unexpected tag identifier {other} in the sequence"),
                    ));
                }
            }
        }
        break;
    }
    let at = Location::sector(u64::from(visited.first().copied().unwrap_or(0)));
    if seq.logical.is_none() {
        return Err(Error::corrupt(
            "volume descriptor sequence",
            at,
            "no logical volume descriptor",
        ));
    }
    if seq.partitions.is_empty() {
        return Err(Error::corrupt(
            "volume descriptor sequence",
            at,
            "no partition descriptor",
        ));
    }
    Ok(seq)
}

fn parse_primary(b: &[u8]) -> Primary {
    Primary {
        vdsn: u32_at(b, 16),
        volume_id: dstring(bytes(b, 24, 32)),
        volume_set_id: dstring(bytes(b, 72, 128)),
        application_id: regid_ident(bytes(b, 344, 32)),
        recorded: timestamp::parse(bytes(b, 376, 12)),
        implementation_id: regid_ident(bytes(b, 388, 32)),
    }
}

fn parse_partition(b: &[u8]) -> PartitionDesc {
    PartitionDesc {
        vdsn: u32_at(b, 16),
        number: u16_at(b, 22),
        start: u32_at(b, 188),
        length: u32_at(b, 192),
    }
}

fn parse_logical(b: &[u8], at: Location) -> Result<LogicalVolume> {
    let map_len = u32_at(b, 264) as usize;
    let Some(maps) = b.get(440..440usize.saturating_add(map_len)) else {
        return Err(Error::corrupt(
            "logical volume descriptor",
            at,
            format!("partition map table of {map_len} bytes runs past the block"),
        ));
    };
    let mut fsd = [0u8; 16];
    fsd.copy_from_slice(bytes(b, 248, 16));
    let suffix = bytes(b, 216 + 24, 2);
    Ok(LogicalVolume {
        vdsn: u32_at(b, 16),
        id: dstring(bytes(b, 84, 128)),
        block_size: u32_at(b, 212),
        domain: regid_ident(bytes(b, 216, 32)),
        udf_revision: u16_at(suffix, 0),
        fsd,
        integrity: ExtentAd::parse(bytes(b, 432, 8)),
        implementation_id: regid_ident(bytes(b, 272, 32)),
        maps: maps.to_vec(),
        map_count: u32_at(b, 268),
    })
}

/// Recording time of the newest logical volume integrity descriptor
/// (3/10.10): when the volume was last written. `None` when the integrity
/// sequence is absent or unreadable (it is informational only).
pub(crate) fn last_written(disk: &Disk, extent: ExtentAd) -> Option<Timestamp> {
    let mut newest = None;
    let mut extent = extent;
    let mut seen = Vec::new();
    'extents: for _ in 0..MAX_POINTERS {
        if extent.len == 0 || seen.contains(&extent.loc) {
            break;
        }
        seen.push(extent.loc);
        let blocks = (u64::from(extent.len) / disk.bs64()).min(64);
        for i in 0..blocks {
            let sector = u64::from(extent.loc) + i;
            let b = disk
                .block(sector, "logical volume integrity descriptor")
                .ok()?;
            let at = Location::sector(sector);
            let Ok(t) = tag::parse(&b, u32::try_from(sector).ok(), "integrity descriptor", at)
            else {
                break 'extents;
            };
            match t.ident {
                ident::LVID => {
                    newest = timestamp::parse(bytes(&b, 16, 12)).or(newest);
                    // Next integrity extent (3/10.10.4).
                    let next = ExtentAd::parse(bytes(&b, 32, 8));
                    if next.len != 0 {
                        extent = next;
                        continue 'extents;
                    }
                }
                _ => break 'extents,
            }
        }
        break;
    }
    newest
}

/// Test builders for the descriptors of a sequence.
#[cfg(test)]
pub(crate) mod build {
    use super::super::tag::{self, ident};

    fn dstr(field: &mut [u8], s: &str) {
        field[0] = 8;
        field[1..1 + s.len()].copy_from_slice(s.as_bytes());
        let n = field.len();
        field[n - 1] = (s.len() + 1) as u8;
    }

    pub(crate) fn pvd(bs: usize, sector: u32, vol_id: &str) -> Vec<u8> {
        let mut b = vec![0u8; bs];
        dstr(&mut b[24..56], vol_id);
        dstr(&mut b[72..200], "SETID");
        tag::write(&mut b, ident::PVD, sector, 496);
        b
    }

    pub(crate) fn pd(bs: usize, sector: u32, number: u16, start: u32, len: u32) -> Vec<u8> {
        let mut b = vec![0u8; bs];
        b[22..24].copy_from_slice(&number.to_le_bytes());
        b[25..31].copy_from_slice(b"+NSR02");
        b[184..188].copy_from_slice(&1u32.to_le_bytes());
        b[188..192].copy_from_slice(&start.to_le_bytes());
        b[192..196].copy_from_slice(&len.to_le_bytes());
        tag::write(&mut b, ident::PD, sector, 496);
        b
    }

    /// An LVD with the given maps and the FSD at (partition ref 0, `fsd_lbn`).
    pub(crate) fn lvd(bs: usize, sector: u32, id: &str, maps: &[Vec<u8>], fsd_lbn: u32) -> Vec<u8> {
        let mut b = vec![0u8; bs];
        dstr(&mut b[84..212], id);
        b[212..216].copy_from_slice(&(bs as u32).to_le_bytes());
        b[217..236].copy_from_slice(b"*OSTA UDF Compliant");
        b[240..242].copy_from_slice(&0x0102u16.to_le_bytes());
        b[248..252].copy_from_slice(&(bs as u32).to_le_bytes());
        b[252..256].copy_from_slice(&fsd_lbn.to_le_bytes());
        let mut table = Vec::new();
        for m in maps {
            table.extend_from_slice(m);
        }
        b[264..268].copy_from_slice(&(table.len() as u32).to_le_bytes());
        b[268..272].copy_from_slice(&(maps.len() as u32).to_le_bytes());
        b[440..440 + table.len()].copy_from_slice(&table);
        let crc_len = 440 + table.len() - 16;
        tag::write(&mut b, ident::LVD, sector, crc_len);
        b
    }

    pub(crate) fn td(bs: usize, sector: u32) -> Vec<u8> {
        let mut b = vec![0u8; bs];
        tag::write(&mut b, ident::TD, sector, 496);
        b
    }

    /// A type 1 partition map (3/10.7.2).
    pub(crate) fn map1(number: u16) -> Vec<u8> {
        let mut m = vec![1u8, 6, 1, 0];
        m.extend(number.to_le_bytes());
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::MemSource;
    use std::sync::Arc;

    fn image(damage_main: bool) -> Vec<u8> {
        let bs = 2048;
        let mut img = vec![0u8; 80 * bs];
        for (base, vol) in [(32u32, "MAIN"), (48, "RESERVE")] {
            let descs = [
                build::pvd(bs, base, vol),
                build::pd(bs, base + 1, 0, 100, 50),
                build::lvd(bs, base + 2, vol, &[build::map1(0)], 0),
                build::td(bs, base + 3),
            ];
            for (i, d) in descs.iter().enumerate() {
                let at = (base as usize + i) * bs;
                img[at..at + bs].copy_from_slice(d);
            }
        }
        if damage_main {
            img[34 * bs + 100] ^= 0xff; // LVD body: CRC now wrong
        }
        img
    }

    fn disk(img: Vec<u8>) -> Disk {
        Disk::new(Arc::new(MemSource::new(img)), 2048)
    }

    #[test]
    fn main_sequence_is_read() {
        let d = disk(image(false));
        let ext = |loc| ExtentAd {
            len: 16 * 2048,
            loc,
        };
        let (seq, note) = read(&d, ext(32), ext(48)).unwrap();
        assert!(note.is_none());
        assert_eq!(seq.primary.unwrap().volume_id, "MAIN");
        let lv = seq.logical.unwrap();
        assert_eq!(
            (lv.id.as_str(), lv.block_size, lv.udf_revision),
            ("MAIN", 2048, 0x0102)
        );
        assert_eq!(lv.map_count, 1);
        assert_eq!(seq.partitions[0].start, 100);
    }

    #[test]
    fn damaged_main_falls_back_to_reserve() {
        let d = disk(image(true));
        let ext = |loc| ExtentAd {
            len: 16 * 2048,
            loc,
        };
        let (seq, note) = read(&d, ext(32), ext(48)).unwrap();
        assert_eq!(seq.logical.unwrap().id, "RESERVE");
        assert!(note.unwrap().contains("CRC"));
        // Both damaged: one error naming both.
        let e = read(&d, ext(32), ext(32)).unwrap_err().to_string();
        assert!(e.contains("reserve sequence"), "{e}");
    }

    #[test]
    fn integrity_sequence_gives_last_written_time() {
        let bs = 2048;
        let mut img = vec![0u8; 70 * bs];
        for (sector, year, next) in [(60u32, 2020i16, 64u32), (64, 2030, 0)] {
            let mut b = vec![0u8; bs];
            b[16..28].copy_from_slice(&timestamp::build(0, year, 1, 1, 0, 0, 0, 0));
            if next != 0 {
                b[32..36].copy_from_slice(&2048u32.to_le_bytes());
                b[36..40].copy_from_slice(&next.to_le_bytes());
            }
            tag::write(&mut b, ident::LVID, sector, 496);
            img[sector as usize * bs..(sector as usize + 1) * bs].copy_from_slice(&b);
        }
        let d = disk(img);
        let t = last_written(&d, ExtentAd { len: 4096, loc: 60 }).unwrap();
        assert_eq!(t.to_rfc3339(), "2030-01-01T00:00:00Z");
        assert!(last_written(&d, ExtentAd { len: 2048, loc: 10 }).is_none());
        assert!(last_written(&d, ExtentAd { len: 0, loc: 60 }).is_none());
    }

    #[test]
    fn pointer_loop_is_detected() {
        let bs = 2048;
        let mut img = vec![0u8; 40 * bs];
        let mut vdp = vec![0u8; bs];
        vdp[20..24].copy_from_slice(&2048u32.to_le_bytes());
        vdp[24..28].copy_from_slice(&32u32.to_le_bytes());
        tag::write(&mut vdp, ident::VDP, 32, 496);
        img[32 * bs..33 * bs].copy_from_slice(&vdp);
        let e = read_one(&disk(img), ExtentAd { len: 2048, loc: 32 }).unwrap_err();
        assert!(e.to_string().contains("loop"), "{e}");
    }
}
