"""Issue 15: whatever a template does, its render stops within the budget (steps and CPU time),
and nothing it makes can grow past the size bounds before Python allocates it."""

from __future__ import annotations

import time
import tracemalloc

import pytest
from pydantic import BaseModel

from chalicelib.contracts.budget import MAX_RENDER_SECONDS, MAX_STEPS
from chalicelib.contracts.context import LONGEST, sample_context, worst_case_context
from chalicelib.contracts.sandbox import TemplateProblem, check_syntax, render
from chalicelib.lending.schedule import MAX_INSTALLMENTS
from chalicelib.services.contracts import default_source

MARGIN = 1.0  # CPU seconds past the budget a refusal may take on a slow CI machine
PEAK_BYTES = 64 * 2**20  # what a refused render may allocate at most (the bombs ask for GBs)
TEN_K = "x" * 10_000
NESTED_FOR = ("{% for a in s %}{% for b in s %}{% for c in s %}{% endfor %}{% endfor %}"
              "{% endfor %}")

STEPS = "render_too_expensive"  # the step count, or the CPU clock if it runs out first

ATTACKS = {
    "three nested loops printing nothing": (NESTED_FOR, STEPS),
    "recursive loop": ("{% for x in s recursive %}{% if loop.depth < 3 %}"
                       "{% set _ = loop(s) %}{% endif %}{% endfor %}", STEPS),
    "loop in a macro": ("{% macro m() %}{% for a in s %}{% for b in s %}{% endfor %}"
                        "{% endfor %}{% endmacro %}{{ m() }}", STEPS),
    "loop in a call block": ("{% macro m() %}{{ caller() }}{% endmacro %}{% call m() %}"
                             "{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}"
                             "{% endcall %}", STEPS),
    "loop attributes": ("{% for a in s %}{% for b in s %}{% if loop.first and loop.revindex %}"
                        "{% endif %}{% endfor %}{% endfor %}", STEPS),
    "filters in a loop": ("{% for a in s %}{% for b in s %}{% if b|trim|lower %}{% endif %}"
                          "{% endfor %}{% endfor %}", STEPS),
    "tests in a loop": ("{% for a in s %}{% for b in s if b is string %}{% endfor %}"
                        "{% endfor %}", STEPS),
    "attribute access": ("{% for a in s %}{% for b in s %}{% if loan.principal and "
                         "borrower.name %}{% endif %}{% endfor %}{% endfor %}",
                         STEPS),
    "item access": ("{% for a in s %}{% for b in s %}{% if loan['term'] %}{% endif %}"
                    "{% endfor %}{% endfor %}", STEPS),
    "macro recursion doubling a string": (
        "{% macro d(t, n) %}{% if n %}{{ d(t ~ t, n - 1) }}{% endif %}{% endmacro %}"
        "{{ d('ab', 60) }}", "render_too_large"),
    "macro recursion doubling with +": (
        "{% macro d(t, n) %}{% if n %}{{ d(t + t, n - 1) }}{% endif %}{% endmacro %}"
        "{{ d(s, 60) }}", "render_too_large"),
    "macro recursion doubling a list": (
        "{% macro d(t, u, n) %}{% if n %}{{ d([t, t], [u, u], n - 1) }}{% else %}"
        "{{ t == u }}{% endif %}{% endmacro %}{{ d('a', 'a', 60) }}", "render_too_large"),
    "macro recursion squaring a number": (
        "{% macro q(x, n) %}{% if n %}{{ q(x * x, n - 1) }}{% endif %}{% endmacro %}"
        "{{ q(3, 60) }}", STEPS),
    "center width": ("{{ 'x'|center(1000000000) }}", "render_too_large"),
    "indent width": ("{{ s|indent(1000000000) }}", "render_too_large"),
    "indent by lines": ("{{ s|replace('x', '\n')|indent(100000) }}", "render_too_large"),
    "format width": ("{{ '%1000000000s'|format('x') }}", "render_too_large"),
    "% width": ("{{ '%01000000000d' % 1 }}", "render_too_large"),
    "% star width": ("{{ '%*s' % (1000000000, 'x') }}", STEPS),
    "replace every gap": ("{{ s|replace('', s ~ s) }}", "render_too_large"),
    "join with a big separator": ("{{ s|list|join(s ~ s) }}", "render_too_large"),
    "join of a generator": ("{{ s|map('upper')|join(s ~ s) }}", "render_too_large"),
    "batch filler": ("{{ [1]|batch(1000000000, 'x')|list }}", "render_too_large"),
    "slice count": ("{{ [1]|slice(1000000000)|list }}", "render_too_large"),
    "sum of lists": ("{{ ([[1] * 100] * 100)|sum(start=[]) }}", STEPS),
    "a block set collecting output": (
        "{% set b %}{% for i in range(10000) %}{{ s }}{% endfor %}{% endset %}",
        "render_too_large"),
    "a macro returning a huge string": (
        "{% macro m() %}{% for i in range(10000) %}{{ s }}{% endfor %}{% endmacro %}"
        "{{ m()|length }}", "render_too_large"),
    "a filter block": ("{% filter upper %}{% for i in range(10000) %}{{ s }}{% endfor %}"
                       "{% endfilter %}", "render_too_large"),
    "str.format width": ("{{ '{:>1000000000}'.format(1) }}", "template_unsafe"),
    "str.center width": ("{{ 'x'.center(1000000000) }}", "template_unsafe"),
    "str.zfill width": ("{{ 'x'.zfill(1000000000) }}", "template_unsafe"),
    "tojson (removed)": ("{{ [s]|tojson(indent=1000000000) }}", "template_error"),
    "deep nesting": ("{{" + "(" * 5000 + "1" + ")" * 5000 + "}}", "template_syntax"),
}


def _refused(source: str, context: dict[str, object],
             seconds: float = MAX_RENDER_SECONDS) -> tuple[TemplateProblem, float]:
    start = time.thread_time()
    with pytest.raises(TemplateProblem) as info:
        render(source, context, seconds=seconds)
    return info.value, time.thread_time() - start


@pytest.mark.parametrize(("source", "code"), ATTACKS.values(), ids=ATTACKS.keys())
def test_every_attack_is_refused_within_the_budget(source, code):
    """Loops must be stopped by the step count alone (the clock is set far off, so a slow
    machine cannot change the outcome); size bombs are also refused before they allocate
    (tracemalloc's peak; loops are not traced, tracing slows them several times over)."""
    traced = code != STEPS
    if traced:
        tracemalloc.start()
    try:
        problem, cpu = _refused(source, dict(sample_context(), s=TEN_K),
                                seconds=MAX_RENDER_SECONDS if traced else 60)
        peak = tracemalloc.get_traced_memory()[1] if traced else 0
    finally:
        if traced:
            tracemalloc.stop()
    assert problem.code == code, problem
    assert cpu < MAX_RENDER_SECONDS + MARGIN
    assert peak < PEAK_BYTES, f"{peak / 2**20:.0f} MiB"


def test_the_cpu_deadline_stops_work_the_step_count_does_not_see():
    """A loop of cheap-in-steps but CPU-heavy filters (each lists 10,000 characters) is stopped
    by the CPU clock, not after the 200,000 steps it would take to reach the step bound."""
    source = "{% for a in s %}{% for b in s %}{{ s|select|list|length }}{% endfor %}{% endfor %}"
    problem, cpu = _refused(source, {"s": TEN_K})
    assert problem.code in {"render_timeout", "render_too_expensive"}
    assert cpu < MAX_RENDER_SECONDS + MARGIN


def test_the_refusal_names_the_bound():
    problem, _ = _refused(NESTED_FOR, {"s": TEN_K})
    assert f"{MAX_STEPS} steps" in problem.message
    problem, _ = _refused("{{ 'x'|center(1000000000) }}", {})
    assert "262144 characters" in problem.message


def test_ordinary_templates_and_filters_still_work():
    """Wrapping keeps jinja's pass_context / eval_context / environment markers."""
    source = ("{{ schedule|map(attribute='total')|join(', ') }}"
              "|{{ schedule|sum(attribute='number') }}|{{ 'a b'.split()|length }}"
              "|{{ loan.principal|truncate(5, True, '', 0) }}"
              "|{{ '%05d'|format(42) }}|{{ schedule|selectattr('number', 'odd')|list|length }}"
              "|{% for r in schedule %}{{ loop.index }}{{ loop.cycle('a', 'b') }}{% endfor %}"
              "|{{ [1, 2] + [3] }}|{{ 'ab' ~ 1 }}|{{ 'x'|center(5) }}|{{ 2 ** 10 }}"
              "|{% for x in [[1, [2]]] recursive %}{{ x if x is number else loop(x) }}"
              "{% endfor %}|{{ {'k': 1}.items()|list }}|{{ 'abc'[::-1] }}")
    assert render(source, sample_context()) == (
        "888.49, 888.49, 888.49|6|2|10000|00042|2|1a2b3a|[1, 2, 3]|ab1|  x  |1024"
        "|12|[('k', 1)]|cba")


def test_the_default_template_renders_the_worst_case_contract():
    text = render(default_source(), worst_case_context())
    assert f"| {MAX_INSTALLMENTS} |" in text and "名" * LONGEST["applicant_name"] in text


def test_the_worst_case_is_the_largest_schedule_and_the_longest_fields():
    from chalicelib.api.origination_models import Applicant, NationalId
    from chalicelib.api.tenants import TenantCreate
    from chalicelib.lending.product import TermRange

    def longest(model: type[BaseModel], field: str) -> int:
        return next(m.max_length for m in model.model_fields[field].metadata
                    if getattr(m, "max_length", None))

    assert longest(TenantCreate, "name") == LONGEST["tenant_name"]
    assert longest(TenantCreate, "tenant_id") == LONGEST["tenant_id"]
    assert longest(Applicant, "name") == LONGEST["applicant_name"]
    assert longest(Applicant, "phone") == LONGEST["phone"]
    assert longest(NationalId, "number") == LONGEST["national_id"]
    assert next(m.le for m in TermRange.model_fields["max"].metadata
                if getattr(m, "le", None)) == MAX_INSTALLMENTS
    context = worst_case_context()
    assert len(context["schedule"]) == MAX_INSTALLMENTS == context["loan"]["term"]


def test_check_syntax_refuses_a_parser_bomb_cleanly():
    with pytest.raises(TemplateProblem) as info:
        check_syntax("{{" + "[" * 5000 + "]" * 5000 + "}}")
    assert info.value.code == "template_syntax"
