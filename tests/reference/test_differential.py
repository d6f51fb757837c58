"""Differential test: random products and event sequences through the real API (in-process,
on moto) against the reference model, compared to the minor unit after every step; ledger and
audit verified at the end of every example.

Bounded for `make test` (REFERENCE_EXAMPLES=4, REFERENCE_STEPS=12); deeper with e.g.
`REFERENCE_EXAMPLES=60 REFERENCE_STEPS=30 .venv/bin/pytest -q tests/reference/test_differential.py`
(REFERENCE_SHRINK=1 also shrinks a failure to a minimal sequence; slow).
REFERENCE_LOG=<file> appends every failing sequence to the file; with REFERENCE_COLLECT=1 the
run logs each failure and goes on (to collect divergences; the test then passes).
"""

from __future__ import annotations

import itertools
import os
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, event, given, note, settings
from hypothesis import strategies as st

from chalicelib.lending.money import format_amount
from tests.reference.compare import quote_diffs, servicing_diffs
from tests.reference.driver import World, minor
from tests.reference.model import DAY, Delinquency, LoanModel, Refused
from tests.reference.terms import Product, attach_earning, disclosed_rows, principal_problems

EXAMPLES = int(os.environ.get("REFERENCE_EXAMPLES", "4"))
STEPS = int(os.environ.get("REFERENCE_STEPS", "12"))
PHASES = (list(Phase) if os.environ.get("REFERENCE_SHRINK")
          else [Phase.explicit, Phase.reuse, Phase.generate])
FREQUENCIES = [({"unit": "month", "every": 1}, 6), ({"unit": "semi_month", "every": 1}, 8),
               ({"unit": "week", "every": 1}, 10), ({"unit": "week", "every": 2}, 8),
               ({"unit": "day", "every": 10}, 10), ({"unit": "month", "every": 2}, 4)]
RULES = [(d, c) for d in ("past_due", "due", "in_advance")
         for c in ("penalty", "fee", "interest", "principal")]
_tenants = itertools.count(1)


def cny(minor_units: int) -> str:
    return format_amount(minor_units, "CNY")


@st.composite
def products(draw: Any) -> dict[str, Any]:
    """A product over every setting the servicing rules read (the API refuses invalid ones)."""
    freq, longest = draw(st.sampled_from(FREQUENCIES))
    amortization = draw(st.sampled_from(["equal_installments", "equal_principal", "flat",
                                         "interest_only", "single_bullet"]))
    bullet = amortization == "single_bullet"
    interest_grace = 0 if bullet else draw(st.integers(0, 2))
    order = draw(st.sampled_from(["default", "principal_first", "horizontal", "shuffled"]))
    if order == "principal_first":
        rules = [(d, c) for d in ("past_due", "due", "in_advance")
                 for c in ("principal", "interest", "fee", "penalty")]
    elif order == "horizontal":  # component-major: every class's penalty first, ...
        rules = [(d, c) for c in ("penalty", "fee", "interest", "principal")
                 for d in ("past_due", "due", "in_advance")]
    elif order == "shuffled":
        rules = draw(st.permutations(RULES))
    else:
        rules = RULES
    terms: dict[str, Any] = {
        "currency": "CNY", "amount": {"min": "1000.00", "max": "50000.00"},
        "term": {"min": 3, "max": longest}, "frequency": freq, "amortization": amortization,
        "pricing": {"grades": ["A"], "rate_percent": {"A": draw(st.sampled_from(
            ["0", "7.5", "12", "24", "36", "99.9"]))}},
        "day_count": draw(st.sampled_from(["30/360", "actual/365", "actual/360"])),
        "first_period": draw(st.sampled_from(["one_period", "actual_days"])),
        "grace": {"principal_periods": 0 if bullet else draw(st.integers(0, 2)),
                  "interest_periods": interest_grace},
        "rounding": {"mode": draw(st.sampled_from(["half_up", "half_even", "down", "up"])),
                     "installment_unit": draw(st.sampled_from([None, None, "1.00", "10.00"]))},
        "fees": {"installment": draw(st.sampled_from(["0", "0", "5.00"])),
                 "late": draw(st.sampled_from(["0", "30.00", "50.00"])),
                 "penalty_rate_percent": draw(st.sampled_from(["0", "18", "36.5"])),
                 "origination": {"flat": draw(st.sampled_from(["0", "20.00"])),
                                 "percent": draw(st.sampled_from(["0", "2.5"])),
                                 "treatment": draw(st.sampled_from(["deducted", "financed"]))}},
        "allocation": [{"due_class": d, "component": c} for d, c in rules],
        "prepayment": draw(st.sampled_from(["reduce_term", "reduce_installment"])),
    }
    if terms["rounding"]["installment_unit"] is None:
        del terms["rounding"]["installment_unit"]
    terms["overpayment_tolerance"] = draw(st.sampled_from(["0", "0", "1.00", "100.00"]))
    return terms


class Run:
    """One example: a product, one loan, the model beside it, and the sequence so far."""

    def __init__(self, api: Any, data: Any) -> None:
        self.data = data
        self.world = World(api, f"refm{next(_tenants)}")
        self.log: list[str] = []
        self.posted: list[tuple[str, int, str]] = []  # (repayment id, model seq, reference)

    def draw(self, strategy: Any, label: str = "") -> Any:
        return self.data.draw(strategy, label=label)

    def delinquency(self) -> Delinquency:
        """The tenant's ranges and default threshold: the defaults, or short ones."""
        if not self.draw(st.booleans(), "own delinquency ranges"):
            return Delinquency()
        cut, after = self.draw(st.integers(1, 20)), self.draw(st.integers(1, 40))
        ranges = [("early", 1, cut), ("late", cut + 1, None)]
        body = {"ranges": [{"name": n, "min_days": lo, "max_days": hi} for n, lo, hi in ranges],
                "default_after_days": after}
        r = self.world.call("PUT", "/v1/settings/delinquency", body)
        assert r.status == 200, r.json
        self.log.append(f"delinquency {body}")
        return Delinquency(ranges, after)

    def setup(self) -> bool:
        terms = self.draw(products(), "product")
        status, body = self.world.product(terms)
        if status != 201:
            note(f"product refused: {body.get('errors')}")
            event("product refused")
            return False
        unit, longest = terms["frequency"]["unit"], dict(
            (f["unit"] + str(f["every"]), n) for f, n in FREQUENCIES)[
                terms["frequency"]["unit"] + str(terms["frequency"]["every"])]
        term = self.draw(st.integers(3, longest), "term")
        disbursed = date(2025, 1, 1) + timedelta(days=self.draw(st.integers(0, 364)))
        first_due = None
        if terms["first_period"] == "actual_days" and self.draw(st.booleans()):
            span = {"month": 2 * 28 * terms["frequency"]["every"], "semi_month": 27,
                    "week": 14 * terms["frequency"]["every"], "day": 20}[unit]
            first_due = disbursed + timedelta(days=self.draw(st.integers(1, span)))
        principal = self.draw(st.integers(1000, 20000)) * 100
        try:
            loan_id = self.world.loan(body["id"], disbursed, principal, term, first_due)
        except (AssertionError, Exception) as exc:  # the product cannot price this loan
            note(f"no loan: {exc}")
            event("no loan for the product")
            return False
        view = self.world.loan_view(loan_id)
        product = Product.of(terms, "A")
        rows = disclosed_rows(view["schedule"])
        problems = attach_earning(product, disbursed, term, first_due, rows)
        problems += principal_problems(product, rows, term, sum(r.principal for r in rows),
                                       disbursed, first_due)
        self.loan_id, self.terms, self.product = loan_id, terms, product
        self.model = LoanModel(product, disbursed, rows, self.delinquency())
        self.log.append(f"product {terms}")
        self.log.append(f"loan {cny(principal)} x{term} disbursed {disbursed} first_due "
                        f"{first_due}; schedule {view['schedule']['installments']}")
        assert not problems, f"disclosed schedule vs recomputation: {problems}"
        self.world.set_today(disbursed)
        return True

    # --- the steps ----------------------------------------------------------------------

    @property
    def today(self) -> date:
        assert self.world.today is not None
        return self.world.today

    def step(self) -> None:
        action = self.draw(st.sampled_from(
            ["advance"] * 4 + ["pay"] * 5 + ["reverse", "refund", "write_off", "future_payoff"]),
            "action")
        event(f"action {action}")
        getattr(self, f"do_{action}")()

    def catch_up(self) -> None:
        """Close every day before today (COB normally runs for yesterday)."""
        if self.model.cob_through < self.today - DAY:
            self.close(self.today - DAY)

    def close(self, day: date) -> None:
        self.log.append(f"cob {day}")
        self.world.close_business(day)
        self.model.close_business(day)

    def do_advance(self) -> None:
        days = self.draw(st.sampled_from([1, 1, 2, 3, 7, 14, 30, 45, 100]), "days")
        day = self.today + timedelta(days=days)
        self.world.set_today(day)
        self.log.append(f"today {self.today}")
        if self.draw(st.integers(0, 3), "lag"):  # 1 in 4: close of business lags behind
            self.catch_up()

    def do_pay(self) -> None:
        kind = self.draw(st.sampled_from(["payoff", "over"] + ["installment"] * 3 + [
            "partial", "early", "back-dated"] * 2), "kind")
        on = self.today
        if kind == "back-dated":  # a payment reported late: dated before the last COB
            on = max(self.model.disbursed, self.today - timedelta(
                days=self.draw(st.integers(1, 20), "days back")))
            kind = self.draw(st.sampled_from(["installment", "partial", "early"]), "kind")
        quote = self.model.payoff_quote(on)["total"]
        nxt = self.next_installment()
        amount = {"payoff": quote, "installment": nxt, "over": quote + self.draw(
            st.sampled_from([1, 100, 10_000, 50_000])),
            "partial": self.draw(st.integers(1, max(nxt, 2) - 1)) if nxt > 1 else 1,
            "early": self.draw(st.integers(1, max(quote, 1)))}[kind]
        amount = max(amount, 1)
        if self.posted and self.draw(
                st.integers(0, 9), "the same reference again?") == 0:
            self.log.append(f"pay {cny(amount)} on {on} with an earlier reference")
            r = self.world.repay(self.loan_id, amount, on, self.posted[-1][2])
            assert r.status == 409, f"the same channel reference twice: api {r.status}"
            return
        event(f"pay {kind}{' back-dated' if on < self.today else ''}")
        self.pay(amount, kind, on)

    def next_installment(self) -> int:
        """What the oldest installment not yet settled still asks for."""
        for i in self.model.view()["installments"]:
            left = (i["principal"] + i["interest"] + i["fee"] + i["penalty"]
                    - sum(i["paid"].values()))
            if left > 0:
                return left
        return 0

    def pay(self, amount: int, kind: str, on: date | None = None) -> None:
        on = on or self.today
        trial = LoanModel(self.product, self.model.disbursed, self.model.rows)
        trial.events, trial.cob_through = list(self.model.events), self.model.cob_through
        try:
            want: dict[str, int] | None = trial.repay(amount, on)
        except Refused as exc:
            want, refused = None, exc.status
        self.log.append(f"pay {cny(amount)} ({kind}) on {on}")
        r = self.world.repay(self.loan_id, amount, on)
        if want is None:
            assert r.status == refused, f"model refuses with {refused}, api {r.status} {r.json}"
            return
        assert r.status == 201, f"repayment accepted by the model, api {r.status} {r.json}"
        self.model.events, self.model.cob_through = trial.events, trial.cob_through
        self.posted.append((r.json["id"], trial.events[-1].seq, r.json["external_reference"]))
        got = {c: minor(r.json["allocated"][c]) for c in want if c != "credit"}
        got["credit"] = minor(r.json["overpayment"])
        assert got == want, f"allocation: api {got} != model {want}"

    def do_reverse(self) -> None:
        if not self.posted or self.model.view()["status"] == "written_off":
            return
        rid, seq, _ = self.posted.pop(self.draw(st.integers(0, len(self.posted) - 1)))
        self.log.append(f"reverse {rid} (event {seq})")
        r = self.world.reverse(rid)
        assert r.status == 200, f"reversal: api {r.status} {r.json}"
        self.model.reverse(seq, self.today)

    def do_refund(self) -> None:
        credit = self.model.view()["credit"]
        if credit <= 0 and self.draw(st.integers(0, 3)):
            return
        amount = self.draw(st.sampled_from([credit, credit // 2, credit + 1]), "refund")
        if amount <= 0:
            return
        self.log.append(f"refund {cny(amount)} on {self.today}")
        r = self.world.refund(self.loan_id, amount)
        try:
            self.model.refund(amount, self.today)
        except Refused:
            assert r.status == 422, f"refund above the credit: api {r.status}"
            return
        assert r.status == 201, f"refund: api {r.status} {r.json}"

    def do_write_off(self) -> None:
        if self.model.view()["status"] not in ("active", "delinquent", "defaulted"):
            return
        if self.draw(st.integers(0, 2), "write off after all?"):  # rare: it ends the story
            return
        self.catch_up()
        self.log.append(f"write off on {self.today}")
        r = self.world.write_off(self.loan_id)
        assert r.status == 200, f"write-off: api {r.status} {r.json}"
        self.model.write_off(self.today)

    def do_future_payoff(self) -> None:
        """Quote a later date, let the days pass (COB each), and pay the quote on that day."""
        if self.model.view()["status"] not in ("active", "delinquent", "defaulted"):
            return
        day = self.today + timedelta(days=self.draw(st.integers(1, 40), "ahead"))
        diffs, total = quote_diffs(self.world, self.loan_id, self.model, day)
        self.log.append(f"quote for {day}: {total}")
        assert not diffs, diffs
        self.world.set_today(day)
        if self.draw(st.booleans(), "close business before paying the quote?"):
            self.catch_up()  # else the payment itself closes the days before it
        self.pay(total, f"the quote for {day}")

    # --- the comparison -------------------------------------------------------------------

    def compare(self) -> None:
        diffs = servicing_diffs(self.world, self.loan_id, self.model)
        quotable = self.model.view()["status"] in ("active", "delinquent", "defaulted")
        if quotable:
            diffs += quote_diffs(self.world, self.loan_id, self.model, self.today)[0]
        assert not diffs, "\n".join(diffs)


@pytest.mark.filterwarnings("ignore::hypothesis.errors.NonInteractiveExampleWarning")
@settings(max_examples=EXAMPLES, deadline=None, phases=PHASES, derandomize=False,
          suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_api_matches_the_reference_model(api: Any, data: Any) -> None:
    run = Run(api, data)
    if not run.setup():
        return
    try:
        run.compare()
        for _ in range(STEPS):
            run.step()
            run.compare()
        run.world.verify()
    except AssertionError as exc:
        if os.environ.get("REFERENCE_LOG"):  # every failing sequence, for reproductions
            with open(os.environ["REFERENCE_LOG"], "a") as out:
                out.write("\n".join([*run.log, f"FAILED: {exc}", "", ""]))
            if os.environ.get("REFERENCE_COLLECT"):  # log and go on to the next example
                return
        raise
    finally:
        note("\n".join(run.log))
