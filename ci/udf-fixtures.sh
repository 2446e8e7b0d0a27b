#!/usr/bin/env bash
# Builds the UDF test images from source trees this script creates, with
# tools that are not ours, and checks every image with 7-Zip (another
# independent reader) before the tests ever see it.
#
#   ci/udf-fixtures.sh OUTDIR          small set (~100 MB on disk, sparse files)
#   ci/udf-fixtures.sh --big OUTDIR    bigbridge.iso only: writes ~4.3 GB
#   (OUTDIR --big is accepted too)
#
# Per image NAME: NAME.ref.jsonl (ci/tree-manifest.py over the source tree,
# adjusted where the writing tool cannot keep something, see below),
# NAME.7z.txt (`7z l -slt -tudf`, which must list the same paths and sizes),
# NAME.udfinfo.txt (`udfinfo`, where it can read the image).
#
# Images:
#   win7.iso      genisoimage -udf -J: UDF 1.02 bridge shaped like a Windows 7
#                 install disc (boot/, efi/microsoft/boot/, sources/install.wim
#                 as a 300 MiB sparse file, bootmgr, setup.exe, a directory of
#                 3,000 entries, mixed case and non-ASCII names), then
#                 ci/patch-bridge.py cuts the ISO 9660 and Joliet roots down to
#                 README.TXT, as on real Windows media. genisoimage's UDF
#                 writes fixed permissions (r--r--r--, dirs r-xr-xr-x) and
#                 uid/gid -1 ("unset", shown as 0), so the tree gets those
#                 modes and the ref uid/gid 0.
#   udf102.img udf150.img udf201.img
#                 mkudffs --media-type=hd -b 2048 --udfrev=..., populated with
#                 udfclient -W -b 2048. udfclient (udfclient 0.8.x) stamps
#                 every file with the time of writing (mtime dropped from the
#                 ref), dereferences symlinks, cannot make hard links, writes
#                 UTF-8 bytes as 8-bit CS0 and fails on names outside
#                 Latin-1, and reports "logvol discs full ?" after a few dozen
#                 nodes per image (its free-space accounting, not the image):
#                 so these trees are small and ASCII. Thousands of entries,
#                 16-bit CS0, symlinks and hard links are in win7.iso and in
#                 the ci/udf_writer.py images.
#   sparable.img  mkudffs --media-type=cdrw (type 2 sparable partition map),
#                 populated by udfclient with the udf1xx tree; checked with
#                 udfinfo's counts and udfclient reading it back (7-Zip
#                 cannot open sparable partitions).
#   vat.img       mkudffs --media-type=cdr (virtual partition, VAT, 2.01 form)
#   vat150.img    mkudffs --media-type=cdr --udfrev=1.50 (the UDF 1.50 VAT:
#                 a file entry of type 0 ending in "*UDF Virtual Alloc Tbl")
#   bdr.img       mkudffs --media-type=bdr (UDF 2.50 VAT)
#                 udfclient cannot write through a virtual partition, so
#                 these hold an empty root (udfinfo: 0 files, 1 directory).
#   udf250.img udf260.img
#                 ci/udf_writer.py: UDF 2.50/2.60 with a metadata partition
#                 (mkudffs 2.3 refuses revisions above 2.01 for random-access
#                 media and writes no metadata partition for the write-once
#                 ones). Hard links, setuid/sticky, ICB-embedded data, 3,000
#                 entries, 8- and 16-bit CS0 names, a hidden entry, a deleted
#                 FID in the root, times recorded at UTC+01:00 (tz-*).
#                 Checked with 7z l AND 7z x
#                 (contents, mtimes), since the writer is ours. NAME.map.json
#                 gives byte offsets of structures for tests/udf_corrupt.rs.
#   udfextra.img  the same tree plus what 7-Zip cannot read (it rejects an
#                 image holding a symlink, does not follow allocation extent
#                 descriptors, refuses not-recorded extents): symlinks, a file
#                 whose allocation descriptors continue in AEDs, a sparse
#                 file, a file reached through an indirect entry (strategy
#                 4096). Checked with udfclient (mget; symlink components
#                 decoded and compared) and udfinfo.
#   badmeta.img   udf250's tree with the main metadata file's entry damaged
#                 (reader must use the mirror). 7-Zip reads only the main
#                 metadata file, so its twin udf250.img is listed instead, and
#                 the script checks the twins differ in that one block only.
#   badvds.img    udf201.img with a byte of the main VDS logical volume
#                 descriptor flipped (CRC fails; reader must use the reserve).
#   bigbridge.iso (--big) genisoimage -udf -allow-limited-size: a sparse
#                 4 GiB + 1 MiB file; the ISO 9660 side records the size mod
#                 4 GiB (bigbridge.iso9660-size, read with isoinfo), UDF the
#                 real one.
set -euo pipefail
export LC_ALL=C.UTF-8 TZ=UTC

big=0
args=()
for a in "$@"; do
  if [[ "$a" == "--big" ]]; then big=1; else args+=("$a"); fi
done
out=${args[0]:?usage: ci/udf-fixtures.sh [--big] OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
for tool in genisoimage isoinfo mkudffs udfclient udfinfo 7z python3; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "ci/udf-fixtures.sh: $tool is missing (ci/install-deps.sh installs it)" >&2
    exit 1
  }
done
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d "$out/.work.XXXXXX")
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

# shellcheck source=ci/lib.sh
source "$here/lib.sh" # pattern SEED LEN

# Runs a command quietly; shows its output only when it fails.
quiet() {
  local log="$work/cmd.log"
  if ! "$@" >"$log" 2>&1; then
    echo "ci/udf-fixtures.sh: failed: $*" >&2
    cat "$log" >&2
    exit 1
  fi
}

# ref TREE NAME [--owner0] [--no-mtime]: NAME.ref.jsonl from the tree.
ref() {
  local tree=$1 name=$2
  shift 2
  python3 "$here/tree-manifest.py" "$tree" >"$out/$name.ref.jsonl"
  if (($#)); then
    python3 - "$out/$name.ref.jsonl" "$@" <<'PY'
import json, sys
path, opts = sys.argv[1], sys.argv[2:]
rows = [json.loads(l) for l in open(path, encoding="utf-8") if l.strip()]
with open(path, "w", encoding="utf-8") as f:
    for r in rows:
        if "--owner0" in opts:
            r["uid"] = r["gid"] = 0
        if "--no-mtime" in opts:
            r.pop("mtime", None)
        f.write(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n")
PY
  fi
}

# check7z NAME [flags]: 7-Zip lists what the ref says (see udf-7z-check.py).
check7z() {
  local name=$1 img
  shift
  img="$out/$name.img"
  [[ -e "$img" ]] || img="$out/$name.iso"
  python3 "$here/udf-7z-check.py" "$img" "$out/$name.ref.jsonl" "$out/$name.7z.txt" "$@"
  udfinfo "$img" >"$out/$name.udfinfo.txt" 2>/dev/null || rm -f "$out/$name.udfinfo.txt"
}

stamp() { find "$1" -depth -exec touch -h -d '2024-01-02 03:04:05' {} +; }

if ((big)); then
  t="$work/bigbridge"
  mkdir -p "$t/sources"
  f="$t/sources/install.wim"
  truncate -s $(((4 << 30) + (1 << 20))) "$f"
  printf 'START-OF-HUGE' | dd of="$f" conv=notrunc status=none
  pattern boundary 8192 | dd of="$f" bs=1 seek=$(((4 << 30) - 6144)) conv=notrunc status=none
  printf 'END-OF-HUGE' | dd of="$f" bs=1 seek=$(((4 << 30) + (1 << 20) - 11)) conv=notrunc status=none
  printf 'small\n' >"$t/README.TXT"
  chmod 0444 "$f" "$t/README.TXT"
  chmod 0555 "$t/sources"
  stamp "$t"
  quiet genisoimage -udf -J -iso-level 3 -allow-limited-size -V ISOMOUNT_BIGBRIDGE \
    -o "$out/bigbridge.iso" "$t"
  fallocate --dig-holes "$out/bigbridge.iso" 2>/dev/null || true
  ref "$t" bigbridge --owner0
  # The ISO 9660 side's idea of the size, from an independent reader.
  isoinfo -l -i "$out/bigbridge.iso" | awk '/INSTALL.WIM;1/ {print $5}' >"$out/bigbridge.iso9660-size"
  [[ -s "$out/bigbridge.iso9660-size" ]] || { echo "isoinfo does not list INSTALL.WIM" >&2; exit 1; }
  [[ $(cat "$out/bigbridge.iso9660-size") != $(((4 << 30) + (1 << 20))) ]] || {
    echo "bigbridge.iso: expected a truncated ISO 9660 size" >&2
    exit 1
  }
  check7z bigbridge --mtime
  exit 0
fi

# ---------------------------------------------------------------- win7.iso
t="$work/win7"
mkdir -p "$t"/{boot/fonts,boot/en-US,efi/microsoft/boot/fonts,sources/License/en-US,sources/dlmanifests}
mkdir -p "$t"/{sources/ja-JP,sources/fr-FR,support/dates,upgrade/NetFx}
cat >"$t/README.TXT" <<'EOF'
This disc contains a "UDF" file system and requires an operating system
that supports the ISO-13346 "UDF" file system specification.
EOF
printf '[AutoRun.Amd64]\nopen=setup.exe\nicon=setup.exe,0\n' >"$t/autorun.inf"
pattern bootmgr 383786 >"$t/bootmgr"
pattern bootmgr.efi 65536 >"$t/bootmgr.efi"
pattern setup 100000 >"$t/setup.exe"               # straddles 32 KiB blocks
pattern bcd 262144 >"$t/boot/bcd"
pattern sdi 70001 >"$t/boot/boot.sdi"
pattern etfs 4096 >"$t/boot/etfsboot.com"
pattern chs 3000 >"$t/boot/fonts/chs_boot.ttf"
pattern wgl4 2048 >"$t/boot/fonts/wgl4_boot.ttf"
pattern mui 1234 >"$t/boot/en-US/bootsect.exe.mui"
pattern efibcd 16384 >"$t/efi/microsoft/boot/bcd"
pattern efisys 1474560 >"$t/efi/microsoft/boot/efisys.bin"
pattern segmono 999 >"$t/efi/microsoft/boot/fonts/segmono_boot.ttf"
pattern bootwim $(((1 << 20) + 17)) >"$t/sources/boot.wim"
# install.wim: 300 MiB sparse, markers at the start, across 150 MiB and at the end.
w="$t/sources/install.wim"
truncate -s $((300 << 20)) "$w"
printf 'MSWIM\0\0\0' | dd of="$w" conv=notrunc status=none
pattern wim-middle 8192 | dd of="$w" bs=1 seek=$(((150 << 20) - 4096)) conv=notrunc status=none
printf 'END-OF-WIM' | dd of="$w" bs=1 seek=$(((300 << 20) - 10)) conv=notrunc status=none
printf '{\\rtf1 license}\n' >"$t/sources/License/en-US/license.rtf"
printf 'ja\n' >"$t/sources/ja-JP/セットアップ.txt"     # 16-bit CS0
printf 'fr\n' >"$t/sources/fr-FR/résumé.txt"       # Latin-1: 8-bit CS0 possible
printf 'netfx\n' >"$t/upgrade/NetFx/NetFx_Setup.EXE"
: >"$t/sources/ei.cfg"
for i in $(seq -w 1 3000); do : >"$t/sources/dlmanifests/Microsoft-Windows-Feature-$i.man"; done
printf 'past\n' >"$t/support/dates/y1965.txt"
find "$t" -type f -exec chmod 0444 {} +
find "$t" -type d -exec chmod 0555 {} +
stamp "$t"
# No date after 2038 here: genisoimage records those with a time-zone offset of
# -1440 minutes (its own overflow), which 7-Zip rightly reads as a day later.
touch -d '1965-03-01 08:30:00' "$t/support/dates/y1965.txt"
quiet genisoimage -udf -J -joliet-long -iso-level 3 -V GRMCULFRER_EN_DVD -o "$out/win7.iso" "$t"
quiet python3 "$here/patch-bridge.py" "$out/win7.iso"
fallocate --dig-holes "$out/win7.iso" 2>/dev/null || true   # 300 MiB of zeros: keep them sparse
ref "$t" win7 --owner0
check7z win7 --mtime --extract
# The ISO 9660 and Joliet sides are stubs now, as isoinfo sees them.
for opt in "" -J; do
  listing=$(isoinfo $opt -l -i "$out/win7.iso" | awk 'NF > 8 {print $NF}' | grep -v '^\.\.\?$' || true)
  if [[ $(echo "$listing" | tr -d ' ') != README.TXT* ]] || (($(echo "$listing" | wc -l) != 1)); then
    echo "win7.iso: isoinfo $opt lists more than README.TXT:" >&2
    echo "$listing" >&2
    exit 1
  fi
done

# ------------------------------------------------ mkudffs + udfclient images
u="$work/u"
mkdir -p "$u/nested/a/b/c" "$u/emptydir"
printf 'Hello from isomount\n' >"$u/hello.txt"
: >"$u/empty.bin"
pattern straddle 100000 >"$u/straddle.bin"
pattern blocks $((3 * 32768 + 123)) >"$u/blocks.bin"
pattern onesector 2048 >"$u/sector.bin"
printf 'deep\n' >"$u/nested/a/b/c/deep.txt"
printf 'MiXeD\n' >"$u/MiXeD Case.TXT"
printf 'secret\n' >"$u/readonly.txt"
chmod 0400 "$u/readonly.txt"
chmod 0750 "$u/nested/a"
stamp "$u"

# populate IMAGE LABEL TREE: udfclient puts every top-level entry of TREE.
populate() {
  local img=$1 label=$2 tree=$3 cmds
  cmds="cd 0123456789abcdef$label:$label:$label:$label"$'\n'
  while IFS= read -r -d '' e; do
    cmds+="put \"$(basename "$e")\""$'\n'
  done < <(find "$tree" -mindepth 1 -maxdepth 1 -print0 | sort -z)
  cmds+="quit"$'\n'
  local log="$work/udfclient.log"
  if ! (cd "$tree" && printf '%s' "$cmds" | timeout 120 udfclient -W -b 2048 "$img") >"$log" 2>&1 \
    || grep -q "discs full\|Can't\|rror" "$log"; then
    echo "ci/udf-fixtures.sh: udfclient could not populate $img:" >&2
    cat "$log" >&2
    exit 1
  fi
}

mkudf() { # NAME LABEL BLOCKS mkudffs-args...
  local name=$1 label=$2 blocks=$3
  shift 3
  rm -f "$out/$name.img"
  quiet mkudffs -b 2048 --uuid=0123456789abcdef --label="$label" --vsid="$label" \
    --fsid="$label" --new-file "$@" "$out/$name.img" "$blocks"
}

for rev in 1.02 1.50 2.01; do
  name=udf${rev/./}
  label=ISOMOUNT_U${rev/./}
  mkudf "$name" "$label" 32768 --media-type=hd --udfrev="$rev"
  populate "$out/$name.img" "$label" "$u"
  ref "$u" "$name" --no-mtime
  check7z "$name"
done

# sparable.img: udfclient writes into a sparable partition (a small tree:
# its "discs full" accounting allows little more). It cannot write into a
# virtual partition ("get lbs from virtual partition mapping not implemented
# yet"), so vat.img and bdr.img hold an empty root.
mkudf sparable ISOMOUNT_SPARABLE 32768 --media-type=cdrw
populate "$out/sparable.img" ISOMOUNT_SPARABLE "$u"
ref "$u" sparable --no-mtime
empty="$work/empty"
mkdir -p "$empty"
mkudf vat ISOMOUNT_VAT 32768 --media-type=cdr
mkudf vat150 ISOMOUNT_VAT150 32768 --media-type=cdr --udfrev=1.50
mkudf bdr ISOMOUNT_BDR 32768 --media-type=bdr
ref "$empty" vat
ref "$empty" vat150
ref "$empty" bdr
# 7-Zip opens neither sparable nor virtual partitions ("Unsupported
# feature"): udfinfo (udftools) counts the files and directories, and
# udfclient reads sparable.img's contents back.
for name in sparable vat vat150 bdr; do
  udfinfo "$out/$name.img" >"$out/$name.udfinfo.txt" 2>"$work/udfinfo.err" || {
    cat "$work/udfinfo.err" >&2
    exit 1
  }
  files=$(grep -c '"type": "file"' "$out/$name.ref.jsonl" || true)
  dirs=$(($(grep -c '"type": "dir"' "$out/$name.ref.jsonl" || true) + 1))
  grep -qx "numfiles=$files" "$out/$name.udfinfo.txt" && grep -qx "numdirs=$dirs" "$out/$name.udfinfo.txt" || {
    echo "$name.img: udfinfo does not count $files files and $dirs directories:" >&2
    cat "$out/$name.udfinfo.txt" >&2
    exit 1
  }
done
python3 "$here/udf-udfclient-check.py" "$out/sparable.img" "$out/sparable.ref.jsonl" \
  "0123456789abcdefISOMOUNT_SPARABLE:ISOMOUNT_SPARABLE:ISOMOUNT_SPARABLE:ISOMOUNT_SPARABLE"

# badvds.img: the main VDS logical volume descriptor fails its CRC.
cp "$out/udf201.img" "$out/badvds.img"
quiet python3 "$here/udf_writer.py" --damage-main-lvd "$out/badvds.img"
cp "$out/udf201.ref.jsonl" "$out/badvds.ref.jsonl"
if ! python3 "$here/udf-7z-check.py" "$out/badvds.img" "$out/badvds.ref.jsonl" \
  "$out/badvds.7z.txt" 2>/dev/null; then
  # 7-Zip does not fall back to the reserve VDS: list the undamaged twin.
  check7z badvds --listing-of "$out/udf201.img"
fi

# ------------------------------------------------- ci/udf_writer.py images
# x: what 7-Zip can read back (it rejects symlinks, and neither follows
# allocation extent descriptors nor extracts not-recorded extents).
x="$work/x"
mkdir -p "$x/nested/a/b/c" "$x/emptydir" "$x/many" "$x/Ωmega" "$x/sticky"
printf 'Hello from isomount\n' >"$x/hello.txt"                  # embedded in its ICB
: >"$x/empty.bin"
pattern straddle 100000 >"$x/straddle.bin"
pattern blocks $((3 * 32768 + 123)) >"$x/blocks.bin"
printf 'deep\n' >"$x/nested/a/b/c/deep.txt"
printf 'unicode\n' >"$x/Ωmega/ünïcødé-名前.txt"                 # 16-bit CS0
printf 'latin\n' >"$x/café.txt"                                # 8-bit CS0
printf 'MiXeD\n' >"$x/MiXeD Case.TXT"
for i in $(seq -w 1 3000); do : >"$x/many/entry-$i.txt"; done
printf 'one of many\n' >"$x/many/entry-1500.txt"
printf 'shared bytes\n' >"$x/hard-a.txt"
ln "$x/hard-a.txt" "$x/hard-b.txt"
ln "$x/hard-a.txt" "$x/nested/hard-c.txt"
printf '#!/bin/sh\necho hi\n' >"$x/setuid.sh"
chmod 4755 "$x/setuid.sh"
chown 1000:100 "$x/setuid.sh" 2>/dev/null || true
chmod 1777 "$x/sticky"
printf 'secret\n' >"$x/readonly.txt"
chmod 0400 "$x/readonly.txt"
printf 'future\n' >"$x/y2040.txt"
printf 'past\n' >"$x/y1965.txt"
printf 'hidden\n' >"$x/hidden.txt"          # the writer sets the FID hidden bit
printf 'tz\n' >"$x/tz-plus1.txt"           # the writer records times at UTC+01:00
# xe: the same plus what only udfclient can check.
xe="$work/xe"
cp -a "$x" "$xe"
pattern frag $((300 * 2048 + 77)) >"$xe/frag.bin"               # one extent per block: AEDs
s="$xe/sparse.bin"                                             # holes: not-recorded extents
truncate -s $((4 << 20)) "$s"
printf 'SPARSE-START' | dd of="$s" conv=notrunc status=none
pattern sparse-mid 5000 | dd of="$s" bs=1 seek=$((2 << 20)) conv=notrunc status=none
printf 'SPARSE-END' | dd of="$s" bs=1 seek=$(((4 << 20) - 10)) conv=notrunc status=none
ln -s hello.txt "$xe/rel-link"
ln -s /etc/hostname "$xe/abs-link"
ln -s ../../hello.txt "$xe/nested/a/up-link"
ln -s nested/a "$xe/dir-link"
printf 'via an indirect entry\n' >"$xe/indirect.txt"   # FID -> indirect entry -> EFE
for tree in "$x" "$xe"; do
  find "$tree" -depth ! -name y2040.txt ! -name y1965.txt -exec touch -h -d '2024-01-02 03:04:05' {} +
  touch -d '2040-06-15 12:00:00' "$tree/y2040.txt"
  touch -d '1965-03-01 08:30:00' "$tree/y1965.txt"
done
for rev in 2.50 2.60; do
  name=udf${rev/./}
  quiet python3 "$here/udf_writer.py" --rev "$rev" --label "ISOMOUNT_U${rev/./}" \
    --map "$out/$name.map.json" "$x" "$out/$name.img"
  ref "$x" "$name"
  check7z "$name" --mtime --extract
done
quiet python3 "$here/udf_writer.py" --rev 2.50 --label ISOMOUNT_UDFEXTRA \
  --map "$out/udfextra.map.json" "$xe" "$out/udfextra.img"
ref "$xe" udfextra
python3 "$here/udf-udfclient-check.py" "$out/udfextra.img" "$out/udfextra.ref.jsonl" \
  "0123456789abcdefISOMOUNT_UDFEXTRA:ISOMOUNT_UDFEXTRA:ISOMOUNT_UDFEXTRA:ISOMOUNT_UDFEXTRA" \
  --skip indirect.txt
# indirect.txt: udfclient does not follow indirect entries and 7-Zip refuses
# them, so it is the one entry no independent reader here confirms.
udfinfo "$out/udfextra.img" >"$out/udfextra.udfinfo.txt"

quiet python3 "$here/udf_writer.py" --rev 2.50 --label ISOMOUNT_U250 --damage-main-metadata \
  --map "$out/badmeta.map.json" "$x" "$out/badmeta.img"
ref "$x" badmeta
check7z badmeta --mtime --listing-of "$out/udf250.img"
# The twins differ only in the main metadata file's entry.
diffs=$({ cmp -l "$out/udf250.img" "$out/badmeta.img" || true; } | awk '{print int(($1 - 1) / 2048)}' | sort -u)
want=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["metadata_fe"] // 2048)' \
  "$out/badmeta.map.json")
if [[ "$diffs" != "$want" ]]; then
  echo "badmeta.img differs from udf250.img in blocks $diffs, expected only $want" >&2
  exit 1
fi

echo "udf fixtures: $(cd "$out" && ls ./*.iso ./*.img | tr '\n' ' ')"
