//! Exit codes and messages that need no readable image: usage errors (2)
//! and images that cannot be opened (1).

use std::process::{Command, Output};

fn isomount(args: &[&str]) -> Output {
    match Command::new(env!("CARGO_BIN_EXE_isomount"))
        .args(args)
        .output()
    {
        Ok(o) => o,
        Err(e) => panic!("cannot run isomount: {e}"),
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["--no-such-flag", "info", "x.iso"][..],
        &["info"],
        &["ls"],
        &["cat", "x.iso"],
        &["extract", "x.iso"],
        &["--view", "hfs", "ls", "x.iso"],
        &["--cache-size", "12Q", "ls", "x.iso"],
        &["frobnicate"],
        &["-v", "-q", "info", "x.iso"],
    ] {
        let o = isomount(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(o.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn help_and_version_exit_0() {
    let o = isomount(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8_lossy(&o.stdout);
    for cmd in ["info", "ls", "stat", "cat", "extract", "mount", "umount"] {
        assert!(out.contains(cmd), "--help lacks {cmd}: {out}");
    }
    assert_eq!(isomount(&["--version"]).status.code(), Some(0));
}

#[test]
fn missing_image_is_a_clear_runtime_error() -> std::io::Result<()> {
    let tmp = tempfile::tempdir()?;
    let missing = tmp.path().join("nope.iso");
    let missing = missing.to_string_lossy();
    for args in [
        &["info", &*missing][..],
        &["ls", &*missing],
        &["stat", &*missing, "/x"],
        &["cat", &*missing, "/x"],
    ] {
        let o = isomount(args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let e = stderr(&o);
        assert!(e.starts_with("isomount: "), "{e}");
        assert!(e.contains("nope.iso"), "{e}");
        assert!(e.contains("No such file or directory"), "{e}");
        assert!(!e.contains("panicked"), "{e}");
        assert_eq!(e.lines().count(), 1, "{e}");
    }
    // Nothing is created when the image cannot be opened.
    let dest = tmp.path().join("dest");
    let o = isomount(&["extract", &missing, "-C", &dest.to_string_lossy()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(!dest.exists());
    Ok(())
}

#[test]
fn non_iso_file_is_not_recognised() -> std::io::Result<()> {
    let tmp = tempfile::tempdir()?;
    let junk = tmp.path().join("junk.bin");
    // Big enough to hold volume descriptors, but none are there.
    let bytes: Vec<u8> = (0..200_000u32).map(|i| (i * 31 % 253) as u8).collect();
    std::fs::write(&junk, bytes)?;
    let empty = tmp.path().join("empty.iso");
    std::fs::write(&empty, b"")?;
    for f in [&junk, &empty] {
        let o = isomount(&["ls", &f.to_string_lossy()]);
        assert_eq!(o.status.code(), Some(1));
        let e = stderr(&o);
        assert!(e.starts_with("isomount: "), "{e}");
        assert!(e.contains(&*f.to_string_lossy()), "{e}");
        assert!(!e.contains("panicked"), "{e}");
        if f == &junk {
            assert!(e.contains("not a recognised"), "{e}");
        }
    }
    Ok(())
}

#[test]
fn directory_as_image_is_refused() -> std::io::Result<()> {
    let tmp = tempfile::tempdir()?;
    let o = isomount(&["info", &tmp.path().to_string_lossy()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("is a directory"), "{}", stderr(&o));
    Ok(())
}

#[test]
fn mount_checks_options_and_image_before_mounting() -> std::io::Result<()> {
    let tmp = tempfile::tempdir()?;
    let junk = tmp.path().join("junk.bin");
    std::fs::write(&junk, vec![0u8; 100_000])?;
    let mp = tmp.path().join("mnt");
    std::fs::create_dir(&mp)?;
    // Not an image: reported by the parent, nothing mounted, exit 1.
    let o = isomount(&["mount", &junk.to_string_lossy(), &mp.to_string_lossy()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("not a recognised"), "{}", stderr(&o));
    // Missing mount point.
    let o = isomount(&[
        "mount",
        &junk.to_string_lossy(),
        &tmp.path().join("nomp").to_string_lossy(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("mount point"), "{}", stderr(&o));
    Ok(())
}
