//! What `isomount mount IMAGE WHERE` means on Windows: a drive letter
//! (`X:`), the next free drive letter (`*`), or a folder that WinFsp creates
//! (it must not exist yet; its parent must).

use std::path::PathBuf;

/// Where to mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountTarget {
    /// A drive letter, as `X:`.
    Drive(String),
    /// The next free drive letter.
    NextFreeDrive,
    /// A folder mount point (created by WinFsp, removed on unmount).
    Folder(PathBuf),
}

impl MountTarget {
    /// Parses the command line's mount point: `X:` / `X:\` / `x` → a drive,
    /// `*` → the next free drive, anything else → a folder.
    pub fn parse(s: &str) -> Result<MountTarget, String> {
        let t = s.trim();
        if t.is_empty() {
            return Err("empty mount point".into());
        }
        if t == "*" {
            return Ok(MountTarget::NextFreeDrive);
        }
        let b = t.as_bytes();
        let letter = |c: u8| c.is_ascii_alphabetic();
        let drive = match b {
            [c, b':'] | [c, b':', b'\\'] | [c, b':', b'/'] if letter(*c) => Some(*c),
            _ => None,
        };
        match drive {
            Some(c) => Ok(MountTarget::Drive(format!(
                "{}:",
                char::from(c.to_ascii_uppercase())
            ))),
            None => Ok(MountTarget::Folder(PathBuf::from(t))),
        }
    }
}

impl std::fmt::Display for MountTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MountTarget::Drive(d) => f.write_str(d),
            MountTarget::NextFreeDrive => f.write_str("the next free drive letter"),
            MountTarget::Folder(p) => write!(f, "{}", p.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drives_and_folders() {
        assert_eq!(
            MountTarget::parse("x:"),
            Ok(MountTarget::Drive("X:".into()))
        );
        assert_eq!(
            MountTarget::parse("Q:\\"),
            Ok(MountTarget::Drive("Q:".into()))
        );
        assert_eq!(MountTarget::parse("*"), Ok(MountTarget::NextFreeDrive));
        assert_eq!(
            MountTarget::parse(r"C:\mnt\iso"),
            Ok(MountTarget::Folder(PathBuf::from(r"C:\mnt\iso")))
        );
        assert!(matches!(
            MountTarget::parse("1:"),
            Ok(MountTarget::Folder(_))
        ));
        assert!(MountTarget::parse(" ").is_err());
    }
}
