"""A loan's servicing state, derived purely from its schedule and its dated events.

The truth is a fold: start from the disbursement schedule, then for each business day d after
the disbursement apply the day's events (repayments, refunds) in arrival order, then the close
of business of d; events dated after the last processed day follow, in order. Every command
either applies one step of that fold to the stored state (the common case) or, when an event
lands in the past (a back-dated payment, a reversal), folds again from the start, so both
paths give the same state by construction. A new event dated d after the stored `through`
first closes every day before d (`advance`), so it is applied where the fold puts it, and a
payoff quote for d reads the same state (`before`). The ledger is then moved by the difference
of two states' `Totals` (services/servicing.py), so balances always equal what the state owes.

Interest: each installment's interest (its segments, see accrual.py) is recognised as it
accrues each day, or when paid if paid earlier; the receivable never goes negative. Deferred
interest of an interest grace is due on the installment the schedule says but earned over the
periods it belongs to (one segment per period), so it accrues in the grace too.
Fees: an installment fee is recognised on its due date (or when paid early); a late fee is
charged on the first day past due per installment still owing. Penalties: the loan's overdue
principal × days accumulates, and the penalty recognised is that sum × rate / (100 × year days)
rounded half-up cumulatively; each day's increase is charged to the oldest overdue installment.
Repayments (Fineract/Mambu-like "pay the next installments first"):
- A payment of at least the payoff on its date (`payoff`: everything past due and due, all
  principal, interest earned to that date, no fee not yet due) is a payoff: it settles all of
  that, the rest goes to the credit balance, the unearned interest and fees of later periods
  are dropped, and the loan closes with every account at zero.
- Any other payment is allocated by the product's rules over: past-due and due installments in
  full, and the running installment (the first not yet due) as scheduled, i.e. its whole
  scheduled interest and fee too (no rebate for paying early), partly if the money runs out.
  What is left settles the later installments in due order, each only in full as scheduled
  (components in the in_advance rules' order), until the next one cannot be settled whole.
  So an installment paid early is not owed again and never falls overdue.
- What is still left is a prepayment of principal: it comes off the installments not yet
  settled (reduce_term takes it off the last ones; reduce_installment spreads it pro rata),
  whose interest still to run is scaled to the new balance (the schedule's own rate).
Interest of an installment paid in advance is recognised when paid (Totals takes the larger of
earned and paid), so the ledger's income never runs ahead of what is owed or paid.
Credit: overpayments in, refunds out. A refund is a fact the fold always replays; when a
charge-back later removes the payment whose credit it paid out, the credit goes negative: the
borrower owes it, it is part of the payoff and the next payment settles it first.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from .accrual import Segment, accrued, earned, frozen, ratio_half_up
from .allocation import (
    DEFAULT_ALLOCATION,
    AllocationResult,
    AllocationRule,
    DueClass,
    InstallmentAllocation,
    InstallmentState,
)
from .allocation import allocate as allocate_rules
from .daycount import DayCount
from .delinquency import DEFAULT_SETTINGS, DelinquencySettings, status_for
from .errors import LendingError
from .events import EventType
from .money import Rounding, round_minor

COMPONENTS = ("principal", "interest", "fee", "penalty")
CLOSED, WRITTEN_OFF = "closed", "written_off"
REDUCE_TERM, REDUCE_INSTALLMENT = "reduce_term", "reduce_installment"
ONE_DAY = timedelta(days=1)
#: A write-off is an event of the fold (dated the day after the stored `through`, so it
#: writes off what is owed as of the last closed day), so a later charge-back refolds past it.
WRITE_OFF_EVENT = "write_off"


@dataclass(frozen=True)
class Policy:
    """What servicing needs from the product and the tenant."""

    annual_rate_percent: Decimal
    day_count: DayCount = DayCount.THIRTY_360
    rounding: Rounding = Rounding.HALF_UP
    late_fee: int = 0
    penalty_rate_percent: Decimal = Decimal(0)
    prepayment: str = REDUCE_TERM
    allocation: tuple[AllocationRule, ...] = DEFAULT_ALLOCATION
    delinquency: DelinquencySettings = DEFAULT_SETTINGS


@dataclass(frozen=True)
class Event:
    id: str
    kind: str  # repayment | refund | write_off (amount 0)
    on: date
    amount: int
    seq: int
    reversed: bool = False


@dataclass
class Inst:
    n: int
    start: date
    due: date
    principal: int
    fee: int
    segs: list[Segment]
    late_fee: int = 0
    penalty: int = 0
    paid: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COMPONENTS, 0))

    def interest_total(self) -> int:
        return sum(s[2] for s in self.segs)

    def owed(self, on: date, dc: DayCount) -> dict[str, int]:
        """What a payment on `on` may settle on this installment, per component."""
        fee = self.late_fee + (self.fee if self.due <= on else 0)
        return {"principal": self.principal - self.paid["principal"],
                "interest": max(accrued(self.segs, on, dc) - self.paid["interest"], 0),
                "fee": max(fee - self.paid["fee"], 0),
                "penalty": self.penalty - self.paid["penalty"]}

    def owed_in_advance(self) -> dict[str, int]:
        """What settling this installment before its due date takes: all of it as scheduled
        (its whole interest and fee, no rebate for paying early)."""
        return {"principal": self.principal - self.paid["principal"],
                "interest": max(self.interest_total() - self.paid["interest"], 0),
                "fee": max(self.late_fee + self.fee - self.paid["fee"], 0),
                "penalty": self.penalty - self.paid["penalty"]}

    def arrears(self, on: date, dc: DayCount) -> int:
        o = self.owed(on, dc)
        return o["principal"] + o["interest"] + o["fee"]


@dataclass(frozen=True)
class Totals:
    """Cumulative ledger-relevant figures; a journal is the difference of two of these."""

    charged: dict[str, int]  # recognised income per component (principal: the financed sum)
    paid: dict[str, int]
    written_off: dict[str, int]
    credit_in: int
    refunded: int

    def receivable(self, component: str) -> int:
        return (self.charged[component] - self.paid[component]
                - self.written_off[component])


@dataclass(frozen=True)
class Notice:
    """Something COB tells the borrower about (reminder before due, overdue after a miss)."""

    kind: EventType  # INSTALLMENT_DUE_SOON | INSTALLMENT_OVERDUE
    installment: int
    due: date
    owed: int


@dataclass
class LoanState:
    financed: int
    disbursed_on: date
    through: date
    installments: list[Inst]
    prepaid_principal: int = 0
    credit_in: int = 0
    refunded: int = 0
    penalty_units: int = 0
    penalty_total: int = 0
    stopped_on: date | None = None
    status: str = "active"
    dpd: int = 0
    written_off: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COMPONENTS, 0))

    # --- reading --------------------------------------------------------------------------

    @property
    def credit(self) -> int:
        """Overpayments in, refunds out, and a negative credit forgiven by a write-off."""
        return self.credit_in - self.refunded + self.written_off.get("credit", 0)

    def recognised_until(self) -> date:
        return self.through if self.stopped_on is None else min(self.through, self.stopped_on)

    def totals(self, dc: DayCount) -> Totals:
        c = self.recognised_until()
        insts = self.installments
        charged = {
            "principal": self.financed,
            "interest": sum(max(accrued(i.segs, c, dc), i.paid["interest"]) for i in insts),
            "fee": sum(max(i.late_fee + (i.fee if i.due <= c else 0), i.paid["fee"])
                       for i in insts),
            "penalty": sum(i.penalty for i in insts),
        }
        paid = {k: sum(i.paid[k] for i in insts) for k in COMPONENTS}
        paid["principal"] += self.prepaid_principal
        return Totals(charged, paid, dict(self.written_off), self.credit_in, self.refunded)

    def outstanding_principal(self) -> int:
        return sum(i.principal - i.paid["principal"] for i in self.installments)

    def payoff(self, on: date, dc: DayCount) -> dict[str, int]:
        """Everything owed to close on `on`: principal, interest earned to then, fees, penalties."""
        out = dict.fromkeys(COMPONENTS, 0)
        if self.status in (CLOSED, WRITTEN_OFF):
            return out
        for i in self.installments:
            for k, v in i.owed(on, dc).items():
                out[k] += v
        return out

    def dpd_on(self, day: date, dc: DayCount) -> int:
        for i in sorted(self.installments, key=lambda x: (x.due, x.n)):
            if i.due < day and i.arrears(day, dc) > 0:
                return (day - i.due).days
        return 0

    def last_event_day(self, events: Iterable[Event]) -> date | None:
        days = [e.on for e in events if not e.reversed]
        return max(days) if days else None


# --- steps of the fold -------------------------------------------------------------------

def initial(financed: int, disbursed_on: date, rows: list[dict[str, Any]]) -> LoanState:
    """From the disbursement schedule: rows of (number, due_date, principal, interest, fee and,
    for a row collecting deferred grace interest, `earned`: its periods' segments)."""
    insts, start = [], disbursed_on
    for r in rows:
        segs = list(r.get("earned") or [(start, r["due_date"], r["interest"])])
        if sum(v for _, _, v in segs) != r["interest"]:
            raise LendingError.single("schedule", "an installment's earned interest does not "
                                      "sum to its interest", "schedule_inconsistent")
        insts.append(Inst(r["number"], start, r["due_date"], r["principal"], r["fee"], segs))
        start = r["due_date"]
    if sum(i.principal for i in insts) != financed:
        raise LendingError.single("schedule", "the schedule's principal does not sum to the "
                                  "loan", "schedule_inconsistent")
    return LoanState(financed, disbursed_on, disbursed_on, insts)


def apply_repayment(s: LoanState, amount: int, on: date, p: Policy) -> AllocationResult:
    """A payment of at least the payoff closes the loan; any other is allocated by the rules,
    settling installments in advance as scheduled, and only what is left prepays principal."""
    if s.status == WRITTEN_OFF:
        raise LendingError.single("loan", "a written-off loan takes no repayments",
                                  "loan_written_off")
    debt = min(max(-s.credit, 0), amount)
    s.credit_in += debt  # a refunded credit taken back by a charge-back is settled first
    amount -= debt
    if s.status == CLOSED or amount == 0:
        s.credit_in += amount
        return AllocationResult((), amount)
    if amount >= sum(s.payoff(on, p.day_count).values()):
        result = _pay_off(s, amount, on, p)
    else:
        result = _pay_as_scheduled(s, amount, on, p)
    if s.outstanding_principal() == 0 and not any(s.payoff(on, p.day_count).values()):
        s.status, s.stopped_on, s.dpd = CLOSED, on, 0
    return result


def check_refund(credit: int, amount: int) -> None:
    """A new refund may pay out at most the credit balance it is applied to."""
    if amount <= 0 or amount > credit:
        raise LendingError.single("amount", f"the refund exceeds the credit balance ({credit})",
                                  "refund_exceeds_credit", credit=credit)


def apply_refund(s: LoanState, amount: int) -> None:
    """A refund is money that left: the fold always takes it, even when a later charge-back
    (a reversal refolding the history) took away the credit it paid out; the credit balance
    is then negative, owed by the borrower (in the payoff, settled first by the next payment).
    A new refund is checked against the credit before it (`check_refund`)."""
    s.refunded += amount


def _credit(s: LoanState, result: AllocationResult) -> None:
    by_n = {i.n: i for i in s.installments}
    for a in result.allocations:
        for k in COMPONENTS:
            by_n[a.number].paid[k] += getattr(a, k)


def _pay_off(s: LoanState, amount: int, on: date, p: Policy) -> AllocationResult:
    """Everything owed on `on` (interest earned to date only), the rest to the credit balance;
    interest and fees of the periods after `on` are dropped from the schedule."""
    dc = p.day_count
    states = [InstallmentState(i.n, i.due, **i.owed(on, dc)) for i in s.installments]
    result = allocate_rules(amount, states, p.allocation, on)
    _credit(s, result)
    s.credit_in += result.overpayment
    for i in s.installments:
        if i.due > on:
            _drop_unearned(i, on, dc)
    return result


def _drop_unearned(i: Inst, on: date, dc: DayCount) -> None:
    """A payoff on `on` drops what an installment due later would still earn and its fee not
    yet due, settled or not; what was paid stays (interest paid in advance is income when
    paid, never rebated), so the installment shows exactly what it took."""
    i.fee = i.paid["fee"]
    if _settled(i):
        return
    kept = frozen(i.segs, on, dc)
    if i.paid["interest"] > sum(x[2] for x in kept):  # more was paid than earned by `on`
        kept = [(min([i.start, on, *(x[0] for x in kept)]), on, i.paid["interest"])]
    i.segs = kept


def _pay_as_scheduled(s: LoanState, amount: int, on: date, p: Policy) -> AllocationResult:
    """Past-due and due installments, then the running one (the first not yet due, which may
    be paid partly) by the rules; then whole later installments in due order, each in full as
    scheduled; what cannot settle the next one whole prepays principal (`_reshape`)."""
    dc = p.day_count
    ahead = sorted((i for i in s.installments if i.due > on), key=lambda i: (i.due, i.n))
    running = ahead[0] if ahead else None
    zero = dict.fromkeys(COMPONENTS, 0)
    states = [InstallmentState(i.n, i.due, **(i.owed(on, dc) if i.due <= on else
                                               i.owed_in_advance() if i is running else zero))
              for i in s.installments]
    first = allocate_rules(amount, states, p.allocation, on)
    _credit(s, first)
    allocations, steps, rest = list(first.allocations), list(first.steps), first.overpayment
    order = [r.component for r in p.allocation if r.due_class is DueClass.IN_ADVANCE]
    for i in ahead[1:]:
        owed = i.owed_in_advance()
        if not any(owed.values()):
            continue
        if rest < sum(owed.values()):
            break
        for k in COMPONENTS:
            i.paid[k] += owed[k]
        rest -= sum(owed.values())
        allocations.append(InstallmentAllocation(i.n, **owed))
        steps += [(i.n, DueClass.IN_ADVANCE, c, owed[c.value]) for c in order if owed[c.value]]
    unsettled = [i for i in ahead if i.principal > i.paid["principal"]]
    prepaid = min(rest, sum(i.principal - i.paid["principal"] for i in unsettled))
    if prepaid:
        _reshape(s, unsettled, prepaid, on, p)
    s.credit_in += rest - prepaid
    return AllocationResult(tuple(allocations), rest - prepaid, tuple(steps), prepaid)


def _settled(i: Inst) -> bool:
    return i.paid["principal"] >= i.principal and i.paid["interest"] >= i.interest_total()


def _reshape(s: LoanState, unsettled: list[Inst], prepaid: int, on: date, p: Policy) -> None:
    """`prepaid` principal comes off the unsettled installments (reduce_term: the last ones;
    reduce_installment: pro rata); what each segment still has to run after `on` is scaled by
    new balance / old balance over that segment (the unpaid principal due at or after its
    end), so it keeps the schedule's own rate and day basis, and deferred grace interest is
    still earned over its own period."""
    s.prepaid_principal += prepaid
    unpaid = [i.principal - i.paid["principal"] for i in unsettled]
    remaining = sum(unpaid) - prepaid
    new: list[int] = []
    if p.prepayment == REDUCE_INSTALLMENT and remaining:
        total = sum(unpaid)
        new = [remaining * x // total for x in unpaid[:-1]]
        new.append(remaining - sum(new))
    else:
        left = remaining
        for x in unpaid:
            take = min(x, left)
            new.append(take)
            left -= take
    dc = p.day_count

    def balance(end: date, amounts: list[int]) -> int:
        return sum(x for i, x in zip(unsettled, amounts, strict=True) if i.due >= end)

    for inst, principal in zip(unsettled, new, strict=True):
        inst.principal = inst.paid["principal"] + principal
    for inst in unsettled:
        rest = [(max(a, on), b, ratio_half_up(v - earned((a, b, v), on, dc),
                                              balance(b, new), balance(b, unpaid)))
                for a, b, v in inst.segs if b > on]
        inst.segs = frozen(inst.segs, on, dc) + rest
    s.installments = [i for i in s.installments if not _empty(i, on)]


def _empty(i: Inst, on: date) -> bool:
    return (i.due > on and i.principal == 0 and i.interest_total() == 0 and i.late_fee == 0
            and i.penalty == 0 and not any(i.paid.values()))


def close_day(s: LoanState, day: date, p: Policy) -> list[Notice]:
    """Close of business for `day` (the day after `s.through`)."""
    if day != s.through + ONE_DAY:
        raise ValueError(f"close of business must run day by day: {s.through} then {day}")
    s.through = day
    if s.stopped_on is not None:
        return []
    dc, notices = p.day_count, []
    for i in s.installments:
        if i.due == day - ONE_DAY and i.arrears(day, dc) > 0:
            i.late_fee += p.late_fee
            notices.append(Notice(EventType.INSTALLMENT_OVERDUE, i.n, i.due, i.arrears(day, dc)))
    overdue = [i for i in sorted(s.installments, key=lambda x: (x.due, x.n)) if i.due < day]
    principal = sum(i.principal - i.paid["principal"] for i in overdue)
    if principal > 0 and p.penalty_rate_percent > 0:
        s.penalty_units += principal
        total = round_minor(Decimal(s.penalty_units) * p.penalty_rate_percent
                            / (Decimal(100) * dc.year_days), Rounding.HALF_UP)
        oldest = next(i for i in overdue if i.principal - i.paid["principal"] > 0)
        oldest.penalty += total - s.penalty_total
        s.penalty_total = total
    s.dpd = s.dpd_on(day, dc)
    s.status = status_for(s.dpd, p.delinquency.default_after_days)
    ahead = p.delinquency.reminder_days_before
    for i in s.installments:
        if ahead and i.due == day + timedelta(days=ahead) and i.arrears(i.due, dc) > 0:
            notices.append(Notice(EventType.INSTALLMENT_DUE_SOON, i.n, i.due, i.arrears(i.due, dc)))
    return notices


def write_off(s: LoanState, dc: DayCount) -> dict[str, int]:
    """Stops the loan; what was still receivable is written off (returned per component),
    and a negative credit (owed) with it (`written_off["credit"]`)."""
    t = s.totals(dc)
    amounts = {k: t.receivable(k) for k in COMPONENTS}
    debt = max(-s.credit, 0)
    s.written_off = {**s.written_off, **{k: s.written_off[k] + v for k, v in amounts.items()}}
    if debt:
        s.written_off["credit"] = s.written_off.get("credit", 0) + debt
    s.status, s.stopped_on = WRITTEN_OFF, s.recognised_until()
    return amounts


# --- the fold ----------------------------------------------------------------------------

def apply_event(s: LoanState, e: Event, p: Policy) -> AllocationResult | None:
    if e.kind == "repayment":
        return apply_repayment(s, e.amount, e.on, p)
    if e.kind == WRITE_OFF_EVENT:
        write_off(s, p.day_count)
    else:
        apply_refund(s, e.amount)
    return None


def ordered(events: Iterable[Event]) -> list[Event]:
    return sorted((e for e in events if not e.reversed), key=lambda e: (e.on, e.seq))


def derive(base: LoanState, events: Iterable[Event], through: date, p: Policy) -> LoanState:
    """The state after every (non-reversed) event and each close of business up to `through`."""
    s = copy.deepcopy(base)
    pending = ordered(events)
    k = 0
    while k < len(pending) and pending[k].on <= s.through:
        apply_event(s, pending[k], p)
        k += 1
    while s.through < through:
        day = s.through + ONE_DAY
        while k < len(pending) and pending[k].on <= day:
            apply_event(s, pending[k], p)
            k += 1
        close_day(s, day, p)
    for e in pending[k:]:
        apply_event(s, e, p)
    return s


def can_step(events: Iterable[Event], after: date) -> bool:
    """May the stored state take the next step directly (no applied event lies after `after`)?"""
    return all(e.on <= after for e in events if not e.reversed)


def close_days(s: LoanState, until: date, p: Policy) -> list[Notice]:
    """Close of business for every day after `s.through` up to `until`, in order."""
    notices: list[Notice] = []
    while s.through < until:
        notices += close_day(s, s.through + ONE_DAY, p)
    return notices


def before(base: LoanState, stored: LoanState, events: list[Event], on: date,
           p: Policy) -> tuple[LoanState, list[Notice]]:
    """The fold just before a new event dated `on` is applied: every close of business before
    `on` and every stored event dated on or before `on` (a payoff quote for `on` reads this).
    One step from the stored state when it may take it (notices of the days it closes), else a
    fold from the schedule."""
    if on > stored.through and can_step(events, stored.through + ONE_DAY):
        s = copy.deepcopy(stored)
        return s, close_days(s, on - ONE_DAY, p)
    return derive(base, [e for e in events if e.on <= on], on - ONE_DAY, p), []


def advance(base: LoanState, stored: LoanState, events: list[Event], new: Event,
            p: Policy) -> tuple[LoanState, list[Notice]]:
    """The state with `new` (dated `on`, arriving after every stored event) applied, by the
    same fold as `before`: the stored state catches up every close of business before `on`
    first, so a payment of `payoff(on)` read from `before` settles exactly that; an event in
    the past folds again from the schedule. A refund may not exceed the credit before it."""
    if new.on > stored.through and can_step(events, stored.through + ONE_DAY):
        s, notices = before(base, stored, events, new.on, p)
        if new.kind == "refund":
            check_refund(s.credit, new.amount)
        apply_event(s, new, p)
        return s, notices
    s = derive(base, [*events, new], max(stored.through, new.on - ONE_DAY), p)
    if new.kind == "refund" and s.credit < 0:
        check_refund(s.credit + new.amount, new.amount)
    return s, []
