#!/usr/bin/env bash
# Builds the seed corpora of the fuzz targets (fuzz/seeds/TARGET/) from the
# test fixtures, plus small images made here for the whole-image target.
# Seeds are regenerated, never committed (see FUZZING.md).
#
#   bash fuzz/seed.sh [FIXTURE_DIR]
#
# FIXTURE_DIR (default fuzz/seeds/.fixtures) keeps the fixture images between
# runs: delete it to rebuild them. Needs what ci/install-deps.sh installs
# (xorriso, genisoimage, mkudffs, udfclient, 7z, python3 with lz4).
set -euo pipefail
export LC_ALL=C.UTF-8 TZ=UTC
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
fix=${1:-$here/seeds/.fixtures}
mkdir -p "$fix"
fix=$(cd "$fix" && pwd)

# The test fixtures (skipped when already built).
[[ -f "$fix/iso/rr.iso" ]] || bash "$repo/ci/fixtures.sh" "$fix/iso" >/dev/null
[[ -f "$fix/udf/vat.img" ]] || bash "$repo/ci/udf-fixtures.sh" "$fix/udf" >/dev/null
[[ -f "$fix/cont/image.nrg" ]] || bash "$repo/ci/container-fixtures.sh" "$fix/cont" >/dev/null

# Small images for the whole-image and container targets: tens of KB, so
# one execution stays fast.
small="$fix/small"
if [[ ! -f "$small/done" ]]; then
  rm -rf "$small"
  mkdir -p "$small/tree/sub/deeper" "$small/boot"
  t="$small/tree"
  printf 'hello\n' >"$t/hello.txt"
  head -c 5000 /dev/zero | tr '\0' 'a' >"$t/sub/five-k.txt"
  printf 'deep\n' >"$t/sub/deeper/leaf.txt"
  ln -s sub/deeper/leaf.txt "$t/link"
  ln -s ../hello.txt "$t/sub/up"
  ln "$t/hello.txt" "$t/hard.txt"
  : >"$t/empty"
  mkfifo "$t/fifo" 2>/dev/null || true
  printf 'Long name, mixed Case.TXT\n' >"$t/Long name, mixed Case.TXT"
  head -c 2048 /dev/zero >"$small/boot/boot.img"
  find "$t" "$small/boot" -exec touch -h -d '2024-01-02 03:04:05' {} +
  xorriso -as mkisofs -quiet -R -J -V SMALL_RRJ -o "$small/rrj.iso" "$t"
  xorriso -as mkisofs -quiet -R -J -V SMALL_BOOT -b boot/boot.img -no-emul-boot \
    -eltorito-alt-boot -e boot/boot.img -no-emul-boot \
    -o "$small/boot.iso" -graft-points /="$t" /boot="$small/boot"
  genisoimage -quiet -J -V SMALL_J -o "$small/j.iso" "$t" 2>/dev/null
  genisoimage -quiet -V SMALL_PLAIN -o "$small/plain.iso" "$t" 2>/dev/null
  genisoimage -quiet -R -V SMALL_DEEP -o "$small/deep.iso" "$repo/fs-core/src" 2>/dev/null || true
  xorriso -outdev "$small/zisofs.iso" -zisofs level=6 -map "$t" / \
    -set_filter_r --zisofs / -- >/dev/null 2>&1
  xorriso -outdev "$small/zisofs2.iso" -zisofs version_2=on:block_size_v2=32k -map "$t" / \
    -set_filter_r --zisofs / -- >/dev/null 2>&1
  # Multisession: a second session appended to the first.
  cp "$small/rrj.iso" "$small/multi.iso"
  xorriso -dev "$small/multi.iso" -map "$t/sub" /added -commit >/dev/null 2>&1 || true
  # UDF with a metadata partition (our writer), small.
  u="$small/udftree"
  mkdir -p "$u/d"
  printf 'hi\n' >"$u/hello.txt"
  head -c 9000 /dev/urandom >"$u/frag-file.bin"
  head -c 8192 /dev/zero >"$u/zeros.bin"
  ln -s d/../hello.txt "$u/sym"
  ln "$u/hello.txt" "$u/d/hard.txt"
  python3 "$repo/ci/udf_writer.py" --rev 2.50 "$u" "$small/udf250.img" >/dev/null
  # Containers around the smallest ISO.
  mkdir -p "$small/cont"
  python3 "$repo/ci/make_containers.py" "$small/j.iso" "$small/cont" >/dev/null
  for k in cso1 cso2 zso; do
    python3 "$repo/ci/make_cso.py" "$k" "$small/j.iso" "$small/cont/j.$k" --block-size 2048 >/dev/null
  done
  touch "$small/done"
fi

python3 "$here/seed.py" "$fix" "$here/seeds" "$repo/tests/corpus/grub-rescue-cdrom.iso"
