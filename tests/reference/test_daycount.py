"""The day counts the model shares with the engine, against closed forms and the published
conventions (ISDA 2006 §4.16(f) 30/360 Bond Basis, Actual/365 Fixed, Actual/360); and the
model's own calendar and annuity helpers against textbook values."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.lending.daycount import DayCount, accrual_days, days_30_360, year_fraction
from chalicelib.lending.money import MONEY_CONTEXT
from tests.reference.terms import grid, half_up, level_payment, months_later, semi_months_later

D = date


def exactly(num: int, den: int) -> Decimal:
    """num / den at the money context's precision (50 digits)."""
    return MONEY_CONTEXT.divide(Decimal(num), Decimal(den))


def bond_basis(start: date, end: date) -> int:
    """ISDA 2006 §4.16(f): D1 = 31 -> 30; D2 = 31 -> 30 if D1 is (then) 30."""
    d1 = 30 if start.day == 31 else start.day
    d2 = 30 if end.day == 31 and d1 == 30 else end.day
    return 360 * (end.year - start.year) + 30 * (end.month - start.month) + d2 - d1


@pytest.mark.parametrize(("start", "end", "days"), [
    (D(2024, 1, 1), D(2025, 1, 1), 360),  # a year is 360 days, leap or not
    (D(2024, 1, 1), D(2024, 7, 1), 180),
    (D(2024, 1, 31), D(2024, 2, 29), 29),  # D1 31 -> 30
    (D(2024, 1, 30), D(2024, 3, 31), 60),  # D2 31 -> 30 because D1 is 30
    (D(2024, 1, 15), D(2024, 3, 31), 76),  # D2 stays 31: D1 is not 30 or 31
    (D(2023, 2, 28), D(2023, 3, 31), 33),  # Bond Basis has no February end-of-month rule
    (D(2007, 1, 15), D(2007, 2, 15), 30),
    (D(2024, 12, 31), D(2025, 1, 31), 30),
])
def test_30_360_bond_basis_examples(start: date, end: date, days: int) -> None:
    assert days_30_360(start, end) == days == bond_basis(start, end)
    assert accrual_days(start, end, DayCount.THIRTY_360) == days
    assert year_fraction(start, end, DayCount.THIRTY_360) == exactly(days, 360)


@settings(max_examples=300)
@given(st.dates(D(2000, 1, 1), D(2040, 12, 31)), st.integers(0, 3000))
def test_30_360_is_the_closed_form(start: date, span: int) -> None:
    end = start + timedelta(days=span)
    assert days_30_360(start, end) == bond_basis(start, end)


@settings(max_examples=200)
@given(st.dates(D(2000, 1, 1), D(2040, 12, 31)), st.integers(0, 400))
def test_whole_months_are_30_days_on_days_up_to_30(start: date, months: int) -> None:
    if start.day <= 28:
        assert days_30_360(start, months_later(start, months)) == 30 * months


@pytest.mark.parametrize(("start", "end", "fraction_365", "fraction_360"), [
    (D(2023, 1, 1), D(2024, 1, 1), exactly(1, 1), exactly(365, 360)),
    (D(2024, 1, 1), D(2025, 1, 1), exactly(366, 365), exactly(366, 360)),  # fixed 365
    (D(2024, 1, 1), D(2024, 7, 1), exactly(182, 365), exactly(182, 360)),
    (D(2024, 2, 28), D(2024, 3, 1), exactly(2, 365), exactly(2, 360)),
])
def test_actual_counts(start: date, end: date, fraction_365: Decimal,
                       fraction_360: Decimal) -> None:
    for dc in (DayCount.ACTUAL_365, DayCount.ACTUAL_360):
        assert accrual_days(start, end, dc) == (end - start).days
    assert year_fraction(start, end, DayCount.ACTUAL_365) == fraction_365
    assert year_fraction(start, end, DayCount.ACTUAL_360) == fraction_360


@settings(max_examples=200)
@given(st.dates(D(2000, 1, 1), D(2040, 12, 31)), st.integers(0, 500), st.integers(0, 500))
def test_actual_days_add_up(a: date, x: int, y: int) -> None:
    b, c = a + timedelta(days=x), a + timedelta(days=x + y)
    for dc in (DayCount.ACTUAL_365, DayCount.ACTUAL_360):
        assert accrual_days(a, c, dc) == accrual_days(a, b, dc) + accrual_days(b, c, dc)


def test_month_ends_stay_anchored() -> None:
    assert grid(D(2024, 1, 31), 4, "month", 1, None) == [
        D(2024, 2, 29), D(2024, 3, 31), D(2024, 4, 30), D(2024, 5, 31)]
    assert grid(D(2024, 1, 10), 2, "month", 1, D(2024, 2, 15)) == [D(2024, 2, 15),
                                                                   D(2024, 3, 15)]
    assert [semi_months_later(D(2024, 1, 31), k) for k in (1, 2, 3)] == [
        D(2024, 2, 16), D(2024, 2, 29), D(2024, 3, 16)]
    assert [semi_months_later(D(2024, 1, 5), k) for k in (1, 2)] == [D(2024, 1, 20),
                                                                     D(2024, 2, 5)]


def test_annuity_matches_the_textbook_payment() -> None:
    # 10,000.00 at 1% a month over 12 months: 888.49 (any financial calculator's PMT).
    exact = level_payment(1_000_000, [Decimal("0.01")] * 12)
    assert round(exact) == 88849
    # Unequal periods: the payment that brings the balance to exactly zero.
    rates = [Decimal("0.02"), Decimal("0.01"), Decimal("0.015")]
    pay, balance = level_payment(100_000, rates), Decimal(100_000)
    for r in rates:
        balance = balance * (1 + r) - pay
    assert abs(balance) < Decimal("1e-20")


def test_half_up() -> None:
    assert [half_up(n, 2) for n in (1, 3, 5)] == [1, 2, 3]
    assert half_up(10, 3) == 3 and half_up(20, 3) == 7 and half_up(7, 0) == 7
