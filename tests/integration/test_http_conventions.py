"""HTTP conventions every endpoint shares: idempotency, bad input, cursors."""

from __future__ import annotations

import json
import time

from chalicelib.api.http import request_fingerprint
from chalicelib.store import idempotency


def _count(aws, table):
    return aws["dynamodb"].scan(ConsistentRead=True, TableName=table, Select="COUNT")["Count"]


def test_idempotent_replay_returns_original_response(api, aws):
    body = {"tenant_id": "acme", "name": "Acme", "time_zone": "UTC"}
    first = api.call("POST", "/v1/tenants", body, key=api.platform_key, idem="k-1")
    again = api.call("POST", "/v1/tenants", body, key=api.platform_key, idem="k-1")
    assert first.status == again.status == 201
    assert first.json == again.json
    assert again.headers.get("idempotent-replayed") == "true"
    assert "idempotent-replayed" not in first.headers
    assert _count(aws, "test-audit") == 1  # the effect happened once


def test_same_key_different_request_is_422(api):
    api.call("POST", "/v1/tenants", {"tenant_id": "acme", "name": "A",
                                     "time_zone": "UTC"}, key=api.platform_key,
             idem="k-2")
    r = api.call("POST", "/v1/tenants", {"tenant_id": "acme", "name": "B",
                                         "time_zone": "UTC"}, key=api.platform_key,
                 idem="k-2")
    assert r.status == 422 and r.json["type"].endswith(":idempotency-key-reused")


def test_same_key_while_in_flight_is_409(api):
    body = {"tenant_id": "acme", "name": "A", "time_zone": "UTC"}
    # Another process has claimed the key and is still working on it.
    fingerprint = request_fingerprint("POST", "/v1/tenants", {
        "tenant_id": "acme", "name": "A", "base_currency": "CNY", "time_zone": "UTC"})
    claim = idempotency.begin("_platform", "k-3", fingerprint)
    assert isinstance(claim, idempotency.Claim)
    r = api.call("POST", "/v1/tenants", body, key=api.platform_key, idem="k-3")
    assert r.status == 409 and r.json["type"].endswith(":idempotency-in-flight")
    idempotency.release(claim)
    assert api.call("POST", "/v1/tenants", body, key=api.platform_key, idem="k-3").status == 201


def test_failed_request_releases_its_key(api):
    bad = {"tenant_id": "ghost-tenant", "name": "x", "time_zone": "UTC"}
    api.tenant("acme")
    r = api.call("POST", "/v1/tenants", {"tenant_id": "acme", "name": "x", "time_zone": "UTC"},
                 key=api.platform_key, idem="k-4")
    assert r.status == 409
    # Nothing happened, so the same key may carry a corrected request.
    assert api.call("POST", "/v1/tenants", bad, key=api.platform_key, idem="k-4").status == 201


def test_idempotency_key_is_required_and_scoped_to_tenant(api):
    r = api.call("POST", "/v1/tenants", {"tenant_id": "acme", "name": "A", "time_zone": "UTC"},
                 key=api.platform_key, idem=False)
    assert r.status == 400 and r.json["type"].endswith(":idempotency-key-required")
    long_key = api.call("POST", "/v1/tenants", {"tenant_id": "acme", "name": "A",
                                                "time_zone": "UTC"},
                        key=api.platform_key, idem="x" * 256)
    assert long_key.status == 422


def test_idempotency_record_expires_after_retention(api, aws):
    api.call("POST", "/v1/tenants", {"tenant_id": "acme", "name": "A",
                                     "time_zone": "UTC"}, key=api.platform_key,
             idem="k-5")
    item = aws["dynamodb"].scan(ConsistentRead=True, TableName="test-idempotency")["Items"][0]
    ttl = int(item["expires_at"]["N"]) - time.time()
    assert 24 * 3600 < ttl <= 48 * 3600 + 5
    assert item["status"]["S"] == "completed"


def test_malformed_json_is_400_and_changes_nothing(api, aws):
    for raw in ['{"tenant_id": "acme",', "[1, 2", "NaN", '{"a": Infinity}',
                '{"tenant_id": "acme", "tenant_id": "evil", "name": "x"}', "\xff\xfe"]:
        r = api.call("POST", "/v1/tenants", key=api.platform_key, raw=raw.encode("latin-1"))
        assert r.status == 400, raw
        assert r.json["type"].endswith(":malformed-request")
    assert _count(aws, "test-main") == 0


def test_wrong_content_type_is_415(api):
    r = api.call("POST", "/v1/tenants", key=api.platform_key, raw=b"tenant_id=acme",
                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 415 and r.json["type"].endswith(":unsupported-media-type")
    r = api.call("POST", "/v1/tenants", key=api.platform_key, raw=b'{"tenant_id":"acme"}',
                 headers={"Content-Type": "text/plain"})
    assert r.status == 415


def test_unknown_fields_are_refused(api, aws):
    r = api.call("POST", "/v1/tenants", {"tenant_id": "acme", "name": "A", "status": "vip",
                                         "time_zone": "UTC"},
                 key=api.platform_key)
    assert r.status == 422
    error = r.json["errors"][0]
    assert (error["pointer"], error["code"]) == ("/body/status", "extra_forbidden")
    api.tenant("acme")
    r = api.call("POST", "/v1/tenants/acme/api-keys",
                 {"role": "admin", "name": "k", "tenant_id": "other"}, key=api.platform_key)
    assert r.status == 422 and r.json["errors"][0]["pointer"] == "/body/tenant_id"


def test_every_invalid_field_is_reported_at_once(api):
    r = api.call("POST", "/v1/tenants", {"tenant_id": 5, "name": "", "base_currency": "yen"},
                 key=api.platform_key)
    assert r.status == 422
    assert {e["pointer"] for e in r.json["errors"]} == {
        "/body/tenant_id", "/body/name", "/body/base_currency", "/body/time_zone"}


def test_oversized_and_deeply_nested_bodies_are_refused(api, aws):
    big = json.dumps({"tenant_id": "acme", "name": "x" * 70_000, "time_zone": "UTC"})
    r = api.call("POST", "/v1/tenants", key=api.platform_key, raw=big)
    assert r.status == 413
    deep = "[" * 5000 + "]" * 5000
    r = api.call("POST", "/v1/tenants", key=api.platform_key, raw=deep)
    assert r.status == 400
    assert _count(aws, "test-main") == 0


def test_body_on_a_bodyless_operation_and_unknown_query_are_422(api):
    api.tenant("acme")
    admin = api.key("acme", "admin")
    r = api.call("POST", "/v1/audit/verify", {"x": 1}, key=admin)
    assert r.status == 422
    r = api.call("GET", "/v1/audit/tenant/acme?limit=5&status=open", key=admin)
    assert r.status == 422 and r.json["errors"][0]["pointer"] == "/query/status"


def test_page_size_is_bounded(api):
    api.tenant("acme")
    admin = api.key("acme", "admin")
    for limit in ("0", "101", "abc"):
        r = api.call("GET", f"/v1/audit/tenant/acme?limit={limit}", key=admin)
        assert r.status == 422, limit


def _trail(api, key, path, limit=1):
    pages, cursor = [], None
    while True:
        url = f"{path}?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        r = api.call("GET", url, key=key)
        assert r.status == 200, r.json
        pages.append(r.json)
        cursor = r.json["next_cursor"]
        if not cursor:
            return pages


def _two_record_trail(api):
    api.tenant("acme")
    key = api.key("acme", "admin")
    victim = api.key("acme", "partner")
    kid = victim.split("_")[2]
    api.call("DELETE", f"/v1/tenants/acme/api-keys/{kid}", key=api.platform_key)
    return key, f"/v1/audit/api_key/{kid}"


def test_cursor_pagination_walks_the_trail(api):
    key, path = _two_record_trail(api)
    pages = _trail(api, key, path)
    actions = [r["action"] for p in pages for r in p["data"]]
    assert actions == ["api_key.issued", "api_key.revoked"]


def test_forged_or_foreign_cursors_are_400(api):
    key, path = _two_record_trail(api)
    cursor = api.call("GET", f"{path}?limit=1", key=key).json["next_cursor"]
    body, sig = cursor.split(".")
    forged = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1] + "." + sig
    for bad in [forged, "garbage", cursor + "x", "a.b.c"]:
        r = api.call("GET", f"{path}?limit=1&cursor={bad}", key=key)
        assert r.status == 400 and r.json["type"].endswith(":invalid-cursor"), bad
    # A valid cursor from one query cannot be used on another query ...
    r = api.call("GET", f"/v1/audit/tenant/acme?limit=1&cursor={cursor}", key=key)
    assert r.status == 400
    # ... nor by another tenant on the same path.
    api.tenant("other")
    other = api.key("other", "admin")
    r = api.call("GET", f"{path}?limit=1&cursor={cursor}", key=other)
    assert r.status == 400
