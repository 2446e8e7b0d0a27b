//! Symbolic link targets: path components (ECMA-167 4/14.16, OSTA UDF 2.3.12).
//!
//! A symlink's content is a sequence of path components (4/14.16.1.1,
//! table 4/25): type 1 a root agreed between originator and recipient (with
//! no identifier: the root), 2 the root directory, 3 the parent "..",
//! 4 the current directory ".", 5 a name in CS0; then the identifier
//! length, a version, and the identifier. As in Linux, a type 1 component
//! that names an agreed root (an identifier is given) is left out.

use crate::error::{Error, Location, Result};

use super::cs0;
use super::le::u8_at;

/// Turns path components into a POSIX path: "/a/b", "../x", "./x".
pub(crate) fn target(data: &[u8], at: Location) -> Result<String> {
    let mut parts: Vec<String> = Vec::new();
    let mut absolute = false;
    let mut pos = 0usize;
    while pos < data.len() {
        if pos + 4 > data.len() {
            return Err(Error::corrupt(
                "path component",
                at,
                "truncated component header",
            ));
        }
        let kind = u8_at(data, pos);
        let l_ci = usize::from(u8_at(data, pos + 1));
        let Some(ident) = data.get(pos + 4..pos + 4 + l_ci) else {
            return Err(Error::corrupt(
                "path component",
                at,
                format!(
                    "{l_ci}-byte identifier runs past the link's {} bytes",
                    data.len()
                ),
            ));
        };
        match kind {
            1 if l_ci > 0 => {}
            1 | 2 => {
                parts.clear();
                absolute = true;
            }
            3 => parts.push("..".into()),
            4 => parts.push(".".into()),
            5 => {
                let name = cs0::decode(ident);
                if name.is_empty() || name.contains('/') {
                    return Err(Error::corrupt(
                        "path component",
                        at,
                        format!("bad component name {name:?}"),
                    ));
                }
                parts.push(name);
            }
            other => {
                return Err(Error::corrupt(
                    "path component",
                    at,
                    format!("component type {other}"),
                ));
            }
        }
        pos += 4 + l_ci;
    }
    let joined = parts.join("/");
    Ok(if absolute {
        format!("/{joined}")
    } else {
        joined
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comp(kind: u8, name: &str) -> Vec<u8> {
        let mut id = Vec::new();
        if !name.is_empty() {
            id.push(8);
            id.extend(name.bytes());
        }
        let mut v = vec![kind, id.len() as u8, 0, 0];
        v.extend(id);
        v
    }

    #[test]
    fn absolute_relative_and_dots() {
        let at = Location::sector(1);
        let d = [comp(2, ""), comp(5, "a"), comp(5, "b")].concat();
        assert_eq!(target(&d, at).unwrap(), "/a/b");
        let d = [comp(3, ""), comp(5, "x")].concat();
        assert_eq!(target(&d, at).unwrap(), "../x");
        let d = [comp(4, ""), comp(5, "y")].concat();
        assert_eq!(target(&d, at).unwrap(), "./y");
        let mut u = vec![5u8, 5, 0, 0, 16, 0, b'A', 0, b'B'];
        u.splice(0..0, comp(1, ""));
        assert_eq!(target(&u, at).unwrap(), "/AB");
        assert_eq!(target(&[], at).unwrap(), "");
        // An agreed root with an identifier (e.g. "/mnt/cdrom") is left out.
        let d = [comp(1, "cdrom"), comp(5, "z")].concat();
        assert_eq!(target(&d, at).unwrap(), "z");
    }

    #[test]
    fn malformed_components() {
        let at = Location::sector(1);
        assert!(target(&[5, 10, 0, 0, 8], at).is_err());
        assert!(target(&[5, 0], at).is_err());
        assert!(target(&[9, 0, 0, 0], at).is_err());
        assert!(target(&comp(5, "a/b"), at).is_err());
    }
}
