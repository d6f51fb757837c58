"""Reconciliation covers every movement through a channel: payouts and prefunding on its cash
account, and repayments, refunds and charged-back (reversed) payments on channel-clearing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from chalicelib.lending.money import parse_amount
from chalicelib.lending.reconcile import StatementLine
from chalicelib.lending.statement import render
from tests.integration.contracts.helpers import make_product
from tests.integration.disbursement.conftest import (
    channel,
    disburse,
    signed_loan,
    verify_ledger,
)
from tests.lag import eventually


def _get(api: Any, key: str, path: str) -> dict[str, Any]:
    r = api.call("GET", path, key=key)
    assert r.status == 200, r.json
    return r.json


def _money(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "CNY"}


def _pay(api: Any, key: str, loan_id: str, amount: str, ch: str, ref: str) -> dict[str, Any]:
    r = api.call("POST", f"/v1/loans/{loan_id}/repayments", {
        "amount": _money(amount), "paid_at": datetime.now(UTC).isoformat(), "channel": ch,
        "external_reference": ref}, key=key)
    assert r.status == 201, r.json
    return r.json


def _line(ref: str, type_: str, amount: str, day: Any, n: int) -> StatementLine:
    return StatementLine(ref, type_, parse_amount(amount, "CNY"), "CNY", day, n)


def _run(api: Any, key: str, ch: str, lines: list[StatementLine], start: Any) -> Any:
    r = api.call("POST", "/v1/reconciliation/runs", {
        "channel": ch, "csv": render(lines).decode(), "period_start": start.isoformat(),
        "period_end": (start + timedelta(days=1)).isoformat()}, key=key)
    assert r.status == 201, r.json
    return r.json


def test_payouts_repayments_refunds_and_chargebacks_reconcile(api, acme, aws, clock):
    # A tolerance above the 100.00 overpaid (and the day's interest a quote for tomorrow adds).
    product = make_product(api, acme["admin"], overpayment_tolerance="150.00",
                           fees={"origination": {"percent": "2", "treatment": "deducted"}})
    ch = channel(api, acme, "only")["id"]
    other = channel(api, acme, "other", fund=None)["id"]  # repayments elsewhere
    loans = [signed_loan(api, acme, aws, product["id"]) for _ in range(2)]
    payouts = []
    for loan_id in loans:
        d = _get(api, acme["admin"], "/v1/disbursements/" + disburse(
            api, acme["partner"], loan_id).json["id"])
        assert d["status"] == "settled", d
        payouts.append((d["attempts"][0]["payout_id"], d["payout"]["amount"]))
    quote = _get(api, acme["partner"], f"/v1/loans/{loans[0]}/payoff-quote")["total"]["amount"]
    paid = str(Decimal(quote) + 100)
    over = _pay(api, acme["partner"], loans[0], paid, ch, "COL-1")  # closes, credit left
    assert Decimal(over["overpayment"]["amount"]) >= 100
    refund = api.call("POST", f"/v1/loans/{loans[0]}/refunds", {
        "amount": _money("100.00"), "channel": ch, "external_reference": "RFD-1"},
        key=acme["operator"])
    assert refund.status == 201, refund.json
    _pay(api, acme["partner"], loans[1], "300.00", ch, "COL-2")
    bounced = _pay(api, acme["partner"], loans[1], "200.00", ch, "COL-3")
    r = api.call("POST", f"/v1/repayments/{bounced['id']}/reverse", {"reason": "chargeback"},
                 key=acme["operator"])
    assert r.status == 200, r.json
    _pay(api, acme["partner"], loans[1], "50.00", other, "COL-X")  # another channel's money
    today = clock.now.date()
    statement = [_line("initial", "collection", "100000.00", today, 2)]
    statement += [_line(pid, "payout", amount, today, 3 + i)
                  for i, (pid, amount) in enumerate(payouts)]
    statement += [_line("COL-1", "collection", paid, today, 5),
                  _line("RFD-1", "payout", "100.00", today, 6),
                  _line("COL-2", "collection", "300.00", today, 7),
                  _line("COL-3", "collection", "200.00", today, 8),
                  _line("COL-3", "payout", "200.00", today, 9)]  # the chargeback
    clean = _run(api, acme["operator"], ch, statement, today)
    assert clean["counts"] == {"matched": 8, "missing_in_ledger": 0, "missing_in_statement": 0,
                               "amount_mismatch": 0, "duplicate": 0}, clean
    assert clean["movements"] == 8  # COL-X went through the other channel

    injected = [x for x in statement if x.reference != "COL-2"]  # missing in the statement
    injected = [x if x.reference != "RFD-1" else _line("RFD-1", "payout", "110.00", today, 6)
                for x in injected]  # amount mismatch
    injected += [_line(payouts[0][0], "payout", payouts[0][1], today, 10),  # duplicate
                 _line("COL-9", "collection", "75.00", today, 11)]  # missing in the ledger
    dirty = _run(api, acme["operator"], ch, injected, today)
    assert dirty["counts"] == {"matched": 6, "missing_in_ledger": 1, "missing_in_statement": 1,
                               "amount_mismatch": 1, "duplicate": 1}, dirty
    expected = sorted([("missing_in_statement", "COL-2"), ("amount_mismatch", "RFD-1"),
                       ("duplicate", payouts[0][0]), ("missing_in_ledger", "COL-9")])

    def open_exceptions() -> list[dict[str, Any]]:
        return api.call("GET", "/v1/reconciliation/exceptions?status=open",
                        key=acme["operator"]).json["data"]

    def kinds() -> list[tuple[str, str]]:
        return sorted((e["kind"], e["reference"]) for e in open_exceptions())

    assert eventually(kinds, expected) == expected  # the list is an index: it may trail the run
    found = open_exceptions()
    mismatch = next(e for e in found if e["kind"] == "amount_mismatch")
    assert (mismatch["detail"]["ledger"]["amount"],
            mismatch["detail"]["statement_line"]["amount"]) == ("100.00", "110.00")
    only_other = _run(api, acme["operator"], other, [_line("COL-X", "collection", "50.00",
                                                           today, 2)], today)
    assert only_other["counts"]["matched"] == 1 and only_other["movements"] == 1
    verify_ledger(api, acme["admin"])
