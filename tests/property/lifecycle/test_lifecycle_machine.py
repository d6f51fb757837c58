"""Issue #9's stateful property test of the whole lifecycle, in-process (Chalice's test client
over moto, every response checked against openapi.yaml).

Two tenants; hypothesis picks the steps: apply -> (decided at once) -> accept -> sign ->
disburse -> repay (partial / over within the tolerance) / a refused report (over it, or on a
closed loan) / miss (the business clock moves on and close of business
runs: the API starts it, the chunk worker closes the loans) / reverse a repayment / pay off /
reconcile the channel against a statement built from what the model knows. After every step,
for every tenant: the ledger and the audit trail verify, each serviced loan's outstanding (GET
loan) equals its servicing state, and its payments equal its allocations plus its credit
balance, money is conserved (funding in == channel prefunding; channel cash == funded - paid
out; clearing == repaid - reversed), reconciliation has nothing open, and the other tenant
gets a 404 for each of its loans.

Time is the model's: the API's clock (`chalicelib.clock.real_now`), the channels' and the
ledger's clocks are moved by `miss`, so payments, accrual, due dates and pending payouts
follow one calendar.
"""

from __future__ import annotations

import itertools
import os
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from chalicelib.lending.money import format_amount, parse_amount
from tests.integration.conftest import api  # noqa: F401
from tests.integration.contracts.conftest import _fresh_caches  # noqa: F401
from tests.integration.contracts.helpers import make_product
from tests.integration.origination.conftest import BAD, application

START = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
COMPONENTS = ("principal", "interest", "fee", "penalty")
SERVICED = {"active", "delinquent", "defaulted", "closed"}
SHARDS = 4
MAX_LOANS = 3  # per tenant: bounds each example's work
FUNDED = "500000.00"
# The products' overpayment tolerance. `payoff` may pay tomorrow's quote today (today already
# closed) and `repay` adds up to OVER_MAX on top of a quote: both stay well within it.
TOLERANCE = "200.00"
OVER_MAX = 5_000
EXAMPLES = int(os.environ.get("LIFECYCLE_EXAMPLES", 3))  # deeper: LIFECYCLE_EXAMPLES=50
STEPS = int(os.environ.get("LIFECYCLE_STEPS", 15))
_serials = itertools.count(100)


class Clock:
    now = START


def minor(amount: str) -> int:
    return parse_amount(amount, "CNY")


def money(m: int) -> dict[str, str]:
    return {"amount": format_amount(m, "CNY"), "currency": "CNY"}


@dataclass
class Tenant:
    id: str
    keys: dict[str, str]
    product: str
    channel: str
    payouts: int = 0  # minor units paid out through the channel
    statement: list[str] = field(default_factory=list)  # the channel's CSV lines


@dataclass
class Loan:
    tenant: Tenant
    id: str
    applicant: dict[str, Any]
    status: str = "pending_contract"
    repayments: dict[str, tuple[int, bool]] = field(default_factory=dict)  # id: amount, reversed

    @property
    def repaid(self) -> int:
        return sum(a for a, rev in self.repayments.values() if not rev)


class Lifecycle(RuleBasedStateMachine):
    api: Any = None  # set by the test before the machine runs

    def __init__(self) -> None:
        super().__init__()
        Clock.now = START
        self.tenants = [self._tenant() for _ in range(2)]
        self.dirty = {t.id for t in self.tenants}  # tenants a step changed: checked after it
        self.approved: list[tuple[Tenant, str, dict[str, Any]]] = []
        self.loans: list[Loan] = []

    # --- plumbing -----------------------------------------------------------------------

    def call(self, method: str, path: str, key: str, body: Any = None, ok: int = 200) -> Any:
        r = self.api.call(method, path, body, key=key)
        assert r.status == ok, (method, path, r.status, r.json)
        return r.json

    def _tenant(self) -> Tenant:
        tid = f"lc{uuid.uuid4().hex[:10]}"
        self.api.tenant(tid)
        keys = {role: self.api.key(tid, role) for role in ("admin", "partner", "operator")}
        product = make_product(self.api, keys["admin"], overpayment_tolerance=TOLERANCE,
                               fees={"late": "50.00", "penalty_rate_percent": "24"})["id"]
        ch = self.call("POST", "/v1/channels", keys["admin"], {
            "name": "bank", "type": "sandbox", "currency": "CNY", "settlement_seconds": 60},
            ok=201)["id"]
        self.call("POST", f"/v1/channels/{ch}/fundings", keys["operator"],
                  {"amount": FUNDED, "reference": "initial"}, ok=201)
        t = Tenant(tid, keys, product, ch)
        t.statement.append(f"initial,collection,{FUNDED},CNY,{Clock.now.date()}")
        return t

    def serviced(self) -> list[Loan]:
        return [loan for loan in self.loans if loan.status in SERVICED]

    def servicing(self, loan: Loan) -> dict[str, Any]:
        view = self.call("GET", f"/v1/loans/{loan.id}/servicing", loan.tenant.keys["admin"])
        loan.status = view["status"]
        return view

    def pay(self, loan: Loan, amount: int) -> None:
        self.dirty.add(loan.tenant.id)
        ref = f"r{next(_serials)}"
        body = {"amount": money(amount), "paid_at": Clock.now.isoformat(),
                "channel": loan.tenant.channel, "external_reference": ref}
        r = self.call("POST", f"/v1/loans/{loan.id}/repayments", loan.tenant.keys["partner"],
                      body, ok=201)
        loan.repayments[r["id"]] = (amount, False)
        loan.tenant.statement.append(
            f"{ref},collection,{format_amount(amount, 'CNY')},CNY,{Clock.now.date()}")
        self.servicing(loan)

    # --- origination --------------------------------------------------------------------

    @initialize()
    def first_loans(self) -> None:
        """Each tenant starts with one loan paid out (through the same rules), so servicing
        is reachable from the first step."""
        for t in (0, 1):
            self.apply(t, True, "12000.00", 6)
            self.accept(0)
            self.sign(0)
            self.disburse(0)

    @rule(t=st.integers(0, 1), good=st.booleans(), amount=st.sampled_from(["3000.00",
                                                                          "12000.00"]),
          term=st.sampled_from([3, 6]))
    def apply(self, t: int, good: bool, amount: str, term: int) -> None:
        tenant = self.tenants[t]
        if sum(loan.tenant is tenant for loan in self.loans) + sum(
                a[0] is tenant for a in self.approved) >= MAX_LOANS:
            return
        body = application(tenant.product, amount=amount, term=term,
                           serial=f"{next(_serials) % 1000:03d}",
                           characteristics=None if good else BAD)
        self.dirty.add(tenant.id)
        r = self.call("POST", "/v1/applications", tenant.keys["partner"], body, ok=201)
        assert r["status"] in ("approved", "declined", "referred"), r
        if good:
            assert r["status"] == "approved", r
        if r["status"] == "approved":
            self.approved.append((tenant, r["id"], body["applicant"]))

    @precondition(lambda self: self.approved)
    @rule(i=st.integers(0, 5))
    def accept(self, i: int) -> None:
        tenant, app_id, applicant = self.approved.pop(i % len(self.approved))
        self.dirty.add(tenant.id)
        r = self.call("POST", f"/v1/applications/{app_id}/accept", tenant.keys["partner"],
                      ok=201)
        self.loans.append(Loan(tenant, r["loan"]["id"], applicant))

    @precondition(lambda self: any(x.status == "pending_contract" for x in self.loans))
    @rule(i=st.integers(0, 5))
    def sign(self, i: int) -> None:
        waiting = [x for x in self.loans if x.status == "pending_contract"]
        loan = waiting[i % len(waiting)]
        key = loan.tenant.keys["partner"]
        self.dirty.add(loan.tenant.id)
        contract = self.call("GET", f"/v1/loans/{loan.id}", key)["contract_id"]
        code = self.call("POST", f"/v1/contracts/{contract}/signing-code", key, ok=201)["code"]
        self.call("POST", f"/v1/contracts/{contract}/sign", key, {"code": code, "signer": {
            "name": loan.applicant["name"],
            "national_id": loan.applicant["national_id"]["number"]}})
        loan.status = self.call("GET", f"/v1/loans/{loan.id}", key)["status"]
        assert loan.status == "pending_disbursement", loan.status

    @precondition(lambda self: any(x.status == "pending_disbursement" for x in self.loans))
    @rule(i=st.integers(0, 5))
    def disburse(self, i: int) -> None:
        waiting = [x for x in self.loans if x.status == "pending_disbursement"]
        loan = waiting[i % len(waiting)]
        key = loan.tenant.keys["partner"]
        self.dirty.add(loan.tenant.id)
        d = self.call("POST", f"/v1/loans/{loan.id}/disbursements", key, ok=202)
        d = self.call("GET", f"/v1/disbursements/{d['id']}", key)
        settled = [a for a in d["attempts"] if a["status"] == "settled"]
        assert d["status"] == "settled" and len(settled) == 1, (d["attempts"], d["skipped"],
                                                                d["failure"])
        loan.tenant.payouts += minor(d["payout"]["amount"])
        loan.tenant.statement.append(f"{settled[0]['payout_id']},payout,"
                                     f"{d['payout']['amount']},CNY,{Clock.now.date()}")
        loan.status = self.call("GET", f"/v1/loans/{loan.id}", key)["status"]
        assert loan.status == "active", loan.status

    # --- servicing ----------------------------------------------------------------------

    def open_loans(self) -> list[Loan]:
        return [x for x in self.loans if x.status in SERVICED - {"closed"}]

    @precondition(lambda self: self.open_loans())
    @rule(i=st.integers(0, 5), percent=st.integers(1, 100), over=st.integers(0, OVER_MAX))
    def repay(self, i: int, percent: int, over: int) -> None:
        """Part of what would close the loan today, or all of it and up to OVER_MAX more (the
        rest is credit: within the product's tolerance)."""
        loan = self.open_loans()[i % len(self.open_loans())]
        quote = self.call("GET", f"/v1/loans/{loan.id}/payoff-quote", loan.tenant.keys["admin"])
        total = minor(quote["total"]["amount"])
        self.pay(loan, max(1, total * percent // 100 if percent < 100 else total + over))

    @precondition(lambda self: self.serviced())
    @rule(i=st.integers(0, 5))
    def refused(self, i: int) -> None:
        """A closed loan takes nothing; an open one nothing beyond its payoff + tolerance. The
        invariants then prove nothing was written (payments == allocations + credit)."""
        loan = self.serviced()[i % len(self.serviced())]
        quote = self.call("GET", f"/v1/loans/{loan.id}/payoff-quote", loan.tenant.keys["admin"])
        owed = sum(minor(quote["components"][c]["amount"]) for c in COMPONENTS)
        amount = 100 if loan.status == "closed" else owed + minor(TOLERANCE) + 1
        body = {"amount": money(amount), "paid_at": Clock.now.isoformat(),
                "channel": loan.tenant.channel, "external_reference": f"r{next(_serials)}"}
        r = self.api.call("POST", f"/v1/loans/{loan.id}/repayments", body,
                          key=loan.tenant.keys["partner"])
        assert r.status == 422, r.json
        if loan.status == "closed":
            assert r.json["outstanding"] == money(0), r.json
        else:
            assert r.json["tolerance"] == money(minor(TOLERANCE)), r.json

    @precondition(lambda self: self.open_loans())
    @rule(i=st.integers(0, 5))
    def payoff(self, i: int) -> None:
        loan = self.open_loans()[i % len(self.open_loans())]
        quote = self.call("GET", f"/v1/loans/{loan.id}/payoff-quote", loan.tenant.keys["admin"])
        # Today, or tomorrow when today is already closed (the disbursement day): paid
        # today, tomorrow's quote leaves a day's interest as credit (within the tolerance) and
        # still closes the loan.
        assert quote["date"] in {(Clock.now + timedelta(days=d)).date().isoformat()
                                 for d in (0, 1)}, quote
        total = minor(quote["total"]["amount"])
        if total:
            self.pay(loan, total)
        view = self.servicing(loan)
        assert view["status"] == "closed", view
        assert {minor(view["outstanding"][c]["amount"]) for c in COMPONENTS} == {0}

    @precondition(lambda self: any(not rev for x in self.loans
                                   for _, rev in x.repayments.values()))
    @rule(i=st.integers(0, 50))
    def reverse(self, i: int) -> None:
        posted = [(x, rid) for x in self.loans for rid, (_, rev) in x.repayments.items()
                  if not rev]
        loan, rid = posted[i % len(posted)]
        self.dirty.add(loan.tenant.id)
        r = self.call("POST", f"/v1/repayments/{rid}/reverse", loan.tenant.keys["partner"],
                      {"reason": "bounced"})
        assert r["status"] == "reversed", r
        amount = loan.repayments[rid][0]
        loan.repayments[rid] = (amount, True)
        loan.tenant.statement.append(f"{r['external_reference']},payout,"
                                     f"{format_amount(amount, 'CNY')},CNY,{Clock.now.date()}")
        self.servicing(loan)

    @rule(days=st.integers(1, 40))
    def miss(self, days: int) -> None:
        """The business clock moves on; close of business runs for the day just ended."""
        from chalicelib.services import cob_chunks

        Clock.now += timedelta(days=days)
        self.dirty |= {t.id for t in self.tenants}
        day = (Clock.now - timedelta(days=1)).date().isoformat()
        for t in self.tenants:
            run = self.call("POST", "/v1/cob/runs", t.keys["operator"], {"business_date": day},
                            ok=202)
            if run["status"] != "completed":  # the chunk worker's part, in this process
                cob_chunks.run_inline(t.id, run["id"], Clock.now)
            run = self.call("GET", f"/v1/cob/runs/{run['id']}", t.keys["operator"])
            assert run["status"] == "completed", run
        for loan in self.serviced():
            view = self.servicing(loan)
            if loan.status != "closed":
                assert view["closed_through"] == day, view

    @rule(t=st.integers(0, 1))
    def reconcile(self, t: int) -> None:
        tenant = self.tenants[t]
        self.dirty.add(tenant.id)
        csv = "\n".join(["reference,type,amount,currency,value_date", *tenant.statement])
        self.call("POST", "/v1/reconciliation/runs", tenant.keys["operator"], {
            "channel": tenant.channel, "csv": csv + "\n",
            "period_start": START.date().isoformat(),
            "period_end": Clock.now.date().isoformat()}, ok=201)

    # --- invariants ---------------------------------------------------------------------

    @invariant()
    def books_hold(self) -> None:
        """After every step, for each tenant the step changed (an untouched tenant's books
        are what they were when last checked; `teardown` checks every tenant again, so a
        step that wrote into the other tenant still fails the example)."""
        for t in self.tenants:
            if t.id in self.dirty:
                self.check(t)
        self.dirty.clear()

    def teardown(self) -> None:
        for t in self.tenants:
            self.check(t)

    def check(self, t: Tenant) -> None:
        from chalicelib.services import servicing

        admin = t.keys["admin"]
        v = self.call("POST", "/v1/ledger/verify", admin)
        assert v["ok"], v["discrepancies"]
        a = self.call("POST", "/v1/audit/verify", admin)
        assert a["ok"], a
        open_ = self.call("GET", "/v1/reconciliation/exceptions?status=open", admin)
        assert open_["data"] == [], open_["data"]
        mine = [x for x in self.loans if x.tenant is t]
        for loan in mine:
            other = next(o for o in self.tenants if o is not t)
            r = self.api.call("GET", f"/v1/loans/{loan.id}", key=other.keys["admin"])
            assert r.status == 404, r.json
        repaid = 0
        for loan in mine:
            if loan.status not in SERVICED:
                continue
            shown = self.call("GET", f"/v1/loans/{loan.id}", admin)
            view = self.servicing(loan)
            assert shown["status"] == view["status"]
            assert shown["balances"] == view["outstanding"], (shown["balances"], view)
            loaded = servicing.load(t.id, loan.id)
            tot = loaded.state.totals(loaded.policy.day_count)
            allocated = sum(tot.paid.values()) + tot.credit_in - tot.refunded
            assert allocated == loan.repaid, (allocated, loan.repayments)
            assert minor(view["credit"]["amount"]) == tot.credit_in - tot.refunded
            repaid += loan.repaid
        bal = {acc: Decimal(self.call("GET", f"/v1/ledger/accounts/{acc}", admin)[
            "balance"]["posted"]) for acc in ("funding", f"cash:{t.channel}",
                                              "channel-clearing")}
        assert bal["funding"] == Decimal(FUNDED), bal  # lent only through the channel
        assert minor(str(bal[f"cash:{t.channel}"])) == minor(FUNDED) - t.payouts, bal
        assert minor(str(-bal["channel-clearing"])) == repaid, (bal, repaid)


def test_whole_lifecycle_across_tenants(api: Any, monkeypatch: Any) -> None:  # noqa: F811
    import ledger.dynamodb as ledger_store
    from chalicelib import clock
    from chalicelib.services import channels
    from chalicelib.store.ledger import ledger
    from ledger import chart

    monkeypatch.setattr(clock, "real_now", lambda: Clock.now)  # the API's and COB's clock
    # Control accounts sharded 4 ways, not 32: the same sharded code paths, an eighth of the
    # balance items for verify() to read after every step.
    monkeypatch.setattr(ledger_store, "default_chart",
                        lambda currency, shards=SHARDS: chart.default_chart(currency, SHARDS))
    monkeypatch.setattr(channels, "clock", lambda: Clock.now)
    monkeypatch.setattr(ledger(), "clock", lambda: Clock.now)  # pending journals' expiry
    Lifecycle.api = api
    run_state_machine_as_test(Lifecycle, settings=settings(
        max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None, derandomize=True,
        phases=[p for p in Phase if p != Phase.shrink or not os.environ.get("LIFECYCLE_NO_SHRINK")],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))
