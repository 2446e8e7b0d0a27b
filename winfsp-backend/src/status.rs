//! Which NTSTATUS a core error becomes.

use fs_core::Error;

/// `STATUS_OBJECT_NAME_NOT_FOUND`.
pub const STATUS_OBJECT_NAME_NOT_FOUND: i32 = 0xC000_0034_u32 as i32;
/// `STATUS_OBJECT_PATH_NOT_FOUND`.
pub const STATUS_OBJECT_PATH_NOT_FOUND: i32 = 0xC000_003A_u32 as i32;
/// `STATUS_FILE_IS_A_DIRECTORY`.
pub const STATUS_FILE_IS_A_DIRECTORY: i32 = 0xC000_00BA_u32 as i32;
/// `STATUS_NOT_A_DIRECTORY`.
pub const STATUS_NOT_A_DIRECTORY: i32 = 0xC000_0103_u32 as i32;
/// `STATUS_FILE_CORRUPT_ERROR`.
pub const STATUS_FILE_CORRUPT_ERROR: i32 = 0xC000_0102_u32 as i32;
/// `STATUS_IO_DEVICE_ERROR`.
pub const STATUS_IO_DEVICE_ERROR: i32 = 0xC000_0185_u32 as i32;
/// `STATUS_NOT_SUPPORTED`.
pub const STATUS_NOT_SUPPORTED: i32 = 0xC000_00BB_u32 as i32;
/// `STATUS_END_OF_FILE`.
pub const STATUS_END_OF_FILE: i32 = 0xC000_0011_u32 as i32;

/// The NTSTATUS for a core error. [`crate::tree::Tree::lookup`] reports a
/// missing or non-directory path component as [`Error::NotADirectory`],
/// which Windows calls a missing path.
pub fn ntstatus(e: &Error) -> i32 {
    match e {
        Error::NotFound(_) | Error::SymlinkLoop(_) | Error::ViewUnavailable(_) => {
            STATUS_OBJECT_NAME_NOT_FOUND
        }
        Error::NotADirectory(_) => STATUS_OBJECT_PATH_NOT_FOUND,
        Error::IsADirectory(_) => STATUS_FILE_IS_A_DIRECTORY,
        Error::NotASymlink(_) | Error::Unsupported(_) => STATUS_NOT_SUPPORTED,
        Error::Io { .. } | Error::Overlay(_) => STATUS_IO_DEVICE_ERROR,
        Error::Truncated { .. } | Error::Corrupt { .. } | Error::NotRecognized(_) => {
            STATUS_FILE_CORRUPT_ERROR
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert_eq!(ntstatus(&Error::NotFound("x".into())) as u32, 0xC000_0034);
        assert_eq!(
            ntstatus(&Error::NotADirectory("x".into())) as u32,
            0xC000_003A
        );
        let io = Error::io(0, 1, std::io::Error::other("x"));
        assert_eq!(ntstatus(&io), STATUS_IO_DEVICE_ERROR);
    }
}
