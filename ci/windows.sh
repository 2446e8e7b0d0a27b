#!/usr/bin/env bash
# The Windows build, made and tested from Linux:
#
#  1. installs what it needs if missing (mingw-w64, Wine, the fixture tools,
#     the Rust target x86_64-pc-windows-gnu);
#  2. cargo check, clippy -D warnings and rustdoc for the Windows target;
#  3. a release cross-build of isomount.exe (WinFsp delay-loaded);
#  4. the unit tests of winfsp-backend and of the CLI, run under Wine;
#  5. isomount.exe under Wine against the same fixture images as the Linux
#     tests (ci/fixtures.sh, the GRUB rescue image) plus winnames.iso (names
#     Windows cannot hold), compared BYTE FOR BYTE with the Linux build:
#     info --json, ls -R --json, ls -l -R, stat --json, the content of every
#     file, and extract (trees compared by ci/windows/compare-trees.py; the
#     only accepted differences are listed there);
#  6. mount and open: without WinFsp they must say where to get it (with a
#     drive letter, with none = the next free one, with `*`); a drive in use,
#     -o and a missing image are refused before WinFsp is looked for; with a
#     stand-in WinFsp install (the DLL winfsp-sys ships, a registry
#     InstallDir) they must load the DLL from there and get as far as
#     FspFileSystemCreate, which fails under Wine with STATUS_NO_SUCH_DEVICE
#     (Wine has no WinFsp driver). A real mount needs Windows:
#     ci/windows/windows-runner.ps1;
#  7. packaging/windows/install.cmd and uninstall.cmd (Explorer's "Mount
#     with isomount" verb) run by Wine's cmd against the Wine registry.
#
# Exits non-zero on any difference, printing it. Usage: bash ci/windows.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
T=x86_64-pc-windows-gnu
started=$(date +%s)

need=()
have() { command -v "$1" >/dev/null 2>&1; }
have x86_64-w64-mingw32-gcc || need+=(gcc-mingw-w64-x86-64)
have x86_64-w64-mingw32-dlltool || need+=(binutils-mingw-w64-x86-64)
have wine || need+=(wine wine64)
have xorriso || need+=(xorriso)
have genisoimage || need+=(genisoimage)
have python3 || need+=(python3)
if ((${#need[@]})); then
  sudo=()
  if [[ $(id -u) != 0 ]]; then sudo=(sudo); fi
  echo "ci/windows.sh: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update
  # With recommends: the verified install (../shared/notes/backends.md) used them.
  "${sudo[@]}" apt-get install -y "${need[@]}"
fi
rustup target list --installed | grep -qx "$T" || rustup target add "$T"

work=$(mktemp -d /tmp/isomount-windows.XXXXXX)
export WINEPREFIX="$work/wineprefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
# Wine turns the command line into UTF-16 with the locale's charset.
export LANG=C.UTF-8 LC_ALL=C.UTF-8 TZ=UTC
cleanup() {
  wineserver -k >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n== %s (%ss)\n' "$*" "$(($(date +%s) - started))"; }
fail=0
compared=0
problem() { echo "DIFFERENCE: $*"; fail=1; }

step "cargo check --target $T"
# fuse-backend is Linux-only (its crate is empty elsewhere, but fuser is not
# buildable for Windows), so it is left out of the Windows workspace.
cargo check --locked --target "$T" --workspace --exclude fuse-backend

step "clippy -D warnings for $T"
# Every target; the integration tests that build Unix trees or mount with
# FUSE are `#![cfg(unix)]` and compile to nothing here.
cargo clippy --locked --target "$T" --workspace --exclude fuse-backend --all-targets -- -D warnings

step "rustdoc for $T"
RUSTDOCFLAGS="-D warnings" cargo doc --locked --target "$T" -p winfsp-backend --no-deps

step "release build for $T"
cargo build --locked --release --target "$T" --bin isomount
exe="$root/target/$T/release/isomount.exe"
ls -l "$exe"
if x86_64-w64-mingw32-objdump -p "$exe" | grep -q 'DLL Name: winfsp-x64.dll'; then
  problem "isomount.exe imports winfsp-x64.dll directly (it must be delay-loaded)"
fi
# GNU ld leaves the PE Delay Import Directory entry empty; the descriptor
# and its thunks are there all the same (the stand-in mount below proves
# they load the DLL), so look for the DLL's name in the image.
grep -qa 'winfsp-x64.dll' "$exe" || problem "isomount.exe has no delay-load entry for winfsp-x64.dll"

step "Wine prefix"
wineboot --init >/dev/null 2>&1
wineserver -w
x86_64-w64-mingw32-gcc -O2 -shared -o "$work/bcryptprimitives.dll" ci/windows/bcryptprimitives.c -ladvapi32
cp "$work/bcryptprimitives.dll" "$WINEPREFIX/drive_c/windows/system32/"

step "unit tests under Wine"
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=wine
cargo test --locked --target "$T" -p winfsp-backend --lib --tests
cargo test --locked --target "$T" -p isomount --bin isomount
unset CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER

step "Linux build to compare with"
cargo build --locked --bin isomount
lin="$root/target/debug/isomount"

step "fixtures"
fix="$work/fix"
bash ci/fixtures.sh "$fix"
cp tests/corpus/grub-rescue-cdrom.iso "$fix/"
# Names Windows cannot hold (Rock Ridge keeps them): extract must rename them.
wn="$work/winnames"
mkdir -p "$wn/dir:colon" "$wn/COM1"
for n in CON aux.txt 'a:b' a_b 'trail.' 'space ' 'q?x' README readme nul.tar.gz 'lt<gt>' 'pipe|star*' \
  'dir:colon/inner.txt' COM1/x.txt; do
  printf '%s\n' "$n" > "$wn/$n"
done
find "$wn" -depth -exec touch -d '2024-01-02 03:04:05' {} +
xorriso -as mkisofs -quiet -R -V WINNAMES -o "$fix/winnames.iso" "$wn"

# Runs one command with both builds; stdout and exit codes must be equal.
# Usage: both NAME ARGS...  (outputs kept in $out/NAME.{lin,win}.{out,err})
out="$work/out"
mkdir -p "$out"
both() {
  local name=$1
  shift
  local lrc=0 wrc=0
  compared=$((compared + 1))
  (cd "$fix" && "$lin" "$@") >"$out/$name.lin.out" 2>"$out/$name.lin.err" || lrc=$?
  (cd "$fix" && wine "$exe" "$@") >"$out/$name.win.out" 2>"$out/$name.win.err" || wrc=$?
  if [[ $lrc != "$wrc" ]]; then
    problem "$name: exit code Linux $lrc, Windows $wrc"
    sed 's/^/  win stderr: /' "$out/$name.win.err" | head -5
  fi
  if ! cmp -s "$out/$name.lin.out" "$out/$name.win.out"; then
    problem "$name: standard output differs (Linux < > Windows)"
    diff "$out/$name.lin.out" "$out/$name.win.out" | head -20 || true
  fi
  # Standard error too, minus what only names local paths.
  if ! cmp -s "$out/$name.lin.err" "$out/$name.win.err"; then
    problem "$name: standard error differs (Linux < > Windows)"
    diff "$out/$name.lin.err" "$out/$name.win.err" | head -20 || true
  fi
}

for img in rr geniso joliet plain grub-rescue-cdrom winnames; do
  iso="$img.iso"
  step "compare $iso"
  both "$img.info" info --json "$iso"
  both "$img.info-text" info "$iso"
  both "$img.ls-json" ls -R --json "$iso"
  both "$img.ls-long" ls -l -R "$iso"
  # stat of the root and of up to 8 entries of each type.
  mapfile -t paths < <(python3 - "$out/$img.ls-json.lin.out" <<'PY'
import json, sys, collections
rows = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
by = collections.defaultdict(list)
for r in rows:
    by[r["type"]].append(r["path"])
for t in sorted(by):
    for p in by[t][:8]:
        print(p)
PY
)
  both "$img.stat-root" stat --json "$iso" /
  i=0
  for p in "${paths[@]}"; do
    i=$((i + 1))
    both "$img.stat-$i" stat --json "$iso" "$p"
  done
  # Every regular file in one cat (split by size below, to name a differing file).
  mapfile -t files < <(python3 - "$out/$img.ls-json.lin.out" <<'PY'
import json, sys
for l in open(sys.argv[1], encoding="utf-8"):
    r = json.loads(l)
    if r["type"] == "file":
        print(r["path"])
PY
)
  if ((${#files[@]})); then
    both "$img.cat" cat "$iso" "${files[@]}"
    if ! cmp -s "$out/$img.cat.lin.out" "$out/$img.cat.win.out"; then
      python3 - "$out/$img.ls-json.lin.out" "$out/$img.cat.lin.out" "$out/$img.cat.win.out" <<'PY'
import hashlib, json, sys
rows = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
a, b = open(sys.argv[2], "rb").read(), open(sys.argv[3], "rb").read()
off = 0
for r in rows:
    if r["type"] != "file":
        continue
    n = r["size"]
    ha, hb = hashlib.sha256(a[off:off + n]).hexdigest(), hashlib.sha256(b[off:off + n]).hexdigest()
    if ha != hb:
        print(f"  cat {r['path']}: sha256 {ha} (Linux) vs {hb} (Windows)")
    off += n
PY
    fi
    echo "cat: ${#files[@]} files, $(wc -c <"$out/$img.cat.lin.out") bytes, sha256 $(sha256sum <"$out/$img.cat.win.out" | cut -c1-16)..."
  fi
  # extract: trees compared (names Windows cannot hold are expected to differ).
  mkdir -p "$work/x/$img"
  lx="$work/x/$img/lin"
  wx="$work/x/$img/win"
  lrc=0 wrc=0
  "$lin" extract "$fix/$iso" -C "$lx" 2>"$out/$img.extract.lin.err" || lrc=$?
  (cd "$work/x/$img" && wine "$exe" extract "$fix/$iso" -C win) 2>"$out/$img.extract.win.err" || wrc=$?
  [[ $lrc == 0 ]] || { problem "$img: Linux extract failed ($lrc)"; cat "$out/$img.extract.lin.err"; }
  [[ $wrc == 0 ]] || { problem "$img: Windows extract failed ($wrc)"; cat "$out/$img.extract.win.err"; }
  python3 ci/windows/compare-trees.py "$lx" "$wx" "$out/$img.extract.win.err" || fail=1
done

step "mount under Wine"
# Runs isomount.exe in $fix; must fail (rc != 0) with a line matching $2 on
# stderr and nothing on stdout (the mount point is printed only once mounted).
# Usage: must_fail NAME REGEX ARGS...
must_fail() {
  local name=$1 want=$2 rc=0
  shift 2
  (cd "$fix" && timeout 60 wine "$exe" "$@") >"$out/$name.out" 2>"$out/$name.err" || rc=$?
  sed "s/^/  $name: /" "$out/$name.err"
  if [[ $rc == 0 ]] || ! grep -q -- "$want" "$out/$name.err"; then
    problem "$name (isomount $*): expected rc != 0 and /$want/ on stderr, got rc $rc"
  fi
  if [[ -s $out/$name.out ]]; then
    problem "$name (isomount $*): printed on stdout: $(head -c 200 "$out/$name.out")"
  fi
}
# No WinFsp: a clear message that says where to get it, whatever the mount
# point (none = the next free drive letter), and for `open` too.
notinst='WinFsp is not installed.*https://winfsp.dev/rel/'
must_fail mount1 "$notinst" mount rr.iso X:
must_fail mount-next "$notinst" mount rr.iso
must_fail mount-star "$notinst" mount rr.iso '*'
must_fail open-noopen "$notinst" open rr.iso --no-open
must_fail open "$notinst" open rr.iso
# Explorer's bare "Open with" runs `isomount.exe IMAGE`: taken as open.
must_fail bare-open "$notinst" rr.iso
# The image options of -o are taken (and reach the WinFsp check).
must_fail mount-o-view "$notinst" mount rr.iso -o ro,view=joliet
# Checked before WinFsp is looked for: a drive in use (Wine has C:), -o,
# a missing image.
must_fail mount-c 'drive C: is in use' mount rr.iso C:
must_fail mount-o 'on Windows only view=, session=, cache_size=, no_boot_dir' mount rr.iso -o allow_other
must_fail mount-o-bad '-o view=hfs:' mount rr.iso -o view=hfs
must_fail open-missing 'cannot open image' open missing.iso --no-open
rc=0
wine "$exe" open --help >"$out/open-help.out" 2>&1 || rc=$?
if [[ $rc != 0 ]] || ! grep -q -- '--no-open' "$out/open-help.out"; then
  problem "open --help: rc $rc, or no --no-open in it; it printed:"
  sed 's/^/    /' "$out/open-help.out" | head -60
fi
# A stand-in install: the DLL that winfsp-sys ships, found via the registry.
dll=$(find "${CARGO_HOME:-$HOME/.cargo}/registry/src" -path '*winfsp-sys-0.12.1*/winfsp/bin/winfsp-x64.dll' | head -1)
if [[ -n $dll ]]; then
  dir="$WINEPREFIX/drive_c/Program Files (x86)/WinFsp/bin"
  mkdir -p "$dir"
  cp "$dll" "$dir/"
  wine reg add 'HKLM\SOFTWARE\WOW6432Node\WinFsp' /v InstallDir /t REG_SZ \
    /d 'C:\Program Files (x86)\WinFsp\' /f >/dev/null 2>&1
  # FspFileSystemCreate fails before any mount point is tried.
  must_fail mount2 STATUS_NO_SUCH_DEVICE mount rr.iso X:
  must_fail mount2-next STATUS_NO_SUCH_DEVICE mount rr.iso
  must_fail open2 STATUS_NO_SUCH_DEVICE open rr.iso --no-open
else
  echo "winfsp-sys' winfsp-x64.dll not found in the cargo registry: stand-in mount check skipped"
fi
rc=0
wine "$exe" umount X: >/dev/null 2>"$out/umount.err" || rc=$?
grep -q 'Ctrl-C' "$out/umount.err" || problem "umount on Windows: expected the Ctrl-C advice"

step "Explorer integration (packaging/windows)"
# install.cmd into a folder whose name needs the care it takes (spaces,
# parentheses, &), run from there as a double-click would; then the
# registry must hold the verb for every type, and uninstall.cmd remove it.
inst="$WINEPREFIX/drive_c/Program Files (x86)/iso & mount"
mkdir -p "$inst"
cp "$exe" packaging/windows/install.cmd packaging/windows/uninstall.cmd "$inst/"
winexe='C:\Program Files (x86)\iso & mount\isomount.exe'
want="\"$winexe\" open \"%1\""
rc=0
(cd "$inst" && wine cmd /c install.cmd) >"$out/install.out" 2>&1 || rc=$?
cat "$out/install.out"
[[ $rc == 0 ]] || problem "install.cmd: rc $rc"
classes='HKCU\Software\Classes'
# The (Default) value of a key, from `reg query KEY /ve`.
regdefault() {
  wine reg query "$1" /ve 2>/dev/null | tr -d '\r' | sed -n 's/^ *(Default) *REG_SZ *//p'
}
for ext in iso img bin cue nrg mdf mds ccd cso zso; do
  key="$classes\\SystemFileAssociations\\.$ext\\shell\\isomount"
  got=$(regdefault "$key\\command")
  [[ $got == "$want" ]] || problem "install.cmd: .$ext command is [$got], want [$want]"
  got=$(regdefault "$key")
  [[ $got == 'Mount with isomount' ]] || problem "install.cmd: .$ext verb text is [$got]"
done
got=$(regdefault "$classes\\Applications\\isomount.exe\\shell\\open\\command")
[[ $got == "$want" ]] || problem "install.cmd: Applications\\isomount.exe command is [$got], want [$want]"
wine reg query "$classes\\Applications\\isomount.exe\\SupportedTypes" /v .cso >/dev/null 2>&1 ||
  problem "install.cmd: .cso not in SupportedTypes"
echo "registered: $(regdefault "$classes\\SystemFileAssociations\\.iso\\shell\\isomount\\command")"
rc=0
(cd "$inst" && wine cmd /c uninstall.cmd) >"$out/uninstall.out" 2>&1 || rc=$?
[[ $rc == 0 ]] || problem "uninstall.cmd: rc $rc"
for key in "SystemFileAssociations\\.iso\\shell\\isomount" "SystemFileAssociations\\.zso\\shell\\isomount" \
  "Applications\\isomount.exe"; do
  if wine reg query "$classes\\$key" >/dev/null 2>&1; then problem "uninstall.cmd left $key"; fi
done
# Without the exe: an error, and nothing written.
rc=0
(cd "$work" && wine cmd /c "$(winepath -w "$root/packaging/windows/install.cmd")" 'C:\nowhere\isomount.exe') \
  >"$out/install-missing.out" 2>&1 || rc=$?
[[ $rc != 0 ]] || problem "install.cmd with a missing isomount.exe: rc 0"
grep -q 'not found' "$out/install-missing.out" ||
  problem "install.cmd with a missing isomount.exe: no 'not found' in: $(head -c 600 "$out/install-missing.out")"
if wine reg query "$classes\\Applications\\isomount.exe" >/dev/null 2>&1; then
  problem "install.cmd with a missing isomount.exe wrote to the registry"
fi

step "done"
if ((fail)); then
  echo "ci/windows.sh: DIFFERENCES FOUND (see above)"
  exit 1
fi
echo "ci/windows.sh: Windows build checked, Wine unit tests passed; $compared commands gave the same" \
  "stdout, stderr and exit code as the Linux build; extracted trees match ($(($(date +%s) - started)) s)"
