"""What a scoring model needs, as the API shows it: every input with its codes or range.

Built from the same parsed model card the scorer validates features against (ModelCard.inputs),
so the codes a partner reads here are exactly the codes scoring accepts.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from chalicelib.api.origination_models import ModelRefOut
from chalicelib.scoring.card import InputSpec, ModelCard


class CategoryOut(BaseModel):
    code: str = Field(description="The value to send.")
    meaning: str


class ModelInputOut(BaseModel):
    name: str = Field(description="The key under `features` (POST /v1/score) or "
                                  "`applicant.characteristics` (POST /v1/applications).")
    label: str
    description: str
    type: Literal["categorical", "numeric"]
    required: bool = Field(description="The model needs a value (scoring refuses a feature "
                                       "set without it).")
    filled_from: str | None = Field(description="At POST /v1/applications, the request field "
                                    "(a JSON pointer) this input is taken from when "
                                    "`applicant.characteristics` does not give it.")
    categories: list[CategoryOut] | None = Field(description="Categorical: every accepted "
                                                 "code with its meaning; null for numeric.")
    unit: str | None = Field(description="Numeric: what the number counts (months, years, "
                             "a currency).")
    minimum: str | None = Field(description="Numeric: the smallest accepted value, inclusive "
                                "(a decimal string).")
    maximum: str | None = Field(description="Numeric: the largest accepted value, inclusive.")
    integer: bool | None = Field(description="Numeric: only whole numbers are accepted.")
    money: bool | None = Field(description="Numeric: an amount, sent as an integer or a "
                               "decimal string, never a JSON float.")


class ModelInputsOut(BaseModel):
    model: ModelRefOut
    name: str
    description: str
    inputs: list[ModelInputOut]


def _decimal(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def input_out(spec: InputSpec, filled_from: str | None) -> ModelInputOut:
    numeric = spec.type == "numeric"
    return ModelInputOut(
        name=spec.name, label=spec.label, description=spec.description, type=spec.type,
        required=True, filled_from=filled_from,
        categories=None if numeric else [CategoryOut(code=c, meaning=m) for c, m in
                                         zip(spec.categories, spec.category_labels,
                                             strict=True)],
        unit=(spec.unit or None) if numeric else None,
        minimum=_decimal(spec.minimum) if numeric else None,
        maximum=_decimal(spec.maximum) if numeric else None,
        integer=spec.integer if numeric else None, money=spec.money if numeric else None)


def inputs_out(card: ModelCard, model: ModelRefOut,
               filled_from: dict[str, str]) -> ModelInputsOut:
    raw = card.raw
    return ModelInputsOut(model=model, name=str(raw.get("name") or card.model_id),
                          description=str(raw.get("description") or ""),
                          inputs=[input_out(s, filled_from.get(s.name)) for s in card.inputs])
