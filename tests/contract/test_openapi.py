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


def test_webhooks_section_documents_every_event_type_with_its_envelope():
    """Issue 16: the contract's `webhooks:` is the catalogue (lending/events.py), each POST
    with the Standard Webhooks headers and its envelope; the whole spec validates as 3.1."""
    from chalicelib.api.webhook_events import ENVELOPES
    from chalicelib.lending.events import EVENT_TYPES

    spec = yaml.safe_load(SPEC_FILE.read_text(encoding="utf-8"))
    validate(spec)
    assert list(spec["webhooks"]) == list(EVENT_TYPES)
    schemas = spec["components"]["schemas"]
    for event_type, entry in spec["webhooks"].items():
        op = entry["post"]
        headers = {p["name"] for p in op["parameters"] if p["in"] == "header" and p["required"]}
        assert headers == {"webhook-id", "webhook-timestamp", "webhook-signature"}
        assert any(s.startswith("2") for s in op["responses"])
        ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        envelope = schemas[ref.rsplit("/", 1)[1]]
        assert envelope["properties"]["type"]["const"] == event_type
        assert set(envelope["required"]) == {"id", "type", "timestamp", "data"}
        assert envelope["additionalProperties"] is False
    subscribe = schemas["WebhookCreate"]["properties"]["event_types"]
    assert set(subscribe["items"]["enum"]) == {*EVENT_TYPES, "*"}
    assert set(ENVELOPES) == set(EVENT_TYPES)
