//! Running an outside tool (xorriso, mkudffs, ...) from a test: shared by
//! fs-core's tests and the CLI's (`tests/common/mod.rs` includes this file
//! too).

use std::process::{Command, Output};

/// Runs a tool that must succeed; a failure shows its output, a missing
/// tool the fix.
pub fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e} (run `bash ci/install-deps.sh`)"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
