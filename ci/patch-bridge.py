#!/usr/bin/env python3
"""Turns the ISO 9660 side of a genisoimage -udf bridge image into a stub,
the way real Windows install media are laid out: the root directory of the
primary volume descriptor (and of a Joliet supplementary one, if present)
keeps only ".", ".." and README.TXT, the root extent shrinks to one sector
and the path tables to the root's single entry. The UDF side is untouched.

usage: patch-bridge.py IMAGE
Fails loudly when README.TXT is not in a root directory.
"""
import struct
import sys

SECTOR = 2048


def both32(v):
    return struct.pack("<I", v) + struct.pack(">I", v)


def records(extent):
    """Directory records of one extent (ECMA-119 9.1), skipping sector padding."""
    pos = 0
    while pos < len(extent):
        n = extent[pos]
        if n == 0:
            pos = (pos // SECTOR + 1) * SECTOR
            continue
        yield extent[pos : pos + n]
        pos += n


def patch_tree(f, vd_off, joliet):
    f.seek(vd_off)
    vd = bytearray(f.read(SECTOR))
    root = vd[156 : 156 + 34]
    loc = struct.unpack_from("<I", root, 2)[0]
    size = struct.unpack_from("<I", root, 10)[0]
    f.seek(loc * SECTOR)
    extent = f.read(size)
    keep = []
    for rec in records(extent):
        name_len = rec[32]
        name = rec[33 : 33 + name_len]
        if name in (b"\x00", b"\x01"):
            keep.append(bytearray(rec))
            continue
        text = name.decode("utf-16-be" if joliet else "latin-1", "replace")
        if text.split(";")[0].upper() == "README.TXT":
            keep.append(bytearray(rec))
    if len(keep) != 3:
        sys.exit(
            f"patch-bridge: expected '.', '..' and README.TXT in the root at block {loc}, "
            f"found {len(keep)} records"
        )
    # "." and ".." of the root both describe the root: one sector now.
    for rec in keep[:2]:
        rec[10:18] = both32(SECTOR)
    out = b"".join(keep)
    f.seek(loc * SECTOR)
    f.write(out + bytes(size - len(out)))
    vd[156 + 10 : 156 + 18] = both32(SECTOR)
    # Path table: only the root's entry (8 bytes + 1-byte name + 1 pad).
    vd[132:140] = both32(10)
    f.seek(vd_off)
    f.write(vd)


def main():
    path = sys.argv[1]
    patched = 0
    with open(path, "r+b") as f:
        sector = 16
        while True:
            off = sector * SECTOR
            f.seek(off)
            vd = f.read(SECTOR)
            if vd[1:6] != b"CD001":
                sys.exit(f"patch-bridge: no ISO 9660 descriptor at sector {sector}")
            kind = vd[0]
            if kind == 255:
                break
            if kind == 1:
                patch_tree(f, off, joliet=False)
                patched += 1
            elif kind == 2 and vd[88:90] == b"%/":
                patch_tree(f, off, joliet=True)
                patched += 1
            sector += 1
    if patched == 0:
        sys.exit("patch-bridge: no primary volume descriptor")


if __name__ == "__main__":
    main()
