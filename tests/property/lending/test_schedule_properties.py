"""Properties every schedule keeps, for random loans; and APR = nominal where methods match."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import numpy_financial as npf
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from chalicelib.lending.apr import AprMethod, UnitPeriod
from chalicelib.lending.daycount import DayCount
from chalicelib.lending.due_dates import Frequency, FrequencyUnit
from chalicelib.lending.errors import LendingError
from chalicelib.lending.money import Rounding
from chalicelib.lending.pricing import schedule_apr
from chalicelib.lending.schedule import (
    Amortization,
    FirstPeriod,
    LoanTerms,
    Schedule,
    generate_schedule,
)

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

frequencies = st.sampled_from(
    [
        Frequency(unit=FrequencyUnit.MONTH),
        Frequency(unit=FrequencyUnit.MONTH, every=3),
        Frequency(unit=FrequencyUnit.SEMI_MONTH),
        Frequency(unit=FrequencyUnit.WEEK),
        Frequency(unit=FrequencyUnit.WEEK, every=2),
        Frequency(unit=FrequencyUnit.DAY, every=10),
    ]
)
rates = st.decimals(min_value=0, max_value=60, places=2)
dates = st.dates(min_value=date(2000, 1, 1), max_value=date(2060, 12, 31))


@st.composite
def loans(draw: st.DrawFn) -> LoanTerms:
    n = draw(st.integers(min_value=1, max_value=120))
    amortization = draw(st.sampled_from(list(Amortization)))
    grace = (
        0
        if amortization is Amortization.SINGLE_BULLET or n == 1
        else draw(st.integers(min_value=0, max_value=min(3, n - 1)))
    )
    interest_grace = 0 if grace == 0 else draw(st.integers(min_value=0, max_value=grace))
    disbursed = draw(dates)
    odd = draw(st.booleans())
    first_due = None
    frequency = draw(frequencies)
    if odd:
        first_due = disbursed + timedelta(days=draw(st.integers(min_value=1, max_value=40)))
    return LoanTerms(
        currency="CNY",
        principal=draw(st.integers(min_value=n * 100, max_value=10**10)),
        installments=n,
        annual_rate_percent=draw(rates),
        disbursement_date=disbursed,
        amortization=amortization,
        frequency=frequency,
        day_count=draw(st.sampled_from(list(DayCount))),
        first_period=FirstPeriod.ACTUAL_DAYS if odd else FirstPeriod.ONE_PERIOD,
        first_due_date=first_due,
        principal_grace=grace,
        interest_grace=interest_grace,
        rounding=draw(st.sampled_from(list(Rounding))),
        installment_fee=draw(st.sampled_from([0, 0, 150])),
    )


def check_invariants(s: Schedule) -> None:
    assert s.total_principal == s.financed
    assert s.installments[-1].outstanding_after == 0
    outstanding = s.financed
    previous = s.disbursement_date
    for row in s.installments:
        assert row.total > 0 and row.principal >= 0 and row.interest >= 0 and row.fee >= 0
        assert row.total == row.principal + row.interest + row.fee
        assert row.due_date > previous and row.days == (row.due_date - previous).days
        outstanding -= row.principal
        assert row.outstanding_after == outstanding >= 0
        previous = row.due_date


@FAST
@given(loans())
def test_every_schedule_sums_exactly_and_ends_at_zero(terms: LoanTerms) -> None:
    try:
        schedule = generate_schedule(terms)
    except LendingError as exc:
        # the only refusals allowed for these terms: a first due date too far out, a rounding
        # mode (down/floor/...) that leaves an installment short of its own interest, or an
        # installment with nothing in it (e.g. interest-only at 0%)
        assert {p.type for p in exc.problems} <= {
            "first_due_date_out_of_range",
            "negative_amortization",
            "schedule_ends_early",
            "installment_zero",
        }
        assume(False)
    check_invariants(schedule)


@FAST
@given(
    principal=st.integers(min_value=10_000, max_value=10**11),
    n=st.integers(min_value=1, max_value=480),
    rate=rates,
    frequency=frequencies,
    unit=st.sampled_from([1, 1, 100, 1000]),
    disbursed=dates,
)
def test_equal_installment_payment_matches_numpy_financial_pmt(
    principal: int, n: int, rate: Decimal, frequency: Frequency, unit: int, disbursed: date
) -> None:
    terms = LoanTerms(
        currency="CNY",
        principal=principal,
        installments=n,
        annual_rate_percent=rate,
        disbursement_date=disbursed,
        frequency=frequency,
        installment_unit=unit,
    )
    try:
        schedule = generate_schedule(terms)
    except LendingError as exc:
        assert unit > 1 and {p.type for p in exc.problems} <= {
            "negative_amortization",
            "schedule_ends_early",
            "installment_zero",
        }
        return
    per_year, every = frequency.periods_per_year(360)
    periodic = float(rate) / 100 * every / per_year
    expected = -npf.pmt(periodic, n, principal) if periodic else principal / n
    assert schedule.regular_payment is not None
    # within one rounding unit: half a unit by the mode, a whole one if rounded down instead
    assert abs(schedule.regular_payment - expected) <= unit + 1e-9 * expected
    check_invariants(schedule)


MATCHING = [
    (Frequency(unit=FrequencyUnit.MONTH), DayCount.THIRTY_360, UnitPeriod.MONTH),
    (Frequency(unit=FrequencyUnit.MONTH, every=3), DayCount.THIRTY_360, UnitPeriod.QUARTER),
    (Frequency(unit=FrequencyUnit.SEMI_MONTH), DayCount.THIRTY_360, UnitPeriod.SEMI_MONTH),
    (Frequency(unit=FrequencyUnit.WEEK), DayCount.THIRTY_360, UnitPeriod.WEEK),
    (Frequency(unit=FrequencyUnit.WEEK, every=2), DayCount.THIRTY_360, UnitPeriod.BIWEEK),
    (Frequency(unit=FrequencyUnit.WEEK, every=4), DayCount.THIRTY_360, UnitPeriod.FOUR_WEEKS),
    (Frequency(unit=FrequencyUnit.DAY), DayCount.ACTUAL_365, UnitPeriod.DAY),
]


@FAST
@given(
    principal=st.integers(min_value=100_000, max_value=10**10),
    n=st.integers(min_value=2, max_value=360),
    rate=st.decimals(min_value=1, max_value=60, places=2),
    matching=st.sampled_from(MATCHING),
    amortization=st.sampled_from(
        [Amortization.EQUAL_INSTALLMENTS, Amortization.EQUAL_PRINCIPAL, Amortization.INTEREST_ONLY]
    ),
    disbursed=dates,
)
def test_apr_of_a_no_fee_schedule_is_its_nominal_rate(
    principal: int,
    n: int,
    rate: Decimal,
    matching: tuple,
    amortization: Amortization,
    disbursed: date,
) -> None:
    frequency, day_count, unit = matching
    if unit is UnitPeriod.SEMI_MONTH:
        # Appendix J measures semi-months as halves of 30-day months, which matches calendar
        # half-months only for pairs (d, d + 15) that no month end cuts: d in 1..13. From later
        # days a first half-month crossing a 31-day month counts 16/15 of a period, and the
        # APR moves off the nominal rate by that measurement, not by our arithmetic.
        disbursed = disbursed.replace(day=min(disbursed.day, 13))
    terms = LoanTerms(
        currency="CNY",
        principal=principal,
        installments=n,
        annual_rate_percent=rate,
        disbursement_date=disbursed,
        frequency=frequency,
        day_count=day_count,
        amortization=amortization,
    )
    schedule = generate_schedule(terms)
    apr = schedule_apr(schedule, AprMethod.US_REG_Z)
    assert apr.unit_period is unit
    # Each period's interest is rounded to the cent, so the rate actually charged in period k
    # is interest_k / balance_k. The APR must lie within the range of those rates (solver
    # tolerance aside), and for loans of 10,000.00 or more within Reg Z's 1/8 point of nominal.
    charged = []
    balance = schedule.financed
    for row in schedule.installments:
        charged.append(Decimal(row.interest) / balance * apr.periods_per_year * 100)
        balance = row.outstanding_after
    slack = Decimal("1e-9")
    assert min(charged) - slack <= apr.apr_exact <= max(charged) + slack
    if principal >= 1_000_000:
        assert abs(apr.apr_exact - rate) <= Decimal("0.125"), (apr.apr_exact, rate)
