"""What a repayment report must satisfy before it is accepted (issue 14): one report per
(tenant, channel, external reference), an open loan, and no more than the product's
overpayment tolerance above what the loan owes on the payment's date. A refusal writes
nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

import pytest

from chalicelib.errors import DomainError
from chalicelib.services import repayments
from chalicelib.store import servicing as store
from chalicelib.store.audit import Actor
from chalicelib.store.ledger import ledger
from chalicelib.store.uow import UnitOfWork
from tests.integration.contracts.helpers import make_product
from tests.integration.servicing_core.loans import active_loan, balances, money, status
from tests.integration.servicing_core.test_repayments import consistent, pay

ACTOR = Actor("test", "partner", "req")
PROBLEM = "urn:problem-type:lending:"


def snapshot(tenant: str, loan_id: str) -> tuple[Any, ...]:
    """Everything a refused report could have written for this loan."""
    item = store.get_servicing(tenant, loan_id)
    listed, _ = store.list_repayments(tenant, loan_id, 100, None)
    return (balances(tenant, loan_id), status(tenant, loan_id),
            item and item["version"]["N"], sorted(i["repayment_id"]["S"] for i in listed),
            ledger().balance(tenant, "borrower-credit").posted)


def payoff(api: Any, key: str, loan_id: str, on: str) -> str:
    r = api.call("GET", f"/v1/loans/{loan_id}/payoff-quote?date={on}", key=key)
    assert r.status == 200, r.json
    return r.json["total"]["amount"]


# --- 1. one report per (tenant, channel, external reference) -----------------------------

def test_same_reference_with_a_new_key_is_a_409_naming_the_repayment(
        api: Any, acme: dict[str, str], product: str) -> None:
    loan_id = active_loan("acme", product, date(2024, 1, 31))
    first = pay(api, acme["partner"], loan_id, "100.00", "2024-02-10", reference="bank-77",
                idem="k-1")
    assert first.status == 201, first.json
    before = snapshot("acme", loan_id)
    again = pay(api, acme["partner"], loan_id, "100.00", "2024-02-10", reference="bank-77")
    assert again.status == 409, again.json
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json["type"] == PROBLEM + "conflict"
    assert again.json["repayment_id"] == first.json["id"]
    assert again.json["loan_id"] == loan_id
    assert first.json["id"] in again.json["detail"]
    assert again.json["errors"] == [{"pointer": "/body/external_reference",
                                     "detail": f"already recorded as repayment "
                                               f"{first.json['id']} on loan {loan_id}",
                                     "code": "duplicate_reference"}]
    assert snapshot("acme", loan_id) == before
    # A different amount or date under the same reference is the same money movement.
    other = pay(api, acme["partner"], loan_id, "55.00", "2024-02-11", reference="bank-77")
    assert other.status == 409 and other.json["repayment_id"] == first.json["id"]
    # The same Idempotency-Key and body still replays the stored answer.
    replay = pay(api, acme["partner"], loan_id, "100.00", "2024-02-10", reference="bank-77",
                 idem="k-1")
    assert replay.status == 201 and replay.json == first.json
    assert snapshot("acme", loan_id) == before
    consistent("acme", loan_id)


def test_the_reference_names_the_money_not_the_loan(api: Any, acme: dict[str, str],
                                                    beta: dict[str, str],
                                                    product: str) -> None:
    one = active_loan("acme", product, date(2024, 1, 31))
    two = active_loan("acme", product, date(2024, 1, 31))
    first = pay(api, acme["partner"], one, "100.00", "2024-02-10", reference="bank-1")
    assert first.status == 201
    before = snapshot("acme", two)
    elsewhere = pay(api, acme["partner"], two, "100.00", "2024-02-10", reference="bank-1")
    assert elsewhere.status == 409, elsewhere.json
    assert (elsewhere.json["repayment_id"], elsewhere.json["loan_id"]) == (first.json["id"], one)
    assert snapshot("acme", two) == before
    # Another channel's reference space is its own; so is another tenant's.
    assert pay(api, acme["partner"], two, "100.00", "2024-02-10", reference="bank-1",
               channel="wechat").status == 201
    beta_product = make_product(api, beta["admin"])["id"]
    beta_loan = active_loan("beta", beta_product, date(2024, 1, 31))
    assert pay(api, beta["partner"], beta_loan, "100.00", "2024-02-10",
               reference="bank-1").status == 201
    assert store.reference_pk("acme", "alipay", "bank-1").startswith("acme#")


def test_a_reversed_repayment_keeps_its_reference(api: Any, acme: dict[str, str],
                                                  product: str) -> None:
    """A charged-back payment's reference still names that money movement: a re-presented
    payment is a new movement and comes with the channel's new reference."""
    loan_id = active_loan("acme", product, date(2024, 1, 31))
    first = pay(api, acme["partner"], loan_id, "100.00", "2024-02-10", reference="bank-9")
    r = api.call("POST", f"/v1/repayments/{first.json['id']}/reverse", {"reason": "bounced"},
                 key=acme["operator"])
    assert r.status == 200, r.json
    before = snapshot("acme", loan_id)
    again = pay(api, acme["partner"], loan_id, "100.00", "2024-02-10", reference="bank-9")
    assert again.status == 409 and again.json["repayment_id"] == first.json["id"]
    assert snapshot("acme", loan_id) == before


@pytest.mark.parametrize("same_loan", [True, False])
def test_two_concurrent_reports_of_one_reference_exactly_one_wins(
        api: Any, acme: dict[str, str], product: str, same_loan: bool) -> None:
    """Both pass the early read (neither is committed yet); the conditional put of the
    reference item decides, and the loser is told which repayment won."""
    one = active_loan("acme", product, date(2024, 1, 31))
    two = one if same_loan else active_loan("acme", product, date(2024, 1, 31))
    now = datetime(2024, 6, 1, tzinfo=UTC)
    paid = datetime.combine(date(2024, 2, 10), time(9), UTC)
    fast, slow = UnitOfWork(), UnitOfWork()
    won = repayments.repay(fast, "acme", ACTOR, now, one, 10_000, "CNY", paid, "alipay", "r-1")
    repayments.repay(slow, "acme", ACTOR, now, two, 10_000, "CNY", paid, "alipay", "r-1")
    fast.commit()
    before = snapshot("acme", two)
    with pytest.raises(DomainError) as caught:
        slow.commit()
    assert caught.value.kind == "conflict"
    assert caught.value.extra == {"repayment_id": won["id"], "loan_id": one}
    assert snapshot("acme", two) == before
    listed = store.list_repayments("acme", one, 100, None)[0]
    if not same_loan:
        listed += store.list_repayments("acme", two, 100, None)[0]
    assert [i["repayment_id"]["S"] for i in listed] == [won["id"]]
    assert ledger().verify("acme").ok


def test_a_report_racing_through_the_api_is_refused_by_the_transaction(
        api: Any, acme: dict[str, str], product: str, monkeypatch: Any) -> None:
    """The twin commits between the API request's early read and its write."""
    loan_id = active_loan("acme", product, date(2024, 1, 31))
    real, twin = store.get_reference, []

    def read_then_twin_commits(*args: Any) -> Any:
        found = real(*args)
        if not twin:
            twin.append(None)  # the twin's own read passes straight through
            uow = UnitOfWork()
            twin[0] = repayments.repay(uow, "acme", ACTOR, datetime.now(UTC), loan_id, 10_000,
                                       "CNY", datetime(2024, 2, 10, tzinfo=UTC), "alipay",
                                       "raced")
            uow.commit()
        return found

    monkeypatch.setattr(store, "get_reference", read_then_twin_commits)
    r = pay(api, acme["partner"], loan_id, "100.00", "2024-02-10", reference="raced")
    assert r.status == 409, r.json
    assert r.json["repayment_id"] == twin[0]["id"]
    assert [i["repayment_id"]["S"] for i in store.list_repayments("acme", loan_id, 100, None)[0]
            ] == [twin[0]["id"]]
    consistent("acme", loan_id)


# --- 2. an open loan ---------------------------------------------------------------------

def test_a_closed_loan_takes_no_repayment(api: Any, acme: dict[str, str],
                                          product: str) -> None:
    loan_id = active_loan("acme", product, date(2024, 1, 31))
    total = payoff(api, acme["partner"], loan_id, "2024-02-15")
    assert pay(api, acme["partner"], loan_id, total, "2024-02-15").status == 201
    assert status("acme", loan_id) == "closed"
    before = snapshot("acme", loan_id)
    r = pay(api, acme["partner"], loan_id, "10.00", "2024-02-20")
    assert r.status == 422, r.json
    assert r.json["type"] == PROBLEM + "validation-error"
    assert r.json["loan_status"] == "closed"
    assert r.json["outstanding"] == money("0.00")
    assert "closed" in r.json["detail"] and "0.00" in r.json["detail"]
    assert [(e["pointer"], e["code"]) for e in r.json["errors"]] == [
        ("/body/amount/amount", "loan_closed")]
    assert snapshot("acme", loan_id) == before
    consistent("acme", loan_id)


def test_a_written_off_loan_takes_no_repayment(api: Any, acme: dict[str, str],
                                               product: str) -> None:
    loan_id = active_loan("acme", product, date(2024, 1, 31))
    w = api.call("POST", f"/v1/loans/{loan_id}/write-off", {"reason": "fraud"},
                 key=acme["operator"])
    assert w.status == 200, w.json
    before = snapshot("acme", loan_id)
    r = pay(api, acme["partner"], loan_id, "10.00", "2024-02-20")
    assert r.status == 422, r.json
    assert (r.json["loan_status"], r.json["outstanding"]) == ("written_off", money("0.00"))
    assert [(e["pointer"], e["code"]) for e in r.json["errors"]] == [
        ("/body/amount/amount", "loan_written_off")]
    assert snapshot("acme", loan_id) == before


# --- 3. the overpayment tolerance --------------------------------------------------------

def test_an_overpayment_beyond_zero_tolerance_is_refused(api: Any, acme: dict[str, str],
                                                         product: str) -> None:
    loan_id = active_loan("acme", product, date(2024, 1, 31))
    total = payoff(api, acme["partner"], loan_id, "2024-02-15")
    before = snapshot("acme", loan_id)
    r = pay(api, acme["partner"], loan_id, _plus(total, "0.01"), "2024-02-15")
    assert r.status == 422, r.json
    assert r.json["outstanding"] == money(total)
    assert r.json["tolerance"] == money("0.00")
    assert total in r.json["detail"] and "2024-02-15" in r.json["detail"]
    assert [(e["pointer"], e["code"]) for e in r.json["errors"]] == [
        ("/body/amount/amount", "overpayment_exceeds_tolerance")]
    assert snapshot("acme", loan_id) == before
    exact = pay(api, acme["partner"], loan_id, total, "2024-02-15")
    assert exact.status == 201 and exact.json["overpayment"] == money("0.00")
    assert status("acme", loan_id) == "closed"


def test_within_the_tolerance_the_rest_is_refundable_credit(api: Any,
                                                            acme: dict[str, str]) -> None:
    pid = make_product(api, acme["admin"], overpayment_tolerance="5.00")["id"]
    got = api.call("GET", f"/v1/products/{pid}", key=acme["admin"])
    assert got.json["terms"]["overpayment_tolerance"] == "5.00"
    loan_id = active_loan("acme", pid, date(2024, 1, 31))
    total = payoff(api, acme["partner"], loan_id, "2024-02-15")
    before = snapshot("acme", loan_id)
    over = pay(api, acme["partner"], loan_id, _plus(total, "5.01"), "2024-02-15")
    assert over.status == 422 and over.json["tolerance"] == money("5.00")
    assert over.json["outstanding"] == money(total)
    assert snapshot("acme", loan_id) == before
    r = pay(api, acme["partner"], loan_id, _plus(total, "5.00"), "2024-02-15")
    assert r.status == 201 and r.json["overpayment"] == money("5.00"), r.json
    assert status("acme", loan_id) == "closed"
    refund = api.call("POST", f"/v1/loans/{loan_id}/refunds",
                      {"amount": money("5.00"), "channel": "alipay",
                       "external_reference": "rf-1"}, key=acme["operator"])
    assert refund.status == 201 and refund.json["credit_remaining"] == money("0.00")
    consistent("acme", loan_id)


def test_a_backdated_payment_counts_what_the_fold_credits(api: Any, acme: dict[str, str],
                                                          product: str) -> None:
    """Back-dated to before a later payment, a payoff-sized amount closes the loan on its date
    and turns the later payment into credit: that is the excess, not amount - payoff."""
    loan_id = active_loan("acme", product, date(2024, 1, 31))
    total = payoff(api, acme["partner"], loan_id, "2024-02-10")
    assert pay(api, acme["partner"], loan_id, "100.00", "2024-02-20").status == 201
    before = snapshot("acme", loan_id)
    r = pay(api, acme["partner"], loan_id, total, "2024-02-10")
    assert r.status == 422, r.json
    assert r.json["outstanding"] == money(_plus(total, "-100.00"))
    assert snapshot("acme", loan_id) == before
    consistent("acme", loan_id)


def test_the_tolerance_is_in_the_contract() -> None:
    import yaml

    with open("openapi.yaml") as f:
        spec = yaml.safe_load(f)
    schema = spec["components"]["schemas"]["ProductConfig"]["properties"]
    assert schema["overpayment_tolerance"]["default"] == "0"


def _plus(a: str, b: str) -> str:
    from decimal import Decimal

    return str(Decimal(a) + Decimal(b))

