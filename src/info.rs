//! `isomount info`: what the image is.

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::Result;
use fs_core::{Timestamp, ViewReport, Volume};
use serde_json::{Value, json};

fn date(t: Option<Timestamp>) -> Value {
    t.map_or(Value::Null, |t| json!(t.to_rfc3339()))
}

/// The `info --json` object (shape in the README).
pub fn to_json(vol: &Volume, report: &ViewReport) -> Value {
    let i = vol.info();
    let stats = vol.cache_stats();
    let ids: BTreeMap<&str, &str> = i.ids.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut extra: BTreeMap<&str, &str> = i.extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
    extra.extend(report.notes.iter().map(|(k, v)| (*k, v.as_str())));
    // Root entry count per view; null for a view that cannot be listed.
    let view_roots: BTreeMap<&str, Value> = report
        .views
        .iter()
        .map(|s| {
            (
                s.view.as_str(),
                s.root_entries.as_ref().map_or(Value::Null, |n| json!(n)),
            )
        })
        .collect();
    let container = vol.container();
    let details: BTreeMap<&str, &str> = container
        .details
        .iter()
        .map(|(k, v)| (*k, v.as_str()))
        .collect();
    json!({
        "container": {"kind": container.kind, "details": details},
        "view_roots": view_roots,
        "format": i.format,
        "view": vol.view().as_str(),
        "views": i.views.iter().map(|v| v.as_str()).collect::<Vec<_>>(),
        "label": i.label,
        "ids": ids,
        "block_size": i.block_size,
        "volume_blocks": i.volume_blocks,
        "image_size": i.image_size,
        "created": date(i.created),
        "modified": date(i.modified),
        "expires": date(i.expires),
        "effective": date(i.effective),
        "extra": extra,
        "cache": {"hits": stats.hits, "misses": stats.misses},
        "boot": boot_json(vol),
    })
}

/// The El Torito catalog: one object per boot image, in catalog order.
fn boot_json(vol: &Volume) -> Value {
    vol.boot_images()
        .iter()
        .map(|b| {
            let e = &b.entry;
            json!({
                "name": b.name,
                "size": b.size,
                "platform": fs_core::iso9660::el_torito::platform_name(e.platform),
                "platform_id": e.platform,
                "bootable": e.bootable,
                "media": e.media.as_str(),
                "load_segment": e.load_segment,
                "load_segment_effective": e.effective_load_segment(),
                "system_type": e.system_type,
                "sector_count": e.sector_count,
                "load_rba": e.load_rba,
            })
        })
        .collect()
}

/// Prints the facts about `vol`.
pub fn run(vol: &Volume, json: bool, out: &mut impl Write) -> Result<()> {
    let report = vol.view_report();
    if json {
        let mut v = to_json(vol, &report);
        // Transfer figures of a remote image (null for a local one), as of
        // the end of `info`'s own reads.
        v["remote"] = crate::remote::stats_json().unwrap_or(Value::Null);
        writeln!(out, "{v}")?;
        return Ok(());
    }
    let i = vol.info();
    let views: Vec<String> = report
        .views
        .iter()
        .map(|s| match &s.root_entries {
            Ok(1) => format!("{} (1 root entry)", s.view),
            Ok(n) => format!("{} ({n} root entries)", s.view),
            Err(e) => format!("{} (unreadable: {e})", s.view),
        })
        .collect();
    let date = |t: Option<Timestamp>| t.map_or_else(|| "-".to_string(), Timestamp::to_rfc3339);
    let mut rows: Vec<(String, String)> = vec![
        ("Container".into(), vol.container().kind.clone()),
        ("Format".into(), i.format.clone()),
        ("View".into(), vol.view().to_string()),
        ("Views".into(), views.join(", ")),
        ("Label".into(), i.label.clone()),
    ];
    rows.extend(
        vol.container()
            .details
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone())),
    );
    rows.extend(i.ids.iter().map(|(k, v)| (human(k), v.clone())));
    rows.extend([
        ("Block size".into(), i.block_size.to_string()),
        ("Volume blocks".into(), i.volume_blocks.to_string()),
        ("Image size".into(), format!("{} bytes", i.image_size)),
        ("Created".into(), date(i.created)),
        ("Modified".into(), date(i.modified)),
        ("Expires".into(), date(i.expires)),
        ("Effective".into(), date(i.effective)),
    ]);
    rows.extend(i.extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
    rows.extend(report.notes.iter().map(|(k, v)| (k.to_string(), v.clone())));
    let width = rows
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0)
        + 1;
    for (k, v) in rows {
        writeln!(out, "{:<width$} {v}", format!("{k}:"), width = width)?;
    }
    Ok(())
}

/// `data_preparer_id` → `Data preparer id`, for the text output.
fn human(key: &str) -> String {
    let spaced = key.replace('_', " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => spaced,
    }
}
