#!/usr/bin/env python3
"""A small UDF 2.50/2.60 image writer with a metadata partition, for tests
only (Python 3 standard library). No Debian tool writes a metadata partition
(mkudffs 2.3 refuses revisions above 2.01 on random-access media), so the
tests build those images here and trust them only because 7-Zip
(`7z l -slt -tudf`, `7z x -tudf`) reads them back identically
(ci/udf-fixtures.sh checks that).

usage:
  udf_writer.py --rev 2.50|2.60 [--label L] [--map MAP.json]
                [--damage-main-metadata] TREE IMAGE
  udf_writer.py --damage-main-lvd IMAGE      (patch an existing UDF image)

Layout (2048-byte blocks; ECMA-167 3rd edition parts 3 and 4, OSTA UDF 2.60):
  16-18   volume recognition sequence BEA01, NSR03, TEA01 (ECMA-167 2/9)
  32-37   main VDS: PVD, IUVD, PD, LVD, USD, TD (3/10)
  48-53   reserve VDS, the same descriptors at their own locations
  64      LVID (3/10.10), closed
  256     AVDP (3/10.2), again at the last block
  272...  partition 0 (physical, type 1 map):
          +0 metadata file EFE (file type 250), +1 mirror EFE (251),
          then the metadata extent, the mirror extent, then file data.
  Partition reference 1 is the metadata partition (type 2 map,
  "*UDF Metadata Partition", UDF 2.2.10): FSD at its block 0, then every
  extended file entry (4/14.17), directory FIDs (4/14.4), allocation
  extent descriptors (4/14.5).
Files: ICB-embedded data when small (hello.txt), long_ads into partition 0
otherwise, not-recorded extents for runs of zero blocks, one extent per block
for names containing "frag" (so the allocation descriptors continue in AED
blocks), symlinks as path components (4/14.16), hard links as FIDs sharing
one EFE, setuid/setgid/sticky in the ICB tag flags (4/14.6.8).
The map file gives absolute byte offsets of structures for the corrupt tests.
"""
import argparse
import json
import os
import stat
import struct
import sys
import time

B = 2048
PART_START = 272
ALLOC_UNIT = 32


def crc_itu(data):
    """CRC-ITU-T (x^16 + x^12 + x^5 + 1), initial 0 (ECMA-167 1/7.2.6)."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def tag(ident, body, location, version=3, serial=1, crc_len=None):
    """A descriptor: 16-byte tag (ECMA-167 3/7.2) + body. CRC over crc_len body bytes."""
    if crc_len is None:
        crc_len = len(body)
    t = bytearray(struct.pack("<HHBBHHHI", ident, version, 0, 0, serial,
                              crc_itu(body[:crc_len]), crc_len, location))
    t[4] = sum(t[0:4] + t[5:16]) & 0xFF
    return bytes(t) + body


def fix_tag(buf, off):
    """Recomputes CRC and checksum of the descriptor at buf[off:] in place."""
    crc_len = struct.unpack_from("<H", buf, off + 10)[0]
    struct.pack_into("<H", buf, off + 8, crc_itu(buf[off + 16:off + 16 + crc_len]))
    buf[off + 4] = 0
    buf[off + 4] = sum(buf[off:off + 16]) & 0xFF


def cs0(name):
    """OSTA CS0 (UDF 2.1.1): compression 8 when every char fits a byte, else 16."""
    if all(ord(c) < 256 for c in name):
        return b"\x08" + name.encode("latin-1")
    return b"\x10" + name.encode("utf-16-be")


def dstring(text, size):
    """A fixed-size d-string (ECMA-167 1/7.2.12): CS0 bytes, length in the last byte."""
    if not text:
        return bytes(size)
    raw = cs0(text)[: size - 1]
    return raw + bytes(size - 1 - len(raw)) + bytes([len(raw)])


def charspec():
    return b"\x00" + b"OSTA Compressed Unicode".ljust(63, b"\x00")


def regid(ident, suffix=b""):
    return b"\x00" + ident.encode().ljust(23, b"\x00") + suffix.ljust(8, b"\x00")


def udf_suffix(rev):
    """UDF identifier suffix (UDF 2.1.5.3): revision, OS class 4 (UNIX), OS 5 (Linux)."""
    return struct.pack("<HBB", rev, 4, 5)


IMPL = b"\x04\x05"  # implementation identifier suffix: OS class, OS identifier


def timestamp(secs, tz=0):
    """UDF timestamp (ECMA-167 1/7.3): type 1 (local time), `tz` minutes
    east of UTC (12-bit signed); the fields are local time."""
    t = time.gmtime(secs + tz * 60)
    return struct.pack("<HhBBBBBBBB", 0x1000 | (tz & 0xFFF), t.tm_year, t.tm_mon, t.tm_mday,
                       t.tm_hour, t.tm_min, t.tm_sec, 0, 0, 0)


def extent_ad(length, loc):
    return struct.pack("<II", length, loc)


def short_ad(length, pos, kind=0):
    return struct.pack("<II", (kind << 30) | length, pos)


def long_ad(length, lbn, part, uid=0, kind=0):
    return struct.pack("<IIH", (kind << 30) | length, lbn, part) + struct.pack("<HI", 0, uid)


def perms(mode):
    """POSIX rwx -> ECMA-167 4/14.9.5 (other bits 0-2, group 5-7, owner 10-12)."""
    p = (mode & 7) | (((mode >> 3) & 7) << 5) | (((mode >> 6) & 7) << 10)
    if mode & 0o200:
        p |= (1 << 13) | (1 << 14)  # owner may change attributes / delete
    return p


class Node:
    def __init__(self, path, st):
        self.path = path
        self.st = st
        self.children = []  # (name, Node)
        self.lbn = None     # EFE block in the metadata partition
        self.uid = None
        self.parent = None
        self.links = 0


def build(args):
    rev = {"2.50": 0x0250, "2.60": 0x0260}[args.rev]
    tree = args.tree
    now = 1_700_000_000

    # ---- collect the tree (hard links: one Node per inode)
    by_ino = {}

    def load(path, parent):
        st = os.lstat(path)
        key = (st.st_dev, st.st_ino)
        if not stat.S_ISDIR(st.st_mode) and key in by_ino:
            node = by_ino[key]
        else:
            node = Node(path, st)
            by_ino[key] = node
            node.parent = parent
            if stat.S_ISDIR(st.st_mode):
                for name in sorted(os.listdir(path)):
                    child = load(os.path.join(path, name), node)
                    node.children.append((name, child))
        node.links += 1
        return node

    root = load(tree, None)
    root.links = 0
    nodes = []
    seen = set()

    def order(n):
        if id(n) in seen:
            return
        seen.add(id(n))
        nodes.append(n)
        for _, c in n.children:
            order(c)

    order(root)

    # ---- metadata partition: block 0 FSD, 1 TD, then one EFE per node,
    # then directory data / AED blocks as needed.
    meta = {}  # lbn -> bytes (filled later)
    next_meta = 2
    for n in nodes:
        n.lbn = next_meta
        next_meta += 1
    # Names starting "indirect": the FID points at an indirect entry
    # (ECMA-167 4/14.7, ICB strategy 4096) that points at the entry.
    for n in nodes:
        n.icb = n.lbn
        if os.path.basename(n.path).startswith("indirect") and n.parent is not None:
            n.ie_lbn = next_meta
            n.icb = next_meta
            next_meta += 1
    uid = 16
    for n in nodes:
        if n is root:
            n.uid = 0
        else:
            n.uid = uid
            uid += 1

    # ---- file data in the physical partition, after the metadata extents
    # (sized below); collect data first to know the metadata size.
    def symlink_data(target):
        """Path components (ECMA-167 4/14.16.1, table 4/14.16.1.1): type 2
        the root directory, 3 the parent (".."), 4 the current ("."), 5 a
        named component."""
        out = b""
        parts = target.split("/")
        if target.startswith("/"):
            out += struct.pack("<BBH", 2, 0, 0)
            parts = parts[1:]
        for p in parts:
            if p == "":
                continue
            if p == ".":
                out += struct.pack("<BBH", 4, 0, 0)
            elif p == "..":
                out += struct.pack("<BBH", 3, 0, 0)
            else:
                ident = cs0(p)
                out += struct.pack("<BBH", 5, len(ident), 0) + ident
        return out

    def fid(name, node, parent_flag=False):
        """File identifier descriptor (ECMA-167 4/14.4). Names starting
        "hidden" get the hidden bit; node None is a deleted entry (UDF
        2.3.4.2: deleted bit, ICB zero)."""
        chars = 0
        if node is None:
            body = struct.pack("<HBB", 1, 4, len(cs0(name))) + bytes(16)
            body += struct.pack("<H", 0) + cs0(name)
            return body + bytes((4 - (16 + len(body)) % 4) % 4)
        if stat.S_ISDIR(node.st.st_mode):
            chars |= 2
        if parent_flag:
            chars |= 8
            ident = b""
        else:
            ident = cs0(name)
        if name and name.startswith("hidden"):
            chars |= 1
        body = struct.pack("<HBB", 1, chars, len(ident))
        body += long_ad(B, node.icb, 1, node.uid)
        body += struct.pack("<H", 0) + ident
        pad = (4 - (16 + len(body)) % 4) % 4
        return body + bytes(pad)

    # Directory streams (FIDs), location fixed later (tag location = block).
    dir_streams = {}
    for n in nodes:
        if stat.S_ISDIR(n.st.st_mode):
            parent = n.parent or n
            parts = [(None, parent, True)] + [(name, c, False) for name, c in n.children]
            if n is root:
                # A deleted entry: readers must not list it.
                parts.insert(1, ("deleted.txt", None, False))
            dir_streams[id(n)] = parts

    # Embedded capacity of an EFE block.
    efe_fixed = 216
    cap = B - efe_fixed

    def dir_bytes(parts, base_lbn, base_off=0):
        out = bytearray()
        for name, node, par in parts:
            body = fid(name, node, par)
            lbn = base_lbn + (base_off + len(out)) // B
            out += tag(257, body, lbn, crc_len=len(body))
        return bytes(out)

    # Decide embedded vs. extent for directories and allocate extents.
    dir_layout = {}
    for n in nodes:
        if not stat.S_ISDIR(n.st.st_mode):
            continue
        parts = dir_streams[id(n)]
        trial = dir_bytes(parts, n.lbn)
        if len(trial) <= cap:
            dir_layout[id(n)] = ("embedded", dir_bytes(parts, n.lbn))
        else:
            start = next_meta
            data = dir_bytes(parts, start)
            nblk = (len(data) + B - 1) // B
            next_meta += nblk
            dir_layout[id(n)] = ("extent", start, data)

    # Files: data blocks in the physical partition (relative to the data
    # area start, resolved once the metadata size is known).
    file_plan = {}
    data_blocks = 0
    aed_needed = {}
    for n in nodes:
        m = n.st.st_mode
        if stat.S_ISLNK(m):
            file_plan[id(n)] = ("embedded", symlink_data(os.readlink(n.path)))
        elif stat.S_ISREG(m):
            with open(n.path, "rb") as f:
                content = f.read()
            if len(content) == 0:
                file_plan[id(n)] = ("none", b"")
            elif len(content) <= 64:
                file_plan[id(n)] = ("embedded", content)
            else:
                nblk = (len(content) + B - 1) // B
                zero = [content[i * B:(i + 1) * B].count(0) == len(content[i * B:(i + 1) * B])
                        for i in range(nblk)]
                frag = "frag" in os.path.basename(n.path)
                # runs: (kind, first data block, blocks); kind 0 recorded,
                # 2 not recorded (ECMA-167 4/14.14.1.1). A hole is 16 or more
                # zero blocks, never at the end.
                runs = []
                i = 0
                while i < nblk:
                    j = i
                    while j < nblk and zero[j]:
                        j += 1
                    if j - i >= 16 and j < nblk:
                        runs.append((2, None, j - i))
                        i = j
                        continue
                    k = i + 1
                    while k < nblk and not (all(zero[k:k + 16]) and k + 16 < nblk):
                        k += 1
                    if frag:
                        for _ in range(i, k):
                            runs.append((0, data_blocks, 1))
                            data_blocks += 2  # a gap: no two extents could merge
                    else:
                        step = 0x3FFFF800 // B
                        for s0 in range(i, k, step):
                            cnt = min(step, k - s0)
                            runs.append((0, data_blocks, cnt))
                            data_blocks += cnt
                    i = k
                file_plan[id(n)] = ("runs", content, runs)
                # 16-byte long_ads; an EFE holds cap // 16 of them.
                if len(runs) > cap // 16:
                    per_aed = (B - 24) // 16 - 1
                    rest = len(runs) - (cap // 16 - 1)
                    count = (rest + per_aed - 1) // per_aed
                    aed_needed[id(n)] = list(range(next_meta, next_meta + count))
                    next_meta += count

    meta_blocks = ((next_meta + ALLOC_UNIT - 1) // ALLOC_UNIT) * ALLOC_UNIT
    meta_file_rel = 0      # metadata file EFE, partition-relative
    mirror_file_rel = 1
    meta_ext_rel = ALLOC_UNIT          # aligned
    mirror_ext_rel = meta_ext_rel + meta_blocks
    data_rel = mirror_ext_rel + meta_blocks
    part_len = data_rel + data_blocks + 16
    total = PART_START + part_len + 1 + 16
    total = max(total, 512)
    last = total - 1

    img = bytearray(total * B)
    mapinfo = {}

    def put(lbn_abs, data):
        img[lbn_abs * B:lbn_abs * B + len(data)] = data

    def mput(lbn, data):
        meta[lbn] = data

    # ---- VRS
    for i, ident in enumerate([b"BEA01", b"NSR03", b"TEA01"]):
        put(16 + i, b"\x00" + ident + b"\x01")

    lvid_loc = 64
    fsd_lbn = 0

    def vds(base):
        out = []
        pvd = struct.pack("<II", 1, 0) + dstring(args.label, 32) + struct.pack("<HHHHII", 1, 1, 2, 3, 1, 1)
        pvd += dstring("0123456789abcdef" + args.label, 128) + charspec() + charspec()
        pvd += extent_ad(0, 0) + extent_ad(0, 0) + regid("*isomount udf_writer")
        pvd += timestamp(now) + regid("*isomount udf_writer", IMPL) + bytes(64)
        pvd += struct.pack("<IH", 0, 1) + bytes(22)
        out.append(tag(1, pvd, base + 0))
        iu = struct.pack("<I", 2) + regid("*UDF LV Info", udf_suffix(rev))
        iu += charspec() + dstring(args.label, 128) + bytes(36 * 3)
        iu += regid("*isomount udf_writer", IMPL) + bytes(128)
        out.append(tag(4, iu, base + 1))
        pd = struct.pack("<IHH", 3, 1, 0) + regid("+NSR03") + bytes(128)
        pd += struct.pack("<III", 1, PART_START, part_len)
        pd += regid("*isomount udf_writer", IMPL) + bytes(128) + bytes(156)
        out.append(tag(5, pd, base + 2))
        maps = struct.pack("<BBHH", 1, 6, 1, 0)
        mp = struct.pack("<BBH", 2, 64, 0) + regid("*UDF Metadata Partition", udf_suffix(rev))
        mp += struct.pack("<HHIIIIHB", 1, 0, meta_file_rel, mirror_file_rel, 0xFFFFFFFF,
                          ALLOC_UNIT, 1, 0) + bytes(5)
        maps += mp
        lvd = struct.pack("<I", 4) + charspec() + dstring(args.label, 128)
        lvd += struct.pack("<I", B) + regid("*OSTA UDF Compliant", struct.pack("<HB", rev, 0))
        lvd += long_ad(B, fsd_lbn, 1) + struct.pack("<II", len(maps), 2)
        lvd += regid("*isomount udf_writer", IMPL) + bytes(128)
        lvd += extent_ad(B, lvid_loc) + maps
        out.append(tag(6, lvd, base + 3))
        out.append(tag(7, struct.pack("<II", 5, 0), base + 4))
        out.append(tag(8, bytes(496), base + 5))
        return out

    for base in (32, 48):
        for i, d in enumerate(vds(base)):
            put(base + i, d)
    mapinfo["main_lvd"] = (32 + 3) * B
    mapinfo["reserve_lvd"] = (48 + 3) * B
    mapinfo["main_pd"] = (32 + 2) * B
    mapinfo["reserve_pd"] = (48 + 2) * B

    avdp = extent_ad(16 * B, 32) + extent_ad(16 * B, 48) + bytes(480)
    put(256, tag(2, avdp, 256))
    put(last, tag(2, avdp, last))

    # ---- metadata partition contents
    nfiles = sum(1 for n in nodes if not stat.S_ISDIR(n.st.st_mode))
    ndirs = sum(1 for n in nodes if stat.S_ISDIR(n.st.st_mode))
    fsd = timestamp(now) + struct.pack("<HHIIII", 3, 3, 1, 1, 0, 0) + charspec()
    fsd += dstring(args.label, 128) + charspec() + dstring(args.label, 32)
    fsd += bytes(32) + bytes(32) + long_ad(B, root.lbn, 1)
    fsd += regid("*OSTA UDF Compliant", struct.pack("<HB", rev, 0))
    fsd += bytes(16) + bytes(16) + bytes(32)
    mput(0, tag(256, fsd, 0))
    mput(1, tag(8, bytes(496), 1))

    def efe(n, lbn, file_type, ad_type, ads_or_data, info_len, recorded, flags_extra=0,
            part=1, links=None, uid=0, gid=0, mode=0o755, mtime=now, unique=0, tz=0,
            strategy=4):
        st_flags = ad_type | flags_extra
        icb = struct.pack("<IHHHBB", 0, strategy, 0, 1 if strategy == 4 else 2, 0, file_type)
        icb += struct.pack("<IH", 0, 0)
        icb += struct.pack("<H", st_flags)
        body = icb + struct.pack("<III", uid, gid, perms(mode))
        body += struct.pack("<HBBI", links if links is not None else 1, 0, 0, 0)
        body += struct.pack("<QQQ", info_len, info_len, recorded)
        body += timestamp(mtime, tz) * 4
        body += struct.pack("<II", 1, 0) + bytes(16) + bytes(16)
        body += regid("*isomount udf_writer", IMPL)
        body += struct.pack("<QII", unique, 0, len(ads_or_data)) + ads_or_data
        return tag(266, body, lbn)

    for n in nodes:
        st = n.st
        m = st.st_mode
        flags = 0
        if m & stat.S_ISUID:
            flags |= 1 << 6
        if m & stat.S_ISGID:
            flags |= 1 << 7
        if m & stat.S_ISVTX:
            flags |= 1 << 8
        base = os.path.basename(n.path)
        common = dict(uid=st.st_uid, gid=st.st_gid, mode=m & 0o777, mtime=int(st.st_mtime),
                      unique=n.uid, tz=60 if base.startswith("tz-") else 0,
                      strategy=4096 if n.icb != n.lbn else 4)
        if n.icb != n.lbn:
            ie = struct.pack("<IHHHBB", 0, 4096, 0, 2, 0, 3) + struct.pack("<IHH", 0, 0, 0)
            ie += long_ad(B, n.lbn, 1)
            mput(n.ie_lbn, tag(259, ie, n.ie_lbn))
            mapinfo.setdefault("indirect", {})[os.path.relpath(n.path, tree)] = (
                PART_START + meta_ext_rel + n.ie_lbn) * B
        if stat.S_ISDIR(m):
            subdirs = sum(1 for _, c in n.children if stat.S_ISDIR(c.st.st_mode))
            links = 1 + subdirs
            lay = dir_layout[id(n)]
            if lay[0] == "embedded":
                data = lay[1]
                rec = efe(n, n.lbn, 4, 3, data, len(data), 0, flags, links=links, **common)
            else:
                _, start, data = lay
                nblk = (len(data) + B - 1) // B
                padded = data + bytes(nblk * B - len(data))
                for i in range(nblk):
                    mput(start + i, padded[i * B:(i + 1) * B])
                ads = short_ad(len(data), start)
                rec = efe(n, n.lbn, 4, 0, ads, len(data), nblk, flags, links=links, **common)
                mapinfo.setdefault("dir_data", {})[os.path.relpath(n.path, tree)] = [
                    start, len(data)]
            mput(n.lbn, rec)
        else:
            plan = file_plan[id(n)]
            ftype = 12 if stat.S_ISLNK(m) else 5
            if plan[0] == "embedded":
                rec = efe(n, n.lbn, ftype, 3, plan[1], len(plan[1]), 0, flags,
                          links=n.links, **common)
            elif plan[0] == "none":
                rec = efe(n, n.lbn, ftype, 1, b"", 0, 0, flags, links=n.links, **common)
            else:
                _, content, runs = plan
                ads = []
                recorded = 0
                remaining = len(content)
                for kind, rel, count in runs:
                    length = min(count * B, remaining)
                    remaining -= length
                    if kind == 0:
                        ads.append(long_ad(length, data_rel + rel, 0))
                        recorded += count
                    else:
                        ads.append(long_ad(length, 0, 0, kind=2))
                # place data
                pos = 0
                for kind, rel, count in runs:
                    length = count * B
                    if kind == 0:
                        put(PART_START + data_rel + rel, content[pos:pos + length])
                    pos += length
                chain = aed_needed.get(id(n))
                if chain:
                    first = cap // 16 - 1
                    in_efe = ads[:first]
                    rest = ads[first:]
                    per = (B - 24) // 16 - 1
                    in_efe.append(long_ad(B, chain[0], 1, kind=3))
                    prev = n.lbn
                    for ci, blk in enumerate(chain):
                        mine = rest[ci * per:(ci + 1) * per]
                        if ci + 1 < len(chain):
                            mine = mine + [long_ad(B, chain[ci + 1], 1, kind=3)]
                        body_ads = b"".join(mine)
                        aed = struct.pack("<II", prev, len(body_ads)) + body_ads
                        mput(blk, tag(258, aed, blk))
                        prev = blk
                    mapinfo.setdefault("aed", {})[os.path.relpath(n.path, tree)] = [
                        (PART_START + meta_ext_rel + b) * B for b in chain]
                    ad_bytes = b"".join(in_efe)
                else:
                    ad_bytes = b"".join(ads)
                rec = efe(n, n.lbn, ftype, 1, ad_bytes, len(content), recorded, flags,
                          links=n.links, **common)
            mput(n.lbn, rec)
        mapinfo.setdefault("efe", {})[os.path.relpath(n.path, tree) if n is not root else ""] = (
            PART_START + meta_ext_rel + n.lbn) * B

    # ---- metadata extents (main + mirror) and their file entries
    blob = bytearray(meta_blocks * B)
    for lbn, data in meta.items():
        blob[lbn * B:lbn * B + len(data)] = data
    put(PART_START + meta_ext_rel, blob)
    put(PART_START + mirror_ext_rel, blob)
    for rel_loc, ftype, ext in ((meta_file_rel, 250, meta_ext_rel),
                                (mirror_file_rel, 251, mirror_ext_rel)):
        ads = short_ad(meta_blocks * B, ext)
        rec = efe(None, rel_loc, ftype, 0, ads, meta_blocks * B, meta_blocks, 0,
                  part=0, links=1, mode=0, unique=0)
        put(PART_START + rel_loc, rec)
    mapinfo["metadata_fe"] = (PART_START + meta_file_rel) * B
    mapinfo["mirror_fe"] = (PART_START + mirror_file_rel) * B
    mapinfo["metadata_extent"] = (PART_START + meta_ext_rel) * B
    mapinfo["mirror_extent"] = (PART_START + mirror_ext_rel) * B
    mapinfo["partition_start"] = PART_START * B
    mapinfo["block_size"] = B

    # ---- LVID
    impl = regid("*isomount udf_writer", IMPL) + struct.pack(
        "<IIHHH", nfiles, ndirs, rev, rev, rev)
    lvid = timestamp(now) + struct.pack("<I", 1) + extent_ad(0, 0)
    lvid += struct.pack("<Q", uid) + bytes(24)
    lvid += struct.pack("<II", 2, len(impl))
    lvid += struct.pack("<II", 16, 0xFFFFFFFF) + struct.pack("<II", part_len, 0xFFFFFFFF) + impl
    put(lvid_loc, tag(9, lvid, lvid_loc))

    if args.damage_main_metadata:
        off = mapinfo["metadata_fe"]
        # The CRC no longer matches, and a reader that used the entry anyway
        # would find the metadata extent 0xA5 blocks off (short_ad position).
        img[off + 100] ^= 0xFF
        img[off + 216 + 4] ^= 0xA5

    with open(args.image, "wb") as f:
        f.write(img)
    if args.map:
        with open(args.map, "w") as f:
            json.dump(mapinfo, f, indent=1, sort_keys=True)


def damage_main_lvd(path):
    """Flips one byte of the main VDS's logical volume descriptor body."""
    with open(path, "r+b") as f:
        f.seek(256 * B)
        avdp = f.read(B)
        if struct.unpack_from("<H", avdp, 0)[0] != 2:
            sys.exit(f"{path}: no anchor at block 256")
        length, loc = struct.unpack_from("<II", avdp, 16)
        for i in range(length // B):
            f.seek((loc + i) * B)
            d = bytearray(f.read(B))
            if struct.unpack_from("<H", d, 0)[0] == 6:
                # The CRC breaks, and a reader that used the descriptor anyway
                # would look for the file set descriptor in the wrong block.
                d[100] ^= 0xFF
                d[252] ^= 0xA5
                f.seek((loc + i) * B)
                f.write(d)
                return
            if struct.unpack_from("<H", d, 0)[0] == 8:
                break
    sys.exit(f"{path}: no logical volume descriptor in the main VDS")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rev", default="2.50")
    p.add_argument("--label", default="ISOMOUNT_UDF")
    p.add_argument("--map")
    p.add_argument("--damage-main-metadata", action="store_true")
    p.add_argument("--damage-main-lvd", action="store_true")
    p.add_argument("paths", nargs="+")
    args = p.parse_args()
    if args.damage_main_lvd:
        damage_main_lvd(args.paths[0])
        return
    args.tree, args.image = args.paths
    build(args)


if __name__ == "__main__":
    main()
