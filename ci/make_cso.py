#!/usr/bin/env python3
"""Writes CSO v1, CSO v2 and ZSO compressed images from a plain ISO.

No Debian package writes these (`ciso`/`maxcso` are not packaged), so the
container layout is written here from the public description; the blocks
themselves come from other people's code: Python's zlib (raw deflate,
wbits=-15) and the `lz4` package from PyPI (LZ4 block format), installed
with pip when missing.

Layout: 24-byte header (magic, header size 24, uncompressed size u64, block
size u32, version u8, index shift u8, 2 reserved), n_blocks+1 u32 index
entries ((entry & 0x7fffffff) << shift = file position), then the blocks.
Top bit of an entry: CSO v1 / ZSO = stored uncompressed; CSO v2 = LZ4
(a v2 block whose stored size reaches the block size is uncompressed).

usage: make_cso.py {cso1,cso2,zso} IN OUT [--block-size N] [--shift N]
cso2 mixes deflate, LZ4 and stored blocks (by block number), so every
kind of block is exercised.
"""

import argparse
import struct
import subprocess
import sys
import zlib


def lz4_module():
    try:
        import lz4.block  # noqa: F401
    except ImportError:
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "lz4"], check=False
        )
        try:
            import lz4.block  # noqa: F401
        except ImportError:
            sys.exit("make_cso.py: the Python 'lz4' package is needed (pip install lz4)")
    import lz4.block

    return lz4.block


def deflate(data):
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["cso1", "cso2", "zso"])
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--block-size", type=int, default=2048)
    ap.add_argument("--shift", type=int, default=0)
    a = ap.parse_args()
    lz4 = lz4_module() if a.kind in ("cso2", "zso") else None
    data = open(a.src, "rb").read()
    bs, shift = a.block_size, a.shift
    n = (len(data) + bs - 1) // bs
    magic = b"ZISO" if a.kind == "zso" else b"CISO"
    version = 2 if a.kind == "cso2" else 1
    out = bytearray(magic + struct.pack("<IQIBB2x", 24, len(data), bs, version, shift))
    index_at = len(out)
    out += bytes(4 * (n + 1))
    index = []
    align = 1 << shift

    def pad():
        while len(out) % align:
            out.append(0)

    for i in range(n):
        chunk = data[i * bs : (i + 1) * bs]
        pad()
        pos = len(out) >> shift
        if a.kind == "cso1":
            c = deflate(chunk)
            stored = len(c) >= len(chunk)
            index.append(pos | (0x80000000 if stored else 0))
            out += chunk if stored else c
        elif a.kind == "zso":
            c = lz4.compress(chunk, store_size=False)
            stored = len(c) >= len(chunk)
            index.append(pos | (0x80000000 if stored else 0))
            out += chunk if stored else c
        else:
            how = i % 3
            c = None
            if how == 0:
                c, flag = deflate(chunk), 0
            elif how == 1:
                c, flag = lz4.compress(chunk, store_size=False), 0x80000000
            padded = None if c is None else -(-len(c) // align) * align
            if c is None or padded >= bs:
                # Stored: exactly one block size of bytes (last block padded).
                index.append(pos)
                out += chunk + bytes(bs - len(chunk))
            else:
                index.append(pos | flag)
                out += c
    pad()
    index.append(len(out) >> shift)
    for i, e in enumerate(index):
        struct.pack_into("<I", out, index_at + 4 * i, e)
    open(a.dst, "wb").write(out)


if __name__ == "__main__":
    main()
