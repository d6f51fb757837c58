"""OWASP API3 (mass assignment): every request model forbids unknown fields, and every body
route refuses fields that try to set state, rates, tenant, scores or decisions (422 naming each
one, at the top level and inside nested objects), changing nothing."""

from __future__ import annotations

import typing
from typing import Any

import pytest
from pydantic import BaseModel

import app  # noqa: F401 - registers every blueprint's routes in ROUTES
from chalicelib.api.http import ROUTES
from tests.security import matrix
from tests.security.conftest import Env, changed, snapshot
from tests.security.world import problem

pytestmark = pytest.mark.xdist_group("security")  # one shared world, one worker

ATTEMPTS = {"status": "approved", "tenant_id": "acme2", "apr": "0", "apr_percent": "0",
            "rate": "0", "rate_percent": "0", "annual_rate_percent": "0", "score": 999,
            "grade": "A", "decision": "approve", "approved": True, "version": 99,
            "balance": "1000000.00", "role": "admin", "id": "x", "created_at": "2020-01-01",
            "outcome": "approve", "limit": "1000000.00", "is_admin": True}
BODY_ROUTES = [r for r in ROUTES if r.body is not None]


def _models(model: type[BaseModel]) -> set[type[BaseModel]]:
    found: set[type[BaseModel]] = set()

    def walk(annotation: Any) -> None:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if annotation not in found:
                found.add(annotation)
                for f in annotation.model_fields.values():
                    walk(f.annotation)
            return
        for arg in typing.get_args(annotation):
            walk(arg)

    walk(model)
    return found


def test_every_request_model_forbids_unknown_fields() -> None:
    models = {m for r in ROUTES for root in (r.body, r.query) if root for m in _models(root)}
    assert len(models) > 40
    lax = sorted(f"{m.__module__}.{m.__name__}" for m in models
                 if m.model_config.get("extra") != "forbid")
    assert lax == []


def test_every_body_route_has_a_valid_sample(env: Env) -> None:
    assert {f"{r.method} {r.path}" for r in BODY_ROUTES} == set(env.bodies)


def _nested_objects(model: type[BaseModel], body: dict[str, Any]) -> list[str]:
    """Top-level fields of the sample that are themselves strict models (not free maps)."""
    out = []
    for name, f in model.model_fields.items():
        key = f.alias or name
        inner = [a for a in (f.annotation, *typing.get_args(f.annotation))
                 if isinstance(a, type) and issubclass(a, BaseModel)]
        if inner and isinstance(body.get(key), dict):
            out.append(key)
    return out


def test_bodies_that_try_to_set_protected_fields_are_422_naming_each(env: Env) -> None:
    before = snapshot(env.aws)
    wrong = []
    for spec in BODY_ROUTES:
        route = f"{spec.method} {spec.path}"
        sample = env.bodies[route]
        own = {f.alias or n for n, f in spec.body.model_fields.items()}
        extras = {k: v for k, v in ATTEMPTS.items() if k not in own}
        body = {**sample, **extras}
        expected = {f"/body/{k}" for k in extras}
        for key in _nested_objects(spec.body, sample):
            body[key] = {**sample[key], "status": "approved", "tenant_id": "acme2"}
            expected |= {f"/body/{key}/status", f"/body/{key}/tenant_id"}
        allowed = matrix.ROLE_TABLE[route]
        role = sorted(allowed)[0] if allowed else "admin"
        key = env.api.platform_key if role == "platform" else env.acme.keys[role]
        r = env.api.call(spec.method, matrix.path_of(route, env.acme.ids), body, key=key)
        if r.status != 422:
            wrong.append(f"{route}: {r.status} {r.body[:200]!r}")
            continue
        named = {e["pointer"]: e["code"] for e in problem(r)["errors"]}
        if set(named) != expected or set(named.values()) != {"extra_forbidden"}:
            wrong.append(f"{route}: named {sorted(named)} not {sorted(expected)}")
    assert wrong == []
    assert changed(before, snapshot(env.aws)) == []


def test_the_samples_themselves_pass_validation(env: Env) -> None:
    """So the 422s above come from the extra fields alone (no other field is wrong)."""
    for spec in BODY_ROUTES:
        route = f"{spec.method} {spec.path}"
        spec.body.model_validate(env.bodies[route])
