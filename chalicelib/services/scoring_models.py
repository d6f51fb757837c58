"""Tenant scoring models: upload (validated, sealed, stored in S3), versions, activation, and
the scorer a tenant's request uses.

Files live under `<tenant>/models/<model id>/<version>/` in the documents bucket; the
DynamoDB version item records where, and the SHA-256 the card was sealed with, so a swapped
object is refused at load (model-integrity-error). The scorer cache is process-wide and keyed
by the card, so cards are handed to it under a tenant-qualified model id: two tenants uploading
the same bytes with different cards can never be served each other's card (reason texts,
grades).
"""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import boto3

from chalicelib import scoring  # resolved at call time: numpy loads only when scoring runs
from chalicelib.config import settings
from chalicelib.errors import DomainError, FieldError, conflict, not_found
from chalicelib.services import shipped_model
from chalicelib.services.shipped_model import SHIPPED_ID
from chalicelib.store import aggregates
from chalicelib.store import origination as store
from chalicelib.store.audit import Actor
from chalicelib.store.origination import ModelItem, ModelVersionItem
from chalicelib.store.uow import UnitOfWork, put

_cards: dict[tuple[str, str, int], dict[str, Any]] = {}
_cards_lock = threading.Lock()


@cache
def s3() -> Any:
    return boto3.client("s3", region_name=settings().region)


def reset() -> None:
    s3.cache_clear()
    with _cards_lock:
        _cards.clear()


@dataclass(frozen=True)
class ModelRef:
    """What a score was computed with, as the API shows it."""

    id: str  # "shipped" or a tenant model id
    version: str  # the tenant model's version number, or the shipped card's version
    card_model_id: str
    card_version: str
    sha256: str

    def as_dict(self) -> dict[str, str]:
        return {"id": self.id, "version": self.version, "card_model_id": self.card_model_id,
                "card_version": self.card_version, "sha256": self.sha256}


def _prefix(tenant: str, model_id: str, number: int) -> str:
    return f"{tenant}/models/{model_id}/{number:06d}"


def _version_problems(card: dict[str, Any], model_bytes: bytes) -> list[FieldError]:
    from chalicelib.scoring import validate_model

    out = []
    for p in validate_model(model_bytes, card):
        pointer = "/body" + p.pointer if p.pointer.startswith("/card") else \
            "/body/model_base64" + p.pointer.removeprefix("/model")
        out.append(FieldError(pointer, p.detail, p.code))
    return out


def _store_version(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime, model_id: str,
                   number: int, card: dict[str, Any], model_bytes: bytes) -> ModelVersionItem:
    problems_found = _version_problems(card, model_bytes)
    if problems_found:
        raise DomainError("model-load-error", "The model and its card cannot be used for "
                          "scoring: see `errors`.", problems_found)
    sealed = scoring.seal_card(card, model_bytes)
    sha = sealed["onnx"]["sha256"]
    prefix = _prefix(tenant, model_id, number)
    model_key, card_key = f"{prefix}/{sha}.onnx", f"{prefix}/{sha}.card.json"
    # Written before the transaction: an object whose item never commits is unreferenced and
    # harmless, while an item never points at a missing object.
    s3().put_object(Bucket=settings().bucket, Key=model_key, Body=model_bytes)
    s3().put_object(Bucket=settings().bucket, Key=card_key,
                    Body=json.dumps(sealed, sort_keys=True).encode())
    version = ModelVersionItem(store.model_pk(tenant, model_id), store.version_sk(number),
                               model_id=model_id, number=number,
                               card_model_id=str(sealed["model_id"]),
                               card_version=str(sealed["version"]), sha256=sha,
                               size_bytes=len(model_bytes), model_key=model_key,
                               card_key=card_key, created_at=now, created_by=actor.key_id)
    uow.add(put("main", version.serialize(), "attribute_not_exists(pk)"),
            on_fail=lambda _r: conflict("That model version already exists; retry."))
    return version


def create(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime, name: str,
           card: dict[str, Any], model_bytes: bytes) -> tuple[ModelItem, ModelVersionItem]:
    model_id = f"mdl_{secrets.token_hex(8)}"
    version = _store_version(uow, tenant, actor, now, model_id, 1, card, model_bytes)
    item = ModelItem(store.model_pk(tenant, model_id), store.MODEL_SK, model_id=model_id,
                     name=name, latest_version=1, active_version=None, version=1,
                     created_at=now, updated_at=now, gsi1pk=store.list_pk(tenant, "models"),
                     gsi1sk=f"{now.isoformat()}#{model_id}")
    aggregates.save(uow, item, tenant=tenant, aggregate_type="model", aggregate_id=model_id,
                    action="model.uploaded", actor=actor, at=now,
                    data={"version": 1, "sha256": version.sha256,
                          "card": f"{version.card_model_id}@{version.card_version}"},
                    noun="model", new=True)
    return item, version


def existing(tenant: str, model_id: str) -> ModelItem:
    item = store.get_model(tenant, model_id)
    if item is None:
        raise not_found("Model")
    return item


def add_version(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime, model_id: str,
                card: dict[str, Any], model_bytes: bytes) -> tuple[ModelItem, ModelVersionItem]:
    shipped_model.refuse_change(model_id)
    item = existing(tenant, model_id)
    number = item.latest_version + 1
    version = _store_version(uow, tenant, actor, now, model_id, number, card, model_bytes)
    item.latest_version = number
    _save(uow, tenant, actor, now, item, "model.uploaded",
          {"version": number, "sha256": version.sha256})
    return item, version


def activate(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime, model_id: str,
             number: int) -> ModelItem:
    shipped_model.refuse_change(model_id)
    item = existing(tenant, model_id)
    version = store.get_model_version(tenant, model_id, number)
    if version is None:
        raise not_found("Model version")
    if item.active_version == number:
        return item
    item.active_version = number
    _save(uow, tenant, actor, now, item, "model.activated",
          {"version": number, "sha256": version.sha256})
    return item


def _save(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime, item: ModelItem,
          action: str, data: dict[str, Any]) -> None:
    aggregates.save(uow, item, tenant=tenant, aggregate_type="model", aggregate_id=item.model_id,
                    action=action, actor=actor, at=now, data=data, noun="model")


def versions(tenant: str, model_id: str, latest: int) -> list[ModelVersionItem]:
    out = []
    for n in range(1, latest + 1):
        v = store.get_model_version(tenant, model_id, n)
        if v is not None:
            out.append(v)
    return out


def _sealed_card(tenant: str, version: ModelVersionItem) -> dict[str, Any]:
    cache_key = (tenant, version.model_id, version.number)
    with _cards_lock:
        hit = _cards.get(cache_key)
    if hit is not None:
        return hit
    body = s3().get_object(Bucket=settings().bucket, Key=version.card_key)["Body"].read()
    card = json.loads(body)
    # Tenant-qualified identity for the shared scorer cache (see the module docstring).
    card["model_id"] = f"{tenant}/{version.model_id}/{version.number}"
    with _cards_lock:
        _cards[cache_key] = card
    return card


def scorer_for(tenant: str, model_id: str | None,
               wanted: str | None = None) -> tuple[scoring.Scorer, ModelRef]:
    """The scorer for a tenant's model (its active version unless `wanted`), or the shipped
    model when `model_id` is None or "shipped". Another tenant's model id is a 404."""
    card, ref, version = _resolve(tenant, model_id, wanted)
    if version is None:
        return scoring.default_scorer(), ref

    def fetch() -> bytes:
        obj = s3().get_object(Bucket=settings().bucket, Key=version.model_key)
        data: bytes = obj["Body"].read()
        return data

    return scoring.REGISTRY.get(card, fetch), ref  # verifies the SHA-256 against the card


def card_for(tenant: str, model_id: str | None,
             wanted: str | None = None) -> tuple[scoring.ModelCard, ModelRef]:
    """The card `scorer_for` would score with (its inputs are what scoring accepts), without
    fetching or loading the model file."""
    card, ref, _ = _resolve(tenant, model_id, wanted)
    return scoring.parse_card(card), ref


def _resolve(tenant: str, model_id: str | None, wanted: str | None) -> tuple[
        scoring.ModelCard | dict[str, Any], ModelRef, ModelVersionItem | None]:
    """The card, the reference and (for a tenant model) the version item of a model choice."""
    if model_id in (None, SHIPPED_ID):
        shipped = scoring.shipped_card()
        if wanted is not None and not shipped_model.is_shipped_version(shipped, wanted):
            raise not_found("Model version")
        return shipped, ModelRef(SHIPPED_ID, shipped.version, shipped.model_id,
                                 shipped.version, shipped.sha256 or ""), None
    item = existing(tenant, model_id)
    if wanted is not None and not wanted.isdigit():
        raise not_found("Model version")
    number = int(wanted) if wanted is not None else None
    if number is None:
        if item.active_version is None:
            raise DomainError("model-not-active", f"Model {model_id} has no active version; "
                              "activate one first.")
        number = item.active_version
    version = store.get_model_version(tenant, model_id, number)
    if version is None:
        raise not_found("Model version")
    return _sealed_card(tenant, version), ModelRef(model_id, str(number), version.card_model_id,
                                                   version.card_version, version.sha256), version
