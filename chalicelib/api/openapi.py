"""Builds the OpenAPI 3.1 contract from the routes' own declarations.

The committed openapi.yaml is this output; a test fails when they drift, so the contract can
never describe an API we do not serve. Pydantic emits JSON Schema 2020-12, which OpenAPI 3.1
uses as is.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any, get_args

import yaml
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from chalicelib.api.http import CREATED, MAX_IDEMPOTENCY_KEY, PATH_PARAM, ROUTES, RouteSpec
from chalicelib.api.openapi_examples import add_examples
from chalicelib.api.openapi_webhooks import add_webhooks
from chalicelib.api.problems import PROBLEM_JSON
from chalicelib.api.schema_defaults import WithFactoryDefaults
from chalicelib.api.schemas import Problem
from chalicelib.config import VERSION

REF = "#/components/schemas/{model}"
ERROR_STATUSES = {
    400: "Malformed request, missing Idempotency-Key or invalid cursor",
    401: "Missing, invalid or revoked API key",
    403: "The key's role may not call this operation, or (`domain-owned`, for every role) "
         "the target is owned by a domain command, which the problem's `use` names",
    404: "Not found (or owned by another tenant)",
    409: "Conflict, or the same Idempotency-Key is still in flight",
    413: "Body too large",
    415: "Body is not JSON",
    422: "Validation failed, or Idempotency-Key reused with a different request",
    500: "Unexpected error",
    503: "A dependency is unavailable",
}

# Structured non-JSON bodies: a YAML document parses to an object (this contract), not a string.
# Each is also served as JSON on `Accept: application/json` (api/health.py), listed after the
# YAML: clients that read JSON only (openapi-python-client knows no YAML) have a form to use.
DOCUMENTS = {"application/yaml": {"type": "object", "required": ["openapi", "info", "paths"]}}

DESCRIPTION = """\
Multi-tenant lending API with a double-entry ledger at its core.

* Authenticate with `Authorization: Bearer <API key>`; the key decides the tenant and role.
* Errors are RFC 9457 `application/problem+json`; `type` is stable per error kind.
* POSTs that create something or move money require an `Idempotency-Key` header: a retry with
  the same key and body returns the original response with `Idempotent-Replayed: true`.
* Money is a decimal string with its currency, never a JSON number.
"""


def _models() -> list[tuple[type[BaseModel], str]]:
    seen: dict[tuple[type[BaseModel], str], None] = {(Problem, "serialization"): None}
    for route in ROUTES:
        if route.body:
            seen[(route.body, "validation")] = None
        for model, _ in route.responses.values():
            if model:
                seen[(model, "serialization")] = None
    return list(seen)


def _schemas() -> tuple[dict[tuple[type[BaseModel], str], Any], dict[str, Any]]:
    refs, top = models_json_schema(_models(), ref_template=REF,
                                   schema_generator=WithFactoryDefaults)
    return refs, top.get("$defs", {})


def _parameters(route: RouteSpec) -> list[dict[str, Any]]:
    shapes = route.params.model_json_schema()["properties"] if route.params else {}
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True,
         "schema": {k: v for k, v in shapes[name].items() if k != "title"}}
        for name in PATH_PARAM.findall(route.path)
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
            if 200 <= status < 300 and (links := _links(route, model)):
                response["links"] = links
        elif route.content_type in DOCUMENTS:
            response["content"] = {media: {"schema": copy.deepcopy(DOCUMENTS[route.content_type])}
                                   for media in (route.content_type, "application/json")}
        elif route.content_type != "application/json":
            response["content"] = {route.content_type: {"schema": {"type": "string"}}}
        if route.idempotent:
            response["headers"] = {"Idempotent-Replayed": {
                "$ref": "#/components/headers/IdempotentReplayed"}}
        if route.location and status in CREATED:
            response.setdefault("headers", {})["Location"] = {
                "$ref": "#/components/headers/Location"}
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


def _link_parameters(source: RouteSpec, fields: dict[str, bool],
                     target: RouteSpec) -> dict[str, str] | None:
    """How `target`'s path parameters come from `source`'s request and response, or None.

    Two chains: what a collection POST creates (`POST /v1/products` -> every operation under
    `/v1/products/{product_id}`, the new id from the response's `id`), and the GETs of an object
    the response names by a non-null `<x>_id` (a repayment's `loan_id`), or of the object the
    source acted on. Parameters the source's own path shares keep their value
    (`$request.path.tenant_id`)."""
    names = PATH_PARAM.findall(target.path)
    if not names or target is source:
        return None
    collection = source.path.rsplit("/", 1)
    created = not source.path.endswith("}") and target.path.startswith(source.path + "/{")
    # Made under a parent, addressed on its own: POST /v1/loans/{id}/repayments ->
    # GET /v1/repayments/{repayment_id}.
    top = f"/v1/{collection[1]}/"
    if not created and target.method != "GET":
        return None
    # The response is the new object when it names its parents (an API key names its
    # tenant_id); a model version's response is the model, whose `id` is the parent's.
    shared = PATH_PARAM.findall(source.path)
    new_id = "id" in fields and all(name in fields for name in shared)
    params: dict[str, str] = {}
    for name in names:
        head = target.path.split("{" + name + "}", 1)[0]
        if name in shared and source.path.startswith(head):
            params[name] = f"$request.path.{name}"
        elif new_id and ((created and head == source.path + "/")
                         or ("{" in collection[0] and head == top)):
            params[name] = "$response.body#/id"
        elif fields.get(name) and name == names[0]:
            params[name] = f"$response.body#/{name}"
        else:
            return None
    return params


def _always_present(model: type[BaseModel]) -> dict[str, bool]:
    """Each response field, and whether it always holds a value (a link needs one)."""
    return {name: info.is_required() and type(None) not in get_args(info.annotation)
            for name, info in model.model_fields.items()}


def _links(source: RouteSpec, model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI links from a POST's success response, so clients (and Schemathesis' stateful
    runs) can follow create -> read/act chains."""
    if source.method != "POST":
        return {}
    fields = _always_present(model)
    links: dict[str, Any] = {}
    for target in sorted(ROUTES, key=lambda r: (r.path, r.method)):
        params = _link_parameters(source, fields, target)
        if params:
            links[target.operation_id] = {"operationId": target.operation_id,
                                          "parameters": params}
    return links


def _error_responses() -> dict[str, Any]:
    problem = {"schema": {"$ref": REF.format(model="Problem")}}
    out = {}
    for status, description in ERROR_STATUSES.items():
        # The gateway's own 401/403 are the same problems (infra/gateway_problems.py).
        out[f"E{status}"] = {"description": description, "content": {PROBLEM_JSON: problem}}
    return out


@cache
def build_spec() -> dict[str, Any]:
    refs, schemas = _schemas()
    paths: dict[str, Any] = {}
    for route in sorted(ROUTES, key=lambda r: (r.path, r.method)):
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, refs)
    return add_webhooks(add_examples({
        "openapi": "3.1.0",
        "info": {"title": "Lending API", "version": VERSION, "description": DESCRIPTION},
        "servers": [{"url": "http://127.0.0.1:8000", "description": "make run"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": _error_responses(),
            "parameters": {"IdempotencyKey": {
                "name": "Idempotency-Key", "in": "header", "required": True,
                "description": "Unique per intended effect, scoped to the tenant; kept 48 hours. "
                               "Printable ASCII.",
                "schema": {"type": "string", "minLength": 1, "maxLength": MAX_IDEMPOTENCY_KEY,
                           "pattern": "^[\\x20-\\x7e]+$"}}},
            "headers": {"Location": {
                "description": "The created resource's path on this API: a GET on it reads it.",
                "schema": {"type": "string", "format": "uri-reference"}},
                "IdempotentReplayed": {
                "description": "Present (true) when this is the stored response of an earlier "
                               "request with the same Idempotency-Key.",
                "schema": {"type": "string", "enum": ["true"]}}},
            "securitySchemes": {"apiKey": {
                "type": "http", "scheme": "bearer",
                "description": "An API key issued by POST /v1/tenants/{tenant_id}/api-keys, or "
                               "the platform admin key for platform operations."}},
        },
    }))


@cache
def spec_yaml() -> str:
    return yaml.safe_dump(build_spec(), sort_keys=False, allow_unicode=True, width=100)
