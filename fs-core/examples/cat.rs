//! Copies one file of an image to stdout, as `cat` would.
//!
//! ```text
//! cargo run -p fs-core --example cat -- IMAGE PATH [--view udf|rockridge|joliet|iso9660]
//! ```
//!
//! `PATH` is '/'-separated from the image's root; symbolic links on the way
//! (and the file itself, if it is one) are followed, as the image's root
//! sees them. The content is streamed: read at increasing offsets into one
//! 64 KiB buffer and written out piece by piece, so a 4 GiB file never sits
//! in memory.

use std::error::Error;
use std::io::{self, Write};
use std::process::ExitCode;

use fs_core::{FileType, OpenOptions, View, Volume};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut out = io::stdout().lock();
    match run(&args, &mut out) {
        Ok(()) => ExitCode::SUCCESS,
        // `cat IMAGE FILE | head` closes the pipe early: not an error.
        Err(e) if is_broken_pipe(&*e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cat: {e}");
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(e: &(dyn Error + 'static)) -> bool {
    e.downcast_ref::<io::Error>()
        .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
}

const USAGE: &str = "usage: cat IMAGE PATH [--view udf|rockridge|joliet|iso9660]";

/// Bytes asked for in one read (the size FUSE sends by default is 128 KiB;
/// any size works, a read returns fewer bytes only at the end of the file).
const CHUNK: usize = 64 * 1024;

/// Writes the file `args` name to `out`.
/// (`pub`: `tests/examples.rs` runs it in-process.)
pub fn run(args: &[String], out: &mut impl Write) -> Result<(), Box<dyn Error>> {
    let mut positional = Vec::new();
    let mut view = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--view" => view = Some(args.next().ok_or(USAGE)?.parse::<View>()?),
            _ if arg.starts_with("--") => {
                return Err(format!("unexpected option {arg:?}\n{USAGE}").into());
            }
            _ => positional.push(arg),
        }
    }
    let [image, path] = positional.as_slice() else {
        return Err(USAGE.into());
    };
    let opts = OpenOptions {
        view,
        ..OpenOptions::default()
    };
    let vol = Volume::open_path(image, &opts).map_err(|e| format!("{image}: {e}"))?;
    let node = vol.resolve(path, true)?;
    if node.kind() != FileType::Regular {
        return Err(format!("{path}: not a regular file ({})", node.kind().as_str()).into());
    }

    let mut buf = vec![0u8; CHUNK];
    let mut offset = 0u64;
    loop {
        let n = vol.read_node(&node, offset, &mut buf)?;
        let Some(piece) = buf.get(..n).filter(|p| !p.is_empty()) else {
            break; // the end of the file
        };
        out.write_all(piece)?;
        offset += n as u64;
    }
    out.flush()?;
    if offset != node.attr().size {
        return Err(format!("{path}: read {offset} bytes of {}", node.attr().size).into());
    }
    Ok(())
}
