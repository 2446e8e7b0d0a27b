//! Joliet: UCS-2 names in a supplementary volume descriptor (Joliet
//! Specification, Microsoft 1995; ECMA-119 8.5).
//!
//! A supplementary volume descriptor is Joliet when its escape sequences
//! (ECMA-119 8.5.6, BP 89-120) start with `%/@` (level 1), `%/C` (level 2) or
//! `%/E` (level 3) and its volume flags bit 0 is clear (8.5.3: only escape
//! sequences registered per ISO 2375). Identifiers are big-endian UCS-2; we
//! decode them as UTF-16 (surrogate pairs allowed, bad units replaced).

use super::directory_record::strip_version;

/// The Joliet level named by the escape sequences field, if it is Joliet.
pub(crate) fn joliet_level(escapes: &[u8]) -> Option<u8> {
    match escapes.get(..3)? {
        b"%/@" => Some(1),
        b"%/C" => Some(2),
        b"%/E" => Some(3),
        _ => None,
    }
}

/// Decodes big-endian UTF-16 bytes, lossily (an odd trailing byte is dropped,
/// an unpaired surrogate becomes U+FFFD).
pub(crate) fn decode_ucs2(raw: &[u8]) -> String {
    let units = raw
        .chunks_exact(2)
        .filter_map(|c| c.try_into().ok())
        .map(u16::from_be_bytes);
    char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

/// The name shown for a Joliet file identifier: decoded, ";1" stripped
/// (and a trailing "." before it). Joliet allows 64 characters, but
/// `mkisofs -joliet-long` writes up to 103; there is no limit here.
pub(crate) fn joliet_name(raw: &[u8]) -> String {
    strip_version(&decode_ucs2(raw)).to_string()
}

/// A Joliet descriptor identifier (volume id, publisher...): decoded, with
/// trailing spaces and NULs trimmed.
pub(crate) fn decode_id(raw: &[u8]) -> String {
    decode_ucs2(raw)
        .trim_end_matches([' ', '\0'])
        .trim_start()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(u16::to_be_bytes).collect()
    }

    #[test]
    fn levels() {
        assert_eq!(joliet_level(b"%/@\0\0"), Some(1));
        assert_eq!(joliet_level(b"%/C"), Some(2));
        assert_eq!(joliet_level(b"%/E                             "), Some(3));
        assert_eq!(joliet_level(b"%/F"), None);
        assert_eq!(joliet_level(b"%/"), None);
        assert_eq!(joliet_level(&[0; 32]), None);
    }

    #[test]
    fn names() {
        assert_eq!(
            joliet_name(&enc("caf\u{e9} 日本.txt;1")),
            "caf\u{e9} 日本.txt"
        );
        assert_eq!(joliet_name(&enc("noext.;1")), "noext");
        assert_eq!(joliet_name(&enc("dir")), "dir");
        // A character outside the BMP as a surrogate pair.
        assert_eq!(joliet_name(&enc("\u{1F600}.txt;1")), "\u{1F600}.txt");
        let long = "x".repeat(103);
        assert_eq!(joliet_name(&enc(&format!("{long};1"))), long);
    }

    #[test]
    fn lossy() {
        // Unpaired high surrogate, then an odd trailing byte.
        assert_eq!(decode_ucs2(&[0xD8, 0x00, 0x00, 0x41, 0x00]), "\u{FFFD}A");
        assert_eq!(decode_id(&enc("LABEL   ")), "LABEL");
    }
}
