"""A deliberately simple, day-by-day reference model of one loan contract.

Written from the documented rules (docs/lifecycle.md, docs/servicing.md: Interest, Allocation,
Reversal, Delinquency; docs/operations.md: Close of business) and issue 14's target rules,
not from the engine:

- The truth is a fold over business days: each day that day's events (repayments, refunds, a
  write-off) in arrival order, then that day's close of business. A payment dated D comes
  after the close of every day before D (what COB would have charged by D is owed by then).
- Interest: each period earns its own interest pro rata over its own days by the product's
  day count (rounded half-up once per period), grace or not; a grace period's interest is due
  on the installment the schedule says. Recognised = max(earned, paid) per installment.
- Fees: an installment's fee is owed from its due date; a late fee once on the first day past
  due if the installment still owes principal, interest or fee; penalties on overdue
  principal, cumulative principal-days x rate / (100 x year days), rounded half-up, charged to
  the oldest overdue installment.
- A payment that (with the credit balance) covers the payoff is a payoff; any other pays by
  the product's rules past-due and due installments in full and the running installment as
  scheduled, then later installments each only whole, and prepays principal with the rest.
- DPD = business date - the oldest due date still owing principal, interest or fee.

Each figure is a plain dict per installment; one function per rule.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from tests.reference.terms import Product, Row, Segment, earned_by, half_up

COMPONENTS = ("principal", "interest", "fee", "penalty")
DAY = timedelta(days=1)
OPEN = ("active", "delinquent", "defaulted")


class Refused(Exception):
    """The command must be refused (status says 409 or 422) and change nothing."""

    def __init__(self, status: int, why: str) -> None:
        super().__init__(why)
        self.status = status


@dataclass(frozen=True)
class Event:
    kind: str  # repayment | refund | write_off
    on: date
    amount: int
    seq: int
    reversed: bool = False


@dataclass
class Delinquency:
    ranges: list[tuple[str, int, int | None]] = field(default_factory=lambda: [
        ("1-30", 1, 30), ("31-60", 31, 60), ("61-90", 61, 90), ("90+", 91, None)])
    default_after: int = 90

    def bucket(self, dpd: int) -> str | None:
        if dpd <= 0:
            return None
        for name, lo, hi in self.ranges:
            if lo <= dpd and (hi is None or dpd <= hi):
                return name
        return self.ranges[-1][0]

    def status(self, dpd: int) -> str:
        if dpd <= 0:
            return "active"
        return "defaulted" if dpd > self.default_after else "delinquent"


@dataclass
class State:
    """The loan on one day of the fold."""

    through: date  # the last closed business day
    insts: list[dict[str, Any]]
    prepaid: int = 0  # principal paid ahead of the schedule (no installment holds it)
    credit: int = 0  # the borrower's credit balance (negative: refunded money now owed)
    penalty_units: int = 0
    penalty_total: int = 0
    status: str = "active"
    dpd: int = 0
    stopped: date | None = None  # closed or written off on
    written_off: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COMPONENTS, 0))


def new_installment(row: Row) -> dict[str, Any]:
    return {"n": row.n, "due": row.due, "principal": row.principal, "fee": row.fee,
            "segments": list(row.segments), "late_fee": 0, "penalty": 0,
            "paid": dict.fromkeys(COMPONENTS, 0)}


def interest_of(i: dict[str, Any]) -> int:
    return sum(s[2] for s in i["segments"])


class LoanModel:
    """A loan's contract (disclosed rows + product) and its dated events; every figure is
    the fold of those events, recomputed from scratch."""

    def __init__(self, product: Product, disbursed: date, rows: list[Row],
                 delinquency: Delinquency | None = None) -> None:
        self.p = product
        self.disbursed = disbursed
        self.rows = rows
        self.financed = sum(r.principal for r in rows)
        self.delinquency = delinquency or Delinquency()
        self.events: list[Event] = []
        # the last day closed: by close of business, by an event dated after it (the days
        # before it), or by a reversal reopening a stopped loan (the days since)
        self.cob_through = disbursed

    # --- commands (each refuses or records one event) -----------------------------------

    def repay(self, amount: int, on: date) -> dict[str, int]:
        """The payment's effect (paid per component, credit) or Refused."""
        before = self.state()
        if on < self.disbursed:
            raise Refused(422, "paid before the disbursement")
        if before.status == "written_off" or (before.status == "closed" and before.credit >= 0):
            raise Refused(422, f"the loan is {before.status}")
        event = Event("repayment", on, amount, len(self.events) + 1)
        after = self.state([*self.events, event])
        excess = max(after.credit, 0) - max(before.credit, 0)  # a debt settled is owed
        if excess > self.p.tolerance:
            raise Refused(422, f"{excess} above the outstanding")
        self.events.append(event)
        self._closed_before(on)
        return effect(before, after, self.p, self.financed)

    def refund(self, amount: int, on: date) -> None:
        if amount > self.state().credit:
            raise Refused(422, "the refund exceeds the credit balance")
        self.events.append(Event("refund", on, amount, len(self.events) + 1))
        self._closed_before(on)

    def _closed_before(self, on: date) -> None:
        """An event dated D is applied after the close of every day before D: those days stay
        closed (a later charge-back refolds them, it does not reopen them)."""
        self.cob_through = max(self.cob_through, on - DAY)

    def write_off(self, on: date) -> None:
        if self.state().status in ("closed", "written_off"):
            raise Refused(409, "closed or written off")
        self.events.append(Event("write_off", on, 0, len(self.events) + 1))

    def reverse(self, seq: int, today: date) -> None:
        """A charge-back: never refused for what happened after the payment. Close of
        business skipped a stopped loan, so one the charge-back reopens is closed through
        yesterday (it was open again on every day since it stopped)."""
        k = next(k for k, e in enumerate(self.events) if e.seq == seq)
        if self.events[k].reversed:
            raise Refused(409, "already reversed")
        stopped = self.state().stopped
        self.events[k] = replace(self.events[k], reversed=True)
        if stopped:
            self.cob_through = max(self.cob_through, today - DAY)

    def close_business(self, day: date) -> None:
        self.cob_through = max(self.cob_through, day)

    # --- views ----------------------------------------------------------------------------

    def state(self, events: list[Event] | None = None, through: date | None = None) -> State:
        return fold(self, self.events if events is None else events,
                    self.cob_through if through is None else through)

    def payoff_quote(self, on: date) -> dict[str, Any]:
        """What paying on `on` takes to close: the fold closed through the day before."""
        s = self.state(through=max(self.cob_through, on - DAY))
        parts = payoff_parts(s, on, self.p)
        return {"components": parts, "credit": s.credit,
                "total": max(sum(parts.values()) - s.credit, 0)}

    def view(self) -> dict[str, Any]:
        s = self.state()
        out = outstanding(s, self.p, self.financed)
        return {"status": s.status, "through": s.through, "dpd": s.dpd, "stopped": s.stopped,
                "bucket": self.delinquency.bucket(s.dpd), "credit": s.credit,
                "outstanding": out,
                "installments": [{"number": i["n"], "due": i["due"],
                                  "principal": i["principal"], "interest": interest_of(i),
                                  "fee": i["fee"] + i["late_fee"], "penalty": i["penalty"],
                                  "paid": dict(i["paid"])} for i in s.insts]}


# --- the fold --------------------------------------------------------------------------

def fold(m: LoanModel, events: list[Event], cob_through: date) -> State:
    s = State(m.disbursed, [new_installment(r) for r in m.rows])
    for e in sorted((e for e in events if not e.reversed), key=lambda e: (e.on, e.seq)):
        while s.through < e.on - DAY:
            close_day(s, s.through + DAY, m)
        apply_event(s, e, m)
    while s.through < cob_through:
        close_day(s, s.through + DAY, m)
    return s


def apply_event(s: State, e: Event, m: LoanModel) -> None:
    if e.kind == "refund":
        s.credit -= e.amount  # may go negative after a charge-back: then it is owed
    elif e.kind == "write_off":
        write_off(s, m)
    elif s.status in OPEN:
        repayment(s, e.amount, e.on, m)
    else:  # a back-dated fold may meet a payment after the loan stopped: it is credit
        s.credit += e.amount


def recognised_day(s: State) -> date:
    return s.through if s.stopped is None else min(s.through, s.stopped)


def fee_due(i: dict[str, Any], day: date) -> int:
    return i["late_fee"] + (i["fee"] if i["due"] <= day else 0)


def owed_on(i: dict[str, Any], day: date, p: Product) -> dict[str, int]:
    """What a payment on `day` may settle: interest earned to then, fees then due."""
    return {"principal": i["principal"] - i["paid"]["principal"],
            "interest": max(earned_by(i["segments"], day, p.day_count) - i["paid"]["interest"], 0),
            "fee": max(fee_due(i, day) - i["paid"]["fee"], 0),
            "penalty": i["penalty"] - i["paid"]["penalty"]}


def owed_as_scheduled(i: dict[str, Any]) -> dict[str, int]:
    """What settling an installment before its due date takes: all of it, no rebate."""
    return {"principal": i["principal"] - i["paid"]["principal"],
            "interest": max(interest_of(i) - i["paid"]["interest"], 0),
            "fee": max(i["fee"] + i["late_fee"] - i["paid"]["fee"], 0),
            "penalty": i["penalty"] - i["paid"]["penalty"]}


def payoff_parts(s: State, day: date, p: Product) -> dict[str, int]:
    out = dict.fromkeys(COMPONENTS, 0)
    if s.status not in OPEN:
        return out
    for i in s.insts:
        for k, v in owed_on(i, day, p).items():
            out[k] += v
    return out


def outstanding(s: State, p: Product, financed: int) -> dict[str, int]:
    """Receivable per component: recognised (earned to the business day, or paid if more)
    less paid and written off; equal to the loan's ledger balances."""
    day = recognised_day(s)
    charged = {"principal": financed,
               "interest": sum(max(earned_by(i["segments"], day, p.day_count),
                                   i["paid"]["interest"]) for i in s.insts),
               "fee": sum(max(fee_due(i, day), i["paid"]["fee"]) for i in s.insts),
               "penalty": sum(i["penalty"] for i in s.insts)}
    paid = {c: sum(i["paid"][c] for i in s.insts) for c in COMPONENTS}
    paid["principal"] += s.prepaid
    return {c: charged[c] - paid[c] - s.written_off[c] for c in COMPONENTS}


def effect(before: State, after: State, p: Product, financed: int) -> dict[str, int]:
    """A command's effect: paid per component and the credit it added (a negative credit it
    settles was money owed, not credit: only the balance above zero counts)."""
    def paid(s: State) -> dict[str, int]:
        out = {c: sum(i["paid"][c] for i in s.insts) for c in COMPONENTS}
        out["principal"] += s.prepaid
        return out
    a, b = paid(after), paid(before)
    added = max(after.credit, 0) - max(before.credit, 0)
    return {**{c: a[c] - b[c] for c in COMPONENTS}, "credit": added}


# --- repayments ------------------------------------------------------------------------

def repayment(s: State, amount: int, on: date, m: LoanModel) -> None:
    p = m.p
    parts = payoff_parts(s, on, p)
    if amount + s.credit >= sum(parts.values()):
        pay_off(s, amount, on, p)
    else:
        if s.credit < 0:  # refunded money owed is settled first
            back = min(amount, -s.credit)
            s.credit += back
            amount -= back
        if amount:
            pay_as_scheduled(s, amount, on, p)
    if all(i["principal"] == i["paid"]["principal"] for i in s.insts) and not any(
            payoff_parts(s, on, p).values()):
        s.status, s.stopped, s.dpd = "closed", on, 0


def by_rules(amount: int, owed: dict[int, dict[str, int]], classes: dict[int, str],
             rules: tuple[tuple[str, str], ...], insts: list[dict[str, Any]]) -> int:
    """Rule by rule (due class, component), oldest installment first; returns what is left."""
    ordered = sorted(insts, key=lambda i: (i["due"], i["n"]))
    for due_class, component in rules:
        for i in ordered:
            if amount == 0:
                return 0
            if classes[i["n"]] != due_class:
                continue
            take = min(owed[i["n"]][component], amount)
            if take > 0:
                i["paid"][component] += take
                owed[i["n"]][component] -= take
                amount -= take
    return amount


def due_class(due: date, on: date) -> str:
    return "past_due" if due < on else "due" if due == on else "in_advance"


def pay_off(s: State, amount: int, on: date, p: Product) -> None:
    """Everything owed on `on` (interest earned to then, with the credit balance); the rest is
    credit; what later periods would still have earned or charged is dropped."""
    owed = {i["n"]: owed_on(i, on, p) for i in s.insts}
    classes = {i["n"]: due_class(i["due"], on) for i in s.insts}
    s.credit = amount + s.credit - sum(sum(o.values()) for o in owed.values())
    by_rules(sum(sum(o.values()) for o in owed.values()), owed, classes, p.allocation, s.insts)
    for i in s.insts:
        if i["due"] > on:
            i["segments"] = truncate(i, on, p)
            i["fee"] = min(i["fee"], i["paid"]["fee"])


def truncate(i: dict[str, Any], on: date, p: Product) -> list[Segment]:
    """An installment's interest after a payoff on `on`: what it earned, or what was paid."""
    kept = max(earned_by(i["segments"], on, p.day_count), i["paid"]["interest"])
    return [(i["segments"][0][0], on, kept)] if kept else []


def pay_as_scheduled(s: State, amount: int, on: date, p: Product) -> None:
    ahead = sorted((i for i in s.insts if i["due"] > on), key=lambda i: (i["due"], i["n"]))
    running = ahead[0]["n"] if ahead else None
    owed = {i["n"]: (owed_on(i, on, p) if i["due"] <= on else owed_as_scheduled(i)
                     if i["n"] == running else dict.fromkeys(COMPONENTS, 0)) for i in s.insts}
    classes = {i["n"]: due_class(i["due"], on) for i in s.insts}
    rest = by_rules(amount, owed, classes, p.allocation, s.insts)
    for i in ahead[1:]:  # later installments, each only whole, in due order
        whole = owed_as_scheduled(i)
        if not any(whole.values()):
            continue
        if rest < sum(whole.values()):
            break
        for c in COMPONENTS:
            i["paid"][c] += whole[c]
        rest -= sum(whole.values())
    unsettled = [i for i in ahead if i["principal"] > i["paid"]["principal"]]
    prepaid = min(rest, sum(i["principal"] - i["paid"]["principal"] for i in unsettled))
    if prepaid:
        prepay(s, unsettled, prepaid, on, p)
    s.credit += rest - prepaid


def prepay(s: State, unsettled: list[dict[str, Any]], prepaid: int, on: date,
           p: Product) -> None:
    """Principal paid ahead comes off the unsettled installments (reduce_term: the last
    ones, dropping those left empty; reduce_installment: pro rata); the interest each has
    not yet earned scales with the balance each period earns on (new / old)."""
    s.prepaid += prepaid
    unpaid = [i["principal"] - i["paid"]["principal"] for i in unsettled]
    left = sum(unpaid) - prepaid
    if p.prepayment == "reduce_installment" and left:
        new = [left * u // sum(unpaid) for u in unpaid[:-1]]
        new.append(left - sum(new))
    else:
        new, rest = [], left
        for u in unpaid:
            new.append(min(u, rest))
            rest -= new[-1]
    def balance(end: date, amounts: list[int]) -> int:
        """What the period ending `end` earned on: principal due on or after its end."""
        return sum(x for i, x in zip(unsettled, amounts, strict=True) if i["due"] >= end)

    for i, now in zip(unsettled, new, strict=True):
        i["principal"] = i["paid"]["principal"] + now
    for i in unsettled:
        i["segments"] = rescale(i["segments"], on, lambda end: (balance(end, new),
                                                                balance(end, unpaid)), p)
    s.insts = [i for i in s.insts if not empty(i, on)]


def rescale(segments: list[Segment], on: date, balances: Any, p: Product) -> list[Segment]:
    """Each period's earned part stays; the part still to be earned scales by new / old, the
    balance the period earns on (principal due on or after its end) after / before."""
    out: list[Segment] = []
    for start, end, amount in segments:
        done = earned_by([(start, end, amount)], on, p.day_count)
        if done:
            out.append((start, min(on, end), done))
        if end > on and amount - done:
            new, old = balances(end)
            out.append((max(start, on), end, half_up((amount - done) * new, old) if old else 0))
    return out


def empty(i: dict[str, Any], on: date) -> bool:
    return (i["due"] > on and i["principal"] == 0 and interest_of(i) == 0
            and not i["late_fee"] and not i["penalty"] and not any(i["paid"].values()))


# --- close of business, write-off --------------------------------------------------------

def close_day(s: State, day: date, m: LoanModel) -> None:
    s.through = day
    if s.status not in OPEN:
        return
    late_fees(s, day, m.p)
    penalty(s, day, m.p)
    s.dpd = days_past_due(s, day, m.p)
    s.status = m.delinquency.status(s.dpd)


def arrears(i: dict[str, Any], day: date, p: Product) -> int:
    o = owed_on(i, day, p)
    return o["principal"] + o["interest"] + o["fee"]


def late_fees(s: State, day: date, p: Product) -> None:
    """Once per installment, on its first day past due, if it still owes anything."""
    for i in s.insts:
        if i["due"] == day - DAY and arrears(i, day, p) > 0:
            i["late_fee"] += p.late_fee


def penalty(s: State, day: date, p: Product) -> None:
    overdue = sorted((i for i in s.insts if i["due"] < day), key=lambda i: (i["due"], i["n"]))
    principal = sum(i["principal"] - i["paid"]["principal"] for i in overdue)
    if principal <= 0 or p.penalty_percent <= 0:
        return
    s.penalty_units += principal
    exact = Decimal(s.penalty_units) * p.penalty_percent / (Decimal(100) * p.year_days)
    total = int(exact.quantize(Decimal(1), rounding="ROUND_HALF_UP"))
    oldest = next(i for i in overdue if i["principal"] > i["paid"]["principal"])
    oldest["penalty"] += total - s.penalty_total
    s.penalty_total = total


def days_past_due(s: State, day: date, p: Product) -> int:
    owing = [i["due"] for i in s.insts if i["due"] < day and arrears(i, day, p) > 0]
    return (day - min(owing)).days if owing else 0


def write_off(s: State, m: LoanModel) -> None:
    if s.status not in OPEN:
        return
    out = outstanding(s, m.p, m.financed)
    s.written_off = {c: s.written_off[c] + v for c, v in out.items()}
    s.status, s.stopped = "written_off", recognised_day(s)


def snapshot(s: State) -> State:
    return copy.deepcopy(s)
