"""Checking a tenant's model (bytes + card) before it may be stored and activated.

`validate_model` answers with a list of problems (empty = acceptable), each a FieldError whose
pointer says where: `/card/...` for the card, `/model/...` for the ONNX graph, `/model` for the
file as a whole. The upload endpoint returns them as one 422 and, if there are none, stores
`seal_card(card, bytes)` so that every later load verifies the same SHA-256.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import numpy as np

from chalicelib.scoring.card import InputSpec, ModelCard, card_problems, parse_card
from chalicelib.scoring.errors import FieldError
from chalicelib.scoring.features import NUMPY_TYPES, Row, build_feed
from chalicelib.scoring.scale import DEFAULT_SCALE

MAX_MODEL_BYTES = 50 * 1024 * 1024
FLOAT_TYPES = ("tensor(float)", "tensor(double)")
SCORECARD_TOLERANCE_POINTS = 0.5


def validate_model(model_bytes: bytes, card: Mapping[str, Any] | ModelCard) -> list[FieldError]:
    """Every reason this model + card cannot be used for scoring (empty list: it can)."""
    if not isinstance(card, ModelCard):
        problems = card_problems(card)
        if problems:
            return problems
    parsed = parse_card(card)
    if not isinstance(model_bytes, bytes | bytearray) or not model_bytes:
        return [FieldError("/model", "the model file is empty", "missing")]
    if len(model_bytes) > MAX_MODEL_BYTES:
        return [FieldError("/model", f"larger than {MAX_MODEL_BYTES} bytes", "too_large")]
    problems = []
    from chalicelib.scoring.graph_checks import static_problems
    from chalicelib.scoring.runtime import open_session, sha256_hex

    actual = sha256_hex(bytes(model_bytes))
    if parsed.sha256 and parsed.sha256 != actual:
        problems.append(FieldError(
            "/card/onnx/sha256", f"the file's SHA-256 is {actual}", "sha256_mismatch"
        ))
    refused = static_problems(bytes(model_bytes))  # before onnxruntime sees a hostile graph
    if refused:
        return problems + refused
    try:
        session = open_session(bytes(model_bytes))
    except Exception as e:  # onnxruntime raises untyped errors for any malformed graph
        return [*problems, FieldError("/model", f"not a loadable ONNX model: {e}", "load_failed")]
    graph = session_problems(parsed, session)
    if graph:
        return problems + graph
    return problems + smoke_problems(parsed, session)


def seal_card(card: Mapping[str, Any], model_bytes: bytes) -> dict[str, Any]:
    """A copy of the card carrying the file's SHA-256 and size: what gets stored."""
    from chalicelib.scoring.runtime import sha256_hex

    sealed = copy.deepcopy(dict(card))
    onnx = dict(sealed.get("onnx") or {})
    onnx.update(sha256=sha256_hex(bytes(model_bytes)), size_bytes=len(model_bytes))
    sealed["onnx"] = onnx
    return sealed


def session_problems(card: ModelCard, session: Any) -> list[FieldError]:
    """Does the graph take what the card declares, and give a PD where the card says?"""
    graph_inputs = {i.name: i for i in session.get_inputs()}
    problems: list[FieldError] = []
    if card.layout == "matrix":
        problems += _matrix_input(card, graph_inputs)
    else:
        for spec in card.inputs:
            problems += _feature_input(spec, graph_inputs.get(spec.name))
        for name in graph_inputs:
            if card.input(name) is None:
                problems.append(FieldError(
                    f"/model/inputs/{name}",
                    "the model needs this input but the card does not declare it",
                    "undeclared_input",
                ))
    problems += _pd_output(card, {o.name: o for o in session.get_outputs()})
    return problems


def _feature_input(spec: InputSpec, arg: Any) -> list[FieldError]:
    at = f"/model/inputs/{spec.name}"
    if arg is None:
        return [FieldError(at, "declared in the card but the model has no such input",
                           "missing_input")]
    problems = []
    allowed = ("tensor(string)",) if spec.type == "categorical" else (
        (*FLOAT_TYPES, "tensor(int64)") if spec.integer else FLOAT_TYPES
    )
    if arg.type not in allowed:
        problems.append(FieldError(
            at, f"type {arg.type} does not fit a {spec.type} input (expected one of "
            f"{list(allowed)})", "type_mismatch",
        ))
    problems += _shape(at, arg.shape, width=1)
    return problems


def _matrix_input(card: ModelCard, graph_inputs: Mapping[str, Any]) -> list[FieldError]:
    name = card.matrix_input or ""
    arg = graph_inputs.get(name)
    if arg is None:
        return [FieldError(f"/model/inputs/{name}", "the model has no such input",
                           "missing_input")]
    problems = []
    others = [n for n in graph_inputs if n != name]
    if others:
        problems.append(FieldError("/model/inputs", f"the model also needs {others}, which the "
                                   "matrix layout cannot feed", "undeclared_input"))
    if arg.type not in FLOAT_TYPES:
        problems.append(FieldError(f"/model/inputs/{name}", f"type {arg.type}: expected "
                                   "float or double", "type_mismatch"))
    problems += _shape(f"/model/inputs/{name}", arg.shape, width=len(card.inputs))
    return problems


def _shape(at: str, shape: list[Any], width: int) -> list[FieldError]:
    if len(shape) != 2:
        return [FieldError(at, f"shape {shape}: expected [batch, {width}]", "shape_mismatch")]
    problems = []
    if isinstance(shape[0], int):
        problems.append(FieldError(at, f"shape {shape}: the batch dimension must be dynamic",
                                   "shape_mismatch"))
    if isinstance(shape[1], int) and shape[1] != width:
        problems.append(FieldError(at, f"shape {shape}: expected {width} column(s)",
                                   "shape_mismatch"))
    return problems


def _pd_output(card: ModelCard, outputs: Mapping[str, Any]) -> list[FieldError]:
    spec = card.pd_output
    arg = outputs.get(spec.name)
    at = f"/model/outputs/{spec.name}"
    if arg is None:
        return [FieldError(at, f"the model has no output {spec.name!r} (it has "
                           f"{sorted(outputs)})", "missing_output")]
    if arg.type not in FLOAT_TYPES:
        return [FieldError(at, f"type {arg.type}: a probability must be float or double "
                           "(turn ZipMap off when converting)", "type_mismatch")]
    shape = arg.shape
    if spec.index is None:
        if len(shape) == 1 or (len(shape) == 2 and not (isinstance(shape[1], int)
                                                        and shape[1] != 1)):
            return []
        return [FieldError(at, f"shape {shape}: give outputs.probability_of_default.index",
                           "shape_mismatch")]
    if len(shape) != 2:
        return [FieldError(at, f"shape {shape}: index {spec.index} needs a [batch, k] output",
                           "shape_mismatch")]
    if isinstance(shape[1], int) and spec.index >= shape[1]:
        return [FieldError(at, f"index {spec.index} is outside {shape[1]} columns",
                           "shape_mismatch")]
    return []


def synthetic_rows(card: ModelCard) -> list[Row]:
    """Low, high and middle values of every input: what a smoke test can feed without data."""
    rows: list[Row] = [{}, {}, {}]
    for spec in card.inputs:
        if spec.type == "categorical":
            cats = spec.categories
            values: list[Any] = [cats[0], cats[-1], cats[len(cats) // 2]]
        else:
            lo = spec.minimum if spec.minimum is not None else (
                min(Decimal(0), spec.maximum) if spec.maximum is not None else Decimal(0))
            hi = spec.maximum if spec.maximum is not None else max(lo, Decimal(1))
            mid = (lo + hi) / 2
            values = [lo, hi, Decimal(math.floor(mid)) if spec.integer else mid]
            if spec.integer:
                values = [int(v) for v in values]
        for row, v in zip(rows, values, strict=True):
            row[spec.name] = v
    return rows


def smoke_problems(card: ModelCard, session: Any) -> list[FieldError]:
    """Run the model on synthetic rows, under the scoring run's time limit: it must answer one
    probability per row, in time."""
    from chalicelib.scoring.runtime import time_budget_problem
    from chalicelib.scoring.watchdog import RunTimeout, bounded_run

    rows = synthetic_rows(card)
    types = {i.name: i.type for i in session.get_inputs()}
    at = f"/model/outputs/{card.pd_output.name}"
    try:
        feed = build_feed(card, rows, {k: v for k, v in types.items() if v in NUMPY_TYPES})
        (out,) = bounded_run(session, [card.pd_output.name], feed)
    except RunTimeout as e:
        return [time_budget_problem(e)]
    except Exception as e:  # any runtime failure is the model's problem to report
        return [FieldError("/model", f"smoke inference failed: {e}", "inference_failed")]
    out = np.asarray(out, dtype=np.float64)
    pd = out[:, card.pd_output.index] if card.pd_output.index is not None else out.reshape(-1)
    if pd.shape != (len(rows),):
        return [FieldError(at, f"gave shape {out.shape} for {len(rows)} rows", "bad_output")]
    if not np.all(np.isfinite(pd)) or np.any(pd < 0) or np.any(pd > 1):
        return [FieldError(at, f"gave {pd.tolist()}: not probabilities", "bad_output")]
    return _scorecard_agreement(card, rows, pd)


def _scorecard_agreement(card: ModelCard, rows: list[Row], pd: np.ndarray) -> list[FieldError]:
    """If the card gives an intercept, its points must reproduce the model's score."""
    intercept = card.raw.get("scorecard", {}).get("intercept")
    if not card.scorecard or not isinstance(intercept, int | float):
        return []
    problems = []
    for i, (row, p) in enumerate(zip(rows, pd.tolist(), strict=True)):
        log_odds_bad = intercept + sum(
            ch.attribute_for(row[ch.name]).coefficient
            for ch in card.scorecard
        )
        from_points = DEFAULT_SCALE.offset - DEFAULT_SCALE.factor * log_odds_bad
        from_model = DEFAULT_SCALE.exact_score(p)
        if abs(from_points - from_model) > SCORECARD_TOLERANCE_POINTS:
            problems.append(FieldError(
                "/card/scorecard", f"synthetic row {i}: the points give {from_points:.1f}, "
                f"the model {from_model:.1f}; reasons would not explain this model",
                "scorecard_mismatch",
            ))
    return problems
