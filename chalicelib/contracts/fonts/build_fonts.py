"""Rebuilds the shipped font subsets from Debian's packages (run by hand; never at run time).

    apt-get install fonts-droid-fallback fonts-dejavu-core
    .venv/bin/python chalicelib/contracts/fonts/build_fonts.py

CJK: Droid Sans Fallback (Apache-2.0) cut to the CJK Unified Ideographs block, CJK punctuation
and full-width forms. Latin: DejaVu Sans (Bitstream Vera / DejaVu licence) cut to Latin,
Latin-1, Latin Extended-A, general punctuation and currency signs. Hinting is dropped (PDF
viewers rasterise outlines themselves); the result is what the Lambda artifact ships.
"""

from __future__ import annotations

from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont

HERE = Path(__file__).resolve().parent
SOURCES = {
    "CJKSans.ttf": ("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
                    [*range(0x3000, 0x3040), *range(0x4E00, 0xA000), *range(0xFF00, 0xFFF0),
                     0x00B7, 0x2014, 0x2018, 0x2019, 0x201C, 0x201D, 0x2026]),
    "LatinSans.ttf": ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
                      [*range(0x20, 0x7F), *range(0xA0, 0x180), *range(0x2000, 0x2070),
                       *range(0x20A0, 0x20C0), 0x2116, 0x2122]),
}


def build(name: str, source: str, codepoints: list[int]) -> int:
    font = TTFont(source)
    cmap = font.getBestCmap()
    options = subset.Options()
    options.layout_features = []
    options.hinting = False
    options.name_IDs = ["*"]
    options.notdef_outline = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=[c for c in codepoints if c in cmap])
    subsetter.subset(font)
    font.save(HERE / name)
    return (HERE / name).stat().st_size


if __name__ == "__main__":
    for out, (src, cps) in SOURCES.items():
        print(out, build(out, src, cps), "bytes")
