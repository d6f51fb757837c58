"""Tenant onboarding and API key lifecycle (platform admin only)."""

from __future__ import annotations

from datetime import datetime

from chalicelib.errors import DomainError, FieldError, conflict, not_found
from chalicelib.services import credentials, usage_keys
from chalicelib.store import audit, tenants
from chalicelib.store.audit import Actor, ChainHead
from chalicelib.store.keys import is_valid_tenant_id
from chalicelib.store.ledger import ledger
from chalicelib.store.models import ApiKeyItem, TenantItem
from chalicelib.store.uow import UnitOfWork, check_version, put_aggregate


def create_tenant(uow: UnitOfWork, actor: Actor, now: datetime, *, tenant_id: str, name: str,
                  base_currency: str) -> TenantItem:
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
                      gsi1pk=gsi1pk, gsi1sk=gsi1sk,
                      usage_key=usage_keys.provision(tenant_id))
    head = audit.append(uow, tenant=tenant_id, aggregate_type="tenant", aggregate_id=tenant_id,
                        head=None, action="tenant.created", actor=actor, at=now,
                        data={"name": name, "base_currency": base_currency},
                        head_ref=tenants.head_ref(pk, sk))
    item.audit_seq, item.audit_head = head.seq, head.hash
    uow.add(put_aggregate(item, None),
            on_fail=lambda _r: conflict(f"Tenant {tenant_id!r} already exists."))
    for part in ledger().prepare_default_chart(tenant_id, base_currency):
        uow.add_part(part)  # the books open in the same transaction as the tenant
    return item


def _active_tenant(tenant_id: str) -> TenantItem:
    tenant = tenants.get_tenant(tenant_id) if is_valid_tenant_id(tenant_id) else None
    if tenant is None or tenant.status != "active":
        raise not_found("Tenant")
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
