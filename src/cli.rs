//! Command-line definitions (clap derive).

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};
use fs_core::View;

/// Open optical-disc images (ISO 9660, Joliet, Rock Ridge, UDF) read-only:
/// list, read and extract their contents, or mount them.
///
/// isomount reads ISO 9660 with its Joliet and Rock Ridge extensions, El
/// Torito boot images, and UDF 1.02 to 2.60 (Windows install media, DVD and
/// Blu-ray discs, bridge images whose ISO 9660 side is only a stub), inside
/// plain images, BIN/CUE, Nero NRG, Alcohol MDF/MDS, CloneCD and CSO/ZSO
/// containers, detected from their content. On an image with several trees
/// the richest one is shown (UDF, Rock Ridge, Joliet, ISO 9660) unless
/// --view names another.
///
/// The scripting commands (info, ls, stat, cat, extract) need no mount. A
/// mount is read-only, through FUSE on Linux (also from /etc/fstab and
/// `mount -t fuse.isomount`) and WinFsp on Windows. Images are untrusted
/// input: every length and location read from one is checked, a broken
/// entry fails only itself, and extract never writes outside its target.
#[derive(Debug, Clone, Parser)]
#[command(name = "isomount", version, about, max_term_width = 100)]
pub struct Cli {
    /// How to open the image (global options).
    #[command(flatten)]
    pub open: ImageArgs,

    /// More log output (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub verbose: u8,

    /// Only errors: no warnings, progress or summary.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// How an image is opened: the global options every command shares (and
/// that `mount -o view=...,session=...` can also set).
#[derive(Debug, Clone, Args)]
pub struct ImageArgs {
    /// Tree to show instead of the richest one the image offers.
    #[arg(long, global = true, value_name = "VIEW", ignore_case = true, value_parser = view_parser())]
    pub view: Option<View>,

    /// Metadata cache size in bytes (suffixes K, M, G, T: powers of 1024).
    #[arg(long, global = true, value_name = "BYTES", default_value = "8M", value_parser = parse_size)]
    pub cache_size: u64,

    /// Session of a multisession disc to open (1 = first); default: the last.
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub session: Option<u32>,

    /// Do not show El Torito boot images in a virtual `[BOOT]` directory.
    #[arg(long, global = true)]
    pub no_boot_dir: bool,

    /// Remote images: an HTTP header sent with every request, such as
    /// 'Authorization: Bearer TOKEN' (repeatable; never logged).
    #[arg(long = "header", global = true, value_name = "HEADER")]
    pub headers: Vec<String>,

    /// S3 images: send unsigned requests (public buckets), as
    /// `aws --no-sign-request`.
    #[arg(long, global = true)]
    pub no_sign_request: bool,

    /// Remote images: the persistent chunk cache [default:
    /// $XDG_CACHE_HOME/isomount, ~/.cache/isomount; %LOCALAPPDATA% on Windows].
    #[arg(long, global = true, value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub cache_dir: Option<PathBuf>,

    /// Remote images: bound of the persistent chunk cache (least recently
    /// used chunks go first). (`--cache-size` is the metadata cache.)
    #[arg(long, global = true, value_name = "BYTES", default_value = "4G", value_parser = parse_size)]
    pub disk_cache_size: u64,

    /// Remote images: no persistent chunk cache.
    #[arg(long, global = true, conflicts_with = "cache_dir")]
    pub no_disk_cache: bool,

    /// Remote images: the unit fetched and cached (a power of two, 64K to
    /// 64M; 1M by default). Sequential reads ask for up to 16 at a time.
    #[arg(long, global = true, value_name = "BYTES", value_parser = parse_size)]
    pub chunk_size: Option<u64>,

    /// Remote images: how long one request may take, in seconds, before it
    /// is abandoned and retried.
    #[arg(long, global = true, value_name = "SECONDS", default_value = "30",
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,

    /// Remote images: print bytes fetched, requests and cache hits on
    /// standard error when the command ends.
    #[arg(long, global = true)]
    pub stats: bool,

    /// Show the local file or directory SRC at DEST ('/'-rooted) in the
    /// view, replacing the image's entry of that name; missing directories
    /// on the way are made (repeatable, later wins; the image is untouched).
    #[arg(long = "add", global = true, value_name = "SRC=DEST", value_parser = parse_add)]
    pub adds: Vec<OverlayAdd>,

    /// Remove PATH (a file or a whole directory) from the view (repeatable;
    /// applied after every --add; a path not in the view is an error).
    #[arg(long = "hide", global = true, value_name = "PATH")]
    pub hides: Vec<String>,
}

/// One `--add SRC=DEST`, SRC made absolute when parsed (the mount server
/// works from "/").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverlayAdd {
    /// The local file or directory, absolute.
    pub src: PathBuf,
    /// Where it shows in the view.
    pub dest: String,
}

impl OverlayAdd {
    /// The argument again, as `--add` takes it (for the mount server).
    #[cfg(any(unix, test))]
    pub fn to_arg(&self) -> std::ffi::OsString {
        let mut s = self.src.clone().into_os_string();
        s.push("=");
        s.push(&self.dest);
        s
    }
}

/// Parses `--add SRC=DEST` (split at the last `=/`), making SRC absolute.
fn parse_add(s: &str) -> Result<OverlayAdd, String> {
    let (src, dest) = fs_core::Overlay::parse_add(s).map_err(|e| e.to_string())?;
    let src = std::path::absolute(&src).map_err(|e| format!("{}: {e}", src.display()))?;
    Ok(OverlayAdd { src, dest })
}

impl ImageArgs {
    /// The overlay the `--add` and `--hide` flags ask for.
    pub fn overlay(&self) -> fs_core::Overlay {
        fs_core::Overlay {
            adds: (self.adds.iter())
                .map(|a| (a.src.clone(), a.dest.clone()))
                .collect(),
            hides: self.hides.clone(),
        }
    }
}

/// The subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Show what the image is: format, views, label, identifiers, dates.
    Info {
        /// The image file (or block device).
        #[arg(value_hint = clap::ValueHint::FilePath)]
        image: PathBuf,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List a directory of the image (hidden entries included).
    Ls {
        /// The image file.
        #[arg(value_hint = clap::ValueHint::FilePath)]
        image: PathBuf,
        /// Directory or file inside the image ("/"-separated).
        #[arg(default_value = "/")]
        path: String,
        /// Long listing: mode, links, owner, group, size, mtime (UTC), name.
        #[arg(short, long)]
        long: bool,
        /// List subdirectories recursively.
        #[arg(short = 'R', long)]
        recursive: bool,
        /// JSON Lines, one object per entry.
        #[arg(long)]
        json: bool,
    },
    /// Show every attribute of one node (symbolic links are not followed).
    Stat {
        /// The image file.
        #[arg(value_hint = clap::ValueHint::FilePath)]
        image: PathBuf,
        /// Path inside the image.
        path: String,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Write files' contents to standard output (symbolic links are followed).
    Cat {
        /// The image file.
        #[arg(value_hint = clap::ValueHint::FilePath)]
        image: PathBuf,
        /// Paths inside the image.
        #[arg(required = true)]
        paths: Vec<String>,
    },
    /// Copy the tree (or a subtree or file) out of the image.
    Extract {
        /// The image file.
        #[arg(value_hint = clap::ValueHint::FilePath)]
        image: PathBuf,
        /// What to extract: a directory's contents go straight into DIR when
        /// it is the root, else DIR/NAME is created.
        #[arg(default_value = "/")]
        path: String,
        /// Destination directory (created if missing).
        #[arg(short = 'C', long = "directory", value_name = "DIR", required = true, value_hint = clap::ValueHint::DirPath)]
        dir: PathBuf,
        /// Replace files that already exist in DIR (never follows symlinks).
        #[arg(long)]
        overwrite: bool,
    },
    /// Mount the image read-only (FUSE on Linux, WinFsp on Windows).
    ///
    /// Also runs as the mount helper of `mount -t fuse.isomount IMAGE DIR -o OPTS`
    /// and of /etc/fstab lines of type `fuse.isomount` (through mount.fuse3).
    Mount {
        /// The image file.
        #[arg(value_hint = clap::ValueHint::FilePath)]
        image: PathBuf,
        /// Where to mount: an existing directory (Linux), or a drive letter
        /// or new folder (Windows). Default: a new directory under
        /// `$XDG_RUNTIME_DIR/isomount` (Linux), the next free drive letter
        /// (Windows); the place chosen is printed.
        #[arg(value_hint = clap::ValueHint::DirPath)]
        mountpoint: Option<PathBuf>,
        /// Stay in the foreground.
        #[arg(short, long)]
        foreground: bool,
        /// Mount options, comma-separated: ro, allow_other, uid=N, gid=N,
        /// umask=M, view=V, session=N, ...
        ///
        /// The same list as in `mount -o` and the options column of
        /// /etc/fstab. Image: view=udf|rockridge|joliet|iso9660, session=N,
        /// cache_size=BYTES, no_boot_dir. Owner and permissions: uid=N,
        /// gid=N, umask=M, fmask=M, dmask=M (octal bits to clear on all, on
        /// non-directories, on directories). Access: allow_other,
        /// allow_root, default_permissions (always on). Mount: ro (implied;
        /// rw is refused), fsname=NAME (default: the image path),
        /// threads=N (default 4), read_ahead_kb=N (default 1024),
        /// auto_unmount, dev/nodev, suid/nosuid (nodev,nosuid by default,
        /// and always when called by mount.fuse3), exec/noexec. For
        /// mount(8) and systemd, ignored: defaults, auto, noauto, user,
        /// users, nouser, owner, group, nofail, _netdev, x-*, comment=.
        /// Anything else is an error that names it.
        #[arg(short = 'o', value_name = "OPTS")]
        options: Vec<String>,
    },
    /// Unmount a mount made by isomount (or all of them with --all).
    Umount {
        /// The mount point.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        #[arg(value_hint = clap::ValueHint::DirPath)]
        mountpoint: Option<PathBuf>,
        /// Unmount every isomount mount this user may unmount (those `isomount list` shows).
        #[arg(short, long)]
        all: bool,
    },
    /// List the images isomount has mounted: image, mount point, view, server pid.
    List {
        /// JSON Lines, one object per mount.
        #[arg(long)]
        json: bool,
    },
    /// Mount the image in a place of its own and open it in the file manager.
    ///
    /// What a double-click runs. Linux (the desktop entry): the image is
    /// mounted under `$XDG_RUNTIME_DIR/isomount/mnt` and shown with
    /// `xdg-open`; an image this user already has mounted is shown where it
    /// is. Windows (Explorer's "Mount with isomount" or "Open with", which
    /// may also run `isomount IMAGE`): mounted on the next free drive letter
    /// and shown in Explorer, served until the console window is closed.
    Open {
        /// The image file.
        #[arg(value_hint = clap::ValueHint::FilePath)]
        image: PathBuf,
        /// Only mount and print the place; do not start the file manager.
        #[arg(long)]
        no_open: bool,
    },
    /// Check every structure of the image, and the files its checksum
    /// lists (md5sum.txt, SHA256SUMS, ...) name.
    ///
    /// ISO 9660 / Joliet / Rock Ridge trees (extents inside the image, no
    /// loops or overlaps, zisofs block tables), UDF descriptor tags and CRCs
    /// (anchors, both volume descriptor sequences, integrity sequence, file
    /// set, every file entry and identifier, the metadata file against its
    /// mirror), the UDF and ISO 9660 trees of a bridge image against each
    /// other, and EDC/ECC of every raw sector of a BIN. Exit status 0 only
    /// when everything checked is right, 1 when a problem was found, 3 when
    /// the image could not be checked at all.
    Verify {
        /// The image file.
        #[arg(value_hint = clap::ValueHint::FilePath)]
        image: PathBuf,
        /// The SHA-256 the image file itself must have (64 hex digits).
        #[arg(long, value_name = "SHA256", value_parser = parse_sha256)]
        expect: Option<String>,
        /// One JSON document instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Serve images read-only over HTTP/1.1 (GET and HEAD, ranges,
    /// directory pages), in the foreground until Ctrl+C or SIGTERM.
    ///
    /// One image is served at `/`, several each under `/NAME/` (NAME: the
    /// file name without its extension; the URLs are printed at startup).
    /// Files answer with ETag and Last-Modified and honour Range (206, 416),
    /// If-None-Match and If-Modified-Since (304); a directory answers an
    /// HTML page of links (browsers, `wget -r`) or, asked with `Accept:
    /// application/json`, JSON. Nothing outside the images can be reached:
    /// `..`, encoded separators and invalid encodings are refused. Requests
    /// are logged at -v. With --tftp, the same files over TFTP too.
    Serve {
        /// The image files or URLs.
        #[arg(required = true, value_hint = clap::ValueHint::FilePath)]
        images: Vec<PathBuf>,
        /// Address and port to listen on (port 0: any free port, printed).
        /// Beyond loopback (e.g. 0.0.0.0:8080) anyone who reaches it can
        /// read the images.
        #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// Look names up ignoring case, and take backslashes as separators
        /// (as Windows clients, WinPE and PXE menus ask: /BOOT/bcd finds
        /// boot/BCD).
        #[arg(long)]
        ignore_case: bool,
        /// Most connections served at once; more wait to be accepted.
        #[arg(long, value_name = "N", default_value = "256",
              value_parser = clap::value_parser!(u32).range(1..=100_000))]
        max_connections: u32,
        /// Seconds a client has to send a request's headers.
        #[arg(long, value_name = "SECONDS", default_value = "10",
              value_parser = clap::value_parser!(u64).range(1..=3600))]
        header_timeout: u64,
        /// Seconds a connection may stay without any byte sent or received.
        #[arg(long, value_name = "SECONDS", default_value = "60",
              value_parser = clap::value_parser!(u64).range(1..=86_400))]
        idle_timeout: u64,
        /// Also serve the images over TFTP (RFC 1350; blksize, tsize, timeout
        /// and windowsize options) on this address, e.g. 0.0.0.0:69, with
        /// the same names and rules as over HTTP. Read-only: writes are
        /// refused.
        #[arg(long, value_name = "ADDR:PORT")]
        tftp: Option<std::net::SocketAddr>,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), or write one page per command into DIR.
    Manpage {
        /// Write isomount.1 and isomount-COMMAND.1 into this directory.
        #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
        dir: Option<PathBuf>,
    },
}

/// The views by name (with the aliases [`View`]'s parser takes), so that
/// help, completions and the man page can list them.
fn view_parser() -> impl clap::builder::TypedValueParser<Value = View> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
    PossibleValuesParser::new([
        PossibleValue::new("udf").help("UDF (ECMA-167)"),
        PossibleValue::new("rockridge")
            .aliases(["rr", "rock-ridge"])
            .help("ISO 9660 with Rock Ridge (POSIX names and attributes)"),
        PossibleValue::new("joliet").help("ISO 9660 with Joliet (Unicode names)"),
        PossibleValue::new("iso9660")
            .aliases(["iso", "plain"])
            .help("plain ISO 9660"),
    ])
    .try_map(|s| s.parse::<View>())
}

/// Parses a byte count with an optional binary suffix: `65536`, `512K`, `64M`, `1G`, `2GiB`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    let body = lower
        .strip_suffix("ib")
        .or_else(|| lower.strip_suffix('b'))
        .unwrap_or(&lower);
    let (digits, shift) = match body.chars().last() {
        Some('k') => (&body[..body.len() - 1], 10),
        Some('m') => (&body[..body.len() - 1], 20),
        Some('g') => (&body[..body.len() - 1], 30),
        Some('t') => (&body[..body.len() - 1], 40),
        _ => (body, 0),
    };
    let n: u64 = digits
        .trim()
        .parse()
        .map_err(|_| format!("invalid size {s:?}: expected a number with optional K, M, G or T"))?;
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| format!("size {s:?} is too large"))
}

/// A SHA-256 digest in hex (either case), returned in lower case.
fn parse_sha256(s: &str) -> Result<String, String> {
    let t = s.trim();
    if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(t.to_ascii_lowercase())
    } else {
        Err(format!(
            "{s:?} is not a SHA-256 digest (64 hexadecimal digits)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert_eq!(parse_size("512k"), Ok(512 << 10));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert_eq!(parse_size("1000B"), Ok(1000));
        assert!(parse_size("M").is_err());
        assert!(parse_size("12X").is_err());
        assert!(parse_size("99999999999T").is_err());
    }

    #[test]
    fn add_takes_src_equals_dest_and_makes_src_absolute() {
        let a = parse_add("dir/a=b.xml=/x/y.xml").unwrap();
        assert!(
            a.src.is_absolute() && a.src.ends_with("dir/a=b.xml"),
            "{a:?}"
        );
        assert_eq!(a.dest, "/x/y.xml");
        assert_eq!(parse_add(&a.to_arg().to_string_lossy()), Ok(a));
        let e = parse_add("./a").unwrap_err();
        assert!(e.contains("expected SRC=DEST"), "{e}");
    }

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
