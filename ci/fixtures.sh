#!/usr/bin/env bash
# Builds the test images from source trees this script creates, with tools
# that are not ours (xorriso, genisoimage), and the expected listing of each
# tree (NAME.ref.jsonl, see ci/tree-manifest.py).
#
#   ci/fixtures.sh OUTDIR          small fixtures (a few MB, seconds)
#   ci/fixtures.sh --big OUTDIR    big.iso: a sparse 4 GiB + 1 MiB file (level 3
#                                  multi-extent); writes ~4.1 GB
#
# Images:
#   rr.iso      xorriso, Rock Ridge + Joliet (long), hard links, deep tree
#               relocated to rr_moved (CL/PL/RE)
#   geniso.iso  genisoimage -R -J of the same tree (its own relocation, its
#               own Rock Ridge writer)
#   joliet.iso  genisoimage -J only, of a tree with plain files and dirs
#   plain.iso   genisoimage, no extensions (ISO 9660 level 1, 8.3 names)
set -euo pipefail
export LC_ALL=C.UTF-8 TZ=UTC

big=0
if [[ "${1:-}" == "--big" ]]; then big=1; shift; fi
out=${1:?usage: ci/fixtures.sh [--big] OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d "$out/.work.XXXXXX")
trap 'rm -rf "$work"' EXIT

# shellcheck source=ci/lib.sh
source "$here/lib.sh" # pattern SEED LEN

if (( big )); then
  t="$work/big"
  mkdir -p "$t"
  # 4 GiB + 1 MiB, sparse; markers at the start, around the first section end
  # (xorriso cuts sections at 4 GiB - 2 KiB) and at the very end.
  f="$t/huge.bin"
  truncate -s $(( (4 << 30) + (1 << 20) )) "$f"
  printf 'START-OF-HUGE' | dd of="$f" conv=notrunc status=none
  pattern boundary 8192 | dd of="$f" bs=1 seek=$(( (4 << 30) - 6144 )) conv=notrunc status=none
  printf 'END-OF-HUGE' | dd of="$f" bs=1 seek=$(( (4 << 30) + (1 << 20) - 11 )) conv=notrunc status=none
  printf 'small\n' > "$t/small.txt"
  touch -d '2024-05-06 07:08:09' "$f" "$t/small.txt" "$t"
  xorriso -as mkisofs -quiet -R -J -iso-level 3 -V ISOMOUNT_BIG -o "$out/big.iso" "$t"
  python3 "$here/tree-manifest.py" "$t" > "$out/big.ref.jsonl"
  echo "fixtures: $out/big.iso"
  exit 0
fi

t="$work/tree"
mkdir -p "$t"
printf 'Hello from isomount\n' > "$t/hello.txt"
: > "$t/empty.bin"
mkdir "$t/emptydir"
pattern straddle 100000 > "$t/straddle.bin"          # crosses 32 KiB cache blocks
pattern blocks $(( 3 * 32768 + 123 )) > "$t/blocks.bin"
pattern onesector 2048 > "$t/sector.bin"
mkdir -p "$t/nested/a/b/c/d/e/f/g/h/i/j"             # 11 levels: RR relocation
printf 'deep\n' > "$t/nested/a/b/c/d/e/f/g/h/i/j/deep.txt"
printf 'level8\n' > "$t/nested/a/b/c/d/e/f/g/level8.txt"
long255=$(printf 'L%.0s' $(seq 1 251)).txt          # longest Rock Ridge name (255 bytes)
printf 'long\n' > "$t/$long255"
long103=$(printf 'j%.0s' $(seq 1 99)).txt           # longest Joliet name xorriso writes
printf 'joliet long\n' > "$t/$long103"
mkdir "$t/Ωmega"
printf 'unicode\n' > "$t/Ωmega/ünïcødé-名前.txt"
printf 'MiXeD\n' > "$t/MiXeD Case.TXT"
ln -s hello.txt "$t/rel-link"
ln -s /etc/hostname "$t/abs-link"
ln -s does/not/exist "$t/dangling-link"
ln -s nested/a "$t/dir-link"
ln -s ../../hello.txt "$t/nested/a/up-link"
printf 'shared bytes\n' > "$t/hard-a.txt"
ln "$t/hard-a.txt" "$t/hard-b.txt"
ln "$t/hard-a.txt" "$t/nested/hard-c.txt"
mkfifo "$t/fifo"
mknod "$t/null-dev" c 1 3
mknod "$t/loop-dev" b 7 0
printf '#!/bin/sh\necho hi\n' > "$t/setuid.sh"
chmod 4755 "$t/setuid.sh"
chown 1000:100 "$t/setuid.sh"
mkdir "$t/sticky"
chmod 1777 "$t/sticky"
printf 'secret\n' > "$t/readonly.txt"
chmod 0400 "$t/readonly.txt"
printf 'future\n' > "$t/y2040.txt"
printf 'past\n' > "$t/y1965.txt"
touch -h -d '2040-06-15 12:00:00' "$t/y2040.txt"
touch -h -d '1965-03-01 08:30:00' "$t/y1965.txt"
# Fixed times for everything else, deepest first so directories keep theirs.
find "$t" -depth ! -name y2040.txt ! -name y1965.txt -exec touch -h -d '2024-01-02 03:04:05' {} +

xorriso -as mkisofs -quiet -R -J -joliet-long --hardlinks -rr_reloc_dir rr_moved \
  -V ISOMOUNT_RR -o "$out/rr.iso" "$t" 2>"$work/xorriso.log" || { cat "$work/xorriso.log"; exit 1; }
python3 "$here/tree-manifest.py" "$t" > "$out/rr.ref.jsonl"

genisoimage -quiet -R -J -joliet-long -V ISOMOUNT_GEN -o "$out/geniso.iso" "$t" 2>"$work/geniso.log" \
  || { cat "$work/geniso.log"; exit 1; }
cp "$out/rr.ref.jsonl" "$out/geniso.ref.jsonl"

# Joliet alone: only what Joliet can carry (files, dirs, names <= 103 chars).
j="$work/joliet"
mkdir -p "$j"
cp -a "$t/hello.txt" "$t/empty.bin" "$t/emptydir" "$t/straddle.bin" "$t/blocks.bin" \
  "$t/Ωmega" "$t/MiXeD Case.TXT" "$t/$long103" "$t/y2040.txt" "$t/y1965.txt" "$j/"
mkdir -p "$j/nested/deeper/still"
printf 'in joliet\n' > "$j/nested/deeper/still/file.txt"
find "$j/nested" -depth -exec touch -d '2024-01-02 03:04:05' {} +
touch -d '2024-01-02 03:04:05' "$j"
genisoimage -quiet -J -joliet-long -V ISOMOUNT_JOLIET -o "$out/joliet.iso" "$j" 2>"$work/joliet.log" \
  || { cat "$work/joliet.log"; exit 1; }
python3 "$here/tree-manifest.py" "$j" > "$out/joliet.ref.jsonl"

# Plain ISO 9660 level 1: 8.3 upper-case names that survive unchanged.
p="$work/plain"
mkdir -p "$p/DIR1/DIR2"
printf 'plain readme\n' > "$p/README.TXT"
pattern plain 5000 > "$p/DIR1/DATA.BIN"
printf 'x\n' > "$p/DIR1/DIR2/X.TXT"
find "$p" -depth -exec touch -d '2024-01-02 03:04:05' {} +
genisoimage -quiet -V ISOMOUNT_PLAIN -o "$out/plain.iso" "$p" 2>"$work/plain.log" \
  || { cat "$work/plain.log"; exit 1; }
python3 "$here/tree-manifest.py" "$p" > "$out/plain.ref.jsonl"

echo "fixtures: $(cd "$out" && ls ./*.iso | tr '\n' ' ')"
