"""OWASP API4 (unrestricted resource consumption): over-sized bodies, huge arrays, long strings
and ids, page sizes out of range, deeply nested JSON, bytes that are not UTF-8 and wrong media
types are refused early with a precise 4xx problem+json, never a 500, and change nothing."""

from __future__ import annotations

import typing
from typing import Any

import pytest
from pydantic import BaseModel

import app  # noqa: F401 - registers every blueprint's routes in ROUTES
from chalicelib.api.http import ROUTES, RouteSpec
from tests.security import matrix
from tests.security.conftest import Env, changed, snapshot
from tests.security.world import problem

pytestmark = pytest.mark.xdist_group("security")  # one shared world, one worker

BODY_ROUTES = [r for r in ROUTES if r.body is not None]
TENANT_ID_ROUTES = [r for r in ROUTES if r.roles and "platform" not in r.roles
                    and matrix.id_params(f"{r.method} {r.path}")]
PAGED = [r for r in ROUTES if r.method == "GET" and r.query is not None
         and "limit" in r.query.model_fields]


def _call(env: Env, spec: RouteSpec, *, raw: bytes | None = None, body: Any = None,
          headers: dict[str, str] | None = None, path: str | None = None) -> Any:
    route = f"{spec.method} {spec.path}"
    allowed = matrix.ROLE_TABLE[route]
    role = sorted(allowed)[0] if allowed else "admin"
    key = env.api.platform_key if role == "platform" else env.acme.keys[role]
    return env.api.call(spec.method, path or matrix.path_of(route, env.acme.ids), body,
                        key=key, raw=raw, headers=headers)


def _expect(wrong: list[str], spec: RouteSpec, what: str, r: Any, statuses: set[int],
            kind: str | None = None) -> None:
    ok = r.status in statuses
    if ok:
        body = problem(r)
        ok = kind is None or body["type"].endswith(":" + kind)
    if not ok:
        wrong.append(f"{spec.method} {spec.path} {what}: {r.status} {r.body[:160]!r}")


def test_malformed_and_oversized_bodies_are_refused_early(env: Env) -> None:
    before = snapshot(env.aws)
    wrong: list[str] = []
    deep = b"[" * 10_000 + b"]" * 10_000
    for spec in BODY_ROUTES:
        big = b'{"pad":"' + b"a" * spec.max_body + b'"}'
        _expect(wrong, spec, "over max_body", _call(env, spec, raw=big), {413},
                "payload-too-large")
        _expect(wrong, spec, "10,000 levels", _call(env, spec, raw=deep), {400},
                "malformed-request")
        _expect(wrong, spec, "not UTF-8", _call(env, spec, raw=b'{"name":"\xff\xfe\xc3"}'),
                {400}, "malformed-request")
        for text in (b'{"a":1,"a":2}', b'{"a":NaN}', b'{"a":Infinity}', b'{"a":', b"",
                     b"\xef\xbb\xbf{}"):
            _expect(wrong, spec, f"body {text[:12]!r}", _call(env, spec, raw=text),
                    {400, 422})
        sample = env.bodies[f"{spec.method} {spec.path}"]
        for media in ("text/plain", "application/x-www-form-urlencoded", "application/xml",
                      "multipart/form-data; boundary=x"):
            _expect(wrong, spec, media, _call(env, spec, body=sample,
                                              headers={"Content-Type": media}),
                    {415}, "unsupported-media-type")
    assert wrong == []
    assert changed(before, snapshot(env.aws)) == []


def _lists(model: type[BaseModel]) -> list[str]:
    out = []
    for name, f in model.model_fields.items():
        args = (f.annotation, *typing.get_args(f.annotation))
        if any(typing.get_origin(a) is list or a is list for a in args):
            out.append(f.alias or name)
    return out


def test_huge_arrays_and_long_strings_are_refused(env: Env) -> None:
    before = snapshot(env.aws)
    wrong: list[str] = []
    for spec in BODY_ROUTES:
        sample = env.bodies[f"{spec.method} {spec.path}"]
        for name in _lists(spec.body):
            item = (sample.get(name) or ["x"])[0]
            r = _call(env, spec, body={**sample, name: [item] * 5_000})
            _expect(wrong, spec, f"{name} x 5,000", r, {413, 422})
        for name, value in sample.items():
            if isinstance(value, str) and spec.max_body <= 64 * 1024:
                r = _call(env, spec, body={**sample, name: "x" * 60_000})
                _expect(wrong, spec, f"{name} of 60,000 chars", r, {413, 422})
    assert wrong == []
    assert changed(before, snapshot(env.aws)) == []


def test_page_sizes_and_cursors_out_of_range_are_422_or_400(env: Env) -> None:
    assert len(PAGED) >= 10
    wrong: list[str] = []
    for spec in PAGED:
        route = f"{spec.method} {spec.path}"
        base = matrix.path_of(route, env.acme.ids)
        glue = "&" if "?" in base else "?"
        for limit in ("0", "101", "-1", "100000000000000000000000", "abc", "1e2", "50.5", ""):
            _expect(wrong, spec, f"limit={limit}",
                    _call(env, spec, path=f"{base}{glue}limit={limit}"), {422},
                    "validation-error")
        _expect(wrong, spec, "limit twice",
                _call(env, spec, path=f"{base}{glue}limit=1&limit=2"), {422})
        if "cursor" in spec.query.model_fields:
            _expect(wrong, spec, "long cursor",
                    _call(env, spec, path=f"{base}{glue}cursor={'a' * 5000}"), {422})
            _expect(wrong, spec, "forged cursor",
                    _call(env, spec, path=f"{base}{glue}cursor=eyJzIjoieCJ9.AAAA"), {400},
                    "invalid-cursor")
        _expect(wrong, spec, "unknown parameter",
                _call(env, spec, path=f"{base}{glue}tenant=acme2"), {422})
    assert wrong == []


def test_long_and_odd_path_ids_are_4xx_never_5xx(env: Env) -> None:
    before = snapshot(env.aws)
    wrong: list[str] = []
    odd = ["x" * 5_000, "a" * 1_100, "%00", "..%2F..%2Facme2", "acme2%23loan%23x", "%F0%9F%92%A9",
           "%FF%FE", "' OR 1=1 --"]
    for spec in TENANT_ID_ROUTES:
        route = f"{spec.method} {spec.path}"
        for value in odd:
            ids = {p: value for p in matrix.id_params(route)} | {"aggregate_type": "loan"}
            r = _call(env, spec, path=matrix.path_of(route, ids),
                      body=env.bodies.get(route))
            if not (400 <= r.status < 500) or (r.status != 404 and r.body and
                                                 not r.headers.get("content-type", "")
                                                 .startswith("application/problem+json")):
                wrong.append(f"{route} id {value[:20]!r}: {r.status} {r.body[:160]!r}")
    assert wrong == []
    assert changed(before, snapshot(env.aws)) == []
