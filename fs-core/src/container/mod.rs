//! Containers: the layer under the format readers that maps 2048-byte
//! logical sectors onto the image file.
//!
//! Detection looks at the content first and uses the file name only to find
//! sidecar files, in this order: CSO/ZSO header (`cso`), a Nero footer
//! (`nrg`), a cue sheet opened as the image itself (`cue`), an Alcohol
//! descriptor or CloneCD control file opened as the image (their data file is
//! opened instead), a sidecar next to the image (`X.cue` for `X.bin`, `X.mds`
//! for `X.mdf`, `X.ccd` for `X.img`), raw sectors recognised by their sync
//! pattern (2352 bytes) or by where "CD001"/"BEA01"/a UDF anchor sits
//! (2336 bytes), and finally a plain image of 2048-byte sectors.
//!
//! [`crate::Volume::open`] runs this layer; [`ContainerInfo`] (re-exported
//! at the crate root, [`crate::Volume::container`]) says what it found.
//! [`Neighbours`] says where the files next to the image are
//! ([`crate::OpenOptions::neighbours`]). Nothing else here is public.

pub(crate) mod ccd;
pub(crate) mod cso;
pub(crate) mod cue;
pub(crate) mod mdf;
pub(crate) mod neighbours;
pub(crate) mod nrg;
pub(crate) mod sector;
mod shift;

use std::io;
use std::path::Path;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::source::ReadAt;
pub use neighbours::{LocalDir, Neighbour, Neighbours};

pub(crate) use sector::TrackMode;
use sector::{SYNC, SectorMap};

/// What the container layer found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerInfo {
    /// Human name of the container, e.g. "plain" or "BIN/CUE (MODE1/2352)".
    pub kind: String,
    /// Further facts (tracks, sidecar files, block sizes), as label/value pairs.
    pub details: Vec<(&'static str, String)>,
}

const TRACK_LABELS: [&str; 99] = [
    "Track 1", "Track 2", "Track 3", "Track 4", "Track 5", "Track 6", "Track 7", "Track 8",
    "Track 9", "Track 10", "Track 11", "Track 12", "Track 13", "Track 14", "Track 15", "Track 16",
    "Track 17", "Track 18", "Track 19", "Track 20", "Track 21", "Track 22", "Track 23", "Track 24",
    "Track 25", "Track 26", "Track 27", "Track 28", "Track 29", "Track 30", "Track 31", "Track 32",
    "Track 33", "Track 34", "Track 35", "Track 36", "Track 37", "Track 38", "Track 39", "Track 40",
    "Track 41", "Track 42", "Track 43", "Track 44", "Track 45", "Track 46", "Track 47", "Track 48",
    "Track 49", "Track 50", "Track 51", "Track 52", "Track 53", "Track 54", "Track 55", "Track 56",
    "Track 57", "Track 58", "Track 59", "Track 60", "Track 61", "Track 62", "Track 63", "Track 64",
    "Track 65", "Track 66", "Track 67", "Track 68", "Track 69", "Track 70", "Track 71", "Track 72",
    "Track 73", "Track 74", "Track 75", "Track 76", "Track 77", "Track 78", "Track 79", "Track 80",
    "Track 81", "Track 82", "Track 83", "Track 84", "Track 85", "Track 86", "Track 87", "Track 88",
    "Track 89", "Track 90", "Track 91", "Track 92", "Track 93", "Track 94", "Track 95", "Track 96",
    "Track 97", "Track 98", "Track 99",
];

/// A track as every container describes it, for [`ContainerInfo::details`].
struct TrackDesc {
    number: u8,
    mode: TrackMode,
    lba: u64,
    sectors: u64,
}

fn track_details(tracks: &[TrackDesc]) -> Vec<(&'static str, String)> {
    tracks
        .iter()
        .map(|t| {
            let label = TRACK_LABELS
                .get(usize::from(t.number).wrapping_sub(1))
                .copied()
                .unwrap_or("Track");
            (
                label,
                format!(
                    "{} at sector {}, {} sectors",
                    t.mode.name(),
                    t.lba,
                    t.sectors
                ),
            )
        })
        .collect()
}

/// Reads a whole small side file (cue sheet, descriptor), at most `max` bytes.
fn read_small(src: &dyn ReadAt, what: &str, max: u64) -> Result<Vec<u8>> {
    if src.len() > max {
        return Err(Error::Unsupported(format!(
            "{what} of {} bytes (at most {max} read)",
            src.len()
        )));
    }
    let mut b = vec![0; src.len() as usize];
    src.read_exact_at(0, &mut b)
        .map_err(|e| Error::io(0, b.len(), e))?;
    Ok(b)
}

/// The first of `X.ext`, `X.EXT` next to the image `X.y` that exists: a
/// sidecar. One that cannot be opened counts as absent (an S3 store
/// refuses a missing key to a reader without `s3:ListBucket`).
fn sidecar(hood: &dyn Neighbours, ext: &str) -> Option<Neighbour> {
    siblings(hood, ext)
        .into_iter()
        .find_map(|name| match hood.open(&name) {
            Ok(found) => found,
            Err(e) => {
                log::debug!("{name}: {e}");
                None
            }
        })
}

/// The data file of a descriptor opened as the image (`X.mdf` for `X.mds`,
/// `X.img` for `X.ccd`), or an error naming it.
fn data_file(hood: &dyn Neighbours, ext: &str) -> Result<Neighbour> {
    let names = siblings(hood, ext);
    for n in &names {
        if let Some(found) = hood.open(n).map_err(|e| Error::io(0, 0, e))? {
            return Ok(found);
        }
    }
    let shown = names.first().cloned().unwrap_or_else(|| format!("?.{ext}"));
    Err(missing(hood, &shown))
}

/// `X.ext` and `X.EXT` for the image `X.y` (a path or a URL); one name if
/// they are the same, none if the image's name has no stem.
fn siblings(hood: &dyn Neighbours, ext: &str) -> Vec<String> {
    let image = hood.image_name();
    let Some(stem) = Path::new(&image).file_stem() else {
        return Vec::new();
    };
    let stem = stem.to_string_lossy();
    let mut names = vec![
        format!("{stem}.{ext}"),
        format!("{stem}.{}", ext.to_ascii_uppercase()),
    ];
    names.dedup();
    names
}

/// A file a container names that is not there.
fn missing(hood: &dyn Neighbours, name: &str) -> Error {
    Error::io(
        0,
        0,
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("{name}: no such file next to {}", hood.image_name()),
        ),
    )
}

/// A file a container names: as named (a relative path), else its base
/// name next to the image (a path from another machine, such as
/// `C:\rips\x.bin`). The image itself is not opened again.
fn named_file(
    hood: &dyn Neighbours,
    name: &str,
    image: Option<&Arc<dyn ReadAt>>,
) -> Result<Option<Neighbour>> {
    let as_named = name.replace('\\', "/");
    let base = as_named.rsplit('/').next().unwrap_or(&as_named).to_owned();
    for n in [as_named.as_str(), base.as_str()] {
        if n.is_empty() {
            continue;
        }
        if let Some(src) = image.filter(|_| hood.is_image(n)) {
            return Ok(Some((hood.image_name(), Arc::clone(src))));
        }
        if let Some(found) = hood.open(n).map_err(|e| Error::io(0, 0, e))? {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

fn extension(name: Option<&str>) -> String {
    name.and_then(|n| Path::new(n).extension())
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
}

/// The neighbours containers look in: `neighbours` if given, else the
/// directory of the local file `image_path`.
pub(crate) fn neighbours_of(
    neighbours: &Option<Arc<dyn Neighbours>>,
    image_path: Option<&Path>,
) -> Option<Arc<dyn Neighbours>> {
    neighbours
        .clone()
        .or_else(|| image_path.map(|p| Arc::new(LocalDir::new(p)) as Arc<dyn Neighbours>))
}

/// Detects the container of `source` from its content (and, when `hood`
/// says where the image lies, from sidecar files such as a `.cue` sheet)
/// and returns the logical view of its data track: 2048-byte sectors from
/// 0.
pub(crate) fn open(
    source: Arc<dyn ReadAt>,
    hood: Option<&dyn Neighbours>,
) -> Result<(Arc<dyn ReadAt>, ContainerInfo)> {
    open_raw(source, hood).map(|(view, info, _)| (view, info))
}

/// Where the data track's raw sectors lie, for a container that stores
/// them raw (2352, 2448 or 2336 bytes each): what `verify` checks the EDC
/// and ECC of (ECMA-130 14).
#[derive(Clone)]
pub(crate) struct RawTrack {
    /// The file holding the sectors.
    pub src: Arc<dyn ReadAt>,
    /// Byte offset of the track's first sector in `src`.
    pub start: u64,
    /// How the sectors are stored.
    pub mode: TrackMode,
    /// Sectors of the track present in `src`.
    pub sectors: u64,
}

/// What [`open_raw`] and the container openers return: the logical view,
/// its description and, for raw sectors, where they are.
pub(crate) type Opened = (Arc<dyn ReadAt>, ContainerInfo, Option<RawTrack>);

/// [`open`], also saying where the data track's raw sectors are.
pub(crate) fn open_raw(source: Arc<dyn ReadAt>, hood: Option<&dyn Neighbours>) -> Result<Opened> {
    if let Some((view, info)) = cso::open(&source)? {
        return Ok((view, info, None));
    }
    if let Some((version, first)) = nrg::detect(&*source)? {
        return open_nrg(source, version, first);
    }
    let mut head = vec![0; source.len().min(4096) as usize];
    source
        .read_exact_at(0, &mut head)
        .map_err(|e| Error::io(0, head.len(), e))?;
    let image_name = hood.map(|h| h.image_name());
    if source.len() <= cue::MAX_CUE_BYTES && cue::looks_like_cue(&head) {
        let text = read_small(&*source, "cue sheet", cue::MAX_CUE_BYTES)?;
        let (Some(hood), Some(name)) = (hood, &image_name) else {
            return Err(Error::Unsupported(
                "a cue sheet given without its file name: its BIN cannot be found".into(),
            ));
        };
        return open_cue(&text, hood, name, None);
    }
    if mdf::is_mds(&head) {
        let (Some(hood), Some(name)) = (hood, &image_name) else {
            return Err(Error::Unsupported(
                "an MDS descriptor given without its file name".into(),
            ));
        };
        let text = read_small(&*source, "MDS descriptor", mdf::MAX_MDS_BYTES)?;
        let (mdf_name, mdf) = data_file(hood, "mdf")?;
        return mds_raw(&text, name, mdf, &mdf_name);
    }
    if source.len() <= ccd::MAX_CCD_BYTES && ccd::looks_like_ccd(&head) {
        let (Some(hood), Some(name)) = (hood, &image_name) else {
            return Err(Error::Unsupported(
                "a CloneCD control file given without its file name".into(),
            ));
        };
        let text = read_small(&*source, "CloneCD control file", ccd::MAX_CCD_BYTES)?;
        let (img_name, img) = data_file(hood, "img")?;
        return ccd_raw(&text, name, img, &img_name);
    }
    if let (Some(hood), Some(name)) = (hood, &image_name) {
        let ext = extension(Some(name));
        if matches!(ext.as_str(), "bin" | "img" | "raw")
            && let Some((cue_name, cue)) = sidecar(hood, "cue")
        {
            let text = read_small(&*cue, "cue sheet", cue::MAX_CUE_BYTES)?;
            return open_cue(&text, hood, &cue_name, Some(&source));
        }
        if ext == "mdf"
            && let Some((mds_name, mds)) = sidecar(hood, "mds")
        {
            let text = read_small(&*mds, "MDS descriptor", mdf::MAX_MDS_BYTES)?;
            return mds_raw(&text, &mds_name, source, name);
        }
        if ext == "img"
            && let Some((ccd_name, ccd)) = sidecar(hood, "ccd")
        {
            let text = read_small(&*ccd, "CloneCD control file", ccd::MAX_CCD_BYTES)?;
            return ccd_raw(&text, &ccd_name, source, name);
        }
    }
    if let Some(mode) = sniff_raw(&*source)? {
        let sectors = source.len() / mode.sector_size();
        let kind = if extension(image_name.as_deref()) == "mdf" {
            format!("MDF (no MDS, {}-byte sectors)", mode.sector_size())
        } else {
            format!(
                "raw {}-byte sectors ({}, no cue sheet)",
                mode.sector_size(),
                mode.name()
            )
        };
        let details = track_details(&[TrackDesc {
            number: 1,
            mode,
            lba: 0,
            sectors,
        }]);
        return finish(source, 0, mode, sectors, kind, details);
    }
    Ok((
        source,
        ContainerInfo {
            kind: "plain".into(),
            details: Vec::new(),
        },
        None,
    ))
}

fn data_view(
    src: Arc<dyn ReadAt>,
    start: u64,
    mode: TrackMode,
    sectors: u64,
) -> Result<(Arc<dyn ReadAt>, Option<u64>)> {
    let map = SectorMap::new(src, start, mode, sectors)
        .ok_or_else(|| Error::NotRecognized("the data track is an audio track".into()))?;
    let map: Arc<dyn ReadAt> = Arc::new(map);
    // A track mastered for its place on the disc (CD-Extra) is shown at that place.
    Ok(match shift::disc_address(&*map)? {
        Some(d) => (Arc::new(shift::Shifted::new(map, d)), Some(d)),
        None => (map, None),
    })
}

/// The data track's view plus the container description.
fn finish(
    src: Arc<dyn ReadAt>,
    start: u64,
    mode: TrackMode,
    sectors: u64,
    kind: String,
    mut details: Vec<(&'static str, String)>,
) -> Result<Opened> {
    let raw = (mode.sector_size() != sector::USER).then(|| RawTrack {
        src: Arc::clone(&src),
        start,
        mode,
        sectors: sectors.min(src.len().saturating_sub(start) / mode.sector_size()),
    });
    let (view, shift) = data_view(src, start, mode, sectors)?;
    if let Some(d) = shift {
        details.push((
            "Disc address",
            format!(
                "the data track's volume counts from disc sector {d} (mastered for a later session)"
            ),
        ));
    }
    Ok((view, ContainerInfo { kind, details }, raw))
}

fn no_data_track() -> Error {
    Error::NotRecognized("the disc has only audio tracks: no data track to read".into())
}

/// Recognises raw sectors with no description: 2352-byte sectors start with
/// the sync pattern (ECMA-130 14.1) and carry the volume descriptors of sector
/// 16 (ECMA-119 6.2.1) or a UDF anchor at 256 (ECMA-167 3/8.4.2.1) in their
/// user data; 2336-byte sectors are found by that user data alone.
fn sniff_raw(src: &dyn ReadAt) -> Result<Option<TrackMode>> {
    let probe = |mode: TrackMode| -> Result<bool> {
        let ss = mode.sector_size();
        let off = mode.data_offset().unwrap_or(0);
        for (sector, want) in [(16u64, &b"CD001"[..]), (16, b"BEA01"), (256, &[2u8, 0][..])] {
            let at = sector * ss;
            if at + ss > src.len() {
                continue;
            }
            let mut sec = vec![0; ss as usize];
            src.read_exact_at(at, &mut sec)
                .map_err(|e| Error::io(at, sec.len(), e))?;
            // Sync, then the header's mode byte (ECMA-130 14.2): 1 or 2.
            let mode_byte = if mode.data_offset() == Some(16) { 1 } else { 2 };
            if ss != 2336 && (!sec.starts_with(&SYNC) || sec.get(15) != Some(&mode_byte)) {
                continue;
            }
            // A volume descriptor's identifier follows its type byte; an
            // anchor's tag identifier is its first two bytes.
            let user = sec.get(off as usize..).unwrap_or_default();
            let hit = if want.len() == 5 {
                user.get(1..6) == Some(want)
            } else {
                user.starts_with(want)
            };
            if hit {
                return Ok(true);
            }
        }
        Ok(false)
    };
    for mode in [
        TrackMode::Mode1Raw,
        TrackMode::Mode2Raw,
        TrackMode::Mode1RawSub,
        TrackMode::Mode2RawSub,
        TrackMode::Mode2Headerless,
    ] {
        if probe(mode)? {
            return Ok(Some(mode));
        }
    }
    Ok(None)
}

/// The cue sheet `cue_name` next to the image; `image` is the image's
/// source when the user opened a BIN and the cue is its sidecar.
fn open_cue(
    text: &[u8],
    hood: &dyn Neighbours,
    cue_name: &str,
    image: Option<&Arc<dyn ReadAt>>,
) -> Result<Opened> {
    let sheet = cue::parse(&String::from_utf8_lossy(text))?;
    let files = sheet
        .files
        .iter()
        .map(|f| named_file(hood, &f.name, image))
        .collect::<Result<Vec<_>>>()?;
    let file_len = |i: usize| -> Option<u64> {
        files
            .get(i)
            .and_then(Option::as_ref)
            .map(|(_, src)| src.len())
    };
    let placed = cue::layout(&sheet, &file_len)?;
    let data = placed
        .iter()
        .find(|t| t.mode != TrackMode::Audio)
        .ok_or_else(no_data_track)?;
    // `layout` numbers the files of the sheet.
    let (data_name, src) = match files.get(data.file) {
        Some(Some((name, src))) => (name.clone(), Arc::clone(src)),
        _ => {
            let named = sheet.files.get(data.file).map_or("", |f| f.name.as_str());
            return Err(missing(hood, named));
        }
    };
    let mut details = track_details(
        &placed
            .iter()
            .map(|t| TrackDesc {
                number: t.number,
                mode: t.mode,
                lba: t.lba,
                sectors: t.sectors,
            })
            .collect::<Vec<_>>(),
    );
    details.push(("Cue sheet", cue_name.to_owned()));
    details.push(("Data file", data_name));
    details.push(("Data track", data.number.to_string()));
    let kind = format!("BIN/CUE ({})", data.mode.name());
    finish(src, data.offset, data.mode, data.sectors, kind, details)
}

fn open_nrg(source: Arc<dyn ReadAt>, version: u8, first: u64) -> Result<Opened> {
    let n = nrg::parse(&*source, version, first)?;
    let mut lba = 0;
    let descs: Vec<TrackDesc> = n
        .tracks
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let d = TrackDesc {
                number: u8::try_from(i + 1).unwrap_or(u8::MAX),
                mode: t.mode,
                lba,
                sectors: t.sectors,
            };
            lba += t.sectors;
            d
        })
        .collect();
    let (i, data) = n
        .tracks
        .iter()
        .enumerate()
        .find(|(_, t)| t.mode != TrackMode::Audio)
        .ok_or_else(no_data_track)?;
    let mut details = track_details(&descs);
    details.push(("Data track", (i + 1).to_string()));
    let kind = format!("NRG v{} ({}, {})", n.version, n.layout, data.mode.name());
    finish(source, data.offset, data.mode, data.sectors, kind, details)
}

#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn open_mds(
    text: &[u8],
    mds_name: &str,
    mdf: Arc<dyn ReadAt>,
    mdf_name: &str,
) -> Result<(Arc<dyn ReadAt>, ContainerInfo)> {
    mds_raw(text, mds_name, mdf, mdf_name).map(|(view, info, _)| (view, info))
}

/// [`open_mds`], also saying where the raw sectors are.
fn mds_raw(text: &[u8], mds_name: &str, mdf: Arc<dyn ReadAt>, mdf_name: &str) -> Result<Opened> {
    let tracks = mdf::parse(text)?;
    let data = tracks
        .iter()
        .find(|t| t.mode != TrackMode::Audio)
        .ok_or_else(no_data_track)?;
    let sectors = if data.sectors == 0 {
        mdf.len().saturating_sub(data.offset) / data.mode.sector_size()
    } else {
        data.sectors
    };
    if data.offset >= mdf.len() {
        return Err(Error::corrupt(
            "MDS descriptor",
            crate::error::Location::sector(0),
            format!(
                "track {} starts at byte {} of {}, which has {} bytes",
                data.number,
                data.offset,
                mdf_name,
                mdf.len()
            ),
        ));
    }
    let mut details = track_details(
        &tracks
            .iter()
            .map(|t| TrackDesc {
                number: t.number,
                mode: t.mode,
                lba: u64::from(t.lba),
                sectors: t.sectors,
            })
            .collect::<Vec<_>>(),
    );
    details.push(("Descriptor", mds_name.to_owned()));
    details.push(("Data file", mdf_name.to_owned()));
    let kind = format!("MDF/MDS ({})", data.mode.name());
    finish(mdf, data.offset, data.mode, sectors, kind, details)
}

#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn open_ccd(
    text: &[u8],
    ccd_name: &str,
    img: Arc<dyn ReadAt>,
    img_name: &str,
) -> Result<(Arc<dyn ReadAt>, ContainerInfo)> {
    ccd_raw(text, ccd_name, img, img_name).map(|(view, info, _)| (view, info))
}

/// [`open_ccd`], also saying where the raw sectors are.
fn ccd_raw(text: &[u8], ccd_name: &str, img: Arc<dyn ReadAt>, img_name: &str) -> Result<Opened> {
    let tracks = ccd::parse(&String::from_utf8_lossy(text))?;
    let data = tracks
        .iter()
        .find(|t| t.mode != TrackMode::Audio)
        .ok_or_else(no_data_track)?;
    let start = data.lba.saturating_mul(2352);
    let sectors = data
        .sectors
        .unwrap_or_else(|| img.len().saturating_sub(start) / 2352);
    let mut details = track_details(
        &tracks
            .iter()
            .map(|t| TrackDesc {
                number: t.number,
                mode: t.mode,
                lba: t.lba,
                sectors: t
                    .sectors
                    .unwrap_or_else(|| img.len().saturating_sub(t.lba.saturating_mul(2352)) / 2352),
            })
            .collect::<Vec<_>>(),
    );
    details.push(("Control file", ccd_name.to_owned()));
    details.push(("Data file", img_name.to_owned()));
    let kind = format!("CloneCD (CCD/IMG, {})", data.mode.name());
    finish(img, start, data.mode, sectors, kind, details)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::MemSource;

    fn iso_like(sectors: u64) -> Vec<u8> {
        let mut v = vec![0u8; (sectors * 2048) as usize];
        v[16 * 2048..16 * 2048 + 6].copy_from_slice(b"\x01CD001");
        v
    }

    fn raw(user: &[u8], mode: TrackMode) -> Vec<u8> {
        let mut out = Vec::new();
        for s in user.chunks(2048) {
            let mut sec = vec![0u8; mode.sector_size() as usize];
            if mode.sector_size() != 2336 {
                sec[..12].copy_from_slice(&SYNC);
                sec[15] = if mode.data_offset() == Some(16) { 1 } else { 2 };
            }
            let o = mode.data_offset().unwrap() as usize;
            sec[o..o + 2048].copy_from_slice(s);
            out.extend(sec);
        }
        out
    }

    #[test]
    fn raw_sectors_without_a_cue_are_found_by_content() {
        let iso = iso_like(20);
        for mode in [
            TrackMode::Mode1Raw,
            TrackMode::Mode2Raw,
            TrackMode::Mode1RawSub,
            TrackMode::Mode2RawSub,
            TrackMode::Mode2Headerless,
        ] {
            let src: Arc<dyn ReadAt> = Arc::new(MemSource::new(raw(&iso, mode)));
            let (view, info) = open(src, None).unwrap();
            assert!(info.kind.contains(mode.name()), "{}", info.kind);
            let mut all = vec![0; iso.len()];
            view.read_exact_at(0, &mut all).unwrap();
            assert_eq!(all, iso);
        }
        let (_, info) = open(Arc::new(MemSource::new(iso)), None).unwrap();
        assert_eq!(info.kind, "plain");
        // A UDF-only volume (no CD001): found by "BEA01" at sector 16.
        let mut udf = vec![0u8; 20 * 2048];
        udf[16 * 2048 + 1..16 * 2048 + 6].copy_from_slice(b"BEA01");
        let src: Arc<dyn ReadAt> = Arc::new(MemSource::new(raw(&udf, TrackMode::Mode2Headerless)));
        let (view, info) = open(src, None).unwrap();
        assert!(info.kind.contains("2336"), "{}", info.kind);
        assert_eq!(view.len(), udf.len() as u64);
    }

    #[test]
    fn a_cue_without_a_path_and_an_audio_only_nrg_are_errors() {
        let src: Arc<dyn ReadAt> = Arc::new(MemSource::new(
            b"FILE \"a.bin\" BINARY\nTRACK 01 MODE1/2352\nINDEX 01 00:00:00\n".to_vec(),
        ));
        assert!(matches!(open(src, None), Err(Error::Unsupported(_))));
        let dir = std::env::temp_dir().join(format!("isomount-cue-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cue = dir.join("x.cue");
        std::fs::write(
            &cue,
            b"FILE \"missing.bin\" BINARY\nTRACK 01 MODE1/2352\nINDEX 01 00:00:00\n",
        )
        .unwrap();
        let src: Arc<dyn ReadAt> = Arc::new(crate::source::FileSource::open(&cue).unwrap());
        let e = open(src, Some(&LocalDir::new(&cue))).err().unwrap();
        assert!(matches!(e, Error::Io { .. }), "{e}");
        assert!(e.to_string().contains("missing.bin"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
