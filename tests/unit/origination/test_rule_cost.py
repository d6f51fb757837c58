"""Issue 15: a CEL rule's cost is bounded statically (estimate) and at run time (meter)."""

from __future__ import annotations

import copy
import itertools
import time

import pytest

from chalicelib.lending.decision import FACT_SHAPES, SAMPLE_FACTS, PolicyConfig, decide
from chalicelib.lending.rule_cost import UNKNOWN_SIZE
from chalicelib.lending.rule_meter import RULE_CPU_MS, RULE_STEPS, Budget
from chalicelib.lending.rules import (
    MAX_RULE_COST,
    cost_problem,
    estimated_cost,
    evaluate,
    expression_problems,
    to_cel,
)
from tests.cel_attacks import FOUR_LEVELS, THREE_LEVELS, nested_all

FACTS = to_cel(SAMPLE_FACTS)
MARGIN_S = 1.0  # CPU seconds beyond a budget that a slow 2-core CI machine may need


def cost(expression: str) -> int:
    return estimated_cost(expression, FACT_SHAPES)


def measured(expression: str, facts=FACTS) -> int:
    """The steps the metered evaluator takes (the budget is large enough not to stop it)."""
    budget = Budget(steps=10**9, cpu_ms=60_000, rule_steps=10**9, rule_cpu_ms=60_000)
    evaluate("m", expression, facts, budget)
    return budget.spent


def literal(k: int) -> str:
    return "[" + ",".join(["1"] * k) + "]"


def iterations(range_expression: str) -> int:
    """How many iterations the estimate assumes for a comprehension over the expression: the
    extra cost of a longer body, divided by that extra for a one-element list."""
    def extra(r: str) -> int:
        return cost(f"({r}).all(v, true || true)") - cost(f"({r}).all(v, true)")
    return extra(range_expression) // extra("[1]")


@pytest.mark.parametrize("k", [3, 10, 30])
def test_n_nested_comprehensions_over_k_elements_cost_about_k_to_the_n(k):
    estimates = [cost(nested_all(n, literal(k), "true")) for n in range(1, 5)]
    for n, estimate in enumerate(estimates, start=1):
        assert k**n <= estimate <= 40 * k**n, (k, n, estimate)
    for lower, higher in itertools.pairwise(estimates):
        assert k <= higher / lower <= k + 12  # each level multiplies by the list's size


def test_the_estimate_is_an_upper_bound_and_close_to_the_metered_steps():
    for expression in [
        "applicant.age >= 18 && score.pd < 0.35",
        nested_all(2, literal(12), "a == b"),
        "[1, 2, 3].map(x, x * 2).filter(y, y > 2).exists(z, z == 4)",
        "{'a': 1, 'b': 2}.all(k, k in ['a', 'b', 'c'])",
        "'abc'.exists_one(c, c == 'b') ? size(applicant.region) > 1 : false",
        "[1, 2] + [3, 4, 5] == [1, 2, 3, 4, 5]",
        "[[1, 2], [3]].all(l, l.all(x, x > 0))",
        "(applicant.region + '-' + application.currency).all(c, c != '')",
    ]:
        estimate, steps = cost(expression), measured(expression)
        assert steps <= estimate <= 1.5 * steps + 20, (expression, steps, estimate)
    many = copy.deepcopy(SAMPLE_FACTS)  # as many characteristics as an application can have
    many["applicant"]["characteristics"] = {f"c{i:02}": "x" for i in range(68)}
    expression = "applicant.characteristics.all(k, size(k) > 0)"
    assert measured(expression, to_cel(many)) <= cost(expression) <= 1.2 * measured(
        expression, to_cel(many))


@pytest.mark.parametrize("expression", [
    "has(applicant.age) && dyn(applicant.age) > 1 && .applicant.age > 1",
    "[[1, 2, 3], [4, 5, 6]].min().all(x, x > 0)",  # celpy's min() returns an item: a list
    "{'a': [1, 2]}['a'].exists(x, x == 2) && [[1, 2], [3]][0].all(x, x > 0)",
    "string(applicant.age).all(c, c != 'x') && b'abc'.size() == 3",
    "timestamp('2020-01-01T00:00:00Z').getFullYear() == 2020 && type(1) == int",
    "(applicant.age > 1 ? [1, 2] : [3]).all(x, true) && (true ? application : applicant)"
    ".all(k, true)",
    "applicant.characteristics.all(k, applicant.characteristics[k] != '')",
    "[1, 2].map(x, [x, x]).all(l, l.all(z, z > 0)) && [1].map(x, 1, 2) == [2]",
])
def test_the_rest_of_the_language_is_bounded_too(expression):
    assert measured(expression) <= cost(expression)


def test_sizes_of_ranges():
    assert iterations(literal(7)) == 7
    assert iterations("{1: 'a', 2: 'b'}") == 2
    assert iterations(f"{literal(5)}.map(x, x)") == 5
    assert iterations(f"{literal(5)}.filter(x, x > 1)") == 5
    assert iterations(f"{literal(2)} + {literal(3)}") == 5
    assert iterations("'abcd'") == len("'abcd'")  # the spelling bounds the value
    assert iterations("applicant.characteristics") == 68  # 64 given + 4 derived
    assert iterations("applicant.region") == 6
    assert iterations("application") == len(SAMPLE_FACTS["application"])
    assert iterations("applicant.characteristics.housing") == UNKNOWN_SIZE  # no schema bound
    assert iterations("nobody") == UNKNOWN_SIZE
    assert iterations(f"{literal(3)}.map(x, {literal(4)})[0]") == 4


def test_the_issues_attacks_are_refused_with_the_bound_and_their_cost():
    assert len(FOUR_LEVELS) == 386
    for attack in (FOUR_LEVELS, THREE_LEVELS):
        why = cost_problem(cost(attack)) or ""
        assert f"estimated cost {cost(attack):,} exceeds the bound of {MAX_RULE_COST:,} " \
               "evaluation steps" in why
    assert cost(THREE_LEVELS) > 27_000 * 10 and cost(FOUR_LEVELS) > 810_000 * 10
    assert cost_problem(MAX_RULE_COST) is None


def test_reduce_is_not_allowed():
    why = expression_problems("[1, 2].reduce(r, i, 'a', r + r) == 'a'", SAMPLE_FACTS)
    assert why is not None and "reduce() is not allowed" in why


def test_the_meter_stops_a_comprehension_mid_way_at_its_step_budget():
    start = time.thread_time()
    result = evaluate("attack", FOUR_LEVELS, FACTS)  # the static check bypassed
    spent = time.thread_time() - start
    assert result.passed is None
    assert result.error == f"exceeded its evaluation budget ({RULE_STEPS:,} steps / " \
                           f"{RULE_CPU_MS:,} ms)"
    assert spent < RULE_CPU_MS / 1000 + MARGIN_S


def test_the_meter_stops_a_comprehension_at_its_cpu_deadline():
    budget = Budget(steps=10**9, rule_steps=10**9, rule_cpu_ms=20)
    start = time.thread_time()
    result = evaluate("attack", FOUR_LEVELS, FACTS, budget)
    assert result.error == "exceeded its evaluation budget (1,000,000,000 steps / 20 ms)"
    assert time.thread_time() - start < 0.02 + MARGIN_S
    assert 0 < budget.spent < 10**9


def _policy(*expressions: str) -> PolicyConfig:
    return PolicyConfig.model_validate({
        "score_bands": {"approve_from": 500, "decline_below": 400},
        "rules": [{"id": f"r{i}", "expression": e, "reason_code": "R", "reason_text": "r"}
                  for i, e in enumerate(expressions)]})


def test_a_rule_out_of_budget_refers_the_application_and_the_others_still_run():
    facts = copy.deepcopy(SAMPLE_FACTS)
    start = time.thread_time()
    d = decide(_policy("applicant.age >= 18", FOUR_LEVELS, "applicant.age < 18"), facts, 100,
               [])
    assert time.thread_time() - start < RULE_CPU_MS / 1000 + MARGIN_S
    assert d.outcome == "decline"  # the third rule still ran, and failed
    d = decide(_policy("applicant.age >= 18", FOUR_LEVELS), facts, 100, [])
    assert d.outcome == "refer"
    assert d.notes == (f"rule r1 could not be evaluated: exceeded its evaluation budget "
                       f"({RULE_STEPS:,} steps / {RULE_CPU_MS:,} ms)",)


def test_the_rules_of_one_decision_share_its_budget():
    budget = Budget(steps=25_000)
    d = decide(_policy(FOUR_LEVELS, FOUR_LEVELS, FOUR_LEVELS, "true"), SAMPLE_FACTS, 100, [],
               budget)
    errors = [res.error for _, res in d.rules]
    rule = f"exceeded its evaluation budget ({RULE_STEPS:,} steps / {RULE_CPU_MS:,} ms)"
    decision = "exceeded its evaluation budget (25,000 steps / 2,000 ms)"
    assert errors == [rule, rule, decision, decision]  # nothing runs once it is spent
    assert budget.spent == 25_000 and d.outcome == "refer"
