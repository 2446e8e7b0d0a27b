//! Walking the records of one directory extent (ECMA-119 6.8.1, 9.1) and
//! assembling multi-extent files (6.5.1).
//!
//! A directory is a sequence of directory records in its extent. A record
//! never crosses a logical sector (6.8.1.1); a length byte of 0 means the
//! rest of the sector (we skip to the next logical block) is unused. A
//! corrupt record is reported and the walk resumes at the next sector.
//!
//! A file larger than 4 GiB - 1 is recorded as several sections, one record
//! each, with the same identifier and the multi-extent flag set on every
//! record but the last (6.5.1, 9.1.6). They become ONE entry.

use crate::error::{Error, Location, Result};
use crate::node::Extent;

use super::directory_record::DirectoryRecord;
use super::volume_descriptor::SECTOR_SIZE;

/// Largest directory extent read (bigger ones are cut, with a problem noted).
pub(crate) const MAX_DIR_BYTES: u64 = 64 * 1024 * 1024;
/// Most sections of one multi-extent file.
pub(crate) const MAX_SECTIONS: usize = 65_536;

const STRUCTURE: &str = "directory record";

/// One entry of a directory: a file (possibly in several sections) or a
/// subdirectory.
#[derive(Debug, Clone)]
pub(crate) struct Listed {
    /// Absolute byte offset of its (first) directory record.
    pub offset: u64,
    /// Where that record sits, for errors.
    pub at: Location,
    /// The (first) record: name, flags, date, system use.
    pub record: DirectoryRecord,
    /// The file's sections in order (one for an ordinary file).
    pub sections: Vec<Extent>,
    /// Bytes the sections occupy, each rounded up to whole blocks.
    pub allocated: u64,
}

impl Listed {
    /// Total size of the content.
    pub(crate) fn size(&self) -> u64 {
        self.sections.iter().map(Extent::len).sum()
    }
}

/// Result of walking one directory.
#[derive(Debug, Default)]
pub(crate) struct Walk {
    /// Entries in on-disk order, without "." and ".." and associated files.
    pub entries: Vec<Listed>,
    /// Records that could not be used.
    pub problems: Vec<Error>,
}

/// A multi-extent file being assembled.
struct Pending {
    listed: Listed,
    poisoned: bool,
}

fn section(rec: &DirectoryRecord, block_size: u32) -> (Extent, u64) {
    let len = u64::from(rec.data_len);
    let bs = u64::from(block_size);
    (
        Extent::Recorded {
            start: rec.data_start(block_size),
            len,
        },
        len.div_ceil(bs) * bs,
    )
}

/// Reads the first record (the "." record, 6.8.2.2) of the directory whose
/// data starts at byte `start`.
pub(crate) fn first_record(
    read: &dyn Fn(u64, usize) -> Result<Vec<u8>>,
    image_len: u64,
    start: u64,
    block_size: u32,
) -> Result<DirectoryRecord> {
    let at = Location::at(start / u64::from(block_size), 0);
    if start >= image_len {
        return Err(Error::Truncated {
            structure: "directory extent",
            at,
            image_len,
        });
    }
    // A record is at most 255 bytes and never crosses a sector.
    let room = (SECTOR_SIZE - start % SECTOR_SIZE)
        .min(255)
        .min(image_len - start);
    let buf = read(start, room as usize)?;
    DirectoryRecord::parse(&buf, at)?
        .ok_or_else(|| Error::corrupt(STRUCTURE, at, "directory has no \".\" record"))
}

/// Walks the directory extent of `len` bytes starting at byte `start`.
///
/// Fails only when nothing of the extent can be read; everything else goes
/// to [`Walk::problems`].
pub(crate) fn walk(
    read: &dyn Fn(u64, usize) -> Result<Vec<u8>>,
    image_len: u64,
    start: u64,
    len: u64,
    block_size: u32,
) -> Result<Walk> {
    let bs = u64::from(block_size);
    let mut walk = Walk::default();
    let dir_at = Location::sector(start / bs);
    if len == 0 {
        return Ok(walk);
    }
    if start >= image_len {
        return Err(Error::Truncated {
            structure: "directory extent",
            at: dir_at,
            image_len,
        });
    }
    let mut want = len;
    // A length running past the end of the image is wrong; the "." record
    // repeats the directory's own length (Linux's isofs trusts it), so
    // believe that one, or a hostile length would read other directories
    // and file data as entries of this one.
    if start.saturating_add(len) > image_len {
        let head = want.min(SECTOR_SIZE).min(image_len - start);
        if let Ok(Some(dot)) =
            read(start, head as usize).and_then(|b| DirectoryRecord::parse(&b, dir_at))
        {
            let own = u64::from(dot.data_len);
            if dot.is_self() && own > 0 && own < want {
                walk.problems.push(Error::corrupt(
                    "directory extent",
                    dir_at,
                    format!(
                        "directory claims {len} bytes (past the end of the image) but its \".\" record {own}; only {own} are read"
                    ),
                ));
                want = own;
            }
        }
    }
    if want > MAX_DIR_BYTES {
        walk.problems.push(Error::corrupt(
            "directory extent",
            dir_at,
            format!("directory claims {len} bytes; only the first {MAX_DIR_BYTES} are read"),
        ));
        want = MAX_DIR_BYTES;
    }
    if start + want > image_len {
        walk.problems.push(Error::Truncated {
            structure: "directory extent",
            at: dir_at,
            image_len,
        });
        want = image_len - start;
    }
    // `want` <= 64 MiB, fits in usize.
    let buf = read(start, want as usize)?;
    let mut pending: Option<Pending> = None;
    let mut pos = 0usize;
    while pos < buf.len() {
        let abs = start + pos as u64;
        let at = Location::at(abs / bs, (abs % bs) as u32);
        let to_sector_end = (SECTOR_SIZE - abs % SECTOR_SIZE) as usize;
        let sector_end = pos.saturating_add(to_sector_end).min(buf.len());
        let rest = buf.get(pos..sector_end).unwrap_or(&[]);
        match DirectoryRecord::parse(rest, at) {
            Ok(None) => {
                // No more records in this block.
                // The extent is block-aligned and blocks tile sectors, so
                // this never passes the sector end; it always advances.
                pos = (pos / block_size as usize + 1) * block_size as usize;
            }
            Err(e) => {
                walk.problems.push(e);
                pos = sector_end;
            }
            Ok(Some(rec)) => {
                pos += usize::from(rec.len);
                if rec.is_self() || rec.is_parent() || rec.is_associated() {
                    continue;
                }
                accept(rec, abs, at, block_size, &mut pending, &mut walk);
            }
        }
    }
    if let Some(p) = pending.take() {
        if !p.poisoned {
            walk.problems.push(Error::corrupt(
                STRUCTURE,
                p.listed.at,
                format!(
                    "multi-extent file {:?} has no final section (directory ends after {} sections)",
                    String::from_utf8_lossy(&p.listed.record.name),
                    p.listed.sections.len()
                ),
            ));
        }
    }
    Ok(walk)
}

/// Adds one record to the walk, joining multi-extent sections.
fn accept(
    rec: DirectoryRecord,
    abs: u64,
    at: Location,
    block_size: u32,
    pending: &mut Option<Pending>,
    walk: &mut Walk,
) {
    // A different name ends an unfinished chain.
    if let Some(p) = pending.as_ref() {
        if p.listed.record.name != rec.name {
            let p = pending.take();
            if let Some(p) = p.filter(|p| !p.poisoned) {
                walk.problems.push(Error::corrupt(
                    STRUCTURE,
                    p.listed.at,
                    format!(
                        "multi-extent file {:?} ends without its final section",
                        String::from_utf8_lossy(&p.listed.record.name)
                    ),
                ));
            }
        }
    }
    if rec.is_interleaved() {
        walk.problems.push(Error::Unsupported(format!(
            "interleaved file {:?} (directory record at {at}: file unit size {}, gap {})",
            String::from_utf8_lossy(&rec.name),
            rec.file_unit_size,
            rec.interleave_gap
        )));
        if rec.is_multi_extent() {
            *pending = Some(Pending {
                listed: Listed {
                    offset: abs,
                    at,
                    record: rec,
                    sections: Vec::new(),
                    allocated: 0,
                },
                poisoned: true,
            });
        } else if pending
            .as_ref()
            .is_some_and(|p| p.listed.record.name == rec.name)
        {
            *pending = None;
        }
        return;
    }
    if rec.is_dir() && rec.is_multi_extent() {
        walk.problems.push(Error::corrupt(
            STRUCTURE,
            at,
            format!(
                "directory {:?} has the multi-extent flag",
                String::from_utf8_lossy(&rec.name)
            ),
        ));
        return;
    }
    let (ext, alloc) = section(&rec, block_size);
    let more = rec.is_multi_extent();
    match pending.as_mut() {
        Some(p) => {
            if !p.poisoned {
                if p.listed.sections.len() >= MAX_SECTIONS {
                    walk.problems.push(Error::corrupt(
                        STRUCTURE,
                        p.listed.at,
                        format!(
                            "multi-extent file {:?} has more than {MAX_SECTIONS} sections",
                            String::from_utf8_lossy(&p.listed.record.name)
                        ),
                    ));
                    p.poisoned = true;
                } else {
                    p.listed.sections.push(ext);
                    p.listed.allocated = p.listed.allocated.saturating_add(alloc);
                }
            }
            if !more {
                if let Some(p) = pending.take().filter(|p| !p.poisoned) {
                    walk.entries.push(p.listed);
                }
            }
        }
        None => {
            let listed = Listed {
                offset: abs,
                at,
                record: rec,
                sections: vec![ext],
                allocated: alloc,
            };
            if more {
                *pending = Some(Pending {
                    listed,
                    poisoned: false,
                });
            } else {
                walk.entries.push(listed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iso9660::directory_record::flags;
    use crate::iso9660::directory_record::tests::record;

    /// A directory image: records laid into 2048-byte sectors, a record that
    /// does not fit starting the next sector. Extent starts at byte 0.
    fn dir(records: &[Vec<u8>]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut sector = Vec::new();
        for r in records {
            if sector.len() + r.len() > 2048 {
                sector.resize(2048, 0);
                out.append(&mut sector);
            }
            sector.extend_from_slice(r);
        }
        sector.resize(2048, 0);
        out.append(&mut sector);
        out
    }

    fn run(img: &[u8]) -> Walk {
        let read = |off: u64, len: usize| -> Result<Vec<u8>> {
            let s = off as usize;
            Ok(img[s..s + len].to_vec())
        };
        walk(&read, img.len() as u64, 0, img.len() as u64, 2048).unwrap()
    }

    fn dots() -> Vec<Vec<u8>> {
        vec![record(0, 2048, 2, &[0], b""), record(0, 2048, 2, &[1], b"")]
    }

    #[test]
    fn lists_and_skips_dots_and_associated() {
        let mut recs = dots();
        recs.push(record(10, 5, 0, b"A;1", b""));
        recs.push(record(11, 0, flags::ASSOCIATED, b"B;1", b""));
        recs.push(record(12, 2048, flags::DIRECTORY, b"SUB", b""));
        let w = run(&dir(&recs));
        assert!(w.problems.is_empty());
        let names: Vec<_> = w.entries.iter().map(|l| l.record.name.clone()).collect();
        assert_eq!(names, [b"A;1".to_vec(), b"SUB".to_vec()]);
        assert_eq!(w.entries[0].offset, 34 + 34);
        assert_eq!(w.entries[0].size(), 5);
        assert_eq!(w.entries[0].allocated, 2048);
    }

    #[test]
    fn a_length_past_the_image_is_cut_to_the_dot_record() {
        // "." says 2048 bytes; the parent's record 4 GiB. The sector after
        // holds what looks like more records (another directory's).
        let mut recs = dots();
        recs.push(record(10, 5, 0, b"A;1", b""));
        let mut img = dir(&recs);
        img.extend(dir(&[record(11, 5, 0, b"OTHER;1", b"")]));
        let read = |off: u64, len: usize| -> Result<Vec<u8>> {
            let s = off as usize;
            Ok(img[s..s + len].to_vec())
        };
        let w = walk(&read, img.len() as u64, 0, 0xFFFF_F800, 2048).unwrap();
        let names: Vec<_> = w.entries.iter().map(|l| l.record.name.clone()).collect();
        assert_eq!(names, [b"A;1".to_vec()]);
        assert_eq!(w.problems.len(), 1, "{:?}", w.problems);
        assert!(w.problems[0].to_string().contains("\".\" record 2048"));
        // Within the image the parent's length stands (as before).
        let w = walk(&read, img.len() as u64, 0, 4096, 2048).unwrap();
        assert_eq!(w.entries.len(), 2);
    }

    #[test]
    fn records_continue_in_next_sector() {
        let mut recs = dots();
        for i in 0..100u32 {
            recs.push(record(
                100 + i,
                1,
                0,
                format!("FILE{i:04}.TXT;1").as_bytes(),
                b"",
            ));
        }
        let img = dir(&recs);
        assert!(img.len() > 2048);
        let w = run(&img);
        assert!(w.problems.is_empty());
        assert_eq!(w.entries.len(), 100);
    }

    #[test]
    fn corrupt_record_skips_to_next_sector() {
        let mut recs = dots();
        for i in 0..100u32 {
            recs.push(record(
                100 + i,
                1,
                0,
                format!("FILE{i:04}.TXT;1").as_bytes(),
                b"",
            ));
        }
        let mut img = dir(&recs);
        // Break the third record (first file) of sector 0.
        img[68] = 5;
        let w = run(&img);
        assert_eq!(w.problems.len(), 1);
        assert!(!w.entries.is_empty() && w.entries.len() < 100);
        assert!(w.entries[0].offset >= 2048);
    }

    #[test]
    fn multi_extent_is_one_entry() {
        let mut recs = dots();
        recs.push(record(100, 4096, flags::MULTI_EXTENT, b"BIG;1", b""));
        recs.push(record(102, 4096, flags::MULTI_EXTENT, b"BIG;1", b""));
        recs.push(record(104, 10, 0, b"BIG;1", b""));
        recs.push(record(200, 1, 0, b"SMALL;1", b""));
        let w = run(&dir(&recs));
        assert!(w.problems.is_empty(), "{:?}", w.problems);
        assert_eq!(w.entries.len(), 2);
        let big = &w.entries[0];
        assert_eq!(big.size(), 8202);
        assert_eq!(big.offset, 68);
        assert_eq!(
            big.sections,
            vec![
                Extent::Recorded {
                    start: 100 * 2048,
                    len: 4096
                },
                Extent::Recorded {
                    start: 102 * 2048,
                    len: 4096
                },
                Extent::Recorded {
                    start: 104 * 2048,
                    len: 10
                },
            ]
        );
        assert_eq!(big.allocated, 4096 + 4096 + 2048);
    }

    #[test]
    fn unfinished_multi_extent_is_a_problem() {
        let mut recs = dots();
        recs.push(record(100, 4096, flags::MULTI_EXTENT, b"BIG;1", b""));
        recs.push(record(200, 1, 0, b"OTHER;1", b""));
        recs.push(record(300, 4096, flags::MULTI_EXTENT, b"TAIL;1", b""));
        let w = run(&dir(&recs));
        assert_eq!(w.problems.len(), 2);
        assert_eq!(w.entries.len(), 1);
        assert_eq!(w.entries[0].record.name, b"OTHER;1");
    }

    #[test]
    fn interleaved_is_unsupported_for_that_entry() {
        let mut recs = dots();
        let mut r = record(100, 10, 0, b"IL;1", b"");
        r[26] = 1;
        r[27] = 1;
        recs.push(r);
        recs.push(record(200, 1, 0, b"OK;1", b""));
        let w = run(&dir(&recs));
        assert!(matches!(w.problems[..], [Error::Unsupported(_)]));
        assert_eq!(w.entries.len(), 1);
    }

    #[test]
    fn extent_past_image_end() {
        let read = |_: u64, _: usize| -> Result<Vec<u8>> {
            panic!("an extent past the image end must not be read")
        };
        assert!(matches!(
            walk(&read, 4096, 8192, 2048, 2048),
            Err(Error::Truncated { .. })
        ));
    }
}
