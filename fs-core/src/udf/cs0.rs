//! OSTA CS0 strings (OSTA UDF 2.1.1, 2.1.2; ECMA-167 1/7.2.12 dstrings).
//!
//! A CS0 "d-string" starts with a compression id: 8 (one byte per
//! character, Latin-1) or 16 (two bytes per character, UTF-16 big-endian).
//! UDF 2.50 adds 254 and 255, the same encodings for strings that were
//! compressed by the "compressed unicode" algorithm; they decode alike.
//! A fixed-size dstring field keeps its used length in its last byte.

use super::le::bytes;

/// Decodes a CS0 string: compression id then characters. Empty input or a
/// lone compression id is "". An unknown compression id falls back to a
/// lossy byte reading (a name stays visible rather than disappearing).
pub(crate) fn decode(b: &[u8]) -> String {
    let Some((&id, rest)) = b.split_first() else {
        return String::new();
    };
    match id {
        8 | 254 => rest.iter().map(|&c| char::from(c)).collect(),
        16 | 255 => {
            let units = rest
                .chunks_exact(2)
                .filter_map(|p| <[u8; 2]>::try_from(p).ok())
                .map(u16::from_be_bytes);
            char::decode_utf16(units)
                .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect()
        }
        _ => String::from_utf8_lossy(rest).into_owned(),
    }
}

/// Decodes a fixed-size dstring field (ECMA-167 1/7.2.12): the last byte is
/// the number of bytes in use (compression id included). Trailing NULs and
/// spaces are trimmed.
pub(crate) fn dstring(field: &[u8]) -> String {
    let Some((&used, body)) = field.split_last() else {
        return String::new();
    };
    let s = decode(bytes(body, 0, usize::from(used)));
    s.trim_end_matches(['\0', ' ']).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eight_bit_is_latin1() {
        assert_eq!(decode(b"\x08Caf\xe9"), "Café");
        assert_eq!(decode(b"\xfeABC"), "ABC");
        assert_eq!(decode(b""), "");
        assert_eq!(decode(b"\x08"), "");
    }

    #[test]
    fn sixteen_bit_is_utf16be() {
        let mut b = vec![16u8];
        for u in "Ωmega😀".encode_utf16() {
            b.extend(u.to_be_bytes());
        }
        assert_eq!(decode(&b), "Ωmega😀");
        b[0] = 255;
        assert_eq!(decode(&b), "Ωmega😀");
        // Odd trailing byte and an unpaired surrogate do not panic.
        assert_eq!(decode(&[16, 0xd8, 0x00, 0x41]), "\u{fffd}");
    }

    #[test]
    fn dstring_uses_length_byte() {
        let mut f = [0u8; 32];
        f[0] = 8;
        f[1..6].copy_from_slice(b"LABEL");
        f[31] = 6;
        assert_eq!(dstring(&f), "LABEL");
        f[31] = 200; // more than the field: clamped
        assert_eq!(dstring(&f), "LABEL");
        f[31] = 0;
        assert_eq!(dstring(&f), "");
        assert_eq!(dstring(&[]), "");
    }
}
