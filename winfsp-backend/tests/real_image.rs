//! The Windows view of a real image (the GRUB rescue CD of the corpus):
//! every node reachable through `Tree`/`Listing` exactly as Windows would
//! walk it, lookups in any case, sizes and index numbers as the core says.
//! Runs on Linux and, through ci/windows.sh, under Wine.

use std::sync::Arc;

use fs_core::{FileType, OpenOptions, Volume};
use winfsp_backend::attr::{FILE_ATTRIBUTE_DIRECTORY, FILE_ATTRIBUTE_READONLY, win_file_info};
use winfsp_backend::listing::Listing;
use winfsp_backend::tree::Tree;

fn grub() -> Arc<Volume> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/corpus/grub-rescue-cdrom.iso"
    );
    // The counts below are of the ISO tree: no El Torito [BOOT] directory.
    let opts = OpenOptions {
        boot_dir: false,
        ..OpenOptions::default()
    };
    Arc::new(Volume::open_path(path, &opts).expect("corpus image"))
}

#[test]
fn every_node_is_reachable_in_any_case() {
    let vol = grub();
    let tree = Tree::new(Arc::clone(&vol));
    let mut stack = vec![String::new()];
    let (mut files, mut dirs, mut bytes) = (0u64, 0u64, 0u64);
    while let Some(dir) = stack.pop() {
        let found = tree.lookup(&dir).expect("directory");
        let listing = Listing::new(&tree, &found).expect("listing");
        let names: Vec<&str> = listing.after(None, None).map(|(n, _)| n).collect();
        if dir.is_empty() {
            assert!(!names.contains(&"."), "the root has no dots");
        } else {
            assert_eq!(&names[..2], [".", ".."]);
        }
        for e in listing.entries() {
            let path = format!("{dir}\\{}", e.name);
            let node = tree.lookup(&path).expect("lookup").node;
            // Any case finds the same node, shown with the image's spelling.
            let upper = tree
                .lookup(&path.to_uppercase())
                .expect("upper-case lookup");
            assert_eq!(upper.node.id(), node.id());
            assert_eq!(upper.name, e.name);
            assert_eq!(e.info, win_file_info(node.attr()));
            assert_eq!(e.info.index_number, node.attr().inode);
            match node.kind() {
                FileType::Directory => {
                    assert_eq!(
                        e.info.attributes & FILE_ATTRIBUTE_DIRECTORY,
                        FILE_ATTRIBUTE_DIRECTORY
                    );
                    dirs += 1;
                    stack.push(path);
                }
                _ => {
                    assert_eq!(
                        e.info.attributes & FILE_ATTRIBUTE_READONLY,
                        FILE_ATTRIBUTE_READONLY
                    );
                    assert_eq!(e.info.file_size, node.attr().size);
                    files += 1;
                    bytes += e.info.file_size;
                }
            }
        }
    }
    // `isomount ls -R` of the same image: 290 files, 6 directories below the root.
    assert_eq!((files, dirs), (290, 6));
    assert_eq!(bytes, 4_378_827);
}

#[test]
fn paging_with_a_small_buffer_sees_every_name_once() {
    let vol = grub();
    let tree = Tree::new(vol);
    let dir = tree.lookup(r"\BOOT\GRUB\I386-PC").expect("i386-pc");
    let listing = Listing::new(&tree, &dir).expect("listing");
    let all: Vec<String> = listing
        .after(None, None)
        .map(|(n, _)| n.to_string())
        .collect();
    let mut seen = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page: Vec<String> = listing
            .after(marker.as_deref(), None)
            .take(7)
            .map(|(n, _)| n.to_string())
            .collect();
        let Some(last) = page.last().cloned() else {
            break;
        };
        seen.extend(page);
        marker = Some(last);
    }
    assert_eq!(seen, all);
    assert!(all.len() > 200);
    let mods = listing.after(None, Some("*.MOD")).count();
    assert!(mods > 200 && mods < all.len());
}

#[test]
fn the_label_is_the_image_label() {
    let vol = grub();
    // grub-mkrescue leaves xorriso's default volume id; no Joliet.
    assert_eq!(vol.info().label, "ISOIMAGE");
    assert_eq!(
        winfsp_backend::label::volume_label(&vol.info().label, "grub-rescue-cdrom"),
        "ISOIMAGE"
    );
}
