//! The volume descriptor set (ECMA-119 8).
//!
//! Descriptors occupy consecutive 2048-byte logical sectors from sector 16
//! (after the system area, 6.2.1), each starting with its type byte, the
//! standard identifier "CD001" and a version, until a volume descriptor set
//! terminator (type 255, 8.3). We read the primary volume descriptor (type 1,
//! 8.4) and the first Joliet supplementary volume descriptor (type 2, 8.5);
//! boot records (type 0, 8.2) are noted for El Torito, partition descriptors
//! (type 3, 8.6) skipped.
//!
//! Primary and supplementary descriptors share one layout (8.4 / 8.5):
//!
//! ```text
//! BP   8       volume flags (SVD only)         BP   9-40    system identifier
//! BP  41-72    volume identifier                BP  81-88    volume space size (both-endian)
//! BP  89-120   escape sequences (SVD only)      BP 129-132   logical block size (both-endian u16)
//! BP 157-190   root directory record            BP 191-318   volume set identifier
//! BP 319-446   publisher identifier             BP 447-574   data preparer identifier
//! BP 575-702   application identifier           BP 703-739   copyright file identifier
//! BP 740-776   abstract file identifier         BP 777-813   bibliographic file identifier
//! BP 814-830   creation date (8.4.26.1)         BP 831-847   modification date
//! BP 848-864   expiration date                  BP 865-881   effective date
//! ```

use crate::error::{Error, Location, Result};
use crate::node::Timestamp;
use crate::source::ReadAt;

use super::datetime::parse_dec_datetime;
use super::directory_record::{DirectoryRecord, both_u16, both_u32};
use super::joliet;

/// Size of a logical sector, the unit of the volume descriptor set (6.1.2).
pub(crate) const SECTOR_SIZE: u64 = 2048;
/// First sector of the volume descriptor set (6.2.1: sectors 0-15 are the system area).
pub(crate) const FIRST_SECTOR: u64 = 16;
/// Most descriptors looked at before giving up on finding a terminator.
pub(crate) const MAX_DESCRIPTORS: u64 = 64;

const STANDARD_ID: &[u8; 5] = b"CD001";
const TYPE_BOOT: u8 = 0;
const TYPE_PRIMARY: u8 = 1;
const TYPE_SUPPLEMENTARY: u8 = 2;
const TYPE_PARTITION: u8 = 3;
const TYPE_TERMINATOR: u8 = 255;

/// A primary or Joliet supplementary volume descriptor.
#[derive(Debug, Clone)]
pub(crate) struct VolumeDescriptor {
    /// Joliet level (1-3) for a Joliet SVD, `None` for the PVD.
    pub joliet_level: Option<u8>,
    /// Volume space size in logical blocks (8.4.8).
    pub volume_blocks: u32,
    /// Logical block size (8.4.12): 512, 1024 or 2048.
    pub block_size: u32,
    /// The root directory record (8.4.18).
    pub root: DirectoryRecord,
    /// Named identifiers, trimmed, in display order (empty ones included).
    pub ids: Vec<(&'static str, String)>,
    /// Volume identifier (8.4.6), trimmed.
    pub volume_id: String,
    /// Creation date (8.4.26).
    pub created: Option<Timestamp>,
    /// Modification date (8.4.27).
    pub modified: Option<Timestamp>,
    /// Expiration date (8.4.28).
    pub expires: Option<Timestamp>,
    /// Effective date (8.4.29).
    pub effective: Option<Timestamp>,
}

/// What the descriptor set holds.
#[derive(Debug, Clone)]
pub(crate) struct DescriptorSet {
    /// The primary volume descriptor.
    pub primary: VolumeDescriptor,
    /// The first Joliet supplementary volume descriptor.
    pub joliet: Option<VolumeDescriptor>,
    /// An El Torito boot record was present (8.2, "EL TORITO SPECIFICATION").
    pub el_torito: bool,
    /// Problems worth telling the user (missing terminator...).
    pub warnings: Vec<String>,
}

/// Reads the volume descriptor set of `src`.
///
/// Errors: [`Error::NotRecognized`] when sector 16 is not a descriptor
/// ("CD001" missing or image too short); [`Error::Corrupt`] when there is
/// no primary volume descriptor or it is unusable.
#[cfg(test)]
pub(crate) fn read_set(src: &dyn ReadAt) -> Result<DescriptorSet> {
    read_set_from(src, FIRST_SECTOR)
}

/// Reads the volume descriptor set that starts at sector `first` (a
/// session of a multisession image: its start + 16).
pub(crate) fn read_set_from(src: &dyn ReadAt, first: u64) -> Result<DescriptorSet> {
    let image_len = src.len();
    let mut primary = None;
    let mut joliet_vd = None;
    let mut el_torito = false;
    let mut warnings = Vec::new();
    let mut terminated = false;
    let mut ended_at = None;
    for i in 0..MAX_DESCRIPTORS {
        let sector = first + i;
        let off = sector * SECTOR_SIZE;
        if off + SECTOR_SIZE > image_len {
            if i == 0 {
                return Err(Error::NotRecognized(format!(
                    "image too small for ISO 9660 ({image_len} bytes; the first volume \
                     descriptor would be at byte {off})"
                )));
            }
            ended_at = Some(sector);
            warnings.push(format!(
                "volume descriptor set runs into the end of the image at sector {sector} \
                 without a terminator"
            ));
            break;
        }
        // A fixed-size sector: the constant offsets below are checked at compile time.
        let mut buf = [0u8; SECTOR_SIZE as usize];
        src.read_exact_at(off, &mut buf)
            .map_err(|e| Error::io(off, buf.len(), e))?;
        if buf[1..6] != *STANDARD_ID {
            if i == 0 {
                return Err(Error::NotRecognized(format!(
                    "no ISO 9660 volume descriptor (\"CD001\") at sector {first}"
                )));
            }
            warnings.push(format!(
                "sector {sector} in the volume descriptor set is not a volume descriptor; \
                 set ends without a terminator"
            ));
            break;
        }
        let kind = buf[0];
        let version = buf[6];
        match kind {
            TYPE_TERMINATOR => {
                terminated = true;
                break;
            }
            TYPE_PRIMARY if primary.is_none() => {
                primary = Some(parse_descriptor(&buf, sector, None)?);
            }
            TYPE_SUPPLEMENTARY if joliet_vd.is_none() && version == 1 => {
                let flags = buf[7];
                if let Some(level) = joliet::joliet_level(&buf[88..120]) {
                    if flags & 1 != 0 {
                        log::warn!(
                            "supplementary volume descriptor at sector {sector} has Joliet \
                             escape sequences but non-ISO-2375 flag set; ignored"
                        );
                    } else {
                        match parse_descriptor(&buf, sector, Some(level)) {
                            Ok(vd) => joliet_vd = Some(vd),
                            Err(e) => {
                                log::warn!("{e}; Joliet tree ignored");
                                warnings.push(format!("{e}; Joliet tree ignored"));
                            }
                        }
                    }
                }
            }
            TYPE_BOOT if buf[7..39].starts_with(b"EL TORITO SPECIFICATION") => {
                el_torito = true;
            }
            TYPE_PARTITION => {}
            _ => {}
        }
    }
    if !terminated && warnings.is_empty() {
        warnings.push(format!(
            "no volume descriptor set terminator in the first {MAX_DESCRIPTORS} descriptors"
        ));
    }
    for w in &warnings {
        log::warn!("{w}");
    }
    let primary = primary.ok_or_else(|| match ended_at {
        Some(sector) => Error::Truncated {
            structure: "volume descriptor set (no primary volume descriptor before the end)",
            at: Location::sector(sector),
            image_len,
        },
        None => Error::corrupt(
            "volume descriptor set",
            Location::sector(first),
            "no primary volume descriptor",
        ),
    })?;
    Ok(DescriptorSet {
        primary,
        joliet: joliet_vd,
        el_torito,
        warnings,
    })
}

/// Parses a primary (joliet = None) or Joliet supplementary volume
/// descriptor from its 2048-byte sector.
pub(crate) fn parse_descriptor(
    b: &[u8],
    sector: u64,
    joliet_level: Option<u8>,
) -> Result<VolumeDescriptor> {
    let structure = if joliet_level.is_some() {
        "supplementary volume descriptor"
    } else {
        "primary volume descriptor"
    };
    let at = Location::sector(sector);
    let short = || Error::corrupt(structure, at, "descriptor shorter than 2048 bytes");
    // As a fixed-size array, the constant field ranges below cannot be out of bounds.
    let b: &[u8; SECTOR_SIZE as usize] = b.first_chunk().ok_or_else(short)?;
    let volume_blocks = both_u32(b, 80, structure, at).ok_or_else(short)?;
    let block_size = u32::from(both_u16(b, 128, structure, at).ok_or_else(short)?);
    if !matches!(block_size, 512 | 1024 | 2048) {
        return Err(Error::corrupt(
            structure,
            Location::at(sector, 128),
            format!("logical block size {block_size} (must be 512, 1024 or 2048)"),
        ));
    }
    let root =
        DirectoryRecord::parse(&b[156..190], Location::at(sector, 156))?.ok_or_else(|| {
            Error::corrupt(
                structure,
                Location::at(sector, 156),
                "root directory record is empty",
            )
        })?;
    if !root.is_dir() {
        log::warn!("{structure} at {at}: root directory record lacks the directory flag");
    }
    let text = |raw: &[u8]| -> String {
        if joliet_level.is_some() {
            joliet::decode_id(raw)
        } else {
            String::from_utf8_lossy(raw)
                .trim_matches([' ', '\0'])
                .to_string()
        }
    };
    let volume_id = text(&b[40..72]);
    let ids = vec![
        ("system_id", text(&b[8..40])),
        ("volume_id", volume_id.clone()),
        ("volume_set_id", text(&b[190..318])),
        ("publisher_id", text(&b[318..446])),
        ("data_preparer_id", text(&b[446..574])),
        ("application_id", text(&b[574..702])),
        ("copyright_file_id", text(&b[702..739])),
        ("abstract_file_id", text(&b[739..776])),
        ("bibliographic_file_id", text(&b[776..813])),
    ];
    Ok(VolumeDescriptor {
        joliet_level,
        volume_blocks,
        block_size,
        root,
        ids,
        volume_id,
        created: parse_dec_datetime(&b[813..830]),
        modified: parse_dec_datetime(&b[830..847]),
        expires: parse_dec_datetime(&b[847..864]),
        effective: parse_dec_datetime(&b[864..881]),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::iso9660::directory_record::tests::record;
    use crate::source::MemSource;

    /// A 2048-byte primary (type 1) or supplementary (type 2) descriptor.
    pub(crate) fn descriptor(
        kind: u8,
        volume_id: &[u8],
        root_extent: u32,
        escapes: &[u8],
    ) -> Vec<u8> {
        let mut b = vec![0u8; 2048];
        b[0] = kind;
        b[1..6].copy_from_slice(b"CD001");
        b[6] = 1;
        b[8..40].fill(b' ');
        b[40..72].fill(b' ');
        b[40..40 + volume_id.len()].copy_from_slice(volume_id);
        b[80..84].copy_from_slice(&100u32.to_le_bytes());
        b[84..88].copy_from_slice(&100u32.to_be_bytes());
        b[88..88 + escapes.len()].copy_from_slice(escapes);
        b[128..130].copy_from_slice(&2048u16.to_le_bytes());
        b[130..132].copy_from_slice(&2048u16.to_be_bytes());
        let root = record(root_extent, 2048, 2, &[0], b"");
        b[156..156 + root.len()].copy_from_slice(&root);
        b[813..830].copy_from_slice(b"2026050312000000\0");
        b[830..847].copy_from_slice(b"0000000000000000\0");
        b
    }

    fn image(descs: &[Vec<u8>]) -> MemSource {
        let mut img = vec![0u8; 16 * 2048];
        for d in descs {
            img.extend_from_slice(d);
        }
        MemSource::new(img)
    }

    fn terminator() -> Vec<u8> {
        let mut t = vec![0u8; 2048];
        t[0] = 255;
        t[1..6].copy_from_slice(b"CD001");
        t[6] = 1;
        t
    }

    #[test]
    fn reads_primary_and_joliet() {
        let mut boot = vec![0u8; 2048];
        boot[1..6].copy_from_slice(b"CD001");
        boot[7..30].copy_from_slice(b"EL TORITO SPECIFICATION");
        let mut svd = descriptor(2, &[], 30, b"%/E");
        for (i, c) in "JLAB"
            .encode_utf16()
            .chain(std::iter::repeat_n(0x20, 12))
            .enumerate()
        {
            svd[40 + 2 * i..42 + 2 * i].copy_from_slice(&c.to_be_bytes());
        }
        let img = image(&[descriptor(1, b"PLAIN", 20, b""), boot, svd, terminator()]);
        let set = read_set(&img).unwrap();
        assert_eq!(set.primary.volume_id, "PLAIN");
        assert_eq!(set.primary.block_size, 2048);
        assert_eq!(set.primary.volume_blocks, 100);
        assert_eq!(set.primary.root.extent, 20);
        assert_eq!(
            set.primary.created.unwrap().to_rfc3339(),
            "2026-05-03T12:00:00Z"
        );
        assert_eq!(set.primary.modified, None);
        let j = set.joliet.unwrap();
        assert_eq!(j.joliet_level, Some(3));
        assert_eq!(j.volume_id, "JLAB");
        assert_eq!(j.root.extent, 30);
        assert!(set.el_torito);
        assert!(set.warnings.is_empty());
    }

    #[test]
    fn svd_with_flag_or_other_escape_is_not_joliet() {
        let mut svd = descriptor(2, b"", 30, b"%/E");
        svd[7] = 1;
        let other = descriptor(2, b"", 31, b"%/F");
        let img = image(&[descriptor(1, b"P", 20, b""), svd, other, terminator()]);
        assert!(read_set(&img).unwrap().joliet.is_none());
    }

    #[test]
    fn not_iso() {
        assert!(matches!(
            read_set(&MemSource::new(vec![0; 40 * 1024])),
            Err(Error::NotRecognized(_))
        ));
        assert!(matches!(
            read_set(&MemSource::new(vec![0; 100])),
            Err(Error::NotRecognized(_))
        ));
    }

    #[test]
    fn bad_block_size_and_missing_pvd() {
        let mut pvd = descriptor(1, b"P", 20, b"");
        pvd[128..130].copy_from_slice(&4096u16.to_le_bytes());
        assert!(matches!(
            read_set(&image(&[pvd, terminator()])),
            Err(Error::Corrupt { .. })
        ));
        let svd = descriptor(2, b"", 30, b"%/E");
        assert!(matches!(
            read_set(&image(&[svd, terminator()])),
            Err(Error::Corrupt { .. })
        ));
    }

    #[test]
    fn image_ends_before_primary() {
        let mut boot = vec![0u8; 2048];
        boot[1..6].copy_from_slice(b"CD001");
        assert!(matches!(
            read_set(&image(&[boot])),
            Err(Error::Truncated { .. })
        ));
    }

    #[test]
    fn missing_terminator_is_a_warning() {
        let set = read_set(&image(&[descriptor(1, b"P", 20, b"")])).unwrap();
        assert_eq!(set.warnings.len(), 1);
        // 70 primaries in a row: the scan stops at 64.
        let many: Vec<_> = (0..70).map(|_| descriptor(1, b"P", 20, b"")).collect();
        let set = read_set(&image(&many)).unwrap();
        assert_eq!(set.warnings.len(), 1);
    }

    #[test]
    fn short_descriptor_is_an_error() {
        let pvd = descriptor(1, b"P", 20, b"");
        for n in [0, 100, 2047] {
            let e = parse_descriptor(&pvd[..n], 16, None).unwrap_err();
            assert!(e.to_string().contains("shorter than 2048"), "{e}");
        }
        assert!(parse_descriptor(&pvd, 16, None).is_ok());
    }
}
