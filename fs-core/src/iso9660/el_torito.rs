//! El Torito bootable CD-ROM format (Phoenix/IBM "El Torito" Bootable CD-ROM
//! Format Specification 1.0).
//!
//! * Boot record volume descriptor (El Torito 2.0, ECMA-119 8.2): type 0,
//!   boot system identifier "EL TORITO SPECIFICATION" at BP 8-39, absolute
//!   LBA of the boot catalog (little-endian u32) at BP 72-75.
//! * Boot catalog (2.1-2.5): 32-byte entries. The validation entry (header
//!   id 1, platform id, key bytes 55 AA, the 16 little-endian words sum to
//!   0), the initial/default entry, then section headers (0x90 = more
//!   follow, 0x91 = final) each followed by its section entries; a section
//!   entry with bit 5 of the media byte set is followed by extension entries
//!   (header 0x44, bit 5 of byte 1 = more follow), which we skip.
//!
//! Reading is bounded: the catalog is read from at most 4
//! sectors, i.e. at most 256 32-byte entries.

use crate::error::{Error, Location, Result};
use crate::source::ReadAt;

use crate::bytes::u32_le;

/// Boot system identifier of an El Torito boot record (2.0).
pub(crate) const BOOT_SYSTEM_ID: &[u8] = b"EL TORITO SPECIFICATION";
/// Sectors of catalog read at most.
pub(crate) const MAX_CATALOG_SECTORS: usize = 4;
/// 32-byte catalog entries looked at at most.
pub(crate) const MAX_ENTRIES: usize = MAX_CATALOG_SECTORS * 2048 / ENTRY;
const ENTRY: usize = 32;
const STRUCTURE: &str = "El Torito boot catalog";

/// Boot media type of an initial or section entry (2.2 offset 1, bits 0-3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootMedia {
    /// No emulation: the image is loaded as is.
    NoEmulation,
    /// 1.2 MB floppy emulation.
    Floppy1200,
    /// 1.44 MB floppy emulation.
    Floppy1440,
    /// 2.88 MB floppy emulation.
    Floppy2880,
    /// Hard disk emulation (the image starts with an MBR).
    HardDisk,
    /// A value the specification does not define.
    Unknown(u8),
}

impl BootMedia {
    fn from_byte(b: u8) -> BootMedia {
        match b & 0x0F {
            0 => BootMedia::NoEmulation,
            1 => BootMedia::Floppy1200,
            2 => BootMedia::Floppy1440,
            3 => BootMedia::Floppy2880,
            4 => BootMedia::HardDisk,
            v => BootMedia::Unknown(v),
        }
    }

    /// Short human name ("no-emulation", "1.44M floppy", ...).
    pub fn as_str(self) -> &'static str {
        match self {
            BootMedia::NoEmulation => "no-emulation",
            BootMedia::Floppy1200 => "1.2M floppy",
            BootMedia::Floppy1440 => "1.44M floppy",
            BootMedia::Floppy2880 => "2.88M floppy",
            BootMedia::HardDisk => "hard disk",
            BootMedia::Unknown(_) => "unknown media",
        }
    }

    /// The part of the file name 7-Zip gives such an image in `[BOOT]`.
    pub(crate) fn file_stem(self) -> &'static str {
        match self {
            BootMedia::NoEmulation => "Boot-NoEmul",
            BootMedia::Floppy1200 => "Boot-1.2M",
            BootMedia::Floppy1440 => "Boot-1.44M",
            BootMedia::Floppy2880 => "Boot-2.88M",
            BootMedia::HardDisk => "Boot-HardDisk",
            BootMedia::Unknown(_) => "Boot-Unknown",
        }
    }

    /// Fixed size of an emulated floppy (El Torito 2.2 media types 1-3).
    pub(crate) fn floppy_size(self) -> Option<u64> {
        match self {
            BootMedia::Floppy1200 => Some(1200 * 1024),
            BootMedia::Floppy1440 => Some(1440 * 1024),
            BootMedia::Floppy2880 => Some(2880 * 1024),
            _ => None,
        }
    }
}

/// One bootable (or non-bootable) image listed in the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootEntry {
    /// Platform id (2.1 / 2.4): 0 x86, 1 PowerPC, 2 Mac, 0xEF EFI.
    pub platform: u8,
    /// Boot indicator 0x88 (bootable) rather than 0x00.
    pub bootable: bool,
    /// Emulation.
    pub media: BootMedia,
    /// Load segment (0 means the traditional 0x7C0).
    pub load_segment: u16,
    /// System type (partition type byte of a hard disk image).
    pub system_type: u8,
    /// Sector count: 512-byte virtual sectors loaded at boot.
    pub sector_count: u16,
    /// Start of the image, in 2048-byte sectors (load RBA).
    pub load_rba: u32,
    /// Byte offset of this entry in the image (for stable node ids).
    pub entry_offset: u64,
}

impl BootEntry {
    /// The load segment actually used (0 → 0x7C0, El Torito 2.2).
    pub fn effective_load_segment(&self) -> u16 {
        if self.load_segment == 0 {
            0x7C0
        } else {
            self.load_segment
        }
    }

    /// Name of its platform id ("BIOS", "EFI", ...): [`platform_name`].
    pub fn platform_name(&self) -> &'static str {
        platform_name(self.platform)
    }
}

/// A boot image as shown in the `[BOOT]` directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootImage {
    /// The catalog entry.
    pub entry: BootEntry,
    /// File name in `[BOOT]` (7-Zip's naming).
    pub name: String,
    /// Bytes shown: the fixed size of an emulated floppy (El Torito 2.2),
    /// the end of the last MBR partition for hard disk emulation, else the
    /// sector count x 512 (or, for a count of 0 or 1, as EFI images often
    /// have, the size of the file in the tree that starts at the load RBA);
    /// always clipped to the end of the image, as 7-Zip does.
    pub size: u64,
}

/// Name of a platform id (El Torito 2.1: 0 x86 "BIOS", 1 PowerPC, 2 Mac;
/// 0xEF "EFI" from the UEFI specification).
pub fn platform_name(id: u8) -> &'static str {
    match id {
        0 => "BIOS",
        1 => "PowerPC",
        2 => "Mac",
        0xEF => "EFI",
        _ => "unknown platform",
    }
}

/// The catalog LBA from a boot record volume descriptor sector, or `None`
/// when `sector` is not an El Torito boot record.
pub(crate) fn catalog_lba(sector: &[u8]) -> Option<u32> {
    if sector.first() != Some(&0) || sector.get(1..6) != Some(&b"CD001"[..]) {
        return None;
    }
    if !sector.get(7..39)?.starts_with(BOOT_SYSTEM_ID) {
        return None;
    }
    u32_le(sector, 71)
}

/// Finds the boot record in the descriptor set starting at `first_sector`
/// (bounded by 64 descriptors; stops at the terminator) and returns the
/// catalog's LBA.
pub(crate) fn find_catalog(src: &dyn ReadAt, first_sector: u64) -> Result<Option<u32>> {
    for i in 0..64u64 {
        let off = (first_sector + i) * 2048;
        if off + 2048 > src.len() {
            return Ok(None);
        }
        let mut buf = vec![0u8; 2048];
        src.read_exact_at(off, &mut buf)
            .map_err(|e| Error::io(off, 2048, e))?;
        if buf.get(1..6) != Some(&b"CD001"[..]) || buf.first() == Some(&255) {
            return Ok(None);
        }
        if let Some(lba) = catalog_lba(&buf) {
            return Ok(Some(lba));
        }
    }
    Ok(None)
}

/// Reads the catalog at `lba` (at most [`MAX_CATALOG_SECTORS`] sectors,
/// less when the image ends earlier) and parses it.
pub(crate) fn read_catalog(src: &dyn ReadAt, lba: u32) -> Result<Vec<BootEntry>> {
    let off = u64::from(lba) * 2048;
    let len = src.len();
    if off + ENTRY as u64 * 2 > len {
        return Err(Error::Truncated {
            structure: STRUCTURE,
            at: Location::sector(u64::from(lba)),
            image_len: len,
        });
    }
    let n = (len - off).min((MAX_CATALOG_SECTORS * 2048) as u64) as usize;
    let mut buf = vec![0u8; n];
    src.read_exact_at(off, &mut buf)
        .map_err(|e| Error::io(off, n, e))?;
    parse_catalog(&buf, off)
}

/// The 32-byte entry `i` of the catalog (El Torito 2.0), `None` past its end.
fn entry_at(cat: &[u8], i: usize) -> Option<&[u8; ENTRY]> {
    cat.get(i.checked_mul(ENTRY)?..)?.first_chunk()
}

/// Parses catalog bytes that start at absolute byte `base` of the image.
pub(crate) fn parse_catalog(cat: &[u8], base: u64) -> Result<Vec<BootEntry>> {
    let entry_offset = |i: usize| base.saturating_add((i * ENTRY) as u64);
    let loc = |i: usize| {
        let abs = entry_offset(i);
        Location::at(abs / 2048, (abs % 2048) as u32)
    };
    let entry = |i: usize| -> Result<&[u8; ENTRY]> {
        entry_at(cat, i).ok_or(Error::Truncated {
            structure: STRUCTURE,
            at: loc(i),
            image_len: base.saturating_add(cat.len() as u64),
        })
    };
    // Validation entry (2.1).
    let v = entry(0)?;
    if v[0] != 1 {
        return Err(Error::corrupt(
            STRUCTURE,
            loc(0),
            format!("validation entry header id is {:#04x}, not 0x01", v[0]),
        ));
    }
    if v[30] != 0x55 || v[31] != 0xAA {
        return Err(Error::corrupt(
            STRUCTURE,
            loc(0),
            format!(
                "validation entry key bytes are {:02X} {:02X}, not 55 AA",
                v[30], v[31]
            ),
        ));
    }
    let sum = v
        .chunks_exact(2)
        .filter_map(|w| w.try_into().ok())
        .map(u16::from_le_bytes)
        .fold(0u16, u16::wrapping_add);
    if sum != 0 {
        return Err(Error::corrupt(
            STRUCTURE,
            loc(0),
            format!("validation entry checksum: words sum to {sum:#06x}, not 0"),
        ));
    }
    let mut out = vec![section_entry(entry(1)?, v[1], entry_offset(1))];
    // Section headers and entries (2.3-2.5).
    let mut i = 2;
    while i < MAX_ENTRIES {
        let Some(h) = entry_at(cat, i) else {
            break;
        };
        let final_section = match h[0] {
            0x90 => false,
            0x91 => true,
            // Anything else ends the catalog.
            _ => break,
        };
        let platform = h[1];
        let count = usize::from(u16::from_le_bytes([h[2], h[3]]));
        i += 1;
        for _ in 0..count {
            if i >= MAX_ENTRIES {
                break;
            }
            let e = entry(i)?;
            out.push(section_entry(e, platform, entry_offset(i)));
            let mut more = e[1] & 0x20 != 0;
            i += 1;
            // Extension entries (2.5): 0x44, bit 5 of byte 1 = more follow.
            while more && i < MAX_ENTRIES {
                let x = entry(i)?;
                if x[0] != 0x44 {
                    break;
                }
                more = x[1] & 0x20 != 0;
                i += 1;
            }
        }
        if final_section {
            break;
        }
    }
    Ok(out)
}

/// An initial/default (2.2) or section (2.4) entry.
fn section_entry(e: &[u8; ENTRY], platform: u8, entry_offset: u64) -> BootEntry {
    BootEntry {
        platform,
        bootable: e[0] == 0x88,
        media: BootMedia::from_byte(e[1]),
        load_segment: u16::from_le_bytes([e[2], e[3]]),
        system_type: e[4],
        sector_count: u16::from_le_bytes([e[6], e[7]]),
        load_rba: u32::from_le_bytes([e[8], e[9], e[10], e[11]]),
        entry_offset,
    }
}

/// Size of a hard disk emulation image from its MBR partition table: the
/// end of the partition that ends last, in bytes (`None` without 55 AA or
/// without partitions).
pub(crate) fn mbr_size(mbr: &[u8]) -> Option<u64> {
    if mbr.get(510..512) != Some(&[0x55, 0xAA][..]) {
        return None;
    }
    // Four 16-byte partition entries at 446; LBA start at +8, sector count at +12.
    mbr.get(446..510)?
        .chunks_exact(16)
        .filter_map(|e| {
            let start = u64::from(u32_le(e, 8)?);
            let count = u64::from(u32_le(e, 12)?);
            (count > 0).then_some((start + count) * 512)
        })
        .max()
}

/// One-line summary of the catalog for `info`.
pub(crate) fn summary(entries: &[BootEntry], sizes: &[u64]) -> String {
    let items: Vec<String> = entries
        .iter()
        .zip(sizes)
        .map(|(e, size)| {
            let mut s = format!("{} {}", platform_name(e.platform), e.media.as_str());
            if !e.bootable {
                s.push_str(" (not bootable)");
            }
            if e.platform == 0 {
                s.push_str(&format!(
                    " load segment {:#06X}",
                    e.effective_load_segment()
                ));
            }
            s.push_str(&format!(
                ", {} sectors at LBA {} ({} bytes)",
                e.sector_count, e.load_rba, size
            ));
            s
        })
        .collect();
    let n = entries.len();
    format!(
        "{n} boot image{}: {}",
        if n == 1 { "" } else { "s" },
        items.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A catalog: validation entry (x86), default entry, one final EFI
    /// section with one entry followed by one extension entry.
    pub(crate) fn catalog() -> Vec<u8> {
        let mut c = vec![0u8; 2048];
        c[0] = 1;
        c[4..9].copy_from_slice(b"TEST!");
        c[30] = 0x55;
        c[31] = 0xAA;
        fix_checksum(&mut c);
        c[32] = 0x88;
        c[34..36].copy_from_slice(&0u16.to_le_bytes());
        c[38..40].copy_from_slice(&4u16.to_le_bytes());
        c[40..44].copy_from_slice(&34u32.to_le_bytes());
        c[64] = 0x91;
        c[65] = 0xEF;
        c[66..68].copy_from_slice(&1u16.to_le_bytes());
        c[96] = 0x88;
        c[97] = 0x20; // no emulation, extension follows
        c[102..104].copy_from_slice(&2880u16.to_le_bytes());
        c[104..108].copy_from_slice(&38u32.to_le_bytes());
        c[128] = 0x44;
        c
    }

    fn fix_checksum(c: &mut [u8]) {
        c[28] = 0;
        c[29] = 0;
        let sum = c[..32].chunks_exact(2).fold(0u16, |s, w| {
            s.wrapping_add(u16::from_le_bytes([w[0], w[1]]))
        });
        c[28..30].copy_from_slice(&0u16.wrapping_sub(sum).to_le_bytes());
    }

    #[test]
    fn parses_sections_and_skips_extensions() {
        let e = parse_catalog(&catalog(), 33 * 2048).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].platform, 0);
        assert!(e[0].bootable);
        assert_eq!(e[0].media, BootMedia::NoEmulation);
        assert_eq!(e[0].effective_load_segment(), 0x7C0);
        assert_eq!((e[0].sector_count, e[0].load_rba), (4, 34));
        assert_eq!(e[0].entry_offset, 33 * 2048 + 32);
        assert_eq!(e[1].platform, 0xEF);
        assert_eq!((e[1].sector_count, e[1].load_rba), (2880, 38));
        let s = summary(&e, &[2048, 1474560]);
        assert!(s.starts_with("2 boot images: BIOS no-emulation load segment 0x07C0"));
        assert!(
            s.contains("EFI no-emulation, 2880 sectors at LBA 38"),
            "{s}"
        );
    }

    #[test]
    fn bad_checksum() {
        let mut c = catalog();
        c[4] ^= 1;
        let e = parse_catalog(&c, 0).unwrap_err().to_string();
        assert!(e.contains("checksum"), "{e}");
    }

    #[test]
    fn missing_key_bytes() {
        let mut c = catalog();
        c[31] = 0;
        let e = parse_catalog(&c, 0).unwrap_err().to_string();
        assert!(e.contains("55 AA"), "{e}");
    }

    #[test]
    fn bad_header_id() {
        let mut c = catalog();
        c[0] = 2;
        assert!(matches!(parse_catalog(&c, 0), Err(Error::Corrupt { .. })));
    }

    #[test]
    fn truncated_catalog() {
        let c = catalog();
        // Validation entry only: the default entry is missing.
        assert!(matches!(
            parse_catalog(&c[..40], 0),
            Err(Error::Truncated { .. })
        ));
        // Cut inside the section: an error, not a panic.
        assert!(matches!(
            parse_catalog(&c[..100], 0),
            Err(Error::Truncated { .. })
        ));
        for n in 0..c.len().min(200) {
            let _ = parse_catalog(&c[..n], 0);
        }
    }

    #[test]
    fn endless_sections_are_bounded() {
        let mut c = catalog();
        c.resize(MAX_CATALOG_SECTORS * 2048, 0);
        // Every slot after the default entry is a non-final empty header.
        for i in 2..MAX_ENTRIES {
            c[i * 32..(i + 1) * 32].fill(0);
            c[i * 32] = 0x90;
        }
        let e = parse_catalog(&c, 0).unwrap();
        assert_eq!(e.len(), 1);
    }

    #[test]
    fn boot_record() {
        let mut s = vec![0u8; 2048];
        s[1..6].copy_from_slice(b"CD001");
        s[6] = 1;
        s[7..7 + BOOT_SYSTEM_ID.len()].copy_from_slice(BOOT_SYSTEM_ID);
        s[71..75].copy_from_slice(&33u32.to_le_bytes());
        assert_eq!(catalog_lba(&s), Some(33));
        s[7] = b'X';
        assert_eq!(catalog_lba(&s), None);
    }

    #[test]
    fn mbr() {
        let mut m = vec![0u8; 512];
        assert_eq!(mbr_size(&m), None);
        m[510] = 0x55;
        m[511] = 0xAA;
        m[446 + 8..446 + 12].copy_from_slice(&63u32.to_le_bytes());
        m[446 + 12..446 + 16].copy_from_slice(&1000u32.to_le_bytes());
        assert_eq!(mbr_size(&m), Some(1063 * 512));
    }

    #[test]
    fn short_sectors_are_none_not_panics() {
        let mut s = vec![0u8; 2048];
        s[1..6].copy_from_slice(b"CD001");
        s[7..7 + BOOT_SYSTEM_ID.len()].copy_from_slice(BOOT_SYSTEM_ID);
        s[71..75].copy_from_slice(&33u32.to_le_bytes());
        // The catalog pointer cut off.
        assert_eq!(catalog_lba(&s[..74]), None);
        for n in 0..75 {
            assert_eq!(catalog_lba(&s[..n]), None);
        }
        // An MBR cut inside the partition table or before its signature.
        let mut m = vec![0u8; 512];
        m[510] = 0x55;
        m[511] = 0xAA;
        m[446 + 12..446 + 16].copy_from_slice(&1u32.to_le_bytes());
        assert_eq!(mbr_size(&m), Some(512));
        for n in 0..512 {
            assert_eq!(mbr_size(&m[..n]), None);
        }
    }

    #[test]
    fn catalog_cut_after_a_section_header() {
        let c = catalog();
        // The section header says one entry follows; it is missing.
        assert!(matches!(
            parse_catalog(&c[..96], 0),
            Err(Error::Truncated { .. })
        ));
        // Cut before the section header: the catalog just ends.
        assert_eq!(parse_catalog(&c[..70], 0).unwrap().len(), 1);
        // The entry is there but its extension entry is not.
        assert!(matches!(
            parse_catalog(&c[..128], 0),
            Err(Error::Truncated { .. })
        ));
    }
}
