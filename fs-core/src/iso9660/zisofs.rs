//! zisofs: transparently compressed file content in Rock Ridge images.
//!
//! A Rock Ridge `ZF` entry (zisofs extension to RRIP, as documented by the
//! libburnia project: "zisofs" by H. Peter Anvin, "zisofs2" by V. Kivachuk
//! Burdá and T. Schmitt) marks a file whose recorded bytes are:
//!
//! * a header: zisofs v1 — magic `37 E4 53 96 C9 DB D6 07`, uncompressed
//!   size (u32 LE), header size in 4-byte units, log2 of the block size
//!   (15..=17), 2 reserved bytes; zisofs2 — magic `EF 22 55 A1 BC 1B 95 A0`,
//!   version, header size in 4-byte units, algorithm (1 = zlib), log2 of the
//!   block size (15..=20), uncompressed size (u64 LE), reserved bytes;
//! * `n_blocks + 1` block pointers (u32 LE in v1, u64 LE in v2), byte
//!   offsets from the start of the file: block `i` is the bytes from pointer
//!   `i` to pointer `i + 1`;
//! * the blocks, each one zlib stream (RFC 1950); an empty block is a block
//!   of zeros.
//!
//! The `ZF` entry itself: algorithm `pz` (v1: header size, log2 block size,
//! uncompressed size as a both-endian u32) or `PZ` (v2, entry version 2:
//! the size as a u64 LE).
//!
//! [`ZisofsDecoder`] reads the pointer table on the first read and
//! decompresses only the blocks a read touches (the last one is kept).

use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;

use crate::error::{Error, Location, Result};
use crate::node::{Decoder, Extent, FileData};
use crate::source::ReadAt;

use crate::bytes::{array_at, copy_prefix, u32_le, u64_le};

/// Magic of a zisofs v1 file header.
const MAGIC_V1: [u8; 8] = [0x37, 0xE4, 0x53, 0x96, 0xC9, 0xDB, 0xD6, 0x07];
/// Magic of a zisofs2 file header.
const MAGIC_V2: [u8; 8] = [0xEF, 0x22, 0x55, 0xA1, 0xBC, 0x1B, 0x95, 0xA0];
/// Most block pointers accepted (a 4 GiB file in 32 KiB blocks has 131072).
const MAX_POINTERS: u64 = 1 << 24;

/// A Rock Ridge `ZF` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ZfEntry {
    /// 1 for zisofs (`pz`), 2 for zisofs2 (`PZ`).
    pub version: u8,
    /// Size of the file's zisofs header, in 4-byte units.
    pub header_words: u8,
    /// log2 of the block size.
    pub log2_block: u8,
    /// Size of the uncompressed content.
    pub size: u64,
}

/// Parses the data of a `ZF` entry (after the 4-byte SUSP header).
/// `None` for an algorithm other than zisofs, or a short entry.
pub(crate) fn parse_zf(d: &[u8], at: Location) -> Option<ZfEntry> {
    // Algorithm (2 bytes), header size / 4, log2 block size, size (8 bytes).
    let (Some(&[a0, a1, header_words, log2_block]), Some(size_field)) =
        (d.first_chunk::<4>(), array_at::<8>(d, 4))
    else {
        log::warn!(
            "Rock Ridge ZF entry at {at} is {} bytes, too short",
            d.len()
        );
        return None;
    };
    let (version, size) = match &[a0, a1] {
        // A both-endian u32 (ECMA-119 7.3.3): its little-endian half.
        b"pz" => {
            let [b0, b1, b2, b3, ..] = size_field;
            (1, u64::from(u32::from_le_bytes([b0, b1, b2, b3])))
        }
        b"PZ" => (2, u64::from_le_bytes(size_field)),
        other => {
            log::warn!(
                "Rock Ridge ZF entry at {at}: unknown algorithm {:?}, content shown as stored",
                String::from_utf8_lossy(other)
            );
            return None;
        }
    };
    Some(ZfEntry {
        version,
        header_words,
        log2_block,
        size,
    })
}

/// Makes `data` (the recorded, compressed bytes of a file) read through a
/// [`ZisofsDecoder`]; `at` is where the file's record sits.
pub(crate) fn decoded(data: FileData, zf: ZfEntry, at: Location) -> FileData {
    let decoder = ZisofsDecoder {
        stored: data.clone(),
        zf,
        at,
        table: OnceLock::new(),
        last: Mutex::new(None),
    };
    data.with_decoder(zf.size, Arc::new(decoder))
}

/// The fields of a zisofs file header that we use.
#[derive(Debug)]
struct Header {
    magic: [u8; 8],
    /// Compression algorithm (zisofs2 only; 1 = zlib, v1 is always zlib).
    algorithm: u8,
    /// Size of the uncompressed content.
    size: u64,
    /// Size of the header, in bytes.
    header_bytes: u64,
    /// log2 of the block size.
    log2_block: u8,
}

impl Header {
    /// Bytes of header that hold the fields below: 16 (v1) or 24 (v2).
    fn len(v2: bool) -> usize {
        if v2 { 24 } else { 16 }
    }

    /// Parses the header at the start of `h`; `None` if `h` is too short.
    fn parse(h: &[u8], v2: bool) -> Option<Header> {
        let magic = array_at(h, 0)?;
        if v2 {
            // magic, version, header size / 4, algorithm, log2 block size, size (u64 LE).
            Some(Header {
                magic,
                algorithm: *h.get(10)?,
                size: u64_le(h, 12)?,
                header_bytes: u64::from(*h.get(9)?) * 4,
                log2_block: *h.get(11)?,
            })
        } else {
            // magic, size (u32 LE), header size / 4, log2 block size, reserved.
            Some(Header {
                magic,
                algorithm: 1,
                size: u64::from(u32_le(h, 8)?),
                header_bytes: u64::from(*h.get(12)?) * 4,
                log2_block: *h.get(13)?,
            })
        }
    }
}

/// The block pointers of one file, read from its header.
#[derive(Debug)]
struct Table {
    block_size: u64,
    pointers: Vec<u64>,
    /// Where the pointer table ends: no block may start before it.
    data_start: u64,
}

/// Decodes one zisofs-compressed file, block by block.
#[derive(Debug)]
pub(crate) struct ZisofsDecoder {
    /// The recorded (compressed) bytes.
    stored: FileData,
    zf: ZfEntry,
    at: Location,
    table: OnceLock<Result<Arc<Table>>>,
    /// The last block decompressed: sequential small reads reuse it.
    last: Mutex<Option<(u64, Arc<Vec<u8>>)>>,
}

impl ZisofsDecoder {
    fn corrupt(&self, structure: &'static str, reason: impl Into<String>) -> Error {
        Error::corrupt(structure, self.at, reason)
    }

    /// Reads `len` recorded bytes at `offset` of the stored content.
    fn read_stored(&self, image: &dyn ReadAt, offset: u64, len: usize) -> Result<Vec<u8>> {
        if offset.saturating_add(len as u64) > self.stored.len() {
            return Err(self.corrupt(
                "zisofs file",
                format!(
                    "{len} bytes at {offset} lie past the {}-byte extent",
                    self.stored.len()
                ),
            ));
        }
        let mut out = vec![0u8; len];
        let mut done = 0usize;
        for (extent, within, n) in self.stored.map(offset, len as u64) {
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            let Some(piece) = out.get_mut(done..done.saturating_add(n)) else {
                return Err(self.corrupt(
                    "zisofs file",
                    format!("extent map gives more than the {len} bytes asked at {offset}"),
                ));
            };
            match extent {
                Extent::Zero { .. } => piece.fill(0),
                Extent::Recorded { start, .. } => {
                    let pos = start.saturating_add(within);
                    image
                        .read_exact_at(pos, piece)
                        .map_err(|e| Error::io(pos, n, e))?;
                }
            }
            done += n;
        }
        Ok(out)
    }

    fn table(&self, image: &dyn ReadAt) -> Result<Arc<Table>> {
        self.table
            .get_or_init(|| self.load_table(image).map(Arc::new))
            .clone()
    }

    /// Reads and checks the file header and the block pointers.
    fn load_table(&self, image: &dyn ReadAt) -> Result<Table> {
        const H: &str = "zisofs header";
        let v2 = self.zf.version == 2;
        let head_len = Header::len(v2);
        let h = self.read_stored(image, 0, head_len)?;
        let Header {
            magic,
            algorithm,
            size,
            header_bytes,
            log2_block: log2,
        } = Header::parse(&h, v2)
            .ok_or_else(|| self.corrupt(H, format!("header shorter than {head_len} bytes")))?;
        if algorithm != 1 {
            return Err(Error::Unsupported(format!(
                "zisofs2 algorithm {algorithm} at {} (only zlib is supported)",
                self.at
            )));
        }
        if magic != if v2 { MAGIC_V2 } else { MAGIC_V1 } {
            return Err(self.corrupt(H, "bad magic number"));
        }
        if size != self.zf.size {
            return Err(self.corrupt(
                H,
                format!(
                    "uncompressed size {size} differs from the ZF entry's {}",
                    self.zf.size
                ),
            ));
        }
        // Linux reads the file with the ZF entry's parameters, we with the
        // header's: they must agree.
        if header_bytes != u64::from(self.zf.header_words) * 4 || log2 != self.zf.log2_block {
            return Err(self.corrupt(
                H,
                format!(
                    "header size {header_bytes} / block size 2^{log2} differ from the ZF entry's {} / 2^{}",
                    u64::from(self.zf.header_words) * 4,
                    self.zf.log2_block
                ),
            ));
        }
        let log2_range = if v2 { 15..=20 } else { 15..=17 };
        if !log2_range.contains(&log2) {
            return Err(self.corrupt(H, format!("block size 2^{log2} out of range")));
        }
        if header_bytes < head_len as u64 {
            return Err(self.corrupt(H, format!("header size {header_bytes} bytes")));
        }
        let block_size = 1u64 << log2;
        let n_blocks = size.div_ceil(block_size);
        let psize: u64 = if v2 { 8 } else { 4 };
        let count = n_blocks + 1;
        let table_end = header_bytes.saturating_add(count.saturating_mul(psize));
        if count > MAX_POINTERS || table_end > self.stored.len() {
            return Err(self.corrupt(
                "zisofs block pointers",
                format!(
                    "{count} pointers from byte {header_bytes} run past the {}-byte extent",
                    self.stored.len()
                ),
            ));
        }
        // `count` <= MAX_POINTERS: the table is at most 128 MiB.
        let raw = self.read_stored(image, header_bytes, (count * psize) as usize)?;
        // Little-endian pointers of `psize` (4 or 8) bytes.
        let pointers = raw
            .chunks_exact(psize as usize)
            .map(|c| c.iter().rev().fold(0u64, |p, &b| (p << 8) | u64::from(b)))
            .collect();
        Ok(Table {
            block_size,
            pointers,
            data_start: table_end,
        })
    }

    /// Decompresses block `n`.
    fn block(&self, image: &dyn ReadAt, t: &Table, n: u64) -> Result<Arc<Vec<u8>>> {
        if let Some((k, b)) = &*self.last.lock() {
            if *k == n {
                return Ok(Arc::clone(b));
            }
        }
        const B: &str = "zisofs block";
        // At most one block (<= 1 MiB); callers ask only for blocks before the end.
        let want = self
            .zf
            .size
            .saturating_sub(n.saturating_mul(t.block_size))
            .min(t.block_size) as usize;
        let i = usize::try_from(n).unwrap_or(usize::MAX);
        let (Some(&start), Some(&end)) = (t.pointers.get(i), t.pointers.get(i.saturating_add(1)))
        else {
            return Err(self.corrupt(B, format!("block {n} has no pointer")));
        };
        let out = if start == end {
            vec![0u8; want]
        } else {
            if start < t.data_start || end < start || end > self.stored.len() {
                return Err(self.corrupt(
                    "zisofs block pointers",
                    format!(
                        "block {n} spans bytes {start}..{end}, outside {}..{}",
                        t.data_start,
                        self.stored.len()
                    ),
                ));
            }
            if end - start > t.block_size * 2 + 1024 {
                return Err(self.corrupt(B, format!("block {n} is {} bytes", end - start)));
            }
            let data = self.read_stored(image, start, (end - start) as usize)?;
            let mut d = flate2::Decompress::new(true);
            let mut out = vec![0u8; want + 1];
            d.decompress(&data, &mut out, flate2::FlushDecompress::Finish)
                .map_err(|e| self.corrupt(B, format!("block {n}: {e}")))?;
            if d.total_out() != want as u64 {
                return Err(self.corrupt(
                    B,
                    format!(
                        "block {n} decompresses to {}{} bytes, expected {want}",
                        if d.total_out() > want as u64 {
                            "more than "
                        } else {
                            ""
                        },
                        d.total_out()
                    ),
                ));
            }
            out.truncate(want);
            out
        };
        let out = Arc::new(out);
        *self.last.lock() = Some((n, Arc::clone(&out)));
        Ok(out)
    }
}

impl Decoder for ZisofsDecoder {
    fn read_at(&self, image: &dyn ReadAt, offset: u64, buf: &mut [u8]) -> Result<usize> {
        if offset >= self.zf.size || buf.is_empty() {
            return Ok(0);
        }
        let t = self.table(image)?;
        let want = (buf.len() as u64).min(self.zf.size - offset) as usize;
        let mut done = 0usize;
        while done < want {
            let pos = offset + done as u64;
            let n = pos / t.block_size;
            let block = self.block(image, &t, n)?;
            // `pos % block_size` < block size <= 1 MiB.
            let within = (pos % t.block_size) as usize;
            let from = block.get(within..).unwrap_or_default();
            let to = buf.get_mut(done..want).unwrap_or_default();
            let take = copy_prefix(to, from);
            if take == 0 {
                break;
            }
            done += take;
        }
        Ok(done)
    }

    /// The header and every block pointer (zisofs format, as mkzftree and
    /// xorriso write it): pointers never go backwards, the first block
    /// starts after the table, the last ends inside the recorded extent,
    /// and no block is longer than its compressed worst case.
    fn check(&self, image: &dyn ReadAt) -> Result<u64> {
        let t = self.table(image)?;
        let mut prev = t.data_start;
        let blocks = t.pointers.len().saturating_sub(1);
        for (n, pair) in t.pointers.windows(2).enumerate() {
            let (&start, &end) = match pair {
                [s, e] => (s, e),
                _ => continue,
            };
            let bad =
                |why: String| self.corrupt("zisofs block pointers", format!("block {n}: {why}"));
            if start < prev && start != end {
                return Err(bad(format!(
                    "starts at byte {start}, before the end of the previous block or of the table ({prev})"
                )));
            }
            if end < start {
                return Err(bad(format!("ends at byte {end}, before its start {start}")));
            }
            if end > self.stored.len() {
                return Err(bad(format!(
                    "ends at byte {end}, past the {}-byte extent",
                    self.stored.len()
                )));
            }
            if end - start > t.block_size * 2 + 1024 {
                return Err(bad(format!("is {} bytes long", end - start)));
            }
            prev = prev.max(end);
        }
        Ok(blocks as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::MemSource;
    use flate2::Compression;
    use flate2::write::ZlibEncoder;
    use std::io::Write;

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut e = ZlibEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    /// A zisofs file (v1 or v2) of `data`, zero blocks left empty.
    fn compress(data: &[u8], v2: bool, log2: u8) -> Vec<u8> {
        let bs = 1usize << log2;
        let n = data.len().div_ceil(bs);
        let mut out = Vec::new();
        if v2 {
            out.extend_from_slice(&MAGIC_V2);
            out.extend_from_slice(&[0, 6, 1, log2]);
            out.extend_from_slice(&(data.len() as u64).to_le_bytes());
            out.extend_from_slice(&[0; 4]);
        } else {
            out.extend_from_slice(&MAGIC_V1);
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            out.extend_from_slice(&[4, log2, 0, 0]);
        }
        let psize = if v2 { 8 } else { 4 };
        let table = out.len();
        out.resize(table + (n + 1) * psize, 0);
        let mut ptrs = vec![out.len() as u64];
        for chunk in data.chunks(bs) {
            if chunk.iter().any(|&b| b != 0) {
                out.extend_from_slice(&zlib(chunk));
            }
            ptrs.push(out.len() as u64);
        }
        for (i, p) in ptrs.iter().enumerate() {
            let at = table + i * psize;
            out[at..at + psize].copy_from_slice(&p.to_le_bytes()[..psize]);
        }
        out
    }

    fn file(stored: Vec<u8>, version: u8, log2: u8, size: u64) -> (MemSource, FileData) {
        let len = stored.len() as u64;
        let data = FileData::new([Extent::Recorded { start: 0, len }]);
        let zf = ZfEntry {
            version,
            header_words: if version == 2 { 6 } else { 4 },
            log2_block: log2,
            size,
        };
        (
            MemSource::new(stored),
            decoded(data, zf, Location::sector(0)),
        )
    }

    fn read_all(img: &MemSource, data: &FileData, at: u64, len: usize) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; len];
        let n = data.decoder().unwrap().read_at(img, at, &mut buf)?;
        buf.truncate(n);
        Ok(buf)
    }

    fn sample() -> Vec<u8> {
        let mut d: Vec<u8> = (0..100_000u32).map(|i| (i % 97) as u8).collect();
        d.extend(std::iter::repeat_n(0u8, 70_000));
        d.extend((0..5000u32).map(|i| (i * 7 % 13) as u8));
        d
    }

    #[test]
    fn reads_v1_and_v2() {
        let src = sample();
        for (v2, log2) in [(false, 15), (false, 17), (true, 15), (true, 20)] {
            let (img, data) = file(
                compress(&src, v2, log2),
                1 + v2 as u8,
                log2,
                src.len() as u64,
            );
            assert_eq!(data.len(), src.len() as u64);
            assert_eq!(read_all(&img, &data, 0, src.len() + 10).unwrap(), src);
            let part = read_all(&img, &data, 32_000, 70_000).unwrap();
            assert_eq!(part, src[32_000..102_000]);
            assert!(
                read_all(&img, &data, src.len() as u64, 5)
                    .unwrap()
                    .is_empty()
            );
        }
    }

    #[test]
    fn parses_zf_entries() {
        let v1 = [b'p', b'z', 4, 15, 0xa0, 0x86, 1, 0, 0, 1, 0x86, 0xa0];
        let zf = parse_zf(&v1, Location::sector(0)).unwrap();
        assert_eq!((zf.version, zf.log2_block, zf.size), (1, 15, 100_000));
        let v2 = [b'P', b'Z', 6, 17, 0x40, 0x42, 0x0f, 0, 0, 0, 0, 0];
        let zf = parse_zf(&v2, Location::sector(0)).unwrap();
        assert_eq!((zf.version, zf.log2_block, zf.size), (2, 17, 1_000_000));
        assert!(parse_zf(b"xx\x04\x0f\0\0\0\0\0\0\0\0", Location::sector(0)).is_none());
        assert!(parse_zf(b"pz", Location::sector(0)).is_none());
    }

    #[test]
    fn check_walks_the_pointer_table() {
        let src = sample();
        let good = compress(&src, false, 15);
        let blocks = (src.len() as u64).div_ceil(1 << 15);
        let (img, data) = file(good.clone(), 1, 15, src.len() as u64);
        assert_eq!(data.decoder().unwrap().check(&img).unwrap(), blocks);
        // Block 1's pointer moved before block 0's end: a table that goes backwards.
        let mut bad = good.clone();
        bad[20..24].copy_from_slice(&17u32.to_le_bytes());
        let (img, data) = file(bad, 1, 15, src.len() as u64);
        let e = data.decoder().unwrap().check(&img).unwrap_err().to_string();
        assert!(
            e.contains("zisofs block pointers") && e.contains("block 0"),
            "{e}"
        );
        // The last pointer past the extent.
        let mut bad = good;
        let last = 16 + 4 * blocks as usize;
        bad[last..last + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        let (img, data) = file(bad, 1, 15, src.len() as u64);
        let e = data.decoder().unwrap().check(&img).unwrap_err().to_string();
        assert!(e.contains("past the"), "{e}");
    }

    #[test]
    fn damage_gives_errors_not_panics() {
        let src = sample();
        let good = compress(&src, false, 15);
        let size = src.len() as u64;
        // Pointer table past the extent: the extent is cut after the header.
        let (img, data) = file(good[..20].to_vec(), 1, 15, size);
        let e = read_all(&img, &data, 0, 10).unwrap_err().to_string();
        assert!(e.contains("zisofs block pointers"), "{e}");
        // Corrupt zlib data in block 1; block 0 still reads.
        let mut bad = good.clone();
        let p1 = u32::from_le_bytes(bad[20..24].try_into().unwrap()) as usize;
        bad[p1..p1 + 6].fill(0xFF);
        let (img, data) = file(bad, 1, 15, size);
        assert_eq!(read_all(&img, &data, 0, 100).unwrap(), src[..100]);
        let e = read_all(&img, &data, 40_000, 10).unwrap_err().to_string();
        assert!(e.contains("zisofs block") && e.contains("block 1"), "{e}");
        // A pointer past the end.
        let mut bad = good.clone();
        bad[24..28].copy_from_slice(&u32::MAX.to_le_bytes());
        let (img, data) = file(bad, 1, 15, size);
        let e = read_all(&img, &data, 40_000, 10).unwrap_err().to_string();
        assert!(e.contains("block 1"), "{e}");
        // Size disagreeing with ZF, bad magic, bad block size.
        let (img, data) = file(good.clone(), 1, 15, size + 1);
        assert!(read_all(&img, &data, 0, 1).is_err());
        let mut bad = good.clone();
        bad[0] = 0;
        let (img, data) = file(bad, 1, 15, size);
        assert!(read_all(&img, &data, 0, 1).is_err());
        let mut bad = good;
        bad[13] = 30;
        let (img, data) = file(bad, 1, 15, size);
        assert!(read_all(&img, &data, 0, 1).is_err());
        // A huge claimed size with a tiny extent.
        let (img, data) = file(compress(b"abc", false, 15), 1, 15, u64::MAX);
        assert!(read_all(&img, &data, 0, 1).is_err());
    }

    #[test]
    fn short_zf_entries_and_headers() {
        let v2 = [b'P', b'Z', 6, 17, 0x40, 0x42, 0x0f, 0, 0, 0, 0, 0];
        for n in 0..v2.len() {
            assert!(parse_zf(&v2[..n], Location::sector(0)).is_none());
        }
        for v2 in [false, true] {
            let h = compress(&sample(), v2, 17);
            // The last field used ends at byte 14 (v1) or 20 (v2); reserved bytes follow.
            let used = if v2 { 20 } else { 14 };
            for n in 0..used {
                assert!(Header::parse(&h[..n], v2).is_none());
            }
            assert!(Header::parse(&h[..used], v2).is_some());
            assert!(Header::parse(&h[..Header::len(v2)], v2).is_some());
        }
    }

    #[test]
    fn extent_shorter_than_the_header_is_an_error() {
        let good = compress(&sample(), true, 17);
        let size = sample().len() as u64;
        for n in [0, 8, 23] {
            let (img, data) = file(good[..n].to_vec(), 2, 17, size);
            let e = read_all(&img, &data, 0, 10).unwrap_err().to_string();
            assert!(e.contains("zisofs file"), "{e}");
        }
    }
}
