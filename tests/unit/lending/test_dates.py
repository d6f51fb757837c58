"""Day counts and due dates: month-end anchoring, semi-months, odd first periods."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from chalicelib.lending.daycount import DayCount, accrual_days, days_30_360, year_fraction
from chalicelib.lending.due_dates import Frequency, FrequencyUnit, add_months, due_dates, step
from chalicelib.lending.errors import LendingError

D = date.fromisoformat


@pytest.mark.parametrize(
    ("start", "end", "days"),
    [
        ("2024-01-01", "2024-02-01", 30),
        ("2024-01-31", "2024-02-29", 29),  # D1 31→30; D2 29 stays (no Feb EOM rule in Bond Basis)
        ("2024-01-30", "2024-03-31", 60),  # D2 31→30 because D1 is 30
        ("2024-01-15", "2024-03-31", 76),  # D2 31 stays because D1 < 30
        ("2024-01-31", "2024-03-31", 60),
        ("2023-12-15", "2024-12-15", 360),
        ("2024-02-28", "2024-03-31", 33),
    ],
)
def test_30_360_bond_basis(start: str, end: str, days: int) -> None:
    assert days_30_360(D(start), D(end)) == days
    assert accrual_days(D(start), D(end), DayCount.THIRTY_360) == days


def test_actual_day_counts_and_year_fractions() -> None:
    start, end = D("2024-01-01"), D("2025-01-01")
    assert accrual_days(start, end, DayCount.ACTUAL_365) == 366
    assert year_fraction(start, end, DayCount.ACTUAL_365) * 365 == 366
    assert str(year_fraction(D("2024-01-01"), D("2024-03-31"), DayCount.ACTUAL_360)) == "0.25"
    assert year_fraction(D("2024-01-01"), D("2024-07-01"), DayCount.THIRTY_360) * 2 == 1
    assert DayCount.ACTUAL_365.year_days == 365 and DayCount.THIRTY_360.year_days == 360


def test_monthly_dates_stay_anchored_to_the_31st() -> None:
    dates = due_dates(D("2024-01-31"), 6)
    assert dates == [
        D(s)
        for s in (
            "2024-02-29",
            "2024-03-31",
            "2024-04-30",
            "2024-05-31",
            "2024-06-30",
            "2024-07-31",
        )
    ]
    assert due_dates(D("2023-01-31"), 2) == [D("2023-02-28"), D("2023-03-31")]
    assert due_dates(D("2023-01-30"), 2) == [D("2023-02-28"), D("2023-03-30")]
    assert due_dates(D("2023-01-29"), 2) == [D("2023-02-28"), D("2023-03-29")]


def test_monthly_dates_cross_years_and_multi_month_steps() -> None:
    quarterly = Frequency(unit=FrequencyUnit.MONTH, every=3)
    assert due_dates(D("2024-11-30"), 3, quarterly) == [
        D("2025-02-28"),
        D("2025-05-30"),
        D("2025-08-30"),
    ]
    assert add_months(D("2024-12-15"), 1) == D("2025-01-15")
    assert add_months(D("2024-03-31"), -1) == D("2024-02-29")


def test_semi_months_pair_day_d_with_d_plus_15() -> None:
    semi = Frequency(unit=FrequencyUnit.SEMI_MONTH)
    assert due_dates(D("2024-01-01"), 4, semi) == [
        D("2024-01-16"),
        D("2024-02-01"),
        D("2024-02-16"),
        D("2024-03-01"),
    ]
    assert due_dates(D("2023-01-15"), 4, semi) == [
        D("2023-01-30"),
        D("2023-02-15"),
        D("2023-02-28"),
        D("2023-03-15"),
    ]
    # from the 31st: the pair is the 16th and the month's last day
    assert due_dates(D("2024-01-31"), 4, semi) == [
        D("2024-02-16"),
        D("2024-02-29"),
        D("2024-03-16"),
        D("2024-03-31"),
    ]
    assert due_dates(D("2024-12-20"), 2, semi) == [D("2025-01-05"), D("2025-01-20")]


def test_days_and_weeks() -> None:
    assert due_dates(D("2024-02-27"), 2, Frequency(unit=FrequencyUnit.WEEK)) == [
        D("2024-03-05"),
        D("2024-03-12"),
    ]
    biweekly = Frequency(unit=FrequencyUnit.WEEK, every=2)
    assert step(D("2024-01-01"), biweekly, 3) == D("2024-02-12")
    every_10 = Frequency(unit=FrequencyUnit.DAY, every=10)
    assert due_dates(D("2024-02-25"), 2, every_10) == [D("2024-03-06"), D("2024-03-16")]


def test_first_due_date_anchors_later_dates() -> None:
    dates = due_dates(D("2024-01-10"), 3, first_due=D("2024-02-15"))
    assert dates == [D("2024-02-15"), D("2024-03-15"), D("2024-04-15")]


@pytest.mark.parametrize("first_due", ["2024-01-10", "2024-01-09", "2024-03-11"])
def test_first_due_date_out_of_range(first_due: str) -> None:
    with pytest.raises(LendingError) as info:
        due_dates(D("2024-01-10"), 3, first_due=D(first_due))
    assert info.value.problems[0].loc == ("first_due_date",)
    assert "2024-03-10" in info.value.problems[0].msg


def test_zero_term_and_bad_frequency_are_refused() -> None:
    with pytest.raises(LendingError):
        due_dates(D("2024-01-10"), 0)
    with pytest.raises(ValidationError):
        Frequency.model_validate({"unit": "fortnight"})
    with pytest.raises(ValidationError):
        Frequency.model_validate({"unit": "week", "every": 0})
    with pytest.raises(ValidationError):
        Frequency.model_validate({"unit": "week", "every": "2"})
