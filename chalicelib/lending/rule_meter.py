"""The runtime guard on CEL evaluation: a step count and a CPU deadline that stop the work.

Why a second guard: the static bound (`rule_cost`) is an estimate, and a rule stored before it
existed, or an estimator gap, must still not hang a decision. celpy's interpreter is a lark
`Interpreter`; the subclass below ticks a shared meter on every node visit and on every
comprehension iteration (celpy binds the iteration variable through `set_activation`, once per
element), and checks the CPU clock at each tick, so even a comprehension of a comprehension
is interrupted mid-way, not between rules. The meter counts exactly what `rule_cost.estimate`
bounds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cache
from typing import Any

#: One rule's allowance: no accepted rule can need more steps (`MAX_RULE_COST` is the same
#: figure), and at ~10-20 µs a step on this machine they take well under the CPU limit.
RULE_STEPS = 10_000
RULE_CPU_MS = 500
#: One decision's (one policy's rules over one application): `MAX_POLICY_COST` steps.
DECISION_STEPS = 50_000
DECISION_CPU_MS = 2_000


class BudgetExceeded(Exception):
    """Evaluation ran out of steps or CPU time; not a subclass of anything celpy catches."""

    def __init__(self, steps: int, cpu_ms: int) -> None:
        super().__init__(f"exceeded its evaluation budget ({steps:,} steps / {cpu_ms:,} ms)")


@dataclass
class Budget:
    """The steps and CPU time left to one decision; each rule also has its own cap."""

    steps: int = DECISION_STEPS
    cpu_ms: int = DECISION_CPU_MS
    rule_steps: int = RULE_STEPS
    rule_cpu_ms: int = RULE_CPU_MS
    spent: int = 0
    started: float = field(default_factory=time.thread_time)

    def meter(self) -> Meter:
        now = time.thread_time()
        return Meter(self, now, min(self.spent + self.rule_steps, self.steps),
                     min(now + self.rule_cpu_ms / 1000, self.started + self.cpu_ms / 1000))


class Meter:
    """Ticks for one rule's evaluation; raises `BudgetExceeded` the moment a limit is passed."""

    __slots__ = ("budget", "count", "deadline", "limit", "started")

    def __init__(self, budget: Budget, started: float, limit: int, deadline: float) -> None:
        self.budget, self.started, self.limit, self.deadline = budget, started, limit, deadline
        self.count = budget.spent

    def tick(self) -> None:
        self.count += 1
        if self.count > self.limit or time.thread_time() > self.deadline:
            raise self.exceeded()

    def exceeded(self) -> BudgetExceeded:
        budget = self.budget
        rule_limit = self.count - budget.spent > budget.rule_steps or (
            time.thread_time() - self.started > budget.rule_cpu_ms / 1000)
        if rule_limit:
            return BudgetExceeded(budget.rule_steps, budget.rule_cpu_ms)
        return BudgetExceeded(budget.steps, budget.cpu_ms)

    def close(self) -> None:
        """Charge this rule's steps to the decision."""
        self.budget.spent = min(self.count, self.limit)


@cache
def evaluator_class() -> type:
    """celpy's interpreter with every node visit and comprehension iteration metered (built on
    first use: importing celpy costs ~0.2 s of a cold start)."""
    from celpy.evaluation import Evaluator

    class MeteredEvaluator(Evaluator):
        def __init__(self, ast: Any, activation: Any, meter: Meter) -> None:
            super().__init__(ast, activation)
            self.meter = meter

        def sub_evaluator(self, ast: Any) -> Evaluator:
            return MeteredEvaluator(ast, self.activation, self.meter)

        def set_activation(self, values: Any) -> Evaluator:
            self.meter.tick()
            return super().set_activation(values)

        def _visit_tree(self, tree: Any) -> Any:
            self.meter.tick()
            return super()._visit_tree(tree)

    return MeteredEvaluator


def run(program: Any, activation: Any, budget: Budget) -> Any:
    """The value of a compiled celpy program; raises what celpy raises, or `BudgetExceeded`.
    The rule's steps are charged to `budget` either way."""
    meter = budget.meter()
    if meter.count >= meter.limit or time.thread_time() > meter.deadline:
        raise meter.exceeded()
    try:
        evaluator = evaluator_class()(program.ast, program.new_activation(), meter)
        return evaluator.evaluate(activation)
    finally:
        meter.close()
