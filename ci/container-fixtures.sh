#!/usr/bin/env bash
# Builds the CD-container fixtures and checks them with other people's code.
#
#   ci/container-fixtures.sh OUTDIR
#
# rr.iso (+ rr.ref.jsonl) comes from ci/fixtures.sh (xorriso). Our own writer,
# ci/make_containers.py, wraps it in every container isomount reads (raw
# Mode 1 / Mode 2 Form 1 / 2336-byte BIN+CUE, multi-track cues, NRG v1/v2,
# MDF+MDS, MDF alone, CloneCD CCD/IMG/SUB). Then independent converters turn
# our containers back into ISOs and the result must equal rr.iso byte for
# byte, so the layouts are checked by code that is not ours:
#   bchunk (BIN/CUE), ccd2iso (CloneCD), nrg2iso (NRG), mdf2iso (MDF), iat.
# A tool that is missing is reported (ci/install-deps.sh installs them all);
# a tool that disagrees fails the script. Results: OUTDIR/thirdparty.txt.
set -euo pipefail
export LC_ALL=C.UTF-8 TZ=UTC

out=${1:?usage: ci/container-fixtures.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
bash "$here/fixtures.sh" "$out/base" >/dev/null
cp "$out/base/rr.iso" "$out/base/rr.ref.jsonl" "$out/"
python3 "$here/make_containers.py" "$out/rr.iso" "$out"

# CD-Extra: a data track mastered for disc address 11750 (session 2 after an
# audio session), by xorriso -C, from a small tree with its own reference.
x="$out/.cdextra-tree"
rm -rf "$x"; mkdir -p "$x/docs/deeper"
printf 'extra session\n' > "$x/readme.txt"
head -c 100000 /dev/zero | tr '\0' 'x' > "$x/docs/big.txt"
printf 'deep\n' > "$x/docs/deeper/leaf.txt"
find "$x" -exec touch -h -d '2024-01-02 03:04:05' {} +
xorriso -as mkisofs -quiet -R -J -V CDEXTRA -C 0,11750 -o "$out/cdextra-data.iso" "$x" 2>/dev/null
python3 "$here/tree-manifest.py" "$x" > "$out/cdextra.ref.jsonl"
rm -rf "$x"
python3 "$here/make_containers.py" --cdextra "$out/cdextra-data.iso" "$out"

work=$(mktemp -d "$out/.check.XXXXXX")
trap 'rm -rf "$work"' EXIT
report="$out/thirdparty.txt"
: > "$report"
fail=0
have() { command -v "$1" >/dev/null 2>&1; }
size=$(stat -c %s "$out/rr.iso")

# check NAME TOOL RESULT-FILE: RESULT must equal rr.iso
check() {
  local name=$1 tool=$2 got=$3
  if [[ -f "$got" ]] && cmp -s "$got" "$out/rr.iso"; then
    echo "agree    $tool $name" >> "$report"
  else
    echo "DISAGREE $tool $name ($(stat -c %s "$got" 2>/dev/null || echo missing) bytes vs $size)" >> "$report"
    fail=1
  fi
}
# check_prefix: the tool copies everything after the data start (e.g. the
# NRG chunk trailer too); the first rr.iso-size bytes must equal rr.iso.
check_prefix() {
  local name=$1 tool=$2 got=$3
  if [[ -f "$got" ]] && cmp -s -n "$size" "$got" "$out/rr.iso"; then
    echo "agree    $tool $name (first $size bytes; the tool also copies what follows the track)" >> "$report"
  else
    echo "DISAGREE $tool $name" >> "$report"
    fail=1
  fi
}
skip() { echo "skipped  $1" >> "$report"; }

cd "$work"
if have bchunk; then
  for m in mode1 mode2form1; do
    bchunk "$out/$m.bin" "$out/$m.cue" "b-$m" >/dev/null 2>&1 || true
    check "$m.bin+cue" bchunk "b-${m}01.iso"
  done
  bchunk "$out/audio-first.bin" "$out/audio-first.cue" b-af >/dev/null 2>&1 || true
  check "audio-first.bin+cue (track 2)" bchunk b-af02.iso
  bchunk "$out/cdextra.bin" "$out/cdextra.cue" b-cx >/dev/null 2>&1 || true
  if cmp -s b-cx02.iso "$out/cdextra-data.iso"; then
    echo "agree    bchunk cdextra.bin+cue (track 2 = xorriso's session-2 image)" >> "$report"
  else
    echo "DISAGREE bchunk cdextra.bin+cue" >> "$report"; fail=1
  fi
  skip "bchunk mode2_2336: bchunk reads every MODE2 track as 2352-byte sectors (checked by iat instead)"
  skip "bchunk data-first.cue: bchunk reads a single FILE only (two FILEs here)"
else
  skip "bchunk not installed"; fail=1
fi
if have ccd2iso; then
  ccd2iso "$out/image.img" c.iso >/dev/null 2>&1 || true
  check "image.img (CloneCD)" ccd2iso c.iso
  ccd2iso "$out/mode2.img" c2.iso >/dev/null 2>&1 || true
  check "mode2.img (CloneCD, Mode 2)" ccd2iso c2.iso
else
  skip "ccd2iso not installed"; fail=1
fi
if have nrg2iso; then
  # nrg2iso copies from byte 307200 (the 150-sector pregap Nero writes) to the end.
  nrg2iso "$out/image.nrg" n2.iso >/dev/null 2>&1 || true
  check_prefix "image.nrg (v2 DAO)" nrg2iso n2.iso
  nrg2iso "$out/image-v1.nrg" n1.iso >/dev/null 2>&1 || true
  check_prefix "image-v1.nrg (v1 DAO)" nrg2iso n1.iso
  skip "nrg2iso image-tao.nrg: nrg2iso assumes the DAO pregap of 307200 bytes (checked by iat instead)"
  skip "nrg2iso image-raw.nrg: nrg2iso only strips the 2048-byte pregap, it does not unwrap 2352-byte sectors (checked by iat instead)"
else
  skip "nrg2iso not installed"; fail=1
fi
if have mdf2iso; then
  mdf2iso "$out/image.mdf" m.iso >/dev/null 2>&1 || true
  check "image.mdf" mdf2iso m.iso
  skip "mdf2iso sub.mdf: mdf2iso says \"Unknown format\" for 2448-byte sectors whose subchannel is zero (checked by iat instead)"
  mdf2iso "$out/mixed.mdf" mx.iso >/dev/null 2>&1 || true
  if cmp -s mx.iso "$out/rr.iso"; then check "mixed.mdf" mdf2iso mx.iso
  else skip "mdf2iso mixed.mdf: mdf2iso says \"Unknown format\" when the MDF starts with an audio track (it reads no MDS; checked by iat instead)"; fi
else
  skip "mdf2iso not installed"; fail=1
fi
if have iat; then
  # iat finds the ISO 9660 data by content (sector size, header, offset).
  for f in mode1.bin mode2form1.bin mode2_2336.bin image.nrg image-v1.nrg image-raw.nrg image-tao.nrg alone.mdf mixed.mdf sub.mdf sub-alone.mdf image.img mode2.img; do
    iat -i "$out/$f" -o "i-$f.iso" >/dev/null 2>&1 || true
    check "$f" iat "i-$f.iso"
  done
else
  skip "iat not installed"; fail=1
fi
cd "$out"
cat "$report"
exit $fail
