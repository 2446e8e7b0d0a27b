//! isomount inside the system's own ways of mounting things, driven by the
//! system's own tools: `mount -T FSTAB` and `mount -t fuse.isomount` through
//! fuse3's `mount.fuse3`, `isomount list` / `umount --all` against the
//! kernel's mount table, and the desktop double-click chain
//! (shared-mime-info → `xdg-open IMAGE` → the desktop entry →
//! `isomount open` → `xdg-open DIR`).
//!
//! Every case runs in a private mount namespace (`unshare -m`): the mounts
//! never show on the host, the machine's `/etc/fstab` is never read or
//! touched (the fstab is a file in a temp dir, given with `-T`), and the
//! `isomount` that `mount(8)` finds on its fixed PATH is this build, bound
//! over `/usr/local/bin` inside the namespace only. That needs root and
//! /dev/fuse (CI has both); elsewhere the tests say so loudly and stop.
#![cfg(target_os = "linux")]

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::fuse_available;
use serde_json::Value;

/// True when the namespace tests can run; says loudly why not otherwise.
fn can_run(test: &str) -> bool {
    if !fuse_available() {
        return false;
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("!! SKIPPED {test}: needs root (a private mount namespace and mount(8)) !!");
        return false;
    }
    true
}

/// A temp dir with a source tree and images of it made by xorriso and
/// genisoimage, plus `bin/isomount` (this build).
struct Setup {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let tree = root.join("tree");
        fs::create_dir_all(tree.join("docs/deep")).unwrap();
        fs::write(tree.join("README.TXT"), b"isomount test disc\n").unwrap();
        fs::write(tree.join("docs/Guide.txt"), "guide line\n".repeat(3000)).unwrap();
        let bin: Vec<u8> = (0..200_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
        fs::write(tree.join("docs/deep/data.bin"), bin).unwrap();
        fs::write(tree.join("my file.txt"), b"spaces\n").unwrap();
        run_ok(
            Command::new("xorriso")
                .args(["-as", "mkisofs", "-quiet", "-R", "-J", "-V", "OSTEST", "-o"])
                .arg(root.join("rr.iso"))
                .arg(&tree),
        );
        run_ok(
            Command::new("genisoimage")
                .args(["-quiet", "-udf", "-R", "-J", "-V", "OSTEST_UDF", "-o"])
                .arg(root.join("udf.iso"))
                .arg(&tree),
        );
        fs::copy(root.join("rr.iso"), root.join("my disc.iso")).unwrap();
        fs::create_dir(root.join("bin")).unwrap();
        fs::copy(env!("CARGO_BIN_EXE_isomount"), root.join("bin/isomount")).unwrap();
        Setup { _dir: dir, root }
    }

    fn p(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.p(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    /// Runs `script` with bash in a private mount namespace, in the temp dir
    /// (`$T`), with this build as `isomount` on mount(8)'s PATH.
    fn in_namespace(&self, script: &str, env: &[(&str, &Path)]) -> Output {
        let prelude = "set -euo pipefail\ncd \"$T\"\nmount --bind \"$T/bin\" /usr/local/bin\n";
        let mut cmd = Command::new("unshare");
        cmd.args(["-m", "--propagation", "private", "bash", "-c"])
            .arg(format!("{prelude}{script}"))
            .env("T", &self.root)
            .env("RUST_LOG", "warn")
            .env_remove("XDG_RUNTIME_DIR");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run unshare");
        eprintln!(
            "--- script stdout:\n{}--- script stderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }
}

fn run_ok(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

/// `diff -r` of the tree and a mounted copy found nothing (its output is
/// in `rel`, written by the script).
fn assert_same_tree(s: &Setup, rel: &str) {
    let diff = s.read(rel);
    assert!(
        diff.is_empty(),
        "{rel}: the mount differs from the tree:\n{diff}"
    );
}

#[test]
fn fstab_lines_and_mount_t_go_through_mount_fuse3() {
    if !can_run("fstab_lines_and_mount_t_go_through_mount_fuse3") {
        return;
    }
    let s = Setup::new();
    for m in ["m1", "m2", "m3", "m4", "m5"] {
        fs::create_dir(s.p(m)).unwrap();
    }
    let t = s.root.display().to_string();
    // fstab escapes a space in a field as \040 (fstab(5)).
    let fstab = format!(
        "# a test fstab: never /etc/fstab\n\
         {t}/udf.iso {t}/m1 fuse.isomount ro,allow_other,view=udf,nofail,x-systemd.automount,uid=1000,gid=1000,umask=027 0 0\n\
         {t}/my\\040disc.iso {t}/m2 fuse.isomount defaults,view=joliet 0 0\n\
         {t}/rr.iso {t}/m3 fuse.isomount ro,frobnicate 0 0\n"
    );
    fs::write(s.p("fstab"), fstab).unwrap();
    let out = s.in_namespace(
        r#"
mount -T fstab "$T/m1"
mount -T fstab "$T/m2"
if mount -T fstab "$T/m3" 2>m3.err; then echo "m3 mounted" >&2; exit 1; fi
if mount -t fuse.isomount -o ro "$T/missing.iso" "$T/m3" 2>missing.err; then
  echo "missing.iso mounted" >&2; exit 1
fi
mount -t fuse.isomount -o ro,view=iso9660 "$T/rr.iso" "$T/m4"
# The older form, type fuse with PROGRAM#SOURCE.
mount -t fuse -o ro,view=joliet "isomount#$T/rr.iso" "$T/m5"
findmnt -rn -o TARGET,SOURCE,FSTYPE,OPTIONS -t fuse.isomount > findmnt.txt
isomount list --json > list.json
stat -c '%n %u %g %a' m1/README.TXT m1/docs m1/docs/deep/data.bin > stat.txt
diff -r tree m1 > diff1.txt || true
diff -r tree m2 > diff2.txt || true
ls m4 > ls4.txt
pids=$(isomount list --json | sed -n 's/.*"pid":\([0-9]*\).*/\1/p')
umount "$T/m1" "$T/m2" "$T/m4" "$T/m5"
for p in $pids; do
  for _ in $(seq 100); do [[ -d /proc/$p ]] || break; sleep 0.05; done
  [[ -d /proc/$p ]] && echo "server $p still running" >&2 && exit 1
done
grep -c ' fuse.isomount ' /proc/self/mountinfo > left.txt || true
ls /run/isomount/mounts > records-left.txt 2>/dev/null || true
"#,
        &[],
    );
    assert!(out.status.success(), "script failed");

    // What the kernel shows: our type, the image as the source, the options.
    let findmnt = s.read("findmnt.txt");
    let lines: Vec<&str> = findmnt.lines().collect();
    assert_eq!(lines.len(), 4, "{findmnt}");
    let line = |m: &str| {
        let at = format!("{t}/{m} ");
        *lines
            .iter()
            .find(|l| l.starts_with(&at))
            .unwrap_or_else(|| panic!("{m}: {findmnt}"))
    };
    assert!(
        line("m1").contains(&format!(" {t}/udf.iso fuse.isomount ")),
        "{findmnt}"
    );
    assert!(line("m1").contains("allow_other"), "{findmnt}");
    for m in ["m1", "m2", "m4", "m5"] {
        let opts = line(m).rsplit(' ').next().unwrap();
        assert!(opts.starts_with("ro,"), "{m} read-only: {opts}");
        // mount.fuse3 passes dev,suid on root mounts: they must stay off.
        assert!(
            opts.contains("nosuid") && opts.contains("nodev"),
            "{m}: {opts}"
        );
    }
    // findmnt -r escapes the space as \x20.
    assert!(
        line("m2").contains(&format!(" {t}/my\\x20disc.iso ")),
        "{findmnt}"
    );

    // What isomount list says: the views asked for, live pids.
    let list = json_lines(&s.read("list.json"));
    let view_of = |m: &str| {
        list.iter()
            .find(|r| r["mountpoint"] == format!("{t}/{m}"))
            .unwrap_or_else(|| panic!("{m} not in {list:?}"))["view"]
            .clone()
    };
    assert_eq!(view_of("m1"), "udf");
    assert_eq!(view_of("m2"), "joliet");
    assert_eq!(view_of("m4"), "iso9660");
    assert_eq!(view_of("m5"), "joliet");
    assert!(
        list.iter()
            .all(|r| r["pid"].as_u64().is_some_and(|p| p > 1)),
        "{list:?}"
    );
    let images: Vec<&str> = list.iter().map(|r| r["image"].as_str().unwrap()).collect();
    assert!(
        images.contains(&format!("{t}/my disc.iso").as_str()),
        "{images:?}"
    );

    // uid=, gid=, umask= on the UDF view (genisoimage writes r--r--r-- /
    // r-xr-xr-x there).
    assert_eq!(
        s.read("stat.txt"),
        format!(
            "m1/README.TXT 1000 1000 440\nm1/docs 1000 1000 550\nm1/docs/deep/data.bin 1000 1000 440\n"
        )
    );
    assert_same_tree(&s, "diff1.txt");
    assert_same_tree(&s, "diff2.txt");
    // The plain ISO 9660 view really is the one served (8.3 upper case).
    let ls4 = s.read("ls4.txt");
    assert!(
        ls4.lines().any(|l| l == "README.TXT") && !ls4.contains("my file"),
        "{ls4}"
    );
    assert!(ls4.lines().any(|l| l == "DOCS"), "{ls4}");

    // An unknown option is refused by name.
    let err = s.read("m3.err");
    assert!(err.contains("unknown mount option \"frobnicate\""), "{err}");

    // A missing image: said so, naming it (not a usage error).
    let err = s.read("missing.err");
    assert!(
        err.contains(&format!("cannot open image {t}/missing.iso")),
        "{err}"
    );

    // After umount(8): nothing mounted, servers gone, records removed.
    assert_eq!(s.read("left.txt").trim(), "0");
    assert_eq!(s.read("records-left.txt"), "");
}

#[test]
fn default_places_list_and_umount_all() {
    if !can_run("default_places_list_and_umount_all") {
        return;
    }
    let s = Setup::new();
    let run = s.p("run");
    fs::create_dir(&run).unwrap();
    fs::create_dir(s.p("m5")).unwrap();
    let out = s.in_namespace(
        r#"
isomount mount rr.iso > place1.txt
isomount mount rr.iso > place2.txt
isomount --view joliet mount rr.iso m5 > place5.txt
isomount list > list.txt
isomount list --json > list.json
diff -r tree "$(cat place1.txt)" > diff1.txt || true
victim=$(sed -n "s|.*\"mountpoint\":\"$(cat place2.txt)\",\"pid\":\([0-9]*\).*|\1|p" list.json)
kill -9 "$victim"
for _ in $(seq 100); do [[ -d /proc/$victim ]] || break; sleep 0.05; done
isomount list --json > list-after-kill.json
isomount umount --all
grep -c ' fuse.isomount ' /proc/self/mountinfo > left.txt || true
ls "$XDG_RUNTIME_DIR/isomount/mnt" > dirs-left.txt
ls "$XDG_RUNTIME_DIR/isomount/mounts" > records-left.txt
"#,
        &[("XDG_RUNTIME_DIR", &run)],
    );
    assert!(out.status.success(), "script failed");
    let base = run.join("isomount/mnt");
    let p1 = s.read("place1.txt");
    let p2 = s.read("place2.txt");
    assert_eq!(p1.trim_end(), base.join("rr").display().to_string());
    assert_eq!(p2.trim_end(), base.join("rr-2").display().to_string());
    assert_eq!(
        s.read("place5.txt"),
        "",
        "a given mount point is not printed"
    );
    assert_same_tree(&s, "diff1.txt");

    let list = json_lines(&s.read("list.json"));
    assert_eq!(list.len(), 3, "{list:?}");
    let text = s.read("list.txt");
    let rows: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows[0], ["MOUNTPOINT", "IMAGE", "VIEW", "PID"], "{text}");
    let img = s.p("rr.iso").display().to_string();
    for r in &list {
        assert_eq!(r["image"], img.as_str());
        let mnt = r["mountpoint"].as_str().unwrap();
        let pid = r["pid"].as_u64().unwrap().to_string();
        let view = r["view"].as_str().unwrap();
        let want = if mnt.ends_with("/m5") {
            "joliet"
        } else {
            "rockridge"
        };
        assert_eq!(view, want, "{mnt}");
        assert!(
            rows.iter()
                .any(|row| row[..] == [mnt, img.as_str(), view, pid.as_str()]),
            "{mnt} {view} {pid} not a row of:\n{text}"
        );
    }

    // A killed server's mount is still in the kernel's table (dead): listed
    // without view and pid, its stale record not believed.
    let after = json_lines(&s.read("list-after-kill.json"));
    assert_eq!(after.len(), 3, "{after:?}");
    let dead = after
        .iter()
        .find(|r| r["mountpoint"] == p2.trim_end())
        .expect("dead mount listed");
    assert!(dead["pid"].is_null() && dead["view"].is_null(), "{dead}");
    assert_eq!(
        dead["image"],
        img.as_str(),
        "the image comes from the mount's source"
    );

    // umount --all took all three, the dead one too; made dirs and records gone.
    assert_eq!(s.read("left.txt").trim(), "0");
    assert_eq!(s.read("dirs-left.txt"), "");
    assert_eq!(s.read("records-left.txt"), "");
}

#[test]
fn double_click_opens_the_mounted_image() {
    if !can_run("double_click_opens_the_mounted_image") {
        return;
    }
    let s = Setup::new();
    let desktop = common::repo().join("packaging/linux/isomount.desktop");
    let mime = common::repo().join("packaging/linux/isomount-mime.xml");
    let v = Command::new("desktop-file-validate")
        .arg(&desktop)
        .output()
        .expect("desktop-file-validate (desktop-file-utils; run ci/install-deps.sh)");
    assert!(
        v.status.success() && v.stdout.is_empty(),
        "desktop-file-validate: {}{}",
        String::from_utf8_lossy(&v.stdout),
        String::from_utf8_lossy(&v.stderr)
    );

    // A user's XDG dirs in the temp dir, with the package's two files, and
    // a stand-in for the file manager that records what it was asked to open
    // (there is no display here for a real one).
    let data = s.p("xdg/share");
    let apps = data.join("applications");
    fs::create_dir_all(&apps).unwrap();
    fs::create_dir_all(data.join("mime/packages")).unwrap();
    fs::create_dir_all(s.p("xdg/config")).unwrap();
    fs::create_dir(s.p("run")).unwrap();
    fs::copy(&desktop, apps.join("isomount.desktop")).unwrap();
    fs::copy(&mime, data.join("mime/packages/isomount.xml")).unwrap();
    let recorder = s.p("record-open");
    fs::write(
        &recorder,
        "#!/bin/sh\nprintf '%s\\n' \"$1\" >> \"$T/opened.txt\"\n",
    )
    .unwrap();
    run_ok(Command::new("chmod").arg("755").arg(&recorder));
    fs::write(
        apps.join("file-manager.desktop"),
        format!(
            "[Desktop Entry]\nType=Application\nName=File manager stand-in\nExec={} %f\nMimeType=inode/directory;\n",
            recorder.display()
        ),
    )
    .unwrap();
    // Files of each type, named and started as the real ones are.
    fs::copy(s.p("rr.iso"), s.p("disc.nrg")).unwrap();
    fs::write(s.p("disc.mds"), b"MEDIA DESCRIPTOR\x01\x05").unwrap();
    fs::write(s.p("disc.ccd"), b"[CloneCD]\nVersion=3\n").unwrap();
    fs::write(s.p("disc.zso"), b"ZISO\x18\0\0\0").unwrap();
    fs::write(
        s.p("disc.cue"),
        b"FILE \"disc.bin\" BINARY\n  TRACK 01 MODE1/2352\n",
    )
    .unwrap();

    let out = s.in_namespace(
        r#"
update-mime-database "$XDG_DATA_HOME/mime"
update-desktop-database "$XDG_DATA_HOME/applications"
for f in rr.iso disc.nrg disc.mds disc.ccd disc.zso disc.cue; do
  t=$(gio info -a standard::content-type "$f" | sed -n 's/.*content-type: //p')
  echo "$f $t $(xdg-mime query default "$t")" >> types.txt
done
export PATH="$T/bin:$PATH" DISPLAY=:99
xdg-open rr.iso
xdg-open rr.iso
mnt=$(head -n1 opened.txt)
diff -r tree "$mnt" > diff.txt || true
isomount list --json > list.json
isomount umount --all
"#,
        &[
            ("XDG_DATA_HOME", &data),
            (
                "XDG_DATA_DIRS",
                &PathBuf::from(format!("{}:/usr/share", data.display())),
            ),
            ("XDG_CONFIG_HOME", &s.p("xdg/config")),
            ("XDG_RUNTIME_DIR", &s.p("run")),
        ],
    );
    assert!(out.status.success(), "script failed");

    // Every type is recognised and opens with isomount.
    let types = s.read("types.txt");
    let want = [
        ("rr.iso", "application/x-cd-image"),
        ("disc.nrg", "application/x-nrg"),
        ("disc.mds", "application/x-mds"),
        ("disc.ccd", "application/x-ccd"),
        ("disc.zso", "application/x-zso"),
        ("disc.cue", "application/x-cue"),
    ];
    for (file, mime) in want {
        let line = format!("{file} {mime} isomount.desktop");
        assert!(
            types.lines().any(|l| l == line),
            "want {line:?} in:\n{types}"
        );
    }

    // Two double-clicks: one mount, opened twice in the file manager.
    let opened = s.read("opened.txt");
    let place = s.p("run/isomount/mnt/rr").display().to_string();
    assert_eq!(opened, format!("{place}\n{place}\n"));
    assert_same_tree(&s, "diff.txt");
    let list = json_lines(&s.read("list.json"));
    assert_eq!(
        list.len(),
        1,
        "the second double-click reused the mount: {list:?}"
    );
    assert!(
        !Path::new(&place).exists(),
        "the made mount point is removed on unmount"
    );
}

#[test]
fn systemd_example_units_verify_and_mount() {
    if !can_run("systemd_example_units_verify_and_mount") {
        return;
    }
    let s = Setup::new();
    let units = common::repo().join("packaging/systemd");
    let mount_unit = units.join("mnt-win7.mount");
    let auto_unit = units.join("mnt-win7.automount");
    let v = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&mount_unit)
        .arg(&auto_unit)
        .output()
        .expect("systemd-analyze (package systemd; run ci/install-deps.sh)");
    assert!(
        v.status.success() && v.stderr.is_empty(),
        "systemd-analyze verify: {}",
        String::from_utf8_lossy(&v.stderr)
    );

    // An fstab line with x-systemd.automount becomes the same pair of units.
    fs::write(
        s.p("fstab"),
        "/srv/images/win7.iso /mnt/win7 fuse.isomount ro,allow_other,view=udf,nofail,x-systemd.automount 0 0\n",
    )
    .unwrap();
    let gen_dir = s.p("generated");
    for d in ["normal", "early", "late"] {
        fs::create_dir_all(gen_dir.join(d)).unwrap();
    }
    run_ok(
        Command::new("/lib/systemd/system-generators/systemd-fstab-generator")
            .env("SYSTEMD_FSTAB", s.p("fstab"))
            .args(["normal", "early", "late"].map(|d| gen_dir.join(d))),
    );
    let generated = fs::read_to_string(gen_dir.join("normal/mnt-win7.mount")).unwrap();
    assert!(generated.contains("\nType=fuse.isomount\n"), "{generated}");
    assert!(gen_dir.join("normal/mnt-win7.automount").exists());

    // What systemd runs for the example unit (`mount WHAT WHERE -t TYPE -o
    // OPTIONS`), at the unit's own paths, on tmpfs mounted over /srv and
    // /mnt inside the private namespace.
    let unit = fs::read_to_string(&mount_unit).unwrap();
    let key = |k: &str| {
        unit.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| panic!("{k}= in {unit}"))
            .to_string()
    };
    let (what, r#where, ty, options) = (key("What"), key("Where"), key("Type"), key("Options"));
    assert_eq!(ty, "fuse.isomount");
    let script = format!(
        r#"
mount -t tmpfs tmpfs /srv
mount -t tmpfs tmpfs /mnt
mkdir -p "$(dirname '{what}')" '{where}'
cp udf.iso '{what}'
mount '{what}' '{where}' -t '{ty}' -o '{options}'
isomount list --json > list.json
diff -r tree '{where}' > diff.txt || true
umount '{where}'
"#
    );
    let out = s.in_namespace(&script, &[]);
    assert!(out.status.success(), "script failed");
    assert_same_tree(&s, "diff.txt");
    let list = json_lines(&s.read("list.json"));
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["mountpoint"], r#where.as_str());
    assert_eq!(list[0]["image"], what.as_str());
    assert_eq!(list[0]["view"], "udf");
}
