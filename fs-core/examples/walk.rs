//! Prints every entry of an image, depth first in on-disk order, as `find`
//! would, with its type and size.
//!
//! ```text
//! cargo run -p fs-core --example walk -- IMAGE [--view udf|rockridge|joliet|iso9660]
//! ```
//!
//! Without `--view` the richest tree the image has is shown (UDF, then Rock
//! Ridge, Joliet, plain ISO 9660); with it, that tree or an error saying the
//! image has none. One line an entry: type (`d` directory, `f` file, `l`
//! symbolic link, `c`/`b` device, `p` FIFO, `s` socket), size in bytes,
//! path, and for a link ` -> target`. A directory that cannot be read is
//! reported on stderr and the walk goes on, as `find` does; the exit status
//! is then 1.

use std::error::Error;
use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::Arc;

use fs_core::{Directory, FileType, NodeId, OpenOptions, View, Volume};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut out = io::stdout().lock();
    match run(&args, &mut out, &mut io::stderr()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        // `walk IMAGE | head` closes the pipe early: not an error.
        Err(e) if is_broken_pipe(&*e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("walk: {e}");
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(e: &(dyn Error + 'static)) -> bool {
    e.downcast_ref::<io::Error>()
        .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
}

const USAGE: &str = "usage: walk IMAGE [--view udf|rockridge|joliet|iso9660]";

/// Walks the image named in `args` onto `out`; problems with single
/// directories go to `problems`. Ok(false) when some part was unreadable.
/// (`pub`: `tests/examples.rs` runs it in-process.)
pub fn run(
    args: &[String],
    out: &mut impl Write,
    problems: &mut impl Write,
) -> Result<bool, Box<dyn Error>> {
    let mut image = None;
    let mut view = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--view" => {
                let name = args.next().ok_or(USAGE)?;
                view = Some(name.parse::<View>()?);
            }
            "-h" | "--help" => {
                writeln!(out, "{USAGE}")?;
                return Ok(true);
            }
            _ if image.is_none() && !arg.starts_with('-') => image = Some(arg),
            _ => return Err(format!("unexpected argument {arg:?}\n{USAGE}").into()),
        }
    }
    let image = image.ok_or(USAGE)?;
    let opts = OpenOptions {
        view,
        ..OpenOptions::default()
    };
    let vol = Volume::open_path(image, &opts).map_err(|e| format!("{image}: {e}"))?;

    let mut complete = true;
    writeln!(out, "d {:>12} /", vol.attr(vol.root())?.size)?;
    // Depth first in on-disk order, as `find` prints: an entry, then (for
    // a directory) everything under it, then the next entry. One frame per
    // directory being walked: its listing, the next entry's index, its path.
    let mut stack: Vec<(Arc<Directory>, usize, String)> = Vec::new();
    match list(&vol, vol.root(), "", problems)? {
        Some(root) => {
            complete &= root.problems().is_empty();
            stack.push((root, 0, String::new()));
        }
        None => complete = false,
    }
    while let Some((listing, next, dir_path)) = stack.last_mut() {
        let Some(entry) = listing.entries().get(*next).cloned() else {
            stack.pop();
            continue;
        };
        *next += 1;
        let path = format!("{dir_path}/{}", entry.name);
        let node = match vol.node(entry.id) {
            Ok(node) => node,
            Err(e) => {
                writeln!(problems, "walk: {path}: {e}")?;
                complete = false;
                continue;
            }
        };
        let (kind, size) = (letter(entry.kind), node.attr().size);
        match node.link_target() {
            Some(target) => writeln!(out, "{kind} {size:>12} {path} -> {target}")?,
            None => writeln!(out, "{kind} {size:>12} {path}")?,
        }
        if entry.kind == FileType::Directory {
            match list(&vol, entry.id, &path, problems)? {
                Some(sub) => {
                    complete &= sub.problems().is_empty();
                    stack.push((sub, 0, path));
                }
                None => complete = false,
            }
        }
    }
    Ok(complete)
}

/// Lists directory `id`, reporting on `problems` the entries left out of
/// it, or the error and `None` when it cannot be read at all.
fn list(
    vol: &Volume,
    id: NodeId,
    path: &str,
    problems: &mut impl Write,
) -> io::Result<Option<Arc<Directory>>> {
    match vol.read_dir(id) {
        Ok(listing) => {
            for e in listing.problems() {
                writeln!(problems, "walk: {path}/: entry left out: {e}")?;
            }
            Ok(Some(listing))
        }
        Err(e) => {
            writeln!(problems, "walk: {path}/: {e}")?;
            Ok(None)
        }
    }
}

/// The one-letter type `find -printf %y` uses.
fn letter(kind: FileType) -> char {
    match kind {
        FileType::Regular => 'f',
        FileType::Directory => 'd',
        FileType::Symlink => 'l',
        FileType::CharDevice => 'c',
        FileType::BlockDevice => 'b',
        FileType::Fifo => 'p',
        FileType::Socket => 's',
    }
}
