"""Operator-facing ledger commands: manual journals, reversals, two-phase resolution, accounts.

Each joins the request's unit of work with an audit record, so a manual adjustment is never
posted without a trace of who made it. None may touch the books a domain command owns
(services/ledger_guard.py): every command checks before it prepares anything.

A command that creates its aggregate (a new journal id, a new account) starts its audit chain
without reading it: the transaction's own condition on the new journal or account (must not
exist) guarantees no chain exists, and the record's conditional put would refuse it anyway.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime

from chalicelib.services import ledger_guard
from chalicelib.store import audit
from chalicelib.store.audit import Actor
from chalicelib.store.ledger import ledger
from chalicelib.store.uow import UnitOfWork
from ledger import two_phase
from ledger.errors import JournalConflict, JournalNotFound
from ledger.model import (
    AccountSpec,
    Journal,
    JournalKind,
    JournalRequest,
    JournalView,
    Posting,
)


def _audit(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime, journal_id: str,
           action: str, data: dict[str, object], aggregate_type: str = "journal",
           *, new: bool = True) -> None:
    head = audit.latest_head(tenant, aggregate_type, journal_id) if not new else None
    audit.append(uow, tenant=tenant, aggregate_type=aggregate_type, aggregate_id=journal_id,
                 head=head, action=action, actor=actor, at=now, data=data)


def _existing(tenant: str, journal_id: str) -> JournalView | None:
    try:
        return ledger().get_journal(tenant, journal_id)
    except JournalNotFound:
        return None


def post_journal(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime,
                 request: JournalRequest, *, base: str = "/body",
                 allowed: frozenset[str] = frozenset()) -> tuple[Journal, bool]:
    """Returns (journal, created). A replay of the same journal id and content is not an error:
    it returns the stored journal; the same id with other content names what differs.
    `allowed`: domains whose accounts this caller may adjust (reconciliation's)."""
    ledger_guard.check_new_journal(request, base, allowed)
    found = _existing(tenant, request.journal_id)
    if found is not None:
        kind = JournalKind.PENDING if request.pending else JournalKind.STANDARD
        asked = Journal(request.journal_id, kind, tuple(request.postings), request.effective_date,
                        found.journal.created_at, request.description, dict(request.metadata),
                        None, request.expires_at)
        differences = two_phase.content_differences(found.journal, asked)
        if differences:
            raise JournalConflict(request.journal_id, differences, found.journal)
        return found.journal, False
    return _add(uow, tenant, actor, now, request), True


def add_journal(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime,
                request: JournalRequest) -> Journal:
    """Adds a new journal with no read at all. If the id is taken, the commit is refused with
    DuplicateJournal (same content; it carries the stored journal) or JournalConflict. The
    guard needs no read either: a manual journal may not take a domain's id namespace."""
    ledger_guard.check_new_journal(request)
    return _add(uow, tenant, actor, now, request)


def _add(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime,
         request: JournalRequest) -> Journal:
    part = ledger().prepare_journal(tenant, request)
    uow.add_part(part)
    _audit(uow, tenant, actor, now, request.journal_id,
           "journal.pending" if request.pending else "journal.posted",
           {"legs": len(request.postings), "effective_date": request.effective_date.isoformat()})
    return part.journal


def resolve_pending(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime, *, post: bool,
                    journal_id: str, pending_id: str, postings: Sequence[Posting] | None,
                    effective_date: date, description: str,
                    metadata: Mapping[str, str]) -> Journal:
    ledger_guard.check_resolving(journal_id, postings)
    ledger_guard.check_stored(tenant, pending_id, "posted" if post else "voided")
    book = ledger()
    if post:
        part = book.prepare_post_pending(tenant, journal_id, pending_id, postings=postings,
                                         effective_date=effective_date, description=description,
                                         metadata=metadata)
    else:
        part = book.prepare_void_pending(tenant, journal_id, pending_id,
                                         effective_date=effective_date, description=description,
                                         metadata=metadata)
    uow.add_part(part)
    _audit(uow, tenant, actor, now, journal_id, "journal.post_pending" if post else
           "journal.void_pending", {"pending_id": pending_id})
    return part.journal


def reverse(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime, *, journal_id: str,
            original_id: str, effective_date: date, description: str) -> Journal:
    ledger_guard.check_resolving(journal_id, None)
    ledger_guard.check_stored(tenant, original_id, "reversed")
    part = ledger().prepare_reversal(tenant, journal_id, original_id,
                                     effective_date=effective_date, description=description)
    uow.add_part(part)
    _audit(uow, tenant, actor, now, journal_id, "journal.reversal",
           {"original_id": original_id})
    return part.journal


def open_account(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime,
                 spec: AccountSpec) -> None:
    ledger_guard.check_account(spec.account_id, "opened", "/body/account_id")
    for part in ledger().prepare_open_accounts(tenant, [spec]):
        uow.add_part(part)
    _audit(uow, tenant, actor, now, spec.account_id, "account.opened",
           {"type": spec.type.value, "currency": spec.currency, "policy": spec.policy.value},
           "ledger_account")


def close_account(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime,
                  account_id: str) -> None:
    ledger_guard.check_account(account_id, "closed")
    uow.add_part(ledger().prepare_close_account(tenant, account_id))
    _audit(uow, tenant, actor, now, account_id, "account.closed", {}, "ledger_account",
           new=False)
