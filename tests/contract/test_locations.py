"""Every create declares its Location (issue 16): each POST that answers 201 or 202 names where
the created resource lives, the contract declares the header on those responses, and the
location is a path this API serves a GET on."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

import app  # noqa: F401  (registers the routes)
from chalicelib.api.http import CREATED, LOCATION_PARAM, PATH_PARAM, ROUTES

SPEC = yaml.safe_load((Path(__file__).resolve().parents[2] / "openapi.yaml").read_text())


def _creates():
    return [r for r in ROUTES if r.method == "POST" and set(r.responses) & set(CREATED)]


def test_every_create_route_declares_where_its_resource_lives():
    assert len(_creates()) >= 25
    assert [r.operation_id for r in _creates() if not r.location] == []


def test_the_contract_declares_location_on_every_created_response():
    missing = []
    for route in _creates():
        op = SPEC["paths"][route.path]["post"]
        for status in set(route.responses) & set(CREATED):
            headers = op["responses"][str(status)].get("headers", {})
            if headers.get("Location") != {"$ref": "#/components/headers/Location"}:
                missing.append(f"{route.operation_id} {status}")
    assert missing == []
    assert SPEC["components"]["headers"]["Location"]["schema"]["type"] == "string"


def test_every_location_is_a_served_get_and_names_known_fields():
    gets = ["^" + PATH_PARAM.sub(r"[^/]+", r.path) + "$" for r in ROUTES if r.method == "GET"]
    for route in _creates():
        assert route.location
        filled = LOCATION_PARAM.sub("x", route.location.split("?")[0])
        assert any(re.match(g, filled) for g in gets), (route.operation_id, route.location)
        model = route.responses[min(set(route.responses) & set(CREATED))][0]
        assert model is not None
        for name in LOCATION_PARAM.findall(route.location):
            head = name.split(".")[0]
            assert head in PATH_PARAM.findall(route.path) or head in model.model_fields, \
                (route.operation_id, name)
