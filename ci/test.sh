#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs the Debian packages the tests
# need (ci/install-deps.sh), then formatting, lints, docs and every test
# (unit tests, the library/CLI/FUSE integration tests on images made by
# xorriso and genisoimage, and the real GRUB rescue image).
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/install-deps.sh
set -x
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked
# The fuzz targets (their own workspace, run with nightly cargo-fuzz, see
# FUZZING.md) still build: a stable check catches fs_core::fuzz drifting.
cargo check --manifest-path fuzz/Cargo.toml --locked --bins
cargo test --workspace --locked
# The Windows build: cross-built with mingw, its tests and the CLI run under
# Wine and compared byte for byte with the Linux build on the same images.
bash ci/windows.sh
# The Debian package (ci/deb.sh, cargo-deb) installed by apt in a throwaway
# Debian root (mmdebstrap), its files checked, an image mounted from an
# fstab there and read back, then purged.
bash ci/deb-test.sh
