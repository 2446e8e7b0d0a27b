#!/usr/bin/env bash
# The Debian package on a clean system: a throwaway Debian root made with
# mmdebstrap from the mirror this machine's apt uses, the package installed
# there by apt (so that its Depends must bring in fuse3), its files checked,
# an image mounted from an fstab (`mount -T`, through mount.fuse3), read back
# byte for byte, unmounted, and the package purged.
#
# Needs root, /dev/fuse, mmdebstrap, xorriso and unshare (ci/install-deps.sh).
# Everything lives in one temporary directory, removed at the end; the
# mounts are made in a private mount namespace (unshare), so even a killed
# run leaves nothing mounted on the host, and the trap unmounts and checks
# anyway. Nothing is installed on the host except cargo-deb (ci/deb.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "ci/deb-test.sh: $*" >&2; }
die() {
  log "FAILED: $*"
  exit 1
}

# Mount points under $1, deepest first (findmnt's raw output escapes spaces
# and the like; the temporary directory has none).
mounts_under() {
  findmnt -rn -o TARGET | awk -v p="$1" 'index($0, p) == 1' | sort -r
}

if [[ ${1:-} == --inner ]]; then
  # ---- In the private mount namespace: mount, install, test, purge. ----
  work=$2
  deb=$3
  root=$work/root
  tree=$work/tree
  ch() { env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 chroot "$root" "$@"; }

  inner_cleanup() {
    local rc=$?
    set +e
    # Servers still running in the root (only those this test started can be
    # there): stop them, by pid.
    for p in /proc/[0-9]*; do
      if [[ $(readlink "$p/root" 2>/dev/null) == "$root" ]]; then
        log "stopping leftover process ${p#/proc/} ($(tr '\0' ' ' <"$p/cmdline"))"
        kill "${p#/proc/}" 2>/dev/null
      fi
    done
    for m in $(mounts_under "$root"); do
      umount "$m" 2>/dev/null || umount -l "$m"
    done
    if [[ -n $(mounts_under "$root") ]]; then
      log "still mounted under $root:"
      mounts_under "$root" >&2
      rc=1
    fi
    exit "$rc"
  }
  trap inner_cleanup EXIT
  # Nothing mounted here propagates back to the host's namespace.
  mount --make-rprivate /

  mount -t proc proc "$root/proc"
  mount -t sysfs sysfs "$root/sys"
  mount --bind /dev "$root/dev" # /dev/fuse included
  mount --bind /dev/pts "$root/dev/pts" # apt's terminal log
  [[ -c $root/dev/fuse ]] || die "no /dev/fuse in the root"

  ch dpkg-query -W fuse3 >/dev/null 2>&1 && die "fuse3 is in the base system: the Depends test proves nothing"
  cp "$deb" "$root/tmp/"
  log "apt-get install ./$(basename "$deb") in the clean root"
  ch apt-get install -y --no-install-recommends "/tmp/$(basename "$deb")" >&2
  rm "$root/tmp/$(basename "$deb")"

  # Depends brought the FUSE tools.
  ch dpkg-query -W -f '${Status}\n' fuse3 | grep -qx 'install ok installed' || die "fuse3 was not installed"
  ch test -x /sbin/mount.fuse3 || die "no mount.fuse3"
  ch dpkg-query -W -f '${Depends}\n' isomount | grep -qw fuse3 || die "isomount does not depend on fuse3"

  # The files.
  version=$(ch isomount --version)
  log "installed: $version"
  [[ $version == "isomount $(dpkg-deb -f "$deb" Version | sed 's/-[^-]*$//')" ]] || die "isomount --version says $version"
  ch man -w isomount | grep -qx /usr/share/man/man1/isomount.1.gz || die "man -w isomount"
  ch man -w isomount-mount | grep -qx /usr/share/man/man1/isomount-mount.1.gz || die "man -w isomount-mount"
  ch env MANWIDTH=80 man isomount 2>&1 | grep -q 'fuse.isomount' || die "man isomount does not render"
  for sub in $(ch isomount --help | awk '/^Commands:/{c=1; next} c && /^  [a-z]/{print $1} c && !/^ /{c=0}'); do
    [[ $sub == help ]] && continue
    ch test -f "/usr/share/man/man1/isomount-$sub.1.gz" || die "no man page for isomount $sub"
  done
  ch test -f /usr/share/bash-completion/completions/isomount || die "no bash completion"
  ch bash --norc -c 'source /usr/share/bash-completion/completions/isomount && complete -p isomount' >/dev/null ||
    die "the bash completion does not register"
  ch test -f /usr/share/zsh/vendor-completions/_isomount || die "no zsh completion"
  ch test -f /usr/share/fish/vendor_completions.d/isomount.fish || die "no fish completion"
  ch desktop-file-validate /usr/share/applications/isomount.desktop || die "desktop-file-validate"
  # dpkg's file triggers ran the caches' updaters (no maintainer scripts).
  grep -q 'isomount.desktop' "$root/usr/share/applications/mimeinfo.cache" ||
    die "update-desktop-database did not run (no isomount.desktop in mimeinfo.cache)"
  grep -qx 'application/x-nrg' "$root/usr/share/mime/types" ||
    die "update-mime-database did not run (no application/x-nrg in /usr/share/mime/types)"
  ch test -f /usr/share/doc/isomount/copyright || die "no copyright file"

  # Mount from an fstab (not /etc/fstab: a test one, given to mount -T).
  cp "$work/test.iso" "$root/srv/test.iso"
  mkdir -p "$root/mnt/test"
  printf '%s\n' \
    '# isomount deb test' \
    '/srv/test.iso /mnt/test fuse.isomount ro,allow_other,nofail,x-systemd.automount,uid=1000,gid=1000 0 0' \
    >"$root/root/fstab.test"
  log "mount -T /root/fstab.test /mnt/test (in the root)"
  ch mount -T /root/fstab.test /mnt/test || die "mount from the fstab failed"
  fstype=$(ch findmnt -n -o FSTYPE /mnt/test) || die "findmnt: /mnt/test is not mounted"
  [[ $fstype == fuse.isomount ]] || die "/mnt/test is $fstype, not fuse.isomount"
  source=$(ch findmnt -n -o SOURCE /mnt/test)
  [[ $source == /srv/test.iso ]] || die "source shows as $source"
  log "mounted: $(ch findmnt -n -o SOURCE,TARGET,FSTYPE,OPTIONS /mnt/test)"
  diff -r "$tree" "$root/mnt/test" >&2 || die "the mounted tree differs from the one the image was made from"
  (cd "$tree" && find . -type f -print0 | sort -z | xargs -0 sha256sum) >"$work/want.sha256"
  ch sh -c 'cd /mnt/test && find . -type f -print0 | sort -z | xargs -0 sha256sum' >"$work/got.sha256"
  cmp "$work/want.sha256" "$work/got.sha256" || die "checksums differ"
  [[ -s $work/got.sha256 ]] || die "no files read"
  log "$(wc -l <"$work/got.sha256") files read back identical"
  for f in /mnt/test /mnt/test/hello.txt "/mnt/test/sub dir/big.bin"; do
    owner=$(ch stat -c %u:%g "$f")
    [[ $owner == 1000:1000 ]] || die "$f is owned by $owner, not 1000:1000 (uid=, gid=)"
  done
  # allow_other: another user reads it too.
  ch setpriv --reuid=1000 --regid=1000 --clear-groups cat /mnt/test/hello.txt | cmp - "$tree/hello.txt" ||
    die "user 1000 cannot read through allow_other"
  ch mount | grep -q ' /mnt/test type fuse.isomount (ro' || die "the mount is not read-only: $(ch mount | grep /mnt/test)"

  log "umount /mnt/test"
  ch umount /mnt/test || die "umount"
  [[ -z $(ch findmnt -n /mnt/test) ]] || die "still mounted after umount"
  # The server exits once the mount is gone.
  for _ in $(seq 50); do
    servers=$(for p in /proc/[0-9]*; do [[ $(readlink "$p/root" 2>/dev/null) == "$root" ]] && echo "${p#/proc/}"; done || true)
    [[ -z $servers ]] && break
    sleep 0.1
  done
  [[ -z $servers ]] || die "isomount server(s) $servers still running after umount"

  log "apt-get purge isomount"
  ch apt-get purge -y isomount >&2
  ch dpkg-query -W isomount >/dev/null 2>&1 && die "isomount still known to dpkg after purge"
  for f in /usr/bin/isomount /usr/share/man/man1/isomount.1.gz /usr/share/applications/isomount.desktop \
    /usr/share/mime/packages/isomount.xml /usr/share/bash-completion/completions/isomount \
    /usr/share/zsh/vendor-completions/_isomount /usr/share/fish/vendor_completions.d/isomount.fish \
    /usr/share/doc/isomount; do
    [[ -e $root$f ]] && die "$f is left after purge"
  done
  grep -q 'isomount.desktop' "$root/usr/share/applications/mimeinfo.cache" && die "mimeinfo.cache still names isomount.desktop"
  grep -qx 'application/x-nrg' "$root/usr/share/mime/types" && die "the MIME database still has application/x-nrg"
  log "all checks passed in the root"
  exit 0
fi

# ---- Outside: build, make the root and the image, run the inner part. ----
[[ $(id -u) == 0 ]] || die "needs root (chroot, mounts)"
[[ -c /dev/fuse ]] || die "needs /dev/fuse"
for tool in mmdebstrap xorriso unshare findmnt; do
  command -v "$tool" >/dev/null || die "$tool is missing: run ci/install-deps.sh"
done

start=$SECONDS
deb=$(bash ci/deb.sh | tail -n1)
deb=$(realpath "$deb")
log "package: $deb ($((SECONDS - start)) s)"

work=$(mktemp -d /tmp/isomount-deb-test.XXXXXX)
cleanup() {
  local rc=$?
  set +e
  local left
  left=$(mounts_under "$work")
  if [[ -n $left ]]; then
    log "unmounting what is left under $work:"
    echo "$left" >&2
    for m in $left; do umount "$m" 2>/dev/null || umount -l "$m"; done
  fi
  if [[ -n $(mounts_under "$work") ]]; then
    log "FAILED: still mounted under $work; not removing it"
    mounts_under "$work" >&2
    exit 1
  fi
  # --one-file-system: never into anything mounted, whatever happened.
  rm -rf --one-file-system "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The mirror and suite this machine's apt uses (its Debian entries only).
codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
apt-get indextargets --format '$(ORIGIN)|deb $(REPO_URI) $(RELEASE) $(COMPONENT)' 'Identifier: Packages' |
  sed -n 's/^Debian|//p' | sort -u >"$work/sources.list"
if [[ ! -s $work/sources.list ]]; then
  echo "deb http://deb.debian.org/debian $codename main" >"$work/sources.list"
fi
log "mirror: $(tr '\n' ';' <"$work/sources.list")"

# A clean Debian: apt and the essential packages, plus man-db and the
# desktop/MIME cache tools whose dpkg triggers the package relies on.
t=$SECONDS
mmdebstrap --quiet --variant=apt --skip=cleanup/apt/lists \
  --include=man-db,desktop-file-utils,shared-mime-info \
  "$codename" "$work/root" - <"$work/sources.list" >&2
log "mmdebstrap: $((SECONDS - t)) s"

# The image: a tree with a few kinds of files, Rock Ridge and Joliet.
tree=$work/tree
mkdir -p "$tree/sub dir/deeper"
echo "hello from the isomount package test" >"$tree/hello.txt"
head -c 3000000 /dev/urandom >"$tree/sub dir/big.bin"
printf 'x%.0s' $(seq 2048) >"$tree/sub dir/deeper/exactly-2048"
: >"$tree/empty"
xorriso -as mkisofs -quiet -R -J -V DEBTEST -o "$work/test.iso" "$tree" >&2

unshare --mount --propagation private -- bash "$0" --inner "$work" "$deb"
log "passed ($((SECONDS - start)) s in all)"
