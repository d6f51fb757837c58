"""Shared fixtures: the shipped model and card, a fresh registry, and two typical applicants."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib.scoring import ModelRegistry, Scorer

MODELS = Path(__file__).resolve().parents[3] / "models_onnx"
CARD_PATH = MODELS / "german_credit_v1.card.json"
ONNX_PATH = MODELS / "german_credit_v1.onnx"

# An applicant with every characteristic at (or near) its worst attribute.
RISKY: dict[str, Any] = {
    "checking_account": "overdrawn",
    "duration_months": 48,
    "credit_history": "all_repaid_this_bank",
    "purpose": "car_new",
    "credit_amount": "9000.00",
    "savings": "below_100",
    "employment_since": "below_1_year",
    "other_debtors": "co_applicant",
    "property": "none_or_unknown",
    "age_years": 22,
    "other_installment_plans": "bank",
    "housing": "rent",
}

# An applicant with every characteristic at its best attribute.
SAFE: dict[str, Any] = {
    "checking_account": "no_account",
    "duration_months": 6,
    "credit_history": "critical_or_credit_elsewhere",
    "purpose": "car_used",
    "credit_amount": 1500,
    "savings": "none_or_unknown",
    "employment_since": "4_to_7_years",
    "other_debtors": "guarantor",
    "property": "real_estate",
    "age_years": 45,
    "other_installment_plans": "none",
    "housing": "own",
}


@pytest.fixture
def card_dict() -> dict[str, Any]:
    return json.loads(CARD_PATH.read_text())


@pytest.fixture(scope="session")
def model_bytes() -> bytes:
    return ONNX_PATH.read_bytes()


@pytest.fixture
def registry() -> ModelRegistry:
    return ModelRegistry()


@pytest.fixture(scope="session")
def scorer() -> Scorer:
    return Scorer(json.loads(CARD_PATH.read_text()), ONNX_PATH.read_bytes())
