"""Checks every response the tests see against openapi.yaml (status documented, body valid)."""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from chalicelib.api.openapi import build_spec


@cache
def _operations() -> list[tuple[re.Pattern[str], str, dict[str, Any]]]:
    ops = []
    for path, methods in build_spec()["paths"].items():
        pattern = re.compile("^" + re.sub(r"{\w+}", "[^/]+", path) + "$")
        for method, op in methods.items():
            ops.append((pattern, method.upper(), op))
    return ops


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    spec = build_spec()
    while "$ref" in node and node["$ref"].startswith("#/components/responses/"):
        node = spec["components"]["responses"][node["$ref"].rsplit("/", 1)[1]]
    return node


def check_response(method: str, path: str, status: int, content_type: str, body: bytes) -> None:
    path = path.split("?", 1)[0]
    matches = [op for pattern, m, op in _operations() if m == method and pattern.match(path)]
    if not matches:
        return  # unknown route: the gateway answers (403/404), not our contract
    op = matches[0]
    documented = op["responses"].get(str(status))
    assert documented is not None, f"{method} {path} returned undocumented status {status}"
    response = _resolve(documented)
    media = content_type.split(";")[0].strip()
    if not media and status in (401, 403):
        media = "application/json"  # the gateway's own answer; chalice's test client omits it
    content = response.get("content")
    if not content:
        assert not body, f"{method} {path} {status} documents no body but returned one"
        return
    assert media in content, f"{method} {path} {status}: {media} not in {list(content)}"
    schema = content[media]["schema"]
    if schema.get("type") == "string":
        return
    instance = yaml.safe_load(body) if media.endswith("yaml") else json.loads(body)
    validator = Draft202012Validator({**schema, "components": build_spec()["components"]})
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
    assert not errors, f"{method} {path} {status} violates its schema: {errors[0].message}"
