"""APR: the worked examples of 12 CFR 1026 Appendix J (c), the issue's flat loan, and IRR.

Appendix J's figures were computed on a 10-digit calculator and disclosed to 2 decimals; each
case below reproduces the regulation's published APR exactly after rounding.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import numpy_financial as npf
import pytest
from pydantic import ValidationError

from chalicelib.lending.apr import (
    MAX_FLOWS,
    AprMethod,
    AprRequest,
    CashFlow,
    UnitPeriod,
    apr_irr,
    apr_us_reg_z,
    classify_period,
    compute_apr,
    infer_unit_period,
    months_back,
    unit_periods,
)
from chalicelib.lending.due_dates import add_months
from chalicelib.lending.errors import LendingError

D = date.fromisoformat


def monthly(first: str, n: int, amount: int, every: int = 1) -> list[CashFlow]:
    return [CashFlow(add_months(D(first), every * k), amount) for k in range(n)]


def weekly(first: str, n: int, amount: int, weeks: int = 1) -> list[CashFlow]:
    return [CashFlow(D(first) + timedelta(weeks=weeks * k), amount) for k in range(n)]


def advance(on: str, amount: int) -> list[CashFlow]:
    return [CashFlow(D(on), amount)]


# (c)(1) single advance, with or without an odd first period, otherwise regular
def test_c1_i_monthly_regular_first_period() -> None:
    r = apr_us_reg_z(advance("1978-01-10", 500000), monthly("1978-02-10", 24, 23000))
    assert r.unit_period is UnitPeriod.MONTH and r.periods_per_year == 12
    assert r.apr == Decimal("9.69")


def test_c1_ii_monthly_long_first_period() -> None:
    t, f = unit_periods(D("1978-02-10"), D("1978-04-01"), UnitPeriod.MONTH)
    assert (t, f * 30) == (1, 19)
    r = apr_us_reg_z(advance("1978-02-10", 600000), monthly("1978-04-01", 36, 20000))
    assert r.apr == Decimal("11.82")


def test_c1_iii_semimonthly_short_first_period() -> None:
    payments = [
        CashFlow(add_months(D("1978-03-01"), k // 2, 1 if k % 2 == 0 else 16), 21917)
        for k in range(24)
    ]
    assert payments[1].date == D("1978-03-16")
    r = apr_us_reg_z(advance("1978-02-23", 500000), payments)
    assert r.unit_period is UnitPeriod.SEMI_MONTH
    t, f = unit_periods(D("1978-02-23"), D("1978-03-01"), UnitPeriod.SEMI_MONTH)
    assert (t, f * 15) == (0, 6)
    assert r.apr == Decimal("10.34")


def test_c1_iv_quarterly_long_first_period() -> None:
    t, f = unit_periods(D("1978-05-23"), D("1978-10-01"), UnitPeriod.QUARTER)
    assert (t, f * 90) == (1, 39)
    r = apr_us_reg_z(advance("1978-05-23", 1000000), monthly("1978-10-01", 40, 38500, every=3))
    assert r.unit_period is UnitPeriod.QUARTER
    assert r.apr == Decimal("8.97")


def test_c1_v_weekly_long_first_period() -> None:
    t, f = unit_periods(D("1978-03-20"), D("1978-04-21"), UnitPeriod.WEEK)
    assert (t, f * 7) == (4, 4)
    r = apr_us_reg_z(advance("1978-03-20", 50000), weekly("1978-04-21", 30, 1760))
    assert r.unit_period is UnitPeriod.WEEK
    assert r.apr == Decimal("14.96")


# (c)(2) odd first payment
def test_c2_i_monthly_irregular_first_payment() -> None:
    payments = [CashFlow(D("1978-02-10"), 25000), *monthly("1978-03-10", 23, 23000)]
    r = apr_us_reg_z(advance("1978-01-10", 500000), payments)
    assert r.apr == Decimal("10.08")


def test_c2_ii_four_weeks_long_first_period_irregular_first_payment() -> None:
    payments = [CashFlow(D("1978-04-20"), 3950), *weekly("1978-05-18", 11, 3831, weeks=4)]
    r = apr_us_reg_z(advance("1978-03-18", 40000), payments)
    assert r.unit_period is UnitPeriod.FOUR_WEEKS
    assert r.apr == Decimal("28.50")


# (c)(3) odd final payment
def test_c3_i_monthly_irregular_final_payment() -> None:
    payments = [*monthly("1978-02-10", 23, 23000), CashFlow(D("1980-01-10"), 28000)]
    r = apr_us_reg_z(advance("1978-01-10", 500000), payments)
    assert r.apr == Decimal("10.50")


def test_c3_ii_biweekly_short_first_period_irregular_final_payment() -> None:
    payments = [
        *weekly("1978-04-11", 19, 950, weeks=2),
        CashFlow(D("1978-04-11") + timedelta(days=14 * 19), 3000),
    ]
    r = apr_us_reg_z(advance("1978-04-03", 20000), payments)
    assert r.unit_period is UnitPeriod.BIWEEK
    assert r.apr == Decimal("12.22")


# (c)(4) odd first and final payments
def test_c4_i_monthly_irregular_first_and_final_payments() -> None:
    payments = [
        CashFlow(D("1978-02-10"), 25000),
        *monthly("1978-03-10", 22, 23000),
        CashFlow(add_months(D("1978-03-10"), 22), 28000),
    ]
    r = apr_us_reg_z(advance("1978-01-10", 500000), payments)
    assert r.apr == Decimal("10.90")


def test_c4_ii_every_two_months_odd_first_and_final_payments() -> None:
    payments = [
        CashFlow(D("1978-03-01"), 44936),
        *monthly("1978-05-01", 18, 46500, every=2),
        CashFlow(add_months(D("1978-05-01"), 36), 20000),
    ]
    r = apr_us_reg_z(advance("1978-01-10", 800000), payments)
    assert r.unit_period is UnitPeriod.TWO_MONTHS
    assert r.apr == Decimal("7.30")


# (c)(5) single advance, single payment
def test_c5_i_single_advance_single_payment_in_days() -> None:
    r = apr_us_reg_z(advance("1978-01-03", 100000), [CashFlow(D("1978-09-15"), 108000)])
    assert r.unit_period is None
    assert r.periods_per_year * 255 == 365
    assert r.apr == Decimal("11.45")


def test_single_advance_single_payment_in_whole_months() -> None:
    r = apr_us_reg_z(advance("2024-01-31", 100000), [CashFlow(D("2024-07-31"), 104000)])
    assert (r.periods_per_year, r.apr) == (2, Decimal("8.00"))


def test_single_payment_after_more_than_a_year_uses_yearly_units() -> None:
    r = apr_us_reg_z(advance("2024-01-15", 100000), [CashFlow(D("2026-01-15"), 121000)])
    assert r.unit_period is UnitPeriod.YEAR
    assert r.apr == Decimal("10.00")
    t, f = unit_periods(D("2024-01-15"), D("2026-03-01"), UnitPeriod.YEAR)
    assert (t, f * 365) == (2, 46)  # odd days run from the start to 2024-03-01 (leap Feb)
    assert unit_periods(D("2024-01-15"), D("2025-04-15"), UnitPeriod.YEAR) == (1, Decimal("0.25"))


def test_multiple_advances() -> None:
    # two draws of 500 a month apart, repaid 12 × 90 monthly from the second: solve and check
    advances = [CashFlow(D("2024-01-01"), 50000), CashFlow(D("2024-02-01"), 50000)]
    payments = monthly("2024-03-01", 12, 9000)
    r = apr_us_reg_z(advances, payments)
    i = r.periodic_rate
    pv_adv = 50000 + 50000 / (1 + i)
    pv_pay = sum(9000 / (1 + i) ** (k + 2) for k in range(12))
    assert abs(pv_adv - pv_pay) < Decimal("1e-15")
    assert r.unit_period is UnitPeriod.MONTH


def test_no_fee_equal_installment_schedule_apr_is_its_nominal_rate() -> None:
    # 10,000 at 12% monthly: 11 × 888.49 + 888.47
    payments = [*monthly("2024-02-15", 11, 88849), CashFlow(D("2025-01-15"), 88847)]
    r = apr_us_reg_z(advance("2024-01-15", 1_000_000), payments)
    assert r.apr == Decimal("12.00")
    assert abs(r.apr_exact - 12) < Decimal("0.001")


def test_flat_12_percent_loan_is_about_21_46() -> None:
    payments = [*monthly("2024-02-15", 11, 93333), CashFlow(D("2025-01-15"), 93337)]
    r = apr_us_reg_z(advance("2024-01-15", 1_000_000), payments)
    assert r.apr == Decimal("21.46")
    oracle = npf.rate(12, 933.3333, -10_000, 0) * 12 * 100
    assert abs(float(r.apr_exact) - oracle) < 0.01


def test_irr_is_the_effective_annual_rate_of_the_daily_rate() -> None:
    # 1,000 repaid with 1,100 exactly 365 days later: 10% effective
    r = apr_irr(advance("2023-01-01", 100000), [CashFlow(D("2024-01-01"), 110000)])
    assert r.apr == Decimal("10.00")
    assert abs(r.apr_exact - 10) < Decimal("1e-18")
    # 12% nominal monthly compounds to more than 12% effective
    payments = [*monthly("2024-02-15", 11, 88849), CashFlow(D("2025-01-15"), 88847)]
    eff = apr_irr(advance("2024-01-15", 1_000_000), payments)
    assert Decimal("12.4") < eff.apr < Decimal("12.8")


def test_unit_period_given_overrides_inference() -> None:
    payments = monthly("2024-02-15", 12, 88849)
    r = apr_us_reg_z(advance("2024-01-15", 1_000_000), payments, UnitPeriod.DAY)
    assert r.unit_period is UnitPeriod.DAY and r.periods_per_year == 365


@pytest.mark.parametrize(
    ("a", "b", "unit"),
    [
        ("2024-01-31", "2024-02-29", UnitPeriod.MONTH),
        ("2024-02-29", "2024-03-31", UnitPeriod.MONTH),
        ("2024-01-15", "2024-04-15", UnitPeriod.QUARTER),
        ("2024-03-01", "2024-03-16", UnitPeriod.SEMI_MONTH),
        ("2023-02-15", "2023-02-28", UnitPeriod.SEMI_MONTH),
        ("2024-03-01", "2024-03-15", UnitPeriod.BIWEEK),
        ("2024-03-01", "2024-03-29", UnitPeriod.FOUR_WEEKS),
        ("2024-03-01", "2024-03-02", UnitPeriod.DAY),
        ("2024-03-01", "2024-03-11", None),
    ],
)
def test_classify_period(a: str, b: str, unit: UnitPeriod | None) -> None:
    assert classify_period(D(a), D(b)) is unit


def test_months_are_counted_back_from_month_ends() -> None:
    assert months_back(D("2024-01-31"), D("2024-04-30")) == (3, D("2024-01-31"))
    assert months_back(D("2024-01-30"), D("2024-02-29")) == (1, D("2024-01-30"))
    assert months_back(D("2024-01-28"), D("2024-02-28")) == (1, D("2024-01-28"))
    assert months_back(D("2024-01-10"), D("2024-01-31")) == (0, D("2024-01-31"))


def test_unit_period_without_a_common_period_is_the_nearest_average() -> None:
    advances = advance("2024-01-01", 1000)
    payments = [CashFlow(D("2024-01-11"), 500), CashFlow(D("2024-01-20"), 520)]
    assert infer_unit_period(advances, payments) is UnitPeriod.WEEK  # average 9.5 days


def test_validation_lists_every_problem_with_its_path() -> None:
    with pytest.raises(LendingError) as info:
        apr_us_reg_z(
            [CashFlow(D("2024-02-01"), 0)],
            [CashFlow(D("2024-01-01"), 100), CashFlow(D("2024-03-01"), 1.5)],  # type: ignore[arg-type]
        )
    got = {(p.loc, p.type) for p in info.value.problems}
    assert got == {
        (("advances", 0, "amount"), "amount_not_positive"),
        (("payments", 0, "date"), "payment_before_advance"),
        (("payments", 1, "amount"), "amount_type"),
    }
    with pytest.raises(LendingError) as info:
        apr_irr([], [])
    assert {p.loc for p in info.value.problems} == {("advances",), ("payments",)}
    with pytest.raises(LendingError) as info:
        apr_irr(advance("2024-01-01", 1), weekly("2024-01-08", MAX_FLOWS + 1, 1))
    assert info.value.problems[0].type == "too_many_flows"
    with pytest.raises(LendingError) as info:
        compute_apr(
            AprMethod.IRR, advance("2024-01-01", 1), weekly("2024-01-08", 2, 1), UnitPeriod.WEEK
        )
    assert info.value.problems[0].loc == ("unit_period",)


def test_apr_request_model() -> None:
    body = (
        '{"method": "us_reg_z", "advances": [{"date": "1978-01-10", "amount": "5000.00"}],'
        ' "payments": ['
        + ",".join(
            f'{{"date": "{add_months(D("1978-02-10"), k).isoformat()}", "amount": "230.00"}}'
            for k in range(24)
        )
        + "]}"
    )
    result = AprRequest.model_validate_json(body).solve()
    assert result.as_json()["apr"] == "9.69"
    assert result.as_json()["unit_period"] == "month"


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        (
            '{"method": "x", "advances": [{"date": "2024-01-01", "amount": "1"}],'
            ' "payments": [{"date": "2024-02-01", "amount": "2"}]}',
            ("method",),
        ),
        (
            '{"method": "irr", "advances": [{"date": "2024-01-01", "amount": 1}],'
            ' "payments": [{"date": "2024-02-01", "amount": "2"}]}',
            ("advances", 0, "amount"),
        ),
        (
            '{"method": "irr", "advances": [{"date": 20240101, "amount": "1"}],'
            ' "payments": [{"date": "2024-02-01", "amount": "2"}]}',
            ("advances", 0, "date"),
        ),
        (
            '{"method": "irr", "advances": [],'
            ' "payments": [{"date": "2024-02-01", "amount": "2"}]}',
            ("advances",),
        ),
        (
            '{"method": "irr", "unit_period": "fortnight", "advances": [{"date": "2024-01-01",'
            ' "amount": "1"}], "payments": [{"date": "2024-02-01", "amount": "2"}]}',
            ("unit_period",),
        ),
        (
            '{"method": "irr", "advances": [{"date": "2024-01-01", "amount": "1", "x": 1}],'
            ' "payments": [{"date": "2024-02-01", "amount": "2"}]}',
            ("advances", 0, "x"),
        ),
    ],
)
def test_apr_request_refuses_bad_bodies(body: str, loc: tuple) -> None:
    with pytest.raises(ValidationError) as info:
        AprRequest.model_validate_json(body)
    assert tuple(info.value.errors()[0]["loc"]) == loc


def test_apr_request_domain_errors_keep_their_paths() -> None:
    request = AprRequest.model_validate(
        {
            "method": "irr",
            "advances": [{"date": "2024-02-01", "amount": "1"}],
            "payments": [{"date": "2024-01-01", "amount": "2"}],
        }
    )
    with pytest.raises(LendingError) as info:
        request.solve()
    assert info.value.problems[0].loc == ("payments", 0, "date")


def test_semi_month_from_a_clipped_month_end_is_still_a_semi_month() -> None:
    assert classify_period(D("2025-02-28"), D("2025-03-14")) is UnitPeriod.SEMI_MONTH
    assert classify_period(D("2024-02-16"), D("2024-03-01")) is UnitPeriod.SEMI_MONTH


def test_appendix_j_counts_a_half_month_across_a_31_day_month_as_16_15() -> None:
    # Jan 16 → Feb 1 is 16 actual days: 0 full months back, 16 days over 15
    t, f = unit_periods(D("2024-01-16"), D("2024-02-01"), UnitPeriod.SEMI_MONTH)
    assert (t, f * 15) == (1, 1)
