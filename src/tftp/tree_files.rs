//! [`Files`] over `isomount serve`'s tree: the same path rules as its HTTP
//! side ([`crate::serve::paths`]: no `..`, `--ignore-case` with backslashes
//! as separators, several images under `/NAME/`), with names taken raw
//! (TFTP does not percent-encode).

use std::io;
use std::sync::Arc;

use super::{File, Files, OpenError};
use crate::serve::Tree;
use crate::serve::paths::{FileHandle, PathError};

/// The served images, for the TFTP server.
pub struct TreeFiles(pub Arc<Tree>);

impl Files for TreeFiles {
    fn open(&self, name: &str) -> Result<Box<dyn File>, OpenError> {
        match self.0.open(name) {
            Ok(f) => Ok(Box::new(f)),
            Err(PathError::NotFound(_)) => Err(OpenError::NotFound),
            Err(e @ PathError::NotAFile(_)) => Err(OpenError::AccessViolation(e.to_string())),
            Err(e) if e.is_bad_request() => Err(OpenError::AccessViolation(e.to_string())),
            Err(e) => Err(OpenError::Other(e.to_string())),
        }
    }
}

impl File for FileHandle {
    fn len(&self) -> u64 {
        FileHandle::len(self)
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        FileHandle::read_at(self, offset, buf)
    }
}
