"""Repayments through the API: allocation, partial, early, over-payments, refunds, payoff."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from chalicelib.services import servicing
from chalicelib.store.ledger import ledger
from tests.integration.servicing_core.loans import active_loan, balances, money, status


def pay(api: Any, key: str, loan_id: str, amount: str, on: str, reference: str | None = None,
        channel: str = "alipay", **kw: Any) -> Any:
    """A reported payment; a fresh external reference unless one is given (a reference names
    one money movement: a second report of it is refused)."""
    # 10:00 UTC of the day, or now when that is still ahead (a payment today, in the morning)
    paid_at = min(datetime.fromisoformat(f"{on}T10:00:00+00:00"), datetime.now(UTC))
    body = {"amount": money(amount), "paid_at": paid_at.isoformat(), "channel": channel,
            "external_reference": reference or f"ext-{on}-{uuid.uuid4().hex[:12]}"}
    return api.call("POST", f"/v1/loans/{loan_id}/repayments", body, key=key, **kw)


def outstanding(tenant: str, loan_id: str) -> dict[str, int]:
    loaded = servicing.load(tenant, loan_id)
    t = loaded.state.totals(loaded.policy.day_count)
    return {c: t.receivable(c) for c in ("principal", "interest", "fee", "penalty")}


def consistent(tenant: str, loan_id: str) -> None:
    assert outstanding(tenant, loan_id) == balances(tenant, loan_id)
    report = ledger().verify(tenant)
    assert report.ok, report.discrepancies


def test_partial_then_early_then_over_payment_and_refund(api: Any,
                                                         acme: dict[str, str]) -> None:
    from tests.integration.contracts.helpers import make_product

    product = make_product(api, acme["admin"], overpayment_tolerance="20.00",
                           fees={"late": "50.00", "penalty_rate_percent": "18"})["id"]
    loan_id = active_loan("acme", product, date(2024, 1, 31))
    sched = servicing.load("acme", loan_id).state.installments
    r = pay(api, acme["partner"], loan_id, "100.00", "2024-02-29")  # partial, on the due date
    assert r.status == 201, r.json
    assert r.json["allocated"]["interest"]["amount"] == "100.00"  # interest before principal
    consistent("acme", loan_id)
    early = pay(api, acme["partner"], loan_id, "6000.00", "2024-03-10")
    assert early.status == 201 and early.json["allocated"]["principal"]["amount"] != "0.00"
    consistent("acme", loan_id)
    after = servicing.load("acme", loan_id).state
    # Feb's rest and March's installment settled as scheduled; April's cannot be settled whole,
    # so the rest prepays principal, taken off the last installment (reduce_term).
    assert [i.paid["principal"] for i in after.installments[:3]] == [
        sched[0].principal, sched[1].principal, 0]
    assert after.installments[2].principal == sched[2].principal
    assert 0 < after.installments[-1].principal < sched[-1].principal
    assert after.prepaid_principal == sched[-1].principal - after.installments[-1].principal
    quote = api.call("GET", f"/v1/loans/{loan_id}/payoff-quote?date=2024-03-20",
                     key=acme["partner"])
    assert quote.status == 200, quote.json
    over = pay(api, acme["partner"], loan_id, str(_plus(quote.json["total"]["amount"], "12.34")),
               "2024-03-20")
    assert over.status == 201 and over.json["overpayment"]["amount"] == "12.34"
    assert status("acme", loan_id) == "closed"
    assert balances("acme", loan_id) == dict.fromkeys(balances("acme", loan_id), 0)
    consistent("acme", loan_id)
    too_much = api.call("POST", f"/v1/loans/{loan_id}/refunds",
                        {"amount": money("20.00"), "channel": "alipay",
                         "external_reference": "rf-1"}, key=acme["operator"])
    assert too_much.status == 422
    refund = api.call("POST", f"/v1/loans/{loan_id}/refunds",
                      {"amount": money("12.34"), "channel": "alipay",
                       "external_reference": "rf-1"}, key=acme["operator"])
    assert refund.status == 201 and refund.json["credit_remaining"]["amount"] == "0.00"
    assert api.call("GET", refund.headers["location"], key=acme["operator"]).status == 200
    consistent("acme", loan_id)
    listed = api.call("GET", f"/v1/loans/{loan_id}/repayments", key=acme["reviewer"])
    assert [x["amount"]["amount"] for x in listed.json["data"]] == ["100.00", "6000.00",
                                                                   over.json["amount"]["amount"]]


def _plus(a: str, b: str) -> str:
    from decimal import Decimal

    return str(Decimal(a) + Decimal(b))


def test_payoff_quote_closes_at_exactly_zero(api: Any, acme: dict[str, str],
                                             product: str) -> None:
    loan_id = active_loan("acme", product, date(2024, 1, 31))
    q = api.call("GET", f"/v1/loans/{loan_id}/payoff-quote?date=2024-02-15",
                 key=acme["partner"]).json
    r = pay(api, acme["partner"], loan_id, q["total"]["amount"], "2024-02-15")
    assert r.status == 201 and r.json["overpayment"]["amount"] == "0.00"
    assert status("acme", loan_id) == "closed"
    assert set(balances("acme", loan_id).values()) == {0}
    consistent("acme", loan_id)


def test_custom_allocation_order_principal_first(api: Any, acme: dict[str, str]) -> None:
    from tests.integration.contracts.helpers import make_product

    rules = [{"due_class": d, "component": c}
             for d in ("past_due", "due", "in_advance")
             for c in ("principal", "interest", "fee", "penalty")]
    pid = make_product(api, acme["admin"], allocation=rules)["id"]
    loan_id = active_loan("acme", pid, date(2024, 1, 31))
    r = pay(api, acme["partner"], loan_id, "100.00", "2024-02-29")
    assert r.json["allocated"]["principal"]["amount"] == "100.00"
    assert r.json["allocated"]["interest"]["amount"] == "0.00"
    consistent("acme", loan_id)


def test_cross_tenant_404_and_roles_403(api: Any, acme: dict[str, str], beta: dict[str, str],
                                        product: str) -> None:
    loan_id = active_loan("acme", product, date(2024, 1, 31))
    r = pay(api, acme["partner"], loan_id, "10.00", "2024-02-01")
    rid = r.json["id"]
    body_pay = {"amount": money("1.00"), "paid_at": "2024-02-02T00:00:00+00:00",
                "channel": "x", "external_reference": "y"}
    body_ref = {"amount": money("1.00"), "channel": "x", "external_reference": "y"}
    # (method, path, body, a role allowed, a role refused): money and its corrections are the
    # operators' (least privilege); an admin configures but does not move money.
    calls = [("POST", f"/v1/loans/{loan_id}/repayments", body_pay, "operator", "admin"),
             ("GET", f"/v1/loans/{loan_id}/repayments", None, "admin", None),
             ("GET", f"/v1/repayments/{rid}", None, "admin", None),
             ("POST", f"/v1/repayments/{rid}/reverse", {"reason": "x"}, "operator", "partner"),
             ("POST", f"/v1/loans/{loan_id}/refunds", body_ref, "operator", "admin"),
             ("GET", f"/v1/loans/{loan_id}/payoff-quote", None, "admin", None),
             ("POST", f"/v1/loans/{loan_id}/write-off", {"reason": "x"}, "operator", "admin"),
             ("GET", f"/v1/loans/{loan_id}/servicing", None, "admin", None)]
    for method, path, body, allowed, forbidden in calls:
        other = api.call(method, path, body, key=beta[allowed])
        assert other.status == 404, (path, other.json)
        if forbidden:
            denied = api.call(method, path, body, key=acme[forbidden])
            assert denied.status == 403, (path, denied.json)
