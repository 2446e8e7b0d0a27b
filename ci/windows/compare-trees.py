#!/usr/bin/env python3
"""Compares a tree extracted by the Linux isomount with one extracted by the
Windows isomount (under Wine), for ci/windows.sh.

usage: compare-trees.py LINUX_DIR WINDOWS_DIR WINDOWS_STDERR

Expected differences, and only these:
* names Windows cannot hold are renamed; the Windows run reports each one
  on stderr ("/image/path: saved as "NEW" (not a valid Windows name)"). Every
  rename must follow the rules of src/winname.rs (re-implemented here), and
  every name those rules change must have been reported;
* FIFOs, device nodes and sockets are not created on Windows;
* a symbolic link is either created with the same target (`/` as `\\`) or
  skipped with a warning;
* owners and permission bits are not compared (Windows has neither).
Regular files must have the same bytes and mtime; directories the same mtime.
Prints the renames and every difference; exits 1 on a difference.
"""
import hashlib
import os
import re
import stat
import sys

RESERVED = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"} | {
    f"{d}{n}" for d in ("COM", "LPT") for n in list("123456789") + ["¹", "²", "³"]
}


def safe_name(name: str) -> str:
    s = "".join("_" if (c < " " or c in '<>:"|?*\\') else c for c in name)
    keep = len(s.rstrip(". "))
    s = s[:keep] + "_" * (len(s) - keep)
    base = s.split(".")[0].rstrip(" ")
    if base.upper() in RESERVED:
        s = "_" + s
    return s


def sha(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main() -> int:
    lin, win, errfile = sys.argv[1:4]
    with open(errfile, encoding="utf-8", errors="replace") as f:
        err = f.read()
    renames = dict(re.findall(r'^isomount: warn: (/.*?): saved as "(.*)" \(not a valid Windows name\)$',
                              err, re.M))
    skipped = set(re.findall(r"^isomount: warn: (.*?): (?:symbolic link to .* skipped|FIFO skipped|"
                             r"device node skipped|socket skipped)", err, re.M))
    problems = []
    for ipath, new in sorted(renames.items()):
        old = ipath.rsplit("/", 1)[-1]
        rule = safe_name(old)
        if not (new == rule or re.fullmatch(re.escape(rule) + r"~\d+", new)):
            problems.append(f"{ipath}: renamed to {new!r}, the rules say {rule!r}")
        print(f"  renamed (expected on Windows): {ipath} -> {new}")
    seen_win = set()
    counts = {"files": 0, "dirs": 0, "links": 0, "skipped": 0}
    for dirpath, dirnames, filenames in os.walk(lin):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, lin)
            parts = rel.split(os.sep)
            wparts = []
            for i, p in enumerate(parts):
                ipath = "/" + "/".join(parts[: i + 1])
                if ipath in renames:
                    wparts.append(renames[ipath])
                else:
                    if safe_name(p) != p:
                        problems.append(f"{ipath}: needs a rename on Windows but none was reported")
                    wparts.append(p)
            wfull = os.path.join(win, *wparts)
            wrel = "/".join(wparts)
            st = os.lstat(full)
            try:
                wst = os.lstat(wfull)
            except FileNotFoundError:
                wst = None
            if wst is not None:
                seen_win.add(wrel)
            if stat.S_ISREG(st.st_mode):
                counts["files"] += 1
                if wst is None or not stat.S_ISREG(wst.st_mode):
                    problems.append(f"/{rel}: regular file missing on Windows (as {wrel})")
                    continue
                if sha(full) != sha(wfull):
                    problems.append(f"/{rel}: content differs")
                if int(st.st_mtime) != int(wst.st_mtime):
                    problems.append(f"/{rel}: mtime {int(st.st_mtime)} vs {int(wst.st_mtime)}")
            elif stat.S_ISDIR(st.st_mode):
                counts["dirs"] += 1
                if wst is None or not stat.S_ISDIR(wst.st_mode):
                    problems.append(f"/{rel}: directory missing on Windows (as {wrel})")
                elif int(st.st_mtime) != int(wst.st_mtime):
                    problems.append(f"/{rel}/: mtime {int(st.st_mtime)} vs {int(wst.st_mtime)}")
            elif stat.S_ISLNK(st.st_mode):
                counts["links"] += 1
                target = os.readlink(full)
                if wst is None:
                    if not any(s.endswith(wrel.replace("/", "\\")) or s.endswith(wrel) for s in skipped):
                        problems.append(f"/{rel}: symlink neither created nor reported as skipped")
                    else:
                        counts["skipped"] += 1
                elif stat.S_ISLNK(wst.st_mode):
                    wt = os.readlink(wfull).replace("\\", "/")
                    if wt != target:
                        problems.append(f"/{rel}: symlink target {wt!r} vs {target!r}")
                else:
                    problems.append(f"/{rel}: symlink became something else on Windows")
            else:
                counts["skipped"] += 1
                if wst is not None:
                    problems.append(f"/{rel}: special file should have been skipped on Windows")
    for dirpath, dirnames, filenames in os.walk(win):
        for name in dirnames + filenames:
            rel = os.path.relpath(os.path.join(dirpath, name), win).replace(os.sep, "/")
            if rel not in seen_win:
                problems.append(f"{rel}: only in the Windows tree")
    print(f"  compared {counts['files']} files, {counts['dirs']} directories, "
          f"{counts['links']} symlinks; {counts['skipped']} links/special files skipped on Windows")
    for p in problems:
        print(f"  DIFFERENCE: {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
