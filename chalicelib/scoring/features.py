"""Feature dicts → validated values → input tensors, with every problem reported at once.

Numbers are kept exact (int/Decimal) until the tensor is built: amounts arrive as ints, Decimals
or decimal strings and a float amount is refused, so no money float exists outside the model's
own input tensor.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np

from chalicelib.scoring.card import InputSpec, ModelCard
from chalicelib.scoring.errors import FeatureValidationError, FieldError

Value = int | Decimal | float | str
Row = dict[str, Value]


def validate_features(
    card: ModelCard, features: Any, pointer: str = "/features"
) -> Row:
    """The features normalised for the model, or FeatureValidationError listing every problem."""
    problems: list[FieldError] = []
    row = _validate(card, features, pointer, problems)
    if problems:
        raise FeatureValidationError.of(problems)
    return row


def validate_rows(
    card: ModelCard, rows: Sequence[Any], pointer: str = "/rows"
) -> list[Row]:
    """Batch validation: problems from every row in one error (pointer/<i>/<field>)."""
    if isinstance(rows, str | bytes | Mapping) or not isinstance(rows, Sequence):
        raise FeatureValidationError.of([FieldError(pointer, "must be a list", "wrong_type")])
    problems: list[FieldError] = []
    out = [_validate(card, r, f"{pointer}/{i}", problems) for i, r in enumerate(rows)]
    if problems:
        raise FeatureValidationError.of(problems)
    return out


def _validate(card: ModelCard, features: Any, at: str, problems: list[FieldError]) -> Row:
    if not isinstance(features, Mapping):
        problems.append(FieldError(at, "must be an object of features", "wrong_type"))
        return {}
    row: Row = {}
    for spec in card.inputs:
        value = features.get(spec.name)
        if value is None:
            problems.append(FieldError(f"{at}/{_escape(spec.name)}", f"{spec.label} is required",
                                       "missing"))
            continue
        checked = (_categorical if spec.type == "categorical" else _numeric)(spec, value)
        if isinstance(checked, FieldError):
            problems.append(FieldError(f"{at}/{_escape(spec.name)}", checked.detail,
                                       checked.code))
        else:
            row[spec.name] = checked
    if len(row) == len(features) == len(card.inputs):
        return row  # every key was a known input: nothing unknown to look for
    for name in features:
        if card.input(name) is None:
            problems.append(FieldError(
                f"{at}/{_escape(str(name))}", "not an input of this model", "unknown_field"
            ))
    return row


def _categorical(spec: InputSpec, value: Any) -> str | FieldError:
    if not isinstance(value, str):
        return FieldError("", f"must be one of the codes {list(spec.categories)}", "wrong_type")
    if value not in spec.categories:
        return FieldError("", f"{value!r} is not one of {list(spec.categories)}",
                          "unknown_category")
    return value


def _numeric(spec: InputSpec, value: Any) -> int | Decimal | float | FieldError:
    number: int | Decimal | float
    if isinstance(value, bool):
        return FieldError("", "must be a number, not a boolean", "wrong_type")
    if isinstance(value, int | Decimal):
        number = value
    elif isinstance(value, float):
        if spec.money:
            return FieldError("", "an amount must be an integer or a decimal string, never a "
                              "binary float", "float_amount")
        if not math.isfinite(value):
            return FieldError("", "must be a finite number", "not_finite")
        number = value
    elif isinstance(value, str) and spec.money:
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            return FieldError("", f"{value!r} is not a decimal number", "wrong_type")
    else:
        return FieldError("", "must be a number", "wrong_type")
    if isinstance(number, Decimal) and not number.is_finite():
        return FieldError("", "must be a finite number", "not_finite")
    if spec.integer and number != int(number):
        return FieldError("", "must be a whole number", "not_integer")
    if spec.minimum is not None and number < spec.minimum:
        return FieldError("", f"must be at least {spec.minimum}", "out_of_range")
    if spec.maximum is not None and number > spec.maximum:
        return FieldError("", f"must be at most {spec.maximum}", "out_of_range")
    return number


def _escape(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")  # RFC 6901


# ONNX element types the runtime can feed, by graph input type string.
NUMPY_TYPES: dict[str, Any] = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(string)": np.object_,
}


def build_feed(
    card: ModelCard, rows: Sequence[Row], input_types: Mapping[str, str]
) -> dict[str, np.ndarray]:
    """Input tensors for validated rows; `input_types` maps graph input → ONNX type string."""
    if card.layout == "matrix":
        name = card.matrix_input or ""
        dtype = NUMPY_TYPES[input_types[name]]
        matrix = [[_as_number(r[i.name]) for i in card.inputs] for r in rows]
        return {name: np.asarray(matrix, dtype=dtype).reshape(len(rows), len(card.inputs))}
    feed: dict[str, np.ndarray] = {}
    for spec in card.inputs:
        dtype = NUMPY_TYPES[input_types[spec.name]]
        if spec.type == "categorical":
            column = np.asarray([r[spec.name] for r in rows], dtype=np.object_)
        else:
            column = np.asarray([_as_number(r[spec.name]) for r in rows], dtype=dtype)
        feed[spec.name] = column.reshape(len(rows), 1)
    return feed


def _as_number(value: Value) -> float | int:
    # The one place an exact amount becomes a float: the model's input tensor.
    return int(value) if isinstance(value, int) else float(value)
