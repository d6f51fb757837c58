"""Every object a partner reads in a response or webhook has a shape: a generated client
gets a model with fields, never a bare `dict[str, Any]`.

An object without `properties` or a `$ref` is only allowed as a map whose values are typed
(`additionalProperties` or `patternProperties` with a schema); an untyped one fails, except
for the few listed below, each with the reason its keys cannot be known in advance.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

SPEC_FILE = Path(__file__).resolve().parents[2] / "openapi.yaml"

ALLOWED_UNTYPED = {
    # The contract document itself (GET /v1/openapi.yaml): its schema is OpenAPI 3.1's own.
    "GET /v1/openapi.yaml 200",
    # Each audit action records its own facts (dozens of actions, each its own keys); the
    # record's `action` names which. Not tenant data, but not one shape either.
    "AuditRecord.data",
}


def _typed_schema(value: Any) -> bool:
    return isinstance(value, dict) and bool(value)


def _untyped(schema: dict[str, Any]) -> bool:
    """An object (or an anything) whose keys and values a client cannot know."""
    if not schema:
        return True
    types = schema.get("type")
    if "object" not in (types if isinstance(types, list) else [types]):
        return False
    if "properties" in schema or "$ref" in schema:
        return False
    if _typed_schema(schema.get("additionalProperties")):
        return False
    patterns = schema.get("patternProperties") or {}
    return not (patterns and all(_typed_schema(v) for v in patterns.values()))


def _walk(schema: Any, where: str, components: dict[str, Any],
          seen: set[str]) -> Iterator[str]:
    if not isinstance(schema, dict):
        return
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name not in seen:
            seen.add(name)
            yield from _walk(components[name], name, components, seen)
        return
    if _untyped(schema):
        yield where
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        for sub in schema.get(key, []):
            yield from _walk(sub, where, components, seen)
    if "items" in schema:
        yield from _walk(schema["items"], f"{where}[]", components, seen)
    for name, sub in schema.get("properties", {}).items():
        yield from _walk(sub, f"{where}.{name}", components, seen)
    for key in ("additionalProperties", "patternProperties"):
        value = schema.get(key)
        if isinstance(value, dict):
            subs = value.values() if key == "patternProperties" else [value]
            for sub in subs:
                yield from _walk(sub, f"{where}{{}}", components, seen)


def _response_schemas(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    shared = spec["components"].get("responses", {})
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            for status, response in op.get("responses", {}).items():
                if "$ref" in response:
                    response = shared[response["$ref"].rsplit("/", 1)[-1]]
                for media in response.get("content", {}).values():
                    yield f"{method.upper()} {path} {status}", media["schema"]
    for event, ops in spec.get("webhooks", {}).items():
        for op in ops.values():
            for media in op.get("requestBody", {}).get("content", {}).values():
                yield f"webhook {event}", media["schema"]


def untyped_fields(spec: dict[str, Any]) -> set[str]:
    components = spec["components"]["schemas"]
    seen: set[str] = set()
    return {where for origin, schema in _response_schemas(spec)
            for where in _walk(schema, origin, components, seen)}


def test_every_response_object_has_a_shape():
    spec = yaml.safe_load(SPEC_FILE.read_text(encoding="utf-8"))
    found = untyped_fields(spec)
    assert found - ALLOWED_UNTYPED == set(), "give these fields a model (or, for keys a "\
        "tenant defines, a typed additionalProperties)"
    assert ALLOWED_UNTYPED - found == set(), "allowed but no longer untyped: drop from the list"


def test_the_check_finds_an_untyped_field():
    spec = {"paths": {"/x": {"get": {"responses": {"200": {"content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/X"}}}}}}}},
        "components": {"schemas": {"X": {"type": "object", "properties": {
            "bare": {"type": "object", "additionalProperties": True},
            "maybe": {"anyOf": [{"type": "object"}, {"type": "null"}]},
            "any": {},
            "map": {"type": "object", "additionalProperties": {"type": "integer"}},
            "rows": {"type": "array", "items": {"type": "object"}},
            "model": {"$ref": "#/components/schemas/X"}}}}}}
    assert untyped_fields(spec) == {"X.bare", "X.maybe", "X.any", "X.rows[]"}
