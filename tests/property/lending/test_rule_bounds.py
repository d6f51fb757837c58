"""Issue 15, fuzzed: any CEL rule within the size limits is refused by the static cost check, or
evaluates within the runtime budget (plus a margin) to a boolean, an error or the budget error;
and whenever the check accepts a rule, its estimate bounds the steps the evaluation took."""

from __future__ import annotations

import copy
import re
import time

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from chalicelib.lending.decision import FACT_SHAPES, SAMPLE_FACTS
from chalicelib.lending.rule_meter import RULE_CPU_MS, Budget
from chalicelib.lending.rules import (
    MAX_RULE_COST,
    RuleSyntaxError,
    compile_rule,
    estimated_cost,
    evaluate,
    to_cel,
)

MARGIN_S = 1.0  # CPU seconds beyond the budget a slow 2-core CI machine may need
REFUSED_STEPS = 2_000  # refused rules are still run, on a smaller budget, to see it stop them
_facts = copy.deepcopy(SAMPLE_FACTS)  # with as many characteristics as an application can have
_facts["applicant"]["characteristics"] = {f"c{i:02}": "x" * (i % 5) for i in range(68)}
FACTS = to_cel(_facts)
compile_rule("true")  # celpy raises the recursion limit on first use: here, not inside a test

INT_FIELDS = ["applicant.age", "application.amount_minor", "application.term",
              "duplicates.open_applications", "score.score", "applicant.months_in_job"]
STR_FIELDS = ["applicant.region", "application.currency", "application.purpose",
              "applicant.employment_status", "score.grade", "application.source"]
VARIABLES = "abcdefghijkl"
COMPREHENSION = re.compile(r"\.(?:all|exists|exists_one|map|filter)\(")


@st.composite
def ints(draw, depth: int, scope: dict[str, str]) -> str:
    names = [v for v, kind in scope.items() if kind == "int"]
    leaves = [st.integers(-9, 99).map(str), st.sampled_from(INT_FIELDS)]
    if names:
        leaves.append(st.sampled_from(names))
    choice = draw(st.integers(0, 5 if depth > 0 else 0))
    if choice == 0:
        return draw(st.one_of(leaves))
    if choice in (1, 2):
        op = draw(st.sampled_from(["+", "-", "*"]))
        return f"({draw(ints(depth - 1, scope))} {op} {draw(ints(depth - 1, scope))})"
    if choice == 3:
        sized = draw(st.sampled_from([lists, strs]))
        return f"size({draw(sized(depth - 1, scope))})"
    if choice == 4:
        return (f"({draw(bools(depth - 1, scope))} ? {draw(ints(depth - 1, scope))} : "
                f"{draw(ints(depth - 1, scope))})")
    return draw(st.one_of(leaves))


@st.composite
def strs(draw, depth: int, scope: dict[str, str]) -> str:
    names = [v for v, kind in scope.items() if kind == "str"]
    leaves = [st.text("abc-", max_size=30).map(lambda s: f"'{s}'"), st.sampled_from(STR_FIELDS)]
    if names:
        leaves.append(st.sampled_from(names))
    if depth > 0 and draw(st.booleans()):
        return f"({draw(strs(depth - 1, scope))} + {draw(strs(depth - 1, scope))})"
    return draw(st.one_of(leaves))


@st.composite
def lists(draw, depth: int, scope: dict[str, str]) -> str:
    choice = draw(st.integers(0, 4 if depth > 0 else 0))
    if choice <= 1:
        size = draw(st.integers(0, 60))
        return "[" + ",".join(str(draw(st.integers(0, 9))) for _ in range(size)) + "]"
    if choice == 2:
        return f"({draw(lists(depth - 1, scope))} + {draw(lists(depth - 1, scope))})"
    variable, inner = _bind(scope, "int")
    source = draw(lists(depth - 1, scope))
    if choice == 3:
        return f"{source}.map({variable}, {draw(ints(depth - 1, inner))})"
    return f"{source}.filter({variable}, {draw(bools(depth - 1, inner))})"


@st.composite
def maps(draw, depth: int, scope: dict[str, str]) -> str:
    keys = draw(st.lists(st.integers(0, 99), unique=True, max_size=30))
    values = [draw(ints(0, scope)) for _ in keys]
    return "{" + ", ".join(f"{k}: {v}" for k, v in zip(keys, values, strict=True)) + "}"


def _bind(scope: dict[str, str], kind: str) -> tuple[str, dict[str, str]]:
    variable = VARIABLES[len(scope) % len(VARIABLES)]
    return variable, {**scope, variable: kind}


@st.composite
def bools(draw, depth: int, scope: dict[str, str]) -> str:
    choice = draw(st.integers(0, 11 if depth > 0 else 1))
    if choice == 0:
        op = draw(st.sampled_from(["<", "<=", "==", "!=", ">", ">="]))
        return f"{draw(ints(max(depth - 1, 0), scope))} {op} {draw(ints(max(depth - 1, 0), scope))}"
    if choice == 1:
        return draw(st.sampled_from(["true", "false", "applicant.age >= 18"]))
    if choice == 2:
        op = draw(st.sampled_from(["&&", "||"]))
        return f"({draw(bools(depth - 1, scope))} {op} {draw(bools(depth - 1, scope))})"
    if choice == 3:
        return f"!({draw(bools(depth - 1, scope))})"
    if choice == 4:
        container = draw(st.sampled_from([lists, maps]))
        return f"{draw(ints(depth - 1, scope))} in {draw(container(depth - 1, scope))}"
    if choice == 5:
        return f"{draw(strs(depth - 1, scope))} == {draw(strs(depth - 1, scope))}"
    macro = draw(st.sampled_from(["all", "exists", "exists_one"]))
    if choice == 6:  # over a string's characters, or the characteristics' names
        source = draw(st.one_of(strs(depth - 1, scope), st.just("applicant.characteristics")))
        variable, inner = _bind(scope, "str")
    else:  # over a list's elements, or a map's keys
        source = draw(st.one_of(lists(depth - 1, scope), maps(depth - 1, scope)))
        variable, inner = _bind(scope, "int")
    return f"{source}.{macro}({variable}, {draw(bools(depth - 1, inner))})"


rules = st.integers(1, 6).flatmap(lambda depth: bools(depth, {}))


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(rules)
def test_a_rule_is_refused_or_finishes_within_its_budget_and_its_estimate(expression):
    try:
        cost = estimated_cost(expression, FACT_SHAPES)
    except RuleSyntaxError:
        event("refused: size or nesting")
        return  # beyond the size or nesting limits: refused before any evaluation
    accepted = cost <= MAX_RULE_COST
    event("accepted" if accepted else "refused: cost")
    count = len(COMPREHENSION.findall(expression))
    event(f"comprehensions: {count}" if count < 4 else "comprehensions: 4 or more")
    budget = Budget() if accepted else Budget(rule_steps=REFUSED_STEPS)
    start = time.thread_time()
    result = evaluate("fuzz", expression, FACTS, budget)
    assert time.thread_time() - start < RULE_CPU_MS / 1000 + MARGIN_S, expression
    assert result.passed in (True, False, None)
    assert (result.passed is None) == (result.error is not None)
    event("budget spent" if "evaluation budget" in (result.error or "") else
          "error" if result.error else "boolean")
    if accepted:
        assert budget.spent <= cost, (expression, budget.spent, cost)
    else:
        assert budget.spent <= REFUSED_STEPS
