"""OWASP API5 (function-level authorization) and API2 (broken authentication): every route of
the ROUTES registry x every role, the platform key and eight bad credentials. Allowed -> never
401/403 (nor 5xx); a role not allowed -> 403; no or bad credential -> 401; refusals are
problem+json and change nothing (every DynamoDB item and S3 object compared)."""

from __future__ import annotations

import json
from typing import Any

import pytest

import app  # noqa: F401 - registers every blueprint's routes in ROUTES
from chalicelib.api.http import ROUTES
from chalicelib.api.schemas import Problem
from tests.security import matrix
from tests.security.conftest import Env, changed, snapshot
from tests.security.world import problem

pytestmark = pytest.mark.xdist_group("security")  # one shared world, one worker

ROLES = ("admin", "partner", "reviewer", "operator", "platform")
ROUTE_KEYS = [f"{r.method} {r.path}" for r in ROUTES]


def test_matrix_covers_every_route() -> None:
    """A new endpoint cannot escape the suite: it must be added to the reviewed role table."""
    assert len(ROUTE_KEYS) == len(set(ROUTE_KEYS))
    assert set(ROUTE_KEYS) - set(matrix.ROLE_TABLE) == set(), "routes missing from the matrix"
    assert set(matrix.ROLE_TABLE) - set(ROUTE_KEYS) == set(), "matrix names unknown routes"
    for spec in ROUTES:
        assert spec.roles == matrix.ROLE_TABLE[f"{spec.method} {spec.path}"], spec.path


def _key(env: Env, role: str) -> str:
    return env.api.platform_key if role == "platform" else env.acme.keys[role]


def _refused(env: Env, route: str, credential: str | None) -> Any:
    method = route.split(" ", 1)[0]
    body = env.bodies.get(route)
    return env.api.call(method, matrix.path_of(route, env.acme.ids), body, key=credential)


def _status(env: Env, route: str, credential: str | None) -> int:
    """Status only, without the contract check (which parses the served openapi.yaml: slow;
    the public routes' contract is checked by the contract tests)."""
    method = route.split(" ", 1)[0]
    headers = {"Authorization": f"Bearer {credential}"} if credential else {}
    body = env.bodies.get(route)
    return env.api.client.http.request(method, matrix.path_of(route, env.acme.ids),
                                       headers={"Content-Type": "application/json", **headers},
                                       body=json.dumps(body).encode() if body else b"",
                                       ).status_code


def _check_refusals(env: Env, route: str) -> list[str]:
    """Every refused caller of one route; returns what was wrong (empty when all is well)."""
    allowed = matrix.ROLE_TABLE[route]
    wrong: list[str] = []
    if allowed is None:  # public: credentials neither help nor hurt
        baseline = _status(env, route, None)
        for name in ("admin", "platform", "wrong secret", "deleted tenant"):
            credential = env.bad_keys.get(name) or _key(env, name)
            status = _status(env, route, credential)
            if status != baseline:
                wrong.append(f"{route} as {name}: {status}, without a key: {baseline}")
        if "channel-callbacks" in route:  # without its signature: 401, as a problem
            r = _refused(env, route, env.acme.keys["admin"])
            if r.status != 401:
                wrong.append(f"{route} unsigned: {r.status}")
            problem(r)
        return wrong
    for role in ROLES:
        if role not in allowed:
            r = _refused(env, route, _key(env, role))
            if r.status != 403 or not problem(r)["type"].endswith(":forbidden"):
                wrong.append(f"{route} as {role}: {r.status} {r.body[:200]!r}")
    for name, credential in env.bad_keys.items():
        r = _refused(env, route, credential)
        if r.status != 401:
            wrong.append(f"{route} with {name}: {r.status} {r.body[:200]!r}")
        else:  # with no header at all, the gateway's own 401: the same problem (see below)
            assert problem(r)["type"].endswith(":unauthenticated"), (route, name)
    return wrong


def test_refused_callers_get_401_or_403_and_change_nothing(env: Env) -> None:
    """About 1,100 calls: every route x (each role it does not allow, the platform key where
    it is not allowed, and 8 bad credentials), each with a valid sample body so that a missing
    check would write. Every DynamoDB item and S3 object is compared before and after."""
    before = snapshot(env.aws)
    wrong = [line for route in ROUTE_KEYS for line in _check_refusals(env, route)]
    assert wrong == []
    assert changed(before, snapshot(env.aws)) == []


def _harmless(route: str, ids: dict[str, str]) -> tuple[str, Any]:
    """The call an allowed role makes: a body that fails validation ({}) where the route takes
    one; otherwise missing ids (404) where the path has ids; otherwise the plain call (lists,
    reports, verifications: reads). Each stops before any effect, so the shared world stays as
    built, yet each has passed the role check."""
    method, _ = route.split(" ", 1)
    if matrix.sample_bodies(ids, _NO_EXTRA).get(route) is not None:
        return matrix.path_of(route, ids), {}
    if method == "GET" and not matrix.id_params(route):
        return matrix.path_of(route, ids), None
    fake = {name: ("0" if name == "version" else "zz-missing") for name in ids} | {
        "version": "999", "tenant_id": "acme", "key_id": "0123456789abcdef",
        "aggregate_type": "loan"}
    return matrix.path_of(route, fake), None


class _Extra(dict):
    def __getitem__(self, _key: str) -> Any:
        return {}


_NO_EXTRA: Any = _Extra()


@pytest.mark.parametrize("route", [r for r in ROUTE_KEYS if matrix.ROLE_TABLE[r]])
def test_allowed_roles_pass_the_role_check(env: Env, route: str) -> None:
    method = route.split(" ", 1)[0]
    ids = env.acme.ids | {"tenant_id": "acme"}
    for role in sorted(matrix.ROLE_TABLE[route] or ()):
        path, body = _harmless(route, ids)
        r = env.api.call(method, path, body, key=_key(env, role))
        assert r.status not in (401, 403) and r.status < 500, (route, role, r.status,
                                                               r.body[:300])


def test_no_authorization_header_is_the_gateways_401_as_deployed(env: Env) -> None:
    """Without the header API Gateway answers before any code runs. The deployed gateway's
    UNAUTHORIZED response and the local gateway's (chalice local, the test client) are built
    from one definition (infra/gateway_problems.py): a complete problem+json."""
    from infra import gateway_problems

    r = env.api.call("GET", "/v1/products?limit=5")
    body = problem(r)
    assert r.status == 401 and body["status"] == 401
    assert body["instance"] == "/v1/products" and body["request_id"]
    Problem.model_validate(body)
    template = json.loads(gateway_problems.gateway_responses()["UNAUTHORIZED"][
        "responseTemplates"]["application/json"])
    assert {k: v for k, v in template.items() if k not in ("instance", "request_id")} == {
        k: v for k, v in body.items() if k not in ("instance", "request_id")}
    assert (template["instance"], template["request_id"]) == ("$context.path",
                                                               "$context.requestId")
