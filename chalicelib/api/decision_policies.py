"""Decision policies (tenant configuration: `admin` writes, every role reads)."""

from __future__ import annotations

from datetime import datetime

from chalice import Blueprint
from pydantic import BaseModel, Field

from chalicelib.api import pagination
from chalicelib.api.http import Context, Reply, endpoint
from chalicelib.api.roles import CONFIGURERS, EVERYONE
from chalicelib.api.schemas import PageQuery, Strict
from chalicelib.lending.decision import PolicyConfig
from chalicelib.services import decision_policies as policies
from chalicelib.store import origination as store
from chalicelib.store.origination import PolicyItem

bp = Blueprint(__name__)


class PolicyCreate(Strict):
    name: str = Field(min_length=1, max_length=200)
    config: PolicyConfig


class PolicyVersionCreate(Strict):
    config: PolicyConfig


class PolicyOut(BaseModel):
    id: str
    name: str
    status: str
    current_version: int
    version: int = Field(description="The version whose configuration is shown.")
    config: PolicyConfig
    created_at: datetime
    updated_at: datetime


class PolicySummary(BaseModel):
    id: str
    name: str
    status: str
    current_version: int
    created_at: datetime


class PolicyPage(BaseModel):
    next_cursor: str | None
    data: list[PolicySummary]


class VersionQuery(Strict):
    version: int | None = Field(default=None, ge=1, le=1_000_000)


def _out(item: PolicyItem, number: int, config: PolicyConfig) -> PolicyOut:
    return PolicyOut(id=item.policy_id, name=item.name, status=item.status,
                     current_version=item.current_version, version=number, config=config,
                     created_at=item.created_at, updated_at=item.updated_at)


@endpoint(bp, "POST", "/v1/decision-policies", location="/v1/decision-policies/{id}",
          summary="Create a decision policy",
          tag="Decisions", roles=CONFIGURERS, body=PolicyCreate, idempotent=True,
          responses={201: (PolicyOut, "Created at version 1; reference it from a product")})
def create_policy(ctx: Context, body: PolicyCreate) -> Reply:
    item, version = policies.create(ctx.uow, ctx.tenant, ctx.actor, ctx.now, body.name,
                                    body.config)
    return Reply(_out(item, version.number, body.config), 201)


@endpoint(bp, "GET", "/v1/decision-policies", summary="List decision policies",
          tag="Decisions", roles=EVERYONE, query=PageQuery,
          responses={200: (PolicyPage, "A page of policies")})
def list_policies(ctx: Context, query: PageQuery) -> Reply:
    scope = pagination.scope_of(ctx.tenant, "policies", {})
    raw, last = store.query_list(ctx.tenant, "policies", None, query.limit,
                                 pagination.decode(query.cursor, scope))
    items = [PolicyItem.from_raw_data(r) for r in raw]
    return Reply(PolicyPage(next_cursor=pagination.encode(scope, last), data=[
        PolicySummary(id=i.policy_id, name=i.name, status=i.status,
                      current_version=i.current_version, created_at=i.created_at)
        for i in items]))


@endpoint(bp, "GET", "/v1/decision-policies/{policy_id}", summary="A decision policy",
          tag="Decisions", roles=EVERYONE, query=VersionQuery,
          responses={200: (PolicyOut, "The policy at its current (or the asked) version")})
def get_policy(ctx: Context, policy_id: str, query: VersionQuery) -> Reply:
    item, number, config = policies.config_of(ctx.tenant, policy_id, query.version)
    return Reply(_out(item, number, config))


@endpoint(bp, "POST", "/v1/decision-policies/{policy_id}/versions",
          location="/v1/decision-policies/{id}?version={version}",
          summary="Add a decision policy version", tag="Decisions", roles=CONFIGURERS,
          body=PolicyVersionCreate, idempotent=True,
          responses={201: (PolicyOut, "The new current version; decided applications keep "
                           "the version recorded in their decision")})
def add_policy_version(ctx: Context, policy_id: str, body: PolicyVersionCreate) -> Reply:
    item, version = policies.add_version(ctx.uow, ctx.tenant, ctx.actor, ctx.now, policy_id,
                                         body.config)
    return Reply(_out(item, version.number, body.config), 201)
