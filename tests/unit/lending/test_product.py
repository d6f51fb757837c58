"""Product configuration: strict, defaulted sensibly, and explaining every problem at once."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from chalicelib.lending.allocation import DEFAULT_ALLOCATION, Component, DueClass
from chalicelib.lending.errors import LendingError
from chalicelib.lending.money import Rounding
from chalicelib.lending.product import ProductConfig, parse_product
from chalicelib.lending.schedule import Amortization, OriginationTreatment

BASE: dict[str, Any] = {
    "currency": "CNY",
    "amount": {"min": "1000.00", "max": "50000.00"},
    "term": {"min": 3, "max": 36},
    "pricing": {
        "rate_percent": {"A": "10", "B": "12", "C": "15", "D": "20", "E": "24"},
        "max_amount": {"E": "10000.00"},
    },
    "fees": {"origination": {"flat": "50.00", "percent": "2"}},
}


def product(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    data.update(changes)
    return data


def problems(data: dict[str, Any]) -> dict[tuple, str]:
    with pytest.raises(LendingError) as info:
        parse_product(data)
    return {tuple(p.loc): p.type for p in info.value.problems}


def test_defaults_describe_a_plain_monthly_annuity() -> None:
    p = parse_product(BASE)
    assert p.amortization is Amortization.EQUAL_INSTALLMENTS
    assert p.frequency.unit == "month" and p.frequency.every == 1
    assert p.day_count == "30/360" and p.rounding.mode is Rounding.HALF_UP
    assert p.pricing.grades == ["A", "B", "C", "D", "E"]
    assert p.allocation == DEFAULT_ALLOCATION
    assert p.allocation[0].due_class is DueClass.PAST_DUE
    assert p.allocation[0].component is Component.PENALTY
    assert p.allocation[3].component is Component.PRINCIPAL
    assert p.fees.origination.treatment is OriginationTreatment.DEDUCTED
    assert p.amount_range_minor() == (100000, 5000000)
    assert p.max_amount_minor("E") == 1000000 and p.max_amount_minor("A") == 5000000
    assert p.origination_fee(1000000) == 5000 + 20000
    assert p.installment_unit_minor() == 1
    assert p.pricing.cheapest_grade() == "A"


def test_round_trips_through_json() -> None:
    p = parse_product(BASE)
    again = ProductConfig.model_validate_json(p.model_dump_json())
    assert again == p


def test_every_problem_is_reported_at_once_with_its_path() -> None:
    data = product(
        amount={"min": "5000.00", "max": "1000.001"},
        term={"min": 30, "max": 3},
        pricing={"rate_percent": {"A": "10", "F": "12"}, "max_amount": {"Z": "100.00"}},
        allocation=[{"due_class": "due", "component": "fee"}] * 2,
        apr_cap_percent=36,
        junk=True,
    )
    assert problems(data) == {
        ("amount", "min"): "range_inverted",
        ("term", "min"): "range_inverted",
        ("pricing", "rate_percent", "F"): "grade_unknown",
        ("pricing", "max_amount", "Z"): "grade_unknown",
        ("pricing", "rate_percent"): "grade_rate_missing",
        ("allocation", 1): "allocation_duplicate",
        ("allocation",): "allocation_incomplete",
        ("apr_cap_percent",): "string_type",
        ("junk",): "extra_forbidden",
    }


def test_amounts_are_checked_against_the_currency() -> None:
    data = product(
        currency="JPY", amount={"min": "1000", "max": "50000.5"}, fees={"installment": "1.5"}
    )
    got = problems(data)
    assert got[("amount", "max")] == "amount_precision"
    assert got[("pricing", "max_amount", "E")] == "amount_precision"
    assert got[("fees", "installment")] == "amount_precision"


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("amount", "min"), 1000),
        (("amount", "min"), 1000.5),
        (("term", "min"), "3"),
        (("term", "min"), 3.0),
        (("pricing", "rate_percent", "A"), 10),
    ],
)
def test_json_numbers_are_refused_where_strings_are_required(path: tuple, value: Any) -> None:
    data = product()
    target = data
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    assert path in problems(data)


def test_grade_labels_follow_the_pattern() -> None:
    data = product(pricing={"grades": ["prime", "A"], "rate_percent": {"prime": "1", "A": "2"}})
    got = problems(data)
    assert ("pricing", "grades", 0) in got
    custom = product(
        pricing={
            "grades": ["PRIME", "STD", "HIGH_RISK"],
            "rate_percent": {"PRIME": "8.5", "STD": "10", "HIGH_RISK": "18"},
            "max_amount": {"HIGH_RISK": "5000.00"},
        }
    )
    assert parse_product(custom).pricing.cheapest_grade() == "PRIME"


def test_grade_limit_must_lie_in_the_amount_range_and_grace_under_the_term() -> None:
    data = product(
        pricing={
            "rate_percent": BASE["pricing"]["rate_percent"],
            "max_amount": {"E": "60000.00", "D": "500.00"},
        },
        grace={"principal_periods": 3},
    )
    assert problems(data) == {
        ("pricing", "max_amount", "E"): "grade_max_out_of_range",
        ("pricing", "max_amount", "D"): "grade_max_out_of_range",
        ("grace", "principal_periods"): "grace_too_long",
    }


def test_fee_that_swallows_the_minimum_amount() -> None:
    data = product(fees={"origination": {"flat": "1000.00"}})
    assert problems(data) == {("fees", "origination"): "fee_exceeds_principal"}
    ok = product(fees={"origination": {"flat": "1000.00", "treatment": "financed"}})
    assert parse_product(ok).fees.origination.treatment is OriginationTreatment.FINANCED


def test_cap_below_the_cheapest_grade_apr_is_refused_with_the_figures() -> None:
    with pytest.raises(LendingError) as info:
        parse_product(product(apr_cap_percent="9"))
    (problem,) = info.value.problems
    assert problem.loc == ("apr_cap_percent",) and problem.type == "apr_cap_below_cheapest"
    assert "cheapest grade A" in problem.msg and "11.4" in problem.msg


def test_grades_that_can_never_quote_under_the_cap_are_named() -> None:
    got = problems(product(apr_cap_percent="20"))
    assert got == {
        ("pricing", "rate_percent", "D"): "grade_above_cap",
        ("pricing", "rate_percent", "E"): "grade_above_cap",
    }
    assert parse_product(product(apr_cap_percent="36")).apr_cap_percent == "36"


def test_references_are_shape_checked() -> None:
    ok = product(references={"decision_policy_id": "pol_1", "channel_ids": ["bank-a", "wallet"]})
    assert parse_product(ok).references.channel_ids == ["bank-a", "wallet"]
    assert ("references", "channel_ids", 0) in problems(product(references={"channel_ids": [""]}))


def test_single_bullet_has_no_grace() -> None:
    data = product(amortization="single_bullet", grace={"interest_periods": 1})
    assert problems(data) == {("grace",): "grace_not_applicable"}


def test_unknown_grade_when_pricing() -> None:
    with pytest.raises(LendingError) as info:
        parse_product(BASE).rate_percent("Z")
    assert info.value.problems[0].type == "grade_unknown"


def test_overpayment_tolerance_defaults_to_zero_and_is_checked_like_money() -> None:
    assert parse_product(BASE).overpayment_tolerance_minor() == 0
    assert parse_product(product(overpayment_tolerance="1.50")).overpayment_tolerance_minor() == 150
    assert problems(product(overpayment_tolerance="0.001")) == {
        ("overpayment_tolerance",): "amount_precision"}
    assert problems(product(overpayment_tolerance="-1.00")) == {
        ("overpayment_tolerance",): "amount_negative"}
    assert ("overpayment_tolerance",) in problems(product(overpayment_tolerance=1))
    jpy = product(currency="JPY", amount={"min": "1000", "max": "50000"},
                  pricing={"rate_percent": {"A": "10", "B": "12", "C": "15", "D": "20",
                                            "E": "24"}},
                  fees={"origination": {"flat": "50", "percent": "2"}})
    assert problems({**jpy, "overpayment_tolerance": "0.5"}) == {
        ("overpayment_tolerance",): "amount_precision"}


def test_a_version_stored_before_the_tolerance_existed_loads_with_zero() -> None:
    import json

    from chalicelib.services.products import load_terms
    from chalicelib.store.models import ProductVersionItem

    stored = parse_product(BASE).model_dump(mode="json")
    del stored["overpayment_tolerance"]
    version = ProductVersionItem("acme#product#p", "v#1", product_id="p", number=1,
                                 terms=json.dumps(stored))
    assert load_terms(version).overpayment_tolerance_minor() == 0
