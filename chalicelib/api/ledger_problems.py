"""Ledger errors as RFC 9457 problems: one kind per error code, its fields as members."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Any

from chalicelib.api import problems
from chalicelib.errors import DomainError
from ledger import errors as e

STATUS: dict[type[e.LedgerError], tuple[int, str]] = {
    e.InvalidRequest: (422, "Invalid ledger request"),
    e.UnbalancedJournal: (422, "Unbalanced journal"),
    e.CurrencyMismatch: (422, "Currency does not match the account"),
    e.PostExceedsPending: (422, "Post exceeds the pending amount"),
    e.TransactionTooLarge: (422, "Too many ledger legs in one request"),
    e.LimitExceeded: (422, "Insufficient balance or limit exceeded"),
    e.AccountNotFound: (404, "Account not found"),
    e.JournalNotFound: (404, "Journal not found"),
    e.AccountExists: (409, "Account already exists"),
    e.AccountClosed: (409, "Account closed"),
    e.DuplicateJournal: (409, "Journal already exists"),
    e.JournalConflict: (409, "Journal id taken by a different journal"),
    e.NotPending: (409, "Journal is not pending"),
    e.PendingAlreadyResolved: (409, "Pending journal already resolved"),
    e.PendingExpired: (409, "Pending journal expired"),
    e.NotReversible: (409, "Journal cannot be reversed"),
    e.AlreadyReversed: (409, "Journal already reversed"),
    e.LedgerBusy: (503, "Ledger busy; retry"),
}
for _cls, (_status, _title) in STATUS.items():
    problems.register(_cls.code, _status, _title)
# The ledger API refuses, for every role, the books a domain command owns
# (services/ledger_guard.py): 403, since no key's role can do it here, with `use` naming the
# command that can.
problems.register("domain-owned", 403, "Owned by a domain command")


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, str | int | bool) or value is None:
        return value
    return None  # nested objects (a stored journal) stay out of the problem body


def from_ledger(error: e.LedgerError) -> DomainError:
    renamed = {"status": "pending_status"}  # `status` is the problem's HTTP status
    extra = {renamed.get(k, k): _plain(v) for k, v in error.fields().items() if k != "existing"}
    if isinstance(error, e.AccountNotFound | e.JournalNotFound):
        extra = {}  # a 404 says nothing more than a missing object would
    return DomainError(error.code, error.message(), extra=extra)
