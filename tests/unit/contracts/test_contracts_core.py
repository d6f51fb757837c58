"""Pure contract core: the template sandbox and its limits, deterministic PDFs, signing codes."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pypdf
import pytest

from chalicelib.contracts import signing
from chalicelib.contracts.context import sample_context
from chalicelib.contracts.document import DocumentProblem, render_pdf
from chalicelib.contracts.sandbox import TemplateProblem, render
from chalicelib.services.contracts import default_source

NOW = datetime(2025, 1, 15, 12, tzinfo=UTC)


@pytest.mark.parametrize(("source", "code"), [
    ("{{ ''.__class__.__mro__ }}", "template_unsafe"),
    ("{{ cycler.__init__.__globals__ }}", "template_unsafe"),  # cycler is not even defined
    ("{{ self.__init__.__globals__ }}", "template_unsafe"),
    ("{{ loan.__class__ }}", "template_unsafe"),
    ("{{ schedule.append(1) }}", "template_unsafe"),
    ("{% for i in range(10**9) %}{% endfor %}", "render_too_expensive"),
    ("{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}",
     "render_too_expensive"),
    ("{{ 'x' * 100000000 }}", "render_too_expensive"),
    ("{{ 2 ** 100000 }}", "render_too_expensive"),
    ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "render_too_expensive"),
    ("{{ nope }}", "template_error"),
    ("{% if %}", "template_syntax"),
    ("x" * 70_000, "template_too_large"),
])
def test_the_sandbox_refuses_with_a_problem_never_a_crash(source, code):
    with pytest.raises(TemplateProblem) as info:
        render(source, sample_context())
    assert info.value.code == code


def test_the_render_budget_counts_cpu_not_a_busy_machines_wall_clock():
    """Waiting (a loaded machine, a slow neighbour) costs no budget; computing does."""
    import time

    def stall() -> str:
        time.sleep(0.3)  # wall time passes, this thread's CPU time does not
        return "ok"

    assert render("{{ stall() }}", {"stall": stall}, seconds=0.1) == "ok"
    with pytest.raises(TemplateProblem) as err:
        render("{% for i in range(150000) %}{{ i }}{% endfor %}", {}, seconds=0.001)
    assert err.value.code == "render_timeout"


def test_a_template_problem_passes_through_a_context_manager_intact():
    """contextlib assigns `__traceback__` on the way out (the render timeout hit inside a
    `with` block under load surfaced as FrozenInstanceError)."""
    import contextlib

    @contextlib.contextmanager
    def scope():
        yield

    with pytest.raises(TemplateProblem) as err, scope():
        render("{% for i in range(150000) %}{{ i }}{% endfor %}", {}, seconds=0.0)
    assert err.value.code == "render_timeout"


def test_output_size_is_bounded():
    with pytest.raises(TemplateProblem) as info:
        render("{% for i in range(5000) %}{{ '0123456789' * 100 }}{% endfor %}", {},
               max_chars=100_000)
    assert info.value.code == "render_too_large"


def test_rendering_is_deterministic_and_holds_the_chinese_text():
    text = render(default_source(), sample_context())
    first, second = render_pdf(text, "合同"), render_pdf(text, "合同")
    assert first == second and first.startswith(b"%PDF-")
    extracted = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(first)).pages)
    for phrase in ("借款合同", "Loan Agreement", "还款计划", "张三", "15.87%", "888.49"):
        assert phrase in extracted


def test_characters_the_fonts_cannot_draw_are_refused():
    with pytest.raises(DocumentProblem):
        render_pdf("emoji \U0001F600", "x")


def test_codes_are_stored_as_keyed_hashes_and_checked():
    secret, code = b"s" * 32, signing.new_code()
    assert len(code) == 6 and code.isdigit()
    h = signing.code_hash(secret, "ctr_1", code)
    assert code not in h and h != signing.code_hash(secret, "ctr_2", code)
    state = signing.CodeState(h, signing.expiry(NOW), 0)
    assert signing.check_code(state, secret, "ctr_1", code, NOW) is None
    wrong = "000000" if code != "000000" else "111111"
    assert signing.check_code(state, secret, "ctr_1", wrong, NOW) == "code_wrong"
    assert signing.check_code(state, secret, "ctr_1", code,
                              NOW + timedelta(minutes=11)) == "code_expired"
    spent = signing.CodeState(h, signing.expiry(NOW), signing.MAX_ATTEMPTS)
    assert signing.check_code(spent, secret, "ctr_1", code, NOW) == "too_many_attempts"
    assert signing.precheck(signing.CodeState(None, None, 0), NOW) == "no_code"


def test_signature_record_hash_covers_every_field():
    record = signing.signature_record(
        contract_id="ctr_1", loan_id="loan_1", document_sha256="ab" * 32, template_id="default",
        template_version=1, signer={"name": "张三", "national_id": "1234"}, signed_at=NOW,
        ip="203.0.113.9", user_agent="ua", key_id="k1")
    assert signing.record_hash(record) == record["record_sha256"]
    assert signing.record_hash({**record, "document_sha256": "cd" * 32}) != \
        record["record_sha256"]
