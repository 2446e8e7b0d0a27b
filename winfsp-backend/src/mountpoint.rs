//! What `isomount mount IMAGE [WHERE]` means on Windows: a drive letter
//! (`X:`), the next free drive letter (no `WHERE`, or `*`), or a folder that
//! WinFsp creates (it must not exist yet; its parent must).

use std::path::PathBuf;

/// Where to mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountTarget {
    /// A drive letter, as `X:`.
    Drive(String),
    /// The next free drive letter: the first of [`free_drive_letters`]
    /// that WinFsp can take.
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

/// The bit of drive `letter` (`A`..=`Z`, either case) in a
/// `GetLogicalDrives()` mask: bit 0 is A:. `None` for anything else.
pub fn drive_bit(letter: char) -> Option<u32> {
    letter
        .is_ascii_alphabetic()
        .then(|| 1 << (letter.to_ascii_uppercase() as u32 - 'A' as u32))
}

/// The drive letters the next free drive may take, in the order to try
/// them: `Z` down to `D`, leaving out those set in `taken` (a
/// `GetLogicalDrives()` mask, bit 0 = A:).
///
/// The same order as WinFsp's own `*` (and `net use *`): Windows gives USB
/// sticks, card readers and its own mounted `.iso` files the lowest free
/// letters (and remembers them per device), so taking letters from the top
/// stays clear of them. A:, B: and C: are never used.
pub fn free_drive_letters(taken: u32) -> impl Iterator<Item = char> {
    ('D'..='Z')
        .rev()
        .filter(move |&c| drive_bit(c).is_some_and(|b| taken & b == 0))
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

    #[test]
    fn free_letters_from_z_down_to_d() {
        let all: String = free_drive_letters(0).collect();
        assert_eq!(all, "ZYXWVUTSRQPONMLKJIHGFED");
        // C: and D: in use, Z: a network drive, Y: a WinFsp mount.
        let taken = ['C', 'D', 'Z', 'Y'].map(|c| drive_bit(c).unwrap());
        let taken = taken.iter().fold(0, |m, b| m | b);
        assert_eq!(free_drive_letters(taken).next(), Some('X'));
        assert!(free_drive_letters(taken).all(|c| !"ABCDZY".contains(c)));
        assert_eq!(free_drive_letters(taken).count(), 23 - 3);
        // Everything taken.
        assert_eq!(free_drive_letters(u32::MAX).next(), None);
        // Only E: free.
        let only_e = !drive_bit('E').unwrap();
        assert_eq!(free_drive_letters(only_e).collect::<String>(), "E");
    }

    #[test]
    fn drive_bits() {
        assert_eq!(drive_bit('A'), Some(1));
        assert_eq!(drive_bit('c'), Some(4));
        assert_eq!(drive_bit('Z'), Some(1 << 25));
        assert_eq!(drive_bit('1'), None);
        assert_eq!(drive_bit('é'), None);
    }
}
