"""Disbursement: route a signed loan's payout across channels, two-phase in the ledger.

State machine (the disbursement):  processing --settled--> settled
                                   processing --attempts exhausted / no channel--> failed
Each attempt:  reserved --submit--> settled | submitted (await callback) | failed (voided)
               | unknown (timed out and the channel cannot say: await callback/reconciliation)
               submitted | unknown --no answer near the expiry--> escalated (still reserved)

Every step is one transaction. The request that starts a disbursement commits it (with the loan
moving to `disbursing`) and then drives the attempts after its commit; a channel's callback
settles or fails the attempt it names and, on failure, drives the next one. Journals, per
attempt n of disbursement D:
  pending  disb:D:n       Dr loan:<id>:principal financed / Cr cash:<channel> payout
                          / Cr fee-income origination fee (when there is one)
  post     disb:D:n:post  on the channel's confirmation (the loan becomes active)
  void     disb:D:n:void  on failure (the next channel is tried)
The pending leg on the channel's exact cash account (floor 0) reserves prefunded money
atomically, so concurrent payouts can never overdraw a channel. Processing disbursements sit in
a sparse index the resume job (`resume`, every 5 minutes) walks: a crash between reserving and
submitting, a lost callback or an unanswered channel is finished there, never paid twice.

Expiry: a reservation carries no ledger expiry (the ledger's sweep voids expired pendings, and a
payout a channel may have executed must never be voided by a clock); its expiry is the
attempt's `expires_at` (reserved + PENDING_TTL), enforced here. An attempt never sent to the
channel (`reserved`) whose expiry passes is voided, once the channel confirms it does not know
the payout. A sent one (`submitted`/`unknown`) is escalated instead (`escalated`: audit record,
`disbursement.escalated` event, `DisbursementsEscalated` metric) - `unknown` after
UNKNOWN_DEADLINE, `submitted` ESCALATE_BEFORE its expiry - and stays reserved: the channel's
late answer (callback or status) still settles it and activates the loan, or fails it.
"""

from __future__ import annotations

import json
import logging
import secrets
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib import clock, metrics
from chalicelib.channels import protocol, router
from chalicelib.channels.protocol import Outcome, OutcomeKind, Payout
from chalicelib.channels.router import Candidate, Policy
from chalicelib.errors import DomainError, conflict, not_found
from chalicelib.lending.events import EventType
from chalicelib.lending.money import parse_amount
from chalicelib.lending.payout_actions import OPERATOR_RESOLVABLE
from chalicelib.lending.quote import quote as price
from chalicelib.services import beneficiaries, channels, loan_lifecycle, outbox
from chalicelib.services import disbursement_reads as reads
from chalicelib.services.disbursement_reads import ChannelState, Known
from chalicelib.store import audit
from chalicelib.store import channels as channel_store
from chalicelib.store import disbursements as store
from chalicelib.store.audit import Actor, ChainHead
from chalicelib.store.channels import ChannelItem
from chalicelib.store.disbursements import DisbursementItem
from chalicelib.store.ledger import ledger
from chalicelib.store.loans import ACTIVE, DISBURSING, PENDING_DISBURSEMENT, LoanItem
from chalicelib.store.uow import UnitOfWork, put_aggregate
from ledger.chart import (
    DISBURSEMENT,
    FEE_INCOME,
    channel_cash_id,
    domain_metadata,
    loan_account_id,
)
from ledger.errors import LedgerError
from ledger.model import JournalRequest, JournalView, Posting, Side

log = logging.getLogger("lending.disbursements")
PENDING_TTL = timedelta(days=7)  # a reservation's expiry, from reserving (attempt `expires_at`)
ESCALATE_BEFORE = timedelta(days=1)  # a submitted payout unanswered this long before it
IN_FLIGHT = ("reserved", "submitted", "unknown", "escalated")
MAX_STEPS = 12
MOVED_ON = "The disbursement changed concurrently."
CHANNEL_CHANGED = "channel-changed"  # the chosen channel moved between routing and reserving


# What the running driver committed or read (see disbursement_reads): steps whose signatures
# tests wrap (`_submit`) find it here rather than in an argument.
_driving: ContextVar[Known | None] = ContextVar("disbursement_known", default=None)


class Stop(Exception):
    """Another request moved the disbursement on: this driver stops."""


# --- start -------------------------------------------------------------------------------

def start(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime,
          loan_id: str) -> tuple[DisbursementItem, bool]:
    """Creates the loan's disbursement (or returns the one in flight or settled)."""
    loan = loan_lifecycle.load(tenant, loan_id)
    if loan.disbursement_id and loan.status in (DISBURSING, ACTIVE):
        existing = store.get(tenant, loan.disbursement_id)
        if existing is not None:
            return existing, False
    if loan.status != PENDING_DISBURSEMENT:
        raise conflict("Only a loan whose contract is signed can be disbursed.",
                       loan_status=loan.status)
    beneficiaries.ready_to_pay(loan)  # issue 17: nowhere to pay, or a change awaits review
    schedule = json.loads(loan.schedule)
    cur = loan.currency
    found_policy, terms = reads.start_reads(tenant, loan)
    policy = found_policy or Policy()
    disbursement_id = f"dsb_{secrets.token_hex(8)}"
    item = DisbursementItem(
        store.pk(tenant, disbursement_id), store.SK, disbursement_id=disbursement_id,
        loan_id=loan_id, status=store.PROCESSING, currency=cur,
        financed=parse_amount(schedule["financed"], cur),
        payout=parse_amount(schedule["payout"], cur),
        fee=parse_amount(schedule["origination_fee"], cur),
        policy=json.dumps(store.policy_json(policy), sort_keys=True), attempts="[]",
        skipped="{}", version=1, created_at=now, updated_at=now,
        beneficiary_enc=loan.beneficiary_enc)  # issue 17: the payouts' destination
    head = audit.append(uow, tenant=tenant, aggregate_type="disbursement",
                        aggregate_id=disbursement_id, head=None, action="disbursement.created",
                        actor=actor, at=now, data={"loan_id": loan_id, "payout": item.payout,
                                                    "financed": item.financed, "fee": item.fee},
                        head_ref=channel_store.head_ref(item))
    item.audit_seq, item.audit_head = head.seq, head.hash
    store.mark_in_flight(tenant, item)
    uow.add(put_aggregate(item, None), on_fail=lambda _r: conflict("Id collision; retry."))
    loan.disbursement_id = disbursement_id
    loan_lifecycle.move(uow, tenant, actor, now, loan, DISBURSING, "loan.disbursement_started",
                        {"disbursement_id": disbursement_id})
    known = Known(item=item, loan=loan, terms=terms)  # as committed, by the time it runs
    uow.after_commit.append(lambda: drive_safely(tenant, disbursement_id, actor, known))
    return item, True


def get(tenant: str, disbursement_id: str) -> DisbursementItem:
    item = store.get(tenant, disbursement_id)
    if item is None:
        raise not_found("Disbursement")
    return item


# --- the driver --------------------------------------------------------------------------

def drive_safely(tenant: str, disbursement_id: str, actor: Actor,
                 known: Known | None = None) -> None:
    """Runs after a commit: it must never raise (the request already succeeded)."""
    try:
        drive(tenant, disbursement_id, actor, known)
    except Exception:
        log.exception("disbursement %s/%s: driver stopped", tenant, disbursement_id)


def drive(tenant: str, disbursement_id: str, actor: Actor, known: Known | None = None) -> None:
    """Tries channels until one settles or accepts, the attempts run out, or none is left.
    `known`: what the caller just committed (the disbursement, the loan), used instead of
    re-reading it; each step's own commit leaves the disbursement there again."""
    known = known or Known()
    token = _driving.set(known)
    try:
        _drive(tenant, disbursement_id, actor, known)
    finally:
        _driving.reset(token)


def _drive(tenant: str, disbursement_id: str, actor: Actor, known: Known) -> None:
    for _ in range(MAX_STEPS):
        item = known.item or get(tenant, disbursement_id)
        known.item = None  # a step that commits puts it back; a refused one leaves it unread
        if item.status != store.PROCESSING:
            return
        attempts = item.attempt_list()
        if attempts and attempts[-1]["status"] in IN_FLIGHT:
            return  # a channel holds it: its callback (or reconciliation) decides
        policy = store.policy_of(json.loads(item.policy))
        if len(attempts) >= policy.max_attempts:
            _fail(tenant, actor, item, f"{len(attempts)} attempts failed")
            return
        try:
            reserved = _reserve_next(tenant, actor, item, policy, known)
        except Stop:
            return
        if reserved is None:
            return
        channel, attempt = reserved
        if not _submit(tenant, actor, item, channel, attempt):
            return


def _candidates(tenant: str, items: list[ChannelItem], day: Any,
                states: dict[str, ChannelState]) -> list[Candidate]:
    now = channels.clock()
    out = []
    for ch in items:
        state = states[ch.channel_id]
        channels.balance_read(tenant, ch, state.available, state.balance_low, now)
        out.append(Candidate(
            ch.channel_id, ch.currency, ch.enabled, ch.fixed_cost, ch.proportional_bps,
            ch.settlement_seconds, ch.max_payout, ch.daily_limit,
            state.used_today if ch.daily_limit else 0, state.available,
            channels.breaker.allows(state.breaker, channels.breaker_config(ch), now)))
    return out


def _eligible_channels(tenant: str, loan: LoanItem, terms: Any, day: Any, with_fee: bool
                       ) -> tuple[list[ChannelItem], dict[str, ChannelState]]:
    """The channels the product may use, read consistently now with their breakers, usage and
    cash (one batch): routing decides on each one's enablement and limits, which an operator
    may have changed a moment ago."""
    ids = reads.channel_ids(tenant, terms.references.channel_ids)
    return reads.routing_state(tenant, ids, day, loan.loan_id, with_fee)


class _Changed(Exception):
    """The chosen channel changed between routing's read and the reservation."""

    def __init__(self, item: DisbursementItem) -> None:
        self.item = item  # the disbursement as re-read after the refused transaction


Reserved = tuple[ChannelItem, dict[str, Any]]


def _reserve_next(tenant: str, actor: Actor, item: DisbursementItem,
                  policy: Policy, known: Known | None = None) -> Reserved | None:
    """Ranks the channels and reserves on the first that takes the payout. A channel changed
    under the reservation (disabled, limits lowered, ...) refuses it: route again once on fresh
    reads; changed again, it is skipped as `channel-changed`."""
    known = known or Known()
    loan = known.loan or loan_lifecycle.load(tenant, item.loan_id)
    known.loan = loan
    try:
        reserved, item, skipped = _route(tenant, actor, item, policy, loan, final=False,
                                         known=known)
    except _Changed as changed:
        reserved, item, skipped = _route(tenant, actor, changed.item, policy, loan, final=True,
                                         known=known)
    if reserved is None:
        _fail(tenant, actor, item, "no eligible channel", skipped)
    return reserved


def _route(tenant: str, actor: Actor, item: DisbursementItem, policy: Policy, loan: LoanItem,
           *, final: bool, known: Known | None = None
           ) -> tuple[Reserved | None, DisbursementItem, dict[str, str]]:
    """One ranking on fresh reads and the reservation on its first taker (None: nobody)."""
    known = known or Known()
    now = channels.now(tenant)
    day = clock.business_date(tenant, now)
    terms = known.terms or reads.loan_terms(tenant, loan)
    known.terms = terms
    read, states = _eligible_channels(tenant, loan, terms, day, bool(item.fee))
    items = {c.channel_id: c for c in read}
    tried = {a["channel_id"] for a in item.attempt_list()}
    ranked, skipped = router.rank(_candidates(tenant, list(items.values()), day, states),
                                  item.payout, item.currency, policy, tried)
    for candidate in ranked:
        channel = items[candidate.channel_id]
        seen = states[channel.channel_id]
        if not channels.acquire(tenant, channel, (seen.breaker, seen.breaker_version)):
            skipped[channel.channel_id] = "breaker_open"
            continue
        if not channels.breaker.needs_probe(seen.breaker):  # unchanged by acquire
            known.breakers[channel.channel_id] = (seen.breaker, seen.breaker_version)
        for _ in range(3):  # a transaction conflict on a shared item: read again, retry
            try:
                reserved = channel, _reserve(tenant, actor, item, channel, candidate, skipped,
                                             now, known)
                known.item = item
                return reserved, item, skipped
            except (DomainError, LedgerError) as exc:
                item = get(tenant, item.disbursement_id)
                if isinstance(exc, DomainError) and exc.kind == "conflict":
                    if exc.detail == MOVED_ON or item.status != store.PROCESSING:
                        raise Stop from None
                    continue
                kind = getattr(exc, "kind", None) or type(exc).__name__
                if kind == CHANNEL_CHANGED and not final:
                    raise _Changed(item) from None
                skipped[channel.channel_id] = kind
                break
    return None, item, skipped


def _journal_id(item: DisbursementItem, n: int) -> str:
    return f"disb:{item.disbursement_id}:{n}"


def _save(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime, item: DisbursementItem,
          action: str, data: dict[str, Any]) -> None:
    expected = item.version
    item.version, item.updated_at = expected + 1, now
    head = audit.append(uow, tenant=tenant, aggregate_type="disbursement",
                        aggregate_id=item.disbursement_id,
                        head=ChainHead(item.audit_seq, item.audit_head), action=action,
                        actor=actor, at=now, data=data, head_ref=channel_store.head_ref(item))
    item.audit_seq, item.audit_head = head.seq, head.hash
    store.mark_in_flight(tenant, item)
    uow.add(put_aggregate(item, expected),
            on_fail=lambda _r: conflict(MOVED_ON))


def _set_attempts(item: DisbursementItem, attempts: list[dict[str, Any]]) -> None:
    item.attempts = json.dumps(attempts, sort_keys=True, separators=(",", ":"))


def _reserve(tenant: str, actor: Actor, item: DisbursementItem, channel: ChannelItem,
             candidate: Candidate, skipped: dict[str, str], now: datetime,
             known: Known | None = None) -> dict[str, Any]:
    attempts = item.attempt_list()
    n = len(attempts) + 1
    cur, cid = item.currency, channel.channel_id
    day = clock.business_date(tenant, now)  # the tenant's day: its channel limits and books
    attempt = {"n": n, "channel_id": cid, "payout_id": f"{item.disbursement_id}.{n}",
               "journal_id": _journal_id(item, n), "status": "reserved",
               "day": day.isoformat(), "cost": router.cost(candidate, item.payout),
               "started_at": now.isoformat(), "ended_at": None, "provider_ref": None,
               "reason": None, "expires_at": (now + PENDING_TTL).isoformat()}
    postings = [Posting(loan_account_id(item.loan_id, "principal"), Side.DEBIT, item.financed,
                        cur), Posting(channel_cash_id(cid), Side.CREDIT, item.payout, cur)]
    if item.fee:
        postings.append(Posting(FEE_INCOME, Side.CREDIT, item.fee, cur))
    uow = UnitOfWork()
    journal = ledger().prepare_journal(tenant, JournalRequest(
        attempt["journal_id"], tuple(postings), day,
        f"Disbursement {item.disbursement_id} via {cid}",
        domain_metadata(DISBURSEMENT, loan_id=item.loan_id,
                        disbursement_id=item.disbursement_id, channel_id=cid),
        pending=True))  # no ledger expiry: see the module's docstring
    uow.add_part(journal)
    uow.add(channel_store.unchanged(channel, item.payout), first=True,
            on_fail=lambda _r: DomainError(CHANNEL_CHANGED, "The channel changed while it was "
                                           "chosen; routing reads it again."))
    uow.add(channel_store.reserve_usage(tenant, cid, day, item.payout,
                                        channel.daily_limit, now),
            on_fail=lambda _r: DomainError("channel-daily-limit", "Daily limit reached."))
    attempts.append(attempt)
    _set_attempts(item, attempts)
    item.skipped = json.dumps(skipped, sort_keys=True)
    _save(uow, tenant, actor, now, item, "disbursement.attempt_reserved",
          {"n": n, "channel_id": cid, "journal_id": attempt["journal_id"]})
    uow.commit()
    if known is not None and journal.journal is not None:  # settling it needs no read
        known.pending[attempt["journal_id"]] = JournalView(journal.journal)
        known.channels[cid] = channel
    channels.reserved(tenant, channel, candidate.available, item.payout)  # channel.balance_low
    return attempt


def _payout(tenant: str, item: DisbursementItem, channel: ChannelItem,
            attempt: dict[str, Any]) -> Payout:
    """The instruction the channel gets (and is asked about): the same for every resend."""
    return Payout(attempt["payout_id"], tenant, channel.channel_id, item.loan_id, item.payout,
                  item.currency, beneficiaries.for_payout(tenant, item.loan_id,
                                                          item.beneficiary_enc))


def _submit(tenant: str, actor: Actor, item: DisbursementItem, channel: ChannelItem,
            attempt: dict[str, Any], known: Known | None = None) -> bool:
    """Sends the payout; returns True when the driver should try the next channel."""
    known = known or _driving.get()
    payout = _payout(tenant, item, channel, attempt)
    adapter = protocol.adapter(channel.type, channel.channel_id, json.loads(channel.config))
    try:
        outcome = adapter.submit(payout)
    except Exception as exc:  # an adapter's crash is an unanswered request
        outcome = Outcome(OutcomeKind.TIMEOUT, None, f"{type(exc).__name__}: {exc}"[:200])
    timed_out = outcome.kind is OutcomeKind.TIMEOUT
    if timed_out:  # the breaker counts the silence once, whatever the status query says
        channels.record(tenant, channel, success=False)
        try:
            status = adapter.status(payout)
        except Exception:
            status = Outcome(OutcomeKind.UNKNOWN)
        if status.kind is OutcomeKind.NOT_FOUND:
            outcome = Outcome(OutcomeKind.FAILED, None, outcome.reason or "timeout")
            return _resolve(tenant, actor, item.disbursement_id, attempt["n"], outcome,
                            breaker_recorded=True, known=known)
        outcome = status if status.kind is not OutcomeKind.UNKNOWN else Outcome(
            OutcomeKind.UNKNOWN, None, "timed out; outcome unknown")
    return _resolve(tenant, actor, item.disbursement_id, attempt["n"], outcome,
                    breaker_recorded=timed_out or outcome.kind is OutcomeKind.UNKNOWN,
                    known=known)


def _resolve(tenant: str, actor: Actor, disbursement_id: str, n: int, outcome: Outcome, *,
             breaker_recorded: bool = False, uow: UnitOfWork | None = None,
             item: DisbursementItem | None = None, known: Known | None = None) -> bool:
    """Applies a channel's answer to attempt n. Returns True if the next channel should be
    tried. With `uow` the caller commits (a callback); otherwise this commits. `item`: the
    disbursement as the caller just read it (changed in place). `known`: what the caller
    read or committed a moment ago (loan, pending journal, channel); when this commits and a
    copy proves stale (a conflict), it applies the answer once more on fresh reads."""
    known = known or Known()
    given = item is not None or known.used()
    item = item or known.item or get(tenant, disbursement_id)  # known: as the driver committed
    known.item = None
    attempts = item.attempt_list()
    attempt = attempts[n - 1]
    if attempt["status"] not in IN_FLIGHT or item.status != store.PROCESSING:
        return False  # already decided: a repeated answer changes nothing
    now = channels.now(tenant)
    own = uow is None
    uow = uow or UnitOfWork()
    channel = known.channels.get(attempt["channel_id"]) or channels.get(
        tenant, attempt["channel_id"])
    attempt["provider_ref"] = outcome.provider_ref or attempt["provider_ref"]
    retry = False
    if outcome.kind is OutcomeKind.SETTLED:
        _settle(uow, tenant, actor, now, item, attempts, attempt, known)
    elif outcome.kind is OutcomeKind.FAILED:
        _void(uow, tenant, actor, now, item, attempts, attempt, outcome.reason, known)
        uow.after_commit.append(lambda: channels.released(tenant, channel))  # balance restored
        retry = True
    else:  # accepted (await the callback) or unknown (await the callback / reconciliation)
        attempt["status"] = "submitted" if outcome.kind is OutcomeKind.ACCEPTED else "unknown"
        attempt["reason"] = outcome.reason or None
        _set_attempts(item, attempts)
        _save(uow, tenant, actor, now, item, f"disbursement.attempt_{attempt['status']}",
              {"n": n, "channel_id": channel.channel_id})
    if not breaker_recorded and outcome.kind in (OutcomeKind.SETTLED, OutcomeKind.FAILED):
        success = outcome.kind is OutcomeKind.SETTLED
        seen = known.breakers.get(channel.channel_id)
        uow.after_commit.append(lambda: channels.record(tenant, channel, success,
                                                        seen[0] if seen else None))
    if own:
        try:
            uow.commit()
        except DomainError as exc:
            if exc.kind != "conflict":
                raise
            if given:  # perhaps only our copy was stale: decide again on fresh reads
                return _resolve(tenant, actor, disbursement_id, n, outcome,
                                breaker_recorded=breaker_recorded, known=known.fresh())
            return False  # another request resolved it first
        known.item = item  # as committed: the driver's next step starts from it
    return retry


def _settle(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime, item: DisbursementItem,
            attempts: list[dict[str, Any]], attempt: dict[str, Any],
            known: Known | None = None) -> None:
    known = known or Known()
    journal = attempt["journal_id"]
    on = clock.business_date(tenant, now)  # the disbursement date: the payout's local date
    uow.add_part(ledger().prepare_post_pending(
        tenant, f"{journal}:post", journal, effective_date=on,
        description=f"Disbursement {item.disbursement_id} settled",
        metadata=domain_metadata(DISBURSEMENT, loan_id=item.loan_id,
                                 disbursement_id=item.disbursement_id),
        known=known.pending.get(journal)))
    attempt.update(status="settled", ended_at=now.isoformat())
    _set_attempts(item, attempts)
    item.status, item.settled_at = store.SETTLED, now
    _save(uow, tenant, actor, now, item, "disbursement.settled",
          {"n": attempt["n"], "channel_id": attempt["channel_id"]})
    loan = known.loan or loan_lifecycle.load(tenant, item.loan_id)
    loan.disbursed_at = now
    terms = known.terms or reads.loan_terms(tenant, loan)
    fresh = price(terms, loan.principal, loan.term, loan.grade, on)
    if fresh.schedule is not None:  # the schedule runs from the actual disbursement date
        loan.schedule = json.dumps(fresh.schedule.as_json(), separators=(",", ":"))
    loan_lifecycle.move(uow, tenant, actor, now, loan, ACTIVE, "loan.disbursed",
                        {"disbursement_id": item.disbursement_id,
                         "channel_id": attempt["channel_id"],
                         "disbursed_on": on.isoformat()})


def _void(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime, item: DisbursementItem,
          attempts: list[dict[str, Any]], attempt: dict[str, Any], reason: str,
          known: Known | None = None) -> None:
    _release(uow, tenant, now, item, attempt, "failed", known)
    attempt.update(status="failed", ended_at=now.isoformat(), reason=reason or "failed")
    _set_attempts(item, attempts)
    _save(uow, tenant, actor, now, item, "disbursement.attempt_failed",
          {"n": attempt["n"], "channel_id": attempt["channel_id"]})


def _release(uow: UnitOfWork, tenant: str, now: datetime, item: DisbursementItem,
             attempt: dict[str, Any], why: str, known: Known | None = None) -> None:
    """Voids the attempt's pending journal and gives back its share of the daily limit."""
    journal = attempt["journal_id"]
    uow.add_part(ledger().prepare_void_pending(
        tenant, f"{journal}:void", journal, effective_date=clock.business_date(tenant, now),
        description=f"Disbursement {item.disbursement_id} {why} at {attempt['channel_id']}",
        metadata=domain_metadata(DISBURSEMENT, loan_id=item.loan_id,
                                 disbursement_id=item.disbursement_id),
        known=known.pending.get(journal) if known else None))
    uow.add(channel_store.release_usage(tenant, attempt["channel_id"],
                                        datetime.fromisoformat(attempt["day"]).date(),
                                        item.payout))


def _fail(tenant: str, actor: Actor, item: DisbursementItem, reason: str,
          skipped: dict[str, str] | None = None) -> None:
    """No channel could pay: the disbursement fails, the loan may be disbursed again."""
    now = channels.now(tenant)
    uow = UnitOfWork()
    item.status, item.failure = store.FAILED, reason
    if skipped is not None:
        item.skipped = json.dumps(skipped, sort_keys=True)
    _save(uow, tenant, actor, now, item, "disbursement.failed", {"reason": reason})
    loan = loan_lifecycle.load(tenant, item.loan_id)
    loan_lifecycle.move(uow, tenant, actor, now, loan, PENDING_DISBURSEMENT,
                        "loan.disbursement_failed",
                        {"disbursement_id": item.disbursement_id, "reason": reason})
    try:
        uow.commit()
    except DomainError as exc:
        if exc.kind != "conflict":
            raise


# --- the resume job ----------------------------------------------------------------------

RESERVED_GRACE = timedelta(minutes=2)  # a live driver submits within seconds of reserving
STATUS_GRACE = timedelta(minutes=5)  # ask the channel about silent payouts after this
UNKNOWN_DEADLINE = timedelta(hours=24)  # an `unknown` payout is escalated after this
JOB = Actor("system:disbursement-resume", "system", "disbursement-resume")


def resume(tenant: str, now: datetime | None = None) -> dict[str, int]:
    """Moves every stuck disbursement of the tenant on; returns what happened, by outcome."""
    now = now or channels.now(tenant)
    out: dict[str, int] = {}
    for disbursement_id in store.in_flight(tenant):
        try:
            what = resume_one(tenant, disbursement_id, now)
        except Exception:  # one stuck payout must not stop the others
            log.exception("disbursement %s/%s: resume failed", tenant, disbursement_id)
            what = "error"
        out[what] = out.get(what, 0) + 1
    return out


def expires_at(attempt: dict[str, Any]) -> datetime:
    """The reservation's expiry (attempts written before it was recorded: reserved + TTL)."""
    if attempt.get("expires_at"):
        return datetime.fromisoformat(attempt["expires_at"])
    return datetime.fromisoformat(attempt["started_at"]) + PENDING_TTL


def escalates_at(attempt: dict[str, Any]) -> datetime:
    """When a sent payout still unanswered goes to an operator: always before its expiry."""
    started = datetime.fromisoformat(attempt["started_at"])
    if attempt["status"] == "unknown":
        return min(started + UNKNOWN_DEADLINE, expires_at(attempt) - ESCALATE_BEFORE)
    return expires_at(attempt) - ESCALATE_BEFORE


def resume_one(tenant: str, disbursement_id: str, now: datetime) -> str:
    """One disbursement: `reserved` past its grace is submitted again under the same payout id
    (channels are idempotent on it, so a payout sent just before a crash is not sent twice),
    unless its reservation expired: then the channel is asked and a payout it does not know is
    voided (never sent). `submitted`/`unknown`/`escalated` past their grace are asked about
    and the answer applied; one still unanswered at its escalation time is escalated, never
    voided. A failed attempt drives the next channel, as the driver would."""
    item = get(tenant, disbursement_id)
    if item.status != store.PROCESSING:
        return "done"
    attempts = item.attempt_list()
    last = attempts[-1] if attempts else None
    if last is None or last["status"] not in IN_FLIGHT:  # died between steps of the driver
        if now - item.updated_at < RESERVED_GRACE:
            return "waiting"
        drive(tenant, disbursement_id, JOB)
        return "driven"
    age = now - datetime.fromisoformat(last["started_at"])
    channel = channels.get(tenant, last["channel_id"])
    unsent = last["status"] == "reserved"
    if unsent:
        if age < RESERVED_GRACE:
            return "waiting"
        if now < expires_at(last):
            if _submit(tenant, JOB, item, channel, last):
                drive(tenant, disbursement_id, JOB)
            return "submitted"
    elif age < STATUS_GRACE:
        return "waiting"
    status = _ask(tenant, item, channel, last)
    if status.kind is OutcomeKind.NOT_FOUND:
        status = Outcome(OutcomeKind.FAILED, None, "expired before it was sent" if unsent
                         else status.reason or "never executed")
    if status.kind in (OutcomeKind.SETTLED, OutcomeKind.FAILED) or (
            status.kind is OutcomeKind.ACCEPTED and last["status"] == "unknown") or unsent:
        if _resolve(tenant, JOB, disbursement_id, last["n"], status):
            drive(tenant, disbursement_id, JOB)
        if status.kind in (OutcomeKind.SETTLED, OutcomeKind.FAILED):
            return "expired" if unsent and status.kind is OutcomeKind.FAILED \
                else status.kind.value
        last = get(tenant, disbursement_id).attempt_list()[last["n"] - 1]  # sent after all
    if last["status"] in ("submitted", "unknown") and now >= escalates_at(last):
        return _escalate(tenant, disbursement_id, last["n"], now)
    return "waiting"


def _ask(tenant: str, item: DisbursementItem, channel: ChannelItem,
         attempt: dict[str, Any]) -> Outcome:
    payout = _payout(tenant, item, channel, attempt)
    adapter = protocol.adapter(channel.type, channel.channel_id, json.loads(channel.config))
    try:
        return adapter.status(payout)
    except Exception as exc:
        return Outcome(OutcomeKind.UNKNOWN, None, f"{type(exc).__name__}: {exc}"[:200])


def _escalate(tenant: str, disbursement_id: str, n: int, now: datetime) -> str:
    """A payout the channel took but has not answered for, near its reservation's expiry: an
    operator must chase it. The reservation is NOT released (the money may have moved: a late
    settlement must still post it and activate the loan), no other channel is tried, and the
    disbursement stays `processing`, so the resume job keeps asking the channel and a callback
    still lands. Announced by the attempt's status, an audit record, a
    `disbursement.escalated` event and the `DisbursementsEscalated` metric."""
    item = get(tenant, disbursement_id)
    attempts = item.attempt_list()
    attempt = attempts[n - 1]
    if item.status != store.PROCESSING or attempt["status"] not in ("submitted", "unknown"):
        return "done"
    uow = UnitOfWork()
    was = attempt["status"]
    attempt.update(status="escalated", escalated_at=now.isoformat(),
                   reason=f"{was} without an answer since {attempt['started_at']}; the "
                          f"reservation expires at {expires_at(attempt).isoformat()}")
    _set_attempts(item, attempts)
    data = {"disbursement_id": disbursement_id, "loan_id": item.loan_id, "n": n,
            "channel_id": attempt["channel_id"], "payout_id": attempt["payout_id"],
            "was": was, "expires_at": expires_at(attempt).isoformat()}
    _save(uow, tenant, JOB, now, item, "disbursement.escalated", data)
    outbox.emit(uow, tenant, EventType.DISBURSEMENT_ESCALATED, data, now=now)
    uow.after_commit.append(lambda: metrics.count("DisbursementsEscalated", 1))
    try:
        uow.commit()
    except DomainError as exc:
        if exc.kind != "conflict":
            raise
        return "done"  # a callback or another run decided it first
    return "escalated"


# --- an operator's answer ----------------------------------------------------------------

def resolve_escalated(uow: UnitOfWork, tenant: str, actor: Actor, disbursement_id: str, n: int,
                      settled: bool, provider_ref: str | None, note: str,
                      item: DisbursementItem | None = None) -> DisbursementItem:
    """An operator settles or fails an escalated payout on the channel's evidence (its
    statement, its support desk) when the channel itself never answers: the only way a sent
    payout's reservation is released without the channel. Settled posts it and activates the
    loan; failed voids it and the next channel is tried after the commit. Version-guarded: a
    callback landing meanwhile makes this a 409. `item`: as the caller just read (and maybe
    changed) it; services/payout_resolution.py adds four-eyes in front of this."""
    item = item or get(tenant, disbursement_id)
    attempts = item.attempt_list()
    if not 1 <= n <= len(attempts):
        raise not_found("Attempt")
    status = attempts[n - 1]["status"]
    if item.status != store.PROCESSING or status not in OPERATOR_RESOLVABLE:
        raise conflict("Only an unknown or escalated payout is resolved by an operator; this "
                       f"one is {status} and its channel's answer decides it.",
                       attempt_status=status)
    kind = OutcomeKind.SETTLED if settled else OutcomeKind.FAILED
    retry = _resolve(tenant, actor, disbursement_id, n,
                     Outcome(kind, provider_ref, f"operator: {note}"[:200]), uow=uow, item=item,
                     breaker_recorded=True)  # not the channel's answer: its breaker is unmoved
    if retry:
        uow.after_commit.append(lambda: drive_safely(tenant, disbursement_id, actor))
    return item


def save_attempts(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime,
                  item: DisbursementItem, attempts: list[dict[str, Any]], action: str,
                  data: dict[str, Any]) -> None:
    """Records changed attempts (version-guarded, audited) for services outside the driver."""
    _set_attempts(item, attempts)
    _save(uow, tenant, actor, now, item, action, data)


# --- callbacks ---------------------------------------------------------------------------

@dataclass(frozen=True)
class CallbackResult:
    outcome: str  # processed | duplicate | ignored
    disbursement_id: str | None


def callback(uow: UnitOfWork, tenant: str, channel: ChannelItem, msg_id: str, now: datetime,
             event: str, payout_id: str, provider_ref: str | None, reason: str | None,
             request_id: str, breaker_seen: tuple[Any, int] | None = None) -> CallbackResult:
    """Applies a verified callback once: the webhook id is recorded in the same transaction.
    The seen marker, the disbursement and the attempt's pending journal are read together
    (all named by the payload); `breaker_seen`: the channel's breaker as the caller read it."""
    cid = channel.channel_id
    disbursement_id, _, number = payout_id.rpartition(".")
    ours = number.isdigit() and len(number) <= 3 and disbursement_id.startswith("dsb_") \
        and len(disbursement_id) <= 64
    got = reads.callback_reads(tenant, cid, msg_id, disbursement_id if ours else None,
                               f"disb:{disbursement_id}:{int(number)}" if ours else None)
    if got.seen:
        return CallbackResult("duplicate", None)
    item = got.item
    attempts = item.attempt_list() if item else []
    n = int(number) if number.isdigit() else 0
    if item is None or not 1 <= n <= len(attempts) or attempts[n - 1]["channel_id"] != cid:
        raise not_found("Payout")
    actor = Actor(f"channel:{cid}", "channel", request_id)
    uow.add(channel_store.seen_item(tenant, cid, msg_id, now),
            on_fail=lambda _r: conflict("This callback is being processed; retry."))
    kind = OutcomeKind.SETTLED if event == "payout.settled" else OutcomeKind.FAILED
    known = Known(channels={cid: channel},
                  pending={got.pending.journal.journal_id: got.pending} if got.pending else {},
                  breakers={cid: breaker_seen} if breaker_seen else {})
    retry = _resolve(tenant, actor, disbursement_id, n, Outcome(kind, provider_ref,
                                                                reason or ""), uow=uow,
                     item=item, known=known)
    decided = len(uow.parts) > 1
    if retry:  # after the commit the item is the one stored: the driver starts from it
        after = Known(item=item, terms=known.terms)
        uow.after_commit.append(lambda: drive_safely(tenant, disbursement_id, actor, after))
    return CallbackResult("processed" if decided else "ignored", disbursement_id)
