"""Disbursements (start, read), the loan view with ledger balances, and per-product routing."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Any, Literal

from chalice import Blueprint
from pydantic import BaseModel, Field, model_validator

from chalicelib.api.applications import loan_fields
from chalicelib.api.http import Context, Reply, endpoint
from chalicelib.api.lending_models import ScheduleOut
from chalicelib.api.origination_models import LoanOut
from chalicelib.api.roles import COLLECTORS, CONFIGURERS, EVERYONE, OPERATORS
from chalicelib.api.schemas import MoneyOut, Strict
from chalicelib.channels.router import Policy, Strategy
from chalicelib.errors import not_found
from chalicelib.lending.money import format_amount
from chalicelib.lending.payout_actions import action_required, proposal_state
from chalicelib.services import disbursements, loan_lifecycle, payout_resolution, products
from chalicelib.store import audit
from chalicelib.store import disbursements as store
from chalicelib.store.disbursements import DisbursementItem
from chalicelib.store.ledger import ledger
from chalicelib.store.uow import UnitOfWork
from ledger.chart import LOAN_COMPONENTS, loan_account_id
from ledger.errors import AccountNotFound

bp = Blueprint(__name__)


class ResolutionProposalOut(BaseModel):
    state: Literal["pending", "confirmed", "rejected", "lapsed"] = Field(
        description="`lapsed`: the channel decided the payout before a second operator did.")
    outcome: Literal["settled", "failed"]
    provider_ref: str | None
    note: str
    by: str = Field(description="The proposing operator's API key id.")
    at: datetime
    decided_by: str | None
    decided_at: datetime | None


class PayoutAttemptOut(BaseModel):
    n: int
    channel_id: str
    payout_id: str
    journal_id: str
    status: Literal["reserved", "submitted", "unknown", "escalated", "settled", "failed"] = \
        Field(description="`escalated`: sent to the channel and still unanswered near its "
                          "reservation's expiry; the money stays reserved until the channel "
                          "answers (never voided by expiry).")
    cost: MoneyOut
    started_at: datetime
    ended_at: datetime | None
    expires_at: datetime | None = Field(
        default=None, description="The reservation's expiry: only an attempt never sent to "
                                  "the channel is voided then.")
    escalated_at: datetime | None = None
    provider_ref: str | None
    reason: str | None
    proposal: ResolutionProposalOut | None = Field(
        default=None, description="An operator's resolution awaiting a second operator "
                                  "(above the tenant's four-eyes threshold), or its fate.")


class ActionRequiredOut(BaseModel):
    by: Literal["channel", "operator", "second_operator", "system"] = Field(
        description="Who must act next: the channel (its callback), an operator, a second "
                    "operator (four-eyes), or the system (driver / resume job).")
    reason: str
    since: datetime


class DisbursementOut(BaseModel):
    id: str
    loan_id: str
    status: Literal["processing", "settled", "failed"]
    payout: MoneyOut = Field(description="Paid to the borrower.")
    financed: MoneyOut = Field(description="Debited to the loan's principal receivable.")
    origination_fee: MoneyOut = Field(description="Recognised as fee income at payout.")
    attempts: list[PayoutAttemptOut]
    skipped: dict[str, str] = Field(description="Channels passed over by the last routing, "
                                                "and why.")
    failure: str | None
    action_required: ActionRequiredOut | None = Field(
        description="The one open item of a disbursement in flight: who must act, why, since "
                    "when. Null once settled or failed.")
    settled_at: datetime | None
    created_at: datetime
    updated_at: datetime


class LoanHistoryOut(BaseModel):
    seq: int
    action: str
    at: datetime
    status: str | None


class LoanView(LoanOut):
    """The accepted loan (`LoanOut`) as it lives on: any status, its money and its history."""

    status: str  # type: ignore[assignment]
    contract_id: str | None
    disbursement_id: str | None
    disbursed_at: datetime | None
    balances: dict[str, MoneyOut] = Field(description="Receivables from the ledger "
                                                      "(principal, interest, fee, penalty).")
    schedule: ScheduleOut = Field(description="From the actual disbursement date once active.")
    history: list[LoanHistoryOut]
    updated_at: datetime


class RoutingPolicyBody(Strict):
    strategy: Literal["cheapest", "fastest", "cheapest_within"]
    max_settlement_seconds: int | None = Field(default=None, ge=0, le=30 * 86_400)
    max_attempts: int = Field(default=3, ge=1, le=10)

    @model_validator(mode="after")
    def _bound(self) -> RoutingPolicyBody:
        if self.strategy == "cheapest_within" and self.max_settlement_seconds is None:
            raise ValueError("cheapest_within needs max_settlement_seconds")
        return self


class RoutingPolicyOut(BaseModel):
    product_id: str
    strategy: Literal["cheapest", "fastest", "cheapest_within"]
    max_settlement_seconds: int | None
    max_attempts: int


def _m(minor: int, currency: str) -> MoneyOut:
    return MoneyOut(amount=format_amount(minor, currency), currency=currency)


def _attempt_out(attempt: dict[str, Any], currency: str) -> PayoutAttemptOut:
    proposal = attempt.get("proposal")
    if proposal:
        proposal = {**proposal, "state": proposal_state(attempt)}
    return PayoutAttemptOut(**{**attempt, "cost": _m(attempt["cost"], currency),
                               "proposal": proposal})


def disbursement_out(item: DisbursementItem) -> DisbursementOut:
    cur = item.currency
    raw = item.attempt_list()
    attempts = [_attempt_out(a, cur) for a in raw]
    action = action_required(item.status, raw, item.updated_at)
    return DisbursementOut(action_required=ActionRequiredOut(**asdict(action)) if action else None,
                           id=item.disbursement_id, loan_id=item.loan_id,
                           status=item.status,  # type: ignore[arg-type]
                           payout=_m(item.payout, cur), financed=_m(item.financed, cur),
                           origination_fee=_m(item.fee, cur), attempts=attempts,
                           skipped=json.loads(item.skipped), failure=item.failure,
                           settled_at=item.settled_at, created_at=item.created_at,
                           updated_at=item.updated_at)


@endpoint(bp, "POST", "/v1/loans/{loan_id}/disbursements", location="/v1/disbursements/{id}",
          summary="Disburse a loan whose contract is signed: routed across channels",
          tag="Disbursements", roles=COLLECTORS, idempotent=True, lease=False,
          responses={202: (DisbursementOut, "Started (routing runs at once; poll GET "
                                            "/v1/disbursements/{id} for the outcome)"),
                     200: (DisbursementOut, "The loan's disbursement already in flight or "
                                            "settled (one per loan)")})
def start_disbursement(ctx: Context, loan_id: str) -> Reply:
    item, created = disbursements.start(ctx.uow, ctx.tenant, ctx.actor, ctx.now, loan_id)
    return Reply(disbursement_out(item), 202 if created else 200,
                 {"Location": f"/v1/disbursements/{item.disbursement_id}"})


class ResolveAttemptIn(Strict):
    outcome: Literal["settled", "failed"] = Field(
        description="What the channel's evidence shows: the payout was paid, or never was.")
    provider_ref: str | None = Field(default=None, min_length=1, max_length=200,
                                     description="The bank's reference: required to settle.")
    note: str = Field(min_length=1, max_length=500, description="The evidence, for the audit.")


def attempt_number(n: str) -> int:
    if not n.isdigit() or len(n) > 3:
        raise not_found("Attempt")
    return int(n)


@endpoint(bp, "POST", "/v1/disbursements/{disbursement_id}/attempts/{n}/resolve",
          summary="Settle or fail an unknown or escalated payout on the channel's evidence "
                  "(operator)",
          tag="Disbursements", roles=OPERATORS, body=ResolveAttemptIn, idempotent=True,
          location="/v1/disbursements/{disbursement_id}",
          responses={200: (DisbursementOut, "Resolved: settled (the loan is active) or failed "
                                            "(released; the next channel is tried)"),
                     202: (DisbursementOut, "Above the tenant's four-eyes threshold: proposed; "
                                            "a different operator confirms or rejects it")})
def resolve_attempt(ctx: Context, disbursement_id: str, n: str, body: ResolveAttemptIn) -> Reply:
    item, proposed = payout_resolution.resolve(
        ctx.uow, ctx.tenant, ctx.actor, ctx.now, disbursement_id, attempt_number(n),
        body.outcome == "settled", body.provider_ref, body.note)
    return Reply(disbursement_out(item), 202 if proposed else 200)


@endpoint(bp, "GET", "/v1/disbursements/{disbursement_id}", summary="A disbursement and its "
          "attempts", tag="Disbursements", roles=EVERYONE,
          responses={200: (DisbursementOut, "The disbursement")})
def get_disbursement(ctx: Context, disbursement_id: str) -> Reply:
    return Reply(disbursement_out(disbursements.get(ctx.tenant, disbursement_id)))


def _balances(tenant: str, loan_id: str, currency: str) -> dict[str, MoneyOut]:
    out = {}
    for component in LOAN_COMPONENTS:
        try:
            posted = ledger().balance(tenant, loan_account_id(loan_id, component)).posted
        except AccountNotFound:  # opened when the contract is signed
            posted = 0
        out[component] = _m(posted, currency)
    return out


@endpoint(bp, "GET", "/v1/loans/{loan_id}", summary="A loan: status, ledger balances, "
          "schedule and history", tag="Disbursements", roles=EVERYONE,
          responses={200: (LoanView, "The loan")})
def get_loan(ctx: Context, loan_id: str) -> Reply:
    loan = loan_lifecycle.load(ctx.tenant, loan_id)
    records, _ = audit.list_chain(ctx.tenant, "loan", loan_id, 100, None)
    history = [LoanHistoryOut(seq=r["seq"], action=r["action"], at=r["at"],
                          status=json.loads(r.get("data") or "{}").get("status"))
               for r in records]
    return Reply(LoanView(
        **loan_fields(loan), contract_id=loan.contract_id,
        disbursement_id=loan.disbursement_id, disbursed_at=loan.disbursed_at,
        balances=_balances(ctx.tenant, loan_id, loan.currency),
        schedule=json.loads(loan.schedule), history=history, updated_at=loan.updated_at))


def _policy_out(product_id: str, policy: Policy) -> RoutingPolicyOut:
    return RoutingPolicyOut(product_id=product_id, **store.policy_json(policy))


@endpoint(bp, "PUT", "/v1/products/{product_id}/routing-policy",
          summary="Set how a product's disbursements pick channels", tag="Disbursements",
          roles=CONFIGURERS, body=RoutingPolicyBody,
          responses={200: (RoutingPolicyOut, "The policy now in force")})
def put_routing_policy(ctx: Context, product_id: str, body: RoutingPolicyBody) -> Reply:
    products.terms_of(ctx.tenant, product_id)  # 404 for another tenant's or a missing product
    policy = Policy(Strategy(body.strategy), body.max_settlement_seconds, body.max_attempts)
    _set_policy(ctx.uow, ctx, product_id, policy)
    return Reply(_policy_out(product_id, policy))


def _set_policy(uow: UnitOfWork, ctx: Context, product_id: str, policy: Policy) -> None:
    uow.add(store.put_policy(ctx.tenant, product_id, policy))
    head = audit.latest_head(ctx.tenant, "routing_policy", product_id)
    audit.append(uow, tenant=ctx.tenant, aggregate_type="routing_policy",
                 aggregate_id=product_id, head=head, action="routing_policy.set",
                 actor=ctx.actor, at=ctx.now, data=store.policy_json(policy))


@endpoint(bp, "GET", "/v1/products/{product_id}/routing-policy",
          summary="How a product's disbursements pick channels", tag="Disbursements",
          roles=EVERYONE, responses={200: (RoutingPolicyOut, "The policy (default: cheapest)")})
def get_routing_policy(ctx: Context, product_id: str) -> Reply:
    products.terms_of(ctx.tenant, product_id)
    return Reply(_policy_out(product_id, store.get_policy(ctx.tenant, product_id) or Policy()))

