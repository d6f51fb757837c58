"""openapi.yaml is valid, complete, and exactly what the routes declare."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from openapi_spec_validator import validate

import app as app_module
from chalicelib.api.openapi import spec_yaml

SPEC_FILE = Path(__file__).resolve().parents[2] / "openapi.yaml"


def test_committed_spec_is_the_generated_one():
    assert SPEC_FILE.read_text(encoding="utf-8") == spec_yaml(), (
        "openapi.yaml is stale: run `make openapi`")


def test_spec_validates_as_openapi_3_1():
    spec = yaml.safe_load(SPEC_FILE.read_text(encoding="utf-8"))
    assert spec["openapi"].startswith("3.1")
    validate(spec)


def _served() -> set[tuple[str, str]]:
    return {(path, method) for path, entry in app_module.app.routes.items()
            for method in entry}


def _documented() -> set[tuple[str, str]]:
    spec = yaml.safe_load(SPEC_FILE.read_text(encoding="utf-8"))
    return {(path, method.upper()) for path, ops in spec["paths"].items() for method in ops}


def test_every_route_is_documented_and_every_documented_path_is_served():
    assert _served() == _documented()


def test_every_authenticated_operation_declares_roles_and_errors():
    spec = yaml.safe_load(SPEC_FILE.read_text(encoding="utf-8"))
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if op["security"]:
                assert op["x-roles"], (method, path)
                assert {"401", "403", "500"} <= set(op["responses"]), (method, path)
            if method == "post" and "IdempotencyKey" in str(op.get("parameters")):
                assert "409" in op["responses"] and "422" in op["responses"]


def test_path_parameters_match_the_template():
    spec = yaml.safe_load(SPEC_FILE.read_text(encoding="utf-8"))
    for path, ops in spec["paths"].items():
        names = set(re.findall(r"{(\w+)}", path))
        for op in ops.values():
            declared = {p["name"] for p in op.get("parameters", []) if p.get("in") == "path"}
            assert declared == names, path


def test_spec_is_served(api):
    r = api.call("GET", "/v1/openapi.yaml")
    assert r.status == 200 and r.headers["content-type"].startswith("application/yaml")
    assert r.body.decode() == SPEC_FILE.read_text(encoding="utf-8")
