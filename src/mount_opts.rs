//! The `-o` lists of `isomount mount`, of `mount -t fuse.isomount` and of
//! `/etc/fstab` lines, split into what each layer takes.
//!
//! * How to open the image: `view=V`, `session=N`, `cache_size=BYTES`,
//!   `no_boot_dir`; they override the global options.
//! * Words meant for `mount(8)`, `systemd` or `mount.fuse3` that may still
//!   reach us: `defaults`, `auto`, `noauto`, `user`, `users`, `nouser`,
//!   `owner`, `group`, `nofail`, `_netdev`, `x-*` (`x-systemd.automount`,
//!   ...) and `comment=...`: accepted and ignored.
//! * Everything else is a FUSE mount option, checked by the backend
//!   (`fuse_backend::MountOptions::apply_o`), which names an unknown one.
//!
//! As a mount helper (called by `mount.fuse3` with `IMAGE DIR -o OPTS`) two
//! more things hold: `mount.fuse3` adds `rw` whenever `ro` is not given, so
//! `rw` is taken as "read-only anyway" instead of an error; and it adds
//! `dev,suid` to every mount root makes, so those two are dropped: the
//! device nodes and set-id bits of an untrusted image stay inert
//! (`isomount mount -o dev,suid` is the way to ask for them).

use anyhow::{Result, anyhow};

use crate::cli::{ImageArgs, parse_size};

/// Who is calling with the `-o` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// `isomount mount ... -o OPTS`: every option means what it says.
    Command,
    /// `mount.fuse3` on behalf of `mount(8)` or an fstab line.
    MountHelper,
}

/// Applies the image options of `lists` to `args` and returns the FUSE
/// mount options left, joined with commas (empty when none).
pub fn split(lists: &[String], args: &mut ImageArgs, caller: Caller) -> Result<String> {
    let mut rest: Vec<&str> = Vec::new();
    for list in lists {
        for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (key, value) = match item.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (item, None),
            };
            let bad = |why: String| anyhow!("-o {item}: {why}");
            match (key, value) {
                ("view", Some(v)) => args.view = Some(v.parse().map_err(bad)?),
                ("session", Some(v)) => {
                    let n: u32 = v
                        .parse()
                        .ok()
                        .filter(|n| *n >= 1)
                        .ok_or_else(|| bad("a session number (1 = first)".into()))?;
                    args.session = Some(n);
                }
                ("cache_size", Some(v)) => args.cache_size = parse_size(v).map_err(bad)?,
                ("no_boot_dir", None) => args.no_boot_dir = true,
                ("view" | "session" | "cache_size", None) => {
                    return Err(bad(format!("needs a value ({key}=...)")));
                }
                ("no_boot_dir", Some(_)) => return Err(bad("takes no value".into())),
                (
                    "defaults" | "auto" | "noauto" | "user" | "users" | "nouser" | "owner"
                    | "group" | "nofail" | "_netdev",
                    None,
                ) => log::debug!("-o {item}: for mount(8), ignored"),
                ("comment", Some(_)) => log::debug!("-o {item}: for mount(8), ignored"),
                _ if key.starts_with("x-") => log::debug!("-o {item}: for mount(8), ignored"),
                ("rw", None) if caller == Caller::MountHelper => {
                    log::debug!("-o rw from mount.fuse3: the image is mounted read-only anyway");
                }
                ("dev" | "suid", None) if caller == Caller::MountHelper => log::debug!(
                    "-o {item} from mount.fuse3 (added to every root mount): ignored; \
                     use `isomount mount -o {item}` to honour the image's {item}"
                ),
                _ => rest.push(item),
            }
        }
    }
    Ok(rest.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn defaults() -> ImageArgs {
        crate::cli::Cli::parse_from(["isomount", "list"]).open
    }

    fn owned(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn image_options_override_and_fstab_words_vanish() {
        let mut a = defaults();
        let rest = split(
            &owned(&[
                "ro,allow_other,view=udf,nofail,x-systemd.automount,x-systemd.idle-timeout=60",
                "uid=1000,session=2,cache_size=64M,no_boot_dir,_netdev,noauto,user,comment=x",
            ]),
            &mut a,
            Caller::Command,
        )
        .unwrap();
        assert_eq!(rest, "ro,allow_other,uid=1000");
        assert_eq!(a.view, Some(fs_core::View::Udf));
        assert_eq!(a.session, Some(2));
        assert_eq!(a.cache_size, 64 << 20);
        assert!(a.no_boot_dir);
    }

    #[test]
    fn mount_helper_noise_is_dropped_only_for_the_helper() {
        let mut a = defaults();
        let lists = owned(&["rw,dev,suid,umask=022"]);
        assert_eq!(
            split(&lists, &mut a, Caller::MountHelper).unwrap(),
            "umask=022"
        );
        assert_eq!(
            split(&lists, &mut a, Caller::Command).unwrap(),
            "rw,dev,suid,umask=022",
            "the backend then refuses rw with its own message"
        );
    }

    #[test]
    fn bad_image_options_name_themselves() {
        for bad in [
            "view=hfs",
            "session=0",
            "session=x",
            "cache_size=12X",
            "view",
            "no_boot_dir=1",
        ] {
            let e = split(&owned(&[bad]), &mut defaults(), Caller::Command).unwrap_err();
            assert!(
                e.to_string().starts_with(&format!("-o {bad}:")),
                "{bad}: {e}"
            );
        }
    }
}
