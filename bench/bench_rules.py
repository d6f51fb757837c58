"""CEL rule budgets (issue 15): steps per second, what policies cost, and what metering costs.

    .venv/bin/python bench/bench_rules.py [--repeats 200]

Prints, on this machine: the estimated cost of the default and the demo's policy and of a
typical one; metered steps per second (CPU) and the CPU time of a rule at the bound
(`MAX_RULE_COST`), to compare with the per-rule CPU budget; the issue's four-level attack
stopped by the meter; and the overhead of metering against celpy's own evaluator on the typical
policy. Asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._timing import median_ms
from chalicelib.lending.decision import (
    DEFAULT_POLICY,
    FACT_SHAPES,
    SAMPLE_FACTS,
    PolicyConfig,
    decide,
)
from chalicelib.lending.rule_meter import DECISION_CPU_MS, RULE_CPU_MS, Budget
from chalicelib.lending.rules import (
    MAX_POLICY_COST,
    MAX_RULE_COST,
    compile_rule,
    estimated_cost,
    evaluate,
    to_cel,
)
from demo.seed import POLICY as DEMO_POLICY
from tests.cel_attacks import FOUR_LEVELS, nested_all

REGIONS = "[" + ", ".join(f"'CN-{i:02}'" for i in range(30)) + "]"
TYPICAL = PolicyConfig.model_validate({**DEMO_POLICY, "rules": DEMO_POLICY["rules"] + [
    {"id": "dups", "expression": "duplicates.open_applications < 3 && "
     "duplicates.declined_30d == 0", "reason_code": "DUP", "reason_text": "x"},
    {"id": "region", "expression": f"!(applicant.region in {REGIONS})",
     "reason_code": "REG", "reason_text": "x"},
    {"id": "income", "expression": "applicant.monthly_income_minor * application.term * 3 >= "
     "application.amount_minor", "reason_code": "INC", "reason_text": "x"},
    {"id": "traits", "expression": "applicant.characteristics.all(k, size(k) <= 64)",
     "reason_code": "CH", "reason_text": "x"},
]})


def at_bound() -> str:
    """The largest rule of 2 nested comprehensions over k elements the bound accepts."""
    rules = (nested_all(2, "[" + ",".join(["1"] * k) + "]", "a + b > 0") for k in range(60, 0, -1))
    return next(r for r in rules if estimated_cost(r, FACT_SHAPES) <= MAX_RULE_COST)


def cpu_ms(fn, repeats: int) -> float:
    """Median CPU milliseconds of fn() after one warm-up call."""
    return median_ms(fn, repeats, clock=time.thread_time)


def policy_cost(policy: PolicyConfig) -> int:
    return sum(estimated_cost(r.expression, FACT_SHAPES) for r in policy.rules)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    facts = to_cel(SAMPLE_FACTS)
    print(f"bounds: {MAX_RULE_COST:,} steps a rule ({RULE_CPU_MS} ms CPU), "
          f"{MAX_POLICY_COST:,} a decision ({DECISION_CPU_MS} ms CPU)")
    for name, policy in (("default", DEFAULT_POLICY), ("demo", PolicyConfig.model_validate(
            DEMO_POLICY)), ("typical", TYPICAL)):
        costs = {r.id: estimated_cost(r.expression, FACT_SHAPES) for r in policy.rules}
        print(f"{name:8} policy: estimated cost {policy_cost(policy):,} steps {costs}")

    bound_rule = at_bound()
    cost = estimated_cost(bound_rule, FACT_SHAPES)
    budget = Budget(steps=10**9, rule_steps=10**9, rule_cpu_ms=60_000, cpu_ms=60_000)
    start = time.thread_time()
    evaluate("bound", bound_rule, facts, budget)
    spent = time.thread_time() - start
    print(f"rule at the bound: estimated {cost:,}, took {budget.spent:,} steps in "
          f"{spent * 1000:.0f} ms CPU = {budget.spent / spent:,.0f} steps/s "
          f"(budget {RULE_CPU_MS} ms)")
    start = time.thread_time()
    result = evaluate("attack", FOUR_LEVELS, facts)
    print(f"four-level attack (estimated {estimated_cost(FOUR_LEVELS, FACT_SHAPES):,}): "
          f"{result.error} after {(time.thread_time() - start) * 1000:.0f} ms CPU")

    programs = [compile_rule(r.expression) for r in TYPICAL.rules]
    unmetered = cpu_ms(lambda: [p.evaluate(facts) for p in programs], args.repeats)
    metered = cpu_ms(lambda: decide(TYPICAL, SAMPLE_FACTS, 100, []), args.repeats)
    bare = cpu_ms(lambda: [evaluate(r.id, r.expression, facts) for r in TYPICAL.rules],
                  args.repeats)
    print(f"typical policy ({len(TYPICAL.rules)} rules): celpy unmetered {unmetered:.2f} ms, "
          f"metered {bare:.2f} ms (+{(bare / unmetered - 1) * 100:.0f}%), "
          f"decide() {metered:.2f} ms CPU per decision")


if __name__ == "__main__":
    main()
