//! What every format reader reports about a file, in one shape.

use std::fmt;

/// A node's identity, stable across mounts of the same image.
///
/// Readers derive it from on-disk position (for ISO 9660 the byte offset of
/// the directory record that describes the node; for a directory, that of its
/// own "." record), so the same image always gives the same ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u64);

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// The kind of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileType {
    /// A regular file.
    Regular,
    /// A directory.
    Directory,
    /// A symbolic link.
    Symlink,
    /// A character device node.
    CharDevice,
    /// A block device node.
    BlockDevice,
    /// A named pipe.
    Fifo,
    /// A socket.
    Socket,
}

impl FileType {
    /// The `S_IFMT` bits of this type (POSIX values, as Rock Ridge PX records them).
    pub fn mode_bits(self) -> u32 {
        match self {
            FileType::Regular => 0o100000,
            FileType::Directory => 0o040000,
            FileType::Symlink => 0o120000,
            FileType::CharDevice => 0o020000,
            FileType::BlockDevice => 0o060000,
            FileType::Fifo => 0o010000,
            FileType::Socket => 0o140000,
        }
    }

    /// The type named by the `S_IFMT` bits of a POSIX mode, if any.
    pub fn from_mode(mode: u32) -> Option<FileType> {
        Some(match mode & 0o170000 {
            0o100000 => FileType::Regular,
            0o040000 => FileType::Directory,
            0o120000 => FileType::Symlink,
            0o020000 => FileType::CharDevice,
            0o060000 => FileType::BlockDevice,
            0o010000 => FileType::Fifo,
            0o140000 => FileType::Socket,
            _ => return None,
        })
    }

    /// Short lowercase name used in JSON output: `file`, `dir`, `symlink`,
    /// `chardev`, `blockdev`, `fifo`, `socket`.
    pub fn as_str(self) -> &'static str {
        match self {
            FileType::Regular => "file",
            FileType::Directory => "dir",
            FileType::Symlink => "symlink",
            FileType::CharDevice => "chardev",
            FileType::BlockDevice => "blockdev",
            FileType::Fifo => "fifo",
            FileType::Socket => "socket",
        }
    }
}

/// A point in time, UTC, as seconds and nanoseconds since the Unix epoch.
///
/// Seconds are 64-bit and signed: dates before 1970 and after 2038 are exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp {
    /// Seconds since 1970-01-01T00:00:00Z (negative before).
    pub secs: i64,
    /// Nanoseconds, 0..1_000_000_000.
    pub nanos: u32,
}

impl Timestamp {
    /// The epoch.
    pub const EPOCH: Timestamp = Timestamp { secs: 0, nanos: 0 };

    /// Builds a timestamp from a civil date and time in a zone `offset_minutes`
    /// east of UTC. Returns `None` for impossible fields (month 13, hour 25...).
    #[allow(clippy::too_many_arguments)]
    pub fn from_civil(
        year: i64,
        month: u32,
        day: u32,
        hour: u32,
        minute: u32,
        second: u32,
        nanos: u32,
        offset_minutes: i32,
    ) -> Option<Timestamp> {
        if !(1..=12).contains(&month)
            || !(1..=31).contains(&day)
            || hour > 23
            || minute > 59
            || second > 60
            || nanos >= 1_000_000_000
        {
            return None;
        }
        let days = days_from_civil(year, month, day);
        let secs =
            days * 86_400 + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second)
                - i64::from(offset_minutes) * 60;
        Some(Timestamp { secs, nanos })
    }

    /// Splits into UTC civil fields: (year, month, day, hour, minute, second).
    pub fn to_civil(self) -> (i64, u32, u32, u32, u32, u32) {
        let days = self.secs.div_euclid(86_400);
        let rem = self.secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        (
            y,
            m,
            d,
            (rem / 3600) as u32,
            ((rem % 3600) / 60) as u32,
            (rem % 60) as u32,
        )
    }

    /// RFC 3339 in UTC, e.g. `2040-01-02T03:04:05Z` (fraction only when non-zero).
    pub fn to_rfc3339(self) -> String {
        let (y, mo, d, h, mi, s) = self.to_civil();
        if self.nanos == 0 {
            format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
        } else {
            let frac = format!("{:09}", self.nanos);
            let frac = frac.trim_end_matches('0');
            format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{frac}Z")
        }
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`].
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A device number, as Rock Ridge PN or UDF device specification records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeviceNumber {
    /// Major number.
    pub major: u32,
    /// Minor number.
    pub minor: u32,
}

impl DeviceNumber {
    /// Linux `makedev` encoding, as `st_rdev` wants it.
    pub fn to_linux(self) -> u64 {
        let (ma, mi) = (u64::from(self.major), u64::from(self.minor));
        ((ma & 0xffff_f000) << 32) | ((ma & 0xfff) << 8) | ((mi & 0xffff_ff00) << 12) | (mi & 0xff)
    }
}

/// Everything `stat` shows about a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attributes {
    /// File type.
    pub kind: FileType,
    /// Size in bytes (for a symlink, the length of its target).
    pub size: u64,
    /// Bytes the content occupies in the image (for `st_blocks`).
    pub allocated: u64,
    /// Permission bits including set-id and sticky (`0o7777` mask); no type bits.
    pub mode: u32,
    /// Link count.
    pub nlink: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Device number for device nodes.
    pub rdev: Option<DeviceNumber>,
    /// Last modification.
    pub mtime: Timestamp,
    /// Last access, when the image records one.
    pub atime: Option<Timestamp>,
    /// Last attribute change, when the image records one.
    pub ctime: Option<Timestamp>,
    /// Creation, when the image records one.
    pub crtime: Option<Timestamp>,
    /// Marked hidden by the image (ISO 9660 existence bit, UDF hidden flag).
    pub hidden: bool,
    /// The inode number to report (`st_ino`). Equal for hard links of one
    /// file; usually the node id.
    pub inode: u64,
}

impl Attributes {
    /// Full POSIX mode: type bits plus permission bits.
    pub fn posix_mode(&self) -> u32 {
        self.kind.mode_bits() | (self.mode & 0o7777)
    }
}

/// Where one piece of a file's content lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extent {
    /// `len` bytes stored in the image starting at byte `start`.
    Recorded {
        /// Byte offset in the image.
        start: u64,
        /// Length in bytes.
        len: u64,
    },
    /// `len` bytes that read as zeros (sparse or not-recorded extents).
    Zero {
        /// Length in bytes.
        len: u64,
    },
}

impl Extent {
    /// Length of the piece in bytes.
    pub fn len(&self) -> u64 {
        match *self {
            Extent::Recorded { len, .. } | Extent::Zero { len } => len,
        }
    }

    /// True for an empty piece.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Content stored encoded in the image (e.g. zisofs-compressed files, Rock
/// Ridge `ZF`), which must be decoded to be read.
pub trait Decoder: Send + Sync + fmt::Debug {
    /// Reads decoded bytes at `offset` (below the decoded length) into `buf`,
    /// taking raw bytes from `image` (the image through the block cache).
    /// Returns the bytes read: fewer than asked only at the end.
    fn read_at(
        &self,
        image: &dyn crate::source::ReadAt,
        offset: u64,
        buf: &mut [u8],
    ) -> crate::Result<usize>;

    /// Checks the encoding's own structures without decoding the content
    /// (for zisofs: the header and the block pointer table), as `verify`
    /// does. Returns how many encoded blocks they describe. The default
    /// has nothing to check.
    fn check(&self, image: &dyn crate::source::ReadAt) -> crate::Result<u64> {
        let _ = image;
        Ok(0)
    }
}

/// A shared decoder; two are equal when they are the same object.
#[derive(Debug, Clone)]
struct SharedDecoder(std::sync::Arc<dyn Decoder>);

impl PartialEq for SharedDecoder {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for SharedDecoder {}

/// A file's content: an ordered list of extents, indexed so that a read at
/// any offset finds its extent by binary search instead of walking the file.
/// Encoded content ([`FileData::with_decoder`]) keeps its stored extents (for
/// `st_blocks`) and is read through its [`Decoder`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileData {
    extents: Vec<Extent>,
    /// `starts[i]` is the file offset where `extents[i + 1]` begins (the
    /// first extent begins at 0), so that the usual one-extent file
    /// allocates no index at all.
    starts: Vec<u64>,
    len: u64,
    decoder: Option<SharedDecoder>,
}

impl FileData {
    /// An empty file.
    pub fn empty() -> Self {
        FileData::default()
    }

    /// Content made of `extents` in order; empty extents are dropped.
    pub fn new(extents: impl IntoIterator<Item = Extent>) -> Self {
        let mut data = FileData::default();
        for e in extents {
            data.push(e);
        }
        data
    }

    /// Appends one extent.
    pub fn push(&mut self, e: Extent) {
        if e.is_empty() {
            return;
        }
        if !self.extents.is_empty() {
            self.starts.push(self.len);
        }
        self.len = self.len.saturating_add(e.len());
        self.extents.push(e);
    }

    /// Gives back the spare capacity of the extent lists (a node keeps its
    /// content description for as long as the volume lives).
    pub fn shrink_to_fit(&mut self) {
        self.extents.shrink_to_fit();
        self.starts.shrink_to_fit();
    }

    /// Makes this content encoded: its extents hold the stored bytes, reads
    /// go through `decoder`, and the length becomes `decoded_len`.
    pub fn with_decoder(mut self, decoded_len: u64, decoder: std::sync::Arc<dyn Decoder>) -> Self {
        self.len = decoded_len;
        self.decoder = Some(SharedDecoder(decoder));
        self
    }

    /// The decoder of encoded content.
    pub fn decoder(&self) -> Option<&dyn Decoder> {
        self.decoder.as_ref().map(|d| &*d.0)
    }

    /// Total length in bytes (decoded, for encoded content).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True for no content.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The extents, in file order.
    pub fn extents(&self) -> &[Extent] {
        &self.extents
    }

    /// Bytes of the content that are recorded in the image (not zero-fill).
    pub fn recorded_len(&self) -> u64 {
        self.extents
            .iter()
            .map(|e| match e {
                Extent::Recorded { len, .. } => *len,
                Extent::Zero { .. } => 0,
            })
            .sum()
    }

    /// Cuts the content to `len` bytes (a file whose recorded size is smaller
    /// than its extents).
    pub fn truncate(&mut self, len: u64) {
        if len >= self.len {
            return;
        }
        // Extents that begin below `len`: the first, and those whose start is.
        let keep = if len == 0 {
            0
        } else {
            1 + self.starts.partition_point(|&s| s < len)
        };
        self.extents.truncate(keep);
        self.starts.truncate(keep.saturating_sub(1));
        let start = self.starts.last().copied().unwrap_or(0);
        if let Some(last) = self.extents.last_mut() {
            let new_len = len - start;
            match last {
                Extent::Recorded { len, .. } | Extent::Zero { len } => *len = new_len,
            }
        }
        self.len = len;
    }

    /// The pieces covering `[offset, offset + len)`, clipped to the content,
    /// as (extent, offset into that extent, bytes) triples.
    pub fn map(&self, offset: u64, len: u64) -> impl Iterator<Item = (Extent, u64, u64)> + '_ {
        let end = offset.saturating_add(len).min(self.len);
        // The extent holding `offset`: as many as begin at or below it after the first.
        let first = self.starts.partition_point(|&s| s <= offset);
        let mut pos = offset;
        let head = (first == 0).then_some(0);
        let tail = self
            .starts
            .get(first.saturating_sub(1)..)
            .unwrap_or_default();
        let starts = head.into_iter().chain(tail.iter().copied());
        self.extents
            .get(first..)
            .unwrap_or_default()
            .iter()
            .zip(starts)
            .map_while(move |(e, start)| {
                if pos >= end {
                    return None;
                }
                let within = pos - start;
                let n = (e.len() - within).min(end - pos);
                pos += n;
                Some((*e, within, n))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip_far_dates() {
        // 2040 must not wrap (a 32-bit peer shows it as 1785), 1950 is negative.
        let t = Timestamp::from_civil(2040, 2, 29, 12, 0, 1, 0, 0).unwrap();
        assert_eq!(t.to_rfc3339(), "2040-02-29T12:00:01Z");
        assert_eq!(t.secs, 2_214_129_601); // python3: datetime(2040,2,29,12,0,1,tz=utc).timestamp()
        let t = Timestamp::from_civil(1950, 6, 1, 0, 0, 0, 0, 0).unwrap();
        assert!(t.secs < 0);
        assert_eq!(t.to_rfc3339(), "1950-06-01T00:00:00Z");
    }

    #[test]
    fn civil_applies_zone_offset() {
        // 12:00 at UTC+01:00 is 11:00 UTC.
        let t = Timestamp::from_civil(2020, 1, 1, 12, 0, 0, 0, 60).unwrap();
        assert_eq!(t.to_rfc3339(), "2020-01-01T11:00:00Z");
        assert!(Timestamp::from_civil(2020, 13, 1, 0, 0, 0, 0, 0).is_none());
    }

    #[test]
    fn file_data_truncates_inside_an_extent() {
        let rec = |start, len| Extent::Recorded { start, len };
        let mut d = FileData::new([rec(1000, 10), Extent::Zero { len: 5 }, rec(5000, 10)]);
        d.truncate(12);
        assert_eq!(d.extents(), &[rec(1000, 10), Extent::Zero { len: 2 }]);
        assert_eq!(
            d.map(9, 100).collect::<Vec<_>>(),
            vec![(rec(1000, 10), 9, 1), (Extent::Zero { len: 2 }, 0, 2)]
        );
        d.truncate(10);
        assert_eq!(d.extents(), &[rec(1000, 10)]);
        d.truncate(0);
        assert!(d.extents().is_empty() && d.is_empty());
        // One extent: no index is allocated, and reads map at any offset.
        let one = FileData::new([rec(7, 100)]);
        assert_eq!(one.starts.capacity(), 0);
        assert_eq!(
            one.map(99, 5).collect::<Vec<_>>(),
            vec![(rec(7, 100), 99, 1)]
        );
    }

    #[test]
    fn file_data_maps_across_extents() {
        let d = FileData::new([
            Extent::Recorded {
                start: 1000,
                len: 10,
            },
            Extent::Zero { len: 5 },
            Extent::Recorded {
                start: 5000,
                len: 10,
            },
        ]);
        assert_eq!(d.len(), 25);
        let pieces: Vec<_> = d.map(8, 10).collect();
        assert_eq!(
            pieces,
            vec![
                (
                    Extent::Recorded {
                        start: 1000,
                        len: 10
                    },
                    8,
                    2
                ),
                (Extent::Zero { len: 5 }, 0, 5),
                (
                    Extent::Recorded {
                        start: 5000,
                        len: 10
                    },
                    0,
                    3
                ),
            ]
        );
        assert_eq!(d.map(25, 10).count(), 0);
        assert_eq!(d.map(24, 10).collect::<Vec<_>>().len(), 1);
    }

    #[test]
    fn file_data_truncates() {
        let mut d = FileData::new([
            Extent::Recorded {
                start: 0,
                len: 2048,
            },
            Extent::Recorded {
                start: 4096,
                len: 2048,
            },
        ]);
        d.truncate(3000);
        assert_eq!(d.len(), 3000);
        assert_eq!(d.extents()[1].len(), 952);
        d.truncate(100);
        assert_eq!(d.extents().len(), 1);
        assert_eq!(d.extents()[0].len(), 100);
    }

    #[test]
    fn linux_makedev() {
        assert_eq!(DeviceNumber { major: 8, minor: 1 }.to_linux(), 0x801);
        assert_eq!(DeviceNumber { major: 1, minor: 3 }.to_linux(), 0x103);
    }
}
