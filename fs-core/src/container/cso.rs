//! CSO (CISO v1 and v2) and ZSO compressed images.
//!
//! Layout (public, as written by `ciso` and `maxcso`): a 24-byte header
//! (magic `CISO` or `ZISO`, header size u32, uncompressed size u64, block
//! size u32, version u8, index shift u8, 2 reserved bytes), then an index of
//! `n_blocks + 1` little-endian u32 entries. Entry `i` holds the position of
//! block `i` (`(entry & 0x7FFF_FFFF) << shift`); block `i` ends where block
//! `i + 1` starts. The top bit means:
//! - CSO v1 and ZSO: the block is stored uncompressed;
//! - CSO v2: the block is LZ4 instead of deflate (a block whose stored size is
//!   at least the block size is stored uncompressed).
//!
//! CSO blocks are raw deflate (no zlib header), ZSO blocks raw LZ4 blocks.
//! Blocks are decompressed one at a time, only when a read touches them,
//! and kept in a small [`BlockCache`], so a random read never decompresses
//! the whole image.

use std::io;
use std::sync::Arc;

use super::ContainerInfo;
use crate::bytes::copy_prefix;
use crate::cache::BlockCache;
use crate::error::{Error, Location, Result};
use crate::source::{ReadAt, clip};

/// Size of the fixed header.
const HEADER_LEN: u64 = 24;
/// Smallest and largest block size accepted.
const MIN_BLOCK: u32 = 2048;
const MAX_BLOCK: u32 = 1 << 20;
/// Bytes of decompressed blocks kept in memory.
const CACHE_BYTES: u64 = 4 * 1024 * 1024;
/// Top bit of an index entry.
const FLAG: u32 = 0x8000_0000;

/// Which flavour of compressed image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// CSO v1: deflate, top bit = stored.
    CsoV1,
    /// CSO v2: deflate or (top bit) LZ4; stored when the size reaches the block size.
    CsoV2,
    /// ZSO: LZ4, top bit = stored.
    Zso,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::CsoV1 => "CSO v1",
            Kind::CsoV2 => "CSO v2",
            Kind::Zso => "ZSO",
        }
    }

    fn compression(self) -> &'static str {
        match self {
            Kind::CsoV1 => "deflate",
            Kind::CsoV2 => "deflate and LZ4",
            Kind::Zso => "LZ4",
        }
    }
}

/// How one block is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Stored,
    Deflate,
    Lz4,
}

/// Opens `source` as a CSO/ZSO image. `Ok(None)` when the magic is neither
/// `CISO` nor `ZISO`; an error when it is, but the header or index is broken.
pub(crate) fn open(source: &Arc<dyn ReadAt>) -> Result<Option<(Arc<dyn ReadAt>, ContainerInfo)>> {
    let Some(blocks) = CsoBlocks::open(source)? else {
        return Ok(None);
    };
    let info = ContainerInfo {
        kind: blocks.kind.name().into(),
        details: vec![
            ("Block size", blocks.block_size.to_string()),
            ("Uncompressed size", blocks.size.to_string()),
            ("Compressed size", source.len().to_string()),
            ("Compression", blocks.kind.compression().into()),
        ],
    };
    let block_size = blocks.block_size as usize;
    let cached: Arc<dyn ReadAt> = Arc::new(BlockCache::new(blocks, block_size, CACHE_BYTES));
    Ok(Some((cached, info)))
}

fn corrupt(structure: &'static str, at: u64, reason: impl Into<String>) -> Error {
    Error::corrupt(structure, Location::sector(at / 2048), reason)
}

fn le32(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .map(u32::from_le_bytes)
        .unwrap_or(0)
}

/// The decompressed image, block by block.
struct CsoBlocks {
    source: Arc<dyn ReadAt>,
    kind: Kind,
    block_size: u32,
    shift: u8,
    size: u64,
    /// `n_blocks + 1` raw index entries.
    index: Vec<u32>,
}

impl CsoBlocks {
    fn open(source: &Arc<dyn ReadAt>) -> Result<Option<CsoBlocks>> {
        if source.len() < 4 {
            return Ok(None);
        }
        let mut magic = [0u8; 4];
        source
            .read_exact_at(0, &mut magic)
            .map_err(|e| Error::io(0, 4, e))?;
        let zso = match &magic {
            b"CISO" => false,
            b"ZISO" => true,
            _ => return Ok(None),
        };
        let header_name = if zso { "ZSO header" } else { "CSO header" };
        if source.len() < HEADER_LEN {
            return Err(Error::Truncated {
                structure: header_name,
                at: Location::sector(0),
                image_len: source.len(),
            });
        }
        let mut h = [0u8; HEADER_LEN as usize];
        source
            .read_exact_at(0, &mut h)
            .map_err(|e| Error::io(0, h.len(), e))?;
        let header_size = le32(&h, 4);
        let size = u64::from(le32(&h, 8)) | (u64::from(le32(&h, 12)) << 32);
        let block_size = le32(&h, 16);
        let version = h[20];
        let shift = h[21];
        let kind = match (zso, version) {
            (true, 0 | 1) => Kind::Zso,
            (false, 0 | 1) => Kind::CsoV1,
            (false, 2) => Kind::CsoV2,
            _ => {
                return Err(corrupt(
                    header_name,
                    0,
                    format!("unknown version {version}"),
                ));
            }
        };
        if header_size != 0 && header_size != HEADER_LEN as u32 {
            return Err(corrupt(
                header_name,
                0,
                format!("header size {header_size} (expected 24)"),
            ));
        }
        if !block_size.is_power_of_two() || !(MIN_BLOCK..=MAX_BLOCK).contains(&block_size) {
            return Err(corrupt(
                header_name,
                0,
                format!("block size {block_size} is not a power of two from 2 KiB to 1 MiB"),
            ));
        }
        if shift > 31 {
            return Err(corrupt(header_name, 0, format!("index shift {shift}")));
        }
        let n_blocks = size.div_ceil(u64::from(block_size));
        let index_len = (n_blocks + 1).saturating_mul(4);
        if HEADER_LEN.saturating_add(index_len) > source.len() {
            return Err(Error::corrupt(
                "CSO index",
                Location::sector(0),
                format!(
                    "uncompressed size {size} needs {} index entries, more than the {}-byte file holds",
                    n_blocks + 1,
                    source.len()
                ),
            ));
        }
        // Bounded by the file length just checked.
        let mut raw = vec![0u8; index_len as usize];
        source
            .read_exact_at(HEADER_LEN, &mut raw)
            .map_err(|e| Error::io(HEADER_LEN, raw.len(), e))?;
        let index: Vec<u32> = raw.chunks_exact(4).map(|c| le32(c, 0)).collect();
        let blocks = CsoBlocks {
            source: Arc::clone(source),
            kind,
            block_size,
            shift,
            size,
            index,
        };
        // The end of the last block must lie within the file: a cheap check
        // that catches truncated images at open.
        let end = blocks.position(n_blocks as usize);
        if end > source.len() {
            return Err(Error::corrupt(
                "CSO index",
                Location::sector(0),
                format!(
                    "data ends at byte {end}, past the end of the {}-byte file (truncated image?)",
                    source.len()
                ),
            ));
        }
        Ok(Some(blocks))
    }

    /// Byte position in the file of entry `i`.
    fn position(&self, i: usize) -> u64 {
        u64::from(self.index.get(i).copied().unwrap_or(0) & !FLAG) << self.shift
    }

    /// Decompresses block `n` into `out` (its exact uncompressed length).
    fn block(&self, n: u64, out: &mut [u8]) -> Result<()> {
        let i = n as usize;
        let at = n * u64::from(self.block_size);
        let (Some(&entry), Some(_)) = (self.index.get(i), self.index.get(i + 1)) else {
            return Err(corrupt("CSO index", at, format!("no entry for block {n}")));
        };
        let start = self.position(i);
        let end = self.position(i + 1);
        let first_data = HEADER_LEN + self.index.len() as u64 * 4;
        if start < first_data || end < start || end > self.source.len() {
            return Err(corrupt(
                "CSO index",
                at,
                format!(
                    "block {n} spans bytes {start}..{end}, outside the data area {first_data}..{}",
                    self.source.len()
                ),
            ));
        }
        let stored = end - start;
        let method = match self.kind {
            Kind::CsoV1 if entry & FLAG != 0 => Method::Stored,
            Kind::CsoV1 => Method::Deflate,
            Kind::Zso if entry & FLAG != 0 => Method::Stored,
            Kind::Zso => Method::Lz4,
            Kind::CsoV2 if stored >= u64::from(self.block_size) => Method::Stored,
            Kind::CsoV2 if entry & FLAG != 0 => Method::Lz4,
            Kind::CsoV2 => Method::Deflate,
        };
        let want = out.len() as u64;
        let read_len = match method {
            Method::Stored if stored < want => {
                return Err(corrupt(
                    "CSO block",
                    at,
                    format!("stored block {n} holds {stored} bytes, needs {want}"),
                ));
            }
            Method::Stored => want,
            _ => stored,
        };
        // Bounded: stored blocks by `want`; compressed blocks by the block
        // size plus generous slack (incompressible data grows a little).
        if read_len > u64::from(self.block_size) * 2 + 1024 {
            return Err(corrupt(
                "CSO block",
                at,
                format!("block {n} is {read_len} bytes compressed, more than a block can be"),
            ));
        }
        let mut data = vec![0u8; read_len as usize];
        self.source
            .read_exact_at(start, &mut data)
            .map_err(|e| Error::io(start, data.len(), e))?;
        match method {
            Method::Stored => {
                out.copy_from_slice(&data);
                Ok(())
            }
            Method::Deflate => inflate_raw(&data, out)
                .map_err(|reason| corrupt("CSO block", at, format!("deflate block {n}: {reason}"))),
            Method::Lz4 => lz4_block(&data, out, 1u64 << self.shift)
                .map_err(|reason| corrupt("CSO block", at, format!("LZ4 block {n}: {reason}"))),
        }
    }
}

/// Inflates raw deflate `data` into exactly `out`.
fn inflate_raw(data: &[u8], out: &mut [u8]) -> std::result::Result<(), String> {
    let mut d = flate2::Decompress::new(false);
    // One spare byte tells "too long" from "exactly right".
    let mut buf = vec![0u8; out.len() + 1];
    d.decompress(data, &mut buf, flate2::FlushDecompress::Finish)
        .map_err(|e| e.to_string())?;
    let (got, want) = (d.total_out(), out.len());
    match buf.get(..want) {
        Some(decoded) if got == want as u64 => {
            out.copy_from_slice(decoded);
            Ok(())
        }
        _ => {
            let more = if got > want as u64 { "more than " } else { "" };
            Err(format!(
                "decompresses to {more}{got} bytes, expected {want}"
            ))
        }
    }
}

/// Decompresses one raw LZ4 block into exactly `out`.
///
/// The stored size of a block includes the zero padding up to the index
/// alignment (`align` bytes), and an LZ4 block has no end marker: when the
/// whole input does not decode, trailing zero bytes (at most `align - 1`)
/// are dropped one at a time. Cutting too many loses literals (too short);
/// cutting too few leaves a zero offset (an error): the first exact decode
/// is the right one.
fn lz4_block(data: &[u8], out: &mut [u8], align: u64) -> std::result::Result<(), String> {
    let max_pad = usize::try_from(align.saturating_sub(1))
        .unwrap_or(usize::MAX)
        .min(4096);
    let zeros = data.iter().rev().take_while(|&&b| b == 0).count();
    let mut first_err = None;
    for cut in 0..=max_pad.min(zeros) {
        let Some(input) = data.len().checked_sub(cut).and_then(|n| data.get(..n)) else {
            break;
        };
        match lz4_flex::block::decompress_into(input, out) {
            Ok(got) if got == out.len() => return Ok(()),
            Ok(got) => {
                first_err.get_or_insert(format!(
                    "decompresses to {got} bytes, expected {}",
                    out.len()
                ));
            }
            Err(e) => {
                first_err.get_or_insert(e.to_string());
            }
        }
    }
    Err(first_err.unwrap_or_default())
}

impl ReadAt for CsoBlocks {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let buf = clip(buf, offset, self.size);
        let bs = u64::from(self.block_size);
        let mut done = 0usize;
        let mut block = Vec::new();
        while let Some(rest) = buf.get_mut(done..).filter(|r| !r.is_empty()) {
            let pos = offset + done as u64;
            let n = pos / bs;
            let block_start = n * bs;
            let block_len = (self.size - block_start).min(bs) as usize;
            let within = (pos - block_start) as usize;
            let took = match rest.get_mut(..block_len) {
                Some(whole) if within == 0 => {
                    // Whole block: decompress straight into the caller's buffer.
                    self.block(n, whole)
                        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                    block_len
                }
                _ => {
                    block.resize(block_len, 0);
                    self.block(n, &mut block)
                        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                    copy_prefix(rest, block.get(within..).unwrap_or_default())
                }
            };
            if took == 0 {
                break;
            }
            done += took;
        }
        Ok(done)
    }

    fn len(&self) -> u64 {
        self.size
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::MemSource;
    use flate2::Compression;
    use flate2::write::DeflateEncoder;
    use std::io::Write;

    fn deflate(data: &[u8]) -> Vec<u8> {
        let mut e = DeflateEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    /// Builds an image; `how(i)` picks each block's method.
    fn build(kind: Kind, data: &[u8], bs: u32, how: impl Fn(usize) -> Method) -> Vec<u8> {
        build_shifted(kind, data, bs, 0, how)
    }

    /// [`build`] with blocks aligned to `1 << shift` (zero padding).
    fn build_shifted(
        kind: Kind,
        data: &[u8],
        bs: u32,
        shift: u8,
        how: impl Fn(usize) -> Method,
    ) -> Vec<u8> {
        let align = 1usize << shift;
        let n = data.len().div_ceil(bs as usize);
        let mut out = Vec::new();
        out.extend_from_slice(if kind == Kind::Zso { b"ZISO" } else { b"CISO" });
        out.extend_from_slice(&24u32.to_le_bytes());
        out.extend_from_slice(&(data.len() as u64).to_le_bytes());
        out.extend_from_slice(&bs.to_le_bytes());
        out.push(if kind == Kind::CsoV2 { 2 } else { 1 });
        out.extend_from_slice(&[shift, 0, 0]);
        let index_at = out.len();
        out.resize(index_at + (n + 1) * 4, 0);
        let mut index = Vec::new();
        for (i, chunk) in data.chunks(bs as usize).enumerate() {
            let m = how(i);
            let (bytes, flag) = match (kind, m) {
                (Kind::CsoV2, Method::Stored) => {
                    let mut c = chunk.to_vec();
                    c.resize(bs as usize, 0);
                    (c, 0)
                }
                (_, Method::Stored) => (chunk.to_vec(), FLAG),
                (Kind::CsoV2, Method::Lz4) => (lz4_flex::block::compress(chunk), FLAG),
                (_, Method::Lz4) => (lz4_flex::block::compress(chunk), 0),
                (_, Method::Deflate) => (deflate(chunk), 0),
            };
            out.resize(out.len().div_ceil(align) * align, 0);
            index.push((out.len() >> shift) as u32 | flag);
            out.extend_from_slice(&bytes);
        }
        out.resize(out.len().div_ceil(align) * align, 0);
        index.push((out.len() >> shift) as u32);
        for (i, e) in index.iter().enumerate() {
            out[index_at + i * 4..index_at + i * 4 + 4].copy_from_slice(&e.to_le_bytes());
        }
        out
    }

    fn sample(n: usize) -> Vec<u8> {
        (0..n).map(|i| ((i / 7) % 251) as u8).collect()
    }

    fn open_mem(img: Vec<u8>) -> Result<Option<(Arc<dyn ReadAt>, ContainerInfo)>> {
        let src: Arc<dyn ReadAt> = Arc::new(MemSource::new(img));
        open(&src)
    }

    fn check(kind: Kind, how: impl Fn(usize) -> Method) {
        let data = sample(2048 * 5 + 300);
        let (r, info) = open_mem(build(kind, &data, 2048, how)).unwrap().unwrap();
        assert_eq!(info.kind, kind.name());
        assert_eq!(r.len(), data.len() as u64);
        let mut all = vec![0u8; data.len()];
        r.read_exact_at(0, &mut all).unwrap();
        assert_eq!(all, data);
        let mut part = vec![0u8; 3000];
        r.read_exact_at(1000, &mut part).unwrap();
        assert_eq!(part, data[1000..4000]);
    }

    #[test]
    fn reads_every_flavour() {
        check(Kind::CsoV1, |i| {
            if i % 2 == 0 {
                Method::Deflate
            } else {
                Method::Stored
            }
        });
        check(Kind::CsoV2, |i| match i % 3 {
            0 => Method::Deflate,
            1 => Method::Lz4,
            _ => Method::Stored,
        });
        check(Kind::Zso, |i| {
            if i % 2 == 0 {
                Method::Lz4
            } else {
                Method::Stored
            }
        });
    }

    #[test]
    fn lz4_blocks_with_alignment_padding() {
        // Zero blocks end in zero literals, followed by zero padding.
        let mut data = vec![0u8; 2048 * 3];
        data.extend(sample(2048 * 2 + 5));
        for kind in [Kind::Zso, Kind::CsoV2] {
            for shift in [0, 2, 4, 6] {
                // ZSO has no deflate; CSO v2 mixes both.
                let img = build_shifted(kind, &data, 2048, shift, |i| {
                    if kind == Kind::Zso || i % 2 == 0 {
                        Method::Lz4
                    } else {
                        Method::Deflate
                    }
                });
                let (r, _) = open_mem(img).unwrap().unwrap();
                let mut all = vec![0u8; data.len()];
                r.read_exact_at(0, &mut all).unwrap();
                assert_eq!(all, data, "{kind:?} shift {shift}");
            }
        }
    }

    #[test]
    fn other_magic_is_not_cso() {
        assert!(open_mem(vec![0u8; 4096]).unwrap().is_none());
        assert!(open_mem(b"CI".to_vec()).unwrap().is_none());
    }

    #[test]
    fn bad_headers_are_corrupt() {
        let good = build(Kind::CsoV1, &sample(8192), 2048, |_| Method::Deflate);
        let mut bad = good.clone();
        bad[16..20].copy_from_slice(&3000u32.to_le_bytes());
        let e = open_mem(bad).err().unwrap().to_string();
        assert!(e.contains("block size"), "{e}");
        let mut bad = good.clone();
        bad[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
        let e = open_mem(bad).err().unwrap().to_string();
        assert!(e.contains("CSO index"), "{e}");
        let e = open_mem(good[..good.len() - 10].to_vec())
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("truncated"), "{e}");
        let e = open_mem(b"CISO\0\0".to_vec()).err().unwrap().to_string();
        assert!(e.contains("CSO header"), "{e}");
    }

    #[test]
    fn damaged_blocks_fail_only_their_reads() {
        let data = sample(2048 * 4);
        let mut img = build(Kind::CsoV1, &data, 2048, |_| Method::Deflate);
        // Block 1's entry points past the end of the file.
        let e1 = 24 + 4;
        img[e1..e1 + 4].copy_from_slice(&0x7000_0000u32.to_le_bytes());
        // Block 3's deflate data is garbage.
        let start = u32::from_le_bytes(img[24 + 12..24 + 16].try_into().unwrap()) as usize;
        for b in &mut img[start..start + 8] {
            *b = 0xFF;
        }
        let (r, _) = open_mem(img).unwrap().unwrap();
        let mut b = vec![0u8; 2048];
        r.read_exact_at(2 * 2048, &mut b).unwrap();
        assert_eq!(b, data[2 * 2048..3 * 2048]);
        let e = r.read_exact_at(2048, &mut b).unwrap_err().to_string();
        assert!(e.contains("CSO index") && e.contains("block 1"), "{e}");
        let e = r.read_exact_at(0, &mut b).unwrap_err().to_string();
        assert!(e.contains("CSO index") && e.contains("block 0"), "{e}");
        let e = r.read_exact_at(3 * 2048, &mut b).unwrap_err().to_string();
        assert!(e.contains("CSO block") && e.contains("block 3"), "{e}");
    }

    #[test]
    fn short_and_empty_blocks_decode_to_errors() {
        let mut out = [0u8; 16];
        assert!(inflate_raw(&[], &mut out).is_err());
        assert!(inflate_raw(&deflate(&[1; 15]), &mut out).is_err());
        assert!(inflate_raw(&deflate(&[1; 17]), &mut out).is_err());
        assert!(inflate_raw(&deflate(&[1; 16]), &mut out).is_ok());
        // All-zero input with a large alignment: every cut, down to nothing.
        assert!(lz4_block(&[0; 8], &mut out, 1 << 31).is_err());
        assert!(lz4_block(&[], &mut out, 1 << 31).is_err());
    }
}
