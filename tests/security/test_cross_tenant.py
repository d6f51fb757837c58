"""OWASP API1 (broken object level authorization): tenants `acme` and `acme2` (one id a prefix
of the other; ids of one or two characters are refused by the tenant id rules). `acme2`'s
credentials on `acme`'s real ids get 404 and learn nothing; lists, filters, cursors, webhooks,
documents and S3 keys stay within the tenant."""

from __future__ import annotations

import json
import re
import time
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

import app  # noqa: F401 - registers every blueprint's routes in ROUTES
from chalicelib.api.http import ROUTES
from tests.security import matrix
from tests.security.conftest import BUCKET, Env, changed, snapshot
from tests.security.world import problem

pytestmark = pytest.mark.xdist_group("security")  # one shared world, one worker

TENANT_ROUTES = [f"{r.method} {r.path}" for r in ROUTES
                 if r.roles and "platform" not in r.roles]
ID_ROUTES = [r for r in TENANT_ROUTES if matrix.id_params(r)]
LISTS = [r for r in TENANT_ROUTES if r.startswith("GET ") and not matrix.id_params(r)]


def _role(route: str) -> str:
    allowed = matrix.ROLE_TABLE[route] or frozenset()
    return sorted(allowed)[0]


def _secrets_of_a(env: Env, *, besides: str = "") -> list[str]:
    """`acme`'s identifying values that `acme2` does not share (and that the request itself
    did not carry: echoing the asked-for id in `instance`/`detail` is no leak)."""
    a, b = env.acme, env.acme2
    values = [v for k, v in a.ids.items() if b.ids.get(k) != v and len(v) > 4]
    values += [*a.national_ids, "acme#", "acme/", '"acme"']
    return [v for v in values if v not in besides]


def _leaks(env: Env, body: bytes, request_path: str) -> list[str]:
    """A's values found in a body, as whole tokens ("acme" inside "acme2" is not A's)."""
    text = body.decode("utf-8", "replace")
    return [v for v in _secrets_of_a(env, besides=unquote(request_path))
            if re.search(r"(?<![\w-])" + re.escape(v) + r"(?![\w-])", text)]


def test_prefix_tenants_exist_and_worlds_are_alike(env: Env) -> None:
    assert env.acme.tenant + "2" == env.acme2.tenant
    assert set(env.acme.ids) == set(env.acme2.ids)


@pytest.mark.parametrize("route", ID_ROUTES)
def test_other_tenants_ids_are_404_and_nothing_leaks_or_changes(env: Env, route: str) -> None:
    method = route.split(" ", 1)[0]
    path = matrix.path_of(route, env.acme.ids)
    shared = [p for p in matrix.id_params(route)
              if env.acme.ids[p] == env.acme2.ids[p] and p != "aggregate_type"]
    key = env.acme2.keys[_role(route)]
    before = snapshot(env.aws)
    r = env.api.call(method, path, env.bodies.get(route), key=key)
    assert r.status < 500, (route, r.status, r.body[:300])
    assert _leaks(env, r.body, path) == [], (route, r.body[:500])
    if shared:  # the same id names acme2's own object (e.g. a COB run named by its date)
        assert r.status in (200, 404), (route, r.status)
    else:
        assert r.status == 404, (route, r.status, r.body[:300])
        problem(r)
        if method != "GET":
            assert changed(before, snapshot(env.aws)) == [], route


@pytest.mark.parametrize("route", LISTS)
def test_lists_and_reports_never_show_the_other_tenants_items(env: Env, route: str) -> None:
    path = matrix.path_of(route, env.acme2.ids)
    filters = {"GET /v1/applications": ["status=approved", "status=accepted",
                                        "status=submitted", "status=referred"],
               "GET /v1/products": ["status=active", "status=retired"],
               "GET /v1/reconciliation/exceptions": ["status=open", "status=resolved"]}
    for query in [None, *filters.get(route, [])]:
        full = path + (("&" if "?" in path else "?") + query if query else "")
        for role in sorted(matrix.ROLE_TABLE[route] or ()):
            r = env.api.call("GET", full, key=env.acme2.keys[role])
            assert r.status in (200, 422), (route, query, r.status, r.body[:300])
            assert _leaks(env, r.body, "") == [], (route, query, role, r.body[:500])


def test_a_cursor_issued_to_one_tenant_is_refused_for_the_other(env: Env) -> None:
    exercised = []
    for spec in ROUTES:
        route = f"{spec.method} {spec.path}"
        if route not in TENANT_ROUTES or spec.method != "GET" or spec.query is None \
                or "cursor" not in spec.query.model_fields:
            continue
        role = _role(route)
        path = matrix.path_of(route, env.acme.ids)
        glue = "&" if "?" in path else "?"
        first = env.api.call("GET", path + glue + "limit=1", key=env.acme.keys[role])
        cursor = (first.json or {}).get("next_cursor") if first.status == 200 else None
        if not cursor:
            continue
        exercised.append(route)
        own_path = matrix.path_of(route, env.acme2.ids) + glue + f"limit=1&cursor={cursor}"
        r = env.api.call("GET", own_path, key=env.acme2.keys[role])
        assert r.status == 400 and problem(r)["type"].endswith(":invalid-cursor"), (route, r.status)
        same_path = path + glue + f"limit=1&cursor={cursor}"
        r = env.api.call("GET", same_path, key=env.acme2.keys[role])
        assert r.status in (400, 404), (route, r.status)
        assert _leaks(env, r.body, same_path) == []
        again = env.api.call("GET", same_path, key=env.acme.keys[role])
        assert again.status == 200  # the cursor itself was good
    assert len(exercised) >= 3, exercised


def test_webhooks_endpoints_and_their_events_stay_with_their_tenant(env: Env) -> None:
    a, b = env.acme, env.acme2
    listed = env.api.call("GET", "/v1/webhooks", key=b.keys["admin"]).json["data"]
    assert [w["id"] for w in listed] == [b.ids["webhook_id"]]
    dead = env.api.call("GET", "/v1/webhooks/dead-letters", key=b.keys["operator"]).json["data"]
    assert all(d["webhook_id"] == b.ids["webhook_id"] for d in dead)
    assert a.delivered and b.delivered
    payloads = b"\n".join(b.delivered).decode()
    assert a.ids["loan_id"] not in payloads and a.ids["application_id"] not in payloads
    assert b.ids["loan_id"] in payloads  # B's own events did reach B


def test_documents_are_under_the_tenant_prefix_and_not_reachable_across(env: Env) -> None:
    a, b = env.acme, env.acme2
    for w in (a, b):
        r = env.api.call("GET", f"/v1/contracts/{w.ids['contract_id']}/document",
                         key=w.keys["partner"])
        assert r.status == 200, r.json
        url = urlsplit(r.json["url"])
        key = unquote(url.path.split(f"/{BUCKET}/", 1)[-1] if f"/{BUCKET}/" in url.path
                      else url.path.lstrip("/"))
        assert key.startswith(f"{w.tenant}/contracts/{w.ids['contract_id']}/"), key
        query = parse_qs(url.query)
        assert "Signature" in query or "X-Amz-Signature" in query, url.query
        lifetime = int(query["X-Amz-Expires"][0]) if "X-Amz-Expires" in query else \
            int(query["Expires"][0]) - int(time.time())
        assert 0 < lifetime <= 300, lifetime  # short-lived
    keys = [o["Key"] for o in env.aws["s3"].list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    tenants = {"acme", "acme2", "ghost"}
    assert keys and all(k.split("/", 1)[0] in tenants for k in keys), keys
    # B names A's statement or contract objects through the API: refused, nothing of A shown.
    env.aws["s3"].put_object(Bucket=BUCKET, Key="acme/statements/alipay/day.csv",
                             Body=b"reference,type,amount,currency,value_date\n")
    for statement_key in ("acme/statements/alipay/day.csv",
                          "acme2/statements/alipay/../../../acme/statements/alipay/day.csv",
                          f"acme/contracts/{a.ids['contract_id']}/document.pdf"):
        r = env.api.call("POST", "/v1/reconciliation/runs",
                         {"channel": "alipay", "statement_key": statement_key},
                         key=b.keys["operator"])
        assert r.status in (404, 422), (statement_key, r.status)
        assert problem(r) and "reference,type" not in r.body.decode()
    env.aws["s3"].delete_object(Bucket=BUCKET, Key="acme/statements/alipay/day.csv")


def test_reports_count_only_the_callers_loans(env: Env) -> None:
    body = env.api.call("GET", "/v1/reports/portfolio", key=env.acme2.keys["admin"]).json
    text = json.dumps(body)
    assert env.acme.ids["product_id"] not in text
    counts = [int(n) for n in re.findall(r'"loans": ?(\d+)', text)]
    assert counts and max(counts) <= 1, body  # each world has exactly one loan
