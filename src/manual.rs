//! `isomount completions SHELL` and `isomount manpage [--dir DIR]`: shell
//! completion scripts and manual pages generated from the one clap
//! definition in [`crate::cli`], so they cannot drift from `--help`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use clap::CommandFactory;
use clap_complete::Shell;
use clap_mangen::Man;
use clap_mangen::roff::{Inline, Roff, bold, italic, roman};

use crate::cli::Cli;

/// The program's name: the completion scripts complete this command, and
/// the manual pages are `isomount.1` and `isomount-COMMAND.1`.
const BIN: &str = "isomount";

/// Writes the completion script for `shell` to `out`.
pub fn completions(shell: Shell, out: &mut dyn Write) -> Result<()> {
    // clap_complete panics when its writer fails; render into memory so a
    // closed pipe is an ordinary error.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), BIN, &mut script);
    out.write_all(&script)
        .and_then(|()| out.flush())
        .context("cannot write to standard output")
}

/// Writes `isomount.1` to `out`.
pub fn manpage(out: &mut dyn Write) -> Result<()> {
    let cmd = command();
    let date = page_date();
    let mut page = Vec::new();
    render(&cmd, &cmd, &date, &mut page).context("cannot render the manual page")?;
    out.write_all(&page)
        .and_then(|()| out.flush())
        .context("cannot write to standard output")
}

/// Writes `isomount.1` and one `isomount-COMMAND.1` per subcommand into
/// `dir` (created if missing); returns the files written.
pub fn manpages_to(dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let root = command();
    let date = page_date();
    let mut written = Vec::new();
    let mut pending = vec![root.clone()];
    while let Some(cmd) = pending.pop() {
        pending.extend(visible_subcommands(&cmd).cloned());
        let path = dir.join(page_name(&cmd));
        let write = || -> std::io::Result<()> {
            let mut f = BufWriter::new(File::create(&path)?);
            render(&root, &cmd, &date, &mut f)?;
            f.into_inner().map_err(|e| e.into_error())?.sync_all()
        };
        write().with_context(|| format!("cannot write {}", path.display()))?;
        log::info!("wrote {}", path.display());
        written.push(path);
    }
    Ok(written)
}

/// The clap command as the pages describe it: built (so subcommands carry
/// their full names and the global options), without clap's `help`
/// subcommand, which needs no page.
fn command() -> clap::Command {
    let mut cmd = Cli::command().bin_name(BIN).disable_help_subcommand(true);
    cmd.build();
    cmd
}

fn visible_subcommands(cmd: &clap::Command) -> impl Iterator<Item = &clap::Command> {
    cmd.get_subcommands().filter(|s| !s.is_hide_set())
}

/// `isomount` for the main page, `isomount-mount` for `isomount mount`.
fn page_title(cmd: &clap::Command) -> &str {
    cmd.get_display_name().unwrap_or_else(|| cmd.get_name())
}

fn page_name(cmd: &clap::Command) -> String {
    format!("{}.1", page_title(cmd))
}

/// The date in the page header, YYYY-MM-DD: `SOURCE_DATE_EPOCH` when set
/// (reproducible builds: ci/deb.sh sets it to the commit's time), else the
/// modification time of the running executable, that is when it was built
/// or installed; empty when neither is known.
fn page_date() -> String {
    let epoch = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .or_else(|| {
            let exe = std::env::current_exe().ok()?;
            let mtime = std::fs::metadata(exe).ok()?.modified().ok()?;
            let secs = mtime.duration_since(UNIX_EPOCH).ok()?.as_secs();
            i64::try_from(secs).ok()
        })
        .or_else(|| {
            let secs = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
            i64::try_from(secs).ok()
        });
    epoch.map(ymd).unwrap_or_default()
}

/// Seconds since 1970-01-01 UTC as the proleptic Gregorian date YYYY-MM-DD
/// (Howard Hinnant's civil_from_days).
fn ymd(epoch: i64) -> String {
    let z = epoch.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// One page: clap_mangen's sections (NAME, SYNOPSIS, DESCRIPTION, OPTIONS,
/// SUBCOMMANDS), then this program's own (mounting from fstab, exit status,
/// environment, files, examples), VERSION and SEE ALSO.
fn render(
    root: &clap::Command,
    cmd: &clap::Command,
    date: &str,
    w: &mut dyn Write,
) -> std::io::Result<()> {
    let is_root = cmd.get_name() == root.get_name();
    let version = root.get_version().unwrap_or(env!("CARGO_PKG_VERSION"));
    let man = Man::new(cmd.clone())
        .title(page_title(cmd).to_uppercase())
        .section("1")
        .date(date)
        .source(format!("{BIN} {version}"))
        .manual("User Commands");
    // Each render_* call starts with roff's two-line apostrophe preamble;
    // it is written once, at the top.
    let mut sections = Vec::new();
    man.render_title(&mut sections)?;
    // Ragged right and no hyphenation: option names and paths stay whole.
    sections.extend_from_slice(b".ad l\n.nh\n");
    man.render_name_section(&mut sections)?;
    man.render_synopsis_section(&mut sections)?;
    man.render_description_section(&mut sections)?;
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut sections)?;
    }
    if visible_subcommands(cmd).next().is_some() {
        man.render_subcommands_section(&mut sections)?;
    }
    let mut roff = Roff::new();
    if is_root || cmd.get_name() == "mount" {
        mounting_section(&mut roff);
    }
    if is_root {
        exit_status_section(&mut roff);
        environment_section(&mut roff);
        files_section(&mut roff);
        examples_section(&mut roff);
    }
    roff.control("SH", ["VERSION"]);
    roff.text([roman(format!("{BIN} {version}"))]);
    see_also_section(&mut roff, root, cmd, is_root);
    roff.to_writer(&mut sections)?;

    let text = String::from_utf8_lossy(&sections);
    let preamble = Roff::new().render();
    let body = text.replace(&preamble, "");
    w.write_all(preamble.as_bytes())?;
    w.write_all(body.as_bytes())
}

/// A tagged paragraph: `.TP` with `tag` in bold, then `text`.
fn item(roff: &mut Roff, tag: &str, text: &str) {
    roff.control("TP", []);
    roff.text([bold(tag)]);
    roff.text([roman(text)]);
}

/// An indented, unfilled example block.
fn example(roff: &mut Roff, lines: &[&str]) {
    roff.control("PP", []);
    roff.control("RS", ["4"]);
    roff.control("nf", []);
    for line in lines {
        roff.text([roman(*line)]);
    }
    roff.control("fi", []);
    roff.control("RE", []);
}

fn mounting_section(roff: &mut Roff) {
    roff.control("SH", ["MOUNTING WITH MOUNT(8) AND FSTAB"]);
    roff.text([
        roman("Besides "),
        bold("isomount mount"),
        roman(", an image can be mounted by "),
        bold("mount"),
        roman("(8) with the file system type "),
        bold("fuse.isomount"),
        roman(", by hand or from "),
        italic("/etc/fstab"),
        roman(": "),
        bold("mount.fuse3"),
        roman("(8), from the "),
        bold("fuse3"),
        roman(" package, runs "),
        bold("isomount"),
        italic(" IMAGE DIR "),
        bold("-o"),
        italic(" OPTIONS"),
        roman(", which isomount takes as "),
        bold("isomount mount"),
        roman(". For example, as root:"),
    ]);
    example(
        roff,
        &["mount -t fuse.isomount IMAGE DIR -o ro,allow_other,view=udf"],
    );
    roff.control("PP", []);
    roff.text([roman(
        "An /etc/fstab line that mounts an image read-only for every user when \
         /mnt/win7 is first used, and does not fail the boot when the image is missing:",
    )]);
    example(
        roff,
        &[
            "/srv/images/win7.iso  /mnt/win7  fuse.isomount  ro,allow_other,nofail,x-systemd.automount  0 0",
        ],
    );
    roff.control("PP", []);
    roff.text([
        roman("The options are those of "),
        bold("isomount mount -o"),
        roman(", listed under -o in "),
        bold("isomount-mount"),
        roman("(1) and by "),
        bold("isomount mount --help"),
        roman(
            ": the image options (view=, session=, ...), the owner and permissions \
             (uid=, gid=, umask=, ...), access (allow_other) and FUSE ones. Those meant \
             for mount(8) and systemd (nofail, noauto, _netdev, x-systemd.automount, ...) \
             are ignored when they reach isomount; anything else is an error that names it, \
             and nothing is mounted. The mount is always read-only.",
        ),
    ]);
    roff.control("PP", []);
    roff.text([roman(
        "Mounts show as type fuse.isomount with the image as the source \
         (findmnt -t fuse.isomount); isomount list shows them with their view.",
    )]);
}

fn exit_status_section(roff: &mut Roff) {
    roff.control("SH", ["EXIT STATUS"]);
    item(roff, "0", "Success.");
    item(
        roff,
        "1",
        "The image could not be opened or read, or some of the items a command \
         was asked for failed (each one is reported on standard error).",
    );
    item(roff, "2", "The command line was wrong.");
    item(
        roff,
        "3",
        "verify only: the image could not be checked at all (missing, unreadable, or no file \
         system in it); 1 then means problems were found.",
    );
}

fn environment_section(roff: &mut Roff) {
    roff.control("SH", ["ENVIRONMENT"]);
    item(
        roff,
        "RUST_LOG",
        "overrides the log level set by -v and -q (for example RUST_LOG=debug).",
    );
    item(
        roff,
        "XDG_RUNTIME_DIR",
        "isomount keeps its records of running mounts in $XDG_RUNTIME_DIR/isomount \
         (/run/isomount for root without it, else /tmp/isomount-UID), and mounts \
         made without a mount point go to $XDG_RUNTIME_DIR/isomount/mnt/NAME.",
    );
}

fn files_section(roff: &mut Roff) {
    roff.control("SH", ["FILES"]);
    item(
        roff,
        "/etc/fstab",
        "file systems to mount at boot or on first access; images have the type \
         fuse.isomount (see MOUNTING WITH MOUNT(8) AND FSTAB above).",
    );
    item(
        roff,
        "/etc/fuse.conf",
        "user_allow_other there lets users other than root use the allow_other option.",
    );
}

fn examples_section(roff: &mut Roff) {
    roff.control("SH", ["EXAMPLES"]);
    roff.text([roman(
        "What an image is, and its top directory, long listing:",
    )]);
    example(
        roff,
        &["isomount info disc.iso", "isomount ls -l disc.iso /"],
    );
    roff.control("PP", []);
    roff.text([roman(
        "Copy everything out of the image into the directory out:",
    )]);
    example(roff, &["isomount extract disc.iso -C out"]);
    roff.control("PP", []);
    roff.text([roman(
        "Mount it (the UDF tree, readable by every user), show what isomount has mounted, \
         then unmount everything:",
    )]);
    example(
        roff,
        &[
            "mount -t fuse.isomount disc.iso /mnt/disc -o ro,allow_other,view=udf",
            "isomount list",
            "isomount umount --all",
        ],
    );
    roff.control("PP", []);
    roff.text([roman(
        "Install the bash completion for the current user (the Debian package installs \
         it for everyone):",
    )]);
    example(
        roff,
        &["isomount completions bash > ~/.local/share/bash-completion/completions/isomount"],
    );
}

fn see_also_section(roff: &mut Roff, root: &clap::Command, cmd: &clap::Command, is_root: bool) {
    let mut refs: Vec<String> = Vec::new();
    if is_root {
        refs.extend(visible_subcommands(root).map(|s| format!("{}(1)", page_title(s))));
    } else {
        refs.push(format!("{}(1)", page_title(root)));
    }
    if is_root || cmd.get_name() == "mount" || cmd.get_name() == "umount" {
        refs.extend(
            [
                "mount(8)",
                "umount(8)",
                "fstab(5)",
                "mount.fuse3(8)",
                "fusermount3(1)",
            ]
            .map(String::from),
        );
    }
    roff.control("SH", ["SEE ALSO"]);
    let mut line: Vec<Inline> = Vec::new();
    for (i, r) in refs.iter().enumerate() {
        if i > 0 {
            line.push(roman(", "));
        }
        let (name, section) = r.split_once('(').unwrap_or((r, ""));
        line.push(bold(name));
        line.push(roman(format!("({section}")));
    }
    roff.text(line);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(ymd(0), "1970-01-01");
        assert_eq!(ymd(951_782_400), "2000-02-29");
        assert_eq!(ymd(1_700_000_000), "2023-11-14");
        assert_eq!(ymd(-86_400), "1969-12-31");
    }

    #[test]
    fn every_subcommand_gets_a_page() -> Result<()> {
        let tmp = tempfile::tempdir()?;
        let written = manpages_to(tmp.path())?;
        let mut got: Vec<String> = std::fs::read_dir(tmp.path())?
            .map(|e| Ok(e?.file_name().to_string_lossy().into_owned()))
            .collect::<std::io::Result<_>>()?;
        got.sort();
        let mut want: Vec<String> = Cli::command()
            .get_subcommands()
            .map(|s| format!("isomount-{}.1", s.get_name()))
            .collect();
        want.push("isomount.1".to_owned());
        want.sort();
        assert_eq!(got, want);
        assert_eq!(written.len(), want.len());
        Ok(())
    }
}
