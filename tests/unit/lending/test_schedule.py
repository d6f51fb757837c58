"""Schedules: the issue's worked examples to the cent, and every amortization's invariants."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import numpy_financial as npf
import pytest

from chalicelib.lending.daycount import DayCount
from chalicelib.lending.due_dates import Frequency, FrequencyUnit
from chalicelib.lending.errors import LendingError
from chalicelib.lending.money import Rounding
from chalicelib.lending.schedule import (
    Amortization,
    FirstPeriod,
    LoanTerms,
    OriginationTreatment,
    Schedule,
    generate_schedule,
    level_payment,
)

D = date.fromisoformat
BASE = LoanTerms(
    currency="CNY",
    principal=1_000_000,  # 10,000.00
    installments=12,
    annual_rate_percent=Decimal(12),  # 1% a month, per-period on 30/360
    disbursement_date=D("2024-01-15"),
)


def assert_invariants(s: Schedule) -> None:
    assert s.total_principal == s.financed
    assert s.installments[-1].outstanding_after == 0
    outstanding = s.financed
    for row in s.installments:
        assert row.total > 0 and row.principal >= 0 and row.interest >= 0
        assert row.total == row.principal + row.interest + row.fee
        outstanding -= row.principal
        assert row.outstanding_after == outstanding


def test_equal_installments_worked_example() -> None:
    s = generate_schedule(BASE)
    assert_invariants(s)
    assert s.regular_payment == 88849
    assert [r.total for r in s.installments] == [88849] * 11 + [88847]
    assert s.total_interest == 66186
    assert s.installments[0].interest == 10000 and s.installments[0].principal == 78849
    assert s.installments[-1].principal == 87967 and s.installments[-1].interest == 880
    assert abs(Decimal(str(npf.pmt(0.01, 12, -10_000))) * 100 - s.regular_payment) < 1
    assert s.as_json()["installments"][0]["total"] == "888.49"
    assert s.as_json()["total_interest"] == "661.86"


def test_equal_principal_worked_example() -> None:
    s = generate_schedule(replace(BASE, amortization=Amortization.EQUAL_PRINCIPAL))
    assert_invariants(s)
    assert [r.principal for r in s.installments] == [83333] * 11 + [83337]
    assert [r.interest for r in s.installments] == [
        10000,
        9167,
        8333,
        7500,
        6667,
        5833,
        5000,
        4167,
        3333,
        2500,
        1667,
        833,
    ]
    assert s.installments[0].total == 93333 and s.installments[-1].total == 84170
    assert s.total_interest == 65000  # 650.00 = 10,000 × 1% × (12 + 1) / 2
    assert s.regular_payment is None


def test_flat_worked_example() -> None:
    s = generate_schedule(replace(BASE, amortization=Amortization.FLAT))
    assert_invariants(s)
    assert s.total_interest == 120000  # 10,000 × 12% × 1 year
    assert [r.interest for r in s.installments] == [10000] * 12
    assert [r.total for r in s.installments] == [93333] * 11 + [93337]
    assert s.regular_payment == 93333


def test_half_even_changes_only_ties() -> None:
    # 10,000 over 12 at 1%: no interest figure is an exact half-cent, so both modes agree
    even = generate_schedule(replace(BASE, rounding=Rounding.HALF_EVEN))
    assert even.total_interest == 66186
    down = generate_schedule(replace(BASE, rounding=Rounding.DOWN))
    assert down.regular_payment == 88848
    assert_invariants(down)


def test_installment_unit_rounds_the_payment_and_the_last_absorbs() -> None:
    s = generate_schedule(replace(BASE, installment_unit=100, rounding=Rounding.UP))
    assert_invariants(s)
    assert [r.total for r in s.installments[:-1]] == [88900] * 11
    assert s.installments[-1].total < 88900
    ep = generate_schedule(
        replace(BASE, amortization=Amortization.EQUAL_PRINCIPAL, installment_unit=100)
    )
    assert_invariants(ep)
    assert all(r.total % 100 == 0 for r in ep.installments[:-1])


def test_too_coarse_a_unit_is_refused() -> None:
    with pytest.raises(LendingError) as info:
        generate_schedule(
            replace(
                BASE,
                principal=10_000,
                installment_unit=10_000,
                rounding=Rounding.UP,
                amortization=Amortization.EQUAL_PRINCIPAL,
            )
        )
    assert info.value.problems[0].type == "schedule_ends_early"
    assert info.value.problems[0].loc == ("rounding", "installment_unit")
    with pytest.raises(LendingError) as info:
        generate_schedule(replace(BASE, principal=10_000, installment_unit=10_000))
    assert info.value.problems[0].type == "negative_amortization"


def test_payment_rounded_up_that_would_end_early_is_rounded_down() -> None:
    # 100.00 over 201 months at 0%: 0.4975 rounds up to 0.50, which would repay everything by
    # installment 200; the payment is rounded down to 0.49 and the last absorbs the rest
    s = generate_schedule(
        replace(BASE, principal=10_000, installments=201, annual_rate_percent=Decimal(0))
    )
    assert_invariants(s)
    assert s.regular_payment == 49
    assert s.installments[-1].total == 10_000 - 49 * 200


def test_even_spreads_never_leave_a_negative_last_share() -> None:
    # flat interest of 0.02 over 4 installments: shares 0, 0, 0, 2 (never 1, 1, 1, -1)
    s = generate_schedule(
        replace(
            BASE,
            principal=400,
            installments=4,
            annual_rate_percent=Decimal("1.5"),
            amortization=Amortization.FLAT,
            rounding=Rounding.UP,
        )
    )
    assert_invariants(s)
    assert [r.interest for r in s.installments] == [0, 0, 0, 2]


def test_interest_only_and_single_bullet() -> None:
    io = generate_schedule(replace(BASE, amortization=Amortization.INTEREST_ONLY))
    assert_invariants(io)
    assert [r.total for r in io.installments] == [10000] * 11 + [1_010_000]
    bullet = generate_schedule(replace(BASE, amortization=Amortization.SINGLE_BULLET))
    assert_invariants(bullet)
    (row,) = bullet.installments
    assert (row.due_date, row.principal, row.interest) == (D("2025-01-15"), 1_000_000, 120000)
    assert row.days == 366


def test_actual_365_interest_follows_the_days() -> None:
    s = generate_schedule(replace(BASE, day_count=DayCount.ACTUAL_365))
    assert_invariants(s)
    first, second = s.installments[0], s.installments[1]
    assert (first.days, first.interest) == (31, 10192)  # 10,000 × 12% × 31/365 = 101.918
    assert second.days == 29
    # the level payment amortizes exactly over the uneven periods: the last is within a cent
    assert abs(s.installments[-1].total - s.regular_payment) <= 12


def test_odd_first_period_earns_its_actual_days() -> None:
    terms = replace(
        BASE,
        first_period=FirstPeriod.ACTUAL_DAYS,
        first_due_date=D("2024-03-01"),
        amortization=Amortization.EQUAL_PRINCIPAL,
    )
    s = generate_schedule(terms)
    assert_invariants(s)
    # 30/360 from Jan 15 to Mar 1 is 46 days: 10,000 × 12% × 46/360 = 153.33
    assert s.installments[0].interest == 15333
    assert s.installments[1].interest == 9167  # regular month afterwards: rate / 12
    assert [r.due_date for r in s.installments[:3]] == [
        D("2024-03-01"),
        D("2024-04-01"),
        D("2024-05-01"),
    ]


def test_first_due_date_needs_an_odd_period_product() -> None:
    with pytest.raises(LendingError) as info:
        replace(BASE, first_due_date=D("2024-03-01"))
    assert info.value.problems[0].type == "first_due_date_not_allowed"


def test_principal_grace_then_amortization() -> None:
    s = generate_schedule(replace(BASE, principal_grace=3))
    assert_invariants(s)
    assert [r.principal for r in s.installments[:3]] == [0, 0, 0]
    assert [r.interest for r in s.installments[:3]] == [10000] * 3
    expected = level_payment(1_000_000, [Decimal("0.01")] * 9)
    assert s.installments[3].total == int(expected.quantize(Decimal(1), "ROUND_HALF_UP"))


def test_interest_grace_defers_interest_to_the_next_installment() -> None:
    s = generate_schedule(
        replace(
            BASE, principal_grace=2, interest_grace=2, amortization=Amortization.EQUAL_PRINCIPAL
        )
    )
    assert_invariants(s)
    # two periods of full grace produce no rows; their interest arrives with the first row
    assert len(s.installments) == 10
    first = s.installments[0]
    assert first.due_date == D("2024-04-15") and first.days == 91
    assert first.interest == 30000 and first.principal == 100000
    total_without_grace = generate_schedule(
        replace(BASE, principal_grace=2, amortization=Amortization.EQUAL_PRINCIPAL)
    ).total_interest
    assert s.total_interest == total_without_grace


def test_interest_grace_longer_than_principal_grace() -> None:
    s = generate_schedule(replace(BASE, interest_grace=2))
    assert_invariants(s)
    assert s.installments[0].interest == 0 and s.installments[1].interest == 0
    assert s.installments[2].interest > 10000  # carries the two deferred periods


def test_origination_fee_treatments() -> None:
    deducted = generate_schedule(replace(BASE, origination_fee=20000))
    assert (deducted.financed, deducted.payout) == (1_000_000, 980_000)
    assert deducted.total_fees == 20000
    assert deducted.total_cost == deducted.total_payments - 980_000
    financed = generate_schedule(
        replace(BASE, origination_fee=20000, origination_treatment=OriginationTreatment.FINANCED)
    )
    assert_invariants(financed)
    assert (financed.financed, financed.payout) == (1_020_000, 1_000_000)
    assert financed.total_principal == 1_020_000


def test_installment_fee_is_its_own_column() -> None:
    s = generate_schedule(replace(BASE, installment_fee=500))
    assert_invariants(s)
    assert all(r.fee == 500 for r in s.installments)
    assert s.total_fees == 6000 and s.installments[0].total == 89349


def test_zero_rate_equal_installments() -> None:
    s = generate_schedule(replace(BASE, annual_rate_percent=Decimal(0), principal=1000))
    assert_invariants(s)
    assert [r.total for r in s.installments] == [83] * 11 + [87]


def test_amount_too_small_for_the_term_is_refused() -> None:
    with pytest.raises(LendingError) as info:
        generate_schedule(
            replace(
                BASE,
                annual_rate_percent=Decimal(0),
                principal=5,
                amortization=Amortization.EQUAL_PRINCIPAL,
            )
        )
    assert info.value.problems[0].type == "installment_zero"


def test_invalid_terms_report_every_problem() -> None:
    with pytest.raises(LendingError) as info:
        LoanTerms(
            currency="CNY",
            principal=0,
            installments=0,
            annual_rate_percent=Decimal(-1),
            disbursement_date=D("2024-01-01"),
            installment_unit=0,
            installment_fee=-1,
        )
    types = {p.type for p in info.value.problems}
    assert types == {
        "principal_invalid",
        "term_out_of_range",
        "rate_out_of_range",
        "unit_invalid",
        "fee_negative",
    }
    with pytest.raises(LendingError) as info:
        replace(BASE, principal_grace=12)
    assert info.value.problems[0].type == "grace_too_long"
    with pytest.raises(LendingError) as info:
        replace(BASE, origination_fee=1_000_000)
    assert info.value.problems[0].type == "fee_exceeds_principal"


def test_semi_monthly_and_weekly_use_per_period_rates_on_30_360() -> None:
    semi = generate_schedule(
        replace(BASE, frequency=Frequency(unit=FrequencyUnit.SEMI_MONTH), installments=24)
    )
    assert_invariants(semi)
    assert semi.installments[0].interest == 5000  # 12% / 24
    weekly = generate_schedule(
        replace(BASE, frequency=Frequency(unit=FrequencyUnit.WEEK), installments=52)
    )
    assert_invariants(weekly)
    assert weekly.installments[0].interest == 2308  # 10,000 × 12% / 52 = 23.0769


def test_360_installments_sum_exactly() -> None:
    s = generate_schedule(
        replace(BASE, principal=123_456_789, installments=360, annual_rate_percent=Decimal("6.75"))
    )
    assert_invariants(s)
    expected = -npf.pmt(0.0675 / 12, 360, 1_234_567.89)
    assert abs(Decimal(s.regular_payment) - Decimal(str(expected)) * 100) <= 1
