//! Cue sheets (CDRWIN `.cue`): the text that describes a raw `.bin` image.
//!
//! The commands we read (CDRWIN user guide, "Cue sheet syntax"):
//! `FILE "name" BINARY|MOTOROLA|WAVE|...` opens a file; the tracks that
//! follow live in it. `TRACK nn MODE` (`AUDIO`, `MODE1/2048`, `MODE1/2352`,
//! `MODE2/2336`, `MODE2/2352`) starts a track; `INDEX nn mm:ss:ff` gives an
//! index position in that file (75 frames per second), `INDEX 01` is where
//! the track's data starts, `INDEX 00` the start of a pregap stored in the
//! file; `PREGAP`/`POSTGAP mm:ss:ff` are gaps *not* stored in the file. Every
//! other command (REM, TITLE, PERFORMER, CATALOG, FLAGS, ISRC, CDTEXTFILE,
//! SONGWRITER) is ignored. Names may be quoted; lines end in LF or CRLF.

use crate::error::{Error, Location, Result};

use super::sector::TrackMode;

/// Largest cue sheet we read (real ones are a few KiB).
pub(crate) const MAX_CUE_BYTES: u64 = 1 << 20;
const MAX_FILES: usize = 99;
const MAX_TRACKS: usize = 99;

/// One `TRACK` of a cue sheet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CueTrack {
    pub number: u8,
    pub mode: TrackMode,
    /// `INDEX 00` position in the file, in frames.
    pub index0: Option<u32>,
    /// `INDEX 01` position in the file, in frames.
    pub index1: Option<u32>,
    pub pregap: u32,
    pub postgap: u32,
}

/// One `FILE` with the tracks stored in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CueFile {
    pub name: String,
    pub tracks: Vec<CueTrack>,
}

/// A parsed cue sheet.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct CueSheet {
    pub files: Vec<CueFile>,
}

/// A track placed in its file: byte offset of `INDEX 01`, sector count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PlacedTrack {
    pub number: u8,
    pub mode: TrackMode,
    /// Index into [`CueSheet::files`].
    pub file: usize,
    /// Byte offset of the track's `INDEX 01` in its file.
    pub offset: u64,
    /// Sectors from `INDEX 01` to the next track (or the end of the file).
    pub sectors: u64,
    /// Disc address (LBA) of `INDEX 01`, counting gaps of earlier tracks.
    pub lba: u64,
}

/// True when `text` looks like a cue sheet: its first command is a cue command.
pub(crate) fn looks_like_cue(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(head);
    let text = text.trim_start_matches('\u{feff}');
    for line in text.lines() {
        let word = line
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        if word.is_empty() {
            continue;
        }
        return matches!(
            word.as_str(),
            "FILE" | "REM" | "CATALOG" | "TITLE" | "PERFORMER" | "CDTEXTFILE" | "SONGWRITER"
        );
    }
    false
}

fn err(at: usize, line: usize, reason: impl std::fmt::Display) -> Error {
    Error::corrupt(
        "cue sheet",
        Location::at(at as u64 / 2048, (at % 2048) as u32),
        format!("line {line}: {reason}"),
    )
}

/// Splits a line into words; a word in double quotes may hold spaces.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = line.trim().chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' {
            chars.next();
            out.push(chars.by_ref().take_while(|&c| c != '"').collect());
        } else {
            let mut w = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                w.push(c);
                chars.next();
            }
            out.push(w);
        }
    }
    out
}

/// Parses `mm:ss:ff` into frames (75 per second).
pub(crate) fn msf(s: &str) -> Option<u32> {
    let mut it = s.split(':');
    let (m, sec, f) = (it.next()?, it.next()?, it.next()?);
    if it.next().is_some() {
        return None;
    }
    let m: u32 = m.parse().ok()?;
    let sec: u32 = sec.parse().ok()?;
    let f: u32 = f.parse().ok()?;
    if sec >= 60 || f >= 75 || m > 999 {
        return None;
    }
    Some((m * 60 + sec) * 75 + f)
}

fn mode(s: &str) -> Option<TrackMode> {
    Some(match s.to_ascii_uppercase().as_str() {
        "AUDIO" => TrackMode::Audio,
        "MODE1/2048" => TrackMode::Mode1Cooked,
        "MODE1/2352" => TrackMode::Mode1Raw,
        "MODE2/2352" => TrackMode::Mode2Raw,
        "MODE2/2336" => TrackMode::Mode2Headerless,
        "MODE2/2048" => TrackMode::Mode2Cooked,
        _ => return None,
    })
}

/// Parses the text of a cue sheet.
pub(crate) fn parse(text: &str) -> Result<CueSheet> {
    let mut sheet = CueSheet::default();
    let mut tracks = 0usize;
    let mut at = 0usize;
    for (n, raw_line) in text.split('\n').enumerate() {
        let line_no = n + 1;
        let here = at;
        at += raw_line.len() + 1;
        let line = raw_line
            .trim_end_matches('\r')
            .trim_start_matches('\u{feff}');
        let w = words(line);
        let Some(cmd) = w.first() else { continue };
        match cmd.to_ascii_uppercase().as_str() {
            "FILE" => {
                if w.len() < 2 {
                    return Err(err(here, line_no, "FILE without a file name"));
                }
                if sheet.files.len() >= MAX_FILES {
                    return Err(err(
                        here,
                        line_no,
                        format!("more than {MAX_FILES} FILE commands"),
                    ));
                }
                // `FILE name with spaces.bin BINARY` (unquoted): all words but the type.
                let quoted = line
                    .trim_start()
                    .get(4..)
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('"');
                let name = match w.get(1..) {
                    Some([name, ..]) if quoted => name.clone(),
                    Some([name] | [name, _]) => name.clone(),
                    Some([names @ .., _type]) => names.join(" "),
                    _ => String::new(),
                };
                if name.is_empty() {
                    return Err(err(here, line_no, "FILE with an empty file name"));
                }
                sheet.files.push(CueFile {
                    name,
                    tracks: Vec::new(),
                });
            }
            "TRACK" => {
                let Some(file) = sheet.files.last_mut() else {
                    return Err(err(here, line_no, "TRACK before any FILE"));
                };
                tracks += 1;
                if tracks > MAX_TRACKS {
                    return Err(err(here, line_no, format!("more than {MAX_TRACKS} tracks")));
                }
                let number = w
                    .get(1)
                    .and_then(|s| s.parse::<u8>().ok())
                    .filter(|n| (1..=99).contains(n))
                    .ok_or_else(|| err(here, line_no, "TRACK needs a number 1-99"))?;
                let m = w.get(2).map(String::as_str).unwrap_or("");
                let mode = mode(m).ok_or_else(|| {
                    Error::Unsupported(format!("cue sheet line {line_no}: track mode {m:?}"))
                })?;
                file.tracks.push(CueTrack {
                    number,
                    mode,
                    index0: None,
                    index1: None,
                    pregap: 0,
                    postgap: 0,
                });
            }
            "INDEX" | "PREGAP" | "POSTGAP" => {
                let Some(track) = sheet.files.last_mut().and_then(|f| f.tracks.last_mut()) else {
                    return Err(err(here, line_no, format!("{cmd} outside a TRACK")));
                };
                let upper = cmd.to_ascii_uppercase();
                let time_word = if upper == "INDEX" { w.get(2) } else { w.get(1) };
                let t = time_word
                    .and_then(|s| msf(s))
                    .ok_or_else(|| err(here, line_no, format!("{cmd} needs a time mm:ss:ff")))?;
                match upper.as_str() {
                    "PREGAP" => track.pregap = t,
                    "POSTGAP" => track.postgap = t,
                    _ => match w.get(1).and_then(|s| s.parse::<u8>().ok()) {
                        Some(0) => track.index0 = Some(t),
                        Some(1) => track.index1 = Some(t),
                        Some(2..=99) => {}
                        _ => return Err(err(here, line_no, "INDEX needs a number 0-99")),
                    },
                }
            }
            _ => {}
        }
    }
    for f in &sheet.files {
        for t in &f.tracks {
            if t.index1.is_none() {
                return Err(err(0, 0, format!("track {} has no INDEX 01", t.number)));
            }
        }
    }
    if tracks == 0 {
        return Err(err(0, 0, "no TRACK"));
    }
    Ok(sheet)
}

/// Frame where a track's stored part starts: `INDEX 00` if given, else `INDEX 01`.
fn begin(t: &CueTrack) -> u64 {
    let i1 = t.index1.unwrap_or(0);
    u64::from(t.index0.map_or(i1, |i0| i0.min(i1)))
}

/// Places every track in its file. `file_len(i)` is the length of file `i`
/// (`None` when it cannot be opened; its last track then has 0 sectors).
pub(crate) fn layout(
    sheet: &CueSheet,
    file_len: &dyn Fn(usize) -> Option<u64>,
) -> Result<Vec<PlacedTrack>> {
    let mut out = Vec::new();
    let mut disc = 0u64; // disc LBA where the current file's frame 0 sits
    for (fi, file) in sheet.files.iter().enumerate() {
        let mut base = 0u64; // byte offset of the current track's first stored frame
        let mut end = disc;
        let mut prev: Option<&CueTrack> = None;
        for (j, t) in file.tracks.iter().enumerate() {
            let index1 = u64::from(t.index1.unwrap_or(0));
            let first = begin(t);
            if let Some(prev) = prev.replace(t) {
                let pb = begin(prev);
                let step = first.checked_sub(pb).ok_or_else(|| {
                    err(
                        0,
                        0,
                        format!("track {} starts before track {}", t.number, prev.number),
                    )
                })?;
                base += step * prev.mode.sector_size();
            } else {
                base = first * t.mode.sector_size();
            }
            disc += u64::from(t.pregap);
            let offset = base + (index1 - first) * t.mode.sector_size();
            let sectors = match file.tracks.get(j + 1) {
                Some(next) => begin(next).checked_sub(index1).ok_or_else(|| {
                    err(
                        0,
                        0,
                        format!(
                            "track {} starts before track {} does",
                            next.number, t.number
                        ),
                    )
                })?,
                None => {
                    file_len(fi).map_or(0, |len| len.saturating_sub(offset) / t.mode.sector_size())
                }
            };
            let lba = disc + index1;
            end = lba + sectors;
            disc += u64::from(t.postgap);
            out.push(PlacedTrack {
                number: t.number,
                mode: t.mode,
                file: fi,
                offset,
                sectors,
                lba,
            });
        }
        disc = disc.max(end);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_mode1_track_with_crlf_and_quotes() {
        let s = parse("REM x\r\nFILE \"my disc.bin\" BINARY\r\n  TRACK 01 MODE1/2352\r\n    INDEX 01 00:00:00\r\n").unwrap();
        assert_eq!(s.files.len(), 1);
        assert_eq!(s.files[0].name, "my disc.bin");
        assert_eq!(s.files[0].tracks[0].mode, TrackMode::Mode1Raw);
        let p = layout(&s, &|_| Some(2352 * 10)).unwrap();
        assert_eq!((p[0].offset, p[0].sectors, p[0].lba), (0, 10, 0));
    }

    #[test]
    fn unquoted_names_with_spaces_and_lowercase_commands() {
        let s = parse("file my disc.bin binary\ntrack 1 mode2/2336\nindex 1 0:0:0\n").unwrap();
        assert_eq!(s.files[0].name, "my disc.bin");
        assert_eq!(s.files[0].tracks[0].mode, TrackMode::Mode2Headerless);
    }

    #[test]
    fn audio_then_data_in_one_file_with_index0() {
        let text = "FILE \"a.bin\" BINARY\n TRACK 01 AUDIO\n  INDEX 01 00:00:00\n TRACK 02 MODE1/2352\n  INDEX 00 00:02:00\n  INDEX 01 00:04:00\n";
        let s = parse(text).unwrap();
        let p = layout(&s, &|_| Some(2352 * (300 + 100))).unwrap();
        assert_eq!(p[0].sectors, 150);
        assert_eq!(p[1].offset, 300 * 2352);
        assert_eq!(p[1].sectors, 100);
        assert_eq!(p[1].lba, 300);
    }

    #[test]
    fn data_then_audio_in_two_files_with_pregap() {
        let text = "FILE d.bin BINARY\nTRACK 01 MODE1/2048\nINDEX 01 00:00:00\nFILE t.bin BINARY\nTRACK 02 AUDIO\nPREGAP 00:02:00\nINDEX 01 00:00:00\n";
        let s = parse(text).unwrap();
        let p = layout(&s, &|i| Some(if i == 0 { 2048 * 50 } else { 2352 * 20 })).unwrap();
        assert_eq!((p[0].sectors, p[0].lba), (50, 0));
        assert_eq!(
            (p[1].file, p[1].offset, p[1].sectors, p[1].lba),
            (1, 0, 20, 200)
        );
    }

    #[test]
    fn broken_sheets_are_typed_errors() {
        assert!(matches!(
            parse("TRACK 01 MODE1/2352\n"),
            Err(Error::Corrupt { .. })
        ));
        assert!(matches!(
            parse("FILE a BINARY\nTRACK 01 MODE1/2352\n"),
            Err(Error::Corrupt { .. })
        ));
        assert!(matches!(
            parse("FILE a BINARY\nTRACK 01 MODE1/2352\nINDEX 01 00:99:00\n"),
            Err(Error::Corrupt { .. })
        ));
        assert!(matches!(
            parse("FILE a BINARY\nTRACK 01 CDI/2352\nINDEX 01 00:00:00\n"),
            Err(Error::Unsupported(_))
        ));
        assert!(matches!(
            parse("FILE a BINARY\nTRACK 0 AUDIO\n"),
            Err(Error::Corrupt { .. })
        ));
        assert!(matches!(parse(""), Err(Error::Corrupt { .. })));
        let two =
            "FILE a BINARY\nTRACK 01 AUDIO\nINDEX 01 00:10:00\nTRACK 02 AUDIO\nINDEX 01 00:05:00\n";
        assert!(layout(&parse(two).unwrap(), &|_| Some(1 << 30)).is_err());
        let mut many = String::from("FILE a BINARY\n");
        for _ in 0..120 {
            many.push_str("TRACK 01 AUDIO\nINDEX 01 00:00:00\n");
        }
        assert!(parse(&many).is_err());
    }

    #[test]
    fn mangled_sheets_never_panic() {
        let good = "FILE \"a b.bin\" BINARY\r\n TRACK 01 AUDIO\r\n  INDEX 00 00:00:00\r\n  INDEX 01 00:02:00\r\n TRACK 02 MODE1/2352\r\n  PREGAP 00:02:00\r\n  INDEX 01 00:10:00\r\n  POSTGAP 00:01:00\r\n";
        let bytes = good.as_bytes();
        for i in 0..bytes.len() {
            for b in [0u8, b' ', b'"', b':', b'9', 0xC3, b'\n'] {
                let mut m = bytes.to_vec();
                m[i] = b;
                if let Ok(s) = parse(&String::from_utf8_lossy(&m)) {
                    let _ = layout(&s, &|_| Some(1 << 20));
                    let _ = layout(&s, &|_| None);
                }
            }
            let _ = parse(&String::from_utf8_lossy(&bytes[..i]));
        }
    }

    #[test]
    fn detection_and_msf() {
        assert!(looks_like_cue(b"\xEF\xBB\xBFFILE \"x.bin\" BINARY\n"));
        assert!(looks_like_cue(b"\n\nREM GENRE x\n"));
        assert!(!looks_like_cue(b"\x00\x00CD001"));
        assert_eq!(msf("01:02:03"), Some((62 * 75) + 3));
        assert_eq!(msf("00:00:75"), None);
        assert_eq!(msf("1:2"), None);
    }
}
