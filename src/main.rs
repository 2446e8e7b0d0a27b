//! `isomount`: open optical-disc images read-only: list, read, extract, mount.

mod cat;
mod cli;
mod common;
mod entry;
mod extract;
mod info;
mod ls;
mod manual;
#[cfg(target_os = "linux")]
mod mount;
mod mount_opts;
#[cfg(windows)]
mod mount_windows;
#[cfg(target_os = "linux")]
mod mounts;
mod remote;
mod serve;
#[cfg(test)]
mod testvol;
mod tftp;
mod verify;
mod winname;

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;

use crate::cli::{Cli, Command};
use crate::common::{is_broken_pipe, open_volume};
use crate::mount_opts::Caller;

fn init_logging(cli: &Cli) {
    let level = if cli.quiet {
        log::LevelFilter::Error
    } else {
        match cli.verbose {
            0 => log::LevelFilter::Warn,
            1 => log::LevelFilter::Info,
            2 => log::LevelFilter::Debug,
            _ => log::LevelFilter::Trace,
        }
    };
    let verbose = cli.verbose;
    let mut b = env_logger::Builder::new();
    b.filter_level(level)
        .format(move |buf, rec| {
            let lvl = rec.level().as_str().to_ascii_lowercase();
            if verbose >= 2 {
                writeln!(buf, "isomount: {lvl}: [{}] {}", rec.target(), rec.args())
            } else {
                writeln!(buf, "isomount: {lvl}: {}", rec.args())
            }
        })
        // RUST_LOG still wins when set.
        .parse_env("RUST_LOG")
        .target(env_logger::Target::Stderr);
    let _ = b.try_init();
}

/// Runs the command; Ok(false) means some items failed (already reported).
/// `caller` says who passed any `-o` lists.
fn run(cli: &Cli, caller: Caller) -> Result<bool> {
    let stdout = io::stdout();
    match &cli.command {
        Command::Info { image, json } => {
            let vol = open_volume(&cli.open, image)?;
            let mut out = BufWriter::new(stdout.lock());
            info::run(&vol, *json, &mut out)?;
            out.flush().context("cannot write to standard output")?;
            Ok(true)
        }
        Command::Ls {
            image,
            path,
            long,
            recursive,
            json,
        } => {
            let vol = open_volume(&cli.open, image)?;
            let mut out = BufWriter::new(stdout.lock());
            let opts = ls::LsOptions {
                long: *long,
                recursive: *recursive,
                json: *json,
            };
            let ok = ls::run(&vol, path, opts, &mut out)?;
            out.flush().context("cannot write to standard output")?;
            Ok(ok)
        }
        Command::Stat { image, path, json } => {
            let vol = open_volume(&cli.open, image)?;
            let mut out = BufWriter::new(stdout.lock());
            ls::stat(&vol, path, *json, &mut out)?;
            out.flush().context("cannot write to standard output")?;
            Ok(true)
        }
        Command::Cat { image, paths } => {
            let vol = open_volume(&cli.open, image)?;
            cat::run(&vol, paths, &mut cat::raw_stdout())
        }
        Command::Extract {
            image,
            path,
            dir,
            overwrite,
        } => {
            let vol = open_volume(&cli.open, image)?;
            let opts = extract::ExtractOptions {
                overwrite: *overwrite,
                quiet: cli.quiet,
            };
            let counts = extract::run(&vol, path, dir, opts)?;
            Ok(counts.errors == 0)
        }
        #[cfg(target_os = "linux")]
        Command::Mount {
            image,
            mountpoint,
            foreground,
            options,
        } => mount::run(&mount::Request {
            cli,
            image,
            mountpoint: mountpoint.as_deref(),
            foreground: *foreground,
            lists: options,
            caller,
        })
        .map(|()| true),
        #[cfg(target_os = "linux")]
        Command::Umount { mountpoint, all } => {
            mount::umount(mountpoint.as_deref(), *all).map(|()| true)
        }
        #[cfg(target_os = "linux")]
        Command::List { json } => {
            let mut out = BufWriter::new(stdout.lock());
            mount::list(*json, &mut out)?;
            out.flush().context("cannot write to standard output")?;
            Ok(true)
        }
        #[cfg(target_os = "linux")]
        Command::Open { image, no_open } => mount::open(cli, image, *no_open).map(|()| true),
        #[cfg(windows)]
        Command::Mount {
            image,
            mountpoint,
            foreground: _,
            options,
        } => mount_windows::run(cli, image, mountpoint.as_deref(), options, caller).map(|()| true),
        #[cfg(windows)]
        Command::Umount { mountpoint, all } => {
            mount_windows::umount(mountpoint.as_deref(), *all).map(|()| true)
        }
        #[cfg(not(any(target_os = "linux", windows)))]
        Command::Mount { .. } | Command::Umount { .. } => Err(anyhow::anyhow!(
            "mounting is only supported on Linux (FUSE) and Windows (WinFsp)"
        )),
        #[cfg(not(target_os = "linux"))]
        Command::List { .. } => Err(anyhow::anyhow!(
            "`isomount list` is only supported on Linux"
        )),
        #[cfg(not(any(target_os = "linux", windows)))]
        Command::Open { .. } => Err(anyhow::anyhow!(
            "mounting is only supported on Linux (FUSE) and Windows (WinFsp)"
        )),
        #[cfg(windows)]
        Command::Open { image, no_open } => {
            mount_windows::open(cli, image, *no_open).map(|()| true)
        }
        Command::Verify {
            image,
            expect,
            json,
        } => verify::run(&cli.open, image, expect.as_deref(), *json),
        Command::Serve {
            images,
            listen,
            ignore_case,
            max_connections,
            header_timeout,
            idle_timeout,
            tftp,
        } => {
            let opts = serve::Options {
                listen: *listen,
                ignore_case: *ignore_case,
                limits: serve::Limits {
                    max_connections: *max_connections as usize,
                    header_timeout: std::time::Duration::from_secs(*header_timeout),
                    idle_timeout: std::time::Duration::from_secs(*idle_timeout),
                },
                tftp: *tftp,
                quiet: cli.quiet,
            };
            serve::run(&cli.open, images, &opts).map(|()| true)
        }
        Command::Completions { shell } => {
            manual::completions(*shell, &mut stdout.lock()).map(|()| true)
        }
        Command::Manpage { dir: None } => manual::manpage(&mut stdout.lock()).map(|()| true),
        Command::Manpage { dir: Some(dir) } => manual::manpages_to(dir).map(|_| true),
    }
}

/// One malloc arena for a mount's daemon. glibc gives each thread that
/// allocates an arena of its own and does not reuse one arena's free memory
/// in another; the FUSE session threads list directories, drop nodes past
/// the node budget and list them again, so memory freed by one thread piled
/// up unused in the others. Measured with bench/run.sh (120k files, `find`
/// then `tar` through the mount): daemon peak RSS 131 MiB with per-thread
/// arenas, 52 MiB with one, same times. The read path allocates nothing.
/// Only for `mount`: `extract`'s writer threads are better off with their own.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn one_malloc_arena() {
    // SAFETY: mallopt only sets an allocator parameter; main calls it right
    // after parsing the command line, before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn one_malloc_arena() {}

/// The command line, with two calling conventions of the system turned
/// into subcommands:
///
/// * `mount -t fuse.isomount IMAGE DIR -o OPTS` and fstab lines of type
///   `fuse.isomount` make mount.fuse3 run `isomount IMAGE DIR -o OPTS`:
///   taken as `mount` when `-o` follows IMAGE DIR (mount.fuse3 always
///   passes it), or when IMAGE is an existing non-directory and DIR an
///   existing directory.
/// * On Windows, "Open with → isomount" in Explorer runs `isomount IMAGE`:
///   taken as `open` when IMAGE is an existing non-directory.
///
/// A subcommand name or an option is never taken as IMAGE, so a mistyped
/// subcommand still gets clap's error.
fn command_line() -> (Cli, Caller) {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let not_a_word = |a: &std::ffi::OsString| {
        let name = a.to_string_lossy();
        let is_command = <Cli as clap::CommandFactory>::command()
            .get_subcommands()
            .any(|c| c.get_name() == name || c.get_all_aliases().any(|x| x == name))
            || name == "help";
        !is_command && !name.starts_with('-')
    };
    let image_like =
        |a: &std::ffi::OsString| not_a_word(a) && std::fs::metadata(a).is_ok_and(|m| !m.is_dir());
    // mount.fuse3 always passes `-o` (it adds rw or ro at least), so
    // `IMAGE DIR -o ...` is the helper even when IMAGE is missing: the user
    // then hears "cannot open image" rather than "unrecognized subcommand".
    let helper = match (args.get(1), args.get(2), args.get(3)) {
        (Some(image), Some(dir), Some(o)) if o == "-o" => not_a_word(image) && not_a_word(dir),
        (Some(image), Some(dir), _) => image_like(image) && std::path::Path::new(dir).is_dir(),
        _ => false,
    };
    if helper {
        args.insert(1, "mount".into());
        return (Cli::parse_from(args), Caller::MountHelper);
    }
    if cfg!(windows) && args.len() == 2 && args.get(1).is_some_and(image_like) {
        args.insert(1, "open".into());
    }
    (Cli::parse_from(args), Caller::Command)
}

fn main() -> ExitCode {
    let (cli, caller) = command_line();
    if matches!(cli.command, Command::Mount { .. }) {
        one_malloc_arena();
    }
    init_logging(&cli);
    let result = run(&cli, caller);
    remote::settle();
    if cli.open.stats {
        if let Some(line) = remote::stats_line() {
            eprintln!("isomount: {line}");
        }
    }
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        // The reader went away (`isomount cat ... | head`): nothing to say.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        // `verify` could not check the image at all: not "problems found".
        Err(e) if e.is::<verify::NotChecked>() => {
            eprintln!("isomount: {e:#}");
            ExitCode::from(verify::NOT_CHECKED)
        }
        Err(e) => {
            eprintln!("isomount: {e:#}");
            ExitCode::from(1)
        }
    }
}
