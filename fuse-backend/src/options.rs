//! Mount options: what `mount -o ...` accepts and how it becomes a fuser [`Config`].

use fuser::{Config, MountOption, SessionACL};

/// Default number of FUSE event-loop threads (see [`MountOptions::threads`]).
pub const DEFAULT_THREADS: usize = 4;
/// Most event-loop threads accepted by `-o threads=N`.
pub const MAX_THREADS: usize = 64;
/// Default read-ahead of the mount's backing device info, in KiB.
pub const DEFAULT_READ_AHEAD_KB: u32 = 1024;
/// Default file system name (the "source" column of `/proc/mounts`).
pub const DEFAULT_FSNAME: &str = "isomount";
/// FUSE subtype (shows as `fuse.isomount` when fusermount3 makes the mount).
pub const SUBTYPE: &str = "isomount";

/// How to mount a volume.
///
/// Build it with [`MountOptions::default`] and then set fields or feed `-o`
/// lists to [`MountOptions::apply_o`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// Let every user see the mount (`allow_other`; needs `user_allow_other`
    /// in `/etc/fuse.conf` when not root).
    pub allow_other: bool,
    /// Let root (as well as the mounting user) see the mount (`allow_root`).
    pub allow_root: bool,
    /// Report this owner for every node instead of the image's.
    pub uid: Option<u32>,
    /// Report this group for every node instead of the image's.
    pub gid: Option<u32>,
    /// Permission bits to clear on files, symlinks and special files
    /// (`fmask=`, or `umask=` for both kinds; octal).
    pub fmask: u16,
    /// Permission bits to clear on directories (`dmask=`, or `umask=`).
    pub dmask: u16,
    /// FUSE event-loop threads, so that a slow read does not hold up lookups
    /// (default [`DEFAULT_THREADS`]).
    pub threads: usize,
    /// Name shown as the mount's source (default [`DEFAULT_FSNAME`]).
    pub fsname: String,
    /// Have `fusermount3` unmount when this process dies (needs `fusermount3`;
    /// fuser 0.18 requires `allow_other` or `allow_root` with it, so
    /// `allow_root` is implied when neither is given).
    pub auto_unmount: bool,
    /// Read-ahead of the mount in KiB, written to
    /// `/sys/class/bdi/MAJ:MIN/read_ahead_kb` after mounting (root only,
    /// best effort). `None` means [`DEFAULT_READ_AHEAD_KB`]; `Some(0)` leaves
    /// the kernel's default alone.
    pub read_ahead_kb: Option<u32>,
    /// Honour device nodes of the image as devices (`dev`). Off by default:
    /// device nodes are listed and `stat` shows their numbers, but opening
    /// one does not reach a real device (an untrusted image could otherwise
    /// carry a world-writable node of the host's disk).
    pub dev: bool,
    /// Honour set-user-id / set-group-id bits when executing (`suid`). Off by
    /// default for the same reason.
    pub suid: bool,
    /// Allow executing programs from the mount (`exec`, the default; `noexec`
    /// turns it off).
    pub exec: bool,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            allow_other: false,
            allow_root: false,
            uid: None,
            gid: None,
            fmask: 0,
            dmask: 0,
            threads: DEFAULT_THREADS,
            fsname: DEFAULT_FSNAME.to_string(),
            auto_unmount: false,
            read_ahead_kb: None,
            dev: false,
            suid: false,
            exec: true,
        }
    }
}

impl MountOptions {
    /// Applies one `-o` list such as `"allow_other,uid=1000,gid=1000,ro,fsname=x"`.
    ///
    /// Accepted: `ro`, `allow_other`, `allow_root`, `default_permissions`
    /// (always on), `auto_unmount`, `uid=N`, `gid=N`, `umask=M`, `fmask=M`,
    /// `dmask=M` (octal permission bits to hide), `fsname=S`,
    /// `threads=N` (1..=64), `read_ahead_kb=N`, `dev`/`nodev`, `suid`/`nosuid`,
    /// `exec`/`noexec`, `atime`/`noatime` (nothing to do on a read-only mount).
    /// `rw` is refused (the image is read-only); anything else is an error
    /// that names the option. Options before a bad one stay applied.
    pub fn apply_o(&mut self, list: &str) -> Result<(), String> {
        for item in list.split(',') {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            let (key, value) = match item.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (item, None),
            };
            match (key, value) {
                ("ro", None) | ("default_permissions", None) => {}
                ("atime", None) | ("noatime", None) => {}
                ("rw", None) => {
                    return Err("option rw: the image can only be mounted read-only".into());
                }
                ("allow_other", None) => self.allow_other = true,
                ("allow_root", None) => self.allow_root = true,
                ("auto_unmount", None) => self.auto_unmount = true,
                ("dev", None) => self.dev = true,
                ("nodev", None) => self.dev = false,
                ("suid", None) => self.suid = true,
                ("nosuid", None) => self.suid = false,
                ("exec", None) => self.exec = true,
                ("noexec", None) => self.exec = false,
                ("uid", Some(v)) => self.uid = Some(parse_num(key, v)?),
                ("gid", Some(v)) => self.gid = Some(parse_num(key, v)?),
                ("umask", Some(v)) => {
                    let m = parse_mask(key, v)?;
                    (self.fmask, self.dmask) = (m, m);
                }
                ("fmask", Some(v)) => self.fmask = parse_mask(key, v)?,
                ("dmask", Some(v)) => self.dmask = parse_mask(key, v)?,
                ("read_ahead_kb", Some(v)) => self.read_ahead_kb = Some(parse_num(key, v)?),
                ("threads", Some(v)) => {
                    let n: usize = parse_num(key, v)?;
                    if !(1..=MAX_THREADS).contains(&n) {
                        return Err(format!(
                            "option threads={v}: must be between 1 and {MAX_THREADS}"
                        ));
                    }
                    self.threads = n;
                }
                ("fsname", Some(v)) => {
                    if v.is_empty() {
                        return Err("option fsname=: the name must not be empty".into());
                    }
                    self.fsname = v.to_string();
                }
                (
                    "ro"
                    | "rw"
                    | "default_permissions"
                    | "atime"
                    | "noatime"
                    | "allow_other"
                    | "allow_root"
                    | "auto_unmount"
                    | "dev"
                    | "nodev"
                    | "suid"
                    | "nosuid"
                    | "exec"
                    | "noexec",
                    Some(_),
                ) => return Err(format!("option {key} takes no value (got {item:?})")),
                (
                    "uid" | "gid" | "umask" | "fmask" | "dmask" | "read_ahead_kb" | "threads"
                    | "fsname",
                    None,
                ) => {
                    return Err(format!("option {key} needs a value ({key}=...)"));
                }
                _ => return Err(format!("unknown mount option {key:?}")),
            }
        }
        Ok(())
    }

    /// Who may use the mount, as fuser wants it.
    pub(crate) fn acl(&self) -> SessionACL {
        if self.allow_other {
            SessionACL::All
        } else if self.allow_root || self.auto_unmount {
            SessionACL::RootAndOwner
        } else {
            SessionACL::Owner
        }
    }

    /// The fuser configuration: kernel mount options, access, threads.
    pub(crate) fn to_config(&self) -> Config {
        // fusermount3 splits its option string at commas and fuser does not
        // escape them, so a comma in the name (say, of an image file) would
        // inject options. Replace it.
        let fsname = self.fsname.replace([',', '\\'], "_");
        let mut mount_options = vec![
            MountOption::FSName(fsname),
            subtype_option(),
            MountOption::RO,
            MountOption::DefaultPermissions,
            if self.dev {
                MountOption::Dev
            } else {
                MountOption::NoDev
            },
            if self.suid {
                MountOption::Suid
            } else {
                MountOption::NoSuid
            },
        ];
        if !self.exec {
            mount_options.push(MountOption::NoExec);
        }
        if self.auto_unmount {
            mount_options.push(MountOption::AutoUnmount);
        }
        let mut config = Config::default();
        config.mount_options = mount_options;
        config.acl = self.acl();
        config.n_threads = Some(self.threads.clamp(1, MAX_THREADS));
        config.clone_fd = true;
        config
    }

    /// The read-ahead to set after mounting, if any.
    pub(crate) fn effective_read_ahead_kb(&self) -> Option<u32> {
        match self.read_ahead_kb {
            None => Some(DEFAULT_READ_AHEAD_KB),
            Some(0) => None,
            Some(n) => Some(n),
        }
    }
}

fn parse_num<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("option {key}={value}: not a valid number"))
}

/// The subtype, so that the mount is listed as `fuse.isomount` (what
/// `findmnt -t fuse.isomount`, `isomount list` and fstab tooling look for).
/// fusermount3 takes `subtype=` itself; but fuser mounts directly when run
/// as root and then drops its `Subtype` option, so there the option goes to
/// the kernel, whose FUSE driver takes `subtype=` since Linux 5.1.
fn subtype_option() -> MountOption {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        MountOption::CUSTOM(format!("subtype={SUBTYPE}"))
    } else {
        MountOption::Subtype(SUBTYPE.to_string())
    }
}

/// An octal permission mask such as `022` or `0027` (at most `7777`).
fn parse_mask(key: &str, value: &str) -> Result<u16, String> {
    u16::from_str_radix(value, 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| format!("option {key}={value}: not an octal permission mask (0 to 7777)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let o = MountOptions::default();
        assert_eq!(o.threads, 4);
        assert_eq!(o.fsname, "isomount");
        assert!(!o.allow_other && !o.auto_unmount && !o.dev && !o.suid && o.exec);
        assert_eq!(o.effective_read_ahead_kb(), Some(1024));
        assert_eq!(o.acl(), SessionACL::Owner);
    }

    #[test]
    fn parses_a_typical_list() {
        let mut o = MountOptions::default();
        o.apply_o("ro,allow_other,uid=1000,gid=100,fsname=my disc,threads=8,read_ahead_kb=2048")
            .unwrap();
        assert!(o.allow_other);
        assert_eq!(o.uid, Some(1000));
        assert_eq!(o.gid, Some(100));
        assert_eq!(o.fsname, "my disc");
        assert_eq!(o.threads, 8);
        assert_eq!(o.read_ahead_kb, Some(2048));
        assert_eq!(o.acl(), SessionACL::All);
    }

    #[test]
    fn masks_are_octal() {
        let mut o = MountOptions::default();
        o.apply_o("umask=022").unwrap();
        assert_eq!((o.fmask, o.dmask), (0o22, 0o22));
        o.apply_o("fmask=0133,dmask=7").unwrap();
        assert_eq!((o.fmask, o.dmask), (0o133, 0o7));
        for bad in ["umask=9", "umask=", "fmask=x", "dmask=17777", "umask"] {
            let e = o.apply_o(bad).unwrap_err();
            assert!(e.contains("mask"), "{bad}: {e}");
        }
    }

    #[test]
    fn several_lists_accumulate() {
        let mut o = MountOptions::default();
        o.apply_o("uid=1").unwrap();
        o.apply_o("gid=2,,auto_unmount, default_permissions")
            .unwrap();
        assert_eq!((o.uid, o.gid), (Some(1), Some(2)));
        assert!(o.auto_unmount);
        // fuser needs acl != Owner for auto_unmount.
        assert_eq!(o.acl(), SessionACL::RootAndOwner);
        o.apply_o("dev,suid,noexec,noatime").unwrap();
        assert!(o.dev && o.suid && !o.exec);
        o.apply_o("nodev,nosuid,exec,atime").unwrap();
        assert!(!o.dev && !o.suid && o.exec);
        o.apply_o("read_ahead_kb=0").unwrap();
        assert_eq!(o.effective_read_ahead_kb(), None);
    }

    #[test]
    fn rejects_bad_options_naming_them() {
        let mut o = MountOptions::default();
        let e = o.apply_o("ro,rw").unwrap_err();
        assert!(e.contains("rw"), "{e}");
        let e = o.apply_o("bogus_opt").unwrap_err();
        assert!(e.contains("bogus_opt"), "{e}");
        let e = o.apply_o("uid=abc").unwrap_err();
        assert!(e.contains("uid"), "{e}");
        let e = o.apply_o("uid").unwrap_err();
        assert!(e.contains("uid"), "{e}");
        let e = o.apply_o("ro=1").unwrap_err();
        assert!(e.contains("ro"), "{e}");
        assert!(o.apply_o("threads=0").is_err());
        assert!(o.apply_o("threads=65").is_err());
        assert!(o.apply_o("fsname=").is_err());
        assert!(o.apply_o("gid=-1").is_err());
    }

    #[test]
    fn config_is_read_only_and_threaded() {
        let mut o = MountOptions::default();
        o.apply_o("allow_root,noexec,threads=2").unwrap();
        o.fsname = "a,b\\c".into();
        let c = o.to_config();
        assert!(c.mount_options.contains(&MountOption::RO));
        assert!(c.mount_options.contains(&MountOption::DefaultPermissions));
        assert!(c.mount_options.contains(&MountOption::NoDev));
        assert!(c.mount_options.contains(&MountOption::NoSuid));
        assert!(c.mount_options.contains(&MountOption::NoExec));
        assert!(
            c.mount_options
                .contains(&MountOption::FSName("a_b_c".into()))
        );
        // SAFETY: geteuid has no preconditions.
        let subtype = if unsafe { libc::geteuid() } == 0 {
            MountOption::CUSTOM("subtype=isomount".into())
        } else {
            MountOption::Subtype("isomount".into())
        };
        assert!(c.mount_options.contains(&subtype));
        assert!(!c.mount_options.contains(&MountOption::AutoUnmount));
        assert_eq!(c.acl, SessionACL::RootAndOwner);
        assert_eq!(c.n_threads, Some(2));
        assert!(c.clone_fd);
        o.dev = true;
        assert!(o.to_config().mount_options.contains(&MountOption::Dev));
    }
}
