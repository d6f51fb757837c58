"""Model cards: the typed contract between a model file, the API and the scorer.

A card is JSON (models_onnx/*.card.json for the shipped model; tenants upload theirs). Parsing
checks only what the runtime relies on (inputs, the PD output, the optional scorecard) and
reports every problem with a JSON pointer into the card, so an upload gets one precise 422.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from chalicelib.scoring.errors import CardError, FieldError

InputType = Literal["numeric", "categorical"]
Layout = Literal["per_feature", "matrix"]
LAYOUTS = ("per_feature", "matrix")


@dataclass(frozen=True, slots=True)
class InputSpec:
    name: str
    type: InputType
    label: str
    description: str = ""
    categories: tuple[str, ...] = ()  # categorical only: allowed codes
    minimum: Decimal | None = None  # numeric only, inclusive
    maximum: Decimal | None = None
    integer: bool = False
    money: bool = False  # amounts: ints, Decimals or decimal strings; never floats
    category_labels: tuple[str, ...] = ()  # parallel to categories, for borrower-facing text
    reason_code: str = ""  # used by counterfactual reasons when the card has no scorecard
    reason_text: str = ""
    unit: str = ""  # numeric only: what the number counts (months, years, a currency)

    def display(self, value: object) -> str:
        """How a value reads to a borrower: the category's label, or the number itself."""
        if self.type == "categorical" and value in self.categories:
            return self.category_labels[self.categories.index(value)]  # type: ignore[arg-type]
        return str(value)


@dataclass(frozen=True, slots=True)
class OutputSpec:
    """Where the probability of default lives: a tensor name and, for [N, k], its column."""

    name: str
    index: int | None


@dataclass(frozen=True, slots=True)
class Attribute:
    """One scorecard cell: a category, or a half-open numeric interval [lower, upper)."""

    label: str
    coefficient: float  # contribution to the log-odds of default
    points: float  # at the card's own scale, for display
    category: str | None = None
    lower: float | None = None
    upper: float | None = None

    def matches(self, value: str | Decimal | int | float) -> bool:
        if self.category is not None:
            return value == self.category
        x = float(value)  # type: ignore[arg-type]
        return (self.lower is None or x >= self.lower) and (self.upper is None or x < self.upper)


@dataclass(frozen=True, slots=True)
class Characteristic:
    name: str
    label: str
    reason_code: str
    reason_text: str
    attributes: tuple[Attribute, ...]
    best: Attribute  # the attribute with the lowest log-odds of default (most points)
    by_category: Mapping[str, Attribute]  # categorical characteristics: code → attribute

    @property
    def best_coefficient(self) -> float:
        return self.best.coefficient

    def attribute_for(self, value: str | Decimal | int | float) -> Attribute:
        """The applicant's attribute (the card guarantees exactly one matches)."""
        if self.by_category:
            return self.by_category[value]  # type: ignore[index]
        return next(a for a in self.attributes if a.matches(value))


@dataclass(frozen=True, slots=True)
class ModelCard:
    model_id: str
    version: str
    sha256: str | None
    layout: Layout
    matrix_input: str | None  # the single tensor's name when layout == "matrix"
    inputs: tuple[InputSpec, ...]
    pd_output: OutputSpec
    scorecard: tuple[Characteristic, ...]  # empty: the model gives no reasons
    grades: tuple[tuple[str, int | None], ...]  # empty: use the platform default
    raw: Mapping[str, Any]

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.model_id, self.version, self.sha256 or "")

    @property
    def ref(self) -> str:
        return f"{self.model_id}@{self.version}"

    def input(self, name: str) -> InputSpec | None:
        return next((i for i in self.inputs if i.name == name), None)


def parse_card(data: Mapping[str, Any] | ModelCard) -> ModelCard:
    """A typed card, or CardError listing every problem (pointers start at /card)."""
    if isinstance(data, ModelCard):
        return data
    card, problems = _parse(data)
    if problems or card is None:
        raise CardError.of(problems)
    return card


def card_problems(data: Mapping[str, Any]) -> list[FieldError]:
    return _parse(data)[1]


class _Problems(list[FieldError]):
    def add(self, pointer: str, detail: str, code: str = "invalid") -> None:
        self.append(FieldError("/card" + pointer, detail, code))


def _parse(data: Any) -> tuple[ModelCard | None, list[FieldError]]:
    p = _Problems()
    if not isinstance(data, Mapping):
        p.add("", "the model card must be a JSON object", "wrong_type")
        return None, p
    model_id = _text(data, "model_id", "", p)
    version = _text(data, "version", "", p)
    onnx = data.get("onnx", {})
    if not isinstance(onnx, Mapping):
        p.add("/onnx", "must be an object", "wrong_type")
        onnx = {}
    sha = onnx.get("sha256")
    if sha is not None and not (
        isinstance(sha, str) and len(sha) == 64 and all(c in "0123456789abcdef" for c in sha)
    ):
        p.add("/onnx/sha256", "must be 64 lower-case hex digits", "invalid_format")
        sha = None
    layout = onnx.get("input_layout", "per_feature")
    if layout not in LAYOUTS:
        p.add("/onnx/input_layout", f"must be one of {list(LAYOUTS)}", "invalid_choice")
        layout = "per_feature"
    matrix_input = onnx.get("input_name") if layout == "matrix" else None
    if layout == "matrix" and not (isinstance(matrix_input, str) and matrix_input):
        p.add("/onnx/input_name", "the matrix layout needs the input tensor's name", "missing")
    inputs = _inputs(data.get("inputs"), p)
    if layout == "matrix":
        for i, spec in enumerate(inputs):
            if spec.type != "numeric":
                p.add(f"/inputs/{i}/type", "the matrix layout takes numeric inputs only",
                      "invalid_choice")
    pd_output = _pd_output(data.get("outputs"), p)
    raw_inputs = data.get("inputs") if isinstance(data.get("inputs"), list) else []
    declared = {i.get("name") for i in raw_inputs if isinstance(i, Mapping)}
    scorecard = _scorecard(data.get("scorecard"), inputs, declared, p)
    grades = _grades(data.get("grades"), p)
    if p:
        return None, p
    card = ModelCard(
        model_id=model_id, version=version, sha256=sha, layout=layout,
        matrix_input=matrix_input, inputs=tuple(inputs), pd_output=pd_output,
        scorecard=scorecard, grades=grades, raw=data,
    )
    return card, p


def _text(obj: Mapping[str, Any], key: str, at: str, p: _Problems) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value.strip():
        p.add(f"{at}/{key}", "required, a non-empty string", "missing" if value is None
              else "wrong_type")
        return ""
    return value


def _number(value: Any, at: str, p: _Problems) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        p.add(at, "must be a number", "wrong_type")
        return None
    try:
        d = Decimal(str(value))
    except ArithmeticError:
        p.add(at, "must be a number", "wrong_type")
        return None
    if not d.is_finite():
        p.add(at, "must be finite", "invalid")
        return None
    return d


def _inputs(raw: Any, p: _Problems) -> list[InputSpec]:
    if not isinstance(raw, Sequence) or isinstance(raw, str) or not raw:
        p.add("/inputs", "required, a non-empty list of inputs", "missing")
        return []
    out: list[InputSpec] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        at = f"/inputs/{i}"
        if not isinstance(item, Mapping):
            p.add(at, "must be an object", "wrong_type")
            continue
        name = _text(item, "name", at, p)
        if name in seen:
            p.add(f"{at}/name", f"duplicate input {name!r}", "duplicate")
        seen.add(name)
        label = item.get("label") or name
        kind = item.get("type")
        reason = {k: str(item[k]) for k in ("reason_code", "reason_text") if item.get(k)}
        if kind == "categorical":
            cats, labels = _categories(item.get("categories"), at, p)
            out.append(InputSpec(name, "categorical", str(label), str(item.get("description", "")),
                                 categories=cats, category_labels=labels, **reason))
        elif kind == "numeric":
            lo = _number(item.get("minimum"), f"{at}/minimum", p)
            hi = _number(item.get("maximum"), f"{at}/maximum", p)
            if lo is not None and hi is not None and lo > hi:
                p.add(f"{at}/maximum", "must not be below minimum", "invalid")
            out.append(InputSpec(
                name, "numeric", str(label), str(item.get("description", "")),
                minimum=lo, maximum=hi, integer=item.get("integer") is True,
                money=item.get("money") is True, unit=str(item.get("unit") or ""), **reason,
            ))
        else:
            p.add(f"{at}/type", "must be 'numeric' or 'categorical'", "invalid_choice")
    return out


def _categories(raw: Any, at: str, p: _Problems) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if not isinstance(raw, Sequence) or isinstance(raw, str) or not raw:
        p.add(f"{at}/categories", "a categorical input needs a non-empty list", "missing")
        return (), ()
    codes, labels = [], []
    for j, c in enumerate(raw):
        code = c.get("code") if isinstance(c, Mapping) else c
        if not isinstance(code, str) or not code:
            p.add(f"{at}/categories/{j}", "must be a code string or {code, label}", "wrong_type")
            continue
        codes.append(code)
        labels.append(str(c.get("label") or code) if isinstance(c, Mapping) else code)
    if len(set(codes)) != len(codes):
        p.add(f"{at}/categories", "codes must be unique", "duplicate")
    return tuple(codes), tuple(labels)


def _pd_output(raw: Any, p: _Problems) -> OutputSpec:
    spec = raw.get("probability_of_default") if isinstance(raw, Mapping) else None
    if not isinstance(spec, Mapping):
        p.add("/outputs/probability_of_default", "required: {name, index}", "missing")
        return OutputSpec("", None)
    name = _text(spec, "name", "/outputs/probability_of_default", p)
    index = spec.get("index")
    if index is not None and (isinstance(index, bool) or not isinstance(index, int) or index < 0):
        p.add("/outputs/probability_of_default/index", "must be a non-negative integer or null",
              "wrong_type")
        index = None
    return OutputSpec(name, index)


def _scorecard(
    raw: Any, inputs: list[InputSpec], declared: set[Any], p: _Problems
) -> tuple[Characteristic, ...]:
    if raw is None:
        return ()
    chars = raw.get("characteristics") if isinstance(raw, Mapping) else None
    if not isinstance(chars, Sequence) or isinstance(chars, str):
        p.add("/scorecard/characteristics", "required: a list of characteristics", "missing")
        return ()
    by_name = {i.name: i for i in inputs}
    out = []
    for i, ch in enumerate(chars):
        at = f"/scorecard/characteristics/{i}"
        if not isinstance(ch, Mapping):
            p.add(at, "must be an object", "wrong_type")
            continue
        name = _text(ch, "name", at, p)
        code = _text(ch, "reason_code", at, p)
        text = _text(ch, "reason_text", at, p)
        spec = by_name.get(name)
        if name and name not in declared:
            p.add(f"{at}/name", f"{name!r} is not one of the card's inputs", "unknown_input")
        attrs = _attributes(ch.get("attributes"), at, p)
        if spec is not None and attrs:
            _check_coverage(spec, attrs, at, p)
        if attrs:
            best = min(attrs, key=lambda a: a.coefficient)
            categorical = spec is not None and spec.type == "categorical"
            cats = {a.category: a for a in attrs if a.category is not None} if categorical else {}
            out.append(Characteristic(name, str(ch.get("label") or name), code, text, attrs,
                                      best, cats))
    return tuple(out)


def _attributes(raw: Any, at: str, p: _Problems) -> tuple[Attribute, ...]:
    if not isinstance(raw, Sequence) or isinstance(raw, str) or not raw:
        p.add(f"{at}/attributes", "required: a non-empty list", "missing")
        return ()
    out = []
    for j, a in enumerate(raw):
        where = f"{at}/attributes/{j}"
        if not isinstance(a, Mapping):
            p.add(where, "must be an object", "wrong_type")
            continue
        coef = a.get("coefficient")
        if isinstance(coef, bool) or not isinstance(coef, int | float) or not math.isfinite(coef):
            p.add(f"{where}/coefficient", "required: a finite number", "wrong_type")
            continue
        points = a.get("points", 0.0)
        lo = _number(a.get("lower"), f"{where}/lower", p)
        hi = _number(a.get("upper"), f"{where}/upper", p)
        out.append(Attribute(
            label=str(a.get("label", "")), coefficient=float(coef),
            points=float(points) if isinstance(points, int | float) else 0.0,
            category=a.get("category") if isinstance(a.get("category"), str) else None,
            lower=None if lo is None else float(lo), upper=None if hi is None else float(hi),
        ))
    return tuple(out)


def _check_coverage(
    spec: InputSpec, attrs: tuple[Attribute, ...], at: str, p: _Problems
) -> None:
    """Every allowed value must fall in exactly one attribute, or reasons could go missing."""
    if spec.type == "categorical":
        got = [a.category for a in attrs]
        if sorted(c or "" for c in got) != sorted(spec.categories):
            p.add(f"{at}/attributes", "categories must match the input's categories exactly "
                  f"(input: {sorted(spec.categories)})", "coverage")
        return
    if any(a.category is not None for a in attrs):
        p.add(f"{at}/attributes", "a numeric input's attributes are intervals, not categories",
              "coverage")
        return
    bounds = [(a.lower, a.upper) for a in attrs]
    ok = bounds[0][0] is None and bounds[-1][1] is None and all(
        prev[1] is not None and prev[1] == nxt[0] for prev, nxt in itertools.pairwise(bounds)
    )
    if not ok:
        p.add(f"{at}/attributes", "numeric attributes must be contiguous [lower, upper) "
              "intervals from null to null, in increasing order", "coverage")


def _grades(raw: Any, p: _Problems) -> tuple[tuple[str, int | None], ...]:
    if raw is None:
        return ()
    from chalicelib.scoring.scale import GradeScale

    try:
        return GradeScale.from_list(raw).bands
    except ValueError as e:
        p.add("/grades", str(e), "invalid")
        return ()
