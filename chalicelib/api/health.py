"""Unauthenticated service endpoints: health and the API contract."""

from __future__ import annotations

from chalice import Blueprint
from pydantic import BaseModel

from chalicelib.api.http import Context, Reply, endpoint
from chalicelib.config import VERSION
from chalicelib.store import dynamo

bp = Blueprint(__name__)
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


@endpoint(bp, "GET", "/v1/openapi.yaml", summary="This API's OpenAPI 3.1 contract",
          tag="Service", roles=None, responses={200: (None, "The contract")},
          content_type="application/yaml")
def openapi_document(_ctx: Context) -> Reply:
    from chalicelib.api.openapi import spec_yaml

    return Reply(spec_yaml(), headers={"Content-Type": "application/yaml"})
