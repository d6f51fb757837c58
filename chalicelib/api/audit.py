"""Reading and verifying the audit trail."""

from __future__ import annotations

import json
from typing import Any

from chalice import Blueprint
from pydantic import BaseModel, Field

from chalicelib.api import pagination
from chalicelib.api.http import Context, Reply, endpoint
from chalicelib.api.roles import BOOKKEEPERS
from chalicelib.api.schemas import PageQuery
from chalicelib.errors import not_found
from chalicelib.store import audit

bp = Blueprint(__name__)


class AuditRecord(BaseModel):
    seq: int
    action: str
    at: str
    actor_key_id: str
    actor_role: str
    request_id: str
    data: dict[str, Any]
    prev_hash: str
    hash: str


class AuditPage(BaseModel):
    aggregate_type: str
    aggregate_id: str
    next_cursor: str | None
    data: list[AuditRecord]


class ChainBreak(BaseModel):
    aggregate_type: str
    aggregate_id: str
    seq: int | None
    reason: str


class AuditVerification(BaseModel):
    ok: bool
    chains: int
    records: int
    breaks: list[ChainBreak] = Field(description="The first broken link of each broken chain.")


@endpoint(bp, "GET", "/v1/audit/{aggregate_type}/{aggregate_id}", summary="An aggregate's trail",
          tag="Audit", roles=BOOKKEEPERS, query=PageQuery,
          responses={200: (AuditPage, "Records, oldest first")})
def audit_trail(ctx: Context, aggregate_type: str, aggregate_id: str, query: PageQuery) -> Reply:
    scope = pagination.scope_of(ctx.tenant, "audit", {"t": aggregate_type, "i": aggregate_id})
    start = pagination.decode(query.cursor, scope)
    records, last = audit.list_chain(ctx.tenant, aggregate_type, aggregate_id, query.limit, start)
    if not records and start is None:
        raise not_found("Audit trail")
    data = [AuditRecord(**{**r, "data": json.loads(r["data"])}) for r in records]
    return Reply(AuditPage(aggregate_type=aggregate_type, aggregate_id=aggregate_id,
                           next_cursor=pagination.encode(scope, last), data=data))


@endpoint(bp, "POST", "/v1/audit/verify", summary="Verify every audit chain of the tenant",
          tag="Audit", roles=BOOKKEEPERS,
          responses={200: (AuditVerification, "Verification report")})
def verify_audit(ctx: Context) -> Reply:
    report = audit.verify_tenant(ctx.tenant)
    return Reply(AuditVerification(
        ok=report.ok, chains=report.chains, records=report.records,
        breaks=[ChainBreak(aggregate_type=b.aggregate_type, aggregate_id=b.aggregate_id,
                           seq=b.seq, reason=b.reason) for b in report.breaks]))
