"""Balance arithmetic: netting legs per account, normal-side balances, availability and limits.

Every balance item keeps four totals (posted/pending x debit/credit) and two derived figures the
storage conditions can compare without arithmetic (DynamoDB conditions cannot add attributes):

    low  = normal-side posted balance minus pending amounts that would lower it
    high = normal-side posted balance plus pending amounts that would raise it

A floor holds when low >= floor, a ceiling when high <= ceiling: pending reservations count
against limits, and posting or voiding a reservation can never break one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

from ledger.errors import LimitExceeded
from ledger.model import AccountSpec, Balance, Posting, Side, Totals


def leg_totals(postings: Iterable[Posting], *, pending: bool, sign: int = 1) -> dict[str, Totals]:
    """Net the legs per account (one item per account per transaction) as total deltas."""
    out: dict[str, Totals] = {}
    for p in postings:
        amount = sign * p.amount
        if pending:
            t = Totals(pending_dr=amount) if p.side is Side.DEBIT else Totals(pending_cr=amount)
        else:
            t = Totals(posted_dr=amount) if p.side is Side.DEBIT else Totals(posted_cr=amount)
        out[p.account_id] = out.get(p.account_id, Totals()) + t
    return out


def merge(*effects: Mapping[str, Totals]) -> dict[str, Totals]:
    out: dict[str, Totals] = {}
    for effect in effects:
        for account_id, totals in effect.items():
            out[account_id] = out.get(account_id, Totals()) + totals
    return out


def low(t: Totals, normal: Side) -> int:
    if normal is Side.DEBIT:
        return t.posted_dr - t.posted_cr - t.pending_cr
    return t.posted_cr - t.posted_dr - t.pending_dr


def high(t: Totals, normal: Side) -> int:
    if normal is Side.DEBIT:
        return t.posted_dr - t.posted_cr + t.pending_dr
    return t.posted_cr - t.posted_dr + t.pending_cr


def balance_of(
    account_id: str, currency: str, normal: Side, totals: Totals, floor: int | None = None,
    as_of: date | None = None,
) -> Balance:
    if normal is Side.DEBIT:
        posted = totals.posted_dr - totals.posted_cr
        pending_in, pending_out = totals.pending_dr, totals.pending_cr
    else:
        posted = totals.posted_cr - totals.posted_dr
        pending_in, pending_out = totals.pending_cr, totals.pending_dr
    return Balance(
        account_id=account_id,
        currency=currency,
        normal_side=normal,
        totals=totals,
        posted=posted,
        pending_in=pending_in,
        pending_out=pending_out,
        available=posted - pending_out - (floor or 0),
        as_of=as_of,
    )


def limit_breach(spec: AccountSpec, before: Totals, delta: Totals) -> LimitExceeded | None:
    """The limit this delta would break, judged like the storage condition does.

    Only a change *towards* a limit is refused, so an account already past a limit (it cannot
    happen through the ledger, but a data repair might) can still be brought back.
    """
    normal = spec.normal_side
    d_low, d_high = low(delta, normal), high(delta, normal)
    if spec.floor is not None and d_low < 0:
        now = low(before, normal)
        if now + d_low < spec.floor:
            return LimitExceeded(
                spec.account_id, spec.currency, "floor", spec.floor, now, d_low, now + d_low
            )
    if spec.ceiling is not None and d_high > 0:
        now = high(before, normal)
        if now + d_high > spec.ceiling:
            return LimitExceeded(
                spec.account_id, spec.currency, "ceiling", spec.ceiling, now, d_high, now + d_high
            )
    return None


def condition_bounds(spec: AccountSpec, delta: Totals) -> tuple[int | None, int | None]:
    """(min low, max high) the stored item must satisfy *before* the update for it to apply."""
    normal = spec.normal_side
    d_low, d_high = low(delta, normal), high(delta, normal)
    min_low = spec.floor - d_low if spec.floor is not None and d_low < 0 else None
    max_high = spec.ceiling - d_high if spec.ceiling is not None and d_high > 0 else None
    return min_low, max_high
