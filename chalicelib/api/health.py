"""Unauthenticated service endpoints: health and the API contract."""

from __future__ import annotations

import json
from functools import cache

import mimeparse
from chalice import Blueprint
from pydantic import BaseModel

from chalicelib.api.http import Context, Reply, endpoint
from chalicelib.config import VERSION
from chalicelib.store import dynamo

bp = Blueprint(__name__)
YAML, JSON = "application/yaml", "application/json"
CONTRACT_MEDIA = (JSON, YAML)  # on a tie (`*/*`, no header) mimeparse takes the last: YAML
TABLES = ("main", "idempotency", "audit", "ledger-accounts", "ledger-journals", "ledger-entries")


class Health(BaseModel):
    status: str
    version: str
    tables: dict[str, str]


@endpoint(bp, "GET", "/v1/health", summary="Service health", tag="Service", roles=None,
          responses={200: (Health, "All tables reachable"),
                     503: (Health, "A table is unreachable")})
def health(_ctx: Context) -> Reply:
    tables = {}
    for logical in TABLES:
        try:
            status = dynamo.client().describe_table(TableName=dynamo.table(logical))
            tables[logical] = "reachable" if status["Table"]["TableStatus"] == "ACTIVE" else "busy"
        except Exception:
            tables[logical] = "unreachable"
    ok = all(v == "reachable" for v in tables.values())
    return Reply(Health(status="ok" if ok else "degraded", version=VERSION, tables=tables),
                 200 if ok else 503)


def contract_media(accept: str | None) -> str:
    """YAML unless the request prefers JSON; a header nobody can parse gets the default."""
    try:
        return mimeparse.best_match(CONTRACT_MEDIA, accept or "*/*") or YAML
    except ValueError:
        return YAML


@cache
def _contract_json() -> str:
    from chalicelib.api.openapi import build_spec

    return json.dumps(build_spec(), ensure_ascii=False, separators=(",", ":"))


@endpoint(bp, "GET", "/v1/openapi.yaml", summary="This API's OpenAPI 3.1 contract",
          tag="Service", roles=None,
          responses={200: (None, "The contract, as YAML; as JSON to `Accept: application/json`")},
          content_type=YAML)
def openapi_document(_ctx: Context) -> Reply:
    from chalicelib.api.openapi import spec_yaml

    media = contract_media(bp.current_request.headers.get("accept"))
    body = _contract_json() if media == JSON else spec_yaml()
    return Reply(body, headers={"Content-Type": media, "Vary": "Accept"})
