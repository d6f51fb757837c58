"""Every operation in openapi.yaml has a curl sample, and every body example is a valid body."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

import app  # noqa: F401  (registers the routes)
from chalicelib.api.http import ROUTES

SPEC = yaml.safe_load((Path(__file__).resolve().parents[2] / "openapi.yaml").read_text("utf-8"))
OPERATIONS = [(path, method, op) for path, ops in SPEC["paths"].items()
              for method, op in ops.items()]
BY_ID = {route.operation_id: route for route in ROUTES}


def _ids(item: tuple[str, str, Any]) -> str:
    return f"{item[1].upper()} {item[0]}"


def _body_schema(op: dict[str, Any]) -> dict[str, Any]:
    """The component the body refers to, with the components beside it so its $refs resolve."""
    ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    return {**SPEC["components"]["schemas"][ref.rsplit("/", 1)[1]],
            "components": SPEC["components"]}


def _curl(op: dict[str, Any]) -> list[str]:
    samples = [s for s in op.get("x-codeSamples", []) if s.get("label") == "curl"]
    assert len(samples) == 1, "one curl sample per operation"
    return shlex.split(samples[0]["source"].replace("\\\n", " "))


def _headers(argv: list[str]) -> dict[str, str]:
    values = [argv[i + 1] for i, arg in enumerate(argv) if arg == "-H"]
    return dict(v.split(": ", 1) for v in values)


@pytest.mark.parametrize("item", [i for i in OPERATIONS if "requestBody" in i[2]], ids=_ids)
def test_body_example_validates_against_its_schema_and_model(item):
    _, _, op = item
    example = op["requestBody"]["content"]["application/json"]["example"]
    errors = [e.message for e in Draft202012Validator(_body_schema(op)).iter_errors(example)]
    assert errors == []
    BY_ID[op["operationId"]].body.model_validate(example)  # the model's own cross-field checks


@pytest.mark.parametrize("item", OPERATIONS, ids=_ids)
def test_curl_sample_names_method_path_auth_and_body(item):
    path, method, op = item
    argv = _curl(op)
    assert argv[:4] == ["curl", "-sS", "-X", method.upper()]
    url = argv[4]
    template = path.split("/")
    sent = url.removeprefix("$API").split("?")[0].split("/")
    assert len(sent) == len(template) and all(
        t == s or (t.startswith("{") and s) for t, s in zip(template, sent, strict=True))
    headers = _headers(argv)
    assert ("Authorization" in headers) == bool(op["security"])
    idempotent = any(p.get("$ref", "").endswith("/IdempotencyKey")
                     for p in op.get("parameters", []))
    assert ("Idempotency-Key" in headers) == idempotent
    required_query = {p["name"] for p in op.get("parameters", [])
                      if p.get("in") == "query" and p.get("required")}
    assert {q.split("=")[0] for q in url.partition("?")[2].split("&") if q} == required_query
    if "requestBody" in op:
        assert headers["Content-Type"] == "application/json"
        body = json.loads(argv[argv.index("-d") + 1])
        assert body == op["requestBody"]["content"]["application/json"]["example"]
    else:
        assert "-d" not in argv


def test_path_examples_satisfy_the_path_parameters():
    for path, method, op in OPERATIONS:
        params = {p["name"]: p["schema"] for p in op.get("parameters", [])
                  if p.get("in") == "path"}
        if not params:
            continue
        sent = _curl(op)[4].removeprefix("$API").split("?")[0].split("/")
        for part, value in zip(path.split("/"), sent, strict=True):
            if part.startswith("{"):
                schema = params[part.strip("{}")]
                assert Draft202012Validator(schema).is_valid(value), (method, path, value)
