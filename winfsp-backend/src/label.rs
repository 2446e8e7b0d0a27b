//! The volume label Windows shows for the mount (Explorer's "This PC",
//! `vol`, `Get-Volume`).
//!
//! It is the image's own label as fs-core reports it
//! ([`fs_core::VolumeInfo::label`]: the UDF logical volume identifier on a
//! UDF view, else the Joliet volume identifier when there is one, else the
//! ISO 9660 primary volume identifier), cut to what WinFsp holds: 32 UTF-16
//! units (`FSP_FSCTL_VOLUME_INFO::VolumeLabel`). An image without a label
//! gets the image file's name without its extension, so that Explorer does
//! not show a bare "Local Disk".

/// How many UTF-16 units WinFsp keeps of a volume label.
pub const MAX_LABEL_UNITS: usize = 32;

/// The label shown when neither the image nor its file name gives one.
pub const LAST_RESORT_LABEL: &str = "isomount";

/// The label to show: `image_label`, or `fallback` (the image file's stem)
/// when that is empty, or [`LAST_RESORT_LABEL`]. Control characters are
/// left out, surrounding blanks trimmed, and the result cut to
/// [`MAX_LABEL_UNITS`] UTF-16 units without splitting a surrogate pair (a
/// character outside the BMP is kept whole or dropped).
pub fn volume_label(image_label: &str, fallback: &str) -> String {
    [image_label, fallback, LAST_RESORT_LABEL]
        .into_iter()
        .map(|s| {
            let clean: String = s.chars().filter(|c| !c.is_control()).collect();
            truncate_utf16(clean.trim(), MAX_LABEL_UNITS)
                .trim_end()
                .to_string()
        })
        .find(|s| !s.is_empty())
        .unwrap_or_default()
}

/// The longest prefix of `s` that is at most `max_units` UTF-16 units long,
/// cut between characters (so never inside a surrogate pair).
pub fn truncate_utf16(s: &str, max_units: usize) -> &str {
    let mut units = 0;
    for (i, c) in s.char_indices() {
        units += c.len_utf16();
        if units > max_units {
            return &s[..i];
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(s: &str) -> usize {
        s.encode_utf16().count()
    }

    #[test]
    fn image_label_kept() {
        assert_eq!(volume_label("GRUB2_RESCUE", "x"), "GRUB2_RESCUE");
        assert_eq!(volume_label("Meta Volume", "x"), "Meta Volume");
        assert_eq!(volume_label("  Спас диск  ", "x"), "Спас диск");
    }

    #[test]
    fn long_labels_cut_to_32_units() {
        let a40 = "A".repeat(40);
        assert_eq!(volume_label(&a40, "x"), "A".repeat(32));
        // Exactly 32 stays.
        assert_eq!(volume_label(&"B".repeat(32), "x"), "B".repeat(32));
        // 31 units + a 2-unit character: the pair does not fit, and is not split.
        let l = format!("{}😀", "C".repeat(31));
        assert_eq!(volume_label(&l, "x"), "C".repeat(31));
        // 30 units + the pair: exactly 32.
        let l = format!("{}😀Z", "D".repeat(30));
        let got = volume_label(&l, "x");
        assert_eq!(got, format!("{}😀", "D".repeat(30)));
        assert_eq!(units(&got), 32);
        // Only astral characters: 16 fit.
        let l = "𝄞".repeat(20);
        assert_eq!(volume_label(&l, "x"), "𝄞".repeat(16));
        // Non-ASCII BMP characters count one unit each, not their UTF-8 bytes.
        let l = "é".repeat(40);
        assert_eq!(volume_label(&l, "x"), "é".repeat(32));
        // A blank at the cut is trimmed.
        let l = format!("{} tail", "E".repeat(31));
        assert_eq!(volume_label(&l, "x"), "E".repeat(31));
    }

    #[test]
    fn empty_label_falls_back_to_the_file_stem() {
        assert_eq!(volume_label("", "win7"), "win7");
        assert_eq!(volume_label("   ", "my disc"), "my disc");
        assert_eq!(volume_label("\0\0", "disc"), "disc");
        assert_eq!(volume_label("", &"F".repeat(50)), "F".repeat(32));
        assert_eq!(volume_label("", ""), LAST_RESORT_LABEL);
        assert_eq!(volume_label(" ", "\t"), LAST_RESORT_LABEL);
    }

    #[test]
    fn control_characters_left_out() {
        assert_eq!(volume_label("A\u{0}B\u{1f}C\u{7f}", "x"), "ABC");
    }

    #[test]
    fn truncate_utf16_edges() {
        assert_eq!(truncate_utf16("", 32), "");
        assert_eq!(truncate_utf16("abc", 0), "");
        assert_eq!(truncate_utf16("😀", 1), "");
        assert_eq!(truncate_utf16("😀", 2), "😀");
        assert_eq!(truncate_utf16("a😀b", 3), "a😀");
    }
}
