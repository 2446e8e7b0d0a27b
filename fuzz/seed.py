#!/usr/bin/env python3
"""Cuts the seed inputs of every fuzz target out of fixture images.

usage: seed.py FIXTURE_DIR SEED_DIR GRUB_ISO   (run by fuzz/seed.sh)

Each target's input layout is documented on its function in
fs-core/src/fuzz.rs; the headers written here follow it.
"""
import glob
import hashlib
import os
import struct
import sys

fix, out, grub = sys.argv[1], sys.argv[2], sys.argv[3]
SS = 2048
counts = {}


def put(target, data, limit=256 * 1024):
    if target == "whole_image":
        # Writers pad images with zero sectors; the readers do not need them.
        end = len(data)
        while end >= SS and not any(data[end - SS:end]):
            end -= SS
        data = data[:max(end, 18 * SS)]
    if len(data) > limit:
        data = data[:limit]
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
    counts[target] = counts.get(target, 0) + 1


def read(path):
    with open(path, "rb") as f:
        return f.read()


# ------------------------------------------------------------------ ISO 9660

def records(ext):
    """Directory records of a directory extent: (offset, record bytes)."""
    pos = 0
    while pos < len(ext):
        n = ext[pos]
        if n == 0:
            pos = (pos // SS + 1) * SS
            continue
        yield pos, ext[pos:pos + n]
        pos += n


def iso_side(path, img, base=0):
    """Seeds of the ISO 9660 targets from one image."""
    vds_end = None
    roots = []
    for i in range(16, 80):
        s = img[base + i * SS:base + (i + 1) * SS]
        if len(s) < SS or s[1:6] != b"CD001":
            break
        if s[0] in (1, 2):
            root = s[156:190]
            roots.append((s[0], struct.unpack_from("<I", root, 2)[0], struct.unpack_from("<I", root, 10)[0]))
            if s[0] == 2:
                put("joliet_name", s[88:120])
        if s[0] == 0 and s[7:30] == b"EL TORITO SPECIFICATION":
            cat = struct.unpack_from("<I", s, 71)[0]
            catalog = img[cat * SS:(cat + 1) * SS]
            put("el_torito", catalog)
            for e in range(1, 64):
                entry = catalog[e * 32:(e + 1) * 32]
                if len(entry) == 32 and entry[0] == 0x88:
                    rba = struct.unpack_from("<I", entry, 8)[0]
                    mbr = img[rba * SS:rba * SS + 512]
                    if mbr[510:512] == b"\x55\xaa":
                        put("el_torito", mbr)
        if s[0] == 255:
            vds_end = i + 1
            break
    if vds_end is None:
        return
    put("iso9660_volume_descriptors", img[base + 16 * SS:base + vds_end * SS])
    for kind, lba, size in roots:
        seen = set()
        todo = [(lba, size)]
        while todo and len(seen) < 12:
            lba, size = todo.pop()
            if lba in seen or size > 256 * 1024:
                continue
            seen.add(lba)
            ext = img[lba * SS:lba * SS + size]
            put("iso9660_directory", b"\x02" + ext)
            for off, r in records(ext):
                if len(r) < 34:
                    continue
                nl = r[32]
                name = r[33:33 + nl]
                su = r[33 + nl + (1 - nl % 2):]
                if kind == 2 and nl > 1:
                    put("joliet_name", name)
                if kind == 1 and su:
                    put("susp_rock_ridge", struct.pack("<H", len(su)) + su)
                    zf = su.find(b"ZF")
                    if zf >= 0 and len(su) >= zf + 16:
                        flba = struct.unpack_from("<I", r, 2)[0]
                        flen = struct.unpack_from("<I", r, 10)[0]
                        if flen <= 128 * 1024:
                            put("zisofs", su[zf + 4:zf + 16] + img[flba * SS:flba * SS + flen])
                if r[25] & 2 and nl == 1 and name[0] > 1:
                    todo.append((struct.unpack_from("<I", r, 2)[0], struct.unpack_from("<I", r, 10)[0]))
                elif r[25] & 2 and nl > 1:
                    todo.append((struct.unpack_from("<I", r, 2)[0], struct.unpack_from("<I", r, 10)[0]))


# ---------------------------------------------------------------------- UDF

def tag_ident(b):
    return struct.unpack_from("<H", b, 0)[0] if len(b) >= 16 else None


def udf_side(path, img, bs=SS):
    avdp = img[256 * bs:257 * bs]
    if tag_ident(avdp) != 2:
        return
    mlen, mloc = struct.unpack_from("<II", avdp, 16)
    vds = img[mloc * bs:mloc * bs + mlen]
    put("udf_vds", b"\x00" + vds)
    put("udf_vds", b"\x02" + vds)  # tag locations kept: blocks 0.. read as written
    parts = {}
    lvd = None
    for i in range(0, len(vds), bs):
        d = vds[i:i + bs]
        t = tag_ident(d)
        if t == 5:
            num = struct.unpack_from("<H", d, 22)[0]
            start, length = struct.unpack_from("<II", d, 188, )
            parts[num] = (start, length)
        elif t == 6:
            lvd = d
        elif t == 8:
            break
    if not parts:
        return
    start, length = sorted(parts.values())[0]
    end = min(len(img), (start + length) * bs)
    part = img[start * bs:end]
    # File entries (and what their ADs point at) among the first blocks.
    window = part[:96 * bs]
    n_fe = 0
    for lbn in range(min(length, 4096)):
        b = part[lbn * bs:(lbn + 1) * bs]
        t = tag_ident(b)
        if t in (261, 266) and n_fe < 12:
            lo = max(0, lbn - 8)
            put("udf_icb", b"\x00" + struct.pack("<H", lbn - lo) + part[lo * bs:(lo + 64) * bs], 160 * 1024)
            n_fe += 1
        if t == 257:
            put("udf_fid", b"\x00" + part[lbn * bs:(lbn + 2) * bs])
    del window
    if lvd is not None:
        n_maps = struct.unpack_from("<I", lvd, 268)[0]
        maps = lvd[440:440 + struct.unpack_from("<I", lvd, 264)[0]]
        pos = 0
        for _ in range(n_maps):
            if pos + 2 > len(maps):
                break
            ty, ln = maps[pos], maps[pos + 1]
            raw = maps[pos:pos + ln]
            ident = raw[5:28].rstrip(b"\x00") if ty == 2 else b""
            if ident == b"*UDF Metadata Partition":
                tail = raw[40:64].ljust(24, b"\x00")
                main_loc = struct.unpack_from("<I", tail, 0)[0]
                # The metadata files and what they map, from the partition start.
                put("udf_metadata", b"\x00" + tail + part[:(main_loc + 200) * bs], 512 * 1024)
            if ident == b"*UDF Virtual Partition":
                rev = struct.unpack_from("<H", lvd, 216 + 24)[0]
                last = len(img) // bs
                while last > start and not any(img[(last - 1) * bs:last * bs]):
                    last -= 1
                put("udf_vat", b"\x00" + struct.pack("<H", rev) + img[start * bs:last * bs], 1 << 20)
            pos += ln if ln else 1


# --------------------------------------------------------------- containers

def containers(d, whole=True):
    for p in sorted(glob.glob(os.path.join(d, "*.cue"))):
        size = sum(os.path.getsize(b) for b in glob.glob(os.path.join(d, "*.bin")))
        put("cue_text", struct.pack("<Q", size or 10_000_000) + read(p))
    for p in sorted(glob.glob(os.path.join(d, "*.mds"))):
        mdf = p[:-4] + ".mdf"
        if os.path.exists(mdf) and os.path.getsize(mdf) < 1 << 20:
            m = read(p)
            put("mdf_mds", struct.pack("<I", len(m)) + m + read(mdf), 1 << 20)
    for p in sorted(glob.glob(os.path.join(d, "*.ccd"))):
        img = p[:-4] + ".img"
        if os.path.exists(img) and os.path.getsize(img) < 1 << 20:
            c = read(p)
            put("ccd", struct.pack("<I", len(c)) + c + read(img), 1 << 20)
    for p in sorted(glob.glob(os.path.join(d, "*.nrg"))):
        if os.path.getsize(p) < 1 << 20:
            put("nrg", read(p), 1 << 20)
            if whole:
                put("whole_image", read(p), 1 << 20)
    for p in sorted(glob.glob(os.path.join(d, "*.cso*")) + glob.glob(os.path.join(d, "*.zso"))):
        put("cso", read(p), 1 << 20)
        if whole:
            put("whole_image", read(p), 1 << 20)
    for p in sorted(glob.glob(os.path.join(d, "*.bin"))):
        if whole and os.path.getsize(p) < 1 << 20:
            put("whole_image", read(p), 1 << 20)


def main():
    isos = sorted(glob.glob(os.path.join(fix, "iso", "*.iso")))
    isos += [os.path.join(fix, "cont", "cdextra-data.iso"), grub]
    small = sorted(glob.glob(os.path.join(fix, "small", "*.iso")))
    for p in isos + small:
        if os.path.exists(p):
            iso_side(p, read(p))
    for p in sorted(glob.glob(os.path.join(fix, "udf", "*.img"))) + [os.path.join(fix, "small", "udf250.img"), os.path.join(fix, "udf", "win7.iso")]:
        if os.path.exists(p):
            with open(p, "rb") as f:
                img = f.read(96 << 20)
            udf_side(p, img)
    # Whole images: the small ones only (fast executions).
    for p in small + [os.path.join(fix, "small", "udf250.img")] + [
        os.path.join(fix, "udf", n) for n in ("vat.img", "vat150.img", "bdr.img")
    ] + [os.path.join(fix, "iso", "plain.iso")]:
        if os.path.exists(p) and os.path.getsize(p) <= 1 << 20:
            put("whole_image", read(p), 1 << 20)
            if tag_ident(read(p)[256 * SS:257 * SS]) == 2:
                # Tags repaired, recorded locations kept (header bit 1).
                put("whole_image_udf", b"\x02" + read(p), 1 << 20)
    containers(os.path.join(fix, "cont"), whole=False)
    containers(os.path.join(fix, "small", "cont"))
    for t in sorted(counts):
        print(f"{t}: {counts[t]} seeds")


main()
