//! `tests/data/doc.iso`, the image the crate docs and examples open, holds
//! exactly the tree `tests/data/doc-tree` it was made from
//! (`ci/make-doc-image.sh`): same paths, types and bytes, in each of its
//! views, and bsdtar (libarchive, an independent reader) agrees. So the
//! committed image and tree cannot drift apart unnoticed.
// Test code: panicking on a failed expectation is the point.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use fs_core::{FileType, NodeId, OpenOptions, View, Volume};

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// A tree as path (relative, '/'-separated) → `None` for a directory, the
/// bytes for a file.
type Tree = BTreeMap<String, Option<Vec<u8>>>;

/// A directory tree on the local file system.
fn local_tree(root: &Path) -> Tree {
    fn rec(root: &Path, dir: &Path, out: &mut Tree) {
        for e in fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap();
            let rel: Vec<_> = rel
                .components()
                .map(|c| c.as_os_str().to_str().unwrap())
                .collect();
            let rel = rel.join("/");
            let md = fs::symlink_metadata(&p).unwrap();
            if md.is_dir() {
                out.insert(rel, None);
                rec(root, &p, out);
            } else {
                assert!(md.is_file(), "{}: only files and directories", p.display());
                out.insert(rel, Some(fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = Tree::new();
    rec(root, root, &mut out);
    out
}

/// Reads a whole file in small pieces at increasing offsets.
fn read_all(vol: &Volume, id: NodeId) -> Vec<u8> {
    let size = vol.attr(id).unwrap().size;
    let mut out = Vec::new();
    let mut buf = [0u8; 77];
    loop {
        let n = vol.read(id, out.len() as u64, &mut buf).unwrap();
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    assert_eq!(out.len() as u64, size);
    out
}

/// The tree a volume shows.
fn volume_tree(vol: &Volume) -> Tree {
    let mut out = Tree::new();
    let mut stack = vec![(vol.root(), String::new())];
    while let Some((dir, prefix)) = stack.pop() {
        let listing = vol.read_dir(dir).unwrap();
        assert!(listing.problems().is_empty(), "{:?}", listing.problems());
        for e in listing.entries() {
            let path = if prefix.is_empty() {
                e.name.clone()
            } else {
                format!("{prefix}/{}", e.name)
            };
            match e.kind {
                FileType::Directory => {
                    out.insert(path.clone(), None);
                    stack.push((e.id, path));
                }
                FileType::Regular => {
                    out.insert(path, Some(read_all(vol, e.id)));
                }
                other => panic!("{path}: unexpected {other:?}"),
            }
        }
    }
    out
}

fn open(view: View) -> Volume {
    let opts = OpenOptions {
        view: Some(view),
        ..OpenOptions::default()
    };
    Volume::open_path(data().join("doc.iso"), &opts).unwrap()
}

#[test]
fn the_doc_tree_has_nested_directories_and_files() {
    // The crate docs walk it recursively: there must be something to walk.
    let tree = local_tree(&data().join("doc-tree"));
    assert!(tree.keys().any(|p| p.matches('/').count() >= 2), "{tree:?}");
    assert!(
        tree.contains_key("README.TXT"),
        "the quick start reads README.TXT"
    );
}

#[test]
fn rock_ridge_and_joliet_views_equal_the_tree() {
    let tree = local_tree(&data().join("doc-tree"));
    for view in [View::RockRidge, View::Joliet] {
        let vol = open(view);
        assert_eq!(vol.view(), view);
        assert_eq!(volume_tree(&vol), tree, "{view} view");
    }
}

#[test]
fn the_default_view_is_rock_ridge_and_every_view_is_there() {
    let vol = Volume::open_path(data().join("doc.iso"), &OpenOptions::default()).unwrap();
    assert_eq!(vol.view(), View::RockRidge);
    assert_eq!(
        vol.info().views,
        [View::RockRidge, View::Joliet, View::Iso9660]
    );
    assert!(vol.boot_images().is_empty());
}

#[test]
fn the_plain_iso9660_view_holds_the_same_files_under_8_3_names() {
    // ECMA-119 level 1 names (upper case, 8.3) differ from the tree's; the
    // number of directories and the file contents do not.
    let tree = local_tree(&data().join("doc-tree"));
    let iso = volume_tree(&open(View::Iso9660));
    let dirs = |t: &Tree| t.values().filter(|v| v.is_none()).count();
    let files = |t: &Tree| {
        let mut f: Vec<Vec<u8>> = t.values().flatten().cloned().collect();
        f.sort();
        f
    };
    assert_eq!(dirs(&iso), dirs(&tree));
    assert_eq!(files(&iso), files(&tree));
    for path in iso.keys() {
        assert_eq!(
            path,
            &path.to_uppercase(),
            "plain ISO 9660 names are d-characters"
        );
    }
}

#[test]
fn bsdtar_extracts_the_same_tree() {
    let out = tempfile::tempdir().unwrap();
    let status = Command::new("bsdtar")
        .arg("-xf")
        .arg(data().join("doc.iso"))
        .arg("-C")
        .arg(out.path())
        .status()
        .unwrap_or_else(|e| panic!("cannot run bsdtar (ci/install-deps.sh installs it): {e}"));
    assert!(status.success());
    let extracted = local_tree(out.path());
    // The image's directories are r-x (Rock Ridge modes of `xorriso -r`):
    // make them writable again so that the temporary directory can go.
    let _ = Command::new("chmod")
        .arg("-R")
        .arg("u+w")
        .arg(out.path())
        .status();
    assert_eq!(extracted, local_tree(&data().join("doc-tree")));
}
