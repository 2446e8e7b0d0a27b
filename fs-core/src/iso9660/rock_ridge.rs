//! Rock Ridge Interchange Protocol (IEEE P1282, RRIP 1.09–1.12): POSIX
//! attributes in SUSP entries (see [`super::susp`]).
//!
//! Entries understood (RRIP 1.12 section 4.1):
//!
//! * RR (RRIP 1.09 only): which entries are present; only noted;
//! * PX (4.1.1): mode, links, uid, gid and, in the 44-byte form of RRIP 1.12,
//!   the file serial number;
//! * PN (4.1.2): device number (high, low);
//! * SL (4.1.3): symbolic link target, as component records (4.1.3.1);
//! * NM (4.1.4): alternate (POSIX) name;
//! * CL, PL, RE (4.1.5.1–4.1.5.3): deep directory relocation;
//! * TF (4.1.6): time stamps, 7-byte (ECMA-119 9.1.5) or 17-byte
//!   (ECMA-119 8.4.26.1) form;
//! * SF (4.1.7, sparse files) is recognised and ignored;
//! * ZF (zisofs extension): compressed content, see [`super::zisofs`].
//!
//! A malformed entry is skipped with a warning; only the structure of the
//! continuation areas (see [`super::susp::entries`]) can make [`parse`] fail.

use crate::error::{Location, Result};
use crate::node::{DeviceNumber, Timestamp};

use super::susp::{self, ReadBytes, SuspInfo, u32_both};

/// What the Rock Ridge entries of one directory record say.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct RockRidge {
    /// Any Rock Ridge entry is present.
    pub found: bool,
    /// PX st_mode (type and permission bits, POSIX values; RRIP 4.1.1).
    pub mode: Option<u32>,
    /// PX st_nlink.
    pub nlink: Option<u32>,
    /// PX st_uid.
    pub uid: Option<u32>,
    /// PX st_gid.
    pub gid: Option<u32>,
    /// PX file serial number (st_ino; 44-byte PX of RRIP 1.12).
    pub serial: Option<u64>,
    /// PN device number (RRIP 4.1.2): high → major, low → minor, except
    /// that a zero high with low above 0xff is a whole Linux dev_t (libisofs).
    pub rdev: Option<DeviceNumber>,
    /// NM name, continued entries joined (RRIP 4.1.4). `None` without NM,
    /// for the CURRENT / PARENT flags, and for names that cannot be a
    /// directory entry (empty, ".", "..", containing '/' or NUL).
    pub name: Option<String>,
    /// SL target (RRIP 4.1.3): components joined with '/', ROOT gives a
    /// leading '/', CURRENT '.', PARENT '..'; component records continued
    /// with the CONTINUE flag are one component; several SL entries join.
    pub symlink: Option<String>,
    /// TF MODIFY time.
    pub mtime: Option<Timestamp>,
    /// TF ACCESS time.
    pub atime: Option<Timestamp>,
    /// TF ATTRIBUTES (status change) time.
    pub ctime: Option<Timestamp>,
    /// TF CREATE time.
    pub crtime: Option<Timestamp>,
    /// CL: the directory this record stands for starts at this block (RRIP 4.1.5.1).
    pub child_link: Option<u32>,
    /// PL: the real parent of this relocated directory's "..", a block (RRIP 4.1.5.2).
    pub parent_link: Option<u32>,
    /// RE: this record is the relocated directory itself, to be hidden (RRIP 4.1.5.3).
    pub relocated: bool,
    /// ZF: the content is zisofs-compressed (see [`super::zisofs`]).
    pub zf: Option<super::zisofs::ZfEntry>,
}

/// Parses the system-use area `su` of one directory record (skipping
/// `info.skip` bytes, SUSP 5.3) and its continuation areas.
///
/// `at` is where `su` sits in the image; `read` reads continuation areas.
pub(crate) fn parse(
    su: &[u8],
    info: &SuspInfo,
    block_size: u32,
    at: Location,
    read: ReadBytes<'_>,
) -> Result<RockRidge> {
    let list = susp::entries_located(su, info, block_size, at, read)?;
    let mut rr = RockRidge::default();
    let mut name = NameParts::default();
    let mut link = LinkParts::default();
    for (e, loc) in &list {
        let d = e.data.as_slice();
        match &e.sig {
            b"RR" => rr.found = true,
            b"PX" => {
                rr.found = true;
                parse_px(d, *loc, &mut rr);
            }
            b"PN" => {
                rr.found = true;
                match (u32_both(d, 0), u32_both(d, 8)) {
                    (Some(high), Some(low)) => rr.rdev = Some(device_number(high, low)),
                    _ => warn_short("PN", *loc, d.len()),
                }
            }
            b"SL" => {
                rr.found = true;
                link.add(d, *loc);
            }
            b"NM" => {
                rr.found = true;
                name.add(d, *loc);
            }
            b"CL" => {
                rr.found = true;
                match u32_both(d, 0) {
                    Some(block) => rr.child_link = Some(block),
                    None => warn_short("CL", *loc, d.len()),
                }
            }
            b"PL" => {
                rr.found = true;
                match u32_both(d, 0) {
                    Some(block) => rr.parent_link = Some(block),
                    None => warn_short("PL", *loc, d.len()),
                }
            }
            b"RE" => {
                rr.found = true;
                rr.relocated = true;
            }
            b"TF" => {
                rr.found = true;
                parse_tf(d, *loc, &mut rr);
            }
            b"SF" => {
                rr.found = true;
                log::debug!("Rock Ridge: SF (sparse file) entry at {loc} ignored");
            }
            b"ZF" => {
                // Alone it says nothing about POSIX attributes: `found` stays.
                rr.zf = super::zisofs::parse_zf(d, *loc);
            }
            _ => {}
        }
    }
    rr.name = name.finish(at);
    rr.symlink = link.finish();
    Ok(rr)
}

fn warn_short(sig: &str, loc: Location, len: usize) {
    log::warn!(
        "Rock Ridge: {sig} entry at {loc} is too short ({} bytes), ignored",
        len + 4
    );
}

/// PN (RRIP 4.1.2): "dev_t high" and "dev_t low".
///
/// RRIP says: high = major, low = minor (genisoimage does this), and when
/// dev_t is 32 bits, high unused and low the whole dev_t. libisofs (xorriso)
/// writes high 0 and the host's whole Linux dev_t in low, e.g. (0, 0x0d25)
/// for 13:37. Like Linux isofs, a zero high with low above 0xff is read as a
/// whole dev_t; we decode it with the Linux 32-bit `new_encode_dev` layout
/// (12-bit major, 20-bit minor), which also covers the old 8:8 layout.
/// Otherwise major = high, minor = low.
fn device_number(high: u32, low: u32) -> DeviceNumber {
    if high == 0 && low > 0xff {
        DeviceNumber {
            major: (low >> 8) & 0xfff,
            minor: (low & 0xff) | ((low >> 12) & 0xf_ff00),
        }
    } else {
        DeviceNumber {
            major: high,
            minor: low,
        }
    }
}

/// PX (RRIP 4.1.1): 36 bytes (RRIP 1.10) or 44 bytes with the serial (RRIP 1.12).
fn parse_px(d: &[u8], loc: Location, rr: &mut RockRidge) {
    let (Some(mode), Some(nlink), Some(uid), Some(gid)) = (
        u32_both(d, 0),
        u32_both(d, 8),
        u32_both(d, 16),
        u32_both(d, 24),
    ) else {
        warn_short("PX", loc, d.len());
        return;
    };
    rr.mode = Some(mode);
    rr.nlink = Some(nlink);
    rr.uid = Some(uid);
    rr.gid = Some(gid);
    if let Some(serial) = u32_both(d, 32) {
        rr.serial = Some(u64::from(serial));
    }
}

/// NM pieces (RRIP 4.1.4), joined as bytes so that a UTF-8 sequence split
/// over two entries survives.
#[derive(Default)]
struct NameParts {
    bytes: Vec<u8>,
    seen: bool,
    dot: bool,
    /// The last NM had CONTINUE: the next one extends the name.
    continuing: bool,
}

impl NameParts {
    const CONTINUE: u8 = 1;
    const CURRENT: u8 = 2;
    const PARENT: u8 = 4;

    fn add(&mut self, d: &[u8], loc: Location) {
        let Some((&flags, content)) = d.split_first() else {
            warn_short("NM", loc, d.len());
            return;
        };
        if flags & (Self::CURRENT | Self::PARENT) != 0 {
            self.dot = true;
            return;
        }
        if self.seen && !self.continuing {
            // Not allowed by RRIP 4.1.4; Linux appends too.
            log::debug!("Rock Ridge: NM at {loc} follows a complete name; appended");
        }
        self.continuing = flags & Self::CONTINUE != 0;
        self.seen = true;
        self.bytes.extend_from_slice(content);
    }

    fn finish(self, at: Location) -> Option<String> {
        if self.dot || !self.seen {
            return None;
        }
        let name = String::from_utf8_lossy(&self.bytes).into_owned();
        if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
            log::warn!(
                "Rock Ridge: NM name {:?} in the record at {at} cannot be a file name; using the ISO 9660 name",
                name
            );
            return None;
        }
        Some(name)
    }
}

/// One component of a symbolic link target.
enum Component {
    /// The root: the target is absolute.
    Root,
    /// A name, ".", or "..".
    Name(Vec<u8>),
}

/// SL component records (RRIP 4.1.3.1), gathered over all SL entries.
#[derive(Default)]
struct LinkParts {
    parts: Vec<Component>,
    seen: bool,
    /// The last component record had CONTINUE: the next one extends it.
    continuing: bool,
}

impl LinkParts {
    const CONTINUE: u8 = 1;
    const CURRENT: u8 = 2;
    const PARENT: u8 = 4;
    const ROOT: u8 = 8;
    const VOLROOT: u8 = 16;
    const HOST: u8 = 32;

    fn add(&mut self, d: &[u8], loc: Location) {
        let Some((&_sl_flags, mut records)) = d.split_first() else {
            warn_short("SL", loc, d.len());
            return;
        };
        self.seen = true;
        while !records.is_empty() {
            let [flags, len, rest @ ..] = records else {
                log::warn!("Rock Ridge: SL entry at {loc} ends inside a component header");
                return;
            };
            let (flags, len) = (*flags, usize::from(*len));
            let Some((content, after)) = rest.split_at_checked(len) else {
                log::warn!(
                    "Rock Ridge: SL component at {loc} claims {len} bytes, {} remain",
                    rest.len()
                );
                return;
            };
            records = after;
            let continued_from_before = self.continuing;
            self.continuing = flags & Self::CONTINUE != 0;
            if flags & (Self::ROOT | Self::VOLROOT | Self::HOST) != 0 {
                if flags & (Self::VOLROOT | Self::HOST) != 0 {
                    log::info!(
                        "Rock Ridge: SL at {loc} refers to the volume or host root; shown as '/'"
                    );
                }
                self.parts.push(Component::Root);
            } else if flags & Self::PARENT != 0 {
                self.parts.push(Component::Name(b"..".to_vec()));
            } else if flags & Self::CURRENT != 0 {
                self.parts.push(Component::Name(b".".to_vec()));
            } else if let (true, Some(Component::Name(last))) =
                (continued_from_before, self.parts.last_mut())
            {
                last.extend_from_slice(content);
            } else {
                self.parts.push(Component::Name(content.to_vec()));
            }
        }
    }

    fn finish(self) -> Option<String> {
        if !self.seen {
            return None;
        }
        let mut out: Vec<u8> = Vec::new();
        let mut need_slash = false;
        for part in self.parts {
            match part {
                Component::Root => {
                    if out.last() != Some(&b'/') {
                        out.push(b'/');
                    }
                    need_slash = false;
                }
                Component::Name(name) => {
                    if need_slash {
                        out.push(b'/');
                    }
                    out.extend_from_slice(&name);
                    need_slash = true;
                }
            }
        }
        Some(String::from_utf8_lossy(&out).into_owned())
    }
}

/// TF (RRIP 4.1.6).
fn parse_tf(d: &[u8], loc: Location, rr: &mut RockRidge) {
    const LONG_FORM: u8 = 128;
    let Some((&flags, mut stamps)) = d.split_first() else {
        warn_short("TF", loc, d.len());
        return;
    };
    let size = if flags & LONG_FORM != 0 { 17 } else { 7 };
    // Bits in recording order: CREATE, MODIFY, ACCESS, ATTRIBUTES, BACKUP,
    // EXPIRATION, EFFECTIVE.
    for bit in 0..7 {
        if flags & (1 << bit) == 0 {
            continue;
        }
        let Some((raw, after)) = stamps.split_at_checked(size) else {
            log::warn!("Rock Ridge: TF entry at {loc} ends before its time stamps do");
            return;
        };
        stamps = after;
        let time = if size == 17 {
            long_form_time(raw)
        } else {
            short_form_time(raw)
        };
        match bit {
            0 => rr.crtime = time,
            1 => rr.mtime = time,
            2 => rr.atime = time,
            3 => rr.ctime = time,
            _ => {} // backup, expiration, effective: not shown
        }
    }
}

/// Time zone offset in 15-minute units from GMT (-48 west .. +52 east,
/// ECMA-119 9.1.5 / 8.4.26.1) to minutes; out of range counts as GMT.
fn tz_minutes(raw: u8) -> i32 {
    let q = i32::from(raw as i8);
    if (-48..=52).contains(&q) {
        q * 15
    } else {
        log::debug!("Rock Ridge: time zone offset {q} out of range, taken as GMT");
        0
    }
}

/// 7-byte recording date and time (ECMA-119 9.1.5): years since 1900,
/// month, day, hour, minute, second, GMT offset. All zero = not specified.
fn short_form_time(raw: &[u8]) -> Option<Timestamp> {
    let [y, mo, d, h, mi, s, tz] = *raw else {
        return None;
    };
    if raw.iter().all(|&b| b == 0) {
        return None;
    }
    let t = Timestamp::from_civil(
        1900 + i64::from(y),
        u32::from(mo),
        u32::from(d),
        u32::from(h),
        u32::from(mi),
        u32::from(s),
        0,
        tz_minutes(tz),
    );
    if t.is_none() {
        log::warn!("Rock Ridge: invalid TF time stamp {raw:?}");
    }
    t
}

/// 17-byte date and time (ECMA-119 8.4.26.1): ASCII digits for year (4),
/// month, day, hour, minute, second, hundredths (2 each), then the GMT
/// offset. All digits '0' (or all bytes 0) with offset 0 = not specified.
fn long_form_time(raw: &[u8]) -> Option<Timestamp> {
    let (digits, tz) = raw.split_at_checked(16)?;
    let tz = *tz.first()?;
    if tz == 0 && digits.iter().all(|&b| b == b'0' || b == 0) {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        digits.get(range)?.iter().try_fold(0u32, |acc, &b| {
            b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
        })
    };
    let t = (|| {
        Timestamp::from_civil(
            i64::from(num(0..4)?),
            num(4..6)?,
            num(6..8)?,
            num(8..10)?,
            num(10..12)?,
            num(12..14)?,
            num(14..16)? * 10_000_000,
            tz_minutes(tz),
        )
    })();
    if t.is_none() {
        log::warn!(
            "Rock Ridge: invalid TF time stamp \"{}\"",
            digits.escape_ascii()
        );
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iso9660::susp::tests::{both, ce, entry, reader, sp};

    const AT: Location = Location {
        sector: 30,
        offset: Some(40),
    };

    fn parse_su(su: &[u8]) -> RockRidge {
        let read = reader(&[]);
        parse(su, &SuspInfo::default(), 2048, AT, &read).unwrap()
    }

    fn px(mode: u32, nlink: u32, uid: u32, gid: u32, serial: Option<u32>) -> Vec<u8> {
        let mut d = Vec::new();
        for v in [mode, nlink, uid, gid].into_iter().chain(serial) {
            d.extend_from_slice(&both(v));
        }
        entry(b"PX", &d)
    }

    #[test]
    fn nothing_found_without_entries() {
        assert_eq!(parse_su(&[]), RockRidge::default());
        assert!(!parse_su(&entry(b"XY", &[1, 2, 3])).found);
    }

    #[test]
    fn px_36_and_44_bytes() {
        let su = px(0o100644, 1, 1000, 100, None);
        assert_eq!(su.len(), 36);
        let rr = parse_su(&su);
        assert!(rr.found);
        assert_eq!(rr.mode, Some(0o100644));
        assert_eq!(rr.nlink, Some(1));
        assert_eq!(rr.uid, Some(1000));
        assert_eq!(rr.gid, Some(100));
        assert_eq!(rr.serial, None);

        let su = px(0o040755, 3, 0, 0, Some(77));
        assert_eq!(su.len(), 44);
        let rr = parse_su(&su);
        assert_eq!(rr.mode, Some(0o040755));
        assert_eq!(rr.nlink, Some(3));
        assert_eq!(rr.serial, Some(77));

        // Truncated PX: ignored, still "found".
        let mut su = px(0o100644, 1, 0, 0, None);
        su.truncate(20);
        su[2] = 20;
        let rr = parse_su(&su);
        assert!(rr.found);
        assert_eq!(rr.mode, None);
    }

    #[test]
    fn pn_device_numbers() {
        let mut d = both(8).to_vec();
        d.extend_from_slice(&both(17));
        let rr = parse_su(&entry(b"PN", &d));
        assert_eq!(
            rr.rdev,
            Some(DeviceNumber {
                major: 8,
                minor: 17
            })
        );
        assert_eq!(parse_su(&entry(b"PN", &d[..12])).rdev, None);
        // genisoimage: (major, minor) even for big minors.
        assert_eq!(
            device_number(259, 70000),
            DeviceNumber {
                major: 259,
                minor: 70000
            }
        );
        // libisofs: (0, Linux dev_t).
        assert_eq!(
            device_number(0, 0xd25),
            DeviceNumber {
                major: 13,
                minor: 37
            }
        );
        assert_eq!(
            device_number(0, 0x1111_0370),
            DeviceNumber {
                major: 259,
                minor: 70000
            }
        );
        // Small numbers mean the same either way.
        assert_eq!(device_number(0, 5), DeviceNumber { major: 0, minor: 5 });
    }

    #[test]
    fn cl_pl_re() {
        let rr = parse_su(&entry(b"CL", &both(1234)));
        assert_eq!(rr.child_link, Some(1234));
        assert!(!rr.relocated);
        let rr = parse_su(&entry(b"PL", &both(99)));
        assert_eq!(rr.parent_link, Some(99));
        let rr = parse_su(&entry(b"RE", &[]));
        assert!(rr.relocated && rr.found);
        assert_eq!(parse_su(&entry(b"CL", &[1, 2, 3])).child_link, None);
    }

    #[test]
    fn nm_plain_continued_and_dots() {
        assert_eq!(
            parse_su(&entry(b"NM", b"\0hello")).name.as_deref(),
            Some("hello")
        );
        let mut su = entry(b"NM", b"\x01hel");
        su.extend(entry(b"NM", b"\x01lo w"));
        su.extend(entry(b"NM", b"\0orld"));
        assert_eq!(parse_su(&su).name.as_deref(), Some("hello world"));
        // A UTF-8 sequence split between two NM entries.
        let mut su = entry(b"NM", b"\x01caf\xc3");
        su.extend(entry(b"NM", b"\0\xa9"));
        assert_eq!(parse_su(&su).name.as_deref(), Some("café"));
        // Not UTF-8: lossy.
        assert_eq!(
            parse_su(&entry(b"NM", b"\0a\xffb")).name.as_deref(),
            Some("a\u{fffd}b")
        );
        assert_eq!(parse_su(&entry(b"NM", b"\x02")).name, None);
        assert_eq!(parse_su(&entry(b"NM", b"\x04")).name, None);
        // Names that would escape a path.
        for bad in [&b"\0"[..], b"\0..", b"\0.", b"\0a/b", b"\0a\0b", b""] {
            let rr = parse_su(&entry(b"NM", bad));
            assert!(rr.found);
            assert_eq!(rr.name, None, "{bad:?}");
        }
    }

    /// An SL component record (RRIP 4.1.3.1).
    fn comp(flags: u8, text: &[u8]) -> Vec<u8> {
        let mut v = vec![flags, text.len() as u8];
        v.extend_from_slice(text);
        v
    }

    fn sl(flags: u8, comps: &[Vec<u8>]) -> Vec<u8> {
        let mut d = vec![flags];
        for c in comps {
            d.extend_from_slice(c);
        }
        entry(b"SL", &d)
    }

    #[test]
    fn sl_components() {
        let rr = parse_su(&sl(0, &[comp(8, b""), comp(0, b"usr"), comp(0, b"lib")]));
        assert_eq!(rr.symlink.as_deref(), Some("/usr/lib"));
        assert!(rr.found);
        let rr = parse_su(&sl(0, &[comp(4, b""), comp(2, b""), comp(0, b"x")]));
        assert_eq!(rr.symlink.as_deref(), Some(".././x"));
        let rr = parse_su(&sl(0, &[comp(2, b"")]));
        assert_eq!(rr.symlink.as_deref(), Some("."));
        let rr = parse_su(&sl(0, &[comp(8, b"")]));
        assert_eq!(rr.symlink.as_deref(), Some("/"));
        // VOLROOT and HOST are shown like ROOT.
        let rr = parse_su(&sl(0, &[comp(16, b""), comp(0, b"a")]));
        assert_eq!(rr.symlink.as_deref(), Some("/a"));
        let rr = parse_su(&sl(0, &[comp(32, b""), comp(0, b"a")]));
        assert_eq!(rr.symlink.as_deref(), Some("/a"));
        // No SL: None.
        assert_eq!(parse_su(&entry(b"RR", &[0])).symlink, None);
    }

    #[test]
    fn sl_continued_components_across_entries() {
        // "/ab/cd/../e f": "cd" is split over two SL entries by the
        // component CONTINUE flag, "e f" over two component records.
        let mut su = sl(1, &[comp(8, b""), comp(0, b"ab"), comp(1, b"c")]);
        su.extend(sl(
            0,
            &[comp(0, b"d"), comp(4, b""), comp(1, b"e"), comp(0, b" f")],
        ));
        let rr = parse_su(&su);
        assert_eq!(rr.symlink.as_deref(), Some("/ab/cd/../e f"));

        // The SL CONTINUE flag with a finished component: next entry starts a new one.
        let mut su = sl(1, &[comp(0, b"a")]);
        su.extend(sl(0, &[comp(0, b"b")]));
        assert_eq!(parse_su(&su).symlink.as_deref(), Some("a/b"));
    }

    #[test]
    fn sl_truncated_records_keep_what_was_read() {
        let mut d = vec![0u8];
        d.extend(comp(0, b"ok"));
        d.extend([0, 9, b'x']); // claims 9 bytes
        let rr = parse_su(&entry(b"SL", &d));
        assert_eq!(rr.symlink.as_deref(), Some("ok"));
        let mut d = vec![0u8];
        d.extend(comp(0, b"ok"));
        d.push(0); // half a header
        assert_eq!(parse_su(&entry(b"SL", &d)).symlink.as_deref(), Some("ok"));
        assert_eq!(parse_su(&entry(b"SL", &[])).symlink, None);
    }

    fn short(year: i64, mo: u8, d: u8, h: u8, mi: u8, s: u8, tz: i8) -> [u8; 7] {
        [(year - 1900) as u8, mo, d, h, mi, s, tz as u8]
    }

    fn long(text: &str, tz: i8) -> Vec<u8> {
        assert_eq!(text.len(), 16);
        let mut v = text.as_bytes().to_vec();
        v.push(tz as u8);
        v
    }

    fn ts(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Timestamp {
        Timestamp::from_civil(y, mo, d, h, mi, s, 0, 0).unwrap()
    }

    #[test]
    fn tf_short_form_all_flags() {
        // CREATE, MODIFY, ACCESS, ATTRIBUTES, BACKUP, EXPIRATION, EFFECTIVE.
        let mut d = vec![0x7f];
        d.extend(short(1960, 1, 2, 3, 4, 5, 0)); // create
        d.extend(short(2040, 1, 1, 0, 0, 0, 0)); // modify
        d.extend(short(2020, 6, 1, 12, 0, 0, 8)); // access, UTC+2
        d.extend(short(2000, 2, 29, 23, 59, 59, -20)); // attributes, UTC-5
        d.extend([0; 21]); // backup, expiration, effective
        let rr = parse_su(&entry(b"TF", &d));
        assert_eq!(rr.crtime, Some(ts(1960, 1, 2, 3, 4, 5)));
        assert!(rr.crtime.unwrap().secs < 0);
        assert_eq!(rr.mtime, Some(ts(2040, 1, 1, 0, 0, 0)));
        assert_eq!(rr.mtime.unwrap().secs, 2_208_988_800);
        assert_eq!(rr.atime, Some(ts(2020, 6, 1, 10, 0, 0)));
        assert_eq!(rr.ctime, Some(ts(2000, 3, 1, 4, 59, 59)));
    }

    #[test]
    fn tf_subset_and_unspecified() {
        // MODIFY and ATTRIBUTES only: the first stamp is mtime, the second ctime.
        let mut d = vec![2 | 8];
        d.extend(short(1999, 12, 31, 0, 0, 0, 0));
        d.extend([0; 7]); // all zero: not specified
        let rr = parse_su(&entry(b"TF", &d));
        assert_eq!(rr.mtime, Some(ts(1999, 12, 31, 0, 0, 0)));
        assert_eq!(rr.ctime, None);
        assert_eq!(rr.crtime, None);
        assert_eq!(rr.atime, None);
        // Impossible date: None, no panic.
        let mut d = vec![2];
        d.extend(short(2000, 13, 1, 0, 0, 0, 0));
        assert_eq!(parse_su(&entry(b"TF", &d)).mtime, None);
        // Truncated: what fits is kept.
        let mut d = vec![2 | 4];
        d.extend(short(2001, 1, 1, 0, 0, 0, 0));
        d.extend([1, 2, 3]);
        let rr = parse_su(&entry(b"TF", &d));
        assert_eq!(rr.mtime, Some(ts(2001, 1, 1, 0, 0, 0)));
        assert_eq!(rr.atime, None);
        // Out-of-range zone counts as GMT.
        let mut d = vec![2];
        d.extend(short(2001, 1, 1, 0, 0, 0, 100));
        assert_eq!(
            parse_su(&entry(b"TF", &d)).mtime,
            Some(ts(2001, 1, 1, 0, 0, 0))
        );
    }

    #[test]
    fn tf_long_form() {
        let mut d = vec![0x80 | 1 | 2 | 4];
        d.extend(long("1960070815304512", 0)); // create
        d.extend(long("2040010100000000", -12)); // modify, UTC-3
        d.extend(long("0000000000000000", 0)); // access: unspecified
        let rr = parse_su(&entry(b"TF", &d));
        let c = rr.crtime.unwrap();
        assert_eq!(c.secs, ts(1960, 7, 8, 15, 30, 45).secs);
        assert_eq!(c.nanos, 120_000_000);
        assert_eq!(rr.mtime, Some(ts(2040, 1, 1, 3, 0, 0)));
        assert_eq!(rr.atime, None);
        // Not digits: None.
        let mut d = vec![0x80 | 2];
        d.extend(long("20x0010100000000", 0));
        assert_eq!(parse_su(&entry(b"TF", &d)).mtime, None);
        // All-zero bytes: None.
        let mut d = vec![0x80 | 2];
        d.extend([0u8; 17]);
        assert_eq!(parse_su(&entry(b"TF", &d)).mtime, None);
    }

    #[test]
    fn rr_sf_zf_and_unknown() {
        let rr = parse_su(&entry(b"RR", &[0x89]));
        assert!(rr.found);
        let mut su = entry(b"ZF", b"pz\x04\x0f\0\0\0\0\0\0\0\0");
        su.extend(entry(b"AL", &[1, 2]));
        assert!(!parse_su(&su).found);
        assert!(parse_su(&entry(b"SF", &[0; 20])).found);
    }

    #[test]
    fn whole_record_through_continuation_area() {
        let mut img = vec![0u8; 2048 * 3];
        let mut area = entry(b"NM", &[&b"\x01"[..], &[b'n'; 100]].concat());
        area.extend(entry(b"NM", b"\0tail"));
        area.extend(sl(0, &[comp(8, b""), comp(0, b"target")]));
        img[2 * 2048 + 8..2 * 2048 + 8 + area.len()].copy_from_slice(&area);
        let info = SuspInfo {
            skip: 2,
            extensions: vec![],
        };
        let mut su = vec![0xAA, 0xBB]; // skipped
        su.extend(px(0o120777, 1, 0, 0, None));
        su.extend(ce(2, 8, area.len() as u32));
        let read = reader(&img);
        let rr = parse(&su, &info, 2048, AT, &read).unwrap();
        assert_eq!(rr.mode, Some(0o120777));
        assert_eq!(rr.name, Some(format!("{}tail", "n".repeat(100))));
        assert_eq!(rr.symlink.as_deref(), Some("/target"));

        // The same with a loop: an error naming the continuation area.
        let mut img = img.clone();
        let again = ce(2, 8, area.len() as u32);
        let end = 2 * 2048 + 8 + area.len();
        img[end..end + again.len()].copy_from_slice(&again);
        // Make the area include the CE that points back at itself.
        let mut su = vec![0xAA, 0xBB];
        su.extend(ce(2, 8, (area.len() + again.len()) as u32));
        let read = reader(&img);
        assert!(parse(&su, &info, 2048, AT, &read).is_err());
    }

    #[test]
    fn root_dot_record_with_sp() {
        let info = SuspInfo {
            skip: 0,
            extensions: vec![],
        };
        let mut su = sp(0);
        su.extend(entry(b"RR", &[0x81]));
        su.extend(px(0o040755, 2, 0, 0, None));
        let read = reader(&[]);
        let rr = parse(&su, &info, 2048, AT, &read).unwrap();
        assert_eq!(rr.mode, Some(0o040755));
    }

    /// xorshift64: deterministic pseudo-random bytes without a crate.
    struct XorShift(u64);
    impl XorShift {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }
    }

    #[test]
    fn random_and_mutated_bytes_never_panic() {
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        let sigs: [&[u8; 2]; 14] = [
            b"PX", b"PN", b"SL", b"NM", b"CL", b"PL", b"RE", b"TF", b"SF", b"RR", b"CE", b"ST",
            b"SP", b"ER",
        ];
        // A small image full of random bytes for CE to land in.
        let img: Vec<u8> = (0..2048 * 4).map(|_| rng.next() as u8).collect();
        let read = reader(&img);
        for round in 0..20_000 {
            let len = (rng.next() % 300) as usize;
            let mut su: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            // Half the time, plant plausible headers so the entry parsers run.
            if round % 2 == 0 {
                let mut pos = 0;
                while pos + 4 <= su.len() {
                    let sig = sigs[(rng.next() % sigs.len() as u64) as usize];
                    let elen = 4 + (rng.next() % 60) as usize;
                    su[pos] = sig[0];
                    su[pos + 1] = sig[1];
                    su[pos + 2] = elen as u8;
                    if sig == b"CE" && pos + 28 <= su.len() {
                        let block = (rng.next() % 5) as u32;
                        let off = (rng.next() % 2100) as u32;
                        let l = (rng.next() % 400) as u32;
                        su[pos + 2] = 28;
                        su[pos + 4..pos + 12].copy_from_slice(&both(block));
                        su[pos + 12..pos + 20].copy_from_slice(&both(off));
                        su[pos + 20..pos + 28].copy_from_slice(&both(l));
                        pos += 28;
                    } else {
                        pos += elen;
                    }
                }
            }
            let info = SuspInfo {
                skip: (rng.next() % 4) as usize,
                extensions: vec![],
            };
            let _ = parse(&su, &info, 2048, AT, &read);
            let _ = susp::detect(&su, 2048, AT, &read);
        }
    }

    /// Builds real images with xorriso / genisoimage from a tree made here and
    /// checks what `detect` and `parse` find against the tree itself.
    #[cfg(unix)]
    mod real_image {
        use super::super::*;
        use super::XorShift;
        use crate::error::Error;
        use std::collections::BTreeMap;
        use std::os::unix::fs::MetadataExt;
        use std::path::Path;
        use std::process::Command;

        /// One directory record found by the minimal walk below.
        struct Found {
            /// Slash-joined Rock Ridge path from the root.
            path: String,
            rr: RockRidge,
            /// Extent block of the record.
            extent: u32,
            /// The record is "." or "..".
            dot: Option<u8>,
            /// The record's system-use area and where it sits.
            su: Vec<u8>,
            at: Location,
        }

        fn le32(b: &[u8], at: usize) -> u32 {
            u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
        }

        fn read_fn(img: &[u8]) -> impl Fn(u64, usize) -> Result<Vec<u8>> + '_ {
            move |off, len| {
                let off = off as usize;
                img.get(off..off + len)
                    .map(<[u8]>::to_vec)
                    .ok_or(Error::Truncated {
                        structure: "test read",
                        at: Location::sector(off as u64 / 2048),
                        image_len: img.len() as u64,
                    })
            }
        }

        /// Reads the PVD (ECMA-119 8.4), calls `detect` on the root's "."
        /// record and `parse` on every record of every directory.
        fn walk_image(img: &[u8]) -> (SuspInfo, Vec<Found>) {
            let pvd = &img[16 * 2048..17 * 2048];
            assert_eq!(&pvd[..6], b"\x01CD001");
            let bs = u32::from(u16::from_le_bytes([pvd[128], pvd[129]]));
            let root = &pvd[156..156 + 34];
            let (root_block, root_len) = (le32(root, 2), le32(root, 10));
            let read = read_fn(img);
            let mut info = None;
            let mut out = Vec::new();
            let mut todo = vec![(root_block, root_len, String::new(), 0)];
            while let Some((block, len, path, depth)) = todo.pop() {
                assert!(depth < 20, "directory walk too deep");
                let start = block as usize * bs as usize;
                let dir = &img[start..start + len as usize];
                let mut pos = 0;
                while pos < dir.len() {
                    let rec_len = usize::from(dir[pos]);
                    if rec_len == 0 {
                        pos = (pos / bs as usize + 1) * bs as usize;
                        continue;
                    }
                    let rec = &dir[pos..pos + rec_len];
                    let name_len = usize::from(rec[32]);
                    let name = &rec[33..33 + name_len];
                    let su_off = 33 + name_len + usize::from(name_len % 2 == 0);
                    let su = &rec[su_off.min(rec_len)..];
                    let abs = (start + pos + su_off) as u64;
                    let at = Location::at(abs / u64::from(bs), (abs % u64::from(bs)) as u32);
                    let dot = match name {
                        [0] => Some(0),
                        [1] => Some(1),
                        _ => None,
                    };
                    if info.is_none() {
                        assert_eq!(dot, Some(0), "first record of the root is '.'");
                        info = Some(
                            susp::detect(su, bs, at, &read)
                                .unwrap()
                                .expect("SUSP detected"),
                        );
                    }
                    let rr = parse(su, info.as_ref().unwrap(), bs, at, &read).unwrap();
                    assert!(rr.found, "record at {at} has Rock Ridge entries");
                    let extent = le32(rec, 2);
                    let child_path = match &rr.name {
                        Some(n) => format!("{path}/{n}"),
                        None => path.clone(),
                    };
                    if dot.is_none() && rec[25] & 2 != 0 {
                        todo.push((extent, le32(rec, 10), child_path.clone(), depth + 1));
                    }
                    out.push(Found {
                        path: child_path,
                        rr,
                        extent,
                        dot,
                        su: su.to_vec(),
                        at,
                    });
                    pos += rec_len;
                }
            }
            (info.unwrap(), out)
        }

        fn run(cmd: &mut Command) {
            let st = cmd.status().unwrap();
            assert!(st.success(), "{cmd:?} failed: {st}");
        }

        fn have(tool: &str) -> bool {
            Command::new(tool).arg("--version").output().is_ok()
        }

        /// The tree the images are made from; returns whether device nodes were made.
        fn make_tree(tree: &Path) -> bool {
            use std::os::unix::fs::symlink;
            std::fs::create_dir_all(tree.join("sub")).unwrap();
            std::fs::write(tree.join("file"), b"hello\n").unwrap();
            symlink("file", tree.join("rel")).unwrap();
            symlink("/etc/passwd", tree.join("abs")).unwrap();
            symlink("../nowhere/x", tree.join("dangling")).unwrap();
            symlink("./sub/../file", tree.join("dots")).unwrap();
            // Two long components: several SL entries, and a component
            // (254 bytes) longer than one component record holds.
            let long = format!("{}/{}/../c", "a".repeat(254), "b".repeat(250));
            symlink(&long, tree.join("longlink")).unwrap();
            std::fs::write(tree.join("n".repeat(200)), b"").unwrap();
            std::fs::write(tree.join("café ☕"), b"").unwrap();
            std::fs::write(tree.join("future"), b"").unwrap();
            run(Command::new("touch")
                .args(["-d", "2040-01-01 12:34:56 UTC"])
                .arg(tree.join("future")));
            std::fs::write(tree.join("past"), b"").unwrap();
            run(Command::new("touch")
                .args(["-d", "1960-06-15 01:02:03 UTC"])
                .arg(tree.join("past")));
            run(Command::new("mkfifo").arg(tree.join("fifo")));
            std::fs::write(tree.join("hard1"), b"same\n").unwrap();
            std::fs::hard_link(tree.join("hard1"), tree.join("sub/hard2")).unwrap();
            let chr = Command::new("mknod")
                .arg(tree.join("chr"))
                .args(["c", "13", "37"])
                .status()
                .is_ok_and(|s| s.success());
            let blk = Command::new("mknod")
                .arg(tree.join("blk"))
                .args(["b", "259", "70000"])
                .status()
                .is_ok_and(|s| s.success());
            if !(chr && blk) {
                eprintln!("WARNING: mknod failed (not root?): device nodes not tested");
            }
            chr && blk
        }

        #[test]
        fn xorriso_image_matches_tree() {
            if !have("xorriso") {
                eprintln!(
                    "!!!!! xorriso not installed: SKIPPING the real-image Rock Ridge test !!!!!"
                );
                return;
            }
            let tmp = tempfile::tempdir().unwrap();
            let tree = tmp.path().join("tree");
            let devices = make_tree(&tree);
            let iso = tmp.path().join("img.iso");
            let out = Command::new("xorriso")
                .args(["-as", "mkisofs", "-R", "-J", "--hardlinks", "-o"])
                .arg(&iso)
                .arg(&tree)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let img = std::fs::read(&iso).unwrap();
            let (info, found) = walk_image(&img);
            assert!(!info.extensions.is_empty(), "xorriso writes an ER entry");

            let by_path: BTreeMap<&str, &RockRidge> = found
                .iter()
                .filter(|f| f.dot.is_none())
                .map(|f| (f.path.as_str(), &f.rr))
                .collect();
            let mut expected = vec![
                "/abs",
                "/dangling",
                "/dots",
                "/fifo",
                "/file",
                "/future",
                "/hard1",
                "/longlink",
                "/past",
                "/rel",
                "/sub",
                "/sub/hard2",
                "/café ☕",
            ];
            if devices {
                expected.extend(["/blk", "/chr"]);
            }
            let long_name = format!("/{}", "n".repeat(200));
            expected.push(&long_name);
            expected.sort_unstable();
            let got: Vec<&str> = by_path.keys().copied().collect();
            assert_eq!(got, expected);

            for (path, rr) in &by_path {
                let src = tree.join(&path[1..]);
                let meta = std::fs::symlink_metadata(&src).unwrap();
                assert_eq!(rr.mode, Some(meta.mode()), "{path} mode");
                assert_eq!(rr.uid, Some(meta.uid()), "{path} uid");
                assert_eq!(rr.gid, Some(meta.gid()), "{path} gid");
                assert_eq!(rr.mtime.map(|t| t.secs), Some(meta.mtime()), "{path} mtime");
                if !meta.is_dir() {
                    assert_eq!(rr.nlink, Some(meta.nlink() as u32), "{path} nlink");
                }
                if meta.file_type().is_symlink() {
                    let target = std::fs::read_link(&src).unwrap();
                    assert_eq!(rr.symlink.as_deref(), target.to_str(), "{path} target");
                } else {
                    assert_eq!(rr.symlink, None, "{path}");
                }
                let is_dev = matches!(meta.mode() & 0o170000, 0o020000 | 0o060000);
                if is_dev {
                    assert_eq!(
                        rr.rdev.map(DeviceNumber::to_linux),
                        Some(meta.rdev()),
                        "{path}"
                    );
                }
                assert_eq!(rr.child_link, None);
                assert!(!rr.relocated);
            }
            if devices {
                assert_eq!(
                    by_path["/chr"].rdev,
                    Some(DeviceNumber {
                        major: 13,
                        minor: 37
                    })
                );
                assert_eq!(
                    by_path["/blk"].rdev,
                    Some(DeviceNumber {
                        major: 259,
                        minor: 70000
                    })
                );
            }
            let future = by_path["/future"].mtime.unwrap();
            assert_eq!(future.to_rfc3339(), "2040-01-01T12:34:56Z");
            let past = by_path["/past"].mtime.unwrap();
            assert_eq!(past.to_rfc3339(), "1960-06-15T01:02:03Z");

            // Hard links share a serial number no other file has.
            let h1 = by_path["/hard1"].serial;
            assert!(h1.is_some(), "--hardlinks records PX serial numbers");
            assert_eq!(h1, by_path["/sub/hard2"].serial);
            for (path, rr) in &by_path {
                if !path.contains("hard") {
                    assert_ne!(rr.serial, h1, "{path}");
                }
            }

            // Real system-use areas (with real CE pointers), mutated: never a panic.
            let mut rng = XorShift(0xD1CE_F00D_1234_5678);
            let mut img = img;
            let mut errors = 0;
            for round in 0..4000 {
                let f = &found[(rng.next() % found.len() as u64) as usize];
                let mut su = f.su.clone();
                for _ in 0..=(rng.next() % 4) {
                    if !su.is_empty() {
                        let i = (rng.next() % su.len() as u64) as usize;
                        su[i] = rng.next() as u8;
                    }
                }
                if round % 50 == 0 {
                    // Also damage the image around the directories and CE areas.
                    for _ in 0..8 {
                        let i = 16 * 2048 + (rng.next() % (40 * 2048)) as usize;
                        if i < img.len() {
                            img[i] = rng.next() as u8;
                        }
                    }
                }
                let read = read_fn(&img);
                errors += usize::from(parse(&su, &info, 2048, f.at, &read).is_err());
                let _ = susp::detect(&su, 2048, f.at, &read);
            }
            eprintln!("mutated real areas: {errors} of 4000 parses were errors");
        }

        #[test]
        fn genisoimage_deep_relocation() {
            if !have("genisoimage") {
                eprintln!(
                    "!!!!! genisoimage not installed: SKIPPING the CL/PL/RE real-image test !!!!!"
                );
                return;
            }
            let tmp = tempfile::tempdir().unwrap();
            let tree = tmp.path().join("tree");
            let deep = tree.join("d1/d2/d3/d4/d5/d6/d7/d8/d9");
            std::fs::create_dir_all(&deep).unwrap();
            std::fs::write(deep.join("f"), b"deep\n").unwrap();
            let iso = tmp.path().join("deep.iso");
            let out = Command::new("genisoimage")
                .args(["-quiet", "-R", "-o"])
                .arg(&iso)
                .arg(&tree)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let img = std::fs::read(&iso).unwrap();
            let (_, found) = walk_image(&img);

            // The placeholder in d7 (CL), the relocated directory (RE) and
            // its ".." (PL) must agree.
            let cl: Vec<_> = found.iter().filter(|f| f.rr.child_link.is_some()).collect();
            assert_eq!(cl.len(), 1, "one CL");
            assert!(
                cl[0].path.ends_with("/d1/d2/d3/d4/d5/d6/d7/d8"),
                "{}",
                cl[0].path
            );
            let re: Vec<_> = found.iter().filter(|f| f.rr.relocated).collect();
            assert_eq!(re.len(), 1, "one RE");
            assert!(re[0].path.ends_with("rr_moved/d8"), "{}", re[0].path);
            assert_eq!(cl[0].rr.child_link, Some(re[0].extent));
            let d7 = found
                .iter()
                .find(|f| f.dot.is_none() && f.path == "/d1/d2/d3/d4/d5/d6/d7")
                .unwrap();
            let pl: Vec<_> = found
                .iter()
                .filter(|f| f.rr.parent_link.is_some())
                .collect();
            assert_eq!(pl.len(), 1, "one PL");
            assert_eq!(pl[0].dot, Some(1));
            assert_eq!(pl[0].rr.parent_link, Some(d7.extent));
        }
    }
}
