"""Issue #9's concurrency over real HTTP: many threads at once against the same loans and
channels of `python -m infra.local_stack`, then a Jepsen-style bank check.

Every racer behaves like a careful partner: it keeps its Idempotency-Key and retries a 409 that
says "try again" (a key still in flight, a loan that changed concurrently). Whatever the order
the server saw, afterwards: every answer was documented (2xx/409/422, never 5xx), no key
posted twice, each channel's cash fell by exactly what it paid out and never below zero,
every loan's repayments equal its allocations plus its credit balance, the clearing account
holds exactly what was repaid, the ledger verifies and so does the audit trail.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import requests

from tests.e2e.test_disbursement import (
    channel,
    disburse,
    post0,
    product,
    signed_loan,
    tenant_with_keys,
)
from tests.e2e.test_local_stack import _checked
from tests.lag import settle

pytestmark = pytest.mark.e2e

RACERS = 12
DOCUMENTED = {200, 201, 202, 409, 422}
COMPONENTS = ("principal", "interest", "fee", "penalty")


def dec(money: dict[str, str]) -> Decimal:
    return Decimal(money["amount"])


def retryable(r: requests.Response) -> bool:
    """A 409 that asks for a retry (not "already reversed" and the like)."""
    if r.status_code != 409:
        return False
    body = r.json()
    return body["type"].endswith(":idempotency-in-flight") or "concurrently" in body["detail"]


class Racer:
    """One client: a fixed Idempotency-Key, retried with jittered back-off while told to."""

    def __init__(self, stack: Any, method: str, path: str, key: str,
                 body: dict[str, Any] | None = None, idem: str | None = None) -> None:
        self.stack, self.method, self.path, self.key, self.body = stack, method, path, key, body
        self.idem = idem or str(uuid.uuid4())
        self.seen: list[int] = []

    def __call__(self) -> requests.Response:
        for attempt in range(60):
            kw: dict[str, Any] = {"json": self.body} if self.body is not None else {"data": b""}
            r = self.stack.call(self.method, self.path, self.key,
                                headers={"Idempotency-Key": self.idem}, **kw)
            _checked(self.method, self.path, r)
            self.seen.append(r.status_code)
            if not retryable(r):
                return r
            time.sleep(random.uniform(0.01, 0.04) * min(attempt + 1, 8))
        return r


def race(calls: list[Callable[[], requests.Response]]) -> list[requests.Response]:
    """Starts every call at once (one thread each) and returns their final answers."""
    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(lambda c: c(), calls))


def paying(stack: Any, keys: dict[str, str], loan_id: str, amount: str,
           idem: str | None = None) -> Racer:
    body = {"amount": {"amount": amount, "currency": "CNY"},
            "paid_at": datetime.now(UTC).isoformat(), "channel": "bank-transfer",
            "external_reference": f"ref-{uuid.uuid4().hex[:12]}"}
    return Racer(stack, "POST", f"/v1/loans/{loan_id}/repayments", keys["partner"], body, idem)


def get(stack: Any, path: str, key: str) -> Any:
    r = _checked("GET", path, stack.call("GET", path, key))
    assert r.status_code == 200, r.text
    return r.json()


def pages(stack: Any, path: str, key: str) -> list[dict[str, Any]]:
    out, cursor = [], None
    while True:
        page = get(stack, f"{path}?limit=100" + (f"&cursor={cursor}" if cursor else ""), key)
        out += page["data"]
        cursor = page["next_cursor"]
        if not cursor:
            return out


def check_loan(stack: Any, keys: dict[str, str], loan_id: str,
               answers: list[requests.Response]) -> Decimal:
    """The loan's own books, from the ledger's journals: every 201 is one stored repayment
    (a replay is the same one); the clearing account moved by exactly the net repaid; that sum
    is the allocations (charged less outstanding, per component) plus the credit balance; the
    outstanding shown equals the loan's ledger balances. Returns the net repaid."""
    admin = keys["admin"]
    settle()  # the repayments list is an index: it trails the races by the lag
    stored = {r["id"]: r for r in pages(stack, f"/v1/loans/{loan_id}/repayments", admin)}
    posted = [r.json() for r in answers if r.status_code == 201]
    assert {p["id"] for p in posted} <= set(stored), "an acknowledged repayment is missing"
    net = sum((dec(r["amount"]) for r in stored.values() if r["status"] == "posted"),
              Decimal(0))
    journals = {r["journal_id"] for r in stored.values()}
    journals |= {f"{r['journal_id']}:rev" for r in stored.values() if r["status"] == "reversed"}
    for c in COMPONENTS:
        entries = pages(stack, f"/v1/ledger/accounts/loan:{loan_id}:{c}/entries", admin)
        journals |= {e["journal_id"] for e in entries if not e["journal_id"].startswith(
            "disb:")}  # the payout: its financed sum is the principal charged
    moved: dict[str, Decimal] = {}  # net debit per account over the loan's journals
    for jid in journals:
        for leg in get(stack, f"/v1/ledger/journals/{jid}", admin)["postings"]:
            sign = 1 if leg["side"] == "debit" else -1
            moved[leg["account_id"]] = moved.get(leg["account_id"], Decimal(0)) + sign * dec(
                leg["amount"])
    view = get(stack, f"/v1/loans/{loan_id}/servicing", admin)
    loan = get(stack, f"/v1/loans/{loan_id}", admin)
    out = {c: dec(view["outstanding"][c]) for c in COMPONENTS}
    assert {c: dec(loan["balances"][c]) for c in COMPONENTS} == out
    assert loan["status"] == view["status"]
    assert moved.get("channel-clearing", 0) == net, (moved, net)
    assert -moved.get("borrower-credit", 0) == dec(view["credit"]), (moved, view["credit"])
    financed = dec(get(stack, f"/v1/disbursements/{loan['disbursement_id']}", admin)[
        "financed"])
    charged = {"principal": financed, **{c: -moved.get(f"{c}-income", Decimal(0))
                                         for c in ("interest", "fee", "penalty")}}
    allocated = sum((charged[c] - out[c] for c in COMPONENTS), Decimal(0))
    assert net == allocated + dec(view["credit"]), (net, allocated, view["credit"], moved)
    return net


def test_races_over_http_conserve_money_and_keep_every_limit(stack):
    keys = tenant_with_keys(stack)
    pid = product(stack, keys)
    with ThreadPoolExecutor(5) as pool:  # setup, not the race: signing is the slow part
        loans = list(pool.map(lambda i: signed_loan(stack, keys, pid, 300 + i), range(5)))
    thin = channel(stack, keys, "thin", "20000.00", fixed_cost="1.00")  # cheapest: room for 2
    wide = channel(stack, keys, "wide", "1000000.00", fixed_cost="3.00")

    # 1. Five payouts at once: the cheap channel's prefunded cash can carry only two.
    started = race([lambda loan=loan: disburse(stack, keys, loan) for loan in loans])
    assert all(r.status_code in (200, 202) for r in started), [r.text for r in started]
    paid_out = {thin: Decimal(0), wide: Decimal(0)}
    for r in started:
        d = get(stack, f"/v1/disbursements/{r.json()['id']}", keys["admin"])
        settled = [a for a in d["attempts"] if a["status"] == "settled"]
        assert d["status"] == "settled" and len(settled) == 1, d
        paid_out[settled[0]["channel_id"]] += dec(d["payout"])
    for cid, funded in ((thin, Decimal("20000.00")), (wide, Decimal("1000000.00"))):
        cash = get(stack, f"/v1/ledger/accounts/cash:{cid}", keys["admin"])["balance"]
        assert Decimal(cash["posted"]) == funded - paid_out[cid] >= 0, (cid, cash)
    assert 0 < paid_out[thin] <= Decimal("20000.00")

    same_loan, reversed_loan, payoff_loan, cob_a, cob_b = loans
    answers: dict[str, list[requests.Response]] = {loan: [] for loan in loans}
    racers: list[Racer] = []

    # 2. One loan, twelve payers with their own keys and four more sharing one key. 12 x
    #    1,000.00 + 250.00 is more than the loan can ever owe (10,000.00 and its interest):
    #    a payment that would overpay it (zero tolerance) or finds it closed is a 422.
    shared = str(uuid.uuid4())
    own = [paying(stack, keys, same_loan, "1000.00") for _ in range(RACERS)]
    twins = [paying(stack, keys, same_loan, "250.00", shared) for _ in range(4)]
    for t in twins[1:]:
        t.body = twins[0].body  # the same request under the same key
    answers[same_loan] = race([*own, *twins])
    racers += [*own, *twins]
    assert all(r.status_code in (201, 422) for r in answers[same_loan]), [
        r.text for r in answers[same_loan] if r.status_code not in (201, 422)]
    refused = [r.json()["errors"][0]["code"] for r in answers[same_loan] if r.status_code == 422]
    assert refused and set(refused) <= {"overpayment_exceeds_tolerance", "loan_closed"}, refused
    posted = {r.json()["id"] for r in answers[same_loan] if r.status_code == 201}
    assert len({r.json()["id"] for r in answers[same_loan][RACERS:]
                if r.status_code == 201}) <= 1  # one post per key
    settle()  # the repayments list is an index
    assert len(pages(stack, f"/v1/loans/{same_loan}/repayments", keys["admin"])) == len(posted)

    # 3. A repayment being reversed (three operators at once) while four more arrive.
    first = paying(stack, keys, reversed_loan, "500.00")()
    assert first.status_code == 201, first.text
    bounced = first.json()["id"]
    reversals = [Racer(stack, "POST", f"/v1/repayments/{bounced}/reverse", keys["operator"],
                       {"reason": "bounced"}) for _ in range(3)]
    payers = [paying(stack, keys, reversed_loan, "300.00") for _ in range(4)]
    got = race([*reversals, *payers])
    racers += [*reversals, *payers]
    assert sorted(r.status_code for r in got[:3]) == [200, 409, 409], [r.text for r in got[:3]]
    assert all(r.status_code == 201 for r in got[3:]), [r.text for r in got[3:]]
    answers[reversed_loan] = [first, *got[3:]]
    assert get(stack, f"/v1/repayments/{bounced}", keys["admin"])["status"] == "reversed"

    # 4. The payoff quote paid while another payment lands. The payoff first closes the loan,
    #    which then refuses the 100.00; the 100.00 first may leave the quote above what is owed,
    #    and then the quote is refused (zero tolerance). Nothing is ever overpaid.
    quote = get(stack, f"/v1/loans/{payoff_loan}/payoff-quote", keys["admin"])
    payoff = paying(stack, keys, payoff_loan, quote["total"]["amount"])
    extra = paying(stack, keys, payoff_loan, "100.00")
    answers[payoff_loan] = race([payoff, extra])
    racers += [payoff, extra]
    statuses = [r.status_code for r in answers[payoff_loan]]
    assert 201 in statuses and set(statuses) <= {201, 422}, [r.text for r in answers[payoff_loan]]
    view = get(stack, f"/v1/loans/{payoff_loan}/servicing", keys["admin"])
    if statuses[0] == 201:  # accepted only when it is exactly what is owed: it closes
        assert view["status"] == "closed", view
        assert {dec(view["outstanding"][c]) for c in COMPONENTS} == {0}
    assert dec(view["credit"]) == 0

    # 5. Close of business triggered three times while two loans take repayments.
    today = datetime.now(UTC).date().isoformat()
    cobs = [Racer(stack, "POST", "/v1/cob/runs", keys["operator"], {"business_date": today})
            for _ in range(3)]
    cob_payers = [paying(stack, keys, loan, "400.00") for loan in (cob_a, cob_b) for _ in
                  range(3)]
    got = race([*cobs, *cob_payers])
    racers += [*cobs, *cob_payers]
    assert all(r.status_code == 202 for r in got[:3]), [r.text for r in got[:3]]
    assert all(r.status_code == 201 for r in got[3:]), [r.text for r in got[3:]]
    answers[cob_a], answers[cob_b] = got[3:6], got[6:]
    for run_id in {r.json()["id"] for r in got[:3]}:  # workers close the loans: follow them
        for _ in range(300):
            run = get(stack, f"/v1/cob/runs/{run_id}", keys["admin"])
            if run["status"] == "completed":
                break
            time.sleep(0.1)
        assert run["status"] == "completed", run
    for run_id in {r.json()["id"] for r in got[:3]}:  # 202: the stack's queue worker runs it
        for _ in range(600):
            if get(stack, f"/v1/cob/runs/{run_id}", keys["admin"])["status"] == "completed":
                break
            time.sleep(0.2)
    for loan in (cob_a, cob_b):
        assert get(stack, f"/v1/loans/{loan}/servicing", keys["admin"])[
            "closed_through"] == today

    # The bank check.
    assert not [s for r in racers for s in r.seen if s not in DOCUMENTED], [r.seen for r in
                                                                           racers]
    repaid = sum((check_loan(stack, keys, loan, answers[loan]) for loan in loans), Decimal(0))
    clearing = get(stack, "/v1/ledger/accounts/channel-clearing", keys["admin"])["balance"]
    # Collections in transit are debits (the account's normal side is credit, for payouts
    # awaiting settlement), so the tenant-wide clearing balance is minus what was repaid.
    assert -Decimal(clearing["posted"]) == repaid, (clearing, repaid)
    v = post0(stack, "/v1/ledger/verify", keys["admin"])
    assert v.status_code == 200 and v.json()["ok"], v.text
    a = post0(stack, "/v1/audit/verify", keys["admin"])
    assert a.status_code == 200 and a.json()["ok"], a.text
