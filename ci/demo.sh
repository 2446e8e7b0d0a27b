#!/usr/bin/env bash
# The main job, end to end: builds isomount, makes a small demo image from
# demo/tree with xorriso (Rock Ridge + Joliet), mounts it with
# `isomount mount`, lists it, reads a file through the mount, and unmounts.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/install-deps.sh >&2
cargo build --release --locked --quiet
bin=$PWD/target/release/isomount
out=$PWD/target/demo
if mountpoint -q "$out/mnt" 2>/dev/null; then "$bin" umount "$out/mnt" || umount -l "$out/mnt"; fi
rm -rf "$out"
mkdir -p "$out/mnt"
xorriso -as mkisofs -quiet -R -J -V ISOMOUNT_DEMO -o "$out/demo.iso" demo/tree

echo "== isomount info target/demo/demo.iso"
"$bin" info "$out/demo.iso"
if [[ ! -e /dev/fuse ]]; then
  echo "!! /dev/fuse is missing: cannot mount here; listing without a mount instead" >&2
  "$bin" ls -lR "$out/demo.iso"
  exit 0
fi
echo "== isomount mount target/demo/demo.iso target/demo/mnt"
"$bin" mount "$out/demo.iso" "$out/mnt"
trap '"$bin" umount "$out/mnt"' EXIT
echo "== ls -lR target/demo/mnt"
ls -lR "$out/mnt"
echo "== cat target/demo/mnt/README.txt"
cat "$out/mnt/README.txt"
echo "== isomount umount target/demo/mnt"
