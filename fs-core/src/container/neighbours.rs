//! The files next to an image: where a container finds the files it names
//! (the BIN of a cue sheet, the MDF of an MDS descriptor, the IMG of a
//! CloneCD control file) and the sidecar of an image opened by its data
//! file (`X.cue` next to `X.bin`).
//!
//! [`LocalDir`] is the image's directory on disk; an image read from a URL
//! has its neighbours at the URLs next to it (the binary implements that,
//! fs-core knows no URLs).

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::source::{FileSource, ReadAt};

/// A file a container found next to the image: its name as shown (a path,
/// a URL without secrets) and its bytes.
pub type Neighbour = (String, Arc<dyn ReadAt>);

/// The files next to an image.
pub trait Neighbours: Send + Sync + fmt::Debug {
    /// The image's own name as shown: a path, or a URL without secrets.
    /// Its last component is the image's file name.
    fn image_name(&self) -> String;

    /// The file `name` next to the image: a file name or a path relative
    /// to the image's directory with `/` separators, as a cue sheet's
    /// `FILE` line gives it. `Ok(None)` when there is no such file; an
    /// error when there is one but it cannot be opened (not a regular
    /// file, access refused).
    fn open(&self, name: &str) -> io::Result<Option<Neighbour>>;

    /// True when `shown`, a name [`Neighbours::open`] returned, is the
    /// image itself (so that it is not opened twice).
    fn is_image(&self, shown: &str) -> bool;
}

/// The directory of an image file on disk. Names are matched exactly
/// first, then ignoring case (cue sheets written on Windows).
#[derive(Debug, Clone)]
pub struct LocalDir {
    image: PathBuf,
}

impl LocalDir {
    /// The neighbours of the image file at `image`.
    pub fn new(image: impl Into<PathBuf>) -> LocalDir {
        LocalDir {
            image: image.into(),
        }
    }

    fn dir(&self) -> &Path {
        match self.image.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        }
    }
}

impl Neighbours for LocalDir {
    fn image_name(&self) -> String {
        self.image.display().to_string()
    }

    fn open(&self, name: &str) -> io::Result<Option<Neighbour>> {
        let exact = self.dir().join(name);
        let path = if exact.is_file() {
            exact
        } else {
            match ignoring_case(&exact) {
                Some(p) => p,
                // Something that is not a regular file (a FIFO would block
                // the open): an error, not "missing".
                None if exact.exists() => exact,
                None => return Ok(None),
            }
        };
        open_file(&path).map(|src| Some((path.display().to_string(), src)))
    }

    fn is_image(&self, shown: &str) -> bool {
        same_file(Path::new(shown), &self.image)
    }
}

/// The entry of `path`'s directory whose name equals `path`'s ignoring
/// case, if there is one.
fn ignoring_case(path: &Path) -> Option<PathBuf> {
    let want = path.file_name()?.to_string_lossy().to_lowercase();
    let parent = path.parent()?;
    std::fs::read_dir(parent)
        .ok()?
        .flatten()
        .find(|e| e.file_name().to_string_lossy().to_lowercase() == want)
        .map(|e| e.path())
}

/// Opens a regular file, with an error that says which file.
fn open_file(path: &Path) -> io::Result<Arc<dyn ReadAt>> {
    let named = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
    // Only regular files: a FIFO named by a cue sheet would block the open.
    if !std::fs::metadata(path).map_err(named)?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}: not a regular file", path.display()),
        ));
    }
    FileSource::open(path)
        .map(|f| Arc::new(f) as Arc<dyn ReadAt>)
        .map_err(named)
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_exactly_then_ignoring_case_and_a_fifo_is_an_error() {
        let dir = std::env::temp_dir().join(format!("isomount-neighbours-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("Track 01.BIN"), b"abc").unwrap();
        std::fs::write(dir.join("sub/x.bin"), b"de").unwrap();
        std::fs::write(dir.join("disc.cue"), b"").unwrap();
        let n = LocalDir::new(dir.join("disc.cue"));
        assert_eq!(n.image_name(), dir.join("disc.cue").display().to_string());

        let (shown, src) = n.open("track 01.bin").unwrap().unwrap();
        assert!(shown.ends_with("Track 01.BIN"), "{shown}");
        assert_eq!(src.len(), 3);
        assert_eq!(n.open("sub/x.bin").unwrap().unwrap().1.len(), 2);
        assert!(n.open("gone.bin").unwrap().is_none());
        assert!(n.is_image(&n.open("disc.cue").unwrap().unwrap().0));
        assert!(!n.is_image(&shown));
        #[cfg(unix)]
        {
            let fifo = dir.join("fifo.bin");
            let made = std::process::Command::new("mkfifo").arg(&fifo).status();
            assert!(made.unwrap().success());
            let e = n.open("fifo.bin").err().expect("a FIFO is an error");
            assert!(e.to_string().contains("not a regular file"), "{e}");
        }
        // An image named without a directory looks in the current one.
        assert_eq!(LocalDir::new("x.cue").dir(), Path::new("."));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
