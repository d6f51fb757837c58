"""Allocation: the default waterfall, a custom order, overpayment, and rule-list validation."""

from __future__ import annotations

from datetime import date

import pytest

from chalicelib.lending.allocation import (
    DEFAULT_ALLOCATION,
    AllocationRule,
    Component,
    DueClass,
    InstallmentState,
    allocate,
    allocation_problems,
)
from chalicelib.lending.errors import LendingError

D = date.fromisoformat
AS_OF = D("2024-03-15")
STATE = [
    InstallmentState(1, D("2024-02-15"), penalty=300, fee=500, interest=1000, principal=8000),
    InstallmentState(2, D("2024-03-15"), penalty=0, fee=0, interest=900, principal=8100),
    InstallmentState(3, D("2024-04-15"), penalty=0, fee=0, interest=800, principal=8200),
]


def test_default_order_pays_past_due_penalty_fee_interest_principal_first() -> None:
    result = allocate(10_000, STATE, DEFAULT_ALLOCATION, AS_OF)
    assert [(n, c.value, a) for n, _, c, a in result.steps] == [
        (1, "penalty", 300),
        (1, "fee", 500),
        (1, "interest", 1000),
        (1, "principal", 8000),
        (2, "interest", 200),
    ]
    assert result.overpayment == 0 and result.allocated == 10_000
    first, second = result.allocations
    assert (first.penalty, first.fee, first.interest, first.principal) == (300, 500, 1000, 8000)
    assert (second.number, second.interest, second.principal) == (2, 200, 0)


def test_default_order_reaches_in_advance_and_reports_overpayment() -> None:
    owed = sum(s.penalty + s.fee + s.interest + s.principal for s in STATE)
    result = allocate(owed + 123, STATE, as_of=AS_OF)
    assert result.overpayment == 123
    assert result.allocations[2].principal == 8200
    assert result.steps[-1][1] is DueClass.IN_ADVANCE


def test_custom_order_principal_before_interest_across_classes() -> None:
    # e.g. a regulator that wants overdue principal cleared before penalties
    first = [
        AllocationRule(due_class=DueClass.PAST_DUE, component=Component.PRINCIPAL),
        AllocationRule(due_class=DueClass.DUE, component=Component.PRINCIPAL),
    ]
    rest = [r for r in DEFAULT_ALLOCATION if r not in first]
    result = allocate(16_500, STATE, [*first, *rest], AS_OF)
    assert [(n, c.value, a) for n, _, c, a in result.steps] == [
        (1, "principal", 8000),
        (2, "principal", 8100),
        (1, "penalty", 300),
        (1, "fee", 100),
    ]


def test_oldest_installment_first_within_a_rule() -> None:
    state = [
        InstallmentState(2, D("2024-02-20"), interest=100),
        InstallmentState(1, D("2024-01-20"), interest=100),
    ]
    result = allocate(150, state, as_of=AS_OF)
    assert [(n, a) for n, _, _, a in result.steps] == [(1, 100), (2, 50)]


def test_rule_lists_must_cover_every_combination_exactly_once() -> None:
    assert allocation_problems(DEFAULT_ALLOCATION) == []
    broken = [*DEFAULT_ALLOCATION[:-1], DEFAULT_ALLOCATION[0]]
    got = {(p.loc, p.type) for p in allocation_problems(broken)}
    assert got == {
        (("allocation", 11), "allocation_duplicate"),
        (("allocation",), "allocation_incomplete"),
    }
    with pytest.raises(LendingError):
        allocate(100, STATE, broken, AS_OF)


def test_invalid_payments_are_refused() -> None:
    with pytest.raises(LendingError):
        allocate(0, STATE, as_of=AS_OF)
    with pytest.raises(LendingError):
        allocate(100, STATE)
