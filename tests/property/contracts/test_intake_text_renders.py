"""Any name accepted at intake renders in the contract PDF (issue 16): the intake check and the
renderer agree, so an approved application's acceptance never fails on the borrower's name."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic_core import PydanticCustomError

from chalicelib.contracts.context import sample_context
from chalicelib.contracts.document import covered, render_pdf
from chalicelib.contracts.drawable import checked
from chalicelib.contracts.sandbox import render
from chalicelib.services.contracts import default_source

DRAWN = sorted(covered())
# Drawable characters, plus the kinds intake must refuse: controls, bidi and zero-width
# formats, emoji, CJK extension B, combining marks (which NFC may or may not compose).
CHARS = st.one_of(
    st.sampled_from(DRAWN).map(chr),
    st.sampled_from([0x0, 0x7, 0x1B, 0x7F, 0x85, 0x200B, 0x200D, 0x200F, 0x202A, 0x202E,
                     0x2066, 0x2069, 0xFEFF, 0x2028, 0x1F600, 0x20000, 0xE000, 0x0301,
                     0x0308, 0x00B7, 0x3000]).map(chr),
    st.characters(),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(CHARS, min_size=1, max_size=100))
def test_a_name_accepted_at_intake_always_renders(raw: str) -> None:
    try:
        name = checked(raw)
    except PydanticCustomError:
        return
    context = sample_context()
    context["borrower"]["name"] = name
    pdf = render_pdf(render(default_source(), context), "Contract ctr_sample")
    assert pdf.startswith(b"%PDF")
