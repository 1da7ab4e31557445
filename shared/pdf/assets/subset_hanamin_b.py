#!/usr/bin/env python3
"""Rebuild hanamin-b-names.ttf, the fallback font for rare name characters.

HanaMinB (花園明朝B, Debian `fonts-hanazono`) covers the CJK ideographs outside the Basic
Multilingual Plane (Extension B and later). Certificates need only those that occur in
people's names, so the font is cut to the supplementary-plane ideographs of the two
character sets made for personal and place names that Python can decode offline:

- HKSCS-2008 (Hong Kong Supplementary Character Set, Python codec `big5hkscs`), and
- JIS X 0213:2004 (Python codec `euc_jis_2004`),

plus the characters in EXTRA (U+20000 𠀀, the example of issue 16). Glyph outlines and
metrics are HanaMinB's; layout tables, vertical metrics, hinting and glyph names are
dropped (no shaping, horizontal text only).

    pip install fonttools
    python3 subset_hanamin_b.py /usr/share/fonts/truetype/hanazono/HanaMinB.ttf hanamin-b-names.ttf
"""
import sys

from fontTools import subset
from fontTools.ttLib import TTFont

EXTRA = "\U00020000"


def name_characters() -> set:
    chars = set(EXTRA)
    trail = list(range(0x40, 0x7F)) + list(range(0xA1, 0xFF))
    for lead in range(0x81, 0xFF):
        for t in trail:
            try:
                chars.update(bytes([lead, t]).decode("big5hkscs"))
            except UnicodeDecodeError:
                pass
    for prefix in (b"", b"\x8f"):
        for a in range(0xA1, 0xFF):
            for b in range(0xA1, 0xFF):
                try:
                    chars.update((prefix + bytes([a, b])).decode("euc_jis_2004"))
                except UnicodeDecodeError:
                    pass
    return {c for c in chars if ord(c) >= 0x20000}


def main(src: str, dst: str) -> None:
    font = TTFont(src, recalcTimestamp=False)
    cmap = font.getBestCmap()
    wanted = sorted(ord(c) for c in name_characters() if ord(c) in cmap)
    options = subset.Options()
    options.layout_features = []
    options.drop_tables += ["BASE", "FFTM", "GDEF", "GPOS", "GSUB", "vhea", "vmtx", "DSIG"]
    options.hinting = False
    options.glyph_names = False
    options.notdef_outline = True
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=wanted)
    subsetter.subset(font)
    font.save(dst)
    print(f"{len(wanted)} characters -> {dst}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
