"""Feature validation: every problem reported at once, each at its JSON pointer."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from chalicelib.scoring import FeatureValidationError, Scorer
from chalicelib.scoring.features import validate_features, validate_rows
from tests.unit.scoring.conftest import RISKY, SAFE


def problems(scorer: Scorer, features: Any, **kw: Any) -> dict[str, str]:
    with pytest.raises(FeatureValidationError) as info:
        scorer.score(features, **kw)
    err = info.value
    assert err.kind == "validation-error"
    return {e.pointer: e.code for e in err.errors}


def test_valid_features_are_normalised(scorer: Scorer) -> None:
    row = validate_features(scorer.card, RISKY)
    assert row["credit_amount"] == Decimal("9000.00")
    assert row["duration_months"] == 48


def test_every_missing_field_is_listed(scorer: Scorer) -> None:
    got = problems(scorer, {})
    assert got == {f"/features/{i.name}": "missing" for i in scorer.card.inputs}


def test_none_counts_as_missing(scorer: Scorer) -> None:
    assert problems(scorer, {**SAFE, "housing": None}) == {"/features/housing": "missing"}


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("checking_account", "gold", "unknown_category"),
        ("checking_account", 3, "wrong_type"),
        ("duration_months", 3, "out_of_range"),
        ("duration_months", 73, "out_of_range"),
        ("duration_months", 12.5, "not_integer"),
        ("duration_months", "12", "wrong_type"),
        ("duration_months", float("inf"), "not_finite"),
        ("age_years", True, "wrong_type"),
        ("age_years", 17, "out_of_range"),
        ("credit_amount", 1500.0, "float_amount"),
        ("credit_amount", "abc", "wrong_type"),
        ("credit_amount", "NaN", "not_finite"),
        ("credit_amount", 249, "out_of_range"),
        ("credit_amount", Decimal("18425"), "out_of_range"),
    ],
)
def test_each_bad_value_is_reported_at_its_field(
    scorer: Scorer, field: str, value: Any, code: str
) -> None:
    assert problems(scorer, {**SAFE, field: value}) == {f"/features/{field}": code}


@pytest.mark.parametrize(
    "amount", [1500, Decimal("1500"), "1500", "1500.00", Decimal("1500.0"), "1499.99"]
)
def test_amounts_accept_ints_decimals_and_decimal_strings(scorer: Scorer, amount: Any) -> None:
    base = scorer.score({**SAFE, "credit_amount": 1500}).pd
    assert scorer.score({**SAFE, "credit_amount": amount}).pd == base


def test_whole_float_is_fine_for_non_money_numbers(scorer: Scorer) -> None:
    assert scorer.score({**SAFE, "duration_months": 6.0}).pd == scorer.score(SAFE).pd


def test_unknown_fields_are_refused_with_escaped_pointer(scorer: Scorer) -> None:
    got = problems(scorer, {**SAFE, "sex": "m", "a/b": 1})
    assert got == {"/features/sex": "unknown_field", "/features/a~1b": "unknown_field"}


def test_all_problems_together_with_custom_pointer(scorer: Scorer) -> None:
    bad = {**SAFE, "purpose": "yacht", "credit_amount": 0.5, "foreign_worker": "yes"}
    del bad["housing"]
    got = problems(scorer, bad, pointer="/applicant/features")
    assert got == {
        "/applicant/features/purpose": "unknown_category",
        "/applicant/features/credit_amount": "float_amount",
        "/applicant/features/housing": "missing",
        "/applicant/features/foreign_worker": "unknown_field",
    }


def test_not_an_object(scorer: Scorer) -> None:
    assert problems(scorer, ["x"]) == {"/features": "wrong_type"}


def test_batch_problems_name_the_row(scorer: Scorer) -> None:
    rows = [SAFE, {**SAFE, "age_years": 5}, RISKY, {**RISKY, "housing": "castle"}]
    with pytest.raises(FeatureValidationError) as info:
        validate_rows(scorer.card, rows)
    assert {e.pointer: e.code for e in info.value.errors} == {
        "/rows/1/age_years": "out_of_range",
        "/rows/3/housing": "unknown_category",
    }


def test_batch_must_be_a_list(scorer: Scorer) -> None:
    with pytest.raises(FeatureValidationError):
        scorer.score_batch(SAFE)  # type: ignore[arg-type]
