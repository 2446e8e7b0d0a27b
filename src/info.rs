//! `isomount info`: what the image is.

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::Result;
use fs_core::{Timestamp, Volume};
use serde_json::{Value, json};

fn date(t: Option<Timestamp>) -> Value {
    t.map_or(Value::Null, |t| json!(t.to_rfc3339()))
}

/// The `info --json` object (shape in the contract).
pub fn to_json(vol: &Volume) -> Value {
    let i = vol.info();
    let stats = vol.cache_stats();
    let ids: BTreeMap<&str, &str> = i.ids.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let extra: BTreeMap<&str, &str> = i.extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
    json!({
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
    })
}

/// Prints the facts about `vol`.
pub fn run(vol: &Volume, json: bool, out: &mut impl Write) -> Result<()> {
    if json {
        writeln!(out, "{}", to_json(vol))?;
        return Ok(());
    }
    let i = vol.info();
    let views: Vec<&str> = i.views.iter().map(|v| v.as_str()).collect();
    let date = |t: Option<Timestamp>| t.map_or_else(|| "-".to_string(), Timestamp::to_rfc3339);
    let mut rows: Vec<(String, String)> = vec![
        ("Format".into(), i.format.clone()),
        ("View".into(), vol.view().to_string()),
        ("Views".into(), views.join(", ")),
        ("Label".into(), i.label.clone()),
    ];
    rows.extend(i.ids.iter().map(|(k, v)| (k.to_string(), v.clone())));
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
