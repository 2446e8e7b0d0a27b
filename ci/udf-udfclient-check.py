#!/usr/bin/env python3
"""Checks a UDF image with udfclient (NetBSD's UDF code, independent of ours
and of 7-Zip) against the expected listing of its source tree. Used for the
writer image 7-Zip cannot open: 7-Zip rejects the whole image when it meets
a symbolic link (file type 12) and does not follow allocation extent
descriptors or read not-recorded extents.

usage: udf-udfclient-check.py IMAGE REF VOLUME_DIR [--skip PATH]...

VOLUME_DIR is udfclient's name for the volume ("VSID:VID:LVID:FSID").
udfclient `mget`s the whole volume; every ASCII-named entry of REF must come
out: directories as directories, regular files with the same SHA-256,
symbolic links as files holding the UDF path components (ECMA-167 4/14.16,
udfclient does not interpret them), decoded here and compared with the
target. udfclient mangles non-ASCII names and does not extract entries
marked hidden, so those paths are skipped, and so is every --skip PATH
(the caller says why).
Quiet on success; prints every difference and exits 1 otherwise.
"""
import hashlib
import json
import os
import subprocess
import sys
import tempfile


def decode_components(raw):
    parts, root, pos = [], False, 0
    while pos + 4 <= len(raw):
        kind, n = raw[pos], raw[pos + 1]
        ident = raw[pos + 4 : pos + 4 + n]
        pos += 4 + n
        # ECMA-167 table 4/14.16.1.1: 1 (no identifier) and 2 the root,
        # 3 the parent, 4 the current directory, 5 a name.
        if kind in (1, 2):
            root = True
        elif kind == 3:
            parts.append("..")
        elif kind == 4:
            parts.append(".")
        elif kind == 5:
            if ident[:1] == b"\x08":
                parts.append(ident[1:].decode("latin-1"))
            else:
                parts.append(ident[1:].decode("utf-16-be"))
    return ("/" if root else "") + "/".join(parts)


def main():
    image, ref_path, voldir = sys.argv[1:4]
    rest = sys.argv[4:]
    skip = {rest[i + 1] for i in range(len(rest) - 1) if rest[i] == "--skip"}
    ref = [json.loads(l) for l in open(ref_path, encoding="utf-8") if l.strip()]
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        cmds = f'cd "{voldir}"\nlcd "{tmp}"\nmget .\nquit\n'
        run = subprocess.run(
            ["timeout", "300", "udfclient", "-b", "2048", os.path.abspath(image)],
            input=cmds.encode(),
            capture_output=True,
            cwd=tmp,
            check=False,
        )
        if run.returncode != 0:
            sys.exit(f"udfclient failed on {image}:\n{run.stdout.decode()}{run.stderr.decode()}")
        checked = 0
        for row in ref:
            path = row["path"]
            name = path.rsplit("/", 1)[-1]
            if not path.isascii() or name.startswith("hidden") or path in skip:
                continue
            full = os.path.join(tmp, path)
            if row["type"] == "dir":
                if not os.path.isdir(full):
                    problems.append(f"{path}: udfclient did not extract the directory")
            elif row["type"] == "file":
                try:
                    with open(full, "rb") as f:
                        digest = hashlib.sha256(f.read()).hexdigest()
                except OSError as err:
                    problems.append(f"{path}: not extracted by udfclient ({err})")
                    continue
                if digest != row["sha256"]:
                    problems.append(f"{path}: udfclient extracts different bytes")
            elif row["type"] == "symlink":
                try:
                    with open(full, "rb") as f:
                        target = decode_components(f.read())
                except OSError as err:
                    problems.append(f"{path}: symlink not extracted by udfclient ({err})")
                    continue
                if target != row["target"]:
                    problems.append(f"{path}: symlink target {target!r}, ref {row['target']!r}")
            checked += 1
        if checked == 0:
            problems.append("nothing checked")
    if problems:
        print(f"udf-udfclient-check: {image} disagrees with udfclient:", file=sys.stderr)
        for p in problems:
            print("  " + p, file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
