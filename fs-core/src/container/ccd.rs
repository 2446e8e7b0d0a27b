//! CloneCD control files (`.ccd`), the description of a `.img` raw image.
//!
//! A `.ccd` is an INI file: `[CloneCD]`, `[Disc]`, `[Session n]`, one
//! `[Entry n]` per TOC entry (keys `Session`, `Point`, `Control`, `ALBA`,
//! `PLBA`, ...; point 0x01-0x63 is a track, 0xA2 the lead-out whose `PLBA`
//! is the disc's length) and `[TRACK n]` with `MODE=0|1|2` and `INDEX n=LBA`.
//! The `.img` holds every sector raw (2352 bytes, from LBA 0); the `.sub`
//! subchannel file is not needed to read data and is ignored.

use crate::error::{Error, Location, Result};

use super::sector::TrackMode;

/// Largest control file we read.
pub(crate) const MAX_CCD_BYTES: u64 = 1 << 20;

/// One track of a CloneCD image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CcdTrack {
    pub number: u8,
    pub mode: TrackMode,
    /// Disc LBA of index 1 (= sector number in the `.img`).
    pub lba: u64,
    /// Sectors up to the next track or the lead-out (`None`: to the end of the file).
    pub sectors: Option<u64>,
}

fn corrupt(line: usize, reason: impl Into<String>) -> Error {
    Error::corrupt(
        "CloneCD control file",
        Location::sector(0),
        format!("line {line}: {}", reason.into()),
    )
}

fn num(v: &str) -> Option<i64> {
    let v = v.trim();
    match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        Some(h) => i64::from_str_radix(h, 16).ok(),
        None => v.parse().ok(),
    }
}

/// True when the text starts like a CloneCD control file.
pub(crate) fn looks_like_ccd(head: &[u8]) -> bool {
    String::from_utf8_lossy(head)
        .trim_start_matches('\u{feff}')
        .trim_start()
        .starts_with("[CloneCD]")
}

/// Parses the tracks of a `.ccd`.
pub(crate) fn parse(text: &str) -> Result<Vec<CcdTrack>> {
    let mut section = String::new();
    let mut entry_point: Option<i64> = None;
    let mut leadout: Option<i64> = None;
    let mut track_starts: Vec<(u8, i64)> = Vec::new(); // from [Entry] PLBA
    let mut modes: Vec<(u8, i64, Option<i64>)> = Vec::new(); // [TRACK n] MODE, INDEX 1
    for (n, line) in text.lines().enumerate() {
        let line_no = n + 1;
        let line = line.trim().trim_start_matches('\u{feff}');
        if line.is_empty() || line.starts_with(';') {
            continue;
        }
        if let Some(s) = line.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            section = s.trim().to_ascii_uppercase();
            entry_point = None;
            if let Some(t) = section.strip_prefix("TRACK ") {
                let t = t.trim().parse::<u8>().ok().filter(|t| (1..=99).contains(t));
                let t = t.ok_or_else(|| corrupt(line_no, format!("bad track section [{s}]")))?;
                if modes.len() >= 99 {
                    return Err(corrupt(line_no, "more than 99 tracks"));
                }
                modes.push((t, -1, None));
            }
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let k = k.trim().to_ascii_uppercase();
        if section.starts_with("ENTRY ") {
            match k.as_str() {
                "POINT" => entry_point = num(v),
                "PLBA" => {
                    let plba = num(v).ok_or_else(|| corrupt(line_no, "PLBA is not a number"))?;
                    match entry_point {
                        Some(0xA2) => leadout = Some(plba),
                        Some(p @ 1..=99) => track_starts.push((p as u8, plba)),
                        _ => {}
                    }
                }
                _ => {}
            }
        } else if section.starts_with("TRACK ") {
            let Some(last) = modes.last_mut() else {
                continue;
            };
            match k.as_str() {
                "MODE" => {
                    last.1 = num(v).ok_or_else(|| corrupt(line_no, "MODE is not a number"))?
                }
                "INDEX 1" => last.2 = num(v),
                _ => {}
            }
        }
    }
    if modes.is_empty() {
        return Err(corrupt(0, "no [TRACK n] section"));
    }
    let mut out = Vec::new();
    for &(number, m, index1) in &modes {
        let mode = match m {
            0 => TrackMode::Audio,
            1 => TrackMode::Mode1Raw,
            2 => TrackMode::Mode2Raw,
            _ => {
                return Err(corrupt(
                    0,
                    format!("track {number}: MODE={m} is not 0, 1 or 2"),
                ));
            }
        };
        let lba = track_starts
            .iter()
            .find(|(t, _)| *t == number)
            .map(|&(_, l)| l)
            .or(index1)
            .ok_or_else(|| {
                corrupt(
                    0,
                    format!("track {number} has no start (no [Entry] PLBA, no INDEX 1)"),
                )
            })?;
        let lba = u64::try_from(lba)
            .map_err(|_| corrupt(0, format!("track {number} starts at LBA {lba}")))?;
        out.push(CcdTrack {
            number,
            mode,
            lba,
            sectors: None,
        });
    }
    out.sort_by_key(|t| t.lba);
    // Each track ends where the next starts, the last at the lead-out.
    let leadout = leadout.and_then(|l| u64::try_from(l).ok());
    let ends: Vec<Option<u64>> = out
        .iter()
        .skip(1)
        .map(|t| Some(t.lba))
        .chain([leadout])
        .collect();
    for (t, end) in out.iter_mut().zip(ends) {
        t.sectors = end.map(|e| e.saturating_sub(t.lba));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CCD: &str = "[CloneCD]\r\nVersion=3\r\n[Disc]\r\nTocEntries=5\r\nSessions=1\r\n[Entry 0]\r\nSession=1\r\nPoint=0xa2\r\nPLBA=520\r\n[Entry 1]\r\nPoint=0x01\r\nControl=0x00\r\nPLBA=0\r\n[Entry 2]\r\nPoint=0x02\r\nControl=0x04\r\nPLBA=20\r\n[TRACK 1]\r\nMODE=0\r\nINDEX 1=0\r\n[TRACK 2]\r\nMODE=1\r\nINDEX 1=20\r\n";

    #[test]
    fn audio_and_data() {
        let t = parse(CCD).unwrap();
        assert_eq!(
            t[0],
            CcdTrack {
                number: 1,
                mode: TrackMode::Audio,
                lba: 0,
                sectors: Some(20)
            }
        );
        assert_eq!(
            t[1],
            CcdTrack {
                number: 2,
                mode: TrackMode::Mode1Raw,
                lba: 20,
                sectors: Some(500)
            }
        );
        assert!(looks_like_ccd(CCD.as_bytes()));
    }

    #[test]
    fn broken_files_are_errors() {
        assert!(parse("[CloneCD]\n").is_err());
        assert!(parse("[TRACK 1]\nMODE=7\nINDEX 1=0\n").is_err());
        assert!(parse("[TRACK 1]\nMODE=1\n").is_err());
        assert!(parse("[TRACK 0]\nMODE=1\n").is_err());
        for cut in 0..CCD.len() {
            let _ = parse(&CCD[..cut]);
        }
    }
}
