"""Origination fixtures: a tenant with keys of every role, a product, and application bodies."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from chalicelib.lending.identity import check_char

TERMS: dict[str, Any] = {
    "currency": "CNY",
    "amount": {"min": "1000.00", "max": "50000.00"},
    "term": {"min": 3, "max": 24},
    "pricing": {"rate_percent": {"A": "10.2", "B": "12", "C": "14", "D": "18", "E": "24"},
                "max_amount": {"E": "5000.00"}},
    "apr_cap_percent": "36",
}
GOOD = {"checking_account": "no_account", "credit_history": "critical_or_credit_elsewhere",
        "savings": "1000_or_more", "employment_since": "7_years_or_more",
        "other_debtors": "guarantor", "property": "real_estate",
        "other_installment_plans": "none", "housing": "own"}  # scores ~610 (A)
MID = {**GOOD, "checking_account": "overdrawn", "savings": "below_100",
       "credit_history": "current_repaid_duly", "property": "none_or_unknown",
       "other_debtors": "none"}  # ~511 (D) at 2,000: referred by the default bands
BAD = {"checking_account": "overdrawn", "credit_history": "no_credits_or_all_repaid",
       "savings": "below_100", "employment_since": "unemployed",
       "other_debtors": "co_applicant", "property": "none_or_unknown",
       "other_installment_plans": "bank", "housing": "rent"}  # ~400 (E)


def resident_id(born: date, region: str = "110105", serial: str = "123") -> str:
    first17 = f"{region}{born:%Y%m%d}{serial}"
    return first17 + check_char(first17)


UNIONPAY_CARD = "6200000000000005"  # UnionPay's published test card: BIN 62, Luhn-valid


def payout_account(holder: str = "王小明", number: str = UNIONPAY_CARD) -> dict[str, Any]:
    """A valid beneficiary (bank card) in the applicant's name."""
    return {"kind": "bank_account", "scheme": "cn_unionpay_card", "bank_code": "ICBC",
            "account_number": number, "holder_name": holder}


def application(product_id: str, *, amount: str = "10000.00", term: int = 12,
                born: date = date(1985, 6, 15), serial: str = "123",
                characteristics: dict[str, Any] | None = None,
                **overrides: Any) -> dict[str, Any]:
    body = {
        "product_id": product_id,
        "amount": {"amount": amount, "currency": "CNY"},
        "term": term,
        "purpose": "car_used",
        "applicant": {
            "name": "王小明",
            "national_id": {"type": "prc_resident_id", "number": resident_id(born, serial=serial)},
            "phone": "+8613812345678",
            "date_of_birth": born.isoformat(),
            "monthly_income": {"amount": "8000.00", "currency": "CNY"},
            "employment": {"status": "employed", "months_in_job": 36},
            "address": {"region": "CN-BJ"},
            "characteristics": dict(GOOD if characteristics is None else characteristics),
        },
        "channel": {"type": "app", "source": "campaign-7"},
        "consents": {"credit_check": True, "data_processing": True},
    }
    body.update(overrides)
    if "beneficiary" not in overrides:  # every loan must have somewhere to be paid
        body["beneficiary"] = payout_account(body["applicant"]["name"])  # type: ignore[index]
    elif overrides["beneficiary"] is None:
        del body["beneficiary"]
    return body


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    """Data keys and model cards are cached per process; each test has a new AWS account."""
    from chalicelib.services import personal_data, scoring_models

    personal_data.reset()
    scoring_models.reset()
    yield
    personal_data.reset()
    scoring_models.reset()


@pytest.fixture
def acme(api: Any) -> dict[str, str]:
    api.tenant("acme")
    keys = {role: api.key("acme", role) for role in ("admin", "partner", "reviewer", "operator")}
    keys["reviewer2"] = api.key("acme", "reviewer")
    return keys


def make_product(api: Any, key: str, **changes: Any) -> dict[str, Any]:
    terms = copy.deepcopy(TERMS)
    terms.update(changes)
    r = api.call("POST", "/v1/products", {"name": "Microloan", "terms": terms}, key=key)
    assert r.status == 201, r.json
    return r.json


def make_policy(api: Any, key: str, **config: Any) -> dict[str, Any]:
    body = {"score_bands": {"approve_from": 540, "decline_below": 500}, **config}
    r = api.call("POST", "/v1/decision-policies", {"name": "Policy", "config": body}, key=key)
    assert r.status == 201, r.json
    return r.json


@pytest.fixture
def product(api: Any, acme: dict[str, str]) -> dict[str, Any]:
    return make_product(api, acme["admin"])
