#!/usr/bin/env python3
"""Builds hostile images for tests/hostile.rs (issue 7).

    ci/hostile.py OUTDIR

Base images come from tools that are not ours, fed trees this script makes:

  base.iso   xorriso -R of tree/ (files, a deep chain relocated through
             rr_moved with CL/PL/RE, 255-byte names whose NM sits in SUSP
             continuation areas, name slots, symlinks out of the tree)
  deep.iso   xorriso -R of a chain of 2,020 nested directories (xorriso
             relocates every 8th level into rr_moved: a long CL chain);
             extracted below any directory, its bottom passes PATH_MAX
  udf.img    mkudffs (UDF 2.01, no metadata partition) populated by udfclient

Each hostile variant is a copy of one base image with ONE damage, made at a
structure found by parsing the image (ECMA-119 directory records, SUSP
entries, UDF anchor -> volume descriptors -> file set -> ICBs -> FIDs);
UDF descriptor tags get their CRC and checksum recomputed so only the
intended damage remains. Written per case: CASE.iso / CASE.img. Also
base.ref.jsonl, deep.ref.jsonl, udf.ref.jsonl (ci/tree-manifest.py over
the trees fed to the tools) and cases.json (case -> image, what was done,
numbers the test needs, e.g. the image size).
"""
import hashlib
import json
import os
import struct
import subprocess
import sys
import tempfile

B = 2048
HERE = os.path.dirname(os.path.abspath(__file__))


def pattern(seed: str, n: int) -> bytes:
    out, i = bytearray(), 0
    while len(out) < n:
        out += hashlib.sha256(seed.encode() + i.to_bytes(8, "little")).digest()
        i += 1
    return bytes(out[:n])


def run(*cmd, **kw):
    subprocess.run(cmd, check=True, **kw)


def touch_all(root):
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        for n in dirnames + filenames:
            os.utime(os.path.join(dirpath, n), (1704164645, 1704164645), follow_symlinks=False)
    os.utime(root, (1704164645, 1704164645))


def manifest(tree, out):
    with open(out, "w") as f:
        run("python3", os.path.join(HERE, "tree-manifest.py"), tree, stdout=f)


# ------------------------------------------------------------ the trees

SLOT_PAD = "x" * 40
DEEP = 2020
SLOTS = 20


def write_file(root, rel, data):
    """Writes `data` to `root/rel`, making its directories."""
    p = os.path.join(root, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as f:
        f.write(data)


def make_tree(t):
    os.makedirs(t)

    def w(rel, data):
        write_file(t, rel, data)

    w("hello.txt", b"Hello from the hostile suite\n")
    w("data/a.bin", pattern("a", 3 * B + 100))
    w("data/b.bin", pattern("b", 2 * B))
    w("data/far.bin", pattern("far", 5000))
    w("data/huge.bin", pattern("huge", 4000))
    w("loop/up/inner.txt", b"inner\n")
    w("loop/self/inner2.txt", b"inner2\n")
    w("bigdir/x.txt", b"x\n")
    w("vastdir/y.txt", b"y\n")
    for d in ("recs0", "recs1", "recs255"):
        for i in range(1, 7):
            w(f"{d}/f{i}.txt", f"{d} f{i}\n".encode())
    # A chain deep enough for xorriso to relocate deep/a/.../h into rr_moved.
    w("deep/a/b/c/d/e/f/g/h/i/j/k.txt", b"k\n")
    for i in range(1, SLOTS + 1):
        w(f"names/slot{i:02d}_{SLOT_PAD}", f"slot {i:02d}\n".encode())
    for i in range(1, 6):
        w(f"ce/ce{i}_" + "L" * 248, f"ce {i}\n".encode())
    os.makedirs(os.path.join(t, "links"))
    os.symlink("/etc/passwd", os.path.join(t, "links/passwd"))
    os.symlink("../../../../outside", os.path.join(t, "links/updir"))
    # The classic extraction attack: a symlink "evil" out of the tree and a
    # directory that the patch renames to "evil" too, holding a file.
    os.symlink("../../outside_dir", os.path.join(t, "links/evil"))
    w("links/evilzzzz/payload.txt", b"payload\n")
    # The same the other way round: the directory first, the link second.
    w("links/rev/payload2.txt", b"payload2\n")
    os.symlink("../../outside_rev", os.path.join(t, "links/revzzzz"))
    # Blocks the long-name case overwrites with a 4000-byte NM continuation.
    w("pool.bin", pattern("pool", 3 * B))
    touch_all(t)


def make_deep(t, depth):
    """A chain of `depth` directories "d" holding a file "b"; made, and
    given fixed times, through relative paths (the full ones pass
    PATH_MAX). Returns the manifest rows (os.walk recurses per level)."""
    os.makedirs(t)
    cwd = os.getcwd()
    stamp = (1704164645, 1704164645)
    try:
        os.chdir(t)
        for _ in range(depth):
            os.mkdir("d")
            os.chdir("d")
        with open("b", "wb") as f:
            f.write(b"bottom\n")
        os.utime("b", stamp)
        for _ in range(depth):
            os.chdir("..")
            os.utime("d", stamp)
    finally:
        os.chdir(cwd)
    rows = []
    for i in range(1, depth + 1):
        rows.append({"path": "/".join(["d"] * i), "type": "dir"})
    rows.append({"path": "/".join(["d"] * depth + ["b"]), "type": "file", "size": 7,
                 "sha256": hashlib.sha256(b"bottom\n").hexdigest()})
    return rows


# --------------------------------------------------------- ECMA-119 parsing


def u32le(b, o):
    return struct.unpack_from("<I", b, o)[0]


def put_both32(img, o, v):
    struct.pack_into("<I", img, o, v)
    struct.pack_into(">I", img, o + 4, v)


class Rec:
    """One directory record: where it is, what it says, its SUSP entries."""

    def __init__(self, img, off, path):
        self.off = off
        self.path = path
        self.len = img[off]
        self.extent = u32le(img, off + 2)
        self.size = u32le(img, off + 10)
        self.flags = img[off + 25]
        n = img[off + 32]
        self.iso_name = bytes(img[off + 33 : off + 33 + n])
        s = off + 33 + n + (1 - n % 2)
        self.susp = list(susp_entries(img, s, off + self.len))

    def is_dir(self):
        return bool(self.flags & 2)

    def entry(self, sig):
        found = [e for e in self.susp if e[0] == sig]
        assert found, f"{self.path}: no {sig} entry"
        return found[0]


def susp_entries(img, start, end, follow=True, hops=0):
    """(signature, absolute offset, length) of each SUSP entry, following
    CE once per area (the base images have no loops)."""
    p = start
    while p + 4 <= end:
        sig = bytes(img[p : p + 2]).decode("latin-1")
        ln = img[p + 2]
        if ln < 4 or p + ln > end:
            break
        yield (sig, p, ln)
        if sig == "ST":
            break
        if sig == "CE" and follow and hops < 8:
            blk, off, cl = u32le(img, p + 4), u32le(img, p + 12), u32le(img, p + 20)
            a = blk * B + off
            yield from susp_entries(img, a, a + cl, follow, hops + 1)
        p += ln


def rr_name(img, rec):
    parts = []
    for sig, o, ln in rec.susp:
        if sig == "NM" and not img[o + 4] & 6:
            parts.append(bytes(img[o + 5 : o + ln]))
    return b"".join(parts).decode("utf-8", "surrogateescape") if parts else None


def records(img, extent, size):
    """Offsets of the records of one directory (not . and ..)."""
    out = []
    for s in range((size + B - 1) // B):
        base = (extent + s) * B
        p = 0
        while p < B:
            ln = img[base + p]
            if ln == 0:
                break
            if not (img[base + p + 32] == 1 and img[base + p + 33] in (0, 1)):  # not . or ..
                out.append(base + p)
            p += ln
    return out


def iso_tree(img):
    """path -> Rec for every record of the primary (Rock Ridge) tree, not
    following CL; relocated directories appear under rr_moved/ by name."""
    root = Rec(img, 16 * B + 156, "")
    out = {"": root}
    stack = [root]
    while stack:
        d = stack.pop()
        for off in records(img, d.extent, d.size):
            r = Rec(img, off, "")
            name = rr_name(img, r) or r.iso_name.decode("latin-1")
            r.path = f"{d.path}/{name}" if d.path else name
            key = r.path
            n = 2
            while key in out:  # rr_moved/ holds many "d"
                key = f"{r.path}#{n}"
                n += 1
            out[key] = r
            if r.is_dir() and not any(e[0] == "CL" for e in r.susp):
                stack.append(r)
    return out


def pd(n):
    assert n == 0 or n >= 4, f"padding of {n} bytes cannot be a PD entry"
    return b"PD" + bytes([n, 1]) + bytes(n - 4) if n else b""


def replace_entry(img, o, ln, new):
    """Puts `new` where the SUSP entry at `o` (length `ln`) was; the rest
    becomes a PD (padding) entry, so every later entry stays where it is."""
    assert len(new) <= ln, (len(new), ln)
    img[o : o + ln] = new + pd(ln - len(new))


def nm(name: bytes, flags=0):
    return b"NM" + bytes([5 + len(name), 1, flags]) + name


def ce(block, off, ln):
    return (b"CE" + bytes([28, 1]) + struct.pack("<I", block) + struct.pack(">I", block)
            + struct.pack("<I", off) + struct.pack(">I", off)
            + struct.pack("<I", ln) + struct.pack(">I", ln))


def cl(block):
    return b"CL" + bytes([12, 1]) + struct.pack("<I", block) + struct.pack(">I", block)


def set_name(img, rec, name: bytes):
    """Gives `rec` the Rock Ridge name `name` (its NM entry rewritten)."""
    nms = [e for e in rec.susp if e[0] == "NM"]
    assert len(nms) == 1, f"{rec.path}: {len(nms)} NM entries"
    _, o, ln = nms[0]
    replace_entry(img, o, ln, nm(name))


# ------------------------------------------------------------ UDF parsing


def udf_crc(data):
    crc = 0
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def udf_fix_tag(img, o):
    crc_len = struct.unpack_from("<H", img, o + 10)[0]
    struct.pack_into("<H", img, o + 8, udf_crc(img[o + 16 : o + 16 + crc_len]))
    img[o + 4] = 0
    img[o + 4] = sum(img[o : o + 16]) & 0xFF


def tag_id(img, o):
    return struct.unpack_from("<H", img, o)[0]


class Udf:
    """Just enough of ECMA-167 to find things: anchor -> VDS -> partition
    start, FSD -> root ICB; file entries (tag 261) and FIDs (tag 257)."""

    def __init__(self, img):
        self.img = img
        a = 256 * B
        assert tag_id(img, a) == 2, "anchor"
        ln, loc = u32le(img, a + 16), u32le(img, a + 20)
        self.part_start = None
        fsd = None
        for i in range(ln // B):
            o = (loc + i) * B
            t = tag_id(img, o)
            if t == 5:
                self.part_start = u32le(img, o + 188)
                self.part_len = u32le(img, o + 192)
            if t == 6:
                assert u32le(img, o + 268) == 1, "one partition map"
                fsd = u32le(img, o + 248 + 4)
            if t == 8:
                break
        assert self.part_start is not None and fsd is not None
        fo = self.block(fsd)
        assert tag_id(img, fo) == 256, "file set descriptor"
        self.root = u32le(img, fo + 400 + 4)

    def block(self, lbn):
        return (self.part_start + lbn) * B

    def fe(self, lbn):
        o = self.block(lbn)
        assert tag_id(self.img, o) in (261, 266), f"file entry at {lbn}"
        return o

    def fe_layout(self, o):
        """(L_EA offset, L_AD offset, first EA/AD byte) of an FE or EFE."""
        if tag_id(self.img, o) == 261:
            return o + 168, o + 172, o + 176
        return o + 208, o + 212, o + 216

    def ads(self, o):
        """Short or long ADs of a file entry: (absolute offset, len, lbn)."""
        img = self.img
        lea_at, lad_at, first = self.fe_layout(o)
        flags = struct.unpack_from("<H", img, o + 16 + 18)[0] & 7
        assert flags in (0, 1), f"short_ad or long_ad expected, ICB flags {flags}"
        p = first + u32le(img, lea_at)
        out = []
        for q in range(p, p + u32le(img, lad_at), 8 if flags == 0 else 16):
            out.append((q, u32le(img, q), u32le(img, q + 4)))
        return out

    def data(self, o):
        img = self.img
        flags = struct.unpack_from("<H", img, o + 16 + 18)[0] & 7
        lea_at, lad_at, first = self.fe_layout(o)
        if flags == 3:  # embedded
            p = first + u32le(img, lea_at)
            return p, bytes(img[p : p + u32le(img, lad_at)])
        buf = b""
        for _, ln, pos in self.ads(o):
            buf += bytes(img[self.block(pos) : self.block(pos) + (ln & 0x3FFFFFFF)])
        return None, buf

    def fids(self, dir_lbn):
        """name -> (absolute FID offset, ICB lbn, directory FE offset)."""
        o = self.fe(dir_lbn)
        emb, data = self.data(o)
        out = {}
        base = emb if emb is not None else self.block(self.ads(o)[0][2])
        p = 0
        while p + 38 <= len(data):
            assert tag_id(self.img, base + p) == 257, "FID"
            lfi = self.img[base + p + 19]
            liu = struct.unpack_from("<H", self.img, base + p + 36)[0]
            icb = u32le(self.img, base + p + 24)
            raw = bytes(self.img[base + p + 38 + liu : base + p + 38 + liu + lfi])
            if lfi:
                assert raw[0] == 8, "8-bit CS0 names"
                # The FE's own CRC covers embedded FIDs: fix it after a patch.
                out[raw[1:].decode("latin-1")] = (base + p, icb, o if emb is not None else None)
            p += (38 + lfi + liu + 3) // 4 * 4
        return out

    def find(self, path):
        lbn = self.root
        fid = None
        for part in path.split("/"):
            fid = self.fids(lbn)[part]
            lbn = fid[1]
        return fid, lbn


# ------------------------------------------------------------- the cases

CASES = {}


def case(name, base, what):
    def deco(f):
        CASES[name] = (base, what, f)
        return f
    return deco


@case("dir_to_root", "base.iso", "loop/up's extent is the root's: a child pointing at an ancestor")
def _(img, t, info):
    r = t["loop/up"]
    put_both32(img, r.off + 2, t[""].extent)
    put_both32(img, r.off + 10, t[""].size)


@case("dir_to_self", "base.iso", "loop/self's extent is loop/'s own: a directory containing itself")
def _(img, t, info):
    r = t["loop/self"]
    put_both32(img, r.off + 2, t["loop"].extent)
    put_both32(img, r.off + 10, t["loop"].size)


@case("ce_self", "base.iso", "ce1's continuation area ends in a CE pointing at itself")
def _(img, t, info):
    rec = t["ce/ce1_" + "L" * 248]
    _, o, _ = rec.entry("CE")
    blk, off, ln = u32le(img, o + 4), u32le(img, o + 12), u32le(img, o + 20)
    for sig, eo, el in rec.susp:  # the name only from the area
        if sig == "NM":
            img[eo : eo + 2] = b"PD"
    a = blk * B + off
    body = nm(b"ce_self_name") + ce(blk, off, ln)
    img[a : a + ln] = body + pd(ln - len(body))


@case("ce_cycle", "base.iso", "ce2's and ce3's continuation areas point at each other")
def _(img, t, info):
    areas = []
    for i in (2, 3):
        rec = t[f"ce/ce{i}_" + "L" * 248]
        _, o, _ = rec.entry("CE")
        for sig, eo, el in rec.susp:
            if sig == "NM":
                img[eo : eo + 2] = b"PD"
        areas.append((u32le(img, o + 4), u32le(img, o + 12), u32le(img, o + 20)))
    for (blk, off, ln), (nb, no, nl), nm_ in zip(areas, areas[::-1], (b"cycle_a", b"cycle_b")):
        a = blk * B + off
        body = nm(nm_) + ce(nb, no, nl)
        img[a : a + ln] = body + pd(ln - len(body))


@case("ce_len_max", "base.iso", "ce4's CE entry claims a continuation area of 0xFFFFFFFF bytes")
def _(img, t, info):
    _, o, _ = t["ce/ce4_" + "L" * 248].entry("CE")
    struct.pack_into("<I", img, o + 20, 0xFFFFFFFF)
    struct.pack_into(">I", img, o + 24, 0xFFFFFFFF)


def cl_record(t):
    g = t["deep/a/b/c/d/e/f/g"]
    assert any(e[0] == "CL" for e in g.susp), "xorriso relocated g (CL in f)"
    return g


@case("cl_to_root", "base.iso", "deep/.../f/g's CL (child link) points at the root directory")
def _(img, t, info):
    _, o, _ = cl_record(t).entry("CL")
    put_both32(img, o + 4, t[""].extent)


@case("cl_to_parent", "base.iso", "deep/.../f/g's CL points at f itself (the directory holding it)")
def _(img, t, info):
    _, o, _ = cl_record(t).entry("CL")
    put_both32(img, o + 4, t["deep/a/b/c/d/e/f"].extent)


@case("cl_cycle", "base.iso", "rr_moved/g/h gets a CL back to f: f -CL-> g -> h -CL-> f")
def _(img, t, info):
    h = t["rr_moved/g/h"]
    sig, o, ln = h.entry("TF")
    replace_entry(img, o, ln, cl(t["deep/a/b/c/d/e/f"].extent))


@case("dir_len_max", "base.iso", "bigdir's data length is 0xFFFFF800 (~u32::MAX)")
def _(img, t, info):
    put_both32(img, t["bigdir"].off + 10, 0xFFFFF800)


@case("dir_len_past_end", "base.iso", "vastdir's data length claims 4x the image's sectors")
def _(img, t, info):
    put_both32(img, t["vastdir"].off + 10, min(len(img) * 4, 0x7FFFF800) // B * B)


@case("file_past_end", "base.iso", "data/far.bin's extent starts far past the end of the image")
def _(img, t, info):
    put_both32(img, t["data/far.bin"].off + 2, 0x00F00000)


@case("file_len_max", "base.iso", "data/huge.bin's data length is 0xFFFFFFFF")
def _(img, t, info):
    put_both32(img, t["data/huge.bin"].off + 10, 0xFFFFFFFF)


@case("overlap", "base.iso", "data/b.bin is a.bin's extent from its second block on (legal)")
def _(img, t, info):
    a, b = t["data/a.bin"], t["data/b.bin"]
    put_both32(img, b.off + 2, a.extent + 1)
    put_both32(img, b.off + 10, a.size - B)


def patch_reclen(img, t, d, v):
    r = t[f"{d}/f2.txt"]
    assert r.off // B == t[f"{d}/f5.txt"].off // B, "f2..f5 in one sector"
    img[r.off] = v


@case("reclen0", "base.iso", "recs0/f2.txt's record length is 0 mid-sector")
def _(img, t, info):
    patch_reclen(img, t, "recs0", 0)


@case("reclen1", "base.iso", "recs1/f2.txt's record length is 1 mid-sector")
def _(img, t, info):
    patch_reclen(img, t, "recs1", 1)


@case("reclen255", "base.iso", "recs255/f2.txt's record length is 255 mid-sector")
def _(img, t, info):
    patch_reclen(img, t, "recs255", 255)


# Rock Ridge names for the slots of names/ (slot number -> name bytes).
NAMES = {
    1: b"a/b",
    2: b"back\\slash",
    3: b"..",
    4: b".",
    5: b"",
    6: b"nul\x00byte",
    7: b"line\nbreak",
    8: b"esc\x1b[31mred",
    9: b"CON",
    10: b"nul.txt",
    11: b"AUX",
    12: b"dup",
    13: b"dup",
    14: b"tab\there",
    15: b"del\x7fchar",
    16: b"bad\xff\xfeutf8",
}


@case("names", "base.iso", "names/slotNN get hostile Rock Ridge names (NAMES)")
def _(img, t, info):
    for i, n in NAMES.items():
        set_name(img, t[f"names/slot{i:02d}_{SLOT_PAD}"], n)
    info["names"] = {str(i): list(n) for i, n in NAMES.items()}


@case("evil", "base.iso", "links/evilzzzz (a directory with a file) renamed to evil, like the symlink")
def _(img, t, info):
    set_name(img, t["links/evilzzzz"], b"evil")
    set_name(img, t["links/revzzzz"], b"rev")


@case("long_name", "base.iso", "ce5's name: 4000 bytes of NM entries in a continuation area moved to pool.bin's blocks")
def _(img, t, info):
    rec = t["ce/ce5_" + "L" * 248]
    for sig, eo, el in rec.susp:
        if sig == "NM":
            img[eo : eo + 2] = b"PD"
    pool = t["pool.bin"]
    body = b""
    left = 4000
    while left:
        n = min(250, left)
        left -= n
        body += nm(b"N" * n, 1 if left else 0)
    body += pd(B * 2 + 100 - len(body))
    assert len(body) <= pool.size
    _, o, _ = rec.entry("CE")
    put_both32(img, o + 4, pool.extent)
    put_both32(img, o + 12, 0)
    put_both32(img, o + 20, len(body))
    a = pool.extent * B
    img[a : a + len(body)] = body


# ---- UDF


def fe_of(u, path):
    _, lbn = u.find(path)
    return u.fe(lbn), lbn


@case("udf_size_2p60", "udf.img", "big.bin's file entry says 2^60 bytes")
def _(img, t, info):
    o, _ = fe_of(t, "big.bin")
    struct.pack_into("<Q", img, o + 56, 1 << 60)
    udf_fix_tag(img, o)


@case("udf_ad_past_end", "udf.img", "far.bin's extent: length 2^30-1 at a block past the partition end")
def _(img, t, info):
    o, _ = fe_of(t, "far.bin")
    q, ln, pos = t.ads(o)[0]
    struct.pack_into("<I", img, q, 0x3FFFFFFF)
    struct.pack_into("<I", img, q + 4, t.part_len + 1000)
    struct.pack_into("<Q", img, o + 56, 0x3FFFFFFF)
    udf_fix_tag(img, o)


@case("udf_lad_max", "udf.img", "lad.bin's file entry: L_AD = 0xFFFFFFF0")
def _(img, t, info):
    o, _ = fe_of(t, "lad.bin")
    lea_at, lad_at, _ = t.fe_layout(o)
    struct.pack_into("<I", img, lad_at, 0xFFFFFFF0)
    udf_fix_tag(img, o)


@case("udf_lea_max", "udf.img", "lea.bin's file entry: L_EA = 0xFFFFFFF0")
def _(img, t, info):
    o, _ = fe_of(t, "lea.bin")
    lea_at, lad_at, _ = t.fe_layout(o)
    struct.pack_into("<I", img, lea_at, 0xFFFFFFF0)
    udf_fix_tag(img, o)


def set_fid_name(img, fid_off, name: bytes):
    """Rewrites a FID's identifier in place: the bytes a shorter name frees
    go to the implementation-use field before it (L_IU grows, zeros), so
    the FID keeps its size and every later FID stays where it is."""
    lfi = img[fid_off + 19]
    liu = struct.unpack_from("<H", img, fid_off + 36)[0]
    assert len(name) <= lfi, (name, lfi)
    p = fid_off + 38
    new_liu = liu + lfi - len(name)
    img[p : p + liu + lfi] = bytes(new_liu) + name
    img[fid_off + 19] = len(name)
    struct.pack_into("<H", img, fid_off + 36, new_liu)


def fix_fid(img, fid):
    udf_fix_tag(img, fid[0])
    if fid[2] is not None:
        udf_fix_tag(img, fid[2])


UDF_NAMES = {
    "n1_" + "p" * 30: b"\x08a/b",
    "n2_" + "p" * 30: b"\x08nul\x00byte",
    "n3_" + "p" * 30: b"\x08line\nesc\x1b[0m",
    "n4_" + "p" * 30: b"\x10\x00o\x00d\x00",  # 16-bit CS0, odd byte count
    "n5_" + "p" * 30: b"\x08..",
    "n6_" + "p" * 30: b"\x08",  # only the compression ID: an empty name
}


@case("udf_names", "udf.img", "FIDs of n1..n6 get hostile names (UDF_NAMES)")
def _(img, t, info):
    fids = t.fids(t.root)
    for old, new in UDF_NAMES.items():
        set_fid_name(img, fids[old][0], new)
        fix_fid(img, fids[old])


@case("udf_dir_to_root", "udf.img", "sub/loop's FID points at the root's file entry")
def _(img, t, info):
    fid, _ = t.find("sub/loop")
    struct.pack_into("<I", img, fid[0] + 24, t.root)
    fix_fid(img, fid)


@case("udf_fid_liu_max", "udf.img", "sub's FID (the root's last): L_IU = 0xFFFF, past the directory's end")
def _(img, t, info):
    fid = t.fids(t.root)["sub"]
    struct.pack_into("<H", img, fid[0] + 36, 0xFFFF)
    fix_fid(img, fid)


# ------------------------------------------------------------------ main


def build_udf(t, img):
    blocks = 32768
    label = "HOSTILE"
    run("mkudffs", "--media-type=hd", "-b", str(B), "--udfrev=2.01", "--uuid=0123456789abcdef",
        f"--label={label}", f"--vsid={label}", f"--fsid={label}", "--new-file", img, str(blocks),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cmds = f"cd 0123456789abcdef{label}:{label}:{label}:{label}\n"
    cmds += "".join(f'put "{n}"\n' for n in sorted(os.listdir(t))) + "quit\n"
    r = subprocess.run(["timeout", "120", "udfclient", "-W", "-b", str(B), img], cwd=t,
                       input=cmds.encode(), capture_output=True)
    log = r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")
    if r.returncode != 0 or "discs full" in log or "Can't" in log or "rror" in log:
        sys.exit(f"udfclient could not populate {img}:\n{log}")


def make_udf_tree(t):
    os.makedirs(t)

    def w(rel, data):
        write_file(t, rel, data)

    w("keep.txt", b"keep me\n")
    w("big.bin", pattern("udfbig", 3 * B + 7))
    w("far.bin", pattern("udffar", 2 * B))
    w("lad.bin", pattern("udflad", B + 1))
    w("lea.bin", pattern("udflea", B + 2))
    w("sub/loop/inside.txt", b"inside\n")
    w("sub/other.txt", b"other\n")
    for old in UDF_NAMES:
        w(old, f"{old[:2]}\n".encode())


def main():
    # --patch-only: reuse the base images already in OUTDIR (development).
    patch_only = sys.argv[1] == "--patch-only"
    out = os.path.abspath(sys.argv[-1])
    os.makedirs(out, exist_ok=True)
    if not patch_only:
        build_bases(out)
    patch_all(out)


def build_bases(out):
    work = os.path.join(out, ".work")
    run("rm", "-rf", work)  # shutil.rmtree recurses per level
    os.makedirs(work)
    env = dict(os.environ, LC_ALL="C.UTF-8", TZ="UTC")
    tree = os.path.join(work, "tree")
    make_tree(tree)
    run("xorriso", "-as", "mkisofs", "-quiet", "-R", "-rr_reloc_dir", "rr_moved", "-V", "HOSTILE",
        "-o", os.path.join(out, "base.iso"), tree, env=env, stderr=subprocess.DEVNULL)
    manifest(tree, os.path.join(out, "base.ref.jsonl"))
    # 2,020 levels (4,042-byte paths): xorriso takes paths of up to 4,096
    # bytes with the source directory's, so that one sits in a short one.
    short = tempfile.mkdtemp(dir="/tmp" if os.path.isdir("/tmp") else None)
    try:
        deep = os.path.join(short, "deep")
        rows = make_deep(deep, DEEP)
        run("xorriso", "-as", "mkisofs", "-quiet", "-R", "-rr_reloc_dir", "rr_moved", "-V", "DEEP",
            "-o", os.path.join(out, "deep.iso"), deep, env=env, stderr=subprocess.DEVNULL)
    finally:
        run("rm", "-rf", short)
    with open(os.path.join(out, "deep.ref.jsonl"), "w") as f:
        f.writelines(json.dumps(r, sort_keys=True) + "\n" for r in sorted(rows, key=lambda r: r["path"]))
    utree = os.path.join(work, "udftree")
    make_udf_tree(utree)
    build_udf(utree, os.path.join(out, "udf.img"))
    manifest(utree, os.path.join(out, "udf.ref.jsonl"))
    run("rm", "-rf", work)


def write_sparse(path, img):
    """Writes `img` leaving holes for all-zero MiB (the UDF image is 64 MiB,
    mostly empty; seven copies of it would otherwise take 450 MB)."""
    chunk = 1 << 20
    zero = bytes(chunk)
    with open(path, "wb") as f:
        for o in range(0, len(img), chunk):
            part = img[o : o + chunk]
            if part == zero[: len(part)]:
                f.seek(len(part), os.SEEK_CUR)
            else:
                f.write(part)
        f.truncate(len(img))


def patch_all(out):
    bases = {}
    for name in ("base.iso", "udf.img"):
        with open(os.path.join(out, name), "rb") as f:
            bases[name] = f.read()
    parsed = {"base.iso": iso_tree(bytearray(bases["base.iso"])),
              "udf.img": Udf(bytearray(bases["udf.img"]))}
    meta = {}
    for cname, (base, what, f) in CASES.items():
        img = bytearray(bases[base])
        t = parsed[base]
        if isinstance(t, Udf):
            t = Udf(img)  # the UDF helper reads through its image
        info = {"base": base, "what": what, "image_len": len(img)}
        f(img, t, info)
        assert img != bytearray(bases[base]), f"{cname}: nothing changed"
        ext = os.path.splitext(base)[1]
        write_sparse(os.path.join(out, cname + ext), img)
        meta[cname] = info
    with open(os.path.join(out, "cases.json"), "w") as f:
        json.dump(meta, f, indent=1, sort_keys=True)
    print(f"hostile: {len(meta)} cases in {out}")


if __name__ == "__main__":
    main()
