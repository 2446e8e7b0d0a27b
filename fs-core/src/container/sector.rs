//! Raw CD sectors seen as 2048-byte logical sectors.
//!
//! A CD-ROM sector is 2352 bytes on the disc (ECMA-130 14, "Yellow Book"):
//! 12 sync bytes (00 FF×10 00), a 4-byte header (address as BCD minutes,
//! seconds, frames; mode byte), then for Mode 1 2048 bytes of user data, EDC
//! and ECC; for Mode 2 Form 1 (CD-ROM XA) an 8-byte subheader comes before the
//! 2048 user bytes. Images that store 2336 bytes per sector drop sync and
//! header (the subheader is first). [`SectorMap`] serves only the user data,
//! contiguous, so the format readers above it see a plain image.

use std::io;
use std::sync::Arc;

use crate::bytes::copy_prefix;
use crate::source::{ReadAt, clip};

/// Logical (user data) sector size.
pub(crate) const USER: u64 = 2048;
/// The 12-byte sync pattern at the start of every raw data sector (ECMA-130 14.1).
pub(crate) const SYNC: [u8; 12] = [
    0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0,
];
/// Raw sectors read per underlying read call when a request spans many sectors.
const BATCH: u64 = 32;

/// How one track stores its sectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackMode {
    /// CD-DA audio, 2352 bytes per sector, no user data.
    Audio,
    /// Mode 1 user data only, 2048 bytes per sector.
    Mode1Cooked,
    /// Mode 1 raw, 2352 bytes per sector, data at +16.
    Mode1Raw,
    /// Mode 2 (XA Form 1) raw, 2352 bytes per sector, data at +24.
    Mode2Raw,
    /// Mode 2 without sync and header, 2336 bytes per sector, data at +8.
    Mode2Headerless,
    /// Mode 2 Form 1 user data only, 2048 bytes per sector.
    Mode2Cooked,
    /// Mode 1 raw with 96 bytes of subchannel after each sector (2448 bytes, data at +16).
    Mode1RawSub,
    /// Mode 2 raw with 96 bytes of subchannel after each sector (2448 bytes, data at +24).
    Mode2RawSub,
}

impl TrackMode {
    /// Bytes per sector in the image file.
    pub fn sector_size(self) -> u64 {
        match self {
            TrackMode::Audio | TrackMode::Mode1Raw | TrackMode::Mode2Raw => 2352,
            TrackMode::Mode2Headerless => 2336,
            TrackMode::Mode1Cooked | TrackMode::Mode2Cooked => 2048,
            TrackMode::Mode1RawSub | TrackMode::Mode2RawSub => 2448,
        }
    }

    /// Offset of the 2048 user bytes inside a sector; `None` for audio.
    pub fn data_offset(self) -> Option<u64> {
        match self {
            TrackMode::Audio => None,
            TrackMode::Mode1Raw | TrackMode::Mode1RawSub => Some(16),
            TrackMode::Mode2Raw | TrackMode::Mode2RawSub => Some(24),
            TrackMode::Mode2Headerless => Some(8),
            TrackMode::Mode1Cooked | TrackMode::Mode2Cooked => Some(0),
        }
    }

    /// The cue-sheet spelling, e.g. "MODE1/2352".
    pub fn name(self) -> &'static str {
        match self {
            TrackMode::Audio => "AUDIO",
            TrackMode::Mode1Cooked => "MODE1/2048",
            TrackMode::Mode1Raw => "MODE1/2352",
            TrackMode::Mode2Raw => "MODE2/2352",
            TrackMode::Mode2Headerless => "MODE2/2336",
            TrackMode::Mode2Cooked => "MODE2/2048",
            TrackMode::Mode1RawSub => "MODE1/2448",
            TrackMode::Mode2RawSub => "MODE2/2448",
        }
    }
}

/// A data track seen as contiguous 2048-byte sectors from offset 0.
pub(crate) struct SectorMap {
    inner: Arc<dyn ReadAt>,
    /// Byte offset of the track's first sector in `inner`.
    start: u64,
    raw: u64,
    data_off: u64,
    sectors: u64,
}

impl SectorMap {
    /// Maps `sectors` sectors of `mode` starting at byte `start` of `inner`
    /// (fewer when the file ends first). `None` for audio.
    pub fn new(inner: Arc<dyn ReadAt>, start: u64, mode: TrackMode, sectors: u64) -> Option<Self> {
        let data_off = mode.data_offset()?;
        let raw = mode.sector_size();
        let avail = inner.len().saturating_sub(start) / raw;
        Some(SectorMap {
            inner,
            start,
            raw,
            data_off,
            sectors: sectors.min(avail),
        })
    }
}

impl ReadAt for SectorMap {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let buf = clip(buf, offset, self.len());
        if buf.is_empty() {
            return Ok(0);
        }
        if self.raw == USER {
            return self.inner.read_at(self.start + offset, buf);
        }
        let (raw, data_off, user_len) = (self.raw as usize, self.data_off as usize, USER as usize);
        let mut done = 0usize;
        let mut scratch = Vec::new();
        while let Some(rest) = buf.get_mut(done..).filter(|r| !r.is_empty()) {
            let pos = offset + done as u64;
            let first = pos / USER;
            let last = (pos + rest.len() as u64 - 1) / USER;
            let count = (last - first + 1).min(BATCH);
            // Read whole raw sectors in one call (the last one only up to the
            // end of its user data), then copy each user area.
            let span = ((count - 1) * self.raw + self.data_off + USER) as usize;
            scratch.resize(span, 0);
            self.inner
                .read_exact_at(self.start + first * self.raw, &mut scratch)?;
            let before = done;
            let mut from = (pos % USER) as usize;
            for sector in scratch.chunks(raw) {
                let user = sector.get(data_off + from..data_off + user_len);
                let Some(out) = buf.get_mut(done..).filter(|o| !o.is_empty()) else {
                    break;
                };
                done += copy_prefix(out, user.unwrap_or_default());
                from = 0;
            }
            if done == before {
                break;
            }
        }
        Ok(done)
    }

    fn len(&self) -> u64 {
        self.sectors * USER
    }
}

/// The EDC's CRC-32 (ECMA-130 14.3): polynomial
/// x^32 + x^31 + x^16 + x^15 + x^4 + x^3 + x + 1 (0x8001801B), processed
/// least significant bit first (so the table is built from its reflection,
/// 0xD8018001), initial value 0, no final xor. Stored little-endian.
pub(crate) fn edc(data: &[u8]) -> u32 {
    data.iter().fold(0u32, |e, &b| {
        let [low, ..] = e.to_le_bytes();
        // A u8 indexes the 256-entry table: always in range.
        #[allow(clippy::indexing_slicing)]
        let step = EDC_TABLE[usize::from(low ^ b)];
        step ^ (e >> 8)
    })
}

static EDC_TABLE: [u32; 256] = edc_table();

const fn edc_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut rest: &mut [u32] = &mut table;
    let mut i = 0u32;
    while let [slot, tail @ ..] = rest {
        let mut e = i;
        let mut bit = 0;
        while bit < 8 {
            e = (e >> 1) ^ if e & 1 != 0 { 0xD801_8001 } else { 0 };
            bit += 1;
        }
        *slot = e;
        rest = tail;
        i += 1;
    }
    table
}

/// Multiplication by x in GF(2^8) with the field polynomial
/// x^8 + x^4 + x^3 + x^2 + 1 (ECMA-130 annex A), and its inverse of
/// `a ^ f(a)`: the two tables the P and Q parity computation needs.
// Evaluated at compile time, with i < 256 and j <= 0xFF: an index out of
// range would fail the build, not a run.
#[allow(clippy::indexing_slicing)]
const fn ecc_tables() -> ([u8; 256], [u8; 256]) {
    let mut f = [0u8; 256];
    let mut b = [0u8; 256];
    let mut i = 0usize;
    while i < 256 {
        let j = ((i << 1) ^ if i & 0x80 != 0 { 0x11D } else { 0 }) & 0xFF;
        f[i] = j as u8;
        b[i ^ j] = i as u8;
        i += 1;
    }
    (f, b)
}

static ECC_TABLES: ([u8; 256], [u8; 256]) = ecc_tables();

/// Reed-Solomon product code parity of ECMA-130 annex A over `src` (the
/// sector from its header on): `major` code words of `minor` symbols, read
/// with the P (86 x 24) or Q (52 x 43) diagonal stride; `out` receives
/// `2 * major` parity bytes.
fn ecc_block(src: &[u8], major: usize, minor: usize, mult: usize, inc: usize, out: &mut Vec<u8>) {
    let (f, b) = &ECC_TABLES;
    let size = major * minor;
    let first = out.len();
    out.resize(first + 2 * major, 0);
    for m in 0..major {
        let mut index = (m >> 1) * mult + (m & 1);
        let (mut a, mut x) = (0u8, 0u8);
        for _ in 0..minor {
            let t = src.get(index).copied().unwrap_or(0);
            index += inc;
            if index >= size {
                index -= size;
            }
            a ^= t;
            x ^= t;
            // u8 indexes of 256-entry tables: always in range.
            #[allow(clippy::indexing_slicing)]
            {
                a = f[usize::from(a)];
            }
        }
        #[allow(clippy::indexing_slicing)]
        let p = b[usize::from(f[usize::from(a)] ^ x)];
        if let Some(slot) = out.get_mut(first + m) {
            *slot = p;
        }
        if let Some(slot) = out.get_mut(first + m + major) {
            *slot = p ^ x;
        }
    }
}

/// The 276 bytes of P and Q parity (ECMA-130 14.5, annex A) of a 2352-byte
/// sector, computed from its bytes 12..2076 (P) and 12..2248 (Q, which
/// covers the P parity). Mode 2 Form 1 computes them with the header
/// taken as zeros (`zero_header`).
pub(crate) fn ecc(sector: &[u8], zero_header: bool) -> Vec<u8> {
    let mut src: Vec<u8> = sector.get(12..2248).unwrap_or_default().to_vec();
    if zero_header {
        for b in src.iter_mut().take(4) {
            *b = 0;
        }
    }
    let mut out = Vec::with_capacity(276);
    ecc_block(&src, 86, 24, 2, 86, &mut out);
    // Q covers the P parity: the freshly computed one, so that a sector
    // being built gets both at once (when checking, the two agree or P
    // is reported first).
    if let Some(p) = src.get_mut(2064..2236) {
        p.copy_from_slice(out.get(..172).unwrap_or(&[0; 172]));
    }
    ecc_block(&src, 52, 43, 86, 88, &mut out);
    out
}

/// What checking one raw sector found (ECMA-130 14).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SectorCheck {
    /// EDC right; ECC right (`ecc: true`), or not recorded (all zeros,
    /// as some image writers leave it; `ecc: false`).
    Good {
        /// The ECC was recorded and checked.
        ecc: bool,
    },
    /// Mode 2 Form 2 with no EDC recorded (0, allowed by ECMA-130 14.6): nothing to check.
    Unprotected,
    /// Mode 0 (all-zero user data): nothing to check.
    Empty,
    /// Something is wrong; the text says what.
    Bad(String),
}

/// Checks the EDC and ECC of one sector of `mode` as the image stores it
/// (2352, 2448 or 2336 bytes). Cooked and audio sectors have neither.
pub(crate) fn check_raw(sector: &[u8], mode: TrackMode) -> SectorCheck {
    // A 2336-byte sector is a 2352-byte one without sync and header.
    let mut full;
    let s: &[u8] = match mode {
        TrackMode::Mode2Headerless => {
            full = vec![0u8; 16];
            full.extend_from_slice(sector.get(..2336).unwrap_or_default());
            &full
        }
        TrackMode::Mode1Raw
        | TrackMode::Mode1RawSub
        | TrackMode::Mode2Raw
        | TrackMode::Mode2RawSub => {
            if !sector.starts_with(&SYNC) {
                return SectorCheck::Bad("no sync pattern at the start of the sector".into());
            }
            sector.get(..2352).unwrap_or_default()
        }
        _ => return SectorCheck::Empty,
    };
    if s.len() < 2352 {
        return SectorCheck::Bad(format!("{} bytes, a raw sector has 2352", s.len()));
    }
    let header_mode = match mode {
        TrackMode::Mode2Headerless => 2,
        _ => s.get(15).copied().unwrap_or(0),
    };
    let stored = |at: usize| crate::bytes::u32_le(s, at).unwrap_or(0);
    let edc_of = |range: std::ops::Range<usize>| edc(s.get(range).unwrap_or_default());
    let (edc_at, computed, zero_header) = match header_mode {
        0 => return SectorCheck::Empty,
        1 => (2064, edc_of(0..2064), false),
        2 => {
            // The submode byte of the subheader (ECMA-130 / CD-ROM XA): bit 5 is Form 2.
            if s.get(18).is_some_and(|m| m & 0x20 != 0) {
                let recorded = stored(2348);
                if recorded == 0 {
                    return SectorCheck::Unprotected;
                }
                let c = edc_of(16..2348);
                return if c == recorded {
                    SectorCheck::Good { ecc: false }
                } else {
                    SectorCheck::Bad(format!(
                        "Mode 2 Form 2 EDC is {recorded:#010x}, the sector's bytes give {c:#010x}"
                    ))
                };
            }
            (2072, edc_of(16..2072), true)
        }
        m => return SectorCheck::Bad(format!("mode byte {m} in the header (0, 1 or 2 expected)")),
    };
    let recorded = stored(edc_at);
    if computed != recorded {
        let form = if header_mode == 1 {
            "Mode 1"
        } else {
            "Mode 2 Form 1"
        };
        return SectorCheck::Bad(format!(
            "{form} EDC is {recorded:#010x}, the sector's bytes give {computed:#010x}"
        ));
    }
    let parity = s.get(2076..2352).unwrap_or_default();
    if parity.iter().all(|&b| b == 0) {
        return SectorCheck::Good { ecc: false };
    }
    let want = ecc(s, zero_header);
    match want.iter().zip(parity).position(|(a, b)| a != b) {
        None => SectorCheck::Good { ecc: true },
        Some(i) => SectorCheck::Bad(format!(
            "ECC {} parity differs from the sector's bytes (first at byte {})",
            if i < 172 { "P" } else { "Q" },
            2076 + i
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::MemSource;

    fn raw_image(mode: TrackMode, sectors: u64, lead: usize) -> (Vec<u8>, Vec<u8>) {
        let mut img = vec![0xEEu8; lead];
        let mut user = Vec::new();
        for s in 0..sectors {
            let mut sec = vec![0xAAu8; mode.sector_size() as usize];
            let off = mode.data_offset().unwrap() as usize;
            for i in 0..2048 {
                sec[off + i] = (s as usize * 7 + i) as u8;
            }
            user.extend_from_slice(&sec[off..off + 2048]);
            img.extend_from_slice(&sec);
        }
        (img, user)
    }

    #[test]
    fn every_mode_reads_back_its_user_data_at_any_offset() {
        for mode in [
            TrackMode::Mode1Raw,
            TrackMode::Mode2Raw,
            TrackMode::Mode2Headerless,
            TrackMode::Mode1Cooked,
            TrackMode::Mode1RawSub,
            TrackMode::Mode2RawSub,
        ] {
            let (img, user) = raw_image(mode, 70, 100);
            let map = SectorMap::new(Arc::new(MemSource::new(img)), 100, mode, 70).unwrap();
            assert_eq!(map.len(), user.len() as u64);
            for (off, n) in [
                (0u64, 2048usize),
                (5, 10),
                (2040, 100),
                (3000, 2048 * 40 + 7),
                (0, 70 * 2048),
            ] {
                let mut buf = vec![0; n];
                map.read_exact_at(off, &mut buf).unwrap();
                assert_eq!(
                    buf,
                    &user[off as usize..off as usize + n],
                    "{mode:?} {off} {n}"
                );
            }
            let mut buf = vec![0; 4096];
            assert_eq!(map.read_at(69 * 2048 + 100, &mut buf).unwrap(), 2048 - 100);
            assert_eq!(map.read_at(70 * 2048, &mut buf).unwrap(), 0);
        }
    }

    #[test]
    fn a_short_file_limits_the_sector_count_and_audio_has_no_view() {
        let (img, _) = raw_image(TrackMode::Mode1Raw, 3, 0);
        let map = SectorMap::new(
            Arc::new(MemSource::new(img.clone())),
            0,
            TrackMode::Mode1Raw,
            1000,
        )
        .unwrap();
        assert_eq!(map.len(), 3 * 2048);
        assert!(SectorMap::new(Arc::new(MemSource::new(img)), 0, TrackMode::Audio, 3).is_none());
    }

    /// A Mode 1 sector with EDC and ECC, built the way ECMA-130 14 lays it out.
    pub(crate) fn mode1_sector(user: &[u8; 2048]) -> Vec<u8> {
        let mut s = SYNC.to_vec();
        s.extend_from_slice(&[0x00, 0x02, 0x16, 0x01]);
        s.extend_from_slice(user);
        let e = edc(&s);
        s.extend_from_slice(&e.to_le_bytes());
        s.extend_from_slice(&[0; 8]);
        s.resize(2352, 0);
        let p = ecc(&s, false);
        s[2076..].copy_from_slice(&p);
        s
    }

    #[test]
    fn edc_matches_the_crc_catalogue() {
        // CRC-32/CD-ROM-EDC of "123456789" (reveng catalogue: check=0x6ec2edc4).
        assert_eq!(edc(b"123456789"), 0x6EC2_EDC4);
    }

    /// GF(2^8) product with the field polynomial of ECMA-130 annex A.
    fn gf_mul(mut a: u8, mut b: u8) -> u8 {
        let mut p = 0u8;
        while b != 0 {
            if b & 1 != 0 {
                p ^= a;
            }
            a = (a << 1) ^ if a & 0x80 != 0 { 0x1D } else { 0 };
            b >>= 1;
        }
        p
    }

    /// The two syndromes of a code word `c` under the parity check matrix
    /// of ECMA-130 annex A: [1 1 ... 1] and [a^(n-1) ... a 1].
    fn syndromes(c: &[u8]) -> (u8, u8) {
        let s0 = c.iter().fold(0, |s, &x| s ^ x);
        let s1 = c.iter().fold(0u8, |s, &x| gf_mul(s, 2) ^ x);
        (s0, s1)
    }

    #[test]
    fn ecc_code_words_have_zero_syndromes() {
        // Checked against the definition of the code, not the generator:
        // every P column (24 symbols + 2 parity, stride 86) and every Q
        // diagonal (43 + 2, stride 88 modulo 2236) is a code word.
        let mut user = [0u8; 2048];
        for (i, b) in user.iter_mut().enumerate() {
            *b = (i * 97 % 253) as u8 ^ 0x5A;
        }
        let s = mode1_sector(&user);
        let v = &s[12..];
        for m in 0..86 {
            let c: Vec<u8> = (0..26).map(|k| v[m + 86 * k]).collect();
            assert_eq!(syndromes(&c), (0, 0), "P column {m}");
        }
        for m in 0..52 {
            let start = (m >> 1) * 86 + (m & 1);
            let mut c: Vec<u8> = (0..43).map(|k| v[(start + 88 * k) % 2236]).collect();
            c.push(v[2236 + m]);
            c.push(v[2236 + 52 + m]);
            assert_eq!(syndromes(&c), (0, 0), "Q diagonal {m}");
        }
    }

    #[test]
    fn sectors_check_and_damage_is_found() {
        let mut user = [0u8; 2048];
        for (i, b) in user.iter_mut().enumerate() {
            *b = (i * 31 % 251) as u8;
        }
        let good = mode1_sector(&user);
        assert_eq!(
            check_raw(&good, TrackMode::Mode1Raw),
            SectorCheck::Good { ecc: true }
        );
        // ECC left zero by the writer: EDC checked, ECC not recorded.
        let mut no_ecc = good.clone();
        no_ecc[2076..].fill(0);
        assert_eq!(
            check_raw(&no_ecc, TrackMode::Mode1Raw),
            SectorCheck::Good { ecc: false }
        );
        let mut bad = good.clone();
        bad[100] ^= 1;
        assert!(
            matches!(check_raw(&bad, TrackMode::Mode1Raw), SectorCheck::Bad(m) if m.contains("EDC"))
        );
        let mut bad_p = good.clone();
        bad_p[2100] ^= 0x40;
        assert!(
            matches!(check_raw(&bad_p, TrackMode::Mode1Raw), SectorCheck::Bad(m) if m.contains("ECC P"))
        );
        let mut bad_q = good.clone();
        bad_q[2300] ^= 0x40;
        assert!(
            matches!(check_raw(&bad_q, TrackMode::Mode1Raw), SectorCheck::Bad(m) if m.contains("ECC Q"))
        );
        let mut no_sync = good;
        no_sync[3] = 0;
        assert!(
            matches!(check_raw(&no_sync, TrackMode::Mode1Raw), SectorCheck::Bad(m) if m.contains("sync"))
        );
        assert_eq!(
            check_raw(&[0u8; 2048], TrackMode::Mode1Cooked),
            SectorCheck::Empty
        );
    }

    #[test]
    fn reads_past_the_end_and_empty_buffers_are_short() {
        let (img, user) = raw_image(TrackMode::Mode2Raw, 2, 0);
        let map = SectorMap::new(Arc::new(MemSource::new(img)), 0, TrackMode::Mode2Raw, 2).unwrap();
        let mut buf = vec![0; 5000];
        assert_eq!(map.read_at(4000, &mut buf).unwrap(), 96);
        assert_eq!(buf[..96], user[4000..]);
        assert_eq!(map.read_at(u64::MAX, &mut buf).unwrap(), 0);
        assert_eq!(map.read_at(0, &mut []).unwrap(), 0);
    }
}
