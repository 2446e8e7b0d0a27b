#!/usr/bin/env python3
"""Table and REMOTE.md for bench/remote.sh, from its results.tsv."""
import argparse
import csv
import os
import platform

MIB = 1024 * 1024


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            mem = "%.0f GiB" % (int(f.readline().split()[1]) / MIB)
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs ({cpu}), {mem} RAM, Linux {platform.release()}"


def fmt_bytes(b):
    if b >= 10 * MIB:
        return f"{b / MIB:,.0f} MiB"
    if b >= MIB:
        return f"{b / MIB:.2f} MiB"
    if b >= 1024:
        return f"{b / 1024:,.0f} KiB"
    return f"{b} B"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--image-size", type=int, required=True)
    ap.add_argument("--wim-size", type=int, required=True)
    ap.add_argument("--boot-size", type=int, required=True)
    ap.add_argument("--entries", type=int, required=True)
    ap.add_argument("--netem", default="no")
    ap.add_argument("--versions", default="")
    ap.add_argument("--timeout", default="300")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out")
    a = ap.parse_args()

    rows = list(csv.DictReader(open(a.results), delimiter="\t"))
    for r in rows:
        r["t"] = float(r["time_s"])
        r["b"] = int(float(r["bytes"]))  # older runs: mawk printed %.6g
        r["n"] = int(r["requests"])
        r["p"] = int(r["payload"])
        r["ok"] = r["status"] == "ok"
        r["mbs"] = r["p"] / r["t"] / 1e6 if r["p"] and r["ok"] and r["t"] > 0 else None
        # A read cut by the timeout: the rate it had reached (bytes served / time).
        r["partial"] = r["b"] / r["t"] / 1e6 if r["p"] and r["status"] == "timeout" else None

    def find(tool, measure, d):
        for r in rows:
            if r["tool"] == tool and r["measure"] == measure and r["delay_ms"] == d:
                return r
        return None

    head = "| tool | measure | added RTT | time | bytes moved | requests | MB/s | vs curl |"
    lines = [head, "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        d = r["delay_ms"]
        curl = find("curl", "whole image", d)
        dl = find("curl+isomount", "download, then ls -R the file", d)
        vs = ""
        from_cache = r["p"] and r["b"] < r["p"] / 10
        if r["mbs"] and curl and curl["mbs"] and r is not curl and not from_cache:
            vs = f"{r['mbs'] / curl['mbs']:.2f}× MB/s"
        elif not r["p"] and dl and dl["ok"] and r["ok"] and r is not dl:
            vs = f"{r['t'] / dl['t']:.3f}× time"
        t = f"{r['t']:.2f} s" if r["ok"] else f"{r['status']} ({r['t']:.0f} s)"
        mbs = f"{r['mbs']:.0f}" if r["mbs"] else ""
        if r["partial"] is not None:
            mbs = f"≤ {r['partial']:.1f} (cut)"
        runs = f" (median of {r['runs']})" if int(r["runs"]) > 1 else ""
        lines.append(f"| {r['tool']} | {r['measure']}{runs} | {d} ms | {t} | {fmt_bytes(r['b'])} "
                     f"| {r['n']} | {mbs} | {vs} |")
    table = "\n".join(lines)
    print(table)

    # Targets (issue 10), at 0 ms.
    tg = []
    ls = find("isomount", "ls -R URL", "0")
    rc_l = find("rclone+7z", "7z l -tudf", "0")
    if ls:
        met = ls["ok"] and ls["b"] < 4 * MIB
        extra = f"; rclone mount + 7z l moved {fmt_bytes(rc_l['b'])}" if rc_l else ""
        tg.append(f"* Listing the image moves under 4 MiB: **{'met' if met else 'not met'}** "
                  f"({fmt_bytes(ls['b'])} in {ls['n']} requests{extra}).")
    cat = find("isomount", "cat install.wim (no disk cache)", "0")
    curl = find("curl", "whole image", "0")
    rc_x = find("rclone+7z", "7z x -so install.wim", "0")
    if cat and curl and cat["mbs"] and curl["mbs"]:
        ratio = cat["mbs"] / curl["mbs"]
        extra = ""
        if rc_x and rc_x["mbs"]:
            extra = f"; {cat['mbs'] / rc_x['mbs']:.1f}× rclone + 7z ({rc_x['mbs']:.0f} MB/s)"
        elif rc_x:
            extra = f"; rclone + 7z: {rc_x['status']}"
        tg.append(f"* `cat` of install.wim at ≥ 0.5× curl's throughput: **{'met' if ratio >= 0.5 else 'not met'}** "
                  f"({cat['mbs']:.0f} MB/s against curl's {curl['mbs']:.0f} MB/s, {ratio:.2f}×{extra}).")
    sec = find("isomount", "cat boot.wim, 2nd process", "0")
    if sec:
        met = sec["ok"] and sec["b"] < MIB
        tg.append(f"* A second process reading boot.wim with the same disk cache moves under 1 MiB: "
                  f"**{'met' if met else 'not met'}** ({fmt_bytes(sec['b'])} in {sec['n']} requests).")
    targets = "\n".join(tg)
    print()
    print(targets)

    if not a.out:
        return
    cmd = "bash bench/remote.sh" + (" --quick" if a.quick else "") + (
        f" --timeout {a.timeout}" if a.timeout != "300" else "")
    size = (f"{a.image_size / 1e9:.2f} GB image ({a.image_size:,} bytes), install.wim "
            f"{a.wim_size / 1e9:.2f} GB, boot.wim {a.boot_size / 1e6:.0f} MB, {a.entries:,} entries")
    quick = ("\n**This is a `--quick` run (smaller image), not the full-size benchmark.**\n"
             if a.quick else "")
    versions = "\n".join(f"* {v}" for v in a.versions.strip().splitlines())
    latency = ("`tc netem` is available on this kernel, but" if a.netem == "yes" else
               "`tc netem` is missing on this kernel (no `sch_netem`), so")
    with open(a.out, "w") as f:
        f.write(f"""# Remote images: the HTTP benchmark (issue 10)

`{cmd}`, by hand, never in CI. Generated by `bench/remote-report.py`; the
"What limits each number" section is written by hand after the run.
{quick}
* Machine: {machine()}, shared with another engineer's test runs.
* Image: a Windows-10-shaped UDF bridge image built by `genisoimage -udf
  -allow-limited-size -iso-level 3 -J`: {size}. install.wim and install2.swm
  are sparse (zeros; nginx does not compress, so zeros cost the wire as much
  as any byte), boot.wim is 145 MB from /dev/urandom, the ~1,000 small files
  (1 KB .. 5 MB, log-uniform) start with 4 KiB of random bytes.
* Server: nginx on 127.0.0.1, `sendfile on`, keep-alive; bytes moved are the
  sum of `$body_bytes_sent` over the requests the access log shows for the
  run (headers not counted), requests are its lines.
* Added latency: {latency} the round trip is added by `bench/delay-proxy.py`:
  a TCP proxy on loopback that holds each client→server chunk 20 ms (one
  round trip per HTTP request; connection set-up is not delayed). It limits
  no bandwidth on purpose, but it is one Python process and tops out near
  840 MB/s here (curl's 20 ms row). 0 ms goes straight to nginx.
* Time is wall-clock (`date +%s.%N`) around the command; a peer run is
  bounded by `timeout {a.timeout}`. MB/s = size of the file read (or the
  whole image for curl) / time, 10^6 bytes. "vs curl": read rows compare
  MB/s with curl fetching the whole image at the same latency; listing rows
  compare the time with downloading the image with curl and then listing the
  local file.
* isomount runs use `--no-disk-cache` except the two boot.wim `cat`s, which
  share a `--cache-dir` in the work directory. httpdirfs runs without its
  cache; rclone with `--vfs-cache-mode off` and its default read chunks.
  7-Zip is given `-tudf`, so it reads the same UDF tree as isomount.

Versions:

{versions}

## Results

{table}

## Targets (issue 10, over loopback HTTP, 0 ms)

{targets}

## What limits each number

(Written by hand after the run: the generator leaves this for the person who ran it.)
""")


if __name__ == "__main__":
    main()
