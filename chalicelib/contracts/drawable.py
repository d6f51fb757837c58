"""Which text a contract can carry: what the shipped fonts draw, minus invisible controls.

Applicant text is checked with this at intake (`POST /v1/applications`), so an approved
application can always be accepted (its contract always renders) and no bidirectional override
or zero-width character reaches a legal document, where it could make the text read otherwise
than it is stored. The fonts' own cmap (document.covered) is the one truth for "drawable".
"""

from __future__ import annotations

import unicodedata

from pydantic_core import PydanticCustomError

from chalicelib.contracts.document import covered

# Controls (Cc), formats (Cf: bidi embeddings, overrides and isolates, zero-width spaces and
# joiners, BOM), surrogates, private use, unassigned, and line/paragraph separators: none of
# them has a visible glyph of its own, so none may sit in a name on a contract.
INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def normalised(text: str) -> str:
    """NFC, the form that is checked, stored and drawn (a decomposed 'é' becomes one glyph)."""
    return unicodedata.normalize("NFC", text)


def refused(text: str) -> list[str]:
    """The distinct characters of `text` a contract may not carry, in order of appearance."""
    have = covered()
    out: dict[str, None] = {}
    for char in text:
        if unicodedata.category(char) in INVISIBLE or ord(char) not in have:
            out.setdefault(char)
    return list(out)


def describe(chars: list[str]) -> str:
    """Code points and names, never the characters themselves (they may be invisible)."""
    named = ", ".join(f"U+{ord(c):04X} ({unicodedata.name(c, 'unnamed')})" for c in chars[:10])
    return named + (f" and {len(chars) - 10} more" if len(chars) > 10 else "")


def checked(value: str) -> str:
    """A model field's validator for text printed on a contract: NFC, stripped, non-blank, and
    every character one the contract can carry (else a 422 at the field)."""
    text = normalised(value).strip()
    if not text:
        raise PydanticCustomError("blank", "must not be blank")
    bad = refused(text)
    if bad:
        raise PydanticCustomError("undrawable_character", "contains characters the contract "
                                  "cannot print: {chars}", {"chars": describe(bad)})
    return text
