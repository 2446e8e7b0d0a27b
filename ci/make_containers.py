#!/usr/bin/env python3
"""Wraps an ISO image in the CD containers isomount reads, from the public
byte layouts (no third-party code): raw sectors (ECMA-130 / Yellow Book),
cue sheets (CDRWIN), Nero NRG v1/v2, Alcohol MDF/MDS v1, CloneCD CCD/IMG/SUB.

    make_containers.py ISO OUTDIR
    make_containers.py --cdextra ISO OUTDIR   (ISO mastered at disc address 11750)

Raw sectors carry the sync pattern, the BCD address header, the Mode 2
subheader and a computed EDC (CRC-32 with polynomial 0x8001801B, ECMA-130
14.3); the Reed-Solomon P/Q ECC bytes are left ZERO (every reader we check
against, like isomount, ignores them).
"""
import hashlib
import os
import struct
import sys

SYNC = b"\x00" + b"\xff" * 10 + b"\x00"


def _edc_table():
    t = []
    for i in range(256):
        e = i
        for _ in range(8):
            e = (e >> 1) ^ (0xD8018001 if e & 1 else 0)
        t.append(e)
    return t


EDC_T = _edc_table()


def edc(data):
    e = 0
    for b in data:
        e = EDC_T[(e ^ b) & 0xFF] ^ (e >> 8)
    return struct.pack("<I", e)


def bcd(n):
    return ((n // 10) << 4) | (n % 10)


def header(lba, mode):
    a = lba + 150
    return SYNC + bytes([bcd(a // 4500), bcd(a // 75 % 60), bcd(a % 75), mode])


SUB_F1 = bytes([0, 0, 0x08, 0]) * 2  # file, channel, submode (data), coding; twice


def mode1(lba, user):
    s = header(lba, 1) + user
    s += edc(s) + b"\x00" * 8
    return s + b"\x00" * 276  # ECC P/Q left zero


def mode2f1(lba, user):
    body = SUB_F1 + user
    return header(lba, 2) + body + edc(body) + b"\x00" * 276


def mode2_2336(user):
    body = SUB_F1 + user
    return body + edc(body) + b"\x00" * 276


def audio(n, seed):
    out, i = bytearray(), 0
    while len(out) < n * 2352:
        out += hashlib.sha256(seed + i.to_bytes(8, "little")).digest()
        i += 1
    return bytes(out[: n * 2352])


def sectors(iso):
    return [iso[i : i + 2048] for i in range(0, len(iso), 2048)]


def msf(frames):
    return "%02d:%02d:%02d" % (frames // 4500, frames // 75 % 60, frames % 75)


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def main():
    iso_path, out = sys.argv[1], sys.argv[2]
    iso = open(iso_path, "rb").read()
    assert len(iso) % 2048 == 0
    secs = sectors(iso)
    n = len(secs)
    j = lambda name: os.path.join(out, name)

    m1 = b"".join(mode1(i, s) for i, s in enumerate(secs))
    write(j("mode1.bin"), m1)
    write(j("mode1.cue"), b'FILE "mode1.bin" BINARY\n  TRACK 01 MODE1/2352\n    INDEX 01 00:00:00\n')

    m2 = b"".join(mode2f1(i, s) for i, s in enumerate(secs))
    write(j("mode2form1.bin"), m2)
    write(j("mode2form1.cue"), b'FILE "mode2form1.bin" BINARY\n  TRACK 01 MODE2/2352\n    INDEX 01 00:00:00\n')

    write(j("mode2_2336.bin"), b"".join(mode2_2336(s) for s in secs))
    write(j("mode2_2336.cue"), b"FILE mode2_2336.bin BINARY\n  TRACK 01 MODE2/2336\n    INDEX 01 00:00:00\n")

    # Audio track 1 (200 sectors), then data track 2 in the same file with a
    # stored 150-sector pregap (INDEX 00) before its INDEX 01.
    a = audio(200, b"track1")
    gap = b"".join(mode1(200 + i, b"\x00" * 2048) for i in range(150))
    data = b"".join(mode1(350 + i, s) for i, s in enumerate(secs))
    write(j("audio-first.bin"), a + gap + data)
    write(
        j("audio-first.cue"),
        (
            'REM made by ci/make_containers.py\r\nFILE "audio-first.bin" BINARY\r\n'
            "  TRACK 01 AUDIO\r\n    INDEX 01 00:00:00\r\n"
            "  TRACK 02 MODE1/2352\r\n    INDEX 00 %s\r\n    INDEX 01 %s\r\n" % (msf(200), msf(350))
        ).encode(),
    )

    # Data track first, audio second, in two files whose names need quotes; CRLF.
    write(j("data first.bin"), m1)
    write(j("audio second.bin"), audio(100, b"track2"))
    write(
        j("data-first.cue"),
        (
            'FILE "data first.bin" BINARY\r\n  TRACK 01 MODE1/2352\r\n    INDEX 01 00:00:00\r\n'
            'FILE "audio second.bin" BINARY\r\n  TRACK 02 AUDIO\r\n    PREGAP 00:02:00\r\n    INDEX 01 00:00:00\r\n'
        ).encode(),
    )

    # Nero v2 (NER5, DAOX): Mode 1 cooked 2048, 150-sector pregap stored as
    # Nero does (index 0 at 0, index 1 at 307200).
    def nrg(v2, mode_code, sector_size, body, pregap_bytes):
        img = bytearray(pregap_bytes + body)
        i0, i1, end = 0, len(pregap_bytes), len(img)
        chunks = b""
        dao = struct.pack(">I", 0) + b"\x00" * 14 + struct.pack(">HBB", 0, 1, 1)
        dao += b"\x00" * 12 + struct.pack(">H", sector_size) + bytes([mode_code, 0, 0, 1])
        if v2:
            dao += struct.pack(">QQQ", i0, i1, end)
        else:
            dao += struct.pack(">III", i0, i1, end)
        dao = struct.pack(">I", len(dao)) + dao[4:]
        cues = b""
        for idx, pos in ((0, 0), (1, i1 // sector_size)):
            cues += bytes([0x41, 1, idx, 0]) + struct.pack(">i", pos - 150)
        sinf = struct.pack(">I", 1)
        mtyp = struct.pack(">I", 1)
        for cid, payload in (
            (b"CUEX" if v2 else b"CUES", cues),
            (b"DAOX" if v2 else b"DAOI", dao),
            (b"SINF", sinf),
            (b"MTYP", mtyp),
            (b"END!", b""),
        ):
            chunks += cid + struct.pack(">I", len(payload)) + payload
        start = len(img)
        img += chunks
        img += b"NER5" + struct.pack(">Q", start) if v2 else b"NERO" + struct.pack(">I", start)
        return bytes(img)

    write(j("image.nrg"), nrg(True, 0x00, 2048, iso, b"\x00" * (150 * 2048)))
    write(j("image-v1.nrg"), nrg(False, 0x00, 2048, iso, b"\x00" * (150 * 2048)))
    write(j("image-raw.nrg"), nrg(True, 0x05, 2352, m1, b"".join(mode1(i, b"\x00" * 2048) for i in range(150))))

    # Nero v2 track-at-once (ETN2): Mode 1 cooked 2048 from byte 0.
    img = bytearray(iso)
    etn2 = struct.pack(">QQIIQ", 0, len(iso), 0, 0, 0)  # offset, length, mode, LBA, reserved: 32 bytes
    start = len(img)
    for cid, payload in ((b"ETN2", etn2), (b"SINF", struct.pack(">I", 1)), (b"END!", b"")):
        img += cid + struct.pack(">I", len(payload)) + payload
    img += b"NER5" + struct.pack(">Q", start)
    write(j("image-tao.nrg"), bytes(img))

    # Alcohol 120%: MDF = raw sectors from LBA 0; MDS v1 descriptor.
    write(j("image.mdf"), m1)
    write(j("image.mds"), mds([(0xAA, 2352, n)]))
    write(j("alone.mdf"), m1)
    # Audio track 1 (200 sectors) then the data track, in one MDF.
    write(j("mixed.mdf"), audio(200, b"mixed") + m1)
    write(j("mixed.mds"), mds([(0xA9, 2352, 200), (0xAA, 2352, n)]))

    # Alcohol with subchannel: 2448-byte sectors (96 zero subchannel bytes each).
    sub = b"".join(mode1(i, s) + b"\x00" * 96 for i, s in enumerate(secs))
    write(j("sub.mdf"), sub)
    write(j("sub.mds"), mds([(0xAA, 2448, n)], subchannel=8))
    write(j("sub-alone.mdf"), sub)

    # CloneCD: raw .img, .ccd control file, .sub (96 bytes a sector, zero).
    write(j("image.img"), m1)
    write(j("image.sub"), b"\x00" * (96 * n))
    write(j("image.ccd"), ccd(n).encode())
    # CloneCD of a Mode 2 (XA Form 1) disc.
    write(j("mode2.img"), m2)
    write(j("mode2.ccd"), ccd(n).replace("MODE=1", "MODE=2").encode())


def cdextra(iso_path, out):
    """CD-Extra: audio session 1 (200 sectors), data in session 2 mastered at
    disc address 11750 (200 + the 11400-sector session gap + 150 pregap), so
    its ISO 9660 addresses are absolute; the rip stores only audio, the
    150-sector pregap and the data track (as real BIN/CUE rips do)."""
    iso = open(iso_path, "rb").read()
    data = b"".join(mode1(11750 + i, s) for i, s in enumerate(sectors(iso)))
    gap = b"".join(mode1(11600 + i, b"\x00" * 2048) for i in range(150))
    write(os.path.join(out, "cdextra.bin"), audio(200, b"extra") + gap + data)
    write(
        os.path.join(out, "cdextra.cue"),
        (
            'REM SESSION 01\nFILE "cdextra.bin" BINARY\n  TRACK 01 AUDIO\n    INDEX 01 00:00:00\n'
            "REM SESSION 02\n  TRACK 02 MODE1/2352\n    INDEX 00 %s\n    INDEX 01 %s\n" % (msf(200), msf(350))
        ).encode(),
    )


def mds(tracks, subchannel=0):
    """MDS v1: header, one session, A0/A1/A2 TOC blocks, track blocks, extra blocks."""
    nblocks = len(tracks) + 3
    hdr = bytearray(0x58)
    hdr[:16] = b"MEDIA DESCRIPTOR"
    hdr[0x10:0x12] = bytes([1, 3])
    struct.pack_into("<HH", hdr, 0x12, 0, 1)
    struct.pack_into("<I", hdr, 0x50, 0x58)
    total = sum(t[2] for t in tracks)
    sess = struct.pack("<iiHBBHHII", -150, total, 1, nblocks, 3, 1, len(tracks), 0, 0x58 + 24)
    extra_at = 0x58 + 24 + 80 * nblocks
    blocks = b""
    for point in (0xA0, 0xA1, 0xA2):
        b = bytearray(80)
        b[0] = 0xA0 if False else 0
        b[2] = 0x14
        b[4] = point
        blocks += bytes(b)
    off = lba = 0
    for i, (code, size, count) in enumerate(tracks):
        b = bytearray(80)
        b[0], b[1], b[2], b[4] = code, subchannel, 0x14, i + 1
        a = lba + 150
        b[9], b[10], b[11] = a // 4500, a // 75 % 60, a % 75
        struct.pack_into("<I", b, 0x0C, extra_at + 8 * i)
        struct.pack_into("<H", b, 0x10, size)
        struct.pack_into("<I", b, 0x24, lba)
        struct.pack_into("<Q", b, 0x28, off)
        blocks += bytes(b)
        off += size * count
        lba += count
    extras = b"".join(struct.pack("<II", 0 if i else 150, t[2]) for i, t in enumerate(tracks))
    return bytes(hdr) + sess + blocks + extras


def ccd(n):
    return (
        "[CloneCD]\r\nVersion=3\r\n[Disc]\r\nTocEntries=4\r\nSessions=1\r\nDataTracksScrambled=0\r\n"
        "CDTextLength=0\r\n[Session 1]\r\nPreGapMode=1\r\nPreGapSubC=0\r\n"
        "[Entry 0]\r\nSession=1\r\nPoint=0xa0\r\nADR=0x01\r\nControl=0x04\r\nTrackNo=0\r\nAMin=0\r\nASec=0\r\n"
        "AFrame=0\r\nALBA=-150\r\nZero=0\r\nPMin=1\r\nPSec=0\r\nPFrame=0\r\nPLBA=4350\r\n"
        "[Entry 1]\r\nSession=1\r\nPoint=0xa1\r\nADR=0x01\r\nControl=0x04\r\nTrackNo=0\r\nAMin=0\r\nASec=0\r\n"
        "AFrame=0\r\nALBA=-150\r\nZero=0\r\nPMin=1\r\nPSec=0\r\nPFrame=0\r\nPLBA=4350\r\n"
        "[Entry 2]\r\nSession=1\r\nPoint=0xa2\r\nADR=0x01\r\nControl=0x04\r\nTrackNo=0\r\nAMin=0\r\nASec=0\r\n"
        "AFrame=0\r\nALBA=-150\r\nZero=0\r\nPMin=%d\r\nPSec=%d\r\nPFrame=%d\r\nPLBA=%d\r\n"
        "[Entry 3]\r\nSession=1\r\nPoint=0x01\r\nADR=0x01\r\nControl=0x04\r\nTrackNo=0\r\nAMin=0\r\nASec=0\r\n"
        "AFrame=0\r\nALBA=-150\r\nZero=0\r\nPMin=0\r\nPSec=2\r\nPFrame=0\r\nPLBA=0\r\n"
        "[TRACK 1]\r\nMODE=1\r\nINDEX 1=0\r\n"
    ) % ((n + 150) // 4500, (n + 150) // 75 % 60, (n + 150) % 75, n)


if __name__ == "__main__":
    if sys.argv[1] == "--cdextra":
        cdextra(sys.argv[2], sys.argv[3])
    else:
        main()
