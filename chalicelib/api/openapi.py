"""Builds the OpenAPI 3.1 contract from the routes' own declarations.

The committed openapi.yaml is this output; a test fails when they drift, so the contract can
never describe an API we do not serve. Pydantic emits JSON Schema 2020-12, which OpenAPI 3.1
uses as is.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from chalicelib.api.http import ROUTES, RouteSpec
from chalicelib.api.problems import PROBLEM_JSON
from chalicelib.api.schemas import GatewayError, Problem
from chalicelib.config import VERSION

REF = "#/components/schemas/{model}"
ERROR_STATUSES = {
    400: "Malformed request, missing Idempotency-Key or invalid cursor",
    401: "Missing, invalid or revoked API key",
    403: "The key's role may not call this operation",
    404: "Not found (or owned by another tenant)",
    409: "Conflict, or the same Idempotency-Key is still in flight",
    413: "Body too large",
    415: "Body is not JSON",
    422: "Validation failed, or Idempotency-Key reused with a different request",
    500: "Unexpected error",
    503: "A dependency is unavailable",
}

DESCRIPTION = """\
Multi-tenant lending API with a double-entry ledger at its core.

* Authenticate with `Authorization: Bearer <API key>`; the key decides the tenant and role.
* Errors are RFC 9457 `application/problem+json`; `type` is stable per error kind.
* POSTs that create something or move money require an `Idempotency-Key` header: a retry with
  the same key and body returns the original response with `Idempotent-Replayed: true`.
* Money is a decimal string with its currency, never a JSON number.
"""


def _models() -> list[tuple[type[BaseModel], str]]:
    seen: dict[tuple[type[BaseModel], str], None] = {(Problem, "serialization"): None,
                                                     (GatewayError, "serialization"): None}
    for route in ROUTES:
        if route.body:
            seen[(route.body, "validation")] = None
        for model, _ in route.responses.values():
            if model:
                seen[(model, "serialization")] = None
    return list(seen)


def _schemas() -> tuple[dict[tuple[type[BaseModel], str], Any], dict[str, Any]]:
    refs, top = models_json_schema(_models(), ref_template=REF)
    return refs, top.get("$defs", {})


def _parameters(route: RouteSpec) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True,
         "schema": {"type": "string", "minLength": 1, "maxLength": 128}}
        for name in re.findall(r"{(\w+)}", route.path)
    ]
    if route.query:
        schema = route.query.model_json_schema(ref_template=REF)
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            prop = {k: v for k, v in prop.items() if k != "title"}
            param = {"name": name, "in": "query", "required": name in required, "schema": prop}
            if "description" in prop:
                param["description"] = prop.pop("description")
            params.append(param)
    if route.idempotent:
        params.append({"$ref": "#/components/parameters/IdempotencyKey"})
    return params


def _error_statuses(route: RouteSpec) -> list[int]:
    statuses = [500, *route.errors]
    if route.roles is not None:
        statuses += [401, 403, 503]
    if route.body or route.query or route.roles is not None:
        statuses += [400, 422]
    if route.body:
        statuses += [413, 415]
    if "{" in route.path:
        statuses.append(404)
    if route.idempotent or route.method in ("POST", "DELETE", "PATCH"):
        statuses.append(409)
    return sorted(set(statuses) - set(route.responses))


def _operation(route: RouteSpec, refs: dict[tuple[type[BaseModel], str], Any]) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, (model, description) in sorted(route.responses.items()):
        response: dict[str, Any] = {"description": description}
        if model is not None:
            response["content"] = {"application/json": {"schema": refs[(model, "serialization")]}}
        elif route.content_type != "application/json":
            response["content"] = {route.content_type: {"schema": {"type": "string"}}}
        if route.idempotent:
            response["headers"] = {"Idempotent-Replayed": {
                "$ref": "#/components/headers/IdempotentReplayed"}}
        responses[str(status)] = response
    for status in _error_statuses(route):
        responses[str(status)] = {"$ref": f"#/components/responses/E{status}"}
    op: dict[str, Any] = {
        "operationId": route.operation_id,
        "summary": route.summary,
        "tags": [route.tag],
        "parameters": _parameters(route),
        "responses": responses,
        "security": [{"apiKey": []}] if route.roles is not None else [],
    }
    if route.roles is not None:
        op["x-roles"] = sorted(route.roles)
    if route.body:
        op["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": refs[(route.body, "validation")]}}}
    if not op["parameters"]:
        del op["parameters"]
    return op


def _error_responses() -> dict[str, Any]:
    problem = {"schema": {"$ref": REF.format(model="Problem")}}
    out = {}
    for status, description in ERROR_STATUSES.items():
        content: dict[str, Any] = {PROBLEM_JSON: problem}
        if status in (401, 403):  # the gateway answers these itself before our code runs
            content["application/json"] = {"schema": {"$ref": REF.format(model="GatewayError")}}
        out[f"E{status}"] = {"description": description, "content": content}
    return out


@cache
def build_spec() -> dict[str, Any]:
    refs, schemas = _schemas()
    paths: dict[str, Any] = {}
    for route in sorted(ROUTES, key=lambda r: (r.path, r.method)):
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, refs)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Lending API", "version": VERSION, "description": DESCRIPTION},
        "servers": [{"url": "http://127.0.0.1:8000", "description": "make run"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": _error_responses(),
            "parameters": {"IdempotencyKey": {
                "name": "Idempotency-Key", "in": "header", "required": True,
                "description": "Unique per intended effect, scoped to the tenant; kept 48 hours.",
                "schema": {"type": "string", "minLength": 1, "maxLength": 255}}},
            "headers": {"IdempotentReplayed": {
                "description": "Present (true) when this is the stored response of an earlier "
                               "request with the same Idempotency-Key.",
                "schema": {"type": "string", "enum": ["true"]}}},
            "securitySchemes": {"apiKey": {
                "type": "http", "scheme": "bearer",
                "description": "An API key issued by POST /v1/tenants/{tenant_id}/api-keys, or "
                               "the platform admin key for platform operations."}},
        },
    }


@cache
def spec_yaml() -> str:
    return yaml.safe_dump(build_spec(), sort_keys=False, allow_unicode=True, width=100)
