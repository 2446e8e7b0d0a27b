//! An in-memory `Format` for unit tests of the commands, so they run before
//! the ISO reader exists and without image tools.

use std::sync::Arc;

use fs_core::cache::BlockCache;
use fs_core::format::{DirContents, Format, NodeInfo, View, VolumeInfo};
use fs_core::source::{MemSource, ReadAt};
use fs_core::{
    Attributes, DeviceNumber, Extent, FileData, FileType, NodeId, OpenOptions, Result, Timestamp,
    Volume,
};

/// Image bytes: "hello" at 0, "world!" at 5, 3 MiB of pattern at 16.
pub const BIG: usize = 3 << 20;

fn attr(kind: FileType, mode: u32, size: u64, inode: u64) -> Attributes {
    Attributes {
        kind,
        size,
        allocated: size,
        mode,
        nlink: 1,
        uid: 1000,
        gid: 1000,
        rdev: None,
        mtime: Timestamp {
            secs: 1_577_934_245,
            nanos: 0,
        },
        atime: None,
        ctime: None,
        crtime: None,
        hidden: false,
        inode,
    }
}

fn file(id: u64, start: u64, len: u64, mode: u32) -> NodeInfo {
    NodeInfo {
        id: NodeId(id),
        attr: attr(FileType::Regular, mode, len, id),
        data: FileData::new([Extent::Recorded { start, len }]),
        link_target: None,
    }
}

fn dir(id: u64, mode: u32, mtime: i64) -> NodeInfo {
    let mut a = attr(FileType::Directory, mode, 2048, id);
    a.mtime.secs = mtime;
    NodeInfo {
        id: NodeId(id),
        attr: a,
        data: FileData::default(),
        link_target: None,
    }
}

struct Mem;

impl Format for Mem {
    fn view(&self) -> View {
        View::RockRidge
    }

    fn root(&self) -> Result<NodeInfo> {
        Ok(dir(1, 0o755, 1_000_000_000))
    }

    fn read_dir(&self, d: &NodeInfo) -> Result<DirContents> {
        let mut entries = Vec::new();
        let hard = |id: u64| {
            let mut f = file(id, 5, 6, 0o640);
            f.attr.nlink = 2;
            f.attr.inode = (1 << 63) | 7;
            f
        };
        match d.id.0 {
            1 => {
                entries.push(("a.txt".to_string(), file(10, 0, 5, 0o4755)));
                entries.push(("h1".to_string(), hard(11)));
                entries.push(("sub".to_string(), dir(2, 0o750, 1_100_000_000)));
                entries.push(("ro".to_string(), dir(3, 0o555, 1_200_000_000)));
                entries.push(("big".to_string(), file(12, 16, BIG as u64, 0o600)));
                let mut l = NodeInfo {
                    id: NodeId(13),
                    attr: attr(FileType::Symlink, 0o777, 5, 13),
                    data: FileData::default(),
                    link_target: Some("a.txt".into()),
                };
                l.attr.mtime.secs = 1_300_000_000;
                entries.push(("ln".to_string(), l));
                let mut p = file(14, 0, 0, 0o644);
                p.attr.kind = FileType::Fifo;
                entries.push(("fifo".to_string(), p));
                let mut c = file(15, 0, 0, 0o600);
                c.attr.kind = FileType::CharDevice;
                c.attr.rdev = Some(DeviceNumber { major: 1, minor: 3 });
                entries.push(("null".to_string(), c));
            }
            2 => {
                entries.push(("h2".to_string(), hard(20)));
                entries.push(("b.txt".to_string(), file(21, 0, 5, 0o644)));
            }
            3 => entries.push(("c.txt".to_string(), file(30, 5, 6, 0o444))),
            _ => {}
        }
        Ok(DirContents {
            entries,
            problems: Vec::new(),
        })
    }
}

/// The image bytes.
pub fn image() -> Vec<u8> {
    let mut v = b"helloworld!".to_vec();
    v.resize(16, 0);
    v.extend((0..BIG).map(|i| (i * 7 % 251) as u8));
    v
}

/// A volume over the in-memory tree.
pub fn volume() -> Volume {
    let src: Arc<dyn ReadAt> = Arc::new(MemSource::new(image()));
    let meta = Arc::new(BlockCache::new(Arc::clone(&src), 4096, 1 << 20));
    let info = VolumeInfo {
        format: "test".into(),
        view: Some(View::RockRidge),
        views: vec![View::RockRidge],
        label: "TEST".into(),
        block_size: 2048,
        ..VolumeInfo::default()
    };
    // Volume::with_format is infallible for this root.
    match Volume::with_format(Box::new(Mem), info, src, meta, &OpenOptions::default()) {
        Ok(v) => v,
        Err(e) => panic!("test volume: {e}"),
    }
}
