//! Directory pages: HTML with one link per entry (what browsers and
//! `wget -r` follow) and JSON for programs (`Accept: application/json`).

use std::fmt::Write as _;

use fs_core::{DirEntry, FileType, Volume};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::json;

/// Everything but RFC 3986's unreserved characters is percent-encoded in
/// links: a name holding `%`, `#`, `?`, `;`, `\` or a space still makes a
/// relative link that leads back to exactly that name.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// One row of a listing.
pub struct Row {
    /// The entry's name.
    pub name: String,
    /// What the link leads to: a directory's link ends with `/`.
    pub is_dir: bool,
    /// The entry's own type (a symbolic link says so).
    pub kind: FileType,
    /// Size in bytes (0 for directories).
    pub size: u64,
    /// Modification time, RFC 3339 (empty when unknown).
    pub mtime: String,
}

/// The rows of directory listing `entries` of `vol`, sorted by name.
/// An entry whose node cannot be read is listed with what the listing
/// knows (name and type).
pub fn rows(vol: &Volume, entries: &[DirEntry]) -> Vec<Row> {
    let mut rows: Vec<Row> = entries
        .iter()
        .map(|e| {
            let attr = vol.attr(e.id).ok();
            // A link to a directory is listed as a link; its URL answers
            // with a redirect to the slash form, which clients follow.
            let is_dir = e.kind == FileType::Directory;
            Row {
                name: e.name.clone(),
                is_dir,
                kind: e.kind,
                size: match e.kind {
                    FileType::Regular => attr.as_ref().map_or(0, |a| a.size),
                    _ => 0,
                },
                mtime: attr.map_or_else(String::new, |a| a.mtime.to_rfc3339()),
            }
        })
        .collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    rows
}

/// `name` as one percent-encoded path segment.
pub fn encode_segment(name: &str) -> String {
    utf8_percent_encode(name, SEGMENT).to_string()
}

/// Escapes text for HTML content and quoted attribute values.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// The HTML page of directory `shown` (its decoded URL path, ending in
/// `/`). Links are relative, so the page works under any prefix.
pub fn html(shown: &str, rows: &[Row]) -> String {
    let title = escape(&format!("Index of {shown}"));
    let mut s = String::with_capacity(512 + rows.len() * 160);
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\
         <title>{title}</title></head>\n<body>\n<h1>{title}</h1>\n<table>\n\
         <tr><th>Name</th><th>Size</th><th>Modified</th></tr>\n"
    );
    if shown != "/" {
        s.push_str("<tr><td><a href=\"../\">../</a></td><td></td><td></td></tr>\n");
    }
    for r in rows {
        let slash = if r.is_dir { "/" } else { "" };
        let size = if r.kind == FileType::Regular {
            r.size.to_string()
        } else {
            "-".into()
        };
        // "./" first: a name with a colon must not read as a URL scheme.
        let _ = writeln!(
            s,
            "<tr><td><a href=\"./{href}{slash}\">{text}{slash}</a></td><td>{size}</td><td>{mtime}</td></tr>",
            href = encode_segment(&r.name),
            text = escape(&r.name),
            mtime = escape(&r.mtime),
        );
    }
    s.push_str("</table>\n</body></html>\n");
    s
}

/// The JSON document of directory `shown`: `{"path", "entries": [{"name",
/// "type", "size", "mtime"}]}`.
pub fn json(shown: &str, rows: &[Row]) -> String {
    let entries: Vec<_> = rows
        .iter()
        .map(|r| {
            json!({
                "name": r.name,
                "type": r.kind.as_str(),
                "size": r.size,
                "mtime": r.mtime,
            })
        })
        .collect();
    let mut s = json!({ "path": shown, "entries": entries }).to_string();
    s.push('\n');
    s
}

/// True when the `Accept` header asks for JSON before HTML.
pub fn wants_json(accept: Option<&str>) -> bool {
    let Some(accept) = accept else { return false };
    let pos = |what: &str| {
        accept
            .split(',')
            .position(|m| m.trim().to_ascii_lowercase().starts_with(what))
    };
    match (pos("application/json"), pos("text/html")) {
        (Some(j), Some(h)) => j < h,
        (Some(_), None) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, is_dir: bool) -> Row {
        Row {
            name: name.into(),
            is_dir,
            kind: if is_dir {
                FileType::Directory
            } else {
                FileType::Regular
            },
            size: 3,
            mtime: "2020-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn links_are_encoded_and_names_escaped() {
        let page = html(
            "/d/",
            &[
                row("a b%#?.txt", false),
                row("<sub>", true),
                row("c:x", false),
            ],
        );
        assert!(page.contains("href=\"./a%20b%25%23%3F.txt\">a b%#?.txt</a>"));
        assert!(page.contains("href=\"./%3Csub%3E/\">&lt;sub&gt;/</a>"));
        assert!(page.contains("href=\"./c%3Ax\""));
        assert!(page.contains("href=\"../\""));
        assert!(!html("/", &[]).contains("../"));
    }

    #[test]
    fn json_lists_entries() {
        let v: serde_json::Value =
            serde_json::from_str(&json("/", &[row("x", false), row("d", true)])).unwrap();
        assert_eq!(v["path"], "/");
        assert_eq!(v["entries"][0]["name"], "x");
        assert_eq!(v["entries"][0]["size"], 3);
        assert_eq!(v["entries"][1]["type"], FileType::Directory.as_str());
    }

    #[test]
    fn accept() {
        assert!(wants_json(Some("application/json")));
        assert!(wants_json(Some("application/json, text/html;q=0.5")));
        assert!(!wants_json(Some("text/html,application/json")));
        assert!(!wants_json(Some("*/*")));
        assert!(!wants_json(None));
    }
}
