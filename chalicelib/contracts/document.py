"""Text → PDF, deterministically: same text and title → same bytes.

The templates produce a small line-oriented markup: `# title`, `## heading`, `| a | b |` table
rows (the first row of a table is its header), `---` a rule, blank lines between paragraphs,
anything else a wrapped paragraph. Latin text uses DejaVu Sans, CJK text falls back to Droid
Sans Fallback (both subsets ship in fonts/). fpdf2 embeds only the glyphs used. The creation
date is fixed and the document id derives from the content, so re-rendering the same contract
gives the same SHA-256.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # fpdf2 and fontTools load numpy and cost ~250 ms: only rendering pays
    from fpdf import FPDF

FONTS = Path(__file__).resolve().parent / "fonts"
LATIN, CJK = FONTS / "LatinSans.ttf", FONTS / "CJKSans.ttf"
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # fixed creation date: the bytes must not vary
MAX_TABLE_COLUMNS = 12


class DocumentProblem(Exception):
    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message, self.code = message, code


@cache
def covered() -> frozenset[int]:
    """Code points the shipped fonts can draw."""
    from fontTools.ttLib import TTFont

    points: set[int] = set()
    for path in (LATIN, CJK):
        points |= set(TTFont(path).getBestCmap())
    return frozenset(points)


def missing_glyphs(text: str) -> list[str]:
    have = covered()
    return sorted({c for c in text if ord(c) not in have and c not in "\n\r\t"})


def render_pdf(text: str, title: str) -> bytes:
    missing = missing_glyphs(text + title)
    if missing:
        raise DocumentProblem("the shipped fonts cannot draw: " + "".join(missing[:20]),
                              "glyph_missing")
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_creation_date(EPOCH)
    pdf.set_title(title)
    pdf.set_producer("lending-api")
    pdf.set_creator("lending-api contracts")
    pdf.add_font("latin", fname=str(LATIN))
    pdf.add_font("cjk", fname=str(CJK))
    pdf.set_fallback_fonts(["cjk"], exact_match=False)
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()
    table: list[list[str]] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("|"):
            table.append([c.strip() for c in stripped.strip("|").split("|")][:MAX_TABLE_COLUMNS])
            continue
        if table:
            _table(pdf, table)
            table = []
        _line(pdf, stripped)
    if table:
        _table(pdf, table)
    return bytes(pdf.output())


def _line(pdf: FPDF, line: str) -> None:
    from fpdf.enums import XPos, YPos

    if not line:
        pdf.ln(3)
    elif line.startswith("## "):
        pdf.set_font("latin", size=12)
        pdf.ln(2)
        pdf.multi_cell(0, 7, line[3:], align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    elif line.startswith("# "):
        pdf.set_font("latin", size=16)
        pdf.multi_cell(0, 10, line[2:], align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    elif line == "---":
        y = pdf.get_y() + 1
        pdf.line(pdf.l_margin, y, pdf.w - pdf.r_margin, y)
        pdf.ln(3)
    else:
        pdf.set_font("latin", size=10)
        pdf.multi_cell(0, 5.5, line, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _table(pdf: FPDF, rows: list[list[str]]) -> None:
    width = max(len(r) for r in rows)
    padded = [r + [""] * (width - len(r)) for r in rows]
    pdf.set_font("latin", size=8)
    from fpdf.fonts import FontFace

    with pdf.table(first_row_as_headings=True, line_height=4.5,
                   headings_style=FontFace(emphasis=None, fill_color=(230, 230, 230)),
                   text_align="RIGHT" if width > 2 else "LEFT") as table:
        for row in padded:
            cells = table.row()
            for value in row:
                cells.cell(value)
    pdf.ln(2)
