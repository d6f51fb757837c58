"""The ledger's vocabulary: accounts, postings, journals, balances and statement entries.

Plain frozen dataclasses with integer minor units beside their currency; no I/O, no floats.
The API layer converts these to and from JSON (decimal strings) at its edge.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Generic, TypeVar


class Side(enum.StrEnum):
    DEBIT = "debit"
    CREDIT = "credit"

    @property
    def opposite(self) -> Side:
        return Side.CREDIT if self is Side.DEBIT else Side.DEBIT


class AccountType(enum.StrEnum):
    ASSET = "asset"
    LIABILITY = "liability"
    EQUITY = "equity"
    INCOME = "income"
    EXPENSE = "expense"

    @property
    def normal_side(self) -> Side:
        """Assets and expenses grow with debits; the other three grow with credits."""
        return Side.DEBIT if self in (AccountType.ASSET, AccountType.EXPENSE) else Side.CREDIT


class BalancePolicy(enum.StrEnum):
    """`exact`: one balance item, conditional limits. `sharded`: N items summed on read."""

    EXACT = "exact"
    SHARDED = "sharded"


class AccountStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class JournalKind(enum.StrEnum):
    STANDARD = "standard"  # posted at once
    PENDING = "pending"  # reserves; later posted or voided exactly once
    POST_PENDING = "post_pending"  # posts (all or part of) a pending journal, releases the rest
    VOID_PENDING = "void_pending"  # releases a pending journal
    REVERSAL = "reversal"  # mirrors a posted journal, sides swapped


class PendingStatus(enum.StrEnum):
    OPEN = "open"
    POSTED = "posted"
    VOIDED = "voided"


@dataclass(frozen=True)
class AccountSpec:
    """What a caller asks for when opening an account."""

    account_id: str
    name: str
    type: AccountType
    currency: str
    policy: BalancePolicy = BalancePolicy.EXACT
    shards: int = 1
    floor: int | None = None  # the normal-side balance must not go below this (e.g. 0)
    ceiling: int | None = None  # ... nor above this
    metadata: Mapping[str, str] = field(default_factory=dict)

    @property
    def normal_side(self) -> Side:
        return self.type.normal_side


@dataclass(frozen=True)
class Account:
    spec: AccountSpec
    status: AccountStatus
    created_at: datetime

    @property
    def account_id(self) -> str:
        return self.spec.account_id


@dataclass(frozen=True, order=True)
class Posting:
    account_id: str
    side: Side
    amount: int  # minor units, > 0
    currency: str


@dataclass(frozen=True)
class JournalRequest:
    """A new standard or pending journal as the client sends it (the id is the idempotency key)."""

    journal_id: str
    postings: tuple[Posting, ...]
    effective_date: date
    description: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)
    pending: bool = False
    expires_at: datetime | None = None  # pending only; swept (voided) after this instant


@dataclass(frozen=True)
class Journal:
    """An immutable, committed journal. `ref` links post/void to its pending, a reversal to its
    original."""

    journal_id: str
    kind: JournalKind
    postings: tuple[Posting, ...]
    effective_date: date
    created_at: datetime
    description: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)
    ref: str | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True)
class JournalView:
    """A journal with the mutable facts kept beside it: pending state and who reversed it."""

    journal: Journal
    pending_status: PendingStatus | None = None
    resolved_by: str | None = None
    reversed_by: str | None = None


@dataclass(frozen=True)
class Totals:
    """Debit and credit totals, posted and pending, in minor units."""

    posted_dr: int = 0
    posted_cr: int = 0
    pending_dr: int = 0
    pending_cr: int = 0

    def __add__(self, other: Totals) -> Totals:
        return Totals(
            self.posted_dr + other.posted_dr,
            self.posted_cr + other.posted_cr,
            self.pending_dr + other.pending_dr,
            self.pending_cr + other.pending_cr,
        )

    def is_zero(self) -> bool:
        return not (self.posted_dr or self.posted_cr or self.pending_dr or self.pending_cr)


@dataclass(frozen=True)
class Balance:
    """An account's balance on its normal side, with the totals it comes from."""

    account_id: str
    currency: str
    normal_side: Side
    totals: Totals
    posted: int  # posted balance on the normal side
    pending_in: int  # pending amounts that would raise it
    pending_out: int  # pending amounts that would lower it
    available: int  # posted - pending_out - floor (the floor is 0 if the account has none)
    as_of: date | None = None


@dataclass(frozen=True)
class Entry:
    """One line of an account's statement: a journal's net effect on one account (one shard)."""

    account_id: str
    journal_id: str
    kind: JournalKind
    effective_date: date
    created_at: datetime
    currency: str
    delta: Totals
    description: str = ""
    shard: int | None = None
    position: str = ""  # the statement cursor value (sort key) of this entry


T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """A page of results; `cursor` (None at the end) resumes after the last item."""

    items: list[T]
    cursor: dict[str, str] | None


@dataclass(frozen=True)
class TrialBalanceLine:
    account_id: str
    type: AccountType
    currency: str
    totals: Totals


@dataclass(frozen=True)
class TrialBalance:
    lines: list[TrialBalanceLine]
    totals_by_currency: dict[str, Totals]

    @property
    def balanced(self) -> bool:
        return all(
            t.posted_dr == t.posted_cr and t.pending_dr == t.pending_cr
            for t in self.totals_by_currency.values()
        )
