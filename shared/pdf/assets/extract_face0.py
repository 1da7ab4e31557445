#!/usr/bin/env python3
"""Rebuild wqy-microhei-face0.ttf from the Debian `fonts-wqy-microhei` collection.

Face 0 ("WenQuanYi Micro Hei") of wqy-microhei.ttc is copied table by table into a
standalone TrueType file. Tables a PDF certificate never uses are dropped (FFTM,
GDEF, GPOS, GSUB, vhea, vmtx: no shaping, horizontal text only) and `post` is
reduced to format 3 (no glyph names). Outlines, metrics, cmap, name, OS/2 and the
hinting programs are byte-for-byte those of the original.

    python3 extract_face0.py /usr/share/fonts/truetype/wqy/wqy-microhei.ttc wqy-microhei-face0.ttf
"""
import struct
import sys

KEEP = [b"OS/2", b"cmap", b"cvt ", b"fpgm", b"gasp", b"glyf", b"head", b"hhea",
        b"hmtx", b"loca", b"maxp", b"name", b"post", b"prep"]


def checksum(data: bytes) -> int:
    data += b"\0" * (-len(data) % 4)
    return sum(struct.unpack(">%dI" % (len(data) // 4), data)) & 0xFFFFFFFF


def main(src: str, dst: str) -> None:
    d = open(src, "rb").read()
    assert d[:4] == b"ttcf"
    face0 = struct.unpack(">I", d[12:16])[0]
    sfnt_version, num_tables = struct.unpack(">IH", d[face0:face0 + 6])
    tables = {}
    for i in range(num_tables):
        tag, _, off, length = struct.unpack(">4sIII", d[face0 + 12 + 16 * i:face0 + 28 + 16 * i])
        if tag in KEEP:
            tables[tag] = bytearray(d[off:off + length])
    # post format 3: same header (italic angle, underline, fixed pitch), no names.
    post = tables[b"post"][:32]
    post[0:4] = struct.pack(">I", 0x00030000)
    tables[b"post"] = post
    tables[b"head"][8:12] = b"\0\0\0\0"  # checkSumAdjustment, recomputed below

    tags = sorted(tables)
    n = len(tags)
    entry_selector = n.bit_length() - 1
    search_range = (1 << entry_selector) * 16
    out = bytearray(struct.pack(">IHHHH", sfnt_version, n, search_range, entry_selector,
                                n * 16 - search_range))
    offset = 12 + 16 * n
    body = bytearray()
    for tag in tags:
        data = bytes(tables[tag])
        out += struct.pack(">4sIII", tag, checksum(data), offset + len(body), len(data))
        body += data + b"\0" * (-len(data) % 4)
    out += body
    head_off = 12 + 16 * n + sum(len(tables[t]) + (-len(tables[t]) % 4) for t in tags[:tags.index(b"head")])
    adjust = (0xB1B0AFBA - checksum(bytes(out))) & 0xFFFFFFFF
    out[head_off + 8:head_off + 12] = struct.pack(">I", adjust)
    open(dst, "wb").write(out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
