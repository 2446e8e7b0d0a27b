#!/usr/bin/env bash
# Installs what the tests and the demo need on a fresh Debian/Ubuntu machine:
# the independent image writers and readers the tests compare against, FUSE
# user-space tools, and the Rust components for fmt/clippy. Does nothing for
# what is already there.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1; }
have xorriso || need+=(xorriso)
have genisoimage || need+=(genisoimage)
have isoinfo || need+=(genisoimage)
have bsdtar || need+=(libarchive-tools)
have fusermount3 || need+=(fuse3)
have python3 || need+=(python3)
have kill || need+=(procps)
have pkg-config || need+=(pkg-config)
have mkudffs || need+=(udftools)
have udfinfo || need+=(udftools)
have udfclient || need+=(udfclient)
have 7z || need+=(p7zip-full)
have npm || need+=(npm) # tests/cso_zisofs.rs: npm's maxcso package cross-checks CSO/ZSO
python3 -c 'import lz4.block' 2>/dev/null || need+=(python3-lz4) # ci/make_cso.py
have bchunk || need+=(bchunk)
have ccd2iso || need+=(ccd2iso)
have nrg2iso || need+=(nrg2iso)
have mdf2iso || need+=(mdf2iso)
have iat || need+=(iat)
# tests/os_integration.rs: the desktop double-click chain and mount(8)
have desktop-file-validate || need+=(desktop-file-utils)
have update-mime-database || need+=(shared-mime-info)
have xdg-open || need+=(xdg-utils)
have gio || need+=(libglib2.0-bin)
have unshare || need+=(util-linux)
have findmnt || need+=(util-linux)
have systemd-analyze || need+=(systemd) # the example units are verified, not run
# tests/manual.rs: the generated completion scripts run in the real shells,
# the man pages go through groff and man.
have zsh || need+=(zsh)
have fish || need+=(fish)
have groff || need+=(groff-base)
have man || need+=(man-db)
# ci/deb.sh: cargo-deb's $auto Depends; ci/deb-test.sh: the throwaway root.
have dpkg-shlibdeps || need+=(dpkg-dev)
have mmdebstrap || need+=(mmdebstrap)
# Remote images (fs-core/tests/remote_fetchers.rs, tests/remote.rs, both
# through fs-core/tests/support/servers.rs): a real HTTP server run by the
# tests with their own config, a self-signed certificate for it, and
# python3-venv for moto (below).
[[ -x /usr/sbin/nginx ]] || have nginx || need+=(nginx-light)
have openssl || need+=(openssl)
/usr/bin/python3 -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
# isomount serve and re-export (tests/serve*.rs, tests/reexport.rs): the real
# clients a network install uses (curl, wget -r, tftp-hpa and atftp) and a
# Samba server re-exporting a mount, checked with smbclient.
have curl || need+=(curl)
have wget || need+=(wget)
have tftp || need+=(tftp-hpa)
have atftp || need+=(atftp)
[[ -x /usr/sbin/smbd ]] || have smbd || need+=(samba)
have smbclient || need+=(smbclient)

if ((${#need[@]})); then
  sudo=()
  if [[ $(id -u) != 0 ]]; then sudo=(sudo); fi
  echo "ci/install-deps.sh: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update
  "${sudo[@]}" apt-get install -y --no-install-recommends "${need[@]}"
fi

if have rustup; then
  rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
fi

# The S3 server of the remote tests (moto, from PyPI) in its own venv: never
# in the system python's site-packages.
moto_venv=${ISOMOUNT_MOTO_VENV:-/opt/isomount-moto}
if [[ ! -x $moto_venv/bin/moto_server ]]; then
  sudo=()
  if [[ $(id -u) != 0 && ! -w $(dirname "$moto_venv") ]]; then sudo=(sudo); fi
  echo "ci/install-deps.sh: moto into $moto_venv"
  "${sudo[@]}" /usr/bin/python3 -m venv "$moto_venv"
  "${sudo[@]}" "$moto_venv/bin/pip" install --quiet --disable-pip-version-check 'moto[server]==5.2.5'
fi
