"""Issue 14: the ledger API cannot write the books the domain commands own. The double booking
it allowed (reverse a repayment's journal through the ledger API, then charge the same payment
back through the repayments API) is refused at the first step, for every journal a servicing
command writes, and manual journals still work on the tenant's own accounts."""

from __future__ import annotations

from datetime import date
from typing import Any

from chalicelib.store.ledger import ledger
from tests.integration.servicing_core.loans import active_loan, money
from tests.integration.servicing_core.test_cob import run_day
from tests.integration.servicing_core.test_repayments import consistent, outstanding, pay

TODAY = "2024-03-05"


def _owned(r: Any, owner: str, command: str) -> dict[str, Any]:
    assert r.status == 403, r.json
    assert r.json["type"] == "urn:problem-type:lending:domain-owned", r.json
    assert r.json["owner"] == owner and command in r.json["use"], r.json
    assert command in r.json["detail"]
    return r.json


def _reverse(api: Any, key: str, journal_id: str, new_id: str) -> Any:
    return api.call("POST", f"/v1/ledger/journals/{journal_id}/reverse",
                    {"journal_id": new_id, "effective_date": TODAY}, key=key)


def test_a_repayment_cannot_be_reversed_twice_through_the_ledger_api(api: Any, acme: dict[str, str],
                                                                     product: str) -> None:
    loan_id = active_loan("acme", product, date(2024, 1, 31))
    paid = pay(api, acme["partner"], loan_id, "2100.00", "2024-02-29")
    assert paid.status == 201, paid.json
    rid, journal = paid.json["id"], f"rpy:{paid.json['id']}"
    owed = outstanding("acme", loan_id)
    # step 1 of the double booking, for every role that may reach the route: refused
    for role in ("operator", "admin"):
        r = _reverse(api, acme[role], journal, f"manual-rev-{role}")
        if role == "operator":
            _owned(r, "repayment", "POST /v1/repayments/{repayment_id}/reverse")
        else:
            assert r.status == 403 and r.json["type"].endswith(":forbidden"), r.json
    assert ledger().get_journal("acme", journal).reversed_by is None
    assert outstanding("acme", loan_id) == owed
    consistent("acme", loan_id)
    # step 2: the charge-back through its own command books it back once
    back = api.call("POST", f"/v1/repayments/{rid}/reverse", {"reason": "chargeback"},
                    key=acme["operator"])
    assert back.status == 200 and back.json["status"] == "reversed", back.json
    consistent("acme", loan_id)
    after = outstanding("acme", loan_id)
    assert after["principal"] > owed["principal"]  # the payment's principal is owed again
    # and the mirror journal cannot be reversed by hand either (that would re-book the payment)
    _owned(_reverse(api, acme["operator"], f"{journal}:rev", "manual-unrev"), "repayment",
           "POST /v1/repayments/{repayment_id}/reverse")
    assert outstanding("acme", loan_id) == after
    consistent("acme", loan_id)


def test_every_servicing_journal_and_owned_account_is_refused(api: Any, acme: dict[str, str],
                                                              product: str) -> None:
    loan_id = active_loan("acme", product, date(2024, 1, 31))
    op = acme["operator"]
    run_day("acme", date(2024, 2, 10))
    assert pay(api, acme["partner"], loan_id, "9000.00", "2024-02-11").status == 201
    cob = f"cob:{loan_id}:2024-02-10"
    assert ledger().get_journal("acme", cob).journal.metadata["domain"] == "close-of-business"
    for journal, owner, command in [
            (cob, "close-of-business", "POST /v1/cob/runs"),
            (f"disb:{loan_id}", "disbursement", "POST /v1/channel-callbacks/{channel_id}")]:
        _owned(_reverse(api, op, journal, f"rev-{owner}"), owner, command)
    wo = api.call("POST", f"/v1/loans/{loan_id}/write-off", {"reason": "gone"}, key=op)
    assert wo.status == 200, wo.json
    _owned(_reverse(api, op, f"wo:{loan_id}", "rev-wo"), "write-off",
           "POST /v1/loans/{loan_id}/write-off")
    # manual journals: no owned account, no domain id namespace, no domain marker
    for account, owner in [(f"loan:{loan_id}:principal", "loan"),
                           ("channel-clearing", "repayment"), ("borrower-credit", "refund"),
                           ("cash:ch_0123456789abcdef", "channel")]:
        r = api.call("POST", "/v1/ledger/journals", {
            "journal_id": f"manual-{owner}", "effective_date": TODAY, "postings": [
                {"account_id": "suspense", "side": "debit", "amount": money("5.00")},
                {"account_id": account, "side": "credit", "amount": money("5.00")}]}, key=op)
        body = _owned(r, owner, "")
        assert body["errors"] == [{"pointer": "/body/postings/1/account_id",
                                   "detail": f"{account} belongs to the {owner} commands",
                                   "code": "domain-owned"}]
    own = [{"account_id": "suspense", "side": "debit", "amount": money("5.00")},
           {"account_id": "funding", "side": "credit", "amount": money("5.00")}]
    for body, pointer in [({"journal_id": "rpy:rpy_forged"}, "/body/journal_id"),
                          ({"journal_id": "plain-1", "metadata": {"domain": "repayment"}},
                           "/body/metadata/domain")]:
        r = api.call("POST", "/v1/ledger/journals", {"effective_date": TODAY, "postings": own,
                                                     **body}, key=op)
        assert r.status == 403 and r.json["errors"][0]["pointer"] == pointer, r.json
    # owned accounts are neither opened nor closed by hand
    r = api.call("POST", "/v1/ledger/accounts", {"account_id": "loan:forged:principal",
                                                 "name": "x", "type": "asset",
                                                 "currency": "CNY"}, key=acme["admin"])
    _owned(r, "loan", "POST /v1/loans/{loan_id}/repayments")
    r = api.call("POST", f"/v1/ledger/accounts/loan:{loan_id}:fee/close", key=acme["admin"])
    _owned(r, "loan", "POST /v1/loans/{loan_id}/write-off")
    # the tenant's own books stay open to manual journals, pending ones included
    r = api.call("POST", "/v1/ledger/journals", {"journal_id": "own-1", "effective_date": TODAY,
                                                 "postings": own, "pending": True}, key=op)
    assert r.status == 201, r.json
    r = api.call("POST", "/v1/ledger/journals/own-1/void",
                 {"journal_id": "own-1-void", "effective_date": TODAY}, key=op)
    assert r.status == 201, r.json
    r = api.call("POST", "/v1/ledger/journals", {"journal_id": "own-2", "effective_date": TODAY,
                                                 "postings": own}, key=op)
    assert r.status == 201 and _reverse(api, op, "own-2", "own-2-rev").status == 201
    assert ledger().verify("acme").ok
