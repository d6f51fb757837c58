"""Tenant onboarding, its time zone, and API key lifecycle (platform admin only)."""

from __future__ import annotations

from datetime import datetime

from chalicelib import clock
from chalicelib.errors import DomainError, FieldError, conflict, not_found
from chalicelib.services import credentials, usage_keys
from chalicelib.store import audit, tenants
from chalicelib.store.audit import Actor, ChainHead
from chalicelib.store.keys import is_valid_tenant_id
from chalicelib.store.ledger import ledger
from chalicelib.store.models import ApiKeyItem, TenantItem
from chalicelib.store.uow import UnitOfWork, check_version, put_aggregate


def create_tenant(uow: UnitOfWork, actor: Actor, now: datetime, *, tenant_id: str, name: str,
                  base_currency: str, time_zone: str) -> TenantItem:
    if not is_valid_tenant_id(tenant_id):
        raise DomainError("validation-error", "Invalid tenant id.", [FieldError(
            "/body/tenant_id", "3-40 characters: lowercase letters, digits and single hyphens, "
            "starting with a letter and ending with a letter or digit")])
    if tenants.get_tenant(tenant_id) is not None:
        raise conflict(f"Tenant {tenant_id!r} already exists.")
    pk, sk = tenants.tenant_keys(tenant_id)
    gsi1pk, gsi1sk = tenants.registry_keys(tenant_id)
    item = TenantItem(pk, sk, tenant_id=tenant_id, name=name, base_currency=base_currency,
                      status="active", version=1, created_at=now, updated_at=now,
                      gsi1pk=gsi1pk, gsi1sk=gsi1sk, time_zone=time_zone,
                      usage_key=usage_keys.provision(tenant_id))
    head = audit.append(uow, tenant=tenant_id, aggregate_type="tenant", aggregate_id=tenant_id,
                        head=None, action="tenant.created", actor=actor, at=now,
                        data={"name": name, "base_currency": base_currency,
                              "time_zone": time_zone},
                        head_ref=tenants.head_ref(pk, sk))
    item.audit_seq, item.audit_head = head.seq, head.hash
    uow.add(put_aggregate(item, None),
            on_fail=lambda _r: conflict(f"Tenant {tenant_id!r} already exists."))
    for part in ledger().prepare_default_chart(tenant_id, base_currency):
        uow.add_part(part)  # the books open in the same transaction as the tenant
    return item


def get_active(tenant_id: str) -> TenantItem:
    return _active_tenant(tenant_id)


def _active_tenant(tenant_id: str) -> TenantItem:
    tenant = tenants.get_tenant(tenant_id) if is_valid_tenant_id(tenant_id) else None
    if tenant is None or tenant.status != "active":
        raise not_found("Tenant")
    return tenant


def set_time_zone(uow: UnitOfWork, actor: Actor, now: datetime, *, tenant_id: str,
                  time_zone: str) -> TenantItem:
    """Moves the tenant's business day to another zone. Dates already closed or booked stay as
    they are; close of business and new events use the new zone from the next request (other
    processes within clock.ZONE_TTL_S)."""
    tenant = _active_tenant(tenant_id)
    before = tenant.time_zone or clock.LEGACY_ZONE
    if before == time_zone:
        return tenant
    expected = tenant.version
    tenant.time_zone, tenant.updated_at, tenant.version = time_zone, now, expected + 1
    head = audit.append(uow, tenant=tenant_id, aggregate_type="tenant", aggregate_id=tenant_id,
                        head=ChainHead(tenant.audit_seq, tenant.audit_head),
                        action="tenant.time_zone_changed", actor=actor, at=now,
                        data={"from": before, "to": time_zone},
                        head_ref=tenants.head_ref(tenant.pk, tenant.sk))
    tenant.audit_seq, tenant.audit_head = head.seq, head.hash
    uow.add(put_aggregate(tenant, expected),
            on_fail=lambda _r: conflict("The tenant changed concurrently; retry."))
    uow.after_commit.append(lambda: clock.forget(tenant_id))
    return tenant


def issue_key(uow: UnitOfWork, actor: Actor, now: datetime, *, tenant_id: str, role: str,
              name: str) -> tuple[ApiKeyItem, str]:
    """Returns the stored key and the key in clear, which is never stored or shown again."""
    tenant = _active_tenant(tenant_id)
    key_id, full_key = credentials.new_key(tenant_id)
    pk, sk = tenants.api_key_keys(tenant_id, key_id)
    item = ApiKeyItem(pk, sk, tenant_id=tenant_id, key_id=key_id, name=name, role=role,
                      secret_hash=credentials.key_hash(full_key), status="active",
                      created_by=actor.key_id, version=1, created_at=now, updated_at=now,
                      usage_key=tenant.usage_key)
    head = audit.append(uow, tenant=tenant_id, aggregate_type="api_key", aggregate_id=key_id,
                        head=None, action="api_key.issued", actor=actor, at=now,
                        data={"role": role, "name": name}, head_ref=tenants.head_ref(pk, sk))
    item.audit_seq, item.audit_head = head.seq, head.hash
    uow.add(put_aggregate(item, None), on_fail=lambda _r: conflict("Key id collision; retry."))
    # The tenant must still be active when the key lands.
    uow.add(check_version(tenant),
            on_fail=lambda _r: conflict("The tenant changed while the key was issued; retry."))
    return item, full_key


def api_key(tenant_id: str, key_id: str) -> ApiKeyItem:
    """A key's record (never its secret, which is not stored): 404 unless the tenant has it."""
    _active_tenant(tenant_id)
    item = tenants.get_api_key(tenant_id, key_id) if credentials.KEY_ID.fullmatch(key_id) else None
    if item is None:
        raise not_found("API key")
    return item


def revoke_key(uow: UnitOfWork, actor: Actor, now: datetime, *, tenant_id: str,
               key_id: str) -> ApiKeyItem:
    _active_tenant(tenant_id)
    item = tenants.get_api_key(tenant_id, key_id) if credentials.KEY_ID.fullmatch(key_id) else None
    if item is None:
        raise not_found("API key")
    if item.status == "revoked":
        return item  # revoking twice is a no-op, like DELETE should be
    expected = item.version
    item.status, item.revoked_at, item.updated_at = "revoked", now, now
    item.version = expected + 1
    head = audit.append(uow, tenant=tenant_id, aggregate_type="api_key", aggregate_id=key_id,
                        head=ChainHead(item.audit_seq, item.audit_head), action="api_key.revoked",
                        actor=actor, at=now, data={}, head_ref=tenants.head_ref(item.pk, item.sk))
    item.audit_seq, item.audit_head = head.seq, head.hash
    uow.add(put_aggregate(item, expected),
            on_fail=lambda _r: conflict("The key changed concurrently; retry."))
    # This process forgets the key at once; others within credentials.CACHE_TTL_SECONDS.
    uow.after_commit.append(lambda: credentials.forget(tenant_id, key_id))
    return item
