"""The shipped model is what the training script produces, and the card tells the truth about it."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np
import pytest

import models_onnx.train_german_credit as train
from chalicelib.scoring import Scorer, parse_card
from tests.unit.scoring.conftest import CARD_PATH, ONNX_PATH


@pytest.fixture(scope="module")
def data() -> tuple[Any, np.ndarray]:
    return train.load_data()


@pytest.fixture(scope="module")
def pipeline(data: tuple[Any, np.ndarray]) -> Any:
    X, y = data
    return train.build_pipeline().fit(X, y)


@pytest.fixture(scope="module")
def card() -> dict[str, Any]:
    return json.loads(CARD_PATH.read_text())


def test_cross_validated_auc_in_card_is_reproduced(data, card) -> None:
    X, y = data
    cv = train.cross_validated_auc(X, y)
    shipped = card["validation"]["cross_validation"]
    assert abs(cv["auc_mean"] - shipped["auc_mean"]) <= 0.01
    assert abs(cv["auc_sd"] - shipped["auc_sd"]) <= 0.01
    assert cv["folds"] == shipped["folds"] == train.CV_SPLITS * train.CV_REPEATS


def test_auc_is_realistic_for_this_data(card) -> None:
    # Above 0.82 on German Credit means something leaked; below 0.76 means a weak model.
    assert 0.76 <= card["validation"]["cross_validation"]["auc_mean"] <= 0.80


def test_onnx_equals_sklearn_pipeline_on_whole_dataset(data, pipeline, scorer: Scorer) -> None:
    X, y = data
    expected = pipeline.predict_proba(X)[:, 1]
    rows = X.to_dict(orient="records")
    rows = [{k: (int(v) if isinstance(v, int | np.integer) else v) for k, v in r.items()}
            for r in rows]
    got = np.asarray([r.pd for r in scorer.score_batch(rows)])
    assert len(got) == len(y) == 1000
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)


def test_retrained_onnx_matches_shipped_model(pipeline, scorer: Scorer, data) -> None:
    """Same inputs, same PDs: the shipped file is reproducible from the script."""
    retrained = train.to_onnx(pipeline)
    card = json.loads(CARD_PATH.read_text())
    card["onnx"]["sha256"] = hashlib.sha256(retrained).hexdigest()
    fresh = Scorer(card, retrained)
    X, _ = data
    rows = [{k: (int(v) if isinstance(v, np.integer) else v) for k, v in r.items()}
            for r in X.head(200).to_dict(orient="records")]
    a = np.asarray([r.pd for r in fresh.score_batch(rows)])
    b = np.asarray([r.pd for r in scorer.score_batch(rows)])
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-7)


def test_card_sha256_is_the_shipped_file(card) -> None:
    data = ONNX_PATH.read_bytes()
    assert card["onnx"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert card["onnx"]["size_bytes"] == len(data)


def test_packaged_copy_is_the_shipped_model() -> None:
    """chalice ships only chalicelib/: its copy must be byte-identical to models_onnx/."""
    for path in (ONNX_PATH, CARD_PATH):
        assert (train.PACKAGED_DIR / path.name).read_bytes() == path.read_bytes(), path.name


def test_scorecard_points_reproduce_the_model_score(data, pipeline, card) -> None:
    """The points table is the model: summing an applicant's points gives its score."""
    X, _ = data
    parsed = parse_card(card)
    pd_ = pipeline.predict_proba(X.head(100))[:, 1]
    for row, p in zip(X.head(100).to_dict(orient="records"), pd_, strict=True):
        total = sum(
            next(a for a in ch.attributes if a.matches(row[ch.name])).points
            for ch in parsed.scorecard
        )
        expected = 600 + 20 / np.log(2) * (np.log((1 - p) / p) - np.log(50))
        assert total == pytest.approx(expected, abs=0.05)


def test_card_documents_what_a_regulator_asks(card) -> None:
    names = {i["name"] for i in card["inputs"]}
    assert "personal_status_and_sex" in card["excluded_characteristics"]
    assert "foreign_worker" in card["excluded_characteristics"]
    assert not names & {"personal_status_and_sex", "foreign_worker", "sex"}
    assert card["training_data"]["rows"] == 1000 and card["training_data"]["bad"] == 300
    cal = card["validation"]["calibration"]
    assert 0 < cal["brier_score"] < cal["brier_score_base_rate"]
    assert [d["decile"] for d in cal["reliability_by_decile"]] == list(range(1, 11))
    cost = card["validation"]["decision_cost"]
    assert cost["chosen"]["cut_off_pd"] == pytest.approx(1 / 6, abs=1e-4)
    assert cost["chosen"]["total_cost"] < min(cost["approve_all"]["total_cost"],
                                              cost["decline_all"]["total_cost"])
    assert cost["cost_minimising"]["total_cost"] <= cost["chosen"]["total_cost"]
    for lib in ("scikit-learn", "skl2onnx", "onnx", "onnxruntime", "numpy"):
        assert card["library_versions"][lib]
    for ch in card["scorecard"]["characteristics"]:
        assert ch["reason_text"] and ch["reason_code"]


def test_elderly_applicants_are_never_scored_down_for_age(card) -> None:
    train.check_monotone_age(card)
    age = next(c for c in card["scorecard"]["characteristics"] if c["name"] == "age_years")
    top = age["attributes"][-1]
    assert top["upper"] is None and top["lower"] <= 62
