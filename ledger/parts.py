"""Transaction parts: ledger items for a caller's unit of work, and how to read their failures.

A part's `items` go into one TransactWriteItems beside the caller's own items. If DynamoDB
cancels the transaction, the caller hands each part the CancellationReasons of its own items
(same order) and `explain()` turns them into the precise ledger error, or None if none of its
items failed for a ledger reason (e.g. only TransactionConflict: retry the whole transaction).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from ledger import balances, keys
from ledger.codec import decode_item
from ledger.errors import (
    AccountClosed,
    AccountExists,
    AccountNotFound,
    AlreadyReversed,
    DuplicateJournal,
    JournalConflict,
    LedgerError,
    LimitExceeded,
    PendingAlreadyResolved,
    PendingExpired,
)
from ledger.items import account_from_item, journal_from_item, spec_differences, totals_from
from ledger.model import AccountSpec, Journal, Totals
from ledger.two_phase import content_differences


class TransactionPart(Protocol):
    items: list[dict[str, Any]]

    def explain(self, reasons: list[dict[str, Any]]) -> Exception | None: ...


class Role(Protocol):
    """How one transaction item explains its ConditionalCheckFailed (old item or None)."""

    rank: int  # lower wins when several items of a part failed

    def explain(self, old: dict[str, Any] | None) -> LedgerError | None: ...


@dataclass
class JournalPut:
    """The journal header: a taken id is a replay (same content) or a conflict (different)."""

    journal: Journal
    rank: int = 0

    def explain(self, old: dict[str, Any] | None) -> LedgerError | None:
        if old is None:
            return None
        existing = journal_from_item(old)
        diff = content_differences(existing, self.journal)
        if diff:
            return JournalConflict(self.journal.journal_id, diff, existing)
        return DuplicateJournal(self.journal.journal_id, existing)


@dataclass
class ReversalMarker:
    original_id: str
    rank: int = 1

    def explain(self, old: dict[str, Any] | None) -> LedgerError | None:
        by = decode_item(old).get("reversed_by") if old else None
        return AlreadyReversed(self.original_id, by)


@dataclass
class PendingResolution:
    pending_id: str
    expires_at: datetime | None
    rank: int = 1

    def explain(self, old: dict[str, Any] | None) -> LedgerError | None:
        if old is None:
            return None
        v = decode_item(old)
        if v.get("status") != "open":
            return PendingAlreadyResolved(self.pending_id, v["status"], v.get("resolved_by"))
        if self.expires_at is not None:
            return PendingExpired(self.pending_id, self.expires_at)
        return None


@dataclass
class BalanceUpdate:
    """An account's balance item: missing, closed, or past a limit (figures from the old item)."""

    spec: AccountSpec
    delta: Totals
    rank: int = 2

    def explain(self, old: dict[str, Any] | None) -> LedgerError | None:
        if old is None:
            return AccountNotFound(self.spec.account_id)
        v = decode_item(old)
        if v.get("status") == "closed":
            return AccountClosed(self.spec.account_id)
        breach = balances.limit_breach(self.spec, totals_from(v), self.delta)
        if breach is None:  # the totals were consistent with the limit: report it as stored
            normal = self.spec.normal_side
            before = int(v.get("low", 0))
            change = balances.low(self.delta, normal)
            breach = LimitExceeded(
                self.spec.account_id, self.spec.currency, "floor", self.spec.floor or 0,
                before, change, before + change,
            )
        return breach


@dataclass
class AccountPut:
    """Opening an account whose id is taken: AccountExists names the differing fields (none if
    the same definition is already there)."""

    spec: AccountSpec
    rank: int = 0

    def explain(self, old: dict[str, Any] | None) -> LedgerError | None:
        if old is None or old.get("sk", {}).get("S") != keys.DEF_SK:
            return None
        existing = account_from_item(old).spec
        return AccountExists(self.spec.account_id, spec_differences(existing, self.spec))


@dataclass
class Silent:
    """Items whose failure another item of the part already explains."""

    rank: int = 9

    def explain(self, old: dict[str, Any] | None) -> LedgerError | None:
        return None


@dataclass
class LedgerPart:
    """Ledger items for one transaction plus what each of them means.

    `journal` is the journal this part commits (None for account parts); `accounts` the specs
    it opens or closes.
    """

    items: list[dict[str, Any]] = field(default_factory=list)
    roles: list[Role] = field(default_factory=list)
    journal: Journal | None = None
    accounts: list[AccountSpec] = field(default_factory=list)

    def add(self, item: dict[str, Any], role: Role) -> None:
        self.items.append(item)
        self.roles.append(role)

    def explain(self, reasons: Sequence[dict[str, Any]]) -> LedgerError | None:
        found: list[tuple[int, int, LedgerError]] = []
        for index, (role, reason) in enumerate(zip(self.roles, reasons, strict=False)):
            if reason.get("Code") != "ConditionalCheckFailed":
                continue
            error = role.explain(reason.get("Item"))
            if error is not None:
                found.append((role.rank, index, error))
        return min(found, key=lambda f: (f[0], f[1]))[2] if found else None
