//! `isomount serve`: images over HTTP/1.1, read-only.
//!
//! * [`paths`]: request targets to nodes, with the rules that keep every
//!   request inside the images (shared with a TFTP server: [`Tree::open`]).
//! * [`http`]: the server (hyper), its limits, and file bodies.
//! * [`range`], [`conditional`]: `Range`, validators and conditional requests.
//! * [`listing`]: directory pages (HTML, JSON).
//! * [`deadline`]: the idle timeout of a connection.

mod conditional;
mod deadline;
mod http;
mod listing;
pub mod paths;
mod range;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};

use crate::cli::ImageArgs;
use crate::common::open_volume;
pub use http::Limits;
pub use paths::Tree;
use paths::{Image, identity};

/// Threads for image reads: downloads beyond this many wait their turn for
/// a reader (each holds one piece of [`http::PIECE`] bytes at most).
const READ_THREADS: usize = 32;

/// What `isomount serve` was asked for.
#[derive(Debug, Clone)]
pub struct Options {
    /// Address and port to listen on (port 0: any free port).
    pub listen: SocketAddr,
    /// Case-insensitive lookup, backslashes as separators.
    pub ignore_case: bool,
    /// The server's limits.
    pub limits: Limits,
    /// TFTP too, on this address.
    pub tftp: Option<SocketAddr>,
    /// No startup line.
    pub quiet: bool,
}

/// Opens `images`, serves them until SIGINT or SIGTERM (Ctrl+C on
/// Windows), and returns.
pub fn run(args: &ImageArgs, images: &[PathBuf], opts: &Options) -> Result<()> {
    if opts.tftp.is_some() {
        return Err(anyhow!("--tftp: not yet available in this build"));
    }
    let tree = Arc::new(open_tree(args, images, opts.ignore_case)?);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(READ_THREADS)
        .thread_name("isomount-serve")
        .build()
        .context("cannot start the server's runtime")?;
    rt.block_on(async {
        // Listen for the signals before saying we are up, so that a
        // SIGTERM sent right after the startup line is not missed.
        let stop = stop_signal()?;
        let listener = tokio::net::TcpListener::bind(opts.listen)
            .await
            .with_context(|| format!("cannot listen on {}", opts.listen))?;
        let addr = listener
            .local_addr()
            .context("cannot read the bound address")?;
        announce(&tree, addr, opts.quiet);
        http::serve(listener, tree, opts.limits, stop).await;
        log::info!("stopped");
        anyhow::Ok(())
    })?;
    rt.shutdown_timeout(Duration::from_secs(1));
    Ok(())
}

/// Opens every image with the global options and names it.
fn open_tree(args: &ImageArgs, images: &[PathBuf], ignore_case: bool) -> Result<Tree> {
    let mut opened = Vec::with_capacity(images.len());
    let mut taken: Vec<String> = Vec::new();
    for path in images {
        let vol = open_volume(args, path)?;
        let name = unique(&taken, &stem(path), ignore_case);
        taken.push(name.clone());
        opened.push(Image {
            identity: identity(&vol),
            name,
            shown: path.display().to_string(),
            vol: Arc::new(vol),
        });
    }
    Ok(Tree::new(opened, ignore_case))
}

/// An image's name in URLs: its file name without the extension (the last
/// segment of a URL's path likewise), or "image".
fn stem(path: &Path) -> String {
    let s = path.to_string_lossy();
    let last = s
        .split(['?', '#'])
        .next()
        .unwrap_or_default()
        .trim_end_matches(['/', '\\'])
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default();
    let stem = match last.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem,
        _ => last,
    };
    let ok = !stem.is_empty() && stem != "." && stem != ".." && !stem.contains(['\0', ':']);
    if ok { stem.to_string() } else { "image".into() }
}

/// `name`, or `name-2`, `name-3`... the first not in `taken` (compared
/// ignoring case when lookups do).
fn unique(taken: &[String], name: &str, ignore_case: bool) -> String {
    let clash = |c: &str| {
        taken.iter().any(|t| {
            if ignore_case {
                t.to_lowercase() == c.to_lowercase()
            } else {
                t == c
            }
        })
    };
    if !clash(name) {
        return name.to_string();
    }
    (2..)
        .map(|n| format!("{name}-{n}"))
        .find(|c| !clash(c))
        .unwrap_or_else(|| name.to_string())
}

/// The startup line on standard error (and the log): where each image is.
fn announce(tree: &Tree, addr: SocketAddr, quiet: bool) {
    let base = format!("http://{addr}/");
    // The server's URLs first, each with the image it serves.
    let where_ = tree
        .images()
        .iter()
        .map(|i| {
            if tree.is_multi() {
                format!("{base}{}/ ({})", listing::encode_segment(&i.name), i.shown)
            } else {
                format!("{base} ({})", i.shown)
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    if !addr.ip().is_loopback() {
        log::warn!("listening on {addr}: anyone who can reach it can read the images");
    }
    log::info!("serving {where_}");
    if !quiet {
        eprintln!("isomount: serving {where_}; Ctrl+C stops");
    }
}

/// Completes on SIGINT or SIGTERM (Unix), or Ctrl+C (Windows).
fn stop_signal() -> Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
        let mut int = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => log::info!("SIGTERM: stopping"),
                _ = int.recv() => log::info!("SIGINT: stopping"),
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            if tokio::signal::ctrl_c().await.is_ok() {
                log::info!("Ctrl+C: stopping");
            } else {
                // No console to watch: serve until the process is ended.
                std::future::pending::<()>().await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(stem(Path::new("/x/win10.iso")), "win10");
        assert_eq!(stem(Path::new("disc.tar.iso")), "disc.tar");
        assert_eq!(stem(Path::new("https://h/p/a%20b.iso?x=1")), "a%20b");
        assert_eq!(stem(Path::new(".iso")), ".iso");
        assert_eq!(stem(Path::new("/")), "image");
        assert_eq!(unique(&["a".into()], "a", false), "a-2");
        assert_eq!(unique(&["a".into(), "a-2".into()], "a", false), "a-3");
        assert_eq!(unique(&["A".into()], "a", false), "a");
        assert_eq!(unique(&["A".into()], "a", true), "a-2");
    }
}
