#!/usr/bin/env bash
# The performance suite of issue 6: isomount against the tools users have,
# on the same content, in the same run. Run by hand, as root (it mounts loop
# devices and drops the page cache); never part of the test suite.
#
#   bash bench/run.sh            # full size: 1 GiB file, 100k + 20k files
#   bash bench/run.sh --quick    # 128 MiB, 10k + 2k files: a smoke run
#
# Options: --measures m,... (a subset: mount,seq,find,tar,lookup,par4,rand,
#          extract), --reps N (repetitions per cold measurement, median kept; 3),
#          --timeout S (bound per measurement; a peer that does not finish is
#          reported as "timeout"; 120; a run over 30 s is not repeated),
#          --only a,b (tools), --work DIR.
#
# Writes results to WORK/results.tsv, prints the table, and (full size only)
# writes BENCHMARKS.md at the top of the repository.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)

quick=0
reps=3
timeout_s=120
slow_s=30
only=""
fns="m_seq m_find m_tar m_lookup m_par4 m_rand"
mount_ls_on=1
extract_on=1
work=/var/tmp/isomount-bench
while (($#)); do
  case $1 in
    --quick) quick=1 ;;
    --reps) reps=$2; shift ;;
    --timeout) timeout_s=$2; shift ;;
    --only) only=$2; shift ;;
    --measures) # a subset, for working on one number: seq,find,tar,lookup,par4,rand,mount,extract
      fns="" mount_ls_on=0 extract_on=0
      for m in ${2//,/ }; do
        case $m in
          mount) mount_ls_on=1 ;;
          extract) extract_on=1 ;;
          *) fns+=" m_$m" ;;
        esac
      done
      shift ;;
    --work) work=$2; shift ;;
    *) echo "bench/run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

if ((quick)); then
  big_mib=128 small=10000 dirs=20 wide=2000
  work=$work-quick
  ((reps == 3)) && reps=1
else
  big_mib=1024 small=100000 dirs=200 wide=20000
fi

if [[ $(id -u) != 0 ]]; then
  echo "bench/run.sh: needs root (loop devices, drop_caches)" >&2
  exit 2
fi

log() { printf '\n== %s\n' "$*" >&2; }

# --- tools ------------------------------------------------------------------
need=()
have() { command -v "$1" >/dev/null 2>&1; }
have xorriso || need+=(xorriso)
have osirrox || need+=(xorriso)
have genisoimage || need+=(genisoimage)
have fuseiso || need+=(fuseiso)
have squashfuse_ll || need+=(squashfuse)
have archivemount || need+=(archivemount)
have mkfs.erofs || need+=(erofs-utils)
have mksquashfs || need+=(squashfs-tools)
have 7z || need+=(p7zip-full)
have fusermount3 || need+=(fuse3)
have fusermount || need+=(fuse) # fuseiso and archivemount are libfuse2 programs
have python3 || need+=(python3)
if ((${#need[@]})); then
  log "installing ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
fi

log "building isomount (release)"
cargo build --release --locked --manifest-path "$repo/Cargo.toml" -q
isomount=$repo/target/release/isomount

# --- content and images -----------------------------------------------------
mkdir -p "$work"
tree=$work/tree
stamp="$big_mib $small $dirs $wide"
if [[ ! -f $work/tree.stamp || $(cat "$work/tree.stamp") != "$stamp" ]]; then
  log "source tree: ${big_mib} MiB file, $small small files in $dirs dirs, $wide in one dir"
  rm -rf "$tree" "$work"/*.img "$work"/*.iso "$work/tree.stamp"
  python3 "$here/make-tree.py" "$tree" --big-mib "$big_mib" --small "$small" \
    --dirs "$dirs" --wide "$wide"
  echo "$stamp" >"$work/tree.stamp"
fi
if [[ ! -f $work/rr.iso ]]; then
  log "rr.iso: xorriso, Rock Ridge + Joliet"
  xorriso -report_about SORRY -as mkisofs -quiet -R -J -iso-level 3 -V BENCH -o "$work/rr.iso.part" "$tree"
  mv "$work/rr.iso.part" "$work/rr.iso"
fi
if [[ ! -f $work/udf.iso ]]; then
  log "udf.iso: genisoimage -udf bridge"
  genisoimage -quiet -udf -R -J -iso-level 3 -V BENCH -o "$work/udf.iso.part" "$tree"
  mv "$work/udf.iso.part" "$work/udf.iso"
fi
if [[ ! -f $work/sq.img ]]; then
  log "sq.img: mksquashfs, uncompressed"
  mksquashfs "$tree" "$work/sq.img.part" -noI -noD -noF -noX -no-xattrs -quiet >/dev/null
  mv "$work/sq.img.part" "$work/sq.img"
fi
if [[ ! -f $work/erofs.img ]]; then
  log "erofs.img: mkfs.erofs, uncompressed"
  mkfs.erofs --quiet "$work/erofs.img.part" "$tree" >/dev/null
  mv "$work/erofs.img.part" "$work/erofs.img"
fi

# --- mounting ---------------------------------------------------------------
# name|image|mount command (MNT is replaced by the mount point)
tools=(
  "kernel-erofs|erofs.img|mount -t erofs -o loop,ro IMG MNT"
  "isomount-iso|rr.iso|$isomount mount IMG MNT"
  "isomount-udf|udf.iso|$isomount mount IMG MNT"
  "kernel-squashfs|sq.img|mount -t squashfs -o loop,ro IMG MNT"
  "squashfuse_ll|sq.img|squashfuse_ll IMG MNT"
  "fuseiso|rr.iso|fuseiso IMG MNT"
  "archivemount|rr.iso|archivemount -o readonly IMG MNT"
)

mnt=$work/mnt
out=$work/out
mkdir -p "$mnt" "$out"
results=$work/results.tsv
: >"$results"

cleanup() {
  mountpoint -q "$mnt" && umount -l "$mnt" 2>/dev/null || true
  mountpoint -q "$out" && umount -l "$out" 2>/dev/null || true
}
trap cleanup EXIT

now() { date +%s%N; }
# Seconds between two now() readings.
secs() { python3 -c "print(f'{($2 - $1) / 1e9:.6f}')" ; }

# The page cache and the dentry/inode caches dropped, then the backing image
# read back in: "the image warm, the filesystem cold". Last, memory is
# pre-faulted: in a VM whose balloon reports free pages to the host (virtio
# free page reporting), the first touch of a freed page faults into the host,
# which made cold reads vary 4x between runs (1.6 to 6.5 GB/s for kernel
# erofs); touching and freeing more than a measurement allocates leaves the
# pages backed for the next seconds, for every tool alike.
cold() {
  sync
  echo 3 >/proc/sys/vm/drop_caches
  cat "$work/$1" >/dev/null
  prefault
}

prefault() {
  python3 -c '
import sys
n = int(sys.argv[1]) << 20
b = bytearray(n)
b[::4096] = b"\x01" * len(range(0, n, 4096))
' $((big_mib + 1024))
}

do_mount() { # tool-spec
  local spec=$1 image cmd
  image=${spec#*|}; image=${image%%|*}
  cmd=${spec##*|}; cmd=${cmd//IMG/$work/$image}; cmd=${cmd//MNT/$mnt}
  timeout "$timeout_s" $cmd
}

do_umount() {
  local i
  for i in 1 2 3 4 5; do
    mountpoint -q "$mnt" || return 0
    umount "$mnt" 2>/dev/null && return 0
    sleep 0.2
  done
  umount -l "$mnt" || true
}

# The FUSE daemon serving $mnt (empty for a kernel filesystem).
daemon_pid() {
  local p
  for p in $(pgrep -f -- "$mnt" || true); do
    [[ $p == "$$" ]] && continue
    if [[ $(tr '\0' ' ' </proc/$p/cmdline 2>/dev/null) == *"$mnt"* ]]; then
      echo "$p"
      return
    fi
  done
}

record() { # tool measure value unit
  printf '%s\t%s\t%s\t%s\n' "$@" >>"$results"
  printf '   %-16s %-14s %s %s\n' "$@" >&2
}

median() { python3 -c 'import sys,statistics; v=[float(x) for x in sys.argv[1:]]; print(statistics.median(v))' "$@"; }

# Runs measurement function $2 for tool spec $1 `reps` times, each on a fresh
# mount, and records the median. The function prints "value" lines tagged
# "measure value unit"; a run that exceeds the bound records "timeout".
measure() {
  local spec=$1 fn=$2 name=${spec%%|*} image r line
  image=${spec#*|}; image=${image%%|*}
  declare -A vals=() units=()
  for ((r = 0; r < reps; r++)); do
    local t0
    t0=$(date +%s)
    do_umount
    cold "$image"
    if ! do_mount "$spec" >/dev/null 2>"$work/mount.err"; then
      record "$name" "$fn" "mount-failed" "-"
      sed 's/^/   | /' "$work/mount.err" >&2
      return
    fi
    cold "$image"
    local o
    if ! o=$("$fn" "$name"); then
      for m in $(measures_of "$fn"); do
        record "$name" "$m" "timeout" "-"
      done
      do_umount
      return
    fi
    while read -r m v u; do
      [[ -n $m ]] || continue
      vals[$m]+=" $v"
      units[$m]=$u
    done <<<"$o"
    do_umount
    # A slow peer is measured once: repeating would not change the verdict.
    (($(date +%s) - t0 > slow_s)) && break
  done
  for m in "${!vals[@]}"; do
    # shellcheck disable=SC2086
    record "$name" "$m" "$(median ${vals[$m]})" "${units[$m]}"
  done
}

# Each measurement runs against $mnt, freshly mounted and cold, and prints
# "measure value unit" lines; it fails (non-zero) when it runs out of time.
big=$((big_mib << 20))

measures_of() {
  case $1 in
    m_seq) echo seq-cold seq-warm ;;
    m_find) echo find ;;
    m_tar) echo tar-small rss-after-walk ;;
    m_lookup) echo lookup-2000 ;;
    m_par4) echo par4 ;;
    m_rand) echo rand4k ;;
  esac
}

m_seq() {
  local t0 t1 t2
  t0=$(now)
  timeout "$timeout_s" dd if="$mnt/big.bin" of=/dev/null bs=1M status=none || return 1
  t1=$(now)
  timeout "$timeout_s" dd if="$mnt/big.bin" of=/dev/null bs=1M status=none || return 1
  t2=$(now)
  echo "seq-cold $(python3 -c "print($big / (($t1 - $t0) / 1e9) / 1e6)") MB/s"
  echo "seq-warm $(python3 -c "print($big / (($t2 - $t1) / 1e9) / 1e6)") MB/s"
}

m_find() {
  local t0 t1 n
  t0=$(now)
  n=$(timeout "$timeout_s" find "$mnt" -printf '%s\n' | wc -l) || return 1
  t1=$(now)
  [[ $n -ge $((small + wide)) ]] || { echo "find saw $n entries" >&2; return 1; }
  echo "find $(secs "$t0" "$t1") s"
}

m_tar() {
  local t0 t1 n pid rss
  t0=$(now)
  n=$(cd "$mnt" && timeout "$timeout_s" tar cf - small wide | wc -c) || return 1
  t1=$(now)
  echo "tar-small $(secs "$t0" "$t1") s"
  # Then the rest of a full walk (the big file), and the daemon's peak RSS.
  timeout "$timeout_s" cat "$mnt/big.bin" >/dev/null || return 1
  pid=$(daemon_pid)
  if [[ -n $pid ]]; then
    rss=$(awk '/VmHWM/ {print $2 / 1024}' "/proc/$pid/status")
    echo "rss-after-walk $rss MiB"
  fi
}

m_lookup() {
  local t0 t1
  t0=$(now)
  timeout "$timeout_s" python3 - "$mnt/wide" "$wide" <<'EOF' || return 1
import os, random, sys
d, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(1)
for i in rng.sample(range(n), min(n, 2000)):
    os.stat(f"{d}/w{i:05d}")
EOF
  t1=$(now)
  echo "lookup-2000 $(secs "$t0" "$t1") s"
}

m_par4() {
  local t0 t1 q=$((big_mib / 4)) i pids=()
  t0=$(now)
  for i in 0 1 2 3; do
    timeout "$timeout_s" dd if="$mnt/big.bin" of=/dev/null bs=1M skip=$((i * q)) count=$q \
      status=none &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || return 1; done
  t1=$(now)
  echo "par4 $(python3 -c "print($big / (($t1 - $t0) / 1e9) / 1e6)") MB/s"
}

m_rand() {
  timeout "$timeout_s" python3 - "$mnt/big.bin" <<'EOF' || return 1
import os, random, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
size = os.fstat(fd).st_size
rng = random.Random(4)
offs = [rng.randrange(0, size // 4096) * 4096 for _ in range(5000)]
t = time.perf_counter()
for o in offs:
    if len(os.pread(fd, 4096, o)) != 4096:
        sys.exit("short read")
t = time.perf_counter() - t
print(f"rand4k {len(offs) / t:.1f} IOPS")
EOF
}

# Mount + first `ls` of the root, timed from before the mount command.
mount_ls() {
  local spec=$1 name=${1%%|*} image r t0 t1 v=()
  image=${spec#*|}; image=${image%%|*}
  for ((r = 0; r < reps; r++)); do
    do_umount
    cold "$image"
    t0=$(now)
    if ! do_mount "$spec" >/dev/null 2>"$work/mount.err"; then
      record "$name" mount-ls "mount-failed" "-"
      return
    fi
    ls "$mnt" >/dev/null
    t1=$(now)
    v+=("$(secs "$t0" "$t1")")
    do_umount
  done
  record "$name" mount-ls "$(median "${v[@]}")" s
}

# `extract` of the whole image into a tmpfs, against 7z and osirrox.
extract() { # name image command...
  local name=$1 image=$2 t0 t1 r v=()
  shift 2
  for ((r = 0; r < reps; r++)); do
    rm -rf "${out:?}"/*
    cold "$image"
    t0=$(now)
    if ! timeout "$timeout_s" "$@" >/dev/null 2>"$work/extract.err"; then
      record "$name" extract "failed" "-"
      sed 's/^/   | /' "$work/extract.err" | tail -5 >&2
      return
    fi
    t1=$(now)
    v+=("$(secs "$t0" "$t1")")
  done
  # The extraction must be whole: same file count as the source.
  local n
  n=$(find "$out" -type f | wc -l)
  if [[ $n -ne $((small + wide + 1)) ]]; then
    record "$name" extract "incomplete($n)" "-"
    return
  fi
  record "$name" extract "$(median "${v[@]}")" s
  rm -rf "${out:?}"/*
}

selected() { [[ -z $only || ",$only," == *",$1,"* ]]; }

for spec in "${tools[@]}"; do
  name=${spec%%|*}
  selected "$name" || continue
  log "$name"
  ((mount_ls_on)) && mount_ls "$spec"
  for fn in $fns; do
    measure "$spec" "$fn"
  done
done

if ((extract_on)); then
log "extract"
mount -t tmpfs -o size=$((big_mib * 2 + 2048))m tmpfs "$out"
selected isomount-iso && extract isomount-iso rr.iso "$isomount" extract "$work/rr.iso" -C "$out"
selected isomount-udf && extract isomount-udf udf.iso "$isomount" extract "$work/udf.iso" -C "$out"
selected 7z && extract 7z rr.iso 7z x -y -o"$out" "$work/rr.iso"
selected osirrox && extract osirrox rr.iso osirrox -indev "$work/rr.iso" -extract / "$out"
umount "$out"
fi

args=(--results "$results" --scale "$stamp" --reps "$reps" --timeout "$timeout_s")
((quick)) || args+=(--write "$repo/BENCHMARKS.md")
python3 "$here/report.py" "${args[@]}"
