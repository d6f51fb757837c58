"""Scoring models (`admin` uploads and activates) and ad-hoc scoring (`POST /v1/score`).

Uploads are JSON with the ONNX file in base64 (bodies up to 6 MiB, so files up to ~4.4 MiB):
one request carries the file and its card, validated together, which a two-step upload
(presigned S3 PUT, then register) could not refuse atomically. Credit models here are a few
KB; a larger model would need the presigned route.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

from chalice import Blueprint
from pydantic import BaseModel, Field

from chalicelib.api import model_pages, pagination, problems
from chalicelib.api.http import Context, Reply, endpoint
from chalicelib.api.model_inputs import ModelInputsOut, inputs_out
from chalicelib.api.origination_models import Feature, ModelRefOut, ScoreReasonOut
from chalicelib.api.roles import CONFIGURERS, EVERYONE, SCORERS
from chalicelib.api.schemas import PageQuery, Strict
from chalicelib.errors import DomainError, FieldError, not_found
from chalicelib.ids import EntityId, VersionId
from chalicelib.services import scoring_models as models
from chalicelib.services import shipped_model
from chalicelib.services.applications import DERIVED
from chalicelib.store import origination as store
from chalicelib.store.origination import ModelItem, ModelVersionItem

problems.register("model-load-error", 422, "The model cannot be loaded")
problems.register("model-integrity-error", 500, "A stored model failed its integrity check")
problems.register("model-not-active", 409, "The model has no active version")
problems.register("model-read-only", 409, "The shipped model cannot be changed")

bp = Blueprint(__name__)
MAX_UPLOAD = 6 * 1024 * 1024


class ModelUpload(Strict):
    name: str = Field(min_length=1, max_length=200)
    card: dict[str, Any] = Field(description="The model card (JSON), as models_onnx/README.md "
                                             "describes; sealed with the file's SHA-256.")
    model_base64: str = Field(min_length=4, max_length=MAX_UPLOAD,
                              description="The .onnx file, standard base64.")


class VersionUpload(Strict):
    card: dict[str, Any]
    model_base64: str = Field(min_length=4, max_length=MAX_UPLOAD)


class VersionOut(BaseModel):
    number: int
    card_model_id: str
    card_version: str
    sha256: str
    size_bytes: int
    active: bool
    created_at: datetime


SHIPPED_FIELD = Field(description="True for `shipped`, the default model every product uses "
                                  "unless it names another: read-only, one version, dated by "
                                  "its training (the card's `trained_at`).")
INPUTS_FIELD = Field(description="Where to read what the active version scores on.")


class ModelOut(BaseModel):
    id: str
    name: str
    shipped: bool = SHIPPED_FIELD
    latest_version: int
    active_version: int | None
    versions: list[VersionOut]
    inputs_path: str = INPUTS_FIELD
    created_at: datetime
    updated_at: datetime


class ModelSummary(BaseModel):
    id: str
    name: str
    shipped: bool = SHIPPED_FIELD
    latest_version: int
    active_version: int | None
    inputs_path: str = INPUTS_FIELD
    created_at: datetime


class ModelPage(BaseModel):
    next_cursor: str | None
    data: list[ModelSummary]


class ScoreRequest(Strict):
    model_id: EntityId | None = Field(default=None,
                                      description="A tenant model id, or omit (or 'shipped') "
                                                  "for the shipped model; GET /v1/models/"
                                                  "{model_id}/inputs lists the features.")
    version: VersionId | None = Field(default=None,
                                      description="Defaults to the model's active version.")
    features: dict[str, Feature] = Field(max_length=256)


class InputsQuery(Strict):
    version: VersionId | None = Field(default=None,
                                      description="Defaults to the model's active version.")


class ScoreResponse(BaseModel):
    model: ModelRefOut
    pd: float = Field(description="Probability of default (not money), 6 decimals.")
    score: int
    grade: str
    reasons: list[ScoreReasonOut]
    reasons_method: str


def _bytes(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise DomainError("validation-error", "The model file is not valid base64.", [
            FieldError("/body/model_base64", "not valid base64", "invalid_base64")]) from None


def _inputs_path(model_id: str) -> str:
    return f"/v1/models/{model_id}/inputs"


def _out(item: ModelItem, versions: list[ModelVersionItem]) -> ModelOut:
    return ModelOut(id=item.model_id, name=item.name, shipped=False,
                    latest_version=item.latest_version, active_version=item.active_version,
                    inputs_path=_inputs_path(item.model_id), created_at=item.created_at,
                    updated_at=item.updated_at, versions=[
                        VersionOut(number=v.number, card_model_id=v.card_model_id,
                                   card_version=v.card_version, sha256=v.sha256,
                                   size_bytes=v.size_bytes,
                                   active=v.number == item.active_version,
                                   created_at=v.created_at) for v in versions])


def _shipped_out() -> ModelOut:
    m, n = shipped_model.describe(), shipped_model.SHIPPED_NUMBER
    return ModelOut(id=shipped_model.SHIPPED_ID, name=m.name, shipped=True, latest_version=n,
                    active_version=n, inputs_path=_inputs_path(shipped_model.SHIPPED_ID),
                    created_at=m.trained_at, updated_at=m.trained_at, versions=[
                        VersionOut(number=n, card_model_id=m.card_model_id,
                                   card_version=m.card_version, sha256=m.sha256,
                                   size_bytes=m.size_bytes, active=True,
                                   created_at=m.trained_at)])


def _summary(m: ModelOut) -> ModelSummary:
    return ModelSummary(**m.model_dump(include=set(ModelSummary.model_fields)))


@endpoint(bp, "POST", "/v1/models", location="/v1/models/{id}",
          summary="Upload a scoring model (ONNX + model card)",
          tag="Scoring", roles=CONFIGURERS, body=ModelUpload, idempotent=True,
          max_body=MAX_UPLOAD + 64 * 1024, errors={422},
          responses={201: (ModelOut, "Stored as version 1, not yet active")})
def upload_model(ctx: Context, body: ModelUpload) -> Reply:
    item, version = models.create(ctx.uow, ctx.tenant, ctx.actor, ctx.now, body.name,
                                  body.card, _bytes(body.model_base64))
    return Reply(_out(item, [version]), 201)


@endpoint(bp, "POST", "/v1/models/{model_id}/versions", location="/v1/models/{id}",
          summary="Upload a new model version",
          tag="Scoring", roles=CONFIGURERS, body=VersionUpload, idempotent=True,
          max_body=MAX_UPLOAD + 64 * 1024, errors={409},
          responses={201: (ModelOut, "Stored; the active version is unchanged")})
def upload_model_version(ctx: Context, model_id: str, body: VersionUpload) -> Reply:
    item, version = models.add_version(ctx.uow, ctx.tenant, ctx.actor, ctx.now, model_id,
                                       body.card, _bytes(body.model_base64))
    earlier = models.versions(ctx.tenant, model_id, item.latest_version - 1)
    return Reply(_out(item, [*earlier, version]), 201)


@endpoint(bp, "POST", "/v1/models/{model_id}/versions/{version}/activate",
          summary="Activate a model version (products naming the model score with it)",
          tag="Scoring", roles=CONFIGURERS, idempotent=True, errors={409},
          responses={200: (ModelOut, "Activated")})
def activate_model_version(ctx: Context, model_id: str, version: str) -> Reply:
    if not version.isdigit() or len(version) > 6:
        raise not_found("Model version")
    item = models.activate(ctx.uow, ctx.tenant, ctx.actor, ctx.now, model_id, int(version))
    return Reply(_out(item, models.versions(ctx.tenant, model_id, item.latest_version)))


@endpoint(bp, "GET", "/v1/models", summary="List the scoring models: the shipped default "
          "(`shipped`) first, then the tenant's, newest first", tag="Scoring",
          roles=EVERYONE, query=PageQuery, responses={200: (ModelPage, "A page of models")})
def list_models(ctx: Context, query: PageQuery) -> Reply:
    scope = pagination.scope_of(ctx.tenant, "models", {})
    page = model_pages.plan(pagination.decode(query.cursor, scope), query.limit)
    head = [_summary(_shipped_out())] if page.shipped else []
    raw, last = store.query_list(ctx.tenant, "models", None, max(page.take, 1), page.start)
    if page.take == 0:  # only the shipped model fits: the tenant's come next if there are any
        raw, last = [], model_pages.AFTER_SHIPPED if raw else None
    items = [ModelItem.from_raw_data(r) for r in raw]
    return Reply(ModelPage(next_cursor=pagination.encode(scope, last), data=head + [
        _summary(_out(i, [])) for i in items]))


@endpoint(bp, "GET", "/v1/models/{model_id}", summary="A scoring model and its versions "
          "(`shipped`: the default model, read-only)",
          tag="Scoring", roles=EVERYONE, responses={200: (ModelOut, "The model")})
def get_model(ctx: Context, model_id: str) -> Reply:
    if shipped_model.is_shipped(model_id):
        return Reply(_shipped_out())
    item = models.existing(ctx.tenant, model_id)
    return Reply(_out(item, models.versions(ctx.tenant, model_id, item.latest_version)))


@endpoint(bp, "GET", "/v1/models/{model_id}/inputs",
          summary="What a model scores on: each input, its codes and meanings or its range "
                  "(`shipped`: the default model every product uses unless it names another)",
          tag="Scoring", roles=EVERYONE, query=InputsQuery, errors={409},
          responses={200: (ModelInputsOut, "The model version's inputs")})
def get_model_inputs(ctx: Context, model_id: str, query: InputsQuery) -> Reply:
    card, ref = models.card_for(ctx.tenant, model_id, query.version)
    return Reply(inputs_out(card, ModelRefOut(**ref.as_dict()), DERIVED))


@endpoint(bp, "POST", "/v1/score", summary="Score a feature set without an application",
          tag="Scoring", roles=SCORERS, body=ScoreRequest, errors={404},
          responses={200: (ScoreResponse, "PD, score, grade and principal reasons")})
def score(ctx: Context, body: ScoreRequest) -> Reply:
    scorer, ref = models.scorer_for(ctx.tenant, body.model_id, body.version)
    result = scorer.score(dict(body.features), pointer="/body/features")
    out = result.as_dict()
    out["model"] = ref.as_dict()
    return Reply(out)
