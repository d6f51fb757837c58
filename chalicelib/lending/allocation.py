"""Repayment allocation: which part of which installment a payment settles, by an ordered rule list.

In the spirit of Fineract's advanced payment allocation, a rule is (due class, component):
installments are classed as past_due (due date before `as_of`), due (due on `as_of`) or
in_advance (due later), and the rules are applied in order; within one rule, installments are
paid oldest first. What no rule can place is returned as overpayment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from itertools import product as cartesian

from pydantic import BaseModel, ConfigDict

from .errors import LendingError, Problem


class DueClass(StrEnum):
    PAST_DUE = "past_due"
    DUE = "due"
    IN_ADVANCE = "in_advance"


class Component(StrEnum):
    PENALTY = "penalty"
    FEE = "fee"
    INTEREST = "interest"
    PRINCIPAL = "principal"


class AllocationRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    due_class: DueClass
    component: Component


#: penalties → fees → interest → principal, for past-due, then due, then in-advance installments
DEFAULT_ALLOCATION: tuple[AllocationRule, ...] = tuple(
    AllocationRule(due_class=d, component=c) for d, c in cartesian(DueClass, Component)
)


def allocation_problems(rules: Sequence[AllocationRule]) -> list[Problem]:
    """Every (due class, component) must appear exactly once; says which are doubled or missing."""
    problems: list[Problem] = []
    seen: dict[tuple[DueClass, Component], int] = {}
    for k, rule in enumerate(rules):
        key = (rule.due_class, rule.component)
        if key in seen:
            problems.append(
                Problem(
                    ("allocation", k),
                    f"{rule.due_class.value}/{rule.component.value} is already rule {seen[key]}",
                    "allocation_duplicate",
                    {"first_index": seen[key]},
                )
            )
        else:
            seen[key] = k
    missing = [
        f"{d.value}/{c.value}" for d, c in cartesian(DueClass, Component) if (d, c) not in seen
    ]
    if missing:
        problems.append(
            Problem(
                ("allocation",),
                "allocation rules must cover every due class "
                f"and component; missing: {', '.join(missing)}",
                "allocation_incomplete",
                {"missing": missing},
            )
        )
    return problems


@dataclass(frozen=True, slots=True)
class InstallmentState:
    """What is still owed on one installment, per component, in minor units."""

    number: int
    due_date: date
    penalty: int = 0
    fee: int = 0
    interest: int = 0
    principal: int = 0

    def owed(self, component: Component) -> int:
        return int(getattr(self, component.value))


@dataclass(frozen=True, slots=True)
class InstallmentAllocation:
    number: int
    penalty: int = 0
    fee: int = 0
    interest: int = 0
    principal: int = 0

    @property
    def total(self) -> int:
        return self.penalty + self.fee + self.interest + self.principal


@dataclass(frozen=True, slots=True)
class AllocationResult:
    allocations: tuple[InstallmentAllocation, ...]  # only installments that received something
    overpayment: int
    steps: tuple[tuple[int, DueClass, Component, int], ...] = field(default_factory=tuple)
    prepaid: int = 0  # principal paid ahead of the schedule (servicing's reshape), no installment

    @property
    def allocated(self) -> int:
        return sum(a.total for a in self.allocations) + self.prepaid


def due_class(due_date: date, as_of: date) -> DueClass:
    if due_date < as_of:
        return DueClass.PAST_DUE
    return DueClass.DUE if due_date == as_of else DueClass.IN_ADVANCE


def allocate(
    payment_minor: int,
    installments: Sequence[InstallmentState],
    rules: Sequence[AllocationRule] = DEFAULT_ALLOCATION,
    as_of: date | None = None,
) -> AllocationResult:
    """Split a payment over the installments by `rules`; the rest is overpayment.

    `steps` records (installment, due class, component, amount) in the order applied, so a
    servicing journal can post one leg per step.
    """
    if isinstance(payment_minor, bool) or not isinstance(payment_minor, int) or payment_minor <= 0:
        raise LendingError.single(
            "amount", "payment must be a positive int of minor units", "payment_invalid"
        )
    if as_of is None:
        raise LendingError.single("as_of", "the allocation date is required", "as_of_missing")
    problems = allocation_problems(rules)
    if problems:
        raise LendingError(problems)
    ordered = sorted(installments, key=lambda i: (i.due_date, i.number))
    paid: dict[int, dict[Component, int]] = {i.number: {} for i in ordered}
    remaining = payment_minor
    steps: list[tuple[int, DueClass, Component, int]] = []
    for rule in rules:
        if remaining == 0:
            break
        for inst in ordered:
            if due_class(inst.due_date, as_of) is not rule.due_class:
                continue
            owed = inst.owed(rule.component) - paid[inst.number].get(rule.component, 0)
            take = min(owed, remaining)
            if take <= 0:
                continue
            paid[inst.number][rule.component] = paid[inst.number].get(rule.component, 0) + take
            steps.append((inst.number, rule.due_class, rule.component, take))
            remaining -= take
            if remaining == 0:
                break
    allocations = tuple(
        InstallmentAllocation(number=n, **{c.value: v for c, v in parts.items()})
        for n, parts in paid.items()
        if parts
    )
    return AllocationResult(allocations, remaining, tuple(steps))
