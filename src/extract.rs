//! `isomount extract`: copy a tree out of the image.
//!
//! Safety: everything is written below the destination directory. Names come
//! sanitized from the `Volume` (no '/', never "." or ".."); on top of that no
//! existing symlink is ever written through: directories found in the way are
//! checked with `symlink_metadata`, files are created with `O_CREAT|O_EXCL|
//! O_NOFOLLOW` and `--overwrite` removes what is in the way (the link itself,
//! never its target) before creating.
//!
//! On Windows: names are made safe for Windows ([`crate::winname`]: reserved
//! device names, trailing dots and spaces, `<>:"|?*\`), and each renamed
//! entry is reported; files are created with `CREATE_NEW` (never through an
//! existing link); files without any write bit get the read-only attribute;
//! symbolic links are created when the account may (else skipped with a
//! warning); FIFOs, device nodes and sockets are skipped; no owners.

use std::collections::HashMap;
#[cfg(unix)]
use std::ffi::CString;
#[cfg(unix)]
use std::fs::Permissions;
use std::fs::{self, File, FileTimes};
use std::io::{self, IsTerminal, Write};
#[cfg(unix)]
use std::os::unix::ffi::OsStrExt;
#[cfg(unix)]
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
#[cfg(windows)]
use std::os::windows::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow};
use fs_core::{Attributes, FileType, Node, NodeId, Timestamp, Volume};
use indicatif::{ProgressBar, ProgressStyle};

use crate::common::{self, base_name, join, normalize};

/// Size of each read while copying file content.
const CHUNK: usize = 1 << 20;

/// How to extract.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExtractOptions {
    /// Replace existing non-directories in the destination.
    pub overwrite: bool,
    /// No progress bar, no summary.
    pub quiet: bool,
}

/// What was done, for the summary line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Regular files written (hard links not counted).
    pub files: u64,
    /// Directories created or filled.
    pub dirs: u64,
    /// Symbolic links made.
    pub symlinks: u64,
    /// Hard links made to a file extracted earlier.
    pub hardlinks: u64,
    /// FIFOs and device nodes made.
    pub special: u64,
    /// Entries left out (devices when not root, sockets).
    pub skipped: u64,
    /// Bytes of file content written.
    pub bytes: u64,
    /// Entries that failed.
    pub errors: u64,
}

enum Work {
    /// Extract node `id` (image path `ipath`) to `dest`.
    Visit {
        id: NodeId,
        ipath: String,
        dest: PathBuf,
    },
    /// Apply a directory's attributes once its contents are written.
    Finish { dest: PathBuf, attr: Attributes },
}

struct Extractor<'a> {
    vol: &'a Volume,
    opts: ExtractOptions,
    #[cfg_attr(not(unix), allow(dead_code))]
    as_root: bool,
    /// Who new files belong to and the umask they are created under: what
    /// `chown`/`chmod` calls can be left out when the image asks for the same.
    #[cfg_attr(not(unix), allow(dead_code))]
    creds: Creds,
    /// A directory written into (not made by us) has the set-group-ID bit,
    /// so new files may take its group instead of ours: always chown.
    #[cfg_attr(not(unix), allow(dead_code))]
    group_inherited: bool,
    /// First path extracted for each shared inode (hard links).
    links: HashMap<u64, PathBuf>,
    counts: Counts,
    progress: Option<ProgressBar>,
    buf: Vec<u8>,
    /// Where regular files go to be written by the worker threads (none:
    /// written here, in walk order).
    jobs: Option<mpsc::SyncSender<FileJob>>,
    /// Directory attributes held back until the workers are done (a
    /// directory's mode and mtime are set after everything inside it).
    deferred: Vec<(PathBuf, Attributes)>,
}

/// A regular file for a worker thread to write.
struct FileJob {
    node: Arc<Node>,
    ipath: String,
    dest: PathBuf,
    group_inherited: bool,
}

/// Most threads writing files at once. Writing is mostly the destination
/// file system copying pages in (measured: 7 in 10 of the time on tmpfs), so
/// a thread per core; more only add contention.
const MAX_WRITERS: usize = 8;

/// Regular files queued for the workers, at most (bounds memory).
const QUEUE: usize = 1024;

/// Writes regular files: what the walker and the worker threads share.
#[derive(Clone)]
struct Writer<'a> {
    vol: &'a Volume,
    overwrite: bool,
    #[cfg_attr(not(unix), allow(dead_code))]
    as_root: bool,
    #[cfg_attr(not(unix), allow(dead_code))]
    creds: Creds,
    progress: Option<ProgressBar>,
}

/// Extracts `path` of the image into `dir`. The root's contents go straight
/// into `dir`; anything else becomes `dir/NAME`. Returns the counts; entries
/// that failed have been reported (`counts.errors`).
pub fn run(vol: &Volume, path: &str, dir: &Path, opts: ExtractOptions) -> Result<Counts> {
    let started = Instant::now();
    let node = common::resolve(vol, path, false)?;
    let norm = normalize(path);
    let created = prepare_dest_dir(dir)?;
    let mut ex = Extractor {
        vol,
        opts,
        as_root: is_root(),
        creds: Creds::current(),
        group_inherited: setgid_dir(dir),
        links: HashMap::new(),
        counts: Counts::default(),
        progress: None,
        buf: vec![0u8; CHUNK],
        jobs: None,
        deferred: Vec::new(),
    };
    if !opts.quiet && io::stderr().is_terminal() {
        ex.progress = Some(progress_bar(total_bytes(vol, &node)));
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_WRITERS));
    if node.kind() == FileType::Directory && threads > 1 {
        let writer = ex.writer();
        let (tx, rx) = mpsc::sync_channel::<FileJob>(QUEUE);
        let rx = Mutex::new(rx);
        std::thread::scope(|s| {
            let workers: Vec<_> = (0..threads).map(|_| s.spawn(|| writer.work(&rx))).collect();
            ex.jobs = Some(tx);
            ex.extract_top(&node, &norm, dir, created);
            // Dropping the sender ends the workers once the queue is empty.
            ex.jobs = None;
            for w in workers {
                match w.join() {
                    Ok(c) => {
                        ex.counts.files += c.files;
                        ex.counts.bytes += c.bytes;
                        ex.counts.errors += c.errors;
                    }
                    Err(_) => ex.report(anyhow!("a writer thread failed")),
                }
            }
        });
        for (dest, attr) in std::mem::take(&mut ex.deferred).into_iter().rev() {
            ex.finish_dir(&dest, &attr);
        }
    } else {
        ex.extract_top(&node, &norm, dir, created);
    }
    if let Some(pb) = ex.progress.take() {
        pb.finish_and_clear();
    }
    if !opts.quiet {
        let c = ex.counts;
        let mut parts = vec![
            plural(c.files, "file"),
            plural(c.dirs, "directory"),
            plural(c.symlinks, "symlink"),
        ];
        if c.hardlinks > 0 {
            parts.push(plural(c.hardlinks, "hard link"));
        }
        if c.special > 0 {
            parts.push(plural(c.special, "special file"));
        }
        let mut line = format!(
            "extracted {} ({}) in {:.2} s",
            parts.join(", "),
            plural(c.bytes, "byte"),
            started.elapsed().as_secs_f64()
        );
        if c.skipped > 0 {
            line.push_str(&format!("; {} skipped", c.skipped));
        }
        if c.errors > 0 {
            line.push_str(&format!("; {}", plural(c.errors, "error")));
        }
        eprintln!("isomount: {line}");
    }
    Ok(ex.counts)
}

/// The name a file of the image gets here: unchanged, except on Windows
/// ([`crate::winname::safe_name`]).
fn local_name(name: &str) -> std::borrow::Cow<'_, str> {
    #[cfg(windows)]
    return crate::winname::safe_name(name);
    #[cfg(not(windows))]
    return std::borrow::Cow::Borrowed(name);
}

#[cfg(unix)]
fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

#[cfg(not(unix))]
fn is_root() -> bool {
    false
}

/// The effective user and group of this process and its umask.
#[derive(Debug, Clone, Copy, Default)]
#[cfg_attr(not(unix), allow(dead_code))]
struct Creds {
    uid: u32,
    gid: u32,
    umask: u32,
}

impl Creds {
    #[cfg(unix)]
    fn current() -> Creds {
        // SAFETY: these calls have no preconditions and cannot fail; umask
        // is read by setting it and putting it back, before any file is made.
        unsafe {
            let umask = libc::umask(0o022);
            libc::umask(umask);
            Creds {
                uid: libc::geteuid(),
                gid: libc::getegid(),
                umask: umask as u32,
            }
        }
    }

    #[cfg(not(unix))]
    fn current() -> Creds {
        Creds::default()
    }
}

/// True when `dir` is an existing directory with the set-group-ID bit.
#[cfg(unix)]
fn setgid_dir(dir: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir() && m.mode() & libc::S_ISGID != 0)
}

#[cfg(not(unix))]
fn setgid_dir(_dir: &Path) -> bool {
    false
}

/// "1 file", "2 files", "3 directories".
fn plural(n: u64, what: &str) -> String {
    match (n, what.strip_suffix('y')) {
        (1, _) => format!("1 {what}"),
        (_, Some(stem)) => format!("{n} {stem}ies"),
        _ => format!("{n} {what}s"),
    }
}

/// Makes sure `dir` is a directory; returns true if it was created.
fn prepare_dest_dir(dir: &Path) -> Result<bool> {
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(false),
        Ok(_) => Err(anyhow!("{}: exists and is not a directory", dir.display())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            Ok(true)
        }
        Err(e) => Err(anyhow::Error::new(e).context(dir.display().to_string())),
    }
}

fn progress_bar(total: u64) -> ProgressBar {
    let pb = ProgressBar::new(total);
    if let Ok(style) =
        ProgressStyle::with_template("{wide_bar} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
    {
        pb.set_style(style);
    }
    pb
}

/// Sum of regular file sizes below `node` (listings are cached, so the
/// extraction that follows does not parse them again).
fn total_bytes(vol: &Volume, node: &Node) -> u64 {
    let mut total = 0u64;
    let mut stack = vec![node.id()];
    while let Some(id) = stack.pop() {
        let Ok(n) = vol.node(id) else { continue };
        match n.kind() {
            FileType::Regular => total = total.saturating_add(n.attr().size),
            FileType::Directory => {
                if let Ok(d) = vol.read_dir(id) {
                    stack.extend(d.entries().iter().map(|e| e.id));
                }
            }
            _ => {}
        }
    }
    total
}

impl<'a> Extractor<'a> {
    /// Extracts `node` (image path `norm`) into `dir`: the root's contents
    /// go straight into `dir` (which gets the root's attributes only if we
    /// made it); anything else becomes `dir/NAME`.
    fn extract_top(&mut self, node: &Node, norm: &str, dir: &Path, created: bool) {
        if node.id() == self.vol.root() {
            self.fill_dir(node, norm, dir, created);
        } else {
            let name = base_name(norm);
            let local = local_name(name);
            if local != name {
                self.warn(format!(
                    "{norm}: saved as {local:?} (not a valid Windows name)"
                ));
            }
            let dest = dir.join(&*local);
            self.walk(node.id(), norm.to_string(), dest);
        }
    }

    /// What the file writers need.
    fn writer(&self) -> Writer<'a> {
        Writer {
            vol: self.vol,
            overwrite: self.opts.overwrite,
            as_root: self.as_root,
            creds: self.creds,
            progress: self.progress.clone(),
        }
    }

    /// Applies a directory's attributes now, or once the workers are done.
    fn finish_dir(&mut self, dest: &Path, attr: &Attributes) {
        if self.jobs.is_some() {
            self.deferred.push((dest.to_path_buf(), attr.clone()));
        } else if let Err(e) = self.apply_dir_attrs(dest, attr) {
            self.report(e.context(format!("{}: cannot set attributes", dest.display())));
        }
    }

    fn report(&mut self, err: anyhow::Error) {
        self.counts.errors += 1;
        print_error(self.progress.as_ref(), &err);
    }

    fn warn(&mut self, msg: String) {
        match &self.progress {
            Some(pb) => pb.suspend(|| log::warn!("{msg}")),
            None => log::warn!("{msg}"),
        }
    }

    /// Depth first without recursion; directories are finished (mode,
    /// mtime) after everything inside them is written.
    fn walk(&mut self, id: NodeId, ipath: String, dest: PathBuf) {
        let mut stack = vec![Work::Visit { id, ipath, dest }];
        while let Some(w) = stack.pop() {
            match w {
                Work::Finish { dest, attr } => self.finish_dir(&dest, &attr),
                Work::Visit { id, ipath, dest } => {
                    let node = match self.vol.node(id) {
                        Ok(n) => n,
                        Err(e) => {
                            self.report(anyhow::Error::new(e).context(ipath));
                            continue;
                        }
                    };
                    if node.kind() == FileType::Directory {
                        match self.make_dir(&dest) {
                            Ok(()) => self.push_children(&node, &ipath, &dest, &mut stack, true),
                            Err(e) => self.report(e.context(ipath)),
                        }
                    } else if node.kind() == FileType::Regular
                        && node.attr().nlink <= 1
                        && self.jobs.is_some()
                    {
                        // To a worker thread (hard links stay here, in order).
                        let job = FileJob {
                            node,
                            ipath,
                            dest,
                            group_inherited: self.group_inherited,
                        };
                        let sent = self.jobs.as_ref().map(|tx| tx.send(job));
                        if let Some(Err(mpsc::SendError(job))) = sent {
                            self.report(anyhow!("{}: the writer threads stopped", job.ipath));
                        }
                    } else if let Err(e) = self.extract_leaf(&node, &ipath, &dest) {
                        self.report(e.context(ipath));
                    }
                }
            }
        }
    }

    /// Fills an existing destination directory with the contents of `node`.
    fn fill_dir(&mut self, node: &Node, ipath: &str, dest: &Path, apply: bool) {
        let mut stack = Vec::new();
        self.push_children(node, ipath, dest, &mut stack, apply);
        // `walk` takes one root; run the prepared stack through it in order.
        while let Some(w) = stack.pop() {
            match w {
                Work::Visit { id, ipath, dest } => self.walk(id, ipath, dest),
                Work::Finish { dest, attr } => self.finish_dir(&dest, &attr),
            }
        }
    }

    fn push_children(
        &mut self,
        node: &Node,
        ipath: &str,
        dest: &Path,
        stack: &mut Vec<Work>,
        finish: bool,
    ) {
        self.counts.dirs += 1;
        if finish {
            stack.push(Work::Finish {
                dest: dest.to_path_buf(),
                attr: node.attr().clone(),
            });
        }
        let dir = match self.vol.read_dir(node.id()) {
            Ok(d) => d,
            Err(e) => {
                self.report(anyhow::Error::new(e).context(format!("{ipath}: cannot list")));
                return;
            }
        };
        for p in dir.problems() {
            self.report(anyhow!("{ipath}: an entry could not be read: {p}"));
        }
        #[cfg(windows)]
        let locals = self.windows_names(ipath, dir.entries());
        for (_i, e) in dir.entries().iter().enumerate().rev() {
            #[cfg(windows)]
            let local = locals[_i].as_str();
            #[cfg(not(windows))]
            let local = e.name.as_str();
            stack.push(Work::Visit {
                id: e.id,
                ipath: join(ipath, &e.name),
                dest: dest.join(local),
            });
        }
    }

    /// The names one directory's entries get on Windows; renamed ones are
    /// reported.
    #[cfg(windows)]
    fn windows_names(&mut self, ipath: &str, entries: &[fs_core::DirEntry]) -> Vec<String> {
        let mut names = crate::winname::DirNames::default();
        let mut out = Vec::with_capacity(entries.len());
        for e in entries {
            let (local, changed) = names.pick(&e.name);
            if changed {
                self.warn(format!(
                    "{}: saved as {local:?} (not a valid Windows name)",
                    join(ipath, &e.name)
                ));
            }
            out.push(local);
        }
        out
    }

    /// Creates directory `dest` (owner-only until finished), or reuses a real
    /// directory already there. Never goes through a symlink.
    fn make_dir(&mut self, dest: &Path) -> Result<()> {
        match fs::symlink_metadata(dest) {
            Ok(m) if m.is_dir() => {
                self.group_inherited |= setgid_dir(dest);
                return Ok(());
            }
            Ok(_) if self.opts.overwrite => fs::remove_file(dest)
                .with_context(|| format!("cannot replace {}", dest.display()))?,
            Ok(_) => {
                return Err(anyhow!(
                    "{}: exists and is not a directory (refusing to write through it)",
                    dest.display()
                ));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(anyhow::Error::new(e).context(dest.display().to_string())),
        }
        #[cfg_attr(not(unix), allow(unused_mut))]
        let mut builder = fs::DirBuilder::new();
        #[cfg(unix)]
        builder.mode(0o700);
        builder
            .create(dest)
            .with_context(|| format!("cannot create directory {}", dest.display()))
    }

    /// Clears the way for a non-directory at `dest`.
    fn free_slot(&self, dest: &Path) -> Result<()> {
        free_slot(dest, self.opts.overwrite)
    }

    fn extract_leaf(&mut self, node: &Node, _ipath: &str, dest: &Path) -> Result<()> {
        let attr = node.attr();
        let linked = attr.nlink > 1;
        if linked {
            if let Some(first) = self.links.get(&attr.inode) {
                self.free_slot(dest)?;
                match fs::hard_link(first, dest) {
                    Ok(()) => {
                        self.counts.hardlinks += 1;
                        if attr.kind == FileType::Regular {
                            if let Some(pb) = &self.progress {
                                pb.inc(attr.size);
                            }
                        }
                        return Ok(());
                    }
                    Err(e) => self.warn(format!(
                        "{}: cannot hard-link to {} ({e}); writing a copy",
                        dest.display(),
                        first.display()
                    )),
                }
            }
        }
        // A regular file is created exclusively and clears the way only if
        // something is there (one syscall less per file in the usual case).
        if attr.kind != FileType::Regular {
            self.free_slot(dest)?;
        }
        let made = match attr.kind {
            FileType::Regular => self.write_file(node, dest).map(|()| true)?,
            #[cfg(unix)]
            FileType::Symlink => {
                let target = node.link_target().unwrap_or("");
                std::os::unix::fs::symlink(target, dest)
                    .with_context(|| format!("cannot create symlink {}", dest.display()))?;
                self.counts.symlinks += 1;
                self.set_owner_times(dest, attr)?;
                true
            }
            #[cfg(windows)]
            FileType::Symlink => self.windows_symlink(node, _ipath, dest)?,
            #[cfg(windows)]
            FileType::Fifo | FileType::CharDevice | FileType::BlockDevice => {
                self.counts.skipped += 1;
                let what = if attr.kind == FileType::Fifo {
                    "FIFO"
                } else {
                    "device node"
                };
                self.warn(format!(
                    "{}: {what} skipped (Windows has none)",
                    dest.display()
                ));
                false
            }
            #[cfg(unix)]
            FileType::Fifo => {
                mknod(dest, libc::S_IFIFO, 0)?;
                self.finish_special(dest, attr)?;
                true
            }
            #[cfg(unix)]
            FileType::CharDevice | FileType::BlockDevice if self.as_root => {
                let t = if attr.kind == FileType::CharDevice {
                    libc::S_IFCHR
                } else {
                    libc::S_IFBLK
                };
                let dev = attr.rdev.unwrap_or_default().to_linux();
                match mknod(dest, t, dev) {
                    Ok(()) => {
                        self.finish_special(dest, attr)?;
                        true
                    }
                    // Root without CAP_MKNOD (a container): as for a user.
                    Err(e) if is_eperm(&e) => {
                        self.counts.skipped += 1;
                        self.warn(format!("{}: device node skipped ({e:#})", dest.display()));
                        false
                    }
                    Err(e) => return Err(e),
                }
            }
            #[cfg(unix)]
            FileType::CharDevice | FileType::BlockDevice => {
                self.counts.skipped += 1;
                self.warn(format!(
                    "{}: device node skipped (only root can create it)",
                    dest.display()
                ));
                false
            }
            FileType::Socket => {
                self.counts.skipped += 1;
                self.warn(format!("{}: socket skipped", dest.display()));
                false
            }
            FileType::Directory => false,
        };
        if made && linked {
            self.links.insert(attr.inode, dest.to_path_buf());
        }
        Ok(())
    }

    /// A symbolic link on Windows: a file or directory link depending on
    /// what the target is in the image, `/` turned into `\\`. Creating one
    /// needs a privilege (or Developer Mode): without it, skipped with a
    /// warning. Returns whether it was made.
    #[cfg(windows)]
    fn windows_symlink(&mut self, node: &Node, ipath: &str, dest: &Path) -> Result<bool> {
        let target = node.link_target().unwrap_or("");
        let parent = match ipath.rfind('/') {
            Some(i) => &ipath[..i],
            None => "",
        };
        let in_image = if target.starts_with('/') {
            target.to_string()
        } else {
            join(if parent.is_empty() { "/" } else { parent }, target)
        };
        let is_dir = self
            .vol
            .resolve(&in_image, true)
            .is_ok_and(|n| n.kind() == FileType::Directory);
        let win_target = target.replace('/', "\\");
        let made = if is_dir {
            std::os::windows::fs::symlink_dir(&win_target, dest)
        } else {
            std::os::windows::fs::symlink_file(&win_target, dest)
        };
        // Wine 8 reports success without making a link: believe the disk.
        let made = made.and_then(|()| {
            fs::symlink_metadata(dest)
                .map(|_| ())
                .map_err(|_| io::Error::other("reported as made, but no link exists"))
        });
        match made {
            Ok(()) => {
                self.counts.symlinks += 1;
                // A link's own times are cosmetic; Wine cannot set them.
                if let Err(e) = set_times_nofollow(dest, node.attr()) {
                    log::debug!("{e:#}");
                }
                Ok(true)
            }
            Err(e) => {
                self.counts.skipped += 1;
                // ERROR_PRIVILEGE_NOT_HELD: say how to get the right.
                let hint = if e.raw_os_error() == Some(1314) {
                    "; creating links needs Developer Mode or the SeCreateSymbolicLinkPrivilege"
                } else {
                    ""
                };
                self.warn(format!(
                    "{}: symbolic link to {target:?} skipped ({e}{hint})",
                    dest.display()
                ));
                Ok(false)
            }
        }
    }

    #[cfg(unix)]
    fn finish_special(&mut self, dest: &Path, attr: &Attributes) -> Result<()> {
        self.counts.special += 1;
        self.set_owner_times_mode(dest, attr)
    }

    /// Writes a regular file here, in walk order.
    fn write_file(&mut self, node: &Node, dest: &Path) -> Result<()> {
        let n = self
            .writer()
            .write_file(node, dest, self.group_inherited, &mut self.buf)?;
        self.counts.files += 1;
        self.counts.bytes += n;
        Ok(())
    }

    #[cfg(unix)]
    fn set_owner_times(&self, dest: &Path, attr: &Attributes) -> Result<()> {
        if self.as_root {
            std::os::unix::fs::lchown(dest, Some(attr.uid), Some(attr.gid))
                .with_context(|| format!("cannot chown {}", dest.display()))?;
        }
        set_times_nofollow(dest, attr)
    }

    #[cfg(unix)]
    fn set_owner_times_mode(&self, dest: &Path, attr: &Attributes) -> Result<()> {
        if self.as_root {
            std::os::unix::fs::lchown(dest, Some(attr.uid), Some(attr.gid))
                .with_context(|| format!("cannot chown {}", dest.display()))?;
        }
        // `dest` was just made by us and is not a symlink; chmod after chown
        // (chown clears set-id bits).
        fs::set_permissions(dest, Permissions::from_mode(attr.mode & 0o7777))
            .with_context(|| format!("cannot chmod {}", dest.display()))?;
        set_times_nofollow(dest, attr)
    }

    fn apply_dir_attrs(&self, dest: &Path, attr: &Attributes) -> Result<()> {
        let m = fs::symlink_metadata(dest)?;
        if !m.is_dir() {
            return Err(anyhow!("no longer a directory"));
        }
        #[cfg(unix)]
        return self.set_owner_times_mode(dest, attr);
        // Windows: no owner, and a directory's read-only attribute means
        // something else there; only the times.
        #[cfg(windows)]
        return set_times_nofollow(dest, attr);
    }
}

impl Writer<'_> {
    /// A worker thread: writes the files it is sent until the sender is
    /// dropped; returns what it did.
    fn work(&self, jobs: &Mutex<mpsc::Receiver<FileJob>>) -> Counts {
        let mut counts = Counts::default();
        let mut buf = vec![0u8; CHUNK];
        loop {
            let job = jobs.lock().unwrap_or_else(PoisonError::into_inner).recv();
            let Ok(job) = job else { break };
            match self.write_file(&job.node, &job.dest, job.group_inherited, &mut buf) {
                Ok(n) => {
                    counts.files += 1;
                    counts.bytes += n;
                }
                Err(e) => {
                    counts.errors += 1;
                    print_error(self.progress.as_ref(), &e.context(job.ipath));
                }
            }
        }
        counts
    }

    /// Writes a regular file: created exclusively and never through a
    /// symlink, with its permission bits (never more than the image gives);
    /// owner, set-id bits and times applied once the content is in.
    fn write_file(
        &self,
        node: &Node,
        dest: &Path,
        group_inherited: bool,
        buf: &mut [u8],
    ) -> Result<u64> {
        let attr = node.attr();
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        options
            .mode(attr.mode & 0o777)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
        let file = match options.open(dest) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                free_slot(dest, self.overwrite)?;
                options.open(dest)
            }
            r => r,
        };
        let mut file = file.with_context(|| format!("cannot create {}", dest.display()))?;
        let bytes = match self.copy_content(node, &mut file, dest, buf) {
            Ok(n) => n,
            Err(e) => {
                drop(file);
                // A partial file would look complete to a later reader.
                let _ = fs::remove_file(dest);
                return Err(e);
            }
        };
        // Windows: no owners, so nothing is inherited either.
        #[cfg(not(unix))]
        let _ = group_inherited;
        #[cfg(unix)]
        {
            // Only the calls that change something: a new file already has
            // our uid and gid (unless a set-group-ID directory gave it its
            // group) and the mode it was created with, less the umask.
            let owner_differs =
                attr.uid != self.creds.uid || attr.gid != self.creds.gid || group_inherited;
            if self.as_root && owner_differs {
                std::os::unix::fs::fchown(&file, Some(attr.uid), Some(attr.gid))
                    .with_context(|| format!("cannot chown {}", dest.display()))?;
            }
            let mode = attr.mode & 0o7777;
            if mode != attr.mode & 0o777 & !self.creds.umask {
                file.set_permissions(Permissions::from_mode(mode))
                    .with_context(|| format!("cannot chmod {}", dest.display()))?;
            }
        }
        let mut times = FileTimes::new().set_modified(system_time(attr.mtime));
        times = times.set_accessed(system_time(attr.atime.unwrap_or(attr.mtime)));
        file.set_times(times)
            .with_context(|| format!("cannot set times of {}", dest.display()))?;
        // No write bit at all: the read-only attribute (after the times,
        // which need a writable handle on some file systems).
        #[cfg(windows)]
        if attr.mode & 0o222 == 0 {
            let mut p = file
                .metadata()
                .with_context(|| format!("cannot read back {}", dest.display()))?
                .permissions();
            p.set_readonly(true);
            file.set_permissions(p)
                .with_context(|| format!("cannot make {} read-only", dest.display()))?;
        }
        Ok(bytes)
    }

    /// Copies the content; returns the bytes written.
    fn copy_content(
        &self,
        node: &Node,
        file: &mut File,
        dest: &Path,
        buf: &mut [u8],
    ) -> Result<u64> {
        let size = node.attr().size;
        let mut off = 0u64;
        while off < size {
            let n = common::read_salvaging(self.vol, node, off, buf)
                .with_context(|| format!("read error at offset {off}"))?;
            if n == 0 {
                break;
            }
            file.write_all(&buf[..n])
                .with_context(|| format!("cannot write {}", dest.display()))?;
            off += n as u64;
            if let Some(pb) = &self.progress {
                pb.inc(n as u64);
            }
        }
        Ok(off)
    }
}

/// Prints one failed entry, above the progress bar if there is one.
fn print_error(progress: Option<&ProgressBar>, err: &anyhow::Error) {
    match progress {
        Some(pb) => pb.suspend(|| eprintln!("isomount: {err:#}")),
        None => eprintln!("isomount: {err:#}"),
    }
}

/// Clears the way for a non-directory at `dest`: nothing there, or (with
/// `overwrite`) the file or link removed (never its target).
fn free_slot(dest: &Path, overwrite: bool) -> Result<()> {
    match fs::symlink_metadata(dest) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(anyhow::Error::new(e).context(dest.display().to_string())),
        Ok(m) if m.is_dir() => Err(anyhow!("{}: exists and is a directory", dest.display())),
        Ok(_m) if overwrite => {
            // Windows refuses to delete a read-only file.
            #[cfg(windows)]
            if _m.permissions().readonly() {
                let mut p = _m.permissions();
                // Only the read-only attribute: Windows has no mode bits.
                #[allow(clippy::permissions_set_readonly_false)]
                p.set_readonly(false);
                let _ = fs::set_permissions(dest, p);
            }
            fs::remove_file(dest).with_context(|| format!("cannot replace {}", dest.display()))
        }
        Ok(_) => Err(anyhow!(
            "{}: already exists (use --overwrite to replace it)",
            dest.display()
        )),
    }
}

#[cfg(unix)]
/// `mkfifo`/`mknod` of type `kind` with owner-only permissions (fixed later).
fn mknod(dest: &Path, kind: libc::mode_t, dev: u64) -> Result<()> {
    let c = c_path(dest)?;
    // SAFETY: `c` is a valid NUL-terminated path that outlives the call.
    let r = unsafe { libc::mknod(c.as_ptr(), kind | 0o600, dev as libc::dev_t) };
    if r != 0 {
        return Err(anyhow::Error::new(io::Error::last_os_error())
            .context(format!("cannot create {}", dest.display())));
    }
    Ok(())
}

#[cfg(unix)]
fn is_eperm(e: &anyhow::Error) -> bool {
    e.downcast_ref::<io::Error>()
        .is_some_and(|e| e.raw_os_error() == Some(libc::EPERM))
}

#[cfg(unix)]
fn c_path(p: &Path) -> Result<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| anyhow!("{}: path holds NUL", p.display()))
}

#[cfg(unix)]
fn timespec(t: Timestamp) -> libc::timespec {
    libc::timespec {
        tv_sec: t.secs as libc::time_t,
        tv_nsec: t.nanos as _,
    }
}

#[cfg(unix)]
/// Sets atime/mtime of `dest` itself (a symlink is not followed).
fn set_times_nofollow(dest: &Path, attr: &Attributes) -> Result<()> {
    let c = c_path(dest)?;
    let times = [
        timespec(attr.atime.unwrap_or(attr.mtime)),
        timespec(attr.mtime),
    ];
    // SAFETY: `c` is a valid NUL-terminated path and `times` two timespecs,
    // both alive for the call.
    let r = unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c.as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if r != 0 {
        return Err(anyhow::Error::new(io::Error::last_os_error())
            .context(format!("cannot set times of {}", dest.display())));
    }
    Ok(())
}

/// Sets atime/mtime of `dest` itself (a symlink or directory is opened
/// as itself: `FILE_FLAG_OPEN_REPARSE_POINT | FILE_FLAG_BACKUP_SEMANTICS`).
#[cfg(windows)]
fn set_times_nofollow(dest: &Path, attr: &Attributes) -> Result<()> {
    const FILE_WRITE_ATTRIBUTES: u32 = 0x0100;
    const FILE_FLAG_BACKUP_SEMANTICS: u32 = 0x0200_0000;
    const FILE_FLAG_OPEN_REPARSE_POINT: u32 = 0x0020_0000;
    let file = fs::OpenOptions::new()
        .access_mode(FILE_WRITE_ATTRIBUTES)
        .custom_flags(FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT)
        .open(dest)
        .with_context(|| format!("cannot set times of {}", dest.display()))?;
    let times = FileTimes::new()
        .set_modified(system_time(attr.mtime))
        .set_accessed(system_time(attr.atime.unwrap_or(attr.mtime)));
    file.set_times(times)
        .with_context(|| format!("cannot set times of {}", dest.display()))
}

fn system_time(t: Timestamp) -> SystemTime {
    let nanos = Duration::from_nanos(u64::from(t.nanos));
    let r = if t.secs >= 0 {
        UNIX_EPOCH.checked_add(Duration::from_secs(t.secs as u64) + nanos)
    } else {
        UNIX_EPOCH
            .checked_sub(Duration::from_secs(t.secs.unsigned_abs()))
            .and_then(|s| s.checked_add(nanos))
    };
    r.unwrap_or(UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(unix)]
    use std::os::unix::fs::{FileTypeExt, MetadataExt};

    #[cfg(unix)]
    fn mtime(p: &Path) -> i64 {
        fs::symlink_metadata(p).map(|m| m.mtime()).unwrap_or(-1)
    }

    #[cfg(unix)]
    fn mode(p: &Path) -> u32 {
        fs::symlink_metadata(p)
            .map(|m| m.mode() & 0o7777)
            .unwrap_or(0)
    }

    #[test]
    fn plurals() {
        assert_eq!(plural(1, "directory"), "1 directory");
        assert_eq!(plural(3, "directory"), "3 directories");
        assert_eq!(plural(0, "file"), "0 files");
    }

    #[cfg(unix)]
    #[test]
    fn extracts_whole_tree() -> Result<()> {
        let vol = crate::testvol::volume();
        let tmp = tempfile::tempdir()?;
        let out = tmp.path().join("out");
        let opts = ExtractOptions {
            overwrite: false,
            quiet: true,
        };
        let c = run(&vol, "/", &out, opts)?;
        assert_eq!(c.errors, 0, "{c:?}");
        assert_eq!(fs::read(out.join("a.txt"))?, b"hello");
        assert_eq!(mode(&out.join("a.txt")), 0o4755);
        assert_eq!(mtime(&out.join("a.txt")), 1_577_934_245);
        assert_eq!(fs::read(out.join("sub/h2"))?, b"world!");
        let (m1, m2) = (
            fs::metadata(out.join("h1"))?,
            fs::metadata(out.join("sub/h2"))?,
        );
        assert_eq!(m1.ino(), m2.ino());
        assert_eq!(c.hardlinks, 1);
        assert_eq!(fs::read(out.join("big"))?, &crate::testvol::image()[16..]);
        assert_eq!(fs::read_link(out.join("ln"))?, Path::new("a.txt"));
        assert_eq!(mtime(&out.join("ln")), 1_300_000_000);
        assert!(
            fs::symlink_metadata(out.join("fifo"))?
                .file_type()
                .is_fifo()
        );
        assert_eq!(mode(&out.join("ro")), 0o555);
        assert_eq!(mtime(&out.join("ro")), 1_200_000_000);
        assert_eq!(fs::read(out.join("ro/c.txt"))?, b"world!");
        assert_eq!(mode(&out.join("sub")), 0o750);
        assert_eq!(mtime(&out.join("sub")), 1_100_000_000);
        // The destination was created, so it takes the root's attributes.
        assert_eq!(mtime(&out), 1_000_000_000);
        assert_eq!(c.files, 5);
        assert_eq!(c.bytes, 5 + 6 + 5 + 6 + crate::testvol::BIG as u64);

        // A second run refuses to overwrite, then --overwrite replaces.
        let again = run(&vol, "/sub", &out, opts)?;
        assert!(again.errors > 0);
        let again = run(
            &vol,
            "/sub",
            &out,
            ExtractOptions {
                overwrite: true,
                quiet: true,
            },
        )?;
        assert_eq!(again.errors, 0);
        fs::set_permissions(out.join("ro"), Permissions::from_mode(0o755))?;
        Ok(())
    }

    #[cfg(unix)]
    #[test]
    fn never_writes_through_symlinks() -> Result<()> {
        let vol = crate::testvol::volume();
        let tmp = tempfile::tempdir()?;
        let out = tmp.path().join("out");
        let victim = tmp.path().join("victim");
        fs::create_dir_all(&out)?;
        fs::create_dir_all(&victim)?;
        std::os::unix::fs::symlink(&victim, out.join("sub"))?;
        std::os::unix::fs::symlink(victim.join("a"), out.join("a.txt"))?;
        let opts = ExtractOptions {
            overwrite: false,
            quiet: true,
        };
        let c = run(&vol, "/", &out, opts)?;
        assert!(c.errors >= 2);
        assert_eq!(fs::read_dir(&victim)?.count(), 0);
        // --overwrite replaces the links themselves, still not their targets.
        let c = run(
            &vol,
            "/",
            &out,
            ExtractOptions {
                overwrite: true,
                quiet: true,
            },
        );
        fs::set_permissions(out.join("ro"), Permissions::from_mode(0o755))?;
        let c = c?;
        assert_eq!(c.errors, 0, "{c:?}");
        assert_eq!(fs::read_dir(&victim)?.count(), 0);
        assert!(fs::symlink_metadata(out.join("sub"))?.is_dir());
        Ok(())
    }

    #[cfg(unix)]
    #[test]
    fn extracts_one_file_and_subtree() -> Result<()> {
        let vol = crate::testvol::volume();
        let tmp = tempfile::tempdir()?;
        let opts = ExtractOptions {
            overwrite: false,
            quiet: true,
        };
        run(&vol, "/sub", tmp.path(), opts)?;
        assert_eq!(fs::read(tmp.path().join("sub/b.txt"))?, b"hello");
        run(&vol, "a.txt", tmp.path(), opts)?;
        assert_eq!(fs::read(tmp.path().join("a.txt"))?, b"hello");
        assert!(run(&vol, "/nope", tmp.path(), opts).is_err());
        Ok(())
    }

    /// The Windows side of `extract` (run under Wine by ci/windows.sh).
    #[cfg(windows)]
    #[test]
    fn extracts_whole_tree_on_windows() -> Result<()> {
        let vol = crate::testvol::volume();
        let tmp = tempfile::tempdir()?;
        let out = tmp.path().join("out");
        let opts = ExtractOptions {
            overwrite: false,
            quiet: true,
        };
        let c = run(&vol, "/", &out, opts)?;
        assert_eq!(c.errors, 0, "{c:?}");
        assert_eq!(fs::read(out.join("a.txt"))?, b"hello");
        assert_eq!(fs::read(out.join("sub/h2"))?, b"world!");
        assert_eq!(fs::read(out.join("big"))?, &crate::testvol::image()[16..]);
        assert_eq!(fs::read(out.join("ro/c.txt"))?, b"world!");
        // 0o444: read-only attribute; 0o640: not.
        assert!(fs::metadata(out.join("ro/c.txt"))?.permissions().readonly());
        assert!(!fs::metadata(out.join("h1"))?.permissions().readonly());
        let m = fs::metadata(out.join("a.txt"))?.modified()?;
        assert_eq!(
            m,
            system_time(Timestamp {
                secs: 1_577_934_245,
                nanos: 0
            })
        );
        let m = fs::metadata(out.join("sub"))?.modified()?;
        assert_eq!(
            m,
            system_time(Timestamp {
                secs: 1_100_000_000,
                nanos: 0
            })
        );
        // FIFO and device skipped; the link made or skipped, never an error.
        assert!(!out.join("fifo").exists() && !out.join("null").exists());
        assert_eq!(c.symlinks + c.skipped, 3, "{c:?}");
        // --overwrite replaces read-only files too.
        let c = run(
            &vol,
            "/",
            &out,
            ExtractOptions {
                overwrite: true,
                quiet: true,
            },
        )?;
        assert_eq!(c.errors, 0, "{c:?}");
        // Let the temporary directory go (Windows keeps read-only files).
        let mut p = fs::metadata(out.join("ro/c.txt"))?.permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        p.set_readonly(false);
        fs::set_permissions(out.join("ro/c.txt"), p)?;
        Ok(())
    }
}
