"""Ledger errors: each names what was refused and carries the figures an API can render.

Every error has a stable `code` (a slug for problem+json types) and `fields()` with its details;
the message is for people. None of them means anything was written.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from ledger.model import Journal


@dataclass
class LedgerError(Exception):
    code: ClassVar[str] = "ledger-error"

    def __post_init__(self) -> None:
        super().__init__(self.message())

    def message(self) -> str:
        return self.code

    def __str__(self) -> str:
        return self.message()

    def fields(self) -> dict[str, Any]:
        """The error's details as plain values (for problem+json extension members)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class InvalidRequest(LedgerError):
    """A malformed journal or account request; `field` is a dotted path like postings[1].amount."""

    code: ClassVar[str] = "invalid-request"
    field: str
    reason: str

    def message(self) -> str:
        return f"{self.field}: {self.reason}"


@dataclass
class UnbalancedJournal(LedgerError):
    """Per currency debits must equal credits; `imbalances` maps currency -> (debits, credits)."""

    code: ClassVar[str] = "unbalanced-journal"
    imbalances: dict[str, tuple[int, int]]

    def message(self) -> str:
        parts = [f"{c}: debits {d} != credits {k}" for c, (d, k) in sorted(self.imbalances.items())]
        return "journal does not balance: " + "; ".join(parts)


@dataclass
class AccountNotFound(LedgerError):
    code: ClassVar[str] = "account-not-found"
    account_id: str

    def message(self) -> str:
        return f"account {self.account_id!r} does not exist"


@dataclass
class AccountExists(LedgerError):
    """Opening an account whose id exists with a different definition."""

    code: ClassVar[str] = "account-exists"
    account_id: str
    differences: list[str]

    def message(self) -> str:
        return f"account {self.account_id!r} exists with different {', '.join(self.differences)}"


@dataclass
class AccountClosed(LedgerError):
    code: ClassVar[str] = "account-closed"
    account_id: str

    def message(self) -> str:
        return f"account {self.account_id!r} is closed"


@dataclass
class CurrencyMismatch(LedgerError):
    code: ClassVar[str] = "currency-mismatch"
    account_id: str
    account_currency: str
    posting_currency: str

    def message(self) -> str:
        return (
            f"account {self.account_id!r} holds {self.account_currency}, "
            f"not {self.posting_currency}"
        )


@dataclass
class LimitExceeded(LedgerError):
    """The posting would take the account past its limit (pending amounts count).

    limit: "floor" (must not go below) or "ceiling" (must not go above); `balance` is the
    conservative normal-side balance before (posted minus pending outflows for a floor, posted
    plus pending inflows for a ceiling), `change` the requested change of it, `resulting` the sum.
    """

    code: ClassVar[str] = "limit-exceeded"
    account_id: str
    currency: str
    limit: str
    limit_amount: int
    balance: int
    change: int
    resulting: int

    def message(self) -> str:
        word = "below its floor" if self.limit == "floor" else "above its ceiling"
        return (
            f"insufficient balance: account {self.account_id!r} would go {word} of "
            f"{self.limit_amount} {self.currency} ({self.balance} {self.change:+d} = "
            f"{self.resulting})"
        )


@dataclass
class JournalNotFound(LedgerError):
    code: ClassVar[str] = "journal-not-found"
    journal_id: str

    def message(self) -> str:
        return f"journal {self.journal_id!r} does not exist"


@dataclass
class DuplicateJournal(LedgerError):
    """The journal id is taken by a journal with the same content: replay returns `existing`."""

    code: ClassVar[str] = "duplicate-journal"
    journal_id: str
    existing: Journal

    def message(self) -> str:
        return f"journal {self.journal_id!r} already exists with the same content"


@dataclass
class JournalConflict(LedgerError):
    """The journal id is taken by a journal with different content; `differences` names fields."""

    code: ClassVar[str] = "journal-conflict"
    journal_id: str
    differences: list[str]
    existing: Journal

    def message(self) -> str:
        return (
            f"journal {self.journal_id!r} already exists with different "
            f"{', '.join(self.differences)}"
        )


@dataclass
class NotPending(LedgerError):
    code: ClassVar[str] = "not-pending"
    journal_id: str
    kind: str

    def message(self) -> str:
        return f"journal {self.journal_id!r} is a {self.kind} journal, not pending"


@dataclass
class PendingAlreadyResolved(LedgerError):
    code: ClassVar[str] = "pending-already-resolved"
    pending_id: str
    status: str
    resolved_by: str | None

    def message(self) -> str:
        return (
            f"pending journal {self.pending_id!r} is already {self.status} "
            f"by {self.resolved_by!r}"
        )


@dataclass
class PendingExpired(LedgerError):
    code: ClassVar[str] = "pending-expired"
    pending_id: str
    expires_at: datetime

    def message(self) -> str:
        return f"pending journal {self.pending_id!r} expired at {self.expires_at.isoformat()}"


@dataclass
class PostExceedsPending(LedgerError):
    """A (partial) post names a leg the pending journal lacks, or more than it reserved."""

    code: ClassVar[str] = "post-exceeds-pending"
    pending_id: str
    account_id: str
    side: str
    currency: str
    pending_amount: int
    requested: int

    def message(self) -> str:
        return (
            f"cannot post {self.requested} {self.currency} {self.side} to {self.account_id!r}: "
            f"pending journal {self.pending_id!r} reserved {self.pending_amount}"
        )


@dataclass
class NotReversible(LedgerError):
    code: ClassVar[str] = "not-reversible"
    journal_id: str
    kind: str

    def message(self) -> str:
        return f"journal {self.journal_id!r} ({self.kind}) cannot be reversed"


@dataclass
class AlreadyReversed(LedgerError):
    code: ClassVar[str] = "already-reversed"
    journal_id: str
    reversed_by: str | None

    def message(self) -> str:
        return f"journal {self.journal_id!r} was already reversed by {self.reversed_by!r}"


@dataclass
class TransactionTooLarge(LedgerError):
    code: ClassVar[str] = "transaction-too-large"
    items: int
    limit: int

    def message(self) -> str:
        return f"{self.items} transaction items exceed the ledger's limit of {self.limit}"


@dataclass
class LedgerBusy(LedgerError):
    """Concurrent writers kept conflicting after bounded retries; safe to retry later."""

    code: ClassVar[str] = "ledger-busy"
    attempts: int

    def message(self) -> str:
        return f"transaction conflicted {self.attempts} times; retry"
