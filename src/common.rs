//! Helpers every command shares: opening an image, resolving paths, and
//! reporting per-item errors without stopping.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use fs_core::container::{LocalDir, Neighbours};
use fs_core::source::{FileSource, ReadAt};
use fs_core::{Error, Node, OpenOptions, Volume};

use crate::cli::ImageArgs;
use crate::remote::ImageRef;

/// Opens `image` (a path, or a URL: see [`crate::remote`]) with the global
/// options. The message names the image.
pub fn open_volume(args: &ImageArgs, image: &Path) -> Result<Volume> {
    let ImageSource {
        src,
        neighbours,
        shown,
    } = open_source(args, image)?;
    let opts = OpenOptions {
        view: args.view,
        cache_bytes: args.cache_size,
        neighbours: Some(neighbours),
        session: args.session,
        boot_dir: !args.no_boot_dir,
        overlay: args.overlay(),
        ..OpenOptions::default()
    };
    let vol = Volume::open(src, &opts).with_context(|| shown.clone())?;
    log::info!("{shown}: {} image, {} view", vol.info().format, vol.view());
    Ok(vol)
}

/// An image opened for reading: see [`open_source`].
pub struct ImageSource {
    /// The image's bytes.
    pub src: Arc<dyn ReadAt>,
    /// The files next to it, where containers find the BIN of a cue sheet
    /// or a BIN's sidecar cue.
    pub neighbours: Arc<dyn Neighbours>,
    /// The image as shown in messages (a URL without secrets).
    pub shown: String,
}

/// The bytes of `image` (a path, or a URL), the files next to it, and the
/// name to show.
pub fn open_source(args: &ImageArgs, image: &Path) -> Result<ImageSource> {
    let image_ref = ImageRef::parse(image)?;
    let shown = image_ref.shown();
    let (src, neighbours): (Arc<dyn ReadAt>, Arc<dyn Neighbours>) = if image_ref.is_remote() {
        let src = Arc::new(
            crate::remote::open_source(&image_ref, args)
                .with_context(|| format!("cannot open image {shown}"))?,
        );
        crate::remote::register(Arc::clone(&src));
        let neighbours = crate::remote::RemoteDir::new(image_ref, args.clone());
        (src, Arc::new(neighbours))
    } else {
        let file =
            File::open(image).with_context(|| format!("cannot open image {}", image.display()))?;
        let meta = file
            .metadata()
            .with_context(|| format!("cannot open image {}", image.display()))?;
        if meta.is_dir() {
            return Err(anyhow!(
                "{} is a directory, not an image file",
                image.display()
            ));
        }
        let src = FileSource::from_file(file)
            .with_context(|| format!("cannot open image {}", image.display()))?;
        (Arc::new(src), Arc::new(LocalDir::new(image)))
    };
    Ok(ImageSource {
        src,
        neighbours,
        shown,
    })
}

/// A path inside the image in canonical form: "/"-rooted, no empty or "."
/// components, ".." applied lexically.
pub fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

/// `dir` + "/" + `name` for "/"-rooted paths.
pub fn join(dir: &str, name: &str) -> String {
    if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// Last component of a normalized path ("/" for the root).
pub fn base_name(path: &str) -> &str {
    match path.rsplit('/').next() {
        Some("") | None => "/",
        Some(n) => n,
    }
}

/// Resolves `path` in the image with a message a user understands.
pub fn resolve(vol: &Volume, path: &str, follow: bool) -> Result<Arc<Node>> {
    vol.resolve(path, follow).map_err(|e| match e {
        Error::NotFound(_) => anyhow!("{path}: not found in the image"),
        Error::NotADirectory(_) => anyhow!("{path}: a component of the path is not a directory"),
        e => anyhow::Error::new(e).context(path.to_string()),
    })
}

/// Tracks whether any item of a command failed (exit code 1 at the end)
/// while the command goes on with the rest.
#[derive(Debug, Default)]
pub struct Status {
    failures: usize,
}

impl Status {
    /// Prints `err` as `isomount: <chain>` and remembers the failure.
    pub fn report(&mut self, err: &anyhow::Error) {
        self.failures += 1;
        eprintln!("isomount: {err:#}");
    }

    /// True when nothing failed.
    pub fn ok(&self) -> bool {
        self.failures == 0
    }
}

/// True when `err` (or a cause) is a write to a closed pipe.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Reads file data at `off` like [`Volume::read_node`], but when a large
/// read fails (a bad or missing sector somewhere in it), reads again sector
/// by sector and returns the bytes before the first bad one (a short read).
/// The next call, at the bad sector, then fails: output gets everything
/// that can be read, and the error names the exact offset.
pub fn read_salvaging(
    vol: &fs_core::Volume,
    node: &fs_core::Node,
    off: u64,
    buf: &mut [u8],
) -> fs_core::Result<usize> {
    /// The unit of damage on a disc.
    const SECTOR: usize = 2048;
    let err = match vol.read_node(node, off, buf) {
        Ok(n) => return Ok(n),
        Err(e) if buf.len() <= SECTOR => return Err(e),
        Err(e) => e,
    };
    let mut done = 0usize;
    for piece in buf.chunks_mut(SECTOR) {
        match vol.read_node(node, off + done as u64, piece) {
            Ok(n) if n > 0 => done += n,
            _ => break,
        }
        if done % SECTOR != 0 {
            break;
        }
    }
    if done == 0 { Err(err) } else { Ok(done) }
}

/// A name or path as `ls` and `stat` print it: control characters (which
/// could move the cursor, recolour or clear the terminal, or split one
/// name over two lines) are shown as `\n`, `\t`, `\r`, `\e` or `\xNN`, and
/// a backslash as `\\`, so every printed name is one line and reads back
/// unambiguously. Anything else is unchanged.
pub fn printable(name: &str) -> std::borrow::Cow<'_, str> {
    if !name.chars().any(|c| c.is_control() || c == '\\') {
        return std::borrow::Cow::Borrowed(name);
    }
    let mut s = String::with_capacity(name.len() + 8);
    for c in name.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\t' => s.push_str("\\t"),
            '\r' => s.push_str("\\r"),
            '\x1b' => s.push_str("\\e"),
            c if c.is_control() => {
                let mut b = [0u8; 4];
                for byte in c.encode_utf8(&mut b).bytes() {
                    s.push_str(&format!("\\x{byte:02x}"));
                }
            }
            c => s.push(c),
        }
    }
    std::borrow::Cow::Owned(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(normalize(""), "/");
        assert_eq!(normalize("a//b/./c/"), "/a/b/c");
        assert_eq!(normalize("/a/../../b"), "/b");
        assert_eq!(join("/", "x"), "/x");
        assert_eq!(join("/a", "x"), "/a/x");
        assert_eq!(base_name("/"), "/");
        assert_eq!(base_name("/a/b"), "b");
    }

    #[test]
    fn control_characters_and_backslashes_are_escaped() {
        assert_eq!(printable("plain name.txt"), "plain name.txt");
        assert_eq!(printable("a\nb\tc\rd"), "a\\nb\\tc\\rd");
        assert_eq!(printable("esc\x1b[31mred"), "esc\\e[31mred");
        assert_eq!(printable("del\x7f\u{9b}"), "del\\x7f\\xc2\\x9b");
        assert_eq!(printable("back\\slash"), "back\\\\slash");
    }
}
