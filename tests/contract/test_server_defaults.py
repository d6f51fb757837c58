"""Defaults the server applies are in the contract (issue 16): a partner reading openapi.yaml
sees what an omitted field becomes, factory-made defaults (lists, nested settings) included."""

from __future__ import annotations

from pathlib import Path

import yaml

import app  # noqa: F401  (registers the routes)
from chalicelib.lending.product import DEFAULT_GRADES, ProductConfig

SPEC = yaml.safe_load((Path(__file__).resolve().parents[2] / "openapi.yaml").read_text())
SCHEMAS = SPEC["components"]["schemas"]


def test_the_product_grades_default_is_in_the_schema_and_is_what_the_server_applies():
    declared = SCHEMAS["Pricing"]["properties"]["grades"]["default"]
    assert declared == list(DEFAULT_GRADES)
    applied = ProductConfig.model_validate({
        "currency": "CNY", "amount": {"min": "1", "max": "2"}, "term": {"min": 1, "max": 2},
        "pricing": {"rate_percent": dict.fromkeys(DEFAULT_GRADES, "10")}})
    assert applied.pricing.grades == declared


def _factory_fields(model, seen):
    """(model, field) of every request model field whose default comes from a factory."""
    if model in seen:
        return
    seen.add(model)
    for name, info in model.model_fields.items():
        if info.default_factory is not None:
            yield model, name
        for arg in _models_in(info.annotation):
            yield from _factory_fields(arg, seen)


def _models_in(annotation):
    from typing import get_args

    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in get_args(annotation):
        yield from _models_in(arg)


def test_every_request_field_with_a_factory_default_shows_that_default():
    from chalicelib.api.http import ROUTES

    seen: set = set()
    missing = []
    found = 0
    for route in ROUTES:
        if route.body is None:
            continue
        for model, name in _factory_fields(route.body, seen):
            title = model.model_config.get("title") or model.__name__
            schema = SCHEMAS.get(title)
            if schema is None:
                continue  # a model another name holds; covered by its own title
            found += 1
            prop = schema["properties"].get(info_alias(model, name), {})
            if "default" not in prop:
                missing.append(f"{title}.{name}")
    assert found >= 10 and not missing, missing


def info_alias(model, name):
    return model.model_fields[name].alias or name
