//! The one security descriptor every file and directory has.
//!
//! A read-only image has no ACLs, but Windows wants a descriptor for every
//! open. This is the self-relative form of the SDDL
//! `O:BAG:BAD:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;FRFX;;;WD)`: owned by
//! Administrators, full access for SYSTEM and Administrators (the volume is
//! read-only anyway), read and execute for Everyone; inheritance blocked.
//! Built here byte by byte so it is tested on Linux; the Windows tests check
//! it against `ConvertSecurityDescriptorToStringSecurityDescriptorW`.

/// The SDDL the descriptor encodes.
pub const SDDL: &str = "O:BAG:BAD:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;FRFX;;;WD)";

/// `FILE_ALL_ACCESS`.
const FILE_ALL_ACCESS: u32 = 0x001F_01FF;
/// `FILE_GENERIC_READ | FILE_GENERIC_EXECUTE`.
const FILE_READ_EXECUTE: u32 = 0x0012_00A9;

/// `SE_SELF_RELATIVE | SE_DACL_PROTECTED | SE_DACL_PRESENT`.
const CONTROL: u16 = 0x8000 | 0x1000 | 0x0004;

/// A SID: revision 1, authority, sub-authorities.
fn sid(authority: u8, subs: &[u32]) -> Vec<u8> {
    let mut v = vec![1, subs.len() as u8, 0, 0, 0, 0, 0, authority];
    for s in subs {
        v.extend_from_slice(&s.to_le_bytes());
    }
    v
}

fn ace(mask: u32, sid: &[u8]) -> Vec<u8> {
    let size = (8 + sid.len()) as u16;
    // ACCESS_ALLOWED_ACE_TYPE 0, no flags.
    let mut v = vec![0, 0];
    v.extend_from_slice(&size.to_le_bytes());
    v.extend_from_slice(&mask.to_le_bytes());
    v.extend_from_slice(sid);
    v
}

/// The self-relative security descriptor of [`SDDL`].
pub fn descriptor() -> Vec<u8> {
    let system = sid(5, &[18]); // S-1-5-18
    let admins = sid(5, &[32, 544]); // S-1-5-32-544
    let everyone = sid(1, &[0]); // S-1-1-0
    let aces = [
        ace(FILE_ALL_ACCESS, &system),
        ace(FILE_ALL_ACCESS, &admins),
        ace(FILE_READ_EXECUTE, &everyone),
    ];
    let acl_size = 8 + aces.iter().map(Vec::len).sum::<usize>();
    let mut acl = vec![2, 0]; // ACL_REVISION
    acl.extend_from_slice(&(acl_size as u16).to_le_bytes());
    acl.extend_from_slice(&(aces.len() as u16).to_le_bytes());
    acl.extend_from_slice(&[0, 0]);
    for a in &aces {
        acl.extend_from_slice(a);
    }
    // Header (20 bytes), owner, group, DACL.
    let owner_at = 20u32;
    let group_at = owner_at + admins.len() as u32;
    let dacl_at = group_at + admins.len() as u32;
    let mut sd = vec![1, 0];
    sd.extend_from_slice(&CONTROL.to_le_bytes());
    sd.extend_from_slice(&owner_at.to_le_bytes());
    sd.extend_from_slice(&group_at.to_le_bytes());
    sd.extend_from_slice(&0u32.to_le_bytes()); // no SACL
    sd.extend_from_slice(&dacl_at.to_le_bytes());
    sd.extend_from_slice(&admins);
    sd.extend_from_slice(&admins);
    sd.extend_from_slice(&acl);
    sd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        let sd = descriptor();
        // 20 header + 16 + 16 SIDs + 8 ACL header + (8+12) + (8+16) + (8+12) ACEs.
        assert_eq!(sd.len(), 20 + 32 + 8 + 20 + 24 + 20);
        assert_eq!(&sd[..4], &[1, 0, 0x04, 0x90]);
        assert_eq!(&sd[20..28], &[1, 2, 0, 0, 0, 0, 0, 5]);
        assert_eq!(u32::from_le_bytes([sd[28], sd[29], sd[30], sd[31]]), 32);
        assert_eq!(u32::from_le_bytes([sd[32], sd[33], sd[34], sd[35]]), 544);
        let dacl = &sd[52..];
        assert_eq!(u16::from_le_bytes([dacl[2], dacl[3]]) as usize, dacl.len());
        assert_eq!(u16::from_le_bytes([dacl[4], dacl[5]]), 3);
    }

    /// Windows (or Wine) reads our bytes as the same descriptor as it
    /// builds from the SDDL.
    #[cfg(windows)]
    #[test]
    fn windows_agrees() {
        use windows::Win32::Security::Authorization::{
            ConvertSecurityDescriptorToStringSecurityDescriptorW,
            ConvertStringSecurityDescriptorToSecurityDescriptorW, SDDL_REVISION_1,
        };
        use windows::Win32::Security::{
            DACL_SECURITY_INFORMATION, GROUP_SECURITY_INFORMATION, OWNER_SECURITY_INFORMATION,
            PSECURITY_DESCRIPTOR,
        };
        use windows::core::{HSTRING, PWSTR};

        fn to_string(sd: PSECURITY_DESCRIPTOR) -> String {
            let mut out = PWSTR::null();
            let info =
                OWNER_SECURITY_INFORMATION | GROUP_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION;
            // SAFETY: `sd` points at a valid self-relative descriptor; the
            // string Windows allocates is leaked (a test).
            unsafe {
                ConvertSecurityDescriptorToStringSecurityDescriptorW(
                    sd,
                    SDDL_REVISION_1,
                    info,
                    &mut out,
                    None,
                )
                .expect("to string");
                out.to_string().expect("utf-16")
            }
        }

        let mut ours = descriptor();
        let mut theirs = PSECURITY_DESCRIPTOR::default();
        // SAFETY: valid SDDL string; the descriptor Windows allocates is leaked.
        unsafe {
            ConvertStringSecurityDescriptorToSecurityDescriptorW(
                &HSTRING::from(SDDL),
                SDDL_REVISION_1,
                &mut theirs,
                None,
            )
            .expect("from SDDL");
        }
        let a = to_string(PSECURITY_DESCRIPTOR(ours.as_mut_ptr().cast()));
        let b = to_string(theirs);
        assert_eq!(a, b);
        assert!(a.starts_with("O:BAG:BAD:P"), "{a}");
    }
}
