"""A failed condition is a precise error and leaves nothing behind."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.errors import DomainError
from chalicelib.services import tenants
from chalicelib.store import audit as audit_store
from chalicelib.store.audit import Actor
from chalicelib.store.uow import UnitOfWork

ACTOR = Actor("platform-admin", "platform", "req-1")


def _scan(aws, table):
    return aws["dynamodb"].scan(ConsistentRead=True, TableName=table)["Items"]


def _setup(api):
    api.tenant("acme")
    key = api.key("acme", "partner")
    return key.split("_")[2]


def test_stale_version_is_a_conflict_and_writes_nothing(api, aws):
    kid = _setup(api)
    now = datetime.now(UTC)
    first, second = UnitOfWork(), UnitOfWork()
    tenants.revoke_key(first, ACTOR, now, tenant_id="acme", key_id=kid)
    tenants.revoke_key(second, ACTOR, now, tenant_id="acme", key_id=kid)  # read the same version
    first.commit()
    before = (_scan(aws, "test-main"), _scan(aws, "test-audit"))
    with pytest.raises(DomainError) as exc:
        second.commit()
    assert exc.value.kind == "conflict"
    assert (_scan(aws, "test-main"), _scan(aws, "test-audit")) == before
    assert audit_store.verify_tenant("acme").ok


def test_audit_collision_cancels_the_whole_transaction(api, aws):
    """If the audit record cannot be appended, the aggregate does not change either."""
    kid = _setup(api)
    now = datetime.now(UTC)
    uow = UnitOfWork()
    tenants.revoke_key(uow, ACTOR, now, tenant_id="acme", key_id=kid)
    # Someone appended record 2 of this chain in the meantime (without touching the key item).
    audit_put = next(i for i in uow.items if i.get("Put", {}).get("TableName") == "test-audit")
    aws["dynamodb"].put_item(TableName="test-audit", Item=audit_put["Put"]["Item"])
    before = _scan(aws, "test-main")
    with pytest.raises(DomainError):
        uow.commit()
    assert _scan(aws, "test-main") == before


def test_health_reports_an_unreachable_table(api, aws):
    assert api.call("GET", "/v1/health").status == 200
    aws["dynamodb"].delete_table(TableName="test-ledger-entries")
    r = api.call("GET", "/v1/health")
    assert r.status == 503
    assert r.json["tables"]["ledger-entries"] == "unreachable"
    assert r.json["status"] == "degraded"


def test_unknown_routes_and_methods_are_not_500(api):
    api.tenant("acme")
    key = api.key("acme", "admin")
    for method, path in [("GET", "/v1/nothing"), ("PUT", "/v1/tenants"), ("GET", "/v1/tenants"),
                         ("PATCH", "/v1/audit/verify")]:
        r = api.call(method, path, key=key)
        assert 400 <= r.status < 500, (method, path, r.status)
