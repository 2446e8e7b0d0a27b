//! Names from the image made safe for a Windows file system (`extract` on
//! Windows). Used only there, but compiled and tested everywhere.
#![cfg_attr(not(windows), allow(dead_code))]

use std::borrow::Cow;
use std::collections::HashSet;

/// Device names Windows reserves in every directory, with any extension.
const RESERVED: [&str; 30] = [
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9", "COM¹", "COM²",
    "COM³", "LPT¹", "LPT²", "LPT³", "CONIN$", "CONOUT$",
];

/// A name Windows can create:
///
/// * `<>:"|?*\` and control characters become `_`;
/// * trailing dots and spaces (which Windows strips) become `_`;
/// * a reserved device name (`CON`, `AUX`, `NUL`, `COM1`..., with any
///   extension, e.g. `aux.txt`) gets a `_` in front.
///
/// Returns the name unchanged (borrowed) when it is fine already.
pub fn safe_name(name: &str) -> Cow<'_, str> {
    let bad = |c: char| c < ' ' || matches!(c, '<' | '>' | ':' | '"' | '|' | '?' | '*' | '\\');
    let mut s: String = name.chars().map(|c| if bad(c) { '_' } else { c }).collect();
    let keep = s.trim_end_matches(['.', ' ']).len();
    if keep < s.len() {
        let tail = "_".repeat(s[keep..].chars().count());
        s.truncate(keep);
        s.push_str(&tail);
    }
    let base = s.split('.').next().unwrap_or("").trim_end_matches(' ');
    if RESERVED
        .iter()
        .any(|r| r.eq_ignore_ascii_case(base) || *r == base.to_uppercase())
    {
        s.insert(0, '_');
    }
    if s == name {
        Cow::Borrowed(name)
    } else {
        Cow::Owned(s)
    }
}

/// Picks names for one directory's entries: [`safe_name`], then, since
/// Windows compares names without case, a `~N` suffix for a name already
/// taken in this directory (`README` and `readme`, or `a:b` and `a_b`).
#[derive(Debug, Default)]
pub struct DirNames {
    used: HashSet<String>,
}

impl DirNames {
    /// The name to create for the image's `name`, and whether it differs
    /// from `name` (to tell the user).
    pub fn pick(&mut self, name: &str) -> (String, bool) {
        let safe = safe_name(name).into_owned();
        let mut pick = safe.clone();
        let mut n = 2;
        while !self.used.insert(pick.to_lowercase()) {
            pick = format!("{safe}~{n}");
            n += 1;
        }
        let changed = pick != name;
        (pick, changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_names() {
        assert_eq!(safe_name("hello.txt"), "hello.txt");
        assert!(matches!(safe_name("Ωmega"), Cow::Borrowed(_)));
        assert_eq!(safe_name("a:b"), "a_b");
        assert_eq!(safe_name(r#"<>:"|?*\x"#), "________x");
        assert_eq!(safe_name("tab\there"), "tab_here");
        assert_eq!(safe_name("trail."), "trail_");
        assert_eq!(safe_name("trail. ."), "trail___");
        assert_eq!(safe_name("CON"), "_CON");
        assert_eq!(safe_name("con"), "_con");
        assert_eq!(safe_name("aux.txt"), "_aux.txt");
        assert_eq!(safe_name("Nul.tar.gz"), "_Nul.tar.gz");
        assert_eq!(safe_name("COM9"), "_COM9");
        assert_eq!(safe_name("lpt1.log"), "_lpt1.log");
        assert_eq!(safe_name("CON .txt"), "_CON .txt");
        assert_eq!(safe_name("com²"), "_com²");
        assert_eq!(safe_name("CONSOLE"), "CONSOLE");
        assert_eq!(safe_name("COM10"), "COM10");
        assert_eq!(safe_name("xcon"), "xcon");
        assert_eq!(safe_name("..."), "___");
        // The dot is replaced first, and "nul_" is an ordinary name.
        assert_eq!(safe_name("nul."), "nul_");
    }

    #[test]
    fn collisions_get_suffixes() {
        let mut d = DirNames::default();
        assert_eq!(d.pick("README"), ("README".into(), false));
        assert_eq!(d.pick("readme"), ("readme~2".into(), true));
        assert_eq!(d.pick("a_b"), ("a_b".into(), false));
        assert_eq!(d.pick("a:b"), ("a_b~2".into(), true));
        assert_eq!(d.pick("a?b"), ("a_b~3".into(), true));
        assert_eq!(d.pick("CON"), ("_CON".into(), true));
    }
}
