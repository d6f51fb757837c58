"""Fuzzing the template sandbox (issue 15): templates generated from a grammar of loops over
context values and literals, conditions, `set`, macros and their (recursive) calls, filters with
arguments, `~`, arithmetic and attribute access always finish within the budget plus a margin,
with a string or a TemplateProblem, never another exception and never a hang.

The budget is lowered to 0.25 s of CPU here so ~150 examples fit in `make test`; the step bound
is the real one (200,000)."""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.contracts.context import sample_context
from chalicelib.contracts.sandbox import MAX_TEMPLATE_CHARS, TemplateProblem, render

SECONDS, MARGIN = 0.25, 1.0
CONTEXT = dict(sample_context(), s="x" * 10_000, a="ab", b=3, c=[1, "2"], x="", n=2)

BIG = st.sampled_from([0, 1, 2, 3, 7, 40, 1000, 10**4, 10**6, 10**9])
WORD = st.sampled_from(["''", "'x'", "'ab'", "'\\n'", "'%s'", "'%9999999d'", "'名'"])
LEAF = st.one_of(
    st.sampled_from(["s", "a", "b", "c", "x", "n", "schedule", "loan", "borrower.name",
                     "loan.principal", "loan.term", "schedule[0]", "schedule[0].total",
                     "loan['currency']", "contract_id", "range(n)", "range(1000)", "s",
                     "schedule", "range(100)"]),
    BIG.map(str), WORD)
FILTERS = st.one_of(
    st.sampled_from(["upper", "lower", "length", "list", "string", "first", "last", "sort",
                     "unique", "reverse", "trim", "title", "escape", "default('d')", "int",
                     "sum", "join", "items", "dictsort", "count", "abs", "striptags",
                     "map('upper')", "select", "reject('odd')", "selectattr('number')",
                     "map(attribute='total')", "groupby('number')"]),
    st.tuples(st.sampled_from(["center", "indent", "truncate", "batch", "slice", "round"]),
              BIG).map(lambda t: f"{t[0]}({t[1]})"),
    st.tuples(st.sampled_from(["replace", "join", "format"]), WORD, WORD).map(
        lambda t: f"{t[0]}({t[1]}, {t[2]})" if t[0] == "replace" else f"{t[0]}({t[1]})"))


def _expr(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, FILTERS).map(lambda t: f"({t[0]})|{t[1]}"),
        st.tuples(children, st.sampled_from(["~", "+", "*", "**", "%", "-", "//", "==", "in"]),
                  children).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(children, children).map(lambda t: f"[{t[0]}, {t[1]}]"),
        st.tuples(children, st.sampled_from(["number", "total", "upper", "index", "cycle",
                                             "items", "split"])).map(lambda t: f"({t[0]}).{t[1]}"),
        st.tuples(children).map(lambda t: f"m({t[0]}, n - 1)"))


EXPR = st.recursive(LEAF, _expr, max_leaves=6)
# What loops iterate: often something long, so nesting reaches the budget.
ITERABLE = st.one_of(st.sampled_from(["s", "range(1000)", "range(100000)", "schedule",
                                      "s|list", "loan.principal * 1000"]), EXPR)


def _block(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    var = st.sampled_from(["a", "b", "c", "x"])  # names the context defines too
    return st.one_of(
        st.tuples(var, ITERABLE, children, st.sampled_from(["", "{{ loop.cycle(1, 2) }}",
                                                        "{{ loop.index }}"])).map(
            lambda t: f"{{% for {t[0]} in {t[1]} %}}{t[2]}{t[3]}{{% endfor %}}"),
        st.tuples(var, ITERABLE, children, EXPR).map(
            lambda t: f"{{% for {t[0]} in {t[1]} recursive %}}{t[2]}{{{{ loop({t[3]}) }}}}"
                      "{% endfor %}"),
        st.tuples(EXPR, children, children).map(
            lambda t: f"{{% if {t[0]} %}}{t[1]}{{% else %}}{t[2]}{{% endif %}}"),
        st.tuples(var, EXPR).map(lambda t: f"{{% set {t[0]} = {t[1]} %}}"),
        st.tuples(var, children).map(lambda t: f"{{% set {t[0]} %}}{t[1]}{{% endset %}}"),
        st.tuples(children, children).map(lambda t: t[0] + t[1]),
        st.tuples(children).map(
            lambda t: f"{{% filter upper %}}{t[0]}{{% endfilter %}}"),
        st.tuples(children).map(
            lambda t: f"{{% call m(1, n) %}}{t[0]}{{% endcall %}}"))


BODY = st.recursive(EXPR.map(lambda e: f"{{{{ {e} }}}}"), _block, max_leaves=8)
# `m` may call itself with `n - 1` (and `caller`, inside a call block): recursion for free.
TEMPLATE = st.tuples(BODY, BODY).map(
    lambda t: f"{{% macro m(x, n) %}}{{% if n is number and n > 0 %}}{t[0]}{{% endif %}}"
              f"{{% if caller is defined %}}{{{{ caller() }}}}{{% endif %}}{{% endmacro %}}"
              f"{t[1]}")


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(source=TEMPLATE)
def test_any_template_finishes_within_the_budget_with_a_string_or_a_problem(source):
    assert len(source) <= MAX_TEMPLATE_CHARS
    start = time.thread_time()
    try:
        out = render(source, CONTEXT, seconds=SECONDS)
    except TemplateProblem as problem:
        assert problem.code and problem.message
    else:
        assert isinstance(out, str)
    assert time.thread_time() - start < SECONDS + MARGIN, source
