"""The shipped default scoring model, described like a tenant model (issue 16).

It lives in the package, not in the tenant's tables: one model, one version (number 1, its card
version beside it), always active, read-only. Its date is the card's `trained_at` (when the
model was trained; models_onnx/README.md), never the request's clock, so it stays the same on
every read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from chalicelib import scoring  # resolved at call time: numpy loads only when scoring runs
from chalicelib.errors import DomainError

SHIPPED_ID = "shipped"
SHIPPED_NUMBER = 1  # its only version, as tenant models number theirs


@dataclass(frozen=True)
class ShippedModel:
    """What the API shows of the shipped model."""

    name: str
    card_model_id: str
    card_version: str
    sha256: str
    size_bytes: int
    trained_at: datetime


def is_shipped(model_id: str | None) -> bool:
    return model_id == SHIPPED_ID


def is_shipped_version(card: scoring.ModelCard, wanted: str) -> bool:
    """The shipped model's one version answers to its number ("1") and its card version."""
    return wanted in (str(SHIPPED_NUMBER), card.version)


def describe(card: scoring.ModelCard | None = None) -> ShippedModel:
    card = card if card is not None else scoring.shipped_card()
    raw = card.raw
    return ShippedModel(name=str(raw.get("name") or card.model_id), card_model_id=card.model_id,
                        card_version=card.version, sha256=card.sha256 or "",
                        size_bytes=int(raw["onnx"]["size_bytes"]),
                        trained_at=datetime.fromisoformat(str(raw["trained_at"])))


def refuse_change(model_id: str) -> None:
    """Versions of the shipped model come with a release, never from a request."""
    if is_shipped(model_id):
        raise DomainError("model-read-only", "The shipped model cannot be changed: upload your "
                          "own model (POST /v1/models) and name it on a product instead.")
