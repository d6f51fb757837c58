"""Tenant and API key lifecycle, roles, and the tenant boundary."""

from __future__ import annotations


def test_platform_creates_tenant_and_issues_keys(api):
    tenant = api.tenant("acme")
    assert tenant["id"] == "acme" and tenant["status"] == "active"
    key = api.key("acme", "admin")
    assert key.startswith("lk_acme_")
    trail = api.call("GET", "/v1/audit/tenant/acme", key=key)
    assert trail.status == 200
    assert [r["action"] for r in trail.json["data"]] == ["tenant.created"]


def test_key_is_stored_only_as_keyed_hash(api, aws):
    api.tenant("acme")
    key = api.key("acme", "admin")
    items = aws["dynamodb"].scan(ConsistentRead=True, TableName="test-main")["Items"]
    idem = aws["dynamodb"].scan(ConsistentRead=True, TableName="test-idempotency")["Items"]
    secret = key.split("_", 3)[3]
    assert secret not in str(items) and secret not in str(idem)


def test_duplicate_tenant_is_conflict(api):
    api.tenant("acme")
    r = api.call("POST", "/v1/tenants", {"tenant_id": "acme", "name": "Again", "time_zone": "UTC"},
                 key=api.platform_key)
    assert r.status == 409
    assert r.json["type"].endswith(":conflict")


def test_invalid_tenant_ids_are_refused(api):
    for bad in ["ab", "Acme", "acme_corp", "acme#x", "-acme", "acme-", "a--b", "9acme", "x" * 41]:
        r = api.call("POST", "/v1/tenants", {"tenant_id": bad, "name": "X",
                                             "time_zone": "UTC"}, key=api.platform_key)
        assert r.status == 422, bad
        assert r.json["errors"][0]["pointer"] == "/body/tenant_id"


def test_revoked_key_stops_working_at_once(api):
    api.tenant("acme")
    key = api.key("acme", "admin")
    key_id = key.split("_")[2]
    assert api.call("GET", "/v1/audit/tenant/acme", key=key).status == 200
    r = api.call("DELETE", f"/v1/tenants/acme/api-keys/{key_id}", key=api.platform_key)
    assert r.status == 200 and r.json["status"] == "revoked"
    denied = api.call("GET", "/v1/audit/tenant/acme", key=key)
    assert denied.status == 401 and denied.json["type"].endswith(":unauthenticated")
    # Revoking again changes nothing; the audit trail shows issue + revoke exactly once.
    assert api.call("DELETE", f"/v1/tenants/acme/api-keys/{key_id}",
                    key=api.platform_key).status == 200
    admin = api.key("acme", "admin")
    trail = api.call("GET", f"/v1/audit/api_key/{key_id}", key=admin).json
    assert [r["action"] for r in trail["data"]] == ["api_key.issued", "api_key.revoked"]


def test_unknown_and_malformed_keys_are_401(api):
    api.tenant("acme")
    real = api.key("acme", "admin")
    for key in ["nonsense", "lk_acme_0000000000000000_" + "A" * 43, real[:-1] + "x",
                real.replace("lk_acme", "lk_acmf")]:
        r = api.call("GET", "/v1/audit/tenant/acme", key=key)
        assert r.status == 401, key
    no_header = api.call("GET", "/v1/audit/tenant/acme")
    assert no_header.status == 401


def test_roles_are_enforced(api):
    api.tenant("acme")
    partner = api.key("acme", "partner")
    r = api.call("GET", "/v1/audit/tenant/acme", key=partner)
    assert r.status == 403 and r.json["type"].endswith(":forbidden")
    # A tenant key can never act as the platform.
    admin = api.key("acme", "admin")
    r = api.call("POST", "/v1/tenants", {"tenant_id": "evil", "name": "E",
                                         "time_zone": "UTC"}, key=admin)
    assert r.status == 403
    # And the platform key is not a tenant key.
    r = api.call("GET", "/v1/audit/tenant/acme", key=api.platform_key)
    assert r.status == 403


def test_issuing_a_key_for_a_missing_tenant_is_404(api):
    r = api.call("POST", "/v1/tenants/ghost/api-keys", {"role": "admin", "name": "x"},
                 key=api.platform_key)
    assert r.status == 404


def test_prefix_tenants_stay_apart(api):
    api.tenant("acme")
    api.tenant("acme-corp")
    acme = api.key("acme", "admin")
    corp = api.key("acme-corp", "admin")
    assert api.call("GET", "/v1/audit/tenant/acme-corp", key=acme).status == 404
    assert api.call("GET", "/v1/audit/tenant/acme", key=corp).status == 404
    missing = api.call("GET", "/v1/audit/tenant/nobody", key=acme)
    foreign = api.call("GET", "/v1/audit/tenant/acme-corp", key=acme)
    assert _without_ids(missing.json) == _without_ids(foreign.json)


def _without_ids(problem):
    return {k: v for k, v in problem.items() if k not in ("instance", "request_id")}
