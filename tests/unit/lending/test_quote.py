"""Quotes: schedule, totals, APR with fees, and refusals that carry their figures."""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.lending.errors import LendingError
from chalicelib.lending.product import parse_product
from chalicelib.lending.quote import quote

D = date.fromisoformat
PLAIN: dict[str, Any] = {
    "currency": "CNY",
    "amount": {"min": "1000.00", "max": "50000.00"},
    "term": {"min": 3, "max": 36},
    "pricing": {
        "rate_percent": {"A": "10", "B": "12", "C": "15", "D": "20", "E": "24"},
        "max_amount": {"E": "10000.00"},
    },
}


def make(**changes: Any):
    data = copy.deepcopy(PLAIN)
    data.update(changes)
    return parse_product(data)


def test_no_fee_quote_discloses_the_nominal_rate() -> None:
    q = quote(make(), 1_000_000, 12, "B", D("2024-01-15"))
    assert q.eligible and q.within_rules and q.within_cap
    assert q.total_interest == 66186 and q.total_fees == 0 and q.total_cost == 66186
    assert q.apr is not None and q.apr.apr == Decimal("12.00")
    assert q.as_json()["apr"]["apr"] == "12.00"


def test_flat_rate_quote_apr_is_about_21_46() -> None:
    q = quote(make(amortization="flat"), 1_000_000, 12, "B", D("2024-01-15"))
    assert q.total_interest == 120000
    assert q.apr is not None and q.apr.apr == Decimal("21.46")


def test_deducted_fee_lowers_the_amount_financed_and_raises_the_apr() -> None:
    product = make(fees={"origination": {"percent": "2"}})
    q = quote(product, 1_000_000, 12, "B", D("2024-01-15"))
    assert q.schedule is not None
    assert (q.schedule.payout, q.schedule.financed) == (980_000, 1_000_000)
    assert q.total_fees == 20000 and q.total_cost == 66186 + 20000
    assert q.apr is not None and q.apr.apr == Decimal("15.85")


def test_financed_fee_is_amortized_with_interest() -> None:
    product = make(fees={"origination": {"percent": "2", "treatment": "financed"}})
    q = quote(product, 1_000_000, 12, "B", D("2024-01-15"))
    assert q.schedule is not None and q.schedule.financed == 1_020_000
    assert q.schedule.payout == 1_000_000
    assert q.total_cost == q.schedule.total_payments - 1_000_000
    assert q.apr is not None and Decimal("15.5") < q.apr.apr < Decimal("16.5")


def test_rule_refusals_carry_the_figures() -> None:
    q = quote(make(), 2_000_000, 48, "E", D("2024-01-15"))
    assert not q.eligible and not q.within_rules
    by_type = {p.type: p for p in q.refusals}
    assert set(by_type) == {"amount_above_grade_max", "term_out_of_range"}
    assert "10000.00 CNY" in by_type["amount_above_grade_max"].msg
    assert by_type["term_out_of_range"].ctx == {"min": 3, "max": 36}
    assert q.schedule is not None  # still shown, so the partner sees what was asked
    low = quote(make(), 50_000, 12, "A", D("2024-01-15"))
    assert [p.type for p in low.refusals] == ["amount_below_min"]
    high = quote(make(), 6_000_000, 12, "A", D("2024-01-15"))
    assert [p.type for p in high.refusals] == ["amount_above_max"]


def test_cap_refusal_names_apr_and_cap() -> None:
    product = make(
        apr_cap_percent="24",
        pricing={"rate_percent": {"A": "10", "B": "12", "C": "15", "D": "20", "E": "21"}},
        fees={"origination": {"percent": "3"}},
    )
    q = quote(product, 100_000, 3, "E", D("2024-01-15"))
    assert q.within_rules and not q.within_cap and not q.eligible
    (refusal,) = q.refusals
    assert refusal.type == "apr_above_cap" and refusal.ctx["cap"] == "24"
    assert q.apr is not None and refusal.ctx["apr"] == str(q.apr.apr)
    assert q.apr.apr > 24


def test_unpriceable_requests_raise() -> None:
    with pytest.raises(LendingError) as info:
        quote(make(), 1_000_000, 12, "Z", D("2024-01-15"))
    assert info.value.problems[0].loc == ("grade",)
    with pytest.raises(LendingError):
        quote(make(), 0, 12, "A", D("2024-01-15"))


def test_schedule_problems_become_refusals() -> None:
    q = quote(make(), 1_000_000, 2000, "A", D("2024-01-15"))
    assert q.schedule is None and q.apr is None and not q.within_cap
    assert {p.type for p in q.refusals} == {"term_out_of_range"}
