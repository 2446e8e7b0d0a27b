//! The walk of a whole tree through the library (`fs_core::Volume`) into
//! the `ref.jsonl` shape.

use fs_core::{FileType, NodeId, Volume};

use super::{Listing, entry, sha256_hex};

/// Reads a whole file through the library, in 1 MiB requests, and checks
/// that a read at the end gives 0 bytes.
pub fn read_all(vol: &Volume, id: NodeId, size: u64) -> Vec<u8> {
    let mut out = vec![0u8; size as usize];
    let mut done = 0;
    while done < out.len() {
        let end = (done + (1 << 20)).min(out.len());
        let n = vol
            .read(id, done as u64, &mut out[done..end])
            .expect("read");
        assert!(n > 0, "short read at {done} of {size}");
        done += n;
    }
    assert_eq!(vol.read(id, size, &mut [0u8; 16]).expect("read at EOF"), 0);
    out
}

/// Walks the whole tree through the library into the `ref.jsonl` shape.
/// Every directory must list without problems; lookup by name and resolve
/// by path must find the same node as the listing; no path twice.
pub fn volume_listing(vol: &Volume) -> Listing {
    let mut out = Listing::new();
    let mut stack = vec![(vol.root(), String::new())];
    while let Some((dir, prefix)) = stack.pop() {
        let listing = vol.read_dir(dir).expect("read_dir");
        assert!(
            listing.problems().is_empty(),
            "problems in {prefix:?}: {:?}",
            listing.problems()
        );
        for e in listing.entries() {
            let node = vol.node(e.id).expect("node");
            let a = node.attr();
            let path = format!("{prefix}{}", e.name);
            let sha =
                (a.kind == FileType::Regular).then(|| sha256_hex(&read_all(vol, e.id, a.size)));
            let rdev = a
                .rdev
                .filter(|_| matches!(a.kind, FileType::CharDevice | FileType::BlockDevice))
                .map(|d| (d.major, d.minor));
            let row = entry(
                a.kind.as_str(),
                a.size,
                sha,
                node.link_target().map(str::to_owned),
                a.mode,
                a.mtime.secs,
                a.uid,
                a.gid,
                rdev,
                a.inode,
            );
            assert_eq!(vol.lookup(dir, &e.name).expect("lookup").id(), e.id);
            assert_eq!(vol.resolve(&path, false).expect("resolve").id(), e.id);
            if a.kind == FileType::Directory {
                stack.push((e.id, format!("{path}/")));
            }
            assert!(
                out.insert(path.clone(), row).is_none(),
                "{path} listed twice"
            );
        }
    }
    out
}
