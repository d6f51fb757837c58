"""Repayments, refunds, reversals, payoff quotes and write-off: one transaction each.

A command loads the loan's servicing state, applies its step of the fold (or folds again from
the schedule when it lands in the past: a back-dated payment, a reversal), and adds to the
request's unit of work: the journal of the totals' difference, the servicing state (version-
guarded), the loan's audit record (and status when it moved), the repayment item (with its
channel-reference item, which makes a reference unique) and the partner event. Journal ids:
`rpy:<id>` (repayment), `rpy:<id>:rev` (the payment's mirror netted with the re-allocation of
every later payment), `rfd:<id>` (refund), `wo:<loan>`.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

from chalicelib import clock
from chalicelib.errors import DomainError, FieldError, conflict, not_found
from chalicelib.lending import loan_state as ls
from chalicelib.lending.errors import LendingError
from chalicelib.lending.events import EventType
from chalicelib.lending.money import format_amount, money_json
from chalicelib.lending.product import ProductConfig
from chalicelib.services import outbox, servicing
from chalicelib.store import servicing as store
from chalicelib.store.audit import Actor
from chalicelib.store.uow import UnitOfWork, put

CLOCK_SKEW = timedelta(minutes=5)
#: A payoff quote folds every day up to its date: past a year after both today and the last
#: due date (where only penalties still accrue) a quote has no use and would only cost time.
QUOTE_HORIZON = timedelta(days=366)


def _next_seq(events: list[ls.Event]) -> int:
    return max((e.seq for e in events), default=0) + 1


def _advance(uow: UnitOfWork, tenant: str, now: datetime, loaded: servicing.Loaded,
             new: ls.Event) -> ls.LoanState:
    """The state with `new` applied by the one fold (`loan_state.advance`). An event dated
    after the day following the stored `through` first closes the days in between in this
    transaction: their charges are in its one netted journal, their notices in its outbox, and
    the state's `through` moves to the day before the event, so close of business skips those
    days for this loan by the marker."""
    state, notices = ls.advance(loaded.base, loaded.state, loaded.events, new, loaded.policy)
    for n in notices:
        servicing.notify(uow, tenant, loaded.loan, n, now)
    return state


def _as_conflict(exc: LendingError) -> DomainError:
    return conflict(exc.problems[0].msg, code=exc.problems[0].type)


def repay(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime, loan_id: str,
          amount: int, currency: str, paid_at: datetime, channel: str,
          reference: str) -> dict[str, Any]:
    """Records a payment the loan can take: a new (channel, reference), an open loan, and no
    more than the product's overpayment tolerance above what the loan owes on its date."""
    terms: dict[tuple[str, int], ProductConfig] = {}
    loaded = servicing.load(tenant, loan_id, products=terms)
    loan = loaded.loan
    on = clock.business_date(tenant, paid_at)  # the tenant's day, whatever the offset
    _check_money(currency, loan.currency, amount)
    _check_new_reference(tenant, channel, reference)
    if paid_at > now + CLOCK_SKEW or on < loaded.base.disbursed_on:
        raise DomainError("validation-error", "paid_at must lie between the disbursement and "
                          "now.", [FieldError("/body/paid_at", "outside the loan's life")])
    _check_open(loaded.state, loan.currency)
    rid = f"rpy_{secrets.token_hex(8)}"
    event = ls.Event(rid, "repayment", on, amount, _next_seq(loaded.events))
    events = [*loaded.events, event]
    try:
        state = _advance(uow, tenant, now, loaded, event)
    except LendingError as exc:
        raise _as_conflict(exc) from None
    old = servicing.flat(loaded.state.totals(loaded.policy.day_count))
    d = servicing.diff(servicing.flat(state.totals(loaded.policy.day_count)), old)
    tolerance = terms[(loan.product_id, loan.product_version)].overpayment_tolerance_minor()
    excess = max(state.credit, 0) - max(loaded.state.credit, 0)
    _check_excess(amount, excess, tolerance, on, loan.currency)
    journal = f"rpy:{rid}"
    servicing.add_journal(uow, tenant, journal, loan, on, d, f"Repayment {rid} ({reference})",
                          {"repayment_id": rid, "channel": channel, "reference": reference})
    item = _repayment_item(tenant, rid, loan_id, amount, loan.currency, paid_at, channel,
                           reference, journal, d, excess, now)
    uow.add(put("main", item, "attribute_not_exists(pk)"))
    # Before the loan's own change: a payoff's repayment.received precedes its loan.closed.
    outbox.emit(uow, tenant, EventType.REPAYMENT_RECEIVED, {
        "loan_id": loan_id, "repayment_id": rid, "amount": money_json(amount, loan.currency),
        "paid_at": paid_at.isoformat(), "channel": channel, "reference": reference,
        "loan_status": state.status}, now=now)
    servicing.commit_change(uow, tenant, actor, now, loaded, state, events,
                            "loan.repayment_received",
                            {"repayment_id": rid, "amount": amount, "paid_on": on.isoformat()})
    # Ahead of the servicing state's version guard: a twin report that raced this one on the
    # same loan fails both, and the client must hear which repayment already holds the money.
    uow.add(put("main", store.reference_item(tenant, channel, reference, rid, loan_id,
                                             now.isoformat()), "attribute_not_exists(pk)"),
            on_fail=lambda r: _duplicate(channel, reference, r.get("Item")), first=True)
    return store_view(item)


# --- intake rules ------------------------------------------------------------------------

def _check_new_reference(tenant: str, channel: str, reference: str) -> None:
    """Early answer for a reference already recorded; the conditional put of the reference
    item in the repayment's transaction is what guarantees it under a race."""
    existing = store.get_reference(tenant, channel, reference)
    if existing is not None:
        raise _duplicate(channel, reference, existing)


def _duplicate(channel: str, reference: str, existing: dict[str, Any] | None) -> DomainError:
    rid = existing["repayment_id"]["S"] if existing else None
    loan_id = existing["loan_id"]["S"] if existing else None
    where = f" as repayment {rid} on loan {loan_id}" if existing else ""
    detail = (f"Channel {channel} reference {reference} is already recorded{where}; a money "
              "movement is recorded once.")
    return DomainError("conflict", detail, [FieldError(
        "/body/external_reference", f"already recorded{where}", "duplicate_reference")],
        {"repayment_id": rid, "loan_id": loan_id} if existing else {})


def _check_open(s: ls.LoanState, currency: str) -> None:
    """A closed loan still takes what a charge-back left owing (a negative credit), no more."""
    status = s.status
    if status == ls.WRITTEN_OFF or (status == ls.CLOSED and s.credit >= 0):
        zero = format_amount(0, currency)
        raise DomainError(
            "validation-error", f"The loan is {status}: its outstanding amount is {zero} "
            f"{currency} and it takes no repayments.",
            [FieldError("/body/amount/amount", f"the loan is {status}; outstanding {zero}",
                        f"loan_{status}")],
            {"loan_status": status, "outstanding": money_json(0, currency)})


def _check_excess(amount: int, excess: int, tolerance: int, on: date, currency: str) -> None:
    """`excess` is what the fold left on the credit balance beyond what it held before (a
    negative credit a payment settles is owed, not excess), so the outstanding figure is exactly
    what the loan took, back-dated or not."""
    if excess <= tolerance:
        return
    owed, tol, over = (format_amount(x, currency) for x in (amount - excess, tolerance, excess))
    raise DomainError(
        "validation-error", f"The payment exceeds the outstanding amount {owed} {currency} on "
        f"{on.isoformat()} by {over}; the product's overpayment tolerance is {tol}.",
        [FieldError("/body/amount/amount", f"at most {owed} plus the tolerance {tol}",
                    "overpayment_exceeds_tolerance")],
        {"outstanding": money_json(amount - excess, currency),
         "tolerance": money_json(tolerance, currency)})


def _check_money(currency: str, loan_currency: str, amount: int) -> None:
    if currency != loan_currency:
        raise DomainError("validation-error", "The amount must be in the loan's currency.",
                          [FieldError("/body/amount/currency", f"expected {loan_currency}")])
    if amount <= 0:
        raise DomainError("validation-error", "The amount must be positive.",
                          [FieldError("/body/amount/amount", "must be greater than zero")])


def _repayment_item(tenant: str, rid: str, loan_id: str, amount: int, currency: str,
                    paid_at: datetime, channel: str, reference: str, journal: str,
                    d: dict[str, int], overpayment: int, now: datetime) -> dict[str, Any]:
    return {"pk": {"S": store.repayment_pk(tenant, rid)}, "sk": {"S": store.REPAYMENT_SK},
            "gsi1pk": {"S": store.repayments_index_pk(tenant, loan_id)},
            "gsi1sk": {"S": f"{now.isoformat()}#{rid}"},
            "repayment_id": {"S": rid}, "loan_id": {"S": loan_id},
            "amount": {"N": str(amount)}, "currency": {"S": currency},
            "paid_at": {"S": paid_at.isoformat()}, "channel": {"S": channel},
            "reference": {"S": reference}, "journal_id": {"S": journal},
            "effect": {"S": json.dumps(d, sort_keys=True)}, "status": {"S": "posted"},
            "overpayment": {"N": str(overpayment)},
            "created_at": {"S": now.isoformat()}}


def store_view(item: dict[str, Any]) -> dict[str, Any]:
    effect = json.loads(item["effect"]["S"])
    return {"id": item["repayment_id"]["S"], "loan_id": item["loan_id"]["S"],
            "amount": int(item["amount"]["N"]), "currency": item["currency"]["S"],
            "paid_at": item["paid_at"]["S"], "channel": item["channel"]["S"],
            "reference": item["reference"]["S"], "journal_id": item["journal_id"]["S"],
            "status": item["status"]["S"],
            "allocated": {c: effect[f"paid.{c}"] for c in ls.COMPONENTS},
            # credit_in also counts a negative credit settled; items before it had no debt
            "overpayment": int(item.get("overpayment", {}).get("N", effect["credit_in"])),
            "reversed_at": item.get("reversed_at", {}).get("S"),
            "created_at": item["created_at"]["S"]}


def get(tenant: str, repayment_id: str) -> dict[str, Any]:
    item = store.get_repayment(tenant, repayment_id)
    if item is None:
        raise not_found("Repayment")
    return item


# --- reversal ----------------------------------------------------------------------------

def reverse(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime, repayment_id: str,
            reason: str) -> dict[str, Any]:
    """Reverses the repayment's journal and re-derives every later allocation, so the loan
    ends exactly as if the payment had never been received."""
    item = get(tenant, repayment_id)
    if item["status"]["S"] == "reversed":
        raise conflict("The repayment is already reversed.")
    loaded = servicing.load(tenant, item["loan_id"]["S"])
    if loaded.state.status == ls.WRITTEN_OFF and not any(
            e.kind == ls.WRITE_OFF_EVENT for e in loaded.events):
        raise conflict("This loan was written off before write-offs were in its history: "
                       "its repayments cannot be reversed.")
    events = [replace(e, reversed=True) if e.id == repayment_id else e for e in loaded.events]
    # close of business skips a stopped (closed) loan, so its `through` stayed on the day it
    # stopped: a reversal that reopens it folds every day since, up to yesterday, as COB would
    through = loaded.state.through
    if loaded.state.stopped_on is not None:
        through = max(through, clock.business_date(tenant, now) - ls.ONE_DAY)
    try:
        state = ls.derive(loaded.base, events, through, loaded.policy)
    except LendingError as exc:
        raise _as_conflict(exc) from None
    dc = loaded.policy.day_count
    # One journal: the mirror of the payment's own journal netted per account with the
    # re-allocation of every later payment (a transaction may not touch a balance item twice,
    # so the two cannot be separate journals in the same commit).
    d = servicing.diff(servicing.flat(state.totals(dc)), servicing.flat(loaded.state.totals(dc)))
    journal = item["journal_id"]["S"]
    servicing.add_journal(uow, tenant, f"{journal}:rev", loaded.loan,
                          clock.business_date(tenant, now), d,
                          f"Reversal of repayment {repayment_id}: {reason}"[:200],
                          {"repayment_id": repayment_id, "reverses": journal})
    item["status"] = {"S": "reversed"}
    item["reversed_at"] = {"S": now.isoformat()}
    item["reversal_reason"] = {"S": reason}
    uow.add(put("main", item, "#s = :s", names={"#s": "status"}, values={":s": {"S": "posted"}}),
            on_fail=lambda _r: conflict("The repayment is already reversed."))
    servicing.commit_change(uow, tenant, actor, now, loaded, state, events,
                            "loan.repayment_reversed",
                            {"repayment_id": repayment_id, "reason": reason})
    return store_view(item)


# --- refunds, quotes, write-off ----------------------------------------------------------

def refund(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime, loan_id: str,
           amount: int, currency: str, channel: str, reference: str) -> dict[str, Any]:
    loaded = servicing.load(tenant, loan_id)
    _check_money(currency, loaded.loan.currency, amount)
    fid = f"rfd_{secrets.token_hex(8)}"
    on = max(clock.business_date(tenant, now), loaded.state.through + ls.ONE_DAY)
    event = ls.Event(fid, "refund", on, amount, _next_seq(loaded.events))
    events = [*loaded.events, event]
    try:
        state = _advance(uow, tenant, now, loaded, event)
    except LendingError as exc:
        raise DomainError("validation-error", exc.problems[0].msg,
                          [FieldError("/body/amount", exc.problems[0].msg,
                                      exc.problems[0].type)]) from None
    dc = loaded.policy.day_count
    d = servicing.diff(servicing.flat(state.totals(dc)), servicing.flat(loaded.state.totals(dc)))
    servicing.add_journal(uow, tenant, f"rfd:{fid}", loaded.loan, event.on, d,
                          f"Refund {fid} ({reference})",
                          {"refund_id": fid, "channel": channel, "reference": reference})
    servicing.commit_change(uow, tenant, actor, now, loaded, state, events, "loan.refunded",
                            {"refund_id": fid, "amount": amount})
    return {"id": fid, "loan_id": loan_id, "amount": amount, "currency": loaded.loan.currency,
            "channel": channel, "reference": reference, "journal_id": f"rfd:{fid}",
            "credit_remaining": state.credit}


def payoff_quote(tenant: str, loan_id: str, on: date | None, today: date) -> dict[str, Any]:
    """What a payment dated `on` (default today) must be to close the loan: read from the same
    fold the payment is applied by (`loan_state.before`), so every close of business before
    `on` is in it whether or not it has run, and a negative credit (owed) is added."""
    loaded = servicing.load(tenant, loan_id)
    on = on or today
    first = loaded.base.disbursed_on
    last = max([today, *(i.due for i in loaded.base.installments)]) + QUOTE_HORIZON
    if not first <= on <= last:
        raise DomainError("validation-error", f"The date must lie from the disbursement "
                          f"({first.isoformat()}) to {last.isoformat()} (a year after the "
                          "later of today and the last due date).",
                          [FieldError("/query/date", "outside the quotable dates")])
    s = loaded.state
    if s.status != ls.WRITTEN_OFF:  # a write-off is not in the fold: its state is final
        s, _ = ls.before(loaded.base, s, loaded.events, on, loaded.policy)
    parts = s.payoff(on, loaded.policy.day_count)
    total = max(sum(parts.values()) - s.credit, 0)
    return {"loan_id": loan_id, "date": on, "currency": loaded.loan.currency,
            "components": parts, "credit": s.credit, "total": total,
            "status": loaded.loan.status}


def write_off(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime, loan_id: str,
              reason: str) -> dict[str, Any]:
    loaded = servicing.load(tenant, loan_id)
    if loaded.state.status in (ls.CLOSED, ls.WRITTEN_OFF):
        raise conflict(f"A {loaded.state.status} loan cannot be written off.")
    event = ls.Event(f"wo_{loan_id}", ls.WRITE_OFF_EVENT, loaded.state.through + ls.ONE_DAY, 0,
                     _next_seq(loaded.events))
    events = [*loaded.events, event]
    state = _advance(uow, tenant, now, loaded, event)
    dc = loaded.policy.day_count
    amounts = {c: state.written_off[c] - loaded.state.written_off[c] for c in ls.COMPONENTS}
    d = servicing.diff(servicing.flat(state.totals(dc)), servicing.flat(loaded.state.totals(dc)))
    servicing.add_journal(uow, tenant, f"wo:{loan_id}", loaded.loan,
                          clock.business_date(tenant, now), d,
                          f"Write-off of loan {loan_id}: {reason}"[:200], {})
    servicing.commit_change(uow, tenant, actor, now, loaded, state, events, None,
                            {"reason": reason, "amounts": amounts})
    return {"loan_id": loan_id, "status": state.status, "currency": loaded.loan.currency,
            "written_off": amounts, "journal_id": f"wo:{loan_id}"}


def loan_servicing(tenant: str, loan_id: str) -> dict[str, Any]:
    """What GET /v1/loans/{id}/servicing shows: state figures and the current schedule."""
    loaded = servicing.load(tenant, loan_id)
    s, dc = loaded.state, loaded.policy.day_count
    t = s.totals(dc)
    from chalicelib.lending.delinquency import bucket

    return {"loan_id": loan_id, "status": s.status, "through": s.through, "dpd": s.dpd,
            "bucket": bucket(s.dpd, loaded.policy.delinquency.ranges),
            "currency": loaded.loan.currency, "credit": s.credit,
            "outstanding": {c: t.receivable(c) for c in ls.COMPONENTS},
            "installments": [{
                "number": i.n, "due_date": i.due, "principal": i.principal,
                "interest": i.interest_total(), "fee": i.fee + i.late_fee, "penalty": i.penalty,
                "paid": dict(i.paid)} for i in s.installments]}
