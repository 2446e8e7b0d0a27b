#!/usr/bin/env python3
"""Checks a UDF image with 7-Zip, a reader that is not ours, against the
expected listing of its source tree (NAME.ref.jsonl from tree-manifest.py).

usage: udf-7z-check.py IMAGE REF OUT_7Z_TXT [--mtime] [--extract] [--listing-of OTHER_IMAGE]

- `7z l -slt -tudf IMAGE` is saved to OUT_7Z_TXT (the tests compare our
  listing with it) and must list exactly the paths of REF, directories as
  folders, regular files with their sizes (and, with --mtime, modification
  times to the second). Symbolic links are listed by 7-Zip as files holding
  the UDF path components, so only their presence is checked.
- --extract: `7z x -tudf` the image and compare every regular file's SHA-256.
- --listing-of OTHER: list OTHER instead of IMAGE (for damaged images that
  7-Zip cannot read, whose undamaged twin is checked instead; the caller
  checks that the twins differ only where the damage is).
Quiet on success; prints every difference and exits 1 otherwise.
"""
import datetime
import hashlib
import json
import os
import subprocess
import sys
import tempfile


def parse_slt(text):
    """Entries of `7z l -slt` output: list of dicts, the archive header skipped."""
    body = text.split("\n----------\n", 1)
    if len(body) != 2:
        return []
    out, cur = [], {}
    for line in body[1].splitlines():
        if not line.strip():
            if cur:
                out.append(cur)
                cur = {}
            continue
        if " = " in line:
            k, v = line.split(" = ", 1)
            cur[k] = v
        elif line.endswith(" ="):
            cur[line[:-2]] = ""
    if cur:
        out.append(cur)
    return out


def main():
    args = sys.argv[1:]
    image, ref_path, out_txt = args[:3]
    flags = args[3:]
    listed = image
    if "--listing-of" in flags:
        listed = flags[flags.index("--listing-of") + 1]
    env = dict(os.environ, TZ="UTC", LC_ALL="C.UTF-8")
    run = subprocess.run(
        ["7z", "l", "-slt", "-tudf", listed], capture_output=True, env=env, check=False
    )
    text = run.stdout.decode("utf-8", "replace")
    if run.returncode != 0:
        sys.exit(f"7z l -tudf {listed} failed ({run.returncode}):\n{text}{run.stderr.decode()}")
    with open(out_txt, "w", encoding="utf-8") as f:
        f.write(text)
    ref = {}
    with open(ref_path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                ref[row["path"]] = row
    seen = {}
    for e in parse_slt(text):
        seen[e["Path"]] = e
    problems = []
    for path, row in ref.items():
        e = seen.get(path)
        if e is None:
            problems.append(f"7z does not list {path}")
            continue
        folder = e.get("Folder") == "+"
        if (row["type"] == "dir") != folder:
            problems.append(f"{path}: 7z Folder={e.get('Folder')}, ref type {row['type']}")
        if row["type"] == "file" and e.get("Size") != str(row["size"]):
            problems.append(f"{path}: 7z size {e.get('Size')}, ref {row['size']}")
        if "--mtime" in flags and row["type"] in ("file", "dir") and e.get("Modified"):
            t = datetime.datetime.strptime(e["Modified"][:19], "%Y-%m-%d %H:%M:%S")
            secs = int(t.replace(tzinfo=datetime.timezone.utc).timestamp())
            if secs != row["mtime"]:
                problems.append(f"{path}: 7z mtime {e['Modified']} ({secs}), ref {row['mtime']}")
    for path in seen:
        if path not in ref:
            problems.append(f"7z lists {path}, not in the source tree")
    if "--extract" in flags and not problems:
        with tempfile.TemporaryDirectory() as tmp:
            x = subprocess.run(
                ["7z", "x", "-tudf", "-y", f"-o{tmp}", listed],
                capture_output=True,
                env=env,
                check=False,
            )
            if x.returncode != 0:
                problems.append(f"7z x failed: {x.stdout.decode()}{x.stderr.decode()}")
            for path, row in ref.items():
                if row["type"] != "file" or x.returncode != 0:
                    continue
                h = hashlib.sha256()
                try:
                    with open(os.path.join(tmp, path), "rb") as f:
                        for chunk in iter(lambda: f.read(1 << 20), b""):
                            h.update(chunk)
                except OSError as err:
                    problems.append(f"{path}: not extracted by 7z ({err})")
                    continue
                if h.hexdigest() != row["sha256"]:
                    problems.append(f"{path}: 7z extracts different bytes")
    if problems:
        print(f"udf-7z-check: {image} disagrees with 7-Zip:", file=sys.stderr)
        for p in problems:
            print("  " + p, file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
