#!/usr/bin/env python3
"""Builds the benchmark source tree (issue 6), deterministically.

    make-tree.py DIR --big-mib 1024 --small 100000 --dirs 200 --wide 20000

DIR/big.bin            one incompressible file of --big-mib MiB
DIR/small/dNNN/fNNNNN  --small files of 1-6 KB spread over --dirs directories
DIR/wide/wNNNNN        --wide files of 64 bytes in one directory

The content comes from a seeded generator, so two runs build the same bytes
(the images, and so the numbers, are comparable between runs).
"""
import argparse
import os
import random


def main():
    p = argparse.ArgumentParser()
    p.add_argument("dir")
    p.add_argument("--big-mib", type=int, default=1024)
    p.add_argument("--small", type=int, default=100_000)
    p.add_argument("--dirs", type=int, default=200)
    p.add_argument("--wide", type=int, default=20_000)
    a = p.parse_args()

    rng = random.Random(6)
    os.makedirs(a.dir)
    # Incompressible: random bytes, 1 MiB at a time.
    with open(os.path.join(a.dir, "big.bin"), "wb") as f:
        for _ in range(a.big_mib):
            f.write(rng.randbytes(1 << 20))

    # A pool of random bytes to cut the small files from (fast and still
    # incompressible to any reader that would try).
    pool = rng.randbytes(8 << 20)
    per_dir = -(-a.small // a.dirs)
    for i in range(a.small):
        d = os.path.join(a.dir, "small", f"d{i // per_dir:03d}")
        if i % per_dir == 0:
            os.makedirs(d)
        size = rng.randint(1000, 6000)
        at = rng.randrange(0, len(pool) - size)
        with open(os.path.join(d, f"f{i:05d}"), "wb") as f:
            f.write(pool[at : at + size])

    wide = os.path.join(a.dir, "wide")
    os.makedirs(wide)
    for i in range(a.wide):
        with open(os.path.join(wide, f"w{i:05d}"), "wb") as f:
            f.write(pool[i : i + 64])


if __name__ == "__main__":
    main()
