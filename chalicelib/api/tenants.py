"""Platform administration: tenants and their API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from chalice import Blueprint
from pydantic import BaseModel, Field, field_validator

from chalicelib.api.http import Context, Reply, endpoint
from chalicelib.api.roles import PLATFORM, PLATFORM_ROLE, TENANT_READERS, TIME_ZONE_SETTERS
from chalicelib.api.schemas import Strict, TimeZone
from chalicelib.clock import LEGACY_ZONE
from chalicelib.contracts import drawable
from chalicelib.errors import not_found
from chalicelib.ids import TenantId
from chalicelib.services import tenants

bp = Blueprint(__name__)
Role = Literal["admin", "partner", "reviewer", "operator"]


class TenantCreate(Strict):
    tenant_id: TenantId = Field(
        description="Chosen by the platform; lowercase letters, digits, '-'.")
    name: str = Field(min_length=1, max_length=200, description="The lender's name as every "
                      "contract prints it: stored in NFC; characters the contract fonts cannot "
                      "draw, and control, bidirectional or zero-width ones, are refused.")
    base_currency: str = Field(default="CNY", pattern=r"^[A-Z]{3}$")
    time_zone: TimeZone

    @field_validator("name")
    @classmethod
    def _printable(cls, value: str) -> str:
        return drawable.checked(value)


class TimeZoneBody(Strict):
    time_zone: TimeZone


class Tenant(BaseModel):
    id: str
    name: str
    base_currency: str
    time_zone: str = Field(description="IANA zone of the tenant's business day.")
    status: str
    created_at: datetime


class ApiKeyCreate(Strict):
    role: Role
    name: str = Field(min_length=1, max_length=200)


class ApiKey(BaseModel):
    id: str
    tenant_id: str
    name: str
    role: str
    status: str
    created_at: datetime
    revoked_at: datetime | None = None


class ApiKeyIssued(ApiKey):
    key: str | None = Field(description="The secret key, shown once: store it now. Null on an "
                            "idempotent replay, because the secret is never stored.")


def _tenant(item: tenants.TenantItem) -> Tenant:
    return Tenant(id=item.tenant_id, name=item.name, base_currency=item.base_currency,
                  time_zone=item.time_zone or LEGACY_ZONE, status=item.status,
                  created_at=item.created_at)


def _key(item: tenants.ApiKeyItem) -> dict[str, object]:
    return dict(id=item.key_id, tenant_id=item.tenant_id, name=item.name, role=item.role,
                status=item.status, created_at=item.created_at, revoked_at=item.revoked_at)


@endpoint(bp, "POST", "/v1/tenants", location="/v1/tenants/{id}",
          summary="Create a tenant", tag="Platform", roles=PLATFORM,
          body=TenantCreate, idempotent=True, responses={201: (Tenant, "Tenant created")})
def create_tenant(ctx: Context, body: TenantCreate) -> Reply:
    item = tenants.create_tenant(ctx.uow, ctx.actor, ctx.now, tenant_id=body.tenant_id,
                                 name=body.name, base_currency=body.base_currency,
                                 time_zone=body.time_zone)
    return Reply(_tenant(item), 201)


def _own(ctx: Context, tenant_id: str) -> None:
    """A tenant's key reaches its own tenant only; another's is as if it did not exist."""
    if ctx.role != PLATFORM_ROLE and tenant_id != ctx.tenant:
        raise not_found("Tenant")


@endpoint(bp, "GET", "/v1/tenants/{tenant_id}", summary="A tenant (its currency, its time zone)",
          tag="Platform", roles=TENANT_READERS,
          responses={200: (Tenant, "The tenant")})
def get_tenant(ctx: Context, tenant_id: str) -> Reply:
    _own(ctx, tenant_id)
    return Reply(_tenant(tenants.get_active(tenant_id)))


@endpoint(bp, "PUT", "/v1/tenants/{tenant_id}/time-zone", summary="Change the tenant's time "
          "zone (its business day)", tag="Platform", roles=TIME_ZONE_SETTERS,
          body=TimeZoneBody, responses={200: (Tenant, "The tenant with its new zone")})
def put_time_zone(ctx: Context, tenant_id: str, body: TimeZoneBody) -> Reply:
    """The platform, or the tenant's own admin. Audited on the tenant's chain. Days already
    closed keep their dates; later events and close of business use the new zone."""
    _own(ctx, tenant_id)
    item = tenants.set_time_zone(ctx.uow, ctx.actor, ctx.now, tenant_id=tenant_id,
                                 time_zone=body.time_zone)
    return Reply(_tenant(item))


@endpoint(bp, "POST", "/v1/tenants/{tenant_id}/api-keys",
          location="/v1/tenants/{tenant_id}/api-keys/{id}",
          summary="Issue an API key",
          tag="Platform", roles=PLATFORM, body=ApiKeyCreate, idempotent=True,
          responses={201: (ApiKeyIssued, "Key issued; the secret is in `key`, shown once")})
def issue_api_key(ctx: Context, tenant_id: str, body: ApiKeyCreate) -> Reply:
    item, full_key = tenants.issue_key(ctx.uow, ctx.actor, ctx.now, tenant_id=tenant_id,
                                       role=body.role, name=body.name)
    return Reply(ApiKeyIssued(**_key(item), key=full_key), 201,
                 stored_body=ApiKeyIssued(**_key(item), key=None))


@endpoint(bp, "GET", "/v1/tenants/{tenant_id}/api-keys/{key_id}", summary="An API key (never "
          "its secret)", tag="Platform", roles=PLATFORM, responses={200: (ApiKey, "The key")})
def get_api_key(ctx: Context, tenant_id: str, key_id: str) -> Reply:
    item = tenants.api_key(tenant_id, key_id)
    return Reply(ApiKey(**_key(item)))


@endpoint(bp, "DELETE", "/v1/tenants/{tenant_id}/api-keys/{key_id}", summary="Revoke an API key",
          tag="Platform", roles=PLATFORM, responses={200: (ApiKey, "Key revoked")})
def revoke_api_key(ctx: Context, tenant_id: str, key_id: str) -> Reply:
    item = tenants.revoke_key(ctx.uow, ctx.actor, ctx.now, tenant_id=tenant_id, key_id=key_id)
    return Reply(ApiKey(**_key(item)))
