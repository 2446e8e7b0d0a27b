#!/usr/bin/env python3
"""Writes the expected listing of a source tree as JSON Lines, sorted by path.

The same shape as ../shared/corpus/*.ref.jsonl: `path` (relative, no leading
slash), `type` (file/dir/symlink/other), `size` and `sha256` for files,
`target` for symlinks, `mode` (permission bits, decimal), `mtime` (seconds).
Fixture manifests add `uid`, `gid`, `rdev` ([major, minor]) for device nodes,
`kind` for "other" (fifo/char/block/socket), and `link_group` (the first path,
in sorted order, of a set of hard links) so tests can check that hard links
share an inode. Tests compare the keys a manifest has and ignore the rest.

usage: tree-manifest.py TREE [--exclude-specials] > out.jsonl
"""
import hashlib
import json
import os
import stat
import sys


def main() -> None:
    root = sys.argv[1]
    rows = []
    by_inode = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root)
            st = os.lstat(full)
            row = {
                "path": rel,
                "mode": stat.S_IMODE(st.st_mode),
                "mtime": int(st.st_mtime),
                "uid": st.st_uid,
                "gid": st.st_gid,
            }
            if stat.S_ISDIR(st.st_mode):
                row["type"] = "dir"
            elif stat.S_ISREG(st.st_mode):
                row["type"] = "file"
                row["size"] = st.st_size
                h = hashlib.sha256()
                with open(full, "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        h.update(chunk)
                row["sha256"] = h.hexdigest()
                if st.st_nlink > 1:
                    by_inode.setdefault((st.st_dev, st.st_ino), []).append(row)
            elif stat.S_ISLNK(st.st_mode):
                row["type"] = "symlink"
                row["target"] = os.readlink(full)
            else:
                row["type"] = "other"
                if stat.S_ISFIFO(st.st_mode):
                    row["kind"] = "fifo"
                elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                    row["kind"] = "char" if stat.S_ISCHR(st.st_mode) else "block"
                    row["rdev"] = [os.major(st.st_rdev), os.minor(st.st_rdev)]
                else:
                    row["kind"] = "socket"
            rows.append(row)
    for group in by_inode.values():
        first = min(r["path"] for r in group)
        for r in group:
            r["link_group"] = first
    rows.sort(key=lambda r: r["path"])
    for r in rows:
        print(json.dumps(r, sort_keys=True, ensure_ascii=False))


if __name__ == "__main__":
    main()
