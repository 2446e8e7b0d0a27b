#!/usr/bin/env bash
# Makes fs-core/tests/data/doc.iso, the image the fs-core crate docs, its
# examples and fs-core/tests/doc_image.rs open, from the committed tree
# fs-core/tests/data/doc-tree, with an independent writer (xorriso).
#
#   ci/make-doc-image.sh            # rewrite fs-core/tests/data/doc.iso
#   ci/make-doc-image.sh OUT.iso    # write it somewhere else
#   ci/make-doc-image.sh --check    # rebuild in a temp dir, compare with the committed one
#
# The image is meant to be byte-for-byte reproducible with one xorriso
# version (1.5.4 made the committed one): the tree is copied and every date
# set to $epoch (git does not keep mtimes), SOURCE_DATE_EPOCH fixes the
# volume dates and the volume UUID, and -r (Rock Ridge with "rationalized"
# attributes: uid/gid 0, write bits cleared) keeps the checkout's umask and
# owner out of it. Another xorriso version may lay the image out otherwise
# and --check will say so; the contents stay the same, and
# fs-core/tests/doc_image.rs checks contents, not bytes.
#
# Options: -r -J: Rock Ridge (IEEE P1282) and Joliet on the ECMA-119 tree, so
# the image has three views; -no-pad: no 300 KiB of trailing zeros (the image
# is 36 sectors, 72 KiB).
set -euo pipefail
export LC_ALL=C TZ=UTC

root=$(cd "$(dirname "$0")/.." && pwd)
tree=$root/fs-core/tests/data/doc-tree
committed=$root/fs-core/tests/data/doc.iso
epoch=1704164645 # 2024-01-02T03:04:05Z

check=0
out=$committed
case "${1:-}" in
  --check) check=1 ;;
  "") ;;
  *) out=$1 ;;
esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -R "$tree" "$work/tree"
find "$work/tree" -exec touch -h -d "@$epoch" {} +

build_image() {
  SOURCE_DATE_EPOCH=$epoch xorriso -as mkisofs -quiet \
    -r -J -V FSCORE_DOC -publisher "isomount fs-core documentation" \
    -no-pad -o "$1" "$work/tree"
}

if ((check)); then
  build_image "$work/doc.iso"
  if cmp -s "$work/doc.iso" "$committed"; then
    echo "doc.iso is up to date"
  else
    echo "doc.iso differs from what $(xorriso -version 2>/dev/null | head -1) makes of doc-tree" >&2
    exit 1
  fi
else
  build_image "$out"
  echo "wrote $out ($(stat -c %s "$out") bytes)"
fi
