//! [`Files`] over one image: names are '/'-separated paths from the
//! image's root, the leading '/' optional.

use std::io;
use std::sync::Arc;

use fs_core::{Error, FileType, Node, Volume};

use super::{File, Files, OpenError};

/// The regular files of a volume.
pub struct VolumeFiles {
    vol: Arc<Volume>,
}

impl VolumeFiles {
    pub fn new(vol: Arc<Volume>) -> VolumeFiles {
        VolumeFiles { vol }
    }
}

/// Checks a request's file name: '/'-separated, no "..", no backslash
/// (a Windows client's separator, refused rather than guessed at), no NUL.
pub fn check_name(name: &str) -> Result<(), OpenError> {
    if name.contains('\\') {
        return Err(OpenError::AccessViolation(format!(
            "{name}: '\\' is not a path separator here, use '/'"
        )));
    }
    if name.split('/').any(|c| c == "..") {
        return Err(OpenError::AccessViolation(format!(
            "{name}: '..' is not allowed"
        )));
    }
    if name.contains('\0') {
        return Err(OpenError::AccessViolation("NUL in the file name".into()));
    }
    Ok(())
}

impl Files for VolumeFiles {
    fn open(&self, name: &str) -> Result<Box<dyn File>, OpenError> {
        check_name(name)?;
        let node = self.vol.resolve(name, true).map_err(|e| match e {
            Error::NotFound(_) | Error::NotADirectory(_) => OpenError::NotFound,
            e => OpenError::Other(e.to_string()),
        })?;
        match node.kind() {
            FileType::Regular => Ok(Box::new(VolumeFile {
                vol: Arc::clone(&self.vol),
                node,
            })),
            FileType::Directory => {
                Err(OpenError::AccessViolation(format!("{name} is a directory")))
            }
            _ => Err(OpenError::AccessViolation(format!(
                "{name} is not a regular file"
            ))),
        }
    }
}

struct VolumeFile {
    vol: Arc<Volume>,
    node: Arc<Node>,
}

impl File for VolumeFile {
    fn len(&self) -> u64 {
        self.node.attr().size
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.vol
            .read_node(&self.node, offset, buf)
            .map_err(io::Error::other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testvol;

    fn files() -> VolumeFiles {
        VolumeFiles::new(Arc::new(testvol::volume()))
    }

    fn read(f: &dyn File) -> Vec<u8> {
        let mut v = vec![0; f.len() as usize];
        let mut done = 0;
        while done < v.len() {
            let n = f.read_at(done as u64, &mut v[done..]).unwrap();
            assert!(n > 0);
            done += n;
        }
        v
    }

    #[test]
    fn opens_files_with_or_without_a_leading_slash() {
        let f = files();
        assert_eq!(read(&*f.open("a.txt").unwrap()), b"hello");
        assert_eq!(read(&*f.open("/sub/b.txt").unwrap()), b"hello");
        assert_eq!(read(&*f.open("ro//./c.txt").unwrap()), b"world!");
        assert_eq!(f.open("big").unwrap().len(), testvol::BIG as u64);
        // A symbolic link in the image is followed.
        assert_eq!(read(&*f.open("ln").unwrap()), b"hello");
    }

    #[test]
    fn refuses_what_is_not_a_file_inside_the_image() {
        let f = files();
        assert_eq!(f.open("nope").err(), Some(OpenError::NotFound));
        assert_eq!(f.open("a.txt/x").err(), Some(OpenError::NotFound));
        for bad in [
            "../a.txt",
            "sub/../a.txt",
            "sub\\b.txt",
            "/..",
            "sub",
            "/",
            "fifo",
            "null",
        ] {
            assert!(
                matches!(f.open(bad), Err(OpenError::AccessViolation(_))),
                "{bad}"
            );
        }
    }
}
