//! From a request target (HTTP) or a file name (TFTP) to a node of one of
//! the served images: decoding, the safety rules, and (ignore-case) lookup.
//!
//! The rules, the same for every protocol:
//!
//! * The path is split on `/` *before* percent-decoding (RFC 3986 §2.2:
//!   an encoded `%2F` is data, not a separator), and each segment is
//!   decoded exactly once (RFC 3986 §2.1), strictly: a `%` not followed by
//!   two hex digits is an error, and the bytes must be UTF-8 (Rust's
//!   decoder rejects overlong forms such as `%C0%AE`). A double-encoded
//!   `%252e` therefore names the literal file `%2e`, never `.`.
//! * A decoded segment must not hold `/` or NUL, and must not be empty,
//!   `.` or `..`: such a request is refused, never normalised, so nothing
//!   can climb out of the image (and the image's own tree has no way out:
//!   it is not a host directory).
//! * With `--ignore-case`, a backslash also separates segments (Windows
//!   clients, WinPE and PXE menus send `\boot\bcd`), and names are matched
//!   ignoring case ([`fs_core::Volume::lookup_ignore_case`]). Without it a
//!   backslash is an ordinary character of a name (Rock Ridge and UDF names
//!   may hold one), so `\..\` is looked up as a name and is not found.
//! * Symbolic links inside the image are followed, from the image's own
//!   root: they cannot lead outside it either.

use std::sync::Arc;

use fs_core::{FileType, Node, NodeId, Volume};

/// Most segments a path may have (deeper trees do not occur on discs; the
/// bound keeps the work per request small).
const MAX_SEGMENTS: usize = 256;

/// Most symbolic links followed while resolving one path (as the kernel's
/// `MAXSYMLINKS`).
const MAX_SYMLINK_HOPS: usize = 40;

/// Why a path does not lead to a node.
#[derive(Debug, thiserror::Error)]
pub enum PathError {
    /// Not an origin-form path (RFC 9112 §3.2.1): `*`, an authority...
    #[error("the request target is not an absolute path")]
    NotAbsolute,
    /// A `%` not followed by two hex digits.
    #[error("bad percent-encoding in {0:?}")]
    BadEncoding(String),
    /// The decoded bytes are not UTF-8 (overlong forms included).
    #[error("the decoded path is not UTF-8 (overlong or invalid sequence)")]
    NotUtf8,
    /// An empty, `.`, `..` segment, or one holding `/` or NUL.
    #[error("path segment {0:?} is not allowed")]
    Forbidden(String),
    /// More than [`MAX_SEGMENTS`] segments.
    #[error("the path has too many segments")]
    TooDeep,
    /// Nothing by that name.
    #[error("{0}: not found")]
    NotFound(String),
    /// Not a regular file (TFTP serves only files).
    #[error("{0}: not a file")]
    NotAFile(String),
    /// The image could not be read.
    #[error("{path}: {source}")]
    Image {
        /// The path asked for.
        path: String,
        /// What the reader said.
        source: fs_core::Error,
    },
}

impl PathError {
    /// True when the request itself is malformed or hostile (HTTP 400),
    /// rather than naming something absent (404) or unreadable (500).
    pub fn is_bad_request(&self) -> bool {
        matches!(
            self,
            PathError::NotAbsolute
                | PathError::BadEncoding(_)
                | PathError::NotUtf8
                | PathError::Forbidden(_)
                | PathError::TooDeep
        )
    }
}

/// One served image.
pub struct Image {
    /// Its name in URLs when several images are served (`/NAME/`).
    pub name: String,
    /// The path or URL it was opened from, for messages.
    pub shown: String,
    /// The opened tree.
    pub vol: Arc<Volume>,
    /// A hash of what identifies the image's content (see [`identity`]),
    /// for validators that stay the same across restarts.
    pub identity: u64,
}

/// The served images and the lookup rules.
pub struct Tree {
    images: Vec<Image>,
    ignore_case: bool,
}

/// What a path names.
pub enum Target<'a> {
    /// `/` when several images are served: the list of images.
    Images,
    /// A node of an image (symbolic links followed).
    Node {
        /// The image.
        image: &'a Image,
        /// The node.
        node: Arc<Node>,
    },
}

/// A path split into decoded segments.
#[derive(Debug, PartialEq, Eq)]
pub struct Segments {
    /// The decoded segments, each safe to look up.
    pub names: Vec<String>,
    /// The path ended with a separator (a directory's URL).
    pub dir_form: bool,
}

/// A regular file to read: what a TFTP server needs.
#[derive(Clone, Debug)]
pub struct FileHandle {
    vol: Arc<Volume>,
    node: Arc<Node>,
}

#[cfg_attr(
    not(test),
    expect(dead_code, reason = "for the TFTP server, wired separately")
)]
impl FileHandle {
    /// The file's size in bytes.
    pub fn len(&self) -> u64 {
        self.node.attr().size
    }

    /// Reads up to `buf.len()` bytes at `offset` (fewer only at the end).
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<usize> {
        crate::common::read_salvaging(&self.vol, &self.node, offset, buf)
            .map_err(std::io::Error::other)
    }
}

impl Tree {
    /// The tree of `images` (one is served at `/`, several under `/NAME/`).
    pub fn new(images: Vec<Image>, ignore_case: bool) -> Tree {
        Tree {
            images,
            ignore_case,
        }
    }

    /// The served images.
    pub fn images(&self) -> &[Image] {
        &self.images
    }

    /// True when several images are served, each under `/NAME/`.
    pub fn is_multi(&self) -> bool {
        self.images.len() > 1
    }

    /// Splits an HTTP request path (origin form: `/a/b%20c/`, no query)
    /// into checked segments.
    pub fn split_http(&self, path: &str) -> Result<Segments, PathError> {
        let rest = path.strip_prefix('/').ok_or(PathError::NotAbsolute)?;
        self.split(rest, true)
    }

    /// Resolves a split path to what it names.
    pub fn resolve(&self, segs: &Segments) -> Result<Target<'_>, PathError> {
        let (image, names) = match self.images.as_slice() {
            [one] => (one, segs.names.as_slice()),
            _ => {
                let Some((first, rest)) = segs.names.split_first() else {
                    return Ok(Target::Images);
                };
                let image = self
                    .images
                    .iter()
                    .find(|i| i.name == *first)
                    .or_else(|| {
                        self.ignore_case.then(|| {
                            let folded = first.to_lowercase();
                            self.images.iter().find(|i| i.name.to_lowercase() == folded)
                        })?
                    })
                    .ok_or_else(|| PathError::NotFound(format!("/{first}")))?;
                (image, rest)
            }
        };
        let node = self.walk(&image.vol, names)?;
        Ok(Target::Node { image, node })
    }

    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "for the TFTP server, wired separately")
    )]
    /// Opens a regular file by a raw (not percent-encoded) name, as TFTP
    /// (RFC 1350) sends it: an optional leading separator, then the path.
    pub fn open(&self, name: &str) -> Result<FileHandle, PathError> {
        let rest = name
            .strip_prefix('/')
            .or_else(|| self.ignore_case.then(|| name.strip_prefix('\\'))?)
            .unwrap_or(name);
        let segs = self.split(rest, false)?;
        match self.resolve(&segs)? {
            Target::Node { image, node } if node.kind() == FileType::Regular => Ok(FileHandle {
                vol: Arc::clone(&image.vol),
                node,
            }),
            _ => Err(PathError::NotAFile(name.to_string())),
        }
    }

    /// Splits `rest` (the path after its leading `/`) into segments,
    /// decoding each when `encoded`.
    fn split(&self, rest: &str, encoded: bool) -> Result<Segments, PathError> {
        let mut names = Vec::new();
        if rest.is_empty() {
            return Ok(Segments {
                names,
                dir_form: true,
            });
        }
        let raw: Vec<&str> = rest.split('/').collect();
        let dir_form = raw.last() == Some(&"");
        let raw = if dir_form {
            &raw[..raw.len() - 1]
        } else {
            &raw[..]
        };
        for seg in raw {
            let decoded = if encoded {
                percent_decode(seg)?
            } else {
                (*seg).to_string()
            };
            let parts: Vec<&str> = if self.ignore_case {
                // Windows-style paths: empty pieces (`\\boot\\\\bcd`) are
                // skipped as Windows skips them; `.` and `..` still fail.
                decoded.split('\\').filter(|p| !p.is_empty()).collect()
            } else {
                vec![decoded.as_str()]
            };
            for part in parts {
                if part.is_empty() || part == "." || part == ".." || part.contains(['/', '\0']) {
                    return Err(PathError::Forbidden(part.to_string()));
                }
                if names.len() == MAX_SEGMENTS {
                    return Err(PathError::TooDeep);
                }
                names.push(part.to_string());
            }
        }
        Ok(Segments { names, dir_form })
    }

    /// Looks `names` up from the root of `vol`, following symbolic links
    /// (also the last one: a link is served as what it points at).
    fn walk(&self, vol: &Volume, names: &[String]) -> Result<Arc<Node>, PathError> {
        let shown = || format!("/{}", names.join("/"));
        let image_err = |source| PathError::Image {
            path: shown(),
            source,
        };
        let mut pending: Vec<String> = names.iter().rev().cloned().collect();
        let mut cur = vol.node(vol.root()).map_err(image_err)?;
        let mut hops = 0usize;
        while let Some(name) = pending.pop() {
            if cur.kind() != FileType::Directory {
                return Err(PathError::NotFound(shown()));
            }
            let next = match self.lookup(vol, cur.id(), &name) {
                Ok(n) => n,
                Err(fs_core::Error::NotFound(_)) => return Err(PathError::NotFound(shown())),
                Err(e) => return Err(image_err(e)),
            };
            if next.kind() == FileType::Symlink {
                hops += 1;
                if hops > MAX_SYMLINK_HOPS {
                    return Err(PathError::NotFound(shown()));
                }
                let target = next.link_target().unwrap_or("");
                if target.starts_with('/') {
                    cur = vol.node(vol.root()).map_err(image_err)?;
                }
                // ".." in a link's target is the image's own parent link
                // (the root's parent is the root): it stays inside.
                pending.extend(
                    target
                        .split('/')
                        .filter(|c| !c.is_empty() && *c != ".")
                        .rev()
                        .map(str::to_owned),
                );
                if pending.len() > MAX_SEGMENTS * 4 {
                    return Err(PathError::TooDeep);
                }
                continue;
            }
            cur = next;
        }
        Ok(cur)
    }

    fn lookup(&self, vol: &Volume, dir: NodeId, name: &str) -> fs_core::Result<Arc<Node>> {
        if self.ignore_case {
            vol.lookup_ignore_case(dir, name)
        } else {
            vol.lookup(dir, name)
        }
    }
}

/// Decodes one path segment (RFC 3986 §2.1), strictly: every `%` starts
/// two hex digits, and the result is UTF-8.
fn percent_decode(seg: &str) -> Result<String, PathError> {
    let bytes = seg.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = |j: usize| bytes.get(j).and_then(|c| (*c as char).to_digit(16));
            match (hex(i + 1), hex(i + 2)) {
                (Some(h), Some(l)) => out.push((h * 16 + l) as u8),
                _ => return Err(PathError::BadEncoding(seg.to_string())),
            }
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| PathError::NotUtf8)
}

/// A hash of what identifies an image's content: format, view, label and
/// identifiers, size and dates (FNV-1a, 64 bits). The same image opened
/// again, by this or a later server, gives the same value; validators
/// built on it survive restarts.
pub fn identity(vol: &Volume) -> u64 {
    let info = vol.info();
    let mut h = Fnv::default();
    h.write(info.format.as_bytes());
    h.write(vol.view().to_string().as_bytes());
    h.write(info.label.as_bytes());
    for (k, v) in &info.ids {
        h.write(k.as_bytes());
        h.write(v.as_bytes());
    }
    h.write(&info.image_size.to_le_bytes());
    h.write(&info.volume_blocks.to_le_bytes());
    for t in [info.created, info.modified].into_iter().flatten() {
        h.write(&t.secs.to_le_bytes());
        h.write(&t.nanos.to_le_bytes());
    }
    h.0
}

/// FNV-1a, 64 bits: stable across builds and platforms (std's hasher is
/// not promised to be).
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        // A separator, so that ("ab", "c") and ("a", "bc") differ.
        self.0 = (self.0 ^ 0xff).wrapping_mul(0x0100_0000_01b3);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(ignore_case: bool) -> Tree {
        Tree::new(Vec::new(), ignore_case)
    }

    fn names(t: &Tree, p: &str) -> Result<Vec<String>, PathError> {
        t.split_http(p).map(|s| s.names)
    }

    #[test]
    fn decodes_each_segment_once() {
        let t = tree(false);
        assert_eq!(names(&t, "/a%20b/c%25d").unwrap(), ["a b", "c%d"]);
        assert_eq!(names(&t, "/%252e%252e").unwrap(), ["%2e%2e"]);
        assert_eq!(names(&t, "/caf%C3%A9").unwrap(), ["café"]);
        assert!(t.split_http("/dir/").unwrap().dir_form);
        assert!(!t.split_http("/dir").unwrap().dir_form);
        assert_eq!(names(&t, "/").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn traversal_is_refused() {
        let t = tree(false);
        for p in [
            "/../etc/passwd",
            "/a/../../b",
            "/%2e%2e/x",
            "/%2E%2e/x",
            "/a%2f..%2fb",
            "/a%2Fb",
            "//etc/passwd",
            "/a//b",
            "/./a",
            "/%c0%ae%c0%ae/x",
            "/%e0%80%ae",
            "/a%00b",
            "/%zz",
            "/a%2",
            "etc/passwd",
            "*",
        ] {
            let e = names(&t, p).expect_err(p);
            assert!(e.is_bad_request(), "{p}: {e}");
        }
        // Without --ignore-case a backslash is part of a name, not a way up.
        assert_eq!(names(&t, "/%5c..%5c").unwrap(), ["\\..\\"]);
        let t = tree(true);
        for p in ["/%5c..%5cx", "/a\\..\\b", "/a%5C.%5Cb", "/a%5c.."] {
            let e = names(&t, p).expect_err(p);
            assert!(e.is_bad_request(), "{p}: {e}");
        }
        assert_eq!(names(&t, "/BOOT%5cBCD").unwrap(), ["BOOT", "BCD"]);
        assert_eq!(names(&t, "/%5cBOOT%5c%5cBCD").unwrap(), ["BOOT", "BCD"]);
        let deep = "/a".repeat(MAX_SEGMENTS + 1);
        assert!(matches!(names(&t, &deep), Err(PathError::TooDeep)));
    }

    fn served(ignore_case: bool) -> Tree {
        let vol = Arc::new(crate::testvol::volume());
        let image = Image {
            name: "test".into(),
            shown: "test.iso".into(),
            identity: identity(&vol),
            vol,
        };
        Tree::new(vec![image], ignore_case)
    }

    fn node_at(t: &Tree, p: &str) -> Result<u64, PathError> {
        match t.resolve(&t.split_http(p)?)? {
            Target::Node { node, .. } => Ok(node.id().0),
            Target::Images => Ok(0),
        }
    }

    #[test]
    fn resolves_and_follows_links() {
        let t = served(false);
        assert_eq!(node_at(&t, "/").unwrap(), 1);
        assert_eq!(node_at(&t, "/sub/b.txt").unwrap(), 21);
        assert_eq!(node_at(&t, "/ln").unwrap(), 10);
        assert!(matches!(
            node_at(&t, "/SUB/b.txt"),
            Err(PathError::NotFound(_))
        ));
        assert!(matches!(
            node_at(&t, "/a.txt/x"),
            Err(PathError::NotFound(_))
        ));
        let t = served(true);
        assert_eq!(node_at(&t, "/SUB/B.TXT").unwrap(), 21);
        assert_eq!(node_at(&t, "/Sub%5cb.txt").unwrap(), 21);
    }

    #[test]
    fn several_images_are_named() {
        let mut t = served(false);
        let vol = Arc::new(crate::testvol::volume());
        t.images.push(Image {
            name: "other".into(),
            shown: "other.iso".into(),
            identity: 0,
            vol,
        });
        assert!(matches!(
            t.resolve(&t.split_http("/").unwrap()),
            Ok(Target::Images)
        ));
        assert_eq!(node_at(&t, "/other/sub/b.txt").unwrap(), 21);
        assert!(matches!(
            node_at(&t, "/OTHER/"),
            Err(PathError::NotFound(_))
        ));
        assert!(matches!(node_at(&t, "/sub/"), Err(PathError::NotFound(_))));
    }

    #[test]
    fn opens_files_by_raw_name() {
        let t = served(true);
        let f = t.open("\\RO\\C.TXT").unwrap();
        assert_eq!(f.len(), 6);
        let mut buf = [0u8; 16];
        assert_eq!(f.read_at(0, &mut buf).unwrap(), 6);
        assert_eq!(&buf[..6], b"world!");
        assert_eq!(t.open("sub/b.txt").unwrap().len(), 5);
        // Names are raw: a percent sign is just a character.
        assert!(matches!(t.open("/a%2etxt"), Err(PathError::NotFound(_))));
        assert!(t.open("/../a.txt").unwrap_err().is_bad_request());
        assert!(matches!(t.open("/sub"), Err(PathError::NotAFile(_))));
        assert!(matches!(t.open("/fifo"), Err(PathError::NotAFile(_))));
    }

    #[test]
    fn identity_hash_separates_fields() {
        let mut a = Fnv::default();
        a.write(b"ab");
        a.write(b"c");
        let mut b = Fnv::default();
        b.write(b"a");
        b.write(b"bc");
        assert_ne!(a.0, b.0);
    }
}
