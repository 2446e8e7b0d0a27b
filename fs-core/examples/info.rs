//! Prints what an image is: container, format, the trees (views) it holds
//! and how they compare, label and identifiers, sizes, dates, and its El
//! Torito boot images.
//!
//! ```text
//! cargo run -p fs-core --example info -- IMAGE
//! ```
//!
//! The same facts as `isomount info`, through the library alone: [`Volume::info`]
//! ([`VolumeInfo`]), [`Volume::container`], [`Volume::view_report`] (every
//! view with its root entry count and, on a UDF bridge disc, where the UDF
//! and ISO 9660 trees disagree) and [`Volume::boot_images`] (the El Torito
//! catalog, Phoenix/IBM El Torito 1.0 section 2).

use std::error::Error;
use std::io::{self, Write};
use std::process::ExitCode;

use fs_core::{OpenOptions, Timestamp, Volume, VolumeInfo};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut out = io::stdout().lock();
    match run(&args, &mut out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("info: {e}");
            ExitCode::FAILURE
        }
    }
}

const USAGE: &str = "usage: info IMAGE";

/// Describes the image `args` names on `out`.
/// (`pub`: `tests/examples.rs` runs it in-process.)
pub fn run(args: &[String], out: &mut impl Write) -> Result<(), Box<dyn Error>> {
    let [image] = args else {
        return Err(USAGE.into());
    };
    let vol =
        Volume::open_path(image, &OpenOptions::default()).map_err(|e| format!("{image}: {e}"))?;
    let info: &VolumeInfo = vol.info();
    let row = |out: &mut dyn Write, label: &str, value: &str| writeln!(out, "{label:<16} {value}");

    row(out, "Container", &vol.container().kind)?;
    for (label, value) in &vol.container().details {
        row(out, label, value)?;
    }
    row(out, "Format", &info.format)?;
    row(out, "View", vol.view().as_str())?;
    let report = vol.view_report();
    for summary in &report.views {
        let entries = match &summary.root_entries {
            Ok(1) => "1 root entry".to_string(),
            Ok(n) => format!("{n} root entries"),
            Err(e) => format!("unreadable: {e}"),
        };
        row(out, "  view", &format!("{} ({entries})", summary.view))?;
    }
    for (label, note) in &report.notes {
        row(out, label, note)?;
    }
    row(out, "Label", &info.label)?;
    for (label, value) in &info.ids {
        row(out, label, value)?;
    }
    row(out, "Block size", &info.block_size.to_string())?;
    row(out, "Volume blocks", &info.volume_blocks.to_string())?;
    row(out, "Image size", &format!("{} bytes", info.image_size))?;
    let dates: [(&str, Option<Timestamp>); 4] = [
        ("Created", info.created),
        ("Modified", info.modified),
        ("Expires", info.expires),
        ("Effective", info.effective),
    ];
    for (label, date) in dates {
        if let Some(date) = date {
            row(out, label, &date.to_rfc3339())?;
        }
    }
    for (label, value) in &info.extra {
        row(out, label, value)?;
    }

    let boot = vol.boot_images();
    if boot.is_empty() {
        row(out, "Boot images", "none (no El Torito catalog)")?;
    }
    for image in &boot {
        let e = &image.entry;
        row(
            out,
            "Boot image",
            &format!(
                "{} ({} bytes): {}, {}, {}, load segment {:#06x}, {} sectors of 512 bytes at LBA {}",
                image.name,
                image.size,
                e.platform_name(),
                if e.bootable {
                    "bootable"
                } else {
                    "not bootable"
                },
                e.media.as_str(),
                e.effective_load_segment(),
                e.sector_count,
                e.load_rba,
            ),
        )?;
    }
    Ok(())
}
