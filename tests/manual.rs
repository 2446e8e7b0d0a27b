//! `isomount completions SHELL` and `isomount manpage`: the generated
//! scripts are loaded into the real shells and asked for completions, and
//! the pages are checked by groff and rendered by man(1).
//!
//! The tools (bash, zsh, fish, groff, man) come from ci/install-deps.sh; a
//! missing one fails the test and says so, it never passes silently.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn isomount(args: &[&str]) -> Output {
    let o = match Command::new(env!("CARGO_BIN_EXE_isomount"))
        .args(args)
        .output()
    {
        Ok(o) => o,
        Err(e) => panic!("cannot run isomount: {e}"),
    };
    assert!(
        o.status.success(),
        "isomount {args:?}: {}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Runs `tool args` (stdin closed) and returns its output; panics with the
/// fix when the tool is not installed, and after `limit` if it hangs.
fn run_tool(tool: &str, args: &[&str], env: &[(&str, &str)], limit: Duration) -> Output {
    let mut child = match Command::new(tool)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "{tool} is not installed: run `bash ci/install-deps.sh` (CI installs it); \
             this test needs it and does not skip"
        ),
        Err(e) => panic!("cannot run {tool}: {e}"),
    };
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if start.elapsed() > limit => {
                let _ = child.kill();
                let o = child.wait_with_output();
                panic!("{tool} {args:?} still running after {limit:?}: {o:?}");
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("waiting for {tool}: {e}"),
        }
    }
    match child.wait_with_output() {
        Ok(o) => o,
        Err(e) => panic!("reading {tool}'s output: {e}"),
    }
}

const LIMIT: Duration = Duration::from_secs(60);

fn write(path: &Path, bytes: &[u8]) {
    let r = std::fs::File::create(path).and_then(|mut f| f.write_all(bytes));
    if let Err(e) = r {
        panic!("cannot write {}: {e}", path.display());
    }
}

fn tempdir() -> tempfile::TempDir {
    match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("cannot make a temporary directory: {e}"),
    }
}

/// The subcommands `isomount --help` lists (clap's `help` excluded).
fn subcommands() -> Vec<String> {
    let help = stdout(&isomount(&["--help"]));
    let mut names = Vec::new();
    let mut in_commands = false;
    for line in help.lines() {
        if line.starts_with("Commands:") {
            in_commands = true;
            continue;
        }
        if in_commands {
            // "  name  description"; a continuation line is indented deeper.
            let Some(rest) = line.strip_prefix("  ") else {
                break;
            };
            if rest.starts_with(' ') {
                continue;
            }
            let name = rest.split_whitespace().next().unwrap_or_default();
            if name != "help" {
                names.push(name.to_owned());
            }
        }
    }
    assert!(names.len() >= 10, "too few subcommands in --help: {help}");
    names
}

// ---------------------------------------------------------------- bash

/// Loads the bash script in a clean `bash --norc`, then calls the function
/// that `complete -p isomount` names with COMP_WORDS etc. set as readline
/// would for the command line `line` (the cursor at its end); returns
/// COMPREPLY.
fn bash_complete(script: &Path, line: &str) -> Vec<String> {
    let driver = r#"
set -u
source "$1" || exit 3
spec=$(complete -p isomount) || { echo "no completion for isomount" >&2; exit 4; }
fn=$(sed -E 's/.* -F ([^ ]+) .*/\1/' <<<"$spec")
COMP_LINE=$2
COMP_POINT=${#COMP_LINE}
read -r -a COMP_WORDS <<<"$COMP_LINE"
# A line ending in a blank is about to complete a new, empty word.
[[ $COMP_LINE == *' ' ]] && COMP_WORDS+=("")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
COMP_TYPE=9
COMPREPLY=()
prev=""
((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD-1]}
"$fn" isomount "${COMP_WORDS[COMP_CWORD]}" "$prev"
printf '%s\n' "${COMPREPLY[@]}"
"#;
    let script = script.to_string_lossy();
    let o = run_tool(
        "bash",
        &[
            "--norc",
            "--noprofile",
            "-c",
            driver,
            "driver",
            &script,
            line,
        ],
        &[],
        LIMIT,
    );
    assert!(
        o.status.success(),
        "bash completion of {line:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    stdout(&o).lines().map(str::to_owned).collect()
}

fn assert_has(got: &[String], want: &[&str], what: &str) {
    for w in want {
        assert!(
            got.iter().any(|g| g == w),
            "{what}: {w:?} missing from {got:?}"
        );
    }
}

#[test]
fn bash_completion_completes_commands_options_and_values() {
    let tmp = tempdir();
    let script = tmp.path().join("isomount.bash");
    write(&script, &isomount(&["completions", "bash"]).stdout);
    let syntax = run_tool(
        "bash",
        &["--norc", "-n", &script.to_string_lossy()],
        &[],
        LIMIT,
    );
    assert!(syntax.status.success(), "{syntax:?}");

    let got = bash_complete(&script, "isomount ");
    let mut want = vec!["mount", "extract", "umount", "completions", "manpage"];
    let subs = subcommands();
    want.extend(subs.iter().map(String::as_str));
    assert_has(&got, &want, "isomount <TAB>");

    let got = bash_complete(&script, "isomount mount --");
    assert_has(
        &got,
        &[
            "--foreground",
            "--view",
            "--cache-size",
            "--session",
            "--no-boot-dir",
            "--verbose",
            "--quiet",
            "--help",
        ],
        "isomount mount --<TAB>",
    );
    assert!(got.iter().all(|g| g.starts_with("--")), "{got:?}");

    let got = bash_complete(&script, "isomount completions ");
    assert_has(
        &got,
        &["bash", "zsh", "fish", "elvish", "powershell"],
        "isomount completions <TAB>",
    );

    let got = bash_complete(&script, "isomount ex");
    assert_eq!(got, ["extract"], "isomount ex<TAB>");
}

// ---------------------------------------------------------------- zsh

/// Starts an interactive `zsh -f` on a pseudo-terminal (zsh/zpty) with
/// compinit and the generated `_isomount` on fpath, types `line` and a Tab,
/// and returns what the terminal showed once it shows `expect` (or after
/// 20 s): zsh's real completion system listing or inserting candidates.
fn zsh_complete(fpath_dir: &Path, line: &str, expect: &str) -> String {
    let driver = r#"
zmodload zsh/zpty || exit 3
zpty z env TERM=dumb zsh -f -i
zpty -w z "PROMPT='%% '; fpath=(${(q)1} \$fpath); autoload -Uz compinit; compinit -u -D; zstyle ':completion:*' list-prompt ''; LISTMAX=1000; unsetopt beep; print READY"
zpty -r z out '*READY*' || exit 4
zpty -w -n z "$2"$'\t'
out=''
for i in {1..400}; do
  while zpty -r -t z chunk; do out+=$chunk; done
  [[ $out == *"$3"* ]] && break
  sleep 0.05
done
zpty -d z
print -r -- "$out"
"#;
    let dir = fpath_dir.to_string_lossy();
    let o = run_tool(
        "zsh",
        &["-f", "-c", driver, "driver", &dir, line, expect],
        &[],
        LIMIT,
    );
    assert!(o.status.success(), "zsh completion of {line:?}: {o:?}");
    stdout(&o)
}

#[test]
fn zsh_completion_parses_and_completes() {
    let tmp = tempdir();
    let script = tmp.path().join("_isomount");
    write(&script, &isomount(&["completions", "zsh"]).stdout);
    let syntax = run_tool("zsh", &["-n", &script.to_string_lossy()], &[], LIMIT);
    assert!(syntax.status.success(), "zsh -n: {syntax:?}");

    // Two candidates: zsh lists them under the line, with descriptions.
    let shown = zsh_complete(tmp.path(), "isomount m", "mount    --");
    for w in [
        "manpage  -- Print the manual page",
        "mount    -- Mount the image",
    ] {
        assert!(
            shown.contains(w),
            "zsh: isomount m<TAB> does not list {w:?}: {shown:?}"
        );
    }
    // One candidate: zsh inserts it.
    let shown = zsh_complete(tmp.path(), "isomount mount --f", "--foreground");
    assert!(
        shown.contains("isomount mount --foreground"),
        "zsh: isomount mount --f<TAB> does not complete --foreground: {shown:?}"
    );
    let shown = zsh_complete(tmp.path(), "isomount completions ", "powershell");
    for w in ["bash", "elvish", "fish", "powershell", "zsh"] {
        assert!(
            shown.contains(w),
            "zsh: isomount completions <TAB> lacks {w}: {shown:?}"
        );
    }
}

// ---------------------------------------------------------------- fish

fn fish_complete(script: &Path, line: &str) -> Vec<String> {
    let cmd = "source $argv[1]; and complete -C $argv[2]";
    let script = script.to_string_lossy();
    let o = run_tool(
        "fish",
        &["--no-config", "-c", cmd, &script, line],
        &[],
        LIMIT,
    );
    assert!(o.status.success(), "fish completion of {line:?}: {o:?}");
    // "candidate<TAB>description"
    stdout(&o)
        .lines()
        .map(|l| l.split('\t').next().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn fish_completion_parses_and_completes() {
    let tmp = tempdir();
    let script = tmp.path().join("isomount.fish");
    write(&script, &isomount(&["completions", "fish"]).stdout);
    let syntax = run_tool(
        "fish",
        &["--no-config", "-n", &script.to_string_lossy()],
        &[],
        LIMIT,
    );
    assert!(syntax.status.success(), "fish -n: {syntax:?}");

    let got = fish_complete(&script, "isomount m");
    assert_eq!(
        got.iter().collect::<BTreeSet<_>>(),
        ["manpage", "mount"]
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .iter()
            .collect(),
        "isomount m<TAB>"
    );
    let got = fish_complete(&script, "isomount mount --");
    assert_has(
        &got,
        &["--foreground", "--view", "--cache-size", "--session"],
        "isomount mount --<TAB>",
    );
    // clap_complete's fish script does not complete positional values
    // (`isomount completions <TAB>` offers files), unlike bash's and zsh's.
}

#[test]
fn other_shells_get_a_script() {
    for (shell, marker) in [
        ("elvish", "edit:completion"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let s = stdout(&isomount(&["completions", shell]));
        assert!(s.contains(marker) && s.contains("isomount"), "{shell}: {s}");
    }
}

// ---------------------------------------------------------------- man

/// `groff -man -ww -z`: no warning at all on the page.
fn assert_groff_clean(page: &Path) {
    let o = run_tool(
        "groff",
        &["-man", "-Tutf8", "-ww", "-z", &page.to_string_lossy()],
        &[],
        LIMIT,
    );
    assert!(
        o.status.success() && o.stderr.is_empty() && o.stdout.is_empty(),
        "groff on {}: {}",
        page.display(),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The page as man(1) shows it, formatting stripped.
fn man_render(page: &Path) -> String {
    let o = run_tool(
        "man",
        &["-l", &page.to_string_lossy()],
        &[
            ("MANWIDTH", "80"),
            ("MANPAGER", "cat"),
            ("PAGER", "cat"),
            ("LC_ALL", "C.UTF-8"),
        ],
        LIMIT,
    );
    assert!(o.status.success(), "man -l {}: {o:?}", page.display());
    // Overstrike (bold: c\bc, underline: _\bc) if man kept it.
    let mut text = String::new();
    for c in stdout(&o).chars() {
        if c == '\u{8}' {
            text.pop();
        } else {
            text.push(c);
        }
    }
    text
}

fn assert_section(text: &str, heading: &str, contains: &str, page: &str) {
    let Some(at) = text.lines().position(|l| l == heading) else {
        panic!("{page}: no {heading} section:\n{text}");
    };
    let body: String = text
        .lines()
        .skip(at + 1)
        .take_while(|l| l.is_empty() || l.starts_with(' '))
        .flat_map(str::split_whitespace)
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        body.contains(contains),
        "{page}: {heading} lacks {contains:?}: {body}"
    );
}

#[test]
fn manpage_on_stdout_renders() {
    let tmp = tempdir();
    let page = tmp.path().join("isomount.1");
    let o = match Command::new(env!("CARGO_BIN_EXE_isomount"))
        .args(["manpage"])
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
    {
        Ok(o) => o,
        Err(e) => panic!("cannot run isomount: {e}"),
    };
    assert!(o.status.success(), "{o:?}");
    write(&page, &o.stdout);
    let roff = stdout(&o);
    let version = env!("CARGO_PKG_VERSION");
    let th = format!(".TH ISOMOUNT 1 2023-11-14 \"isomount {version}\" \"User Commands\"");
    assert!(roff.contains(&th), "no {th:?} in:\n{roff}");

    assert_groff_clean(&page);
    let text = man_render(&page);
    assert!(text.starts_with("ISOMOUNT(1)"), "{text}");
    assert!(text.contains(&format!("isomount {version}")), "{text}");
    assert_section(&text, "NAME", "isomount - ", "isomount.1");
    assert_section(&text, "SYNOPSIS", "isomount [", "isomount.1");
    assert_section(&text, "OPTIONS", "--cache-size", "isomount.1");
    assert_section(
        &text,
        "MOUNTING WITH MOUNT(8) AND FSTAB",
        "/srv/images/win7.iso /mnt/win7 fuse.isomount ro,allow_other,nofail,x-systemd.automount 0 0",
        "isomount.1",
    );
    assert_section(
        &text,
        "EXAMPLES",
        "mount -t fuse.isomount disc.iso /mnt/disc -o ro,allow_other,view=udf",
        "isomount.1",
    );
    assert_section(&text, "EXAMPLES", "isomount umount --all", "isomount.1");
    assert_section(&text, "FILES", "/etc/fstab", "isomount.1");
    assert_section(&text, "EXIT STATUS", "2", "isomount.1");
    for sub in subcommands() {
        let see = format!("isomount-{sub}(1)");
        assert_section(&text, "SUBCOMMANDS", &see, "isomount.1");
        assert_section(&text, "SEE ALSO", &see, "isomount.1");
    }
}

#[test]
fn manpage_dir_has_a_page_per_subcommand() {
    let tmp = tempdir();
    let dir = tmp.path().join("man1");
    isomount(&["manpage", "--dir", &dir.to_string_lossy()]);
    let files: BTreeSet<String> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd
            .map(|e| match e {
                Ok(e) => e.file_name().to_string_lossy().into_owned(),
                Err(e) => panic!("listing {}: {e}", dir.display()),
            })
            .collect(),
        Err(e) => panic!("isomount manpage --dir did not make {}: {e}", dir.display()),
    };
    let subs = subcommands();
    let mut want: BTreeSet<String> = subs.iter().map(|s| format!("isomount-{s}.1")).collect();
    want.insert("isomount.1".to_owned());
    assert_eq!(files, want);

    // The main page in DIR is the one `isomount manpage` prints.
    let main = dir.join("isomount.1");
    match std::fs::read(&main) {
        Ok(b) => assert_eq!(b, isomount(&["manpage"]).stdout),
        Err(e) => panic!("{}: {e}", main.display()),
    }

    for sub in &subs {
        let name = format!("isomount-{sub}.1");
        let page = dir.join(&name);
        assert_groff_clean(&page);
        let text = man_render(&page);
        let title = format!("ISOMOUNT-{}(1)", sub.to_uppercase());
        assert!(text.starts_with(&title), "{name}: {text}");
        assert_section(&text, "NAME", &format!("isomount-{sub} - "), &name);
        assert_section(&text, "SYNOPSIS", &format!("isomount {sub}"), &name);
        assert_section(&text, "SEE ALSO", "isomount(1)", &name);
    }
    let mount = man_render(&dir.join("isomount-mount.1"));
    // The long help (the -o list) is what the page shows.
    assert_section(&mount, "OPTIONS", "allow_other", "isomount-mount.1");
    assert_section(
        &mount,
        "MOUNTING WITH MOUNT(8) AND FSTAB",
        "fuse.isomount",
        "isomount-mount.1",
    );
}
