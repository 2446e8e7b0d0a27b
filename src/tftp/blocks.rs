//! A file cut into the numbered blocks of a transfer.
//!
//! Block `k` (counting from 1, as a 64-bit number: the 16-bit number on the
//! wire rolls over) holds `blksize` bytes; the first shorter block, possibly
//! empty, is the last (RFC 1350 section 6). In octet mode block `k` starts
//! at byte `(k - 1) * blksize`; in netascii mode (RFC 764 line ends: LF sent
//! as CR LF, CR as CR NUL) the text grows as it is converted, so each block
//! starts where the previous one ended: a [`Cursor`] says where, and the
//! transfer keeps the cursors of the blocks it may have to send again.

use std::io;

use super::File;
use super::packet::Mode;

/// Where a block starts in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cursor {
    /// Next byte of the file to send.
    offset: u64,
    /// Second byte of a netascii pair cut by the previous block's end.
    pending: Option<u8>,
}

/// Produces blocks from a file.
pub struct Blocks {
    file: Box<dyn File>,
    mode: Mode,
    blksize: usize,
    /// Netascii source bytes (the conversion needs them apart from the
    /// output); empty in octet mode.
    scratch: Vec<u8>,
}

impl Blocks {
    pub fn new(file: Box<dyn File>, mode: Mode, blksize: u16) -> Blocks {
        let blksize = usize::from(blksize);
        Blocks {
            file,
            mode,
            blksize,
            scratch: match mode {
                Mode::Octet => Vec::new(),
                Mode::Netascii => vec![0; blksize],
            },
        }
    }

    /// Block size in bytes.
    pub fn blksize(&self) -> usize {
        self.blksize
    }

    /// Writes the block starting at `at` into `out` (cleared first) and
    /// returns where the next block starts. The block is the last one when
    /// `out` is shorter than the block size.
    pub fn fill(&mut self, at: Cursor, out: &mut Vec<u8>) -> io::Result<Cursor> {
        out.clear();
        match self.mode {
            Mode::Octet => {
                out.resize(self.blksize, 0);
                let n = read_full(&*self.file, at.offset, out)?;
                out.truncate(n);
                Ok(Cursor {
                    offset: at.offset + n as u64,
                    pending: None,
                })
            }
            Mode::Netascii => self.fill_netascii(at, out),
        }
    }

    fn fill_netascii(&mut self, at: Cursor, out: &mut Vec<u8>) -> io::Result<Cursor> {
        let mut next = Cursor {
            offset: at.offset,
            pending: None,
        };
        out.extend(at.pending);
        // Each source byte gives one or two output bytes: reading as many
        // as the room left is enough to fill the block.
        let room = self.blksize - out.len();
        let n = read_full(&*self.file, at.offset, &mut self.scratch[..room])?;
        for &b in &self.scratch[..n] {
            let pair = match b {
                b'\n' => [b'\r', b'\n'],
                b'\r' => [b'\r', 0],
                _ => [b, 0],
            };
            let wide = matches!(b, b'\n' | b'\r');
            if out.len() == self.blksize {
                break;
            }
            out.push(pair[0]);
            next.offset += 1;
            if wide {
                if out.len() == self.blksize {
                    next.pending = Some(pair[1]);
                    break;
                }
                out.push(pair[1]);
            }
        }
        Ok(next)
    }
}

/// Reads until `buf` is full or the file ends; an error if the file ends
/// before its stated length.
fn read_full(file: &dyn File, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
    let want = usize::try_from(file.len().saturating_sub(offset))
        .unwrap_or(usize::MAX)
        .min(buf.len());
    let mut done = 0;
    while done < want {
        let n = file.read_at(offset + done as u64, &mut buf[done..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "file ends at byte {} before its length {}",
                    offset + done as u64,
                    file.len()
                ),
            ));
        }
        done += n;
    }
    Ok(done)
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// A file in memory.
    pub struct Mem(pub Vec<u8>);

    impl File for Mem {
        fn len(&self) -> u64 {
            self.0.len() as u64
        }
        fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
            let start = usize::try_from(offset)
                .unwrap_or(usize::MAX)
                .min(self.0.len());
            // Short reads on purpose: at most 5 bytes at a time.
            let n = buf.len().min(self.0.len() - start).min(5);
            buf[..n].copy_from_slice(&self.0[start..start + n]);
            Ok(n)
        }
    }

    /// All blocks of `data` in `mode`, cutting at `blksize`.
    fn all(data: &[u8], mode: Mode, blksize: u16) -> Vec<Vec<u8>> {
        let mut b = Blocks::new(Box::new(Mem(data.to_vec())), mode, blksize);
        let mut at = Cursor::default();
        let mut out = Vec::new();
        let mut blocks = Vec::new();
        loop {
            at = b.fill(at, &mut out).unwrap();
            blocks.push(out.clone());
            if out.len() < usize::from(blksize) {
                return blocks;
            }
            assert!(blocks.len() < 10_000, "no end");
        }
    }

    #[test]
    fn octet_blocks_end_with_a_short_one() {
        assert_eq!(all(b"", Mode::Octet, 8), vec![b"".to_vec()]);
        assert_eq!(all(b"1234567", Mode::Octet, 8), vec![b"1234567".to_vec()]);
        assert_eq!(
            all(b"12345678", Mode::Octet, 8),
            vec![b"12345678".to_vec(), vec![]]
        );
        assert_eq!(
            all(b"123456789", Mode::Octet, 8),
            vec![b"12345678".to_vec(), b"9".to_vec()]
        );
    }

    #[test]
    fn netascii_converts_line_ends_across_block_edges() {
        let blocks = all(b"abcdefg\nhi\rj\n", Mode::Netascii, 8);
        assert_eq!(
            blocks,
            vec![b"abcdefg\r".to_vec(), b"\nhi\r\0j\r\n".to_vec(), vec![]]
        );
        let text = b"a\n\n\r\rbb\nccc\r\n".repeat(50);
        for bs in [8u16, 9, 10, 13, 512] {
            let joined: Vec<u8> = all(&text, Mode::Netascii, bs).concat();
            let mut want = Vec::new();
            for &c in &text {
                match c {
                    b'\n' => want.extend_from_slice(b"\r\n"),
                    b'\r' => want.extend_from_slice(b"\r\0"),
                    c => want.push(c),
                }
            }
            assert_eq!(joined, want, "blksize {bs}");
        }
    }

    #[test]
    fn refill_from_a_kept_cursor_gives_the_same_block() {
        let mut b = Blocks::new(Box::new(Mem(b"x\ny\nz\n\r\n".repeat(9))), Mode::Netascii, 8);
        let mut out = Vec::new();
        let c1 = b.fill(Cursor::default(), &mut out).unwrap();
        let c2 = b.fill(c1, &mut out).unwrap();
        let second = out.clone();
        b.fill(c2, &mut out).unwrap();
        assert_eq!(b.fill(c1, &mut out).unwrap(), c2);
        assert_eq!(out, second);
    }

    /// A file that claims more bytes than it has.
    struct Liar;
    impl File for Liar {
        fn len(&self) -> u64 {
            100
        }
        fn read_at(&self, _: u64, _: &mut [u8]) -> io::Result<usize> {
            Ok(0)
        }
    }

    #[test]
    fn a_file_shorter_than_its_length_is_an_error() {
        let mut b = Blocks::new(Box::new(Liar), Mode::Octet, 512);
        let e = b.fill(Cursor::default(), &mut Vec::new()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
    }
}
