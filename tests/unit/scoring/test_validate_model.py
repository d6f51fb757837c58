"""validate_model: a tenant's ONNX file + card is accepted only if the runtime can really use it."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import skl2onnx
import sklearn.linear_model as sklearn_lm
from skl2onnx.common.data_types import FloatTensorType, StringTensorType

from chalicelib.scoring import ModelRegistry, Scorer, seal_card, validate_model

NAMES = ["income", "debt_ratio", "age"]


def numeric_model(batch: int | None = None, zipmap: bool = False, regression: bool = False
                  ) -> bytes:
    """A tenant model over one [N, 3] float matrix named float_input."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(200, 3)).astype(np.float32)
    y = (X[:, 1] - X[:, 0] + rng.normal(size=200) > 0).astype(int)
    if regression:
        model: Any = sklearn_lm.LinearRegression().fit(X, y * 10.0)
        options = None
    else:
        model = sklearn_lm.LogisticRegression().fit(X, y)
        options = {id(model): {"zipmap": zipmap}}
    onx = skl2onnx.convert_sklearn(
        model, initial_types=[("float_input", FloatTensorType([batch, 3]))], options=options,
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    return onx.SerializeToString()


def numeric_card(**onnx: Any) -> dict[str, Any]:
    return {
        "model_id": "acme-pd", "version": "2",
        "onnx": {"input_layout": "matrix", "input_name": "float_input", **onnx},
        "inputs": [
            {"name": n, "type": "numeric", "minimum": -5, "maximum": 5} for n in NAMES
        ],
        "outputs": {"probability_of_default": {"name": "probabilities", "index": 1}},
    }


def codes(problems: list[Any]) -> set[tuple[str, str]]:
    return {(p.pointer, p.code) for p in problems}


def test_shipped_model_is_valid(card_dict, model_bytes) -> None:
    assert validate_model(model_bytes, card_dict) == []


def test_good_tenant_matrix_model_is_valid_and_scores() -> None:
    data = numeric_model()
    assert validate_model(data, numeric_card()) == []
    scorer = ModelRegistry().load(data, seal_card(numeric_card(), data))
    r = scorer.score({"income": 1, "debt_ratio": 0.5, "age": 2})
    assert 0 <= r.pd <= 1
    # No scorecard in the card: reasons come from re-scoring with each input changed.
    assert r.reasons_method == "counterfactual"
    assert r.reasons[0].characteristic == "debt_ratio" and r.reasons[0].best_attribute == "-5"
    hi = scorer.score({"income": -3, "debt_ratio": 3, "age": 0}).pd
    lo = scorer.score({"income": 3, "debt_ratio": -3, "age": 0}).pd
    assert hi > 0.5 > lo


def test_wrong_inputs_are_named_precisely() -> None:
    card = numeric_card()
    card["onnx"] = {"input_layout": "per_feature"}
    problems = validate_model(numeric_model(), card)
    assert codes(problems) == {
        ("/model/inputs/income", "missing_input"),
        ("/model/inputs/debt_ratio", "missing_input"),
        ("/model/inputs/age", "missing_input"),
        ("/model/inputs/float_input", "undeclared_input"),
    }


def test_wrong_matrix_width() -> None:
    card = numeric_card()
    card["inputs"] = card["inputs"][:2]
    assert codes(validate_model(numeric_model(), card)) == {
        ("/model/inputs/float_input", "shape_mismatch"),
    }


def test_fixed_batch_dimension_is_refused() -> None:
    problems = validate_model(numeric_model(batch=1), numeric_card())
    assert codes(problems) == {("/model/inputs/float_input", "shape_mismatch")}
    assert "dynamic" in problems[0].detail


def test_zipmap_output_is_refused_with_a_hint() -> None:
    card = numeric_card()
    card["outputs"]["probability_of_default"] = {"name": "output_probability", "index": 1}
    problems = validate_model(numeric_model(zipmap=True), card)
    assert codes(problems) == {("/model/outputs/output_probability", "type_mismatch")}
    assert "ZipMap" in problems[0].detail


def test_missing_output_lists_what_exists() -> None:
    card = numeric_card()
    card["outputs"]["probability_of_default"]["name"] = "pd"
    problems = validate_model(numeric_model(), card)
    assert codes(problems) == {("/model/outputs/pd", "missing_output")}
    assert "probabilities" in problems[0].detail


def test_output_column_out_of_range() -> None:
    card = numeric_card()
    card["outputs"]["probability_of_default"]["index"] = 2
    problems = validate_model(numeric_model(), card)
    assert codes(problems) in (
        {("/model/outputs/probabilities", "shape_mismatch")},  # static width known
        {("/model", "inference_failed")},  # or found by the smoke run
    )


def test_non_probability_output_is_caught_by_smoke_inference() -> None:
    card = numeric_card()
    card["outputs"]["probability_of_default"] = {"name": "variable", "index": None}
    assert codes(validate_model(numeric_model(regression=True), card)) == {
        ("/model/outputs/variable", "bad_output"),
    }


def test_garbage_bytes() -> None:
    problems = validate_model(b"not an onnx model", numeric_card())
    assert codes(problems) == {("/model", "load_failed")}
    assert codes(validate_model(b"", numeric_card())) == {("/model", "missing")}


def test_declared_sha_must_match() -> None:
    data = numeric_model()
    assert codes(validate_model(data, numeric_card(sha256="0" * 64))) == {
        ("/card/onnx/sha256", "sha256_mismatch"),
    }
    assert validate_model(data, seal_card(numeric_card(), data)) == []


def test_categorical_declared_numeric(card_dict, model_bytes) -> None:
    card = copy.deepcopy(card_dict)
    card.pop("scorecard")
    card["inputs"][0] = {"name": "checking_account", "type": "numeric", "minimum": 0,
                         "maximum": 3}
    assert codes(validate_model(model_bytes, card)) == {
        ("/model/inputs/checking_account", "type_mismatch"),
    }


def test_card_problems_come_first_with_pointers(model_bytes) -> None:
    card = {
        "version": 3,
        "onnx": {"input_layout": "sideways", "sha256": "xyz"},
        "inputs": [
            {"name": "a", "type": "numeric", "minimum": 5, "maximum": 1},
            {"name": "a", "type": "categorical", "categories": []},
            {"type": "vector"},
        ],
        "outputs": {},
        "grades": [{"grade": "A", "min_score": 1}],
    }
    assert codes(validate_model(model_bytes, card)) == {
        ("/card/model_id", "missing"),
        ("/card/version", "wrong_type"),
        ("/card/onnx/sha256", "invalid_format"),
        ("/card/onnx/input_layout", "invalid_choice"),
        ("/card/inputs/0/maximum", "invalid"),
        ("/card/inputs/1/name", "duplicate"),
        ("/card/inputs/1/categories", "missing"),
        ("/card/inputs/2/name", "missing"),
        ("/card/inputs/2/type", "invalid_choice"),
        ("/card/outputs/probability_of_default", "missing"),
        ("/card/grades", "invalid"),
    }
    assert codes(validate_model(model_bytes, "nope")) == {("/card", "wrong_type")}  # type: ignore[arg-type]


def test_scorecard_that_does_not_explain_the_model(card_dict, model_bytes) -> None:
    card = copy.deepcopy(card_dict)
    card["scorecard"]["characteristics"][0]["attributes"][0]["coefficient"] += 1.0
    problems = validate_model(model_bytes, card)
    assert {p.code for p in problems} == {"scorecard_mismatch"}


def test_scorecard_coverage_and_names(card_dict, model_bytes) -> None:
    card = copy.deepcopy(card_dict)
    chars = card["scorecard"]["characteristics"]
    chars[0]["attributes"].pop()  # checking_account loses a category
    chars[1]["attributes"][1]["lower"] = 13  # duration bins no longer contiguous
    chars[2]["name"] = "credit_score"
    assert codes(validate_model(model_bytes, card)) == {
        ("/card/scorecard/characteristics/0/attributes", "coverage"),
        ("/card/scorecard/characteristics/1/attributes", "coverage"),
        ("/card/scorecard/characteristics/2/name", "unknown_input"),
    }


def test_per_feature_tenant_model_with_string_input() -> None:
    """A tenant model with its own categorical input works end to end."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.default_rng(3)
    import pandas as pd

    X = pd.DataFrame({"region": rng.choice(["n", "s"], 300),
                      "income": rng.integers(1, 100, 300).astype(float)})
    y = ((X.region == "s") ^ (rng.random(300) < 0.2)).astype(int)
    pipe = Pipeline([
        ("ct", ColumnTransformer([("oh", OneHotEncoder(), ["region"]),
                                  ("num", "passthrough", ["income"])])),
        ("lr", sklearn_lm.LogisticRegression(max_iter=1000)),
    ]).fit(X, y)
    onx = skl2onnx.convert_sklearn(
        pipe, initial_types=[("region", StringTensorType([None, 1])),
                             ("income", FloatTensorType([None, 1]))],
        options={id(pipe.named_steps["lr"]): {"zipmap": False}},
        target_opset={"": 17, "ai.onnx.ml": 3},
    ).SerializeToString()
    card = {
        "model_id": "coop", "version": "1",
        "inputs": [
            {"name": "region", "type": "categorical", "categories": ["n", "s"]},
            {"name": "income", "type": "numeric", "minimum": 0, "maximum": 100, "money": True},
        ],
        "outputs": {"probability_of_default": {"name": "probabilities", "index": 1}},
    }
    card["inputs"][0]["reason_text"] = "Where you live"
    assert validate_model(onx, card) == []
    scorer = Scorer(seal_card(card, onx), onx)
    south = scorer.score({"region": "s", "income": "40"})
    assert south.pd > scorer.score({"region": "n", "income": 40}).pd
    assert south.reasons[0].text == "Where you live"
    assert (south.reasons[0].attribute, south.reasons[0].best_attribute) == ("s", "n")
