"""No input reaches DynamoDB's limits (issue 15): every path parameter and every id field in a
body is bounded and ASCII, so no key can pass 2,048 / 1,024 bytes. The suite's DynamoDB refuses
over-long keys as AWS does (tests/dynamo_limits.py), so a 5xx here is what AWS would answer.

Path ids and body ids at their maximum length (2xx or 4xx), one character over and in multi-byte
characters (422 naming the field), and bodies filled to max_body with 4-byte characters in their
free-text fields (refused by the field's bound): never a 5xx, and a refusal writes nothing.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest

import app  # noqa: F401 - registers every blueprint's routes in ROUTES
from chalicelib.api.http import ROUTES, RouteSpec
from tests.security import matrix
from tests.security.conftest import Env, changed, snapshot
from tests.security.test_resource_limits import _call
from tests.security.world import problem

pytestmark = pytest.mark.xdist_group("security")  # one shared world, one worker

PATH_ROUTES = [r for r in ROUTES if r.params is not None]
BODY_ROUTES = [r for r in ROUTES if r.body is not None]
WIDE = ("\u4e2d", "\U0001f4a9")  # 3 and 4 bytes in UTF-8


def _at_most(pattern: str, length: int) -> str:
    """The longest value of the shape: one repeated character, or a minted `<prefix>_<hex>`."""
    for value in (*(c * length for c in "a9A"), "a" * (length - 17) + "_" + "0" * 16):
        if re.fullmatch(pattern, value):
            return value
    raise AssertionError(f"no simple value of {length} fits {pattern}")


def _shape(schema: dict[str, Any]) -> tuple[int, str]:
    return schema["maxLength"], schema.get("pattern", ".*")


def _path(spec: RouteSpec, env: Env, **ids: str) -> str:
    route = f"{spec.method} {spec.path}"
    values = {**env.acme.ids, "aggregate_type": "loan",
              **{k: quote(v, safe="") for k, v in ids.items()}}
    return matrix.path_of(route, values)


def _refused_at(wrong: list[str], what: str, r: Any, pointer: str) -> None:
    if r.status != 422:
        wrong.append(f"{what}: {r.status} {r.body[:160]!r}")
        return
    pointers = [e["pointer"] for e in problem(r).get("errors") or []]
    if pointer not in pointers:
        wrong.append(f"{what}: 422 without {pointer}: {pointers}")


def test_every_path_parameter_is_declared_bounded_and_ascii() -> None:
    assert len(PATH_ROUTES) >= 50
    for spec in PATH_ROUTES:
        for name, prop in spec.params.model_json_schema()["properties"].items():
            length, pattern = _shape(prop)
            assert length <= 128, (spec.path, name)
            assert pattern.startswith("^") and pattern.endswith("$"), (spec.path, name)
            for wide in WIDE:
                assert not re.fullmatch(pattern, wide), (spec.path, name)


def test_path_ids_over_their_bound_or_not_ascii_are_422_and_write_nothing(env: Env) -> None:
    before = snapshot(env.aws)
    wrong: list[str] = []
    for spec in PATH_ROUTES:
        body = env.bodies.get(f"{spec.method} {spec.path}")
        for name, prop in spec.params.model_json_schema()["properties"].items():
            length, pattern = _shape(prop)
            longest = _at_most(pattern, length)
            for value in (longest + longest[-1], WIDE[0] * length, WIDE[1] * length,
                          "a" * 5_000):
                what = f"{spec.method} {spec.path} {name}={value[:8]!r}x{len(value)}"
                r = _call(env, spec, path=_path(spec, env, **{name: value}), body=body)
                _refused_at(wrong, what, r, f"/path/{name}")
    assert wrong == []
    assert changed(before, snapshot(env.aws)) == []


def test_path_ids_at_their_bound_are_never_5xx(env: Env) -> None:
    """The longest valid ids name nothing in the world: refused by the handler, not by
    DynamoDB (a key too long for AWS would be a 500 here)."""
    before = snapshot(env.aws)
    wrong: list[str] = []
    for spec in PATH_ROUTES:
        body = env.bodies.get(f"{spec.method} {spec.path}")
        props = spec.params.model_json_schema()["properties"]
        longest = {name: _at_most(prop.get("pattern", ".*"), prop["maxLength"])
                   for name, prop in props.items()}
        r = _call(env, spec, path=_path(spec, env, **longest), body=body)
        if not 400 <= r.status < 500:
            wrong.append(f"{spec.method} {spec.path} at the bound: {r.status} {r.body[:160]!r}")
    assert wrong == []
    assert changed(before, snapshot(env.aws)) == []


# ---- bodies --------------------------------------------------------------------------------

def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while True:
        if "$ref" in schema:
            schema = root["$defs"][schema["$ref"].rsplit("/", 1)[1]]
        elif "anyOf" in schema:
            schema = next((s for s in schema["anyOf"] if s.get("type") != "null"), {})
        else:
            return schema


def _leaves(value: Any, schema: dict[str, Any], root: dict[str, Any],
            pointer: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """(JSON pointer, schema) of every string in a sample body whose schema bounds it."""
    schema = _resolve(schema, root)
    if isinstance(value, dict):
        for k, v in value.items():
            sub = schema.get("properties", {}).get(k)
            if sub is not None:
                yield from _leaves(v, sub, root, f"{pointer}/{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaves(v, schema.get("items", {}), root, f"{pointer}/{i}")
    elif isinstance(value, str) and ("maxLength" in schema or "pattern" in schema):
        yield pointer, schema


def _with(body: Any, pointer: str, value: str) -> Any:
    out = copy.deepcopy(body)
    *head, last = pointer.strip("/").split("/")
    target = out
    for part in head:
        target = target[int(part)] if isinstance(target, list) else target[part]
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return out


def _body_cases(env: Env) -> Iterator[tuple[RouteSpec, dict[str, Any], str, dict[str, Any]]]:
    for spec in BODY_ROUTES:
        sample = env.bodies[f"{spec.method} {spec.path}"]
        root = spec.body.model_json_schema()
        for pointer, schema in _leaves(sample, root, root):
            yield spec, sample, pointer, schema


def test_body_ids_over_their_bound_or_not_ascii_are_422_and_write_nothing(env: Env) -> None:
    before = snapshot(env.aws)
    wrong: list[str] = []
    ids = 0
    for spec, sample, pointer, schema in _body_cases(env):
        if "pattern" not in schema or "maxLength" not in schema:
            continue
        ids += 1
        length, pattern = _shape(schema)
        longest = _at_most(pattern, length)
        for value in (longest + longest[-1], WIDE[1] * min(length, 1_000)):
            what = f"{spec.method} {spec.path} {pointer}={value[:8]!r}x{len(value)}"
            r = _call(env, spec, body=_with(sample, pointer, value))
            _refused_at(wrong, what, r, "/body" + pointer)
    assert ids >= 25
    assert wrong == []
    assert changed(before, snapshot(env.aws)) == []


def test_every_id_field_in_a_body_has_a_bound_and_a_pattern(env: Env) -> None:
    """(A national ID is personal data, not an entity's id: only its blind index is stored.)"""
    loose = [f"{spec.method} {spec.path} {pointer}" for spec, _, pointer, schema in
             _body_cases(env) if pointer.rsplit("/", 1)[-1].endswith(("_id", "_ids"))
             and not pointer.endswith("/national_id")
             and not ("maxLength" in schema and "pattern" in schema)]
    assert loose == []


def test_bodies_at_max_body_in_4_byte_characters_are_refused_never_5xx(env: Env) -> None:
    """Each free-text field filled with 4-byte characters up to the route's max_body: the
    field's own bound refuses it (413 when the filling overshoots), nothing is written."""
    before = snapshot(env.aws)
    wrong: list[str] = []
    for spec, sample, pointer, schema in _body_cases(env):
        if "pattern" in schema:
            continue
        base = len(json.dumps(_with(sample, pointer, ""), ensure_ascii=False).encode())
        count = (spec.max_body - base) // 4
        if count <= schema["maxLength"]:
            continue  # a valid body: tests/integration/test_largest_inputs.py sends those
        raw = json.dumps(_with(sample, pointer, WIDE[1] * count), ensure_ascii=False).encode()
        r = _call(env, spec, raw=raw)
        if r.status not in (413, 422):
            wrong.append(f"{spec.method} {spec.path} {pointer} x{count}: {r.status} "
                         f"{r.body[:160]!r}")
    assert wrong == []
    assert changed(before, snapshot(env.aws)) == []


def test_a_minted_id_of_unbounded_prefix_is_422_not_a_key_too_long(env: Env) -> None:
    """`^[a-z]+_[0-9a-f]{16}$` once bounded nothing: a 3,000-letter prefix reached the key."""
    before = snapshot(env.aws)
    wrong: list[str] = []
    product_id = "a" * 3_000 + "_" + "0" * 16
    for route in ("POST /v1/quotes", "POST /v1/applications"):
        spec = next(r for r in ROUTES if f"{r.method} {r.path}" == route)
        r = _call(env, spec, body={**env.bodies[route], "product_id": product_id})
        _refused_at(wrong, route, r, "/body/product_id")
    assert wrong == []
    assert changed(before, snapshot(env.aws)) == []
