//! What isomount has mounted: the kernel's mount table joined with the
//! records the mount servers leave in the runtime directory.
//!
//! The kernel knows every FUSE mount isomount made (type `fuse.isomount`,
//! source the image path) but not the view or the server's process. So each
//! server writes one small JSON record, `RUNTIME/mounts/PID.json`, once its
//! mount is up, and removes it when it ends; `isomount list` joins the two
//! and ignores records whose server is gone (removing them when it may) or
//! whose mount is not in this mount namespace's table.
//!
//! RUNTIME is `$XDG_RUNTIME_DIR/isomount` when that is set; otherwise
//! `/run/isomount` for root (mounts made from /etc/fstab or systemd) and
//! `/tmp/isomount-UID` for other users. The directories are created mode
//! 0700 and must belong to the user.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use serde_json::json;

/// The file-system type of isomount's mounts in `/proc/self/mountinfo`.
pub const FSTYPE: &str = "fuse.isomount";

/// One isomount mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountRecord {
    /// The image file (from the record, else the mount's source).
    pub image: String,
    /// Where it is mounted.
    pub mountpoint: PathBuf,
    /// The tree shown (`udf`, `rockridge`, ...), when known.
    pub view: Option<String>,
    /// The server's process id, when known.
    pub pid: Option<u32>,
    /// Whether the record is this user's (so `umount --all` may take it).
    pub own: bool,
    /// A remote image's transfer figures, as of the server's last SIGUSR1.
    pub remote: Option<serde_json::Value>,
}

fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// This user's runtime directory for isomount (not created).
pub fn runtime_dir() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| Path::new(d).is_absolute()) {
        Some(d) => PathBuf::from(d).join("isomount"),
        None if euid() == 0 => PathBuf::from("/run/isomount"),
        None => std::env::temp_dir().join(format!("isomount-{}", euid())),
    }
}

/// Creates `dir` (and its parents) mode 0700 if missing and checks that it
/// is a directory of this user that no one else may write to.
pub fn private_dir(dir: &Path) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let m = fs::symlink_metadata(dir).with_context(|| dir.display().to_string())?;
    if !m.is_dir() || m.uid() != euid() || m.mode() & 0o022 != 0 {
        return Err(anyhow!(
            "{} is not a private directory of this user (owner {}, mode {:o}): refusing to use it",
            dir.display(),
            m.uid(),
            m.mode() & 0o7777
        ));
    }
    Ok(())
}

fn records_dir(runtime: &Path) -> PathBuf {
    runtime.join("mounts")
}

/// The record a server keeps while it serves; removed when dropped.
pub struct Registration {
    path: PathBuf,
    record: serde_json::Value,
}

impl Registration {
    /// Writes this process's record for a mount of `image` on `mountpoint`.
    /// Best effort: a mount without a record still works and is still
    /// listed (without view and pid), so failures are only logged.
    pub fn write(image: &str, mountpoint: &Path, view: &str) -> Option<Registration> {
        let dir = records_dir(&runtime_dir());
        let pid = std::process::id();
        let path = dir.join(format!("{pid}.json"));
        let record = json!({
            "image": image,
            "mountpoint": mountpoint.to_string_lossy(),
            "view": view,
            "pid": pid,
        });
        let reg = Registration { path, record };
        match private_dir(&dir).and_then(|()| reg.save()) {
            Ok(()) => Some(reg),
            Err(e) => {
                log::warn!("cannot record the mount for `isomount list`: {e:#}");
                None
            }
        }
    }

    /// Adds the remote image's transfer figures to the record (`isomount
    /// list --json` shows them as `remote`).
    pub fn set_remote(&mut self, stats: serde_json::Value) {
        self.record["remote"] = stats;
        if let Err(e) = self.save() {
            log::warn!("cannot update the mount's record: {e:#}");
        }
    }

    /// Writes the record whole (temp file + rename: readers never see half).
    fn save(&self) -> Result<()> {
        let tmp = self.path.with_extension("tmp");
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| tmp.display().to_string())?;
        writeln!(f, "{}", self.record).with_context(|| tmp.display().to_string())?;
        fs::rename(&tmp, &self.path).with_context(|| self.path.display().to_string())
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// An isomount mount in the kernel's table.
#[derive(Debug, PartialEq, Eq)]
struct KernelMount {
    mountpoint: PathBuf,
    source: String,
    /// The FUSE `user_id=` option: who mounted it.
    user_id: Option<u32>,
}

/// The isomount mounts in `/proc/self/mountinfo`.
fn kernel_mounts() -> Result<Vec<KernelMount>> {
    let text =
        fs::read_to_string("/proc/self/mountinfo").context("cannot read /proc/self/mountinfo")?;
    Ok(parse_mountinfo(&text))
}

/// The isomount mounts of a `mountinfo` text (proc(5)): field 5 is the mount
/// point; after the ` - ` separator come the type, the source and the
/// super-block options (FUSE's include `user_id=`). Spaces, tabs, newlines
/// and backslashes are escaped as `\ooo`.
fn parse_mountinfo(text: &str) -> Vec<KernelMount> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let mut r = right.split(' ');
        let (Some(fstype), Some(source)) = (r.next(), r.next()) else {
            continue;
        };
        let user_id = r.next().and_then(|opts| {
            opts.split(',')
                .find_map(|o| o.strip_prefix("user_id="))
                .and_then(|n| n.parse().ok())
        });
        let Some(mnt) = left.split(' ').nth(4) else {
            continue;
        };
        if fstype == FSTYPE {
            out.push(KernelMount {
                mountpoint: PathBuf::from(
                    <std::ffi::OsString as std::os::unix::ffi::OsStringExt>::from_vec(unescape(
                        mnt,
                    )),
                ),
                source: String::from_utf8_lossy(&unescape(source)).into_owned(),
                user_id,
            });
        }
    }
    out
}

fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| b[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)))
            .map(|d| d.iter().fold(0u32, |n, c| n * 8 + u32::from(c - b'0')));
        match octal.and_then(|n| u8::try_from(n).ok()) {
            Some(c) => {
                out.push(c);
                i += 4;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    out
}

fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Records found in `runtime` (this user's when `own`): (record, file).
fn read_records(runtime: &Path, own: bool) -> Vec<(MountRecord, PathBuf)> {
    let Ok(entries) = fs::read_dir(records_dir(runtime)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let path = e.path();
        if path.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let parsed = fs::read_to_string(&path)
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
        let field = |k: &str| parsed.as_ref().and_then(|v| v.get(k).cloned());
        let (Some(image), Some(mnt), Some(pid)) = (
            field("image").and_then(|v| v.as_str().map(String::from)),
            field("mountpoint").and_then(|v| v.as_str().map(PathBuf::from)),
            field("pid")
                .and_then(|v| v.as_u64())
                .and_then(|p| u32::try_from(p).ok()),
        ) else {
            continue;
        };
        let view = field("view").and_then(|v| v.as_str().map(String::from));
        out.push((
            MountRecord {
                image,
                mountpoint: mnt,
                view,
                pid: Some(pid),
                own,
                remote: field("remote").filter(|v| !v.is_null()),
            },
            path,
        ));
    }
    out
}

/// Every isomount mount in this mount namespace, sorted by mount point.
pub fn list() -> Result<Vec<MountRecord>> {
    let kernel = kernel_mounts()?;
    let own_dir = runtime_dir();
    let mut records = read_records(&own_dir, true);
    let system = Path::new("/run/isomount");
    if own_dir != system {
        records.extend(read_records(system, euid() == 0));
    }
    let mut out = Vec::new();
    for k in &kernel {
        let (mnt, source) = (&k.mountpoint, &k.source);
        let found = records
            .iter()
            .find(|(r, _)| &r.mountpoint == mnt && r.pid.is_some_and(pid_alive));
        out.push(match found {
            Some((r, _)) => r.clone(),
            None => MountRecord {
                image: source.clone(),
                mountpoint: mnt.clone(),
                view: None,
                pid: None,
                remote: None,
                // A mount without a live record (its server was killed, say)
                // is this user's when the kernel says this user made it.
                own: euid() == 0 || k.user_id == Some(euid()),
            },
        });
    }
    // Records of servers that are gone (killed: no chance to remove their
    // own). A live server whose mount is not in this table may serve
    // another mount namespace: its record stays.
    for (r, path) in &records {
        if r.own && !r.pid.is_some_and(pid_alive) {
            let _ = fs::remove_file(path);
        }
    }
    out.sort_by(|a, b| a.mountpoint.cmp(&b.mountpoint));
    Ok(out)
}

/// An isomount mount of `image` this user made, if any: the same file (by
/// canonical path), or the same URL.
pub fn find_own_mount_of(image: &Path) -> Option<MountRecord> {
    let same: Box<dyn Fn(&str) -> bool> = match crate::remote::ImageRef::parse(image).ok()? {
        crate::remote::ImageRef::Local(p) => {
            let want = p.canonicalize().ok()?;
            Box::new(move |r| Path::new(r).canonicalize().ok().as_ref() == Some(&want))
        }
        remote => {
            let want = remote.shown();
            Box::new(move |r| r == want)
        }
    };
    list()
        .ok()?
        .into_iter()
        .find(|r| r.own && r.pid.is_some() && same(&r.image))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_lines_of_our_type_with_escapes() {
        let text = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
42 27 0:39 / /tmp/a\\040b ro,nosuid,nodev,relatime shared:7 - fuse.isomount /srv/my\\040disc.iso ro,user_id=1000,group_id=100
43 27 0:40 / /mnt/x ro - fuse.sshfs host:/ ro
44 27 0:41 / /mnt/back\\134slash ro - fuse.isomount /i.iso ro
";
        assert_eq!(
            parse_mountinfo(text),
            vec![
                KernelMount {
                    mountpoint: PathBuf::from("/tmp/a b"),
                    source: "/srv/my disc.iso".to_string(),
                    user_id: Some(1000),
                },
                KernelMount {
                    mountpoint: PathBuf::from("/mnt/back\\slash"),
                    source: "/i.iso".to_string(),
                    user_id: None,
                },
            ]
        );
        assert_eq!(unescape("a\\01"), b"a\\01", "short escapes stay");
        assert_eq!(unescape("\\777"), b"\\777", "out of byte range stays");
    }
}
