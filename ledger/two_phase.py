"""Rules for pending journals, their post/void, and reversals (pure; storage enforces once-only).

A pending journal reserves its legs in the pending totals. Posting it releases the whole
reservation and posts the requested legs (all of them, or less on each leg: a partial post);
voiding releases it. Either happens once. A reversal mirrors a posted journal with sides swapped.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from ledger.balances import leg_totals, merge
from ledger.errors import (
    AlreadyReversed,
    NotPending,
    NotReversible,
    PendingAlreadyResolved,
    PendingExpired,
    PostExceedsPending,
)
from ledger.model import Journal, JournalKind, JournalView, PendingStatus, Posting, Totals
from ledger.validation import check_postings

REVERSIBLE = (JournalKind.STANDARD, JournalKind.POST_PENDING)


def check_resolvable(view: JournalView, now: datetime, *, posting: bool) -> None:
    """A pending journal can be posted (before it expires) or voided (any time), once."""
    j = view.journal
    if j.kind is not JournalKind.PENDING:
        raise NotPending(j.journal_id, j.kind.value)
    if view.pending_status not in (None, PendingStatus.OPEN):
        raise PendingAlreadyResolved(j.journal_id, view.pending_status.value, view.resolved_by)
    if posting and j.expires_at is not None and now >= j.expires_at:
        raise PendingExpired(j.journal_id, j.expires_at)


def posted_legs(pending: Journal, requested: tuple[Posting, ...] | None) -> tuple[Posting, ...]:
    """The legs a post journal posts: the pending's own (full post) or a checked subset."""
    if requested is None:
        return pending.postings
    check_postings(requested)
    reserved: dict[tuple[str, str, str], int] = {}
    for p in pending.postings:
        key = (p.account_id, p.side.value, p.currency)
        reserved[key] = reserved.get(key, 0) + p.amount
    asked: dict[tuple[str, str, str], int] = {}
    for p in requested:
        key = (p.account_id, p.side.value, p.currency)
        asked[key] = asked.get(key, 0) + p.amount
    for (account_id, side, currency), amount in sorted(asked.items()):
        have = reserved.get((account_id, side, currency), 0)
        if amount > have:
            raise PostExceedsPending(pending.journal_id, account_id, side, currency, have, amount)
    return requested


def reversal_legs(original: Journal) -> tuple[Posting, ...]:
    return tuple(
        Posting(p.account_id, p.side.opposite, p.amount, p.currency) for p in original.postings
    )


def check_reversible(view: JournalView) -> None:
    j = view.journal
    if j.kind not in REVERSIBLE:
        raise NotReversible(j.journal_id, j.kind.value)
    if view.reversed_by is not None:
        raise AlreadyReversed(j.journal_id, view.reversed_by)


def effects(journal: Journal, pending: Journal | None = None) -> dict[str, Totals]:
    """Per account, what the journal adds to the totals (the content of its entries).

    A post journal needs its pending journal: it releases everything the pending reserved.
    """
    kind = journal.kind
    if kind in (JournalKind.STANDARD, JournalKind.REVERSAL):
        return leg_totals(journal.postings, pending=False)
    if kind is JournalKind.PENDING:
        return leg_totals(journal.postings, pending=True)
    if kind is JournalKind.VOID_PENDING:
        return leg_totals(journal.postings, pending=True, sign=-1)
    if pending is None:
        raise ValueError(f"post journal {journal.journal_id} needs its pending journal")
    return merge(
        leg_totals(pending.postings, pending=True, sign=-1),
        leg_totals(journal.postings, pending=False),
    )


def content_differences(stored: Journal, requested: Journal) -> list[str]:
    """Names of the content fields that differ (the creation time is not content)."""
    out = []
    if stored.kind is not requested.kind:
        out.append("kind")
    if stored.ref != requested.ref:
        out.append("ref")
    if sorted(stored.postings) != sorted(requested.postings):
        out.append("postings")
    if stored.effective_date != requested.effective_date:
        out.append("effective_date")
    if stored.description != requested.description:
        out.append("description")
    if dict(stored.metadata) != dict(requested.metadata):
        out.append("metadata")
    if stored.expires_at != requested.expires_at:
        out.append("expires_at")
    return out


def touched(effect: Mapping[str, Totals]) -> list[str]:
    """Accounts whose totals actually change (a leg can net to zero on a post)."""
    return sorted(a for a, t in effect.items() if not t.is_zero())
