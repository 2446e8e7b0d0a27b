#!/usr/bin/env bash
# The remote-image benchmark of issue 10: listing and reading a
# Windows-10-shaped UDF image over HTTP with isomount, against what a user
# would do instead (curl then open; httpdirfs or rclone mount with 7-Zip on
# top). Run by hand, as root (FUSE mounts, apt); never part of the test suite.
#
#   bash bench/remote.sh            # ~5 GB image: install.wim 2.4 GB, install2.swm 2 GB
#   bash bench/remote.sh --quick    # ~1.1 GB image: install.wim 600 MB
#
# Options: --work DIR (default /var/tmp/isomount-bench-remote[-quick]; the
#          image is built there once and kept), --reps N (runs per cheap
#          measure, median kept; 3), --timeout S (bound per peer run; 300),
#          --delays "0 20" (added round-trip ms), --port P (nginx; 18480),
#          --no-report (do not write bench/REMOTE.md).
#
# Bytes moved are counted on the server: nginx logs $body_bytes_sent per
# request. Added latency: `tc netem` where the kernel has it is probed, but
# the delay is added by bench/delay-proxy.py (a delaying TCP proxy on
# loopback) in every case, so that runs compare across machines.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)

quick=0 reps=3 timeout_s=300 delays="0 20" port=18480 report=1 work=""
while (($#)); do
  case $1 in
    --quick) quick=1 ;;
    --work) work=$2; shift ;;
    --reps) reps=$2; shift ;;
    --timeout) timeout_s=$2; shift ;;
    --delays) delays=$2; shift ;;
    --port) port=$2; shift ;;
    --no-report) report=0 ;;
    *) echo "bench/remote.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
if ((quick)); then
  wim_mib=600 swm_mib=200 small_max=1048576 work=${work:-/var/tmp/isomount-bench-remote-quick}
else
  wim_mib=2400 swm_mib=2000 small_max=5242880 work=${work:-/var/tmp/isomount-bench-remote}
fi
boot_mib=145
mkdir -p "$work"
work=$(cd "$work" && pwd)

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$repo/target}
iso_bin=$CARGO_TARGET_DIR/release/isomount
export RCLONE_CONFIG=$work/rclone.conf   # never the user's config
export XDG_CACHE_HOME=$work/xdg-cache    # never ~/.cache, whatever a tool does

log() { printf '[remote.sh %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

# ---------------------------------------------------------------- tools
need=()
command -v genisoimage >/dev/null || need+=(genisoimage)
command -v 7z >/dev/null || need+=(p7zip-full)
command -v httpdirfs >/dev/null || need+=(httpdirfs)
command -v rclone >/dev/null || need+=(rclone)
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || need+=(nginx-light)
command -v fusermount3 >/dev/null || need+=(fuse3)
command -v curl >/dev/null || need+=(curl)
if ((${#need[@]})); then
  log "installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
if [[ ! -x $iso_bin ]]; then
  log "building isomount (release)"
  (cd "$repo" && cargo build --release --locked)
fi

# ---------------------------------------------------------------- cleanup
pids=() mounts=()
cleanup() {
  local m p
  for m in "${mounts[@]}"; do
    mountpoint -q "$m" 2>/dev/null && { umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; }
  done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  if [[ -f $work/nginx.pid ]]; then
    kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
    rm -f "$work/nginx.pid"
  fi
  rm -f "$work/download.iso"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- image
iso=$work/www/win10.iso
if [[ ! -s $iso || ! -f $work/image.done ]]; then
  log "building the tree and the image in $work (once)"
  rm -rf "$work/tree" "$work/www" "$work/image.done"
  mkdir -p "$work/tree/sources" "$work/www"
  t=$work/tree
  truncate -s "${wim_mib}M" "$t/sources/install.wim"
  truncate -s "${swm_mib}M" "$t/sources/install2.swm"
  head -c "$((boot_mib * 1024 * 1024))" /dev/urandom > "$t/sources/boot.wim"
  # ~1,000 files of 1 KB .. small_max, log-uniform, spread like install media;
  # 4 KiB of random bytes each, the rest sparse.
  python3 - "$t" "$small_max" <<'EOF'
import math, os, random, sys
root, top = sys.argv[1], int(sys.argv[2])
rng = random.Random(10)
dirs = {"boot": 60, "boot/fonts": 40, "boot/resources": 10, "efi/boot": 5,
        "efi/microsoft/boot": 80, "efi/microsoft/boot/fonts": 40,
        "efi/microsoft/boot/resources": 10, "sources": 500, "sources/dlmanifests": 60,
        "sources/replacementmanifests": 60, "sources/en-us": 80, "support/logging": 20,
        "support/adprep": 30}
n = 0
for d, count in dirs.items():
    os.makedirs(os.path.join(root, d), exist_ok=True)
    for i in range(count):
        size = int(math.exp(rng.uniform(math.log(1024), math.log(top))))
        ext = rng.choice([".dll", ".mui", ".xml", ".inf", ".cat", ".man", ".ttf", ".dat"])
        with open(os.path.join(root, d, f"file{i:04d}{ext}"), "wb") as f:
            f.write(os.urandom(min(size, 4096)))
            f.truncate(size)
        n += 1
for name, size in (("bootmgr", 400_000), ("bootmgr.efi", 1_400_000), ("setup.exe", 80_000),
                   ("autorun.inf", 128)):
    with open(os.path.join(root, name), "wb") as f:
        f.write(os.urandom(size))
    n += 1
print(n, "small files")
EOF
  log "genisoimage -udf (UDF + Joliet bridge)"
  genisoimage -quiet -udf -allow-limited-size -iso-level 3 -J -V CCCOMA_X64FRE_EN-US_DV9 \
    -o "$iso.tmp" "$t"
  mv "$iso.tmp" "$iso"
  touch "$work/image.done"
fi
iso_size=$(stat -c %s "$iso")
wim_size=$(stat -c %s "$work/tree/sources/install.wim")
boot_size=$(stat -c %s "$work/tree/sources/boot.wim")
entries=$(find "$work/tree" | wc -l)
seven_l=$(7z l -tudf "$iso" 2>&1)
grep -q "install.wim" <<<"$seven_l" || { echo "7z l -tudf does not list install.wim" >&2; exit 1; }
grep -E "[[:space:]]${wim_size}[[:space:]].*install\.wim" <<<"$seven_l" >/dev/null \
  || { echo "7z l -tudf: install.wim is not $wim_size bytes" >&2; exit 1; }
log "image: $iso_size bytes, $entries entries in the tree; 7z lists install.wim at $wim_size bytes"

# ---------------------------------------------------------------- nginx
mkdir -p "$work/nginx-tmp"
cat > "$work/nginx.conf" <<EOF
daemon on;
user root;
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 1024; }
http {
  log_format bench '\$msec \$request_method \$status \$body_bytes_sent "\$http_range" \$request_time';
  access_log $work/access.log bench;
  client_body_temp_path $work/nginx-tmp/body;
  proxy_temp_path $work/nginx-tmp/proxy;
  fastcgi_temp_path $work/nginx-tmp/fastcgi;
  uwsgi_temp_path $work/nginx-tmp/uwsgi;
  scgi_temp_path $work/nginx-tmp/scgi;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  keepalive_timeout 120s;
  types { application/octet-stream iso; }
  server {
    listen 127.0.0.1:$port;
    root $work/www;
    autoindex on;
  }
}
EOF
: > "$work/access.log"
"$nginx_bin" -c "$work/nginx.conf" -e "$work/nginx-error.log"
for _ in $(seq 50); do curl -sf -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done

# ---------------------------------------------------------------- latency
netem=no
if ip netns add isomount-bench-probe 2>/dev/null; then
  if ip -n isomount-bench-probe link add pa type veth peer name pb 2>/dev/null \
    && ip netns exec isomount-bench-probe tc qdisc add dev pa root netem delay 10ms 2>/dev/null; then
    netem=yes
  fi
  ip netns del isomount-bench-probe 2>/dev/null || true
fi
log "tc netem available: $netem; delays are added by bench/delay-proxy.py either way"

declare -A url_of
for d in $delays; do
  if ((d == 0)); then
    url_of[$d]=http://127.0.0.1:$port
  else
    pp=$((port + d))
    python3 "$here/delay-proxy.py" "$pp" "$port" "$d" &
    pids+=($!)
    url_of[$d]=http://127.0.0.1:$pp
    for _ in $(seq 50); do curl -sf -o /dev/null "${url_of[$d]}/" && break; sleep 0.1; done
  fi
done

# ---------------------------------------------------------------- measuring
res=$work/results.tsv
printf 'tool\tmeasure\tdelay_ms\ttime_s\tbytes\trequests\tpayload\truns\tstatus\n' > "$res"

now() { date +%s.%N; }
mark() { wc -l < "$work/access.log"; }
moved_since() { # -> "bytes requests"
  tail -n +"$(($1 + 1))" "$work/access.log" | awk '{b += $4; n++} END {printf "%.0f %.0f\n", b, n}' # mawk's print and %d lose digits past 2^31
}
median() { sort -g | awk '{a[NR] = $0} END {print a[int((NR + 1) / 2)]}'; }

# run_measure TOOL MEASURE DELAY PAYLOAD RUNS -- COMMAND...
# Times COMMAND (bounded by timeout_s), RUNS times, and records the median
# time with the bytes and requests nginx served during that run.
run_measure() {
  local tool=$1 measure=$2 d=$3 payload=$4 runs=$5
  shift 6
  local i m t0 t1 rc times=() lines=() status=ok
  for ((i = 0; i < runs; i++)); do
    sync
    m=$(mark)
    t0=$(now)
    rc=0
    timeout "$timeout_s" bash -c "$*" > /dev/null 2>> "$work/errors.log" || rc=$?
    t1=$(now)
    sleep 0.3 # let nginx write the log lines of connections the tool just closed
    if ((rc == 124)); then status=timeout; fi
    if ((rc != 0 && rc != 124)); then status="exit $rc"; fi
    times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}')")
    lines+=("${times[-1]} $(moved_since "$m")")
    [[ $status == ok ]] || break
  done
  local med
  med=$(printf '%s\n' "${times[@]}" | median)
  local row
  row=$(printf '%s\n' "${lines[@]}" | awk -v t="$med" '$1 == t {print; exit}')
  read -r t b n <<<"$row"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$tool" "$measure" "$d" "$t" "$b" "$n" \
    "$payload" "${#times[@]}" "$status" >> "$res"
  log "$(printf '%-10s %-34s %3s ms  %8.2f s  %12s B  %6s req  %s' "$tool" "$measure" "$d" "$t" "$b" "$n" "$status")"
}

mnt=$work/mnt
mkdir -p "$mnt"
mounts+=("$mnt")
wait_mounted() {
  local i
  for i in $(seq 100); do mountpoint -q "$mnt" && return 0; sleep 0.1; done
  return 1
}
unmount() {
  local i
  for i in 1 2 3 4 5; do
    mountpoint -q "$mnt" || return 0
    umount "$mnt" 2>/dev/null || fusermount3 -u "$mnt" 2>/dev/null || true
    sleep 0.3
  done
  umount -l "$mnt" 2>/dev/null || true
}
stop_pid() {
  local p=$1 i
  kill "$p" 2>/dev/null || return 0
  for i in $(seq 50); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$p" 2>/dev/null || true
}

I=$iso_bin
for d in $delays; do
  u=${url_of[$d]}/win10.iso
  log "---- $d ms added round trip: $u"

  # The reference: curl fetching the whole image.
  run_measure curl "whole image" "$d" "$iso_size" "$reps" -- \
    "curl -sf -o /dev/null '$u'"
  # What a user would do without remote support: download, then open.
  run_measure curl+isomount "download, then ls -R the file" "$d" 0 1 -- \
    "curl -sf -o '$work/download.iso' '$u' && '$I' ls -R '$work/download.iso'"
  rm -f "$work/download.iso"

  # isomount straight from the URL.
  run_measure isomount "ls -R URL" "$d" 0 "$reps" -- \
    "'$I' --no-disk-cache ls -R '$u'"
  run_measure isomount "cat install.wim (no disk cache)" "$d" "$wim_size" "$reps" -- \
    "'$I' --no-disk-cache cat '$u' /sources/install.wim"
  rm -rf "$work/cache"
  run_measure isomount "cat boot.wim, 1st (empty cache)" "$d" "$boot_size" 1 -- \
    "'$I' --cache-dir '$work/cache' cat '$u' /sources/boot.wim"
  run_measure isomount "cat boot.wim, 2nd process" "$d" "$boot_size" 1 -- \
    "'$I' --cache-dir '$work/cache' cat '$u' /sources/boot.wim"
  rm -rf "$work/cache"
  # The same read with 8 MiB requests: how much of the gap to curl is per-request cost.
  run_measure isomount "cat install.wim, --chunk-size 8M" "$d" "$wim_size" "$reps" -- \
    "'$I' --no-disk-cache --chunk-size 8M cat '$u' /sources/install.wim"

  # isomount mount: find, then read boot.wim through the mount.
  "$I" --no-disk-cache mount "$u" "$mnt" 2>> "$work/errors.log" && wait_mounted
  run_measure "isomount mount" "find MNT" "$d" 0 1 -- "find '$mnt' | wc -l"
  run_measure "isomount mount" "read boot.wim" "$d" "$boot_size" 1 -- \
    "cat '$mnt/sources/boot.wim'"
  unmount

  # httpdirfs (no cache) with 7-Zip on top. --no-range-check: httpdirfs 1.2.5
  # wants Accept-Ranges on the 206 answer to its probe, which nginx does not
  # send (httpdirfs issue 188); nginx does serve ranges.
  httpdirfs -f --no-range-check "${url_of[$d]}/" "$mnt" > "$work/httpdirfs.log" 2>&1 &
  hp=$!
  pids+=("$hp")
  if wait_mounted; then
    run_measure "httpdirfs+7z" "7z l -tudf" "$d" 0 1 -- "7z l -tudf '$mnt/win10.iso'"
    run_measure "httpdirfs+7z" "7z x -so install.wim" "$d" "$wim_size" 1 -- \
      "7z x -tudf -so '$mnt/win10.iso' sources/install.wim"
  else
    log "httpdirfs did not mount; see $work/httpdirfs.log"
  fi
  unmount
  stop_pid "$hp"

  # rclone mount (no VFS cache) with 7-Zip on top.
  rclone mount :http: "$mnt" --http-url "${url_of[$d]}/" --read-only --vfs-cache-mode off \
    > "$work/rclone.log" 2>&1 &
  rp=$!
  pids+=("$rp")
  if wait_mounted; then
    run_measure "rclone+7z" "7z l -tudf" "$d" 0 1 -- "7z l -tudf '$mnt/win10.iso'"
    run_measure "rclone+7z" "7z x -so install.wim" "$d" "$wim_size" 1 -- \
      "7z x -tudf -so '$mnt/win10.iso' sources/install.wim"
  else
    log "rclone did not mount; see $work/rclone.log"
  fi
  unmount
  stop_pid "$rp"
done

# ---------------------------------------------------------------- report
versions=$(
  printf 'isomount %s (%s)\n' "$("$I" --version | awk '{print $2}')" "$(cd "$repo" && git rev-parse --short HEAD)"
  dpkg-query -W -f '${Package} ${Version}\n' curl nginx-light httpdirfs rclone p7zip-full genisoimage 2>/dev/null
)
args=(--results "$res" --image-size "$iso_size" --wim-size "$wim_size" --boot-size "$boot_size"
  --entries "$entries" --netem "$netem" --versions "$versions" --timeout "$timeout_s")
((quick)) && args+=(--quick)
if ((report)); then args+=(--out "$here/REMOTE.md"); fi
python3 "$here/remote-report.py" "${args[@]}"
