"""Operators finish payouts the machines cannot: `unknown` or `escalated` attempts, with
four-eyes above the tenant's threshold.

An operator settles an attempt with the bank's reference or fails it (the reservation is
released and routing continues after the commit). A payout above the tenant's
`resolution_four_eyes_above` is not resolved by one person: the first operator's resolution is
recorded on the attempt as a `pending` proposal (audited, `disbursement.resolution_proposed`)
and takes effect only when a different API key of the operator role confirms it; a rejection
sends it back to the operators. Every step is version-guarded on the disbursement: a channel
answer landing between proposal and confirmation decides the attempt, and the proposal then
reads `lapsed` (confirming it is a 409 naming that state).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from chalicelib.errors import DomainError, FieldError, conflict, invalid, not_found
from chalicelib.lending.money import parse_amount
from chalicelib.lending.payout_actions import (
    OPERATOR_RESOLVABLE,
    pending_proposal,
    proposal_state,
)
from chalicelib.services import disbursements
from chalicelib.store import audit, payout_settings
from chalicelib.store import disbursements as store
from chalicelib.store.audit import Actor
from chalicelib.store.disbursements import DisbursementItem
from chalicelib.store.uow import UnitOfWork

DEFAULT_SETTINGS: dict[str, Any] = {"resolution_four_eyes_above": None}


def settings(tenant: str) -> dict[str, Any]:
    """The tenant's payout settings (default: no four-eyes threshold)."""
    return {**DEFAULT_SETTINGS, **(payout_settings.get(tenant) or {})}


def put_settings(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime,
                 body: dict[str, Any]) -> None:
    threshold = body.get("resolution_four_eyes_above")
    if threshold is not None:
        try:
            parse_amount(threshold["amount"], threshold["currency"])
        except Exception as exc:  # MoneyError: wrong scale or unknown currency
            raise invalid([FieldError("/body/resolution_four_eyes_above",
                                      str(exc), "invalid_amount")]) from None
    uow.add(payout_settings.put(tenant, body))
    audit.append(uow, tenant=tenant, aggregate_type="payout_settings", aggregate_id="payouts",
                 head=audit.latest_head(tenant, "payout_settings", "payouts"),
                 action="payout_settings.set", actor=actor, at=now, data=body)


def needs_four_eyes(tenant: str, payout: int, currency: str) -> bool:
    """Above the threshold; a payout in another currency than the threshold's needs it too
    (an amount in one currency says nothing about another: fail safe)."""
    threshold = settings(tenant)["resolution_four_eyes_above"]
    if threshold is None:
        return False
    if threshold["currency"] != currency:
        return True
    return payout > parse_amount(threshold["amount"], currency)


def _attempt(item: DisbursementItem, n: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    attempts = item.attempt_list()
    if not 1 <= n <= len(attempts):
        raise not_found("Attempt")
    return attempts, attempts[n - 1]


def resolve(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime, disbursement_id: str,
            n: int, settled: bool, provider_ref: str | None,
            note: str) -> tuple[DisbursementItem, bool]:
    """Resolves attempt n, or proposes it for a second operator; True: it was proposed."""
    item = disbursements.get(tenant, disbursement_id)
    attempts, attempt = _attempt(item, n)
    status = attempt["status"]
    if item.status != store.PROCESSING or status not in OPERATOR_RESOLVABLE:
        raise conflict("Only an unknown or escalated payout is resolved by an operator; this "
                       f"one is {status} and its channel's answer decides it.",
                       attempt_status=status)
    if settled and not provider_ref:
        raise invalid([FieldError("/body/provider_ref", "the bank's reference is required "
                                  "to settle a payout", "required")])
    proposal = pending_proposal(attempt)
    if proposal is not None:
        raise conflict("A resolution is already proposed for this payout; a second operator "
                       "confirms or rejects it.", proposed_by=proposal["by"],
                       proposal_state="pending")
    if not needs_four_eyes(tenant, item.payout, item.currency):
        return disbursements.resolve_escalated(uow, tenant, actor, disbursement_id, n, settled,
                                               provider_ref, note, item=item), False
    attempt["proposal"] = {"state": "pending", "outcome": "settled" if settled else "failed",
                           "provider_ref": provider_ref, "note": note, "by": actor.key_id,
                           "at": now.isoformat(), "decided_by": None, "decided_at": None}
    disbursements.save_attempts(uow, tenant, actor, now, item, attempts,
                                "disbursement.resolution_proposed",
                                {"n": n, "outcome": attempt["proposal"]["outcome"],
                                 "provider_ref": provider_ref, "note": note})
    return item, True


def decide(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime, disbursement_id: str,
           n: int, confirm: bool, note: str) -> DisbursementItem:
    """A second operator confirms (it takes effect) or rejects a pending proposal."""
    item = disbursements.get(tenant, disbursement_id)
    attempts, attempt = _attempt(item, n)
    state = proposal_state(attempt)
    if state != "pending":
        detail = ("No resolution is proposed for this payout." if state is None else
                  f"The proposal is {state}" + ("; the channel decided the payout first."
                                               if state == "lapsed" else "."))
        raise conflict(detail, proposal_state=state, attempt_status=attempt["status"])
    proposal = attempt["proposal"]
    if proposal["by"] == actor.key_id:
        raise DomainError("four-eyes", "The operator who proposed a resolution cannot "
                          "confirm or reject it: a different operator must.",
                          extra={"proposed_by": proposal["by"]})
    proposal.update(state="confirmed" if confirm else "rejected", decided_by=actor.key_id,
                    decided_at=now.isoformat(), decision_note=note)
    if not confirm:
        disbursements.save_attempts(uow, tenant, actor, now, item, attempts,
                                    "disbursement.resolution_rejected",
                                    {"n": n, "proposed_by": proposal["by"], "note": note})
        return item
    item.attempts = json.dumps(attempts, sort_keys=True, separators=(",", ":"))  # saved next
    return disbursements.resolve_escalated(
        uow, tenant, actor, disbursement_id, n, proposal["outcome"] == "settled",
        proposal["provider_ref"], f"{proposal['note']} (proposed by {proposal['by']}, "
        f"confirmed by {actor.key_id})", item=item)
