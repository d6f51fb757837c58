"""Operators' side of payouts: what waits for whom, four-eyes decisions, the tenant's payout
settings (the resolve endpoint itself is in api/disbursements.py)."""

from __future__ import annotations

from typing import Literal

from chalice import Blueprint
from pydantic import BaseModel, Field

from chalicelib.api import pagination, problems
from chalicelib.api.disbursements import DisbursementOut, attempt_number, disbursement_out
from chalicelib.api.http import Context, Reply, endpoint
from chalicelib.api.roles import BOOKKEEPERS, CONFIGURERS, EVERYONE, OPERATORS
from chalicelib.api.schemas import PageQuery, Strict
from chalicelib.services import payout_resolution
from chalicelib.store import disbursements as store

bp = Blueprint(__name__)
problems.register("four-eyes", 403, "A different operator must decide")


class ThresholdIn(Strict):
    amount: str = Field(pattern=r"^\d{1,15}(\.\d{1,4})?$", description="Major units.")
    currency: str = Field(pattern=r"^[A-Z]{3}$")


class PayoutSettings(Strict):
    resolution_four_eyes_above: ThresholdIn | None = Field(
        default=None, description="An operator's resolution of a payout above this amount "
        "takes effect only when a different operator confirms it; a payout in another "
        "currency always needs a second operator. Null: one operator suffices.")


@endpoint(bp, "PUT", "/v1/settings/payouts", summary="Set the tenant's payout settings "
          "(four-eyes threshold for operator resolutions)", tag="Disbursements",
          roles=CONFIGURERS, body=PayoutSettings,
          responses={200: (PayoutSettings, "The settings in force")})
def put_payout_settings(ctx: Context, body: PayoutSettings) -> Reply:
    payout_resolution.put_settings(ctx.uow, ctx.tenant, ctx.actor, ctx.now,
                                   body.model_dump(mode="json"))
    return Reply(body)


@endpoint(bp, "GET", "/v1/settings/payouts", summary="The tenant's payout settings",
          tag="Disbursements", roles=EVERYONE,
          responses={200: (PayoutSettings, "The settings in force (default: no threshold)")})
def get_payout_settings(ctx: Context) -> Reply:
    return Reply(PayoutSettings(**payout_resolution.settings(ctx.tenant)))


class DecisionIn(Strict):
    note: str = Field(min_length=1, max_length=500, description="Why, for the audit.")


@endpoint(bp, "POST", "/v1/disbursements/{disbursement_id}/attempts/{n}/resolve/confirm",
          summary="Confirm another operator's proposed resolution (four-eyes)",
          tag="Disbursements", roles=OPERATORS, body=DecisionIn, idempotent=True,
          responses={200: (DisbursementOut, "The proposed resolution took effect")})
def confirm_resolution(ctx: Context, disbursement_id: str, n: str, body: DecisionIn) -> Reply:
    return Reply(disbursement_out(payout_resolution.decide(
        ctx.uow, ctx.tenant, ctx.actor, ctx.now, disbursement_id, attempt_number(n), True,
        body.note)))


@endpoint(bp, "POST", "/v1/disbursements/{disbursement_id}/attempts/{n}/resolve/reject",
          summary="Reject another operator's proposed resolution (four-eyes)",
          tag="Disbursements", roles=OPERATORS, body=DecisionIn, idempotent=True,
          responses={200: (DisbursementOut, "Rejected: the payout is back with the operators")})
def reject_resolution(ctx: Context, disbursement_id: str, n: str, body: DecisionIn) -> Reply:
    return Reply(disbursement_out(payout_resolution.decide(
        ctx.uow, ctx.tenant, ctx.actor, ctx.now, disbursement_id, attempt_number(n), False,
        body.note)))


class NeedsQuery(PageQuery):
    needs: Literal["channel", "operator", "second_operator", "system"] = Field(
        default="operator", description="Whose action the disbursements wait for.")


class DisbursementPage(BaseModel):
    next_cursor: str | None
    data: list[DisbursementOut]


@endpoint(bp, "GET", "/v1/disbursements", summary="Disbursements in flight waiting for one "
          "actor (e.g. ?needs=operator)", tag="Disbursements", roles=BOOKKEEPERS,
          query=NeedsQuery,
          responses={200: (DisbursementPage, "Oldest first, from the in-flight index (it "
                                             "trails writes by a moment)")})
def list_needing(ctx: Context, query: NeedsQuery) -> Reply:
    scope = pagination.scope_of(ctx.tenant, "disbursements-needing", {"needs": query.needs})
    found, last = store.needing(ctx.tenant, query.needs, query.limit,
                                pagination.decode(query.cursor, scope))
    return Reply(DisbursementPage(next_cursor=pagination.encode(scope, last),
                                  data=[disbursement_out(i) for i in found]))
