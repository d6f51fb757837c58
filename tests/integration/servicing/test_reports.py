"""Reports through the API on a hand-made book written to the stores: figures, as-of dates from
the ledger, CSV, isolation and roles."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from chalicelib.store import dynamo
from chalicelib.store.ledger import ledger
from chalicelib.store.servicing import SERVICING_SK
from ledger.chart import loan_account_id, loan_accounts
from ledger.model import JournalRequest, Posting, Side


def _loan(tenant, loan_id, product, status, principal, disbursed=None, dpd=None):
    item = {"pk": {"S": f"{tenant}#loan#{loan_id}"}, "sk": {"S": "loan"},
            "gsi1pk": {"S": f"{tenant}#loans"},
            "gsi1sk": {"S": f"{status}#2026-03-01T00:00:00+00:00#{loan_id}"},
            "loan_id": {"S": loan_id}, "product_id": {"S": product}, "status": {"S": status},
            "currency": {"S": "CNY"}, "principal": {"N": str(principal)},
            "created_at": {"S": "2026-03-01T00:00:00+00:00"}}
    if disbursed:
        item["disbursed_at"] = {"S": f"{disbursed}T09:00:00+00:00"}
        book = ledger()
        book.open_accounts(tenant, loan_accounts(loan_id, "CNY"))
        book.post(tenant, JournalRequest(f"disb-{loan_id}", (
            Posting(loan_account_id(loan_id, "principal"), Side.DEBIT, principal, "CNY"),
            Posting("funding", Side.CREDIT, principal, "CNY")), date.fromisoformat(disbursed)))
    if dpd is not None:  # where close of business keeps it: the loan's servicing item
        dynamo.client().put_item(TableName="test-main", Item={
            "pk": item["pk"], "sk": {"S": SERVICING_SK}, "loan_id": {"S": loan_id},
            "days_past_due": {"N": str(dpd)}})
    dynamo.client().put_item(TableName="test-main", Item=item)


def _repay(tenant, loan_id, jid, when, principal, interest=0):
    legs = [Posting(loan_account_id(loan_id, "principal"), Side.CREDIT, principal, "CNY"),
            Posting("channel-clearing", Side.DEBIT, principal + interest, "CNY")]
    if interest:
        ledger().post(tenant, JournalRequest(f"acc-{jid}", (
            Posting(loan_account_id(loan_id, "interest"), Side.DEBIT, interest, "CNY"),
            Posting("interest-income", Side.CREDIT, interest, "CNY")), when))
        legs.append(Posting(loan_account_id(loan_id, "interest"), Side.CREDIT, interest, "CNY"))
    ledger().post(tenant, JournalRequest(jid, tuple(legs), when))


def _application(tenant, app_id, outcome, arm, status, history):
    dynamo.client().put_item(TableName="test-main", Item={
        "pk": {"S": f"{tenant}#application#{app_id}"}, "sk": {"S": "application"},
        "gsi1pk": {"S": f"{tenant}#applications"},
        "gsi1sk": {"S": f"{status}#2026-03-02T10:00:00+00:00#{app_id}"},
        "application_id": {"S": app_id}, "product_id": {"S": "p1"}, "status": {"S": status},
        "created_at": {"S": "2026-03-02T10:00:00+00:00"},
        "decision": {"S": json.dumps({"outcome": outcome, "arm": arm})},
        "history": {"S": json.dumps([{"status": s, "at": at} for s, at in history])}})


def test_portfolio_figures_as_of_dates_and_csv(api, keys):
    _loan("acme", "L1", "p1", "active", 1_000_000, "2026-03-01", dpd=0)
    _loan("acme", "L2", "p1", "active", 500_000, "2026-03-01", dpd=45)
    _loan("acme", "L3", "p2", "defaulted", 300_000, "2026-03-01", dpd=120)
    _loan("acme", "L4", "p2", "pending_contract", 700_000)
    _repay("acme", "L1", "rep-1", date(2026, 3, 20), 200_000, interest=10_000)
    _loan("beta", "B1", "p9", "active", 50_000, "2026-03-01")

    r = api.call("GET", "/v1/reports/portfolio?as_of=2026-03-31", key=keys["acme"]["operator"])
    assert r.status == 200, r.json
    [cny] = r.json["currencies"]
    assert cny["loans"] == 4
    assert cny["outstanding_principal"] == {"amount": "16000.00", "currency": "CNY"}
    assert cny["disbursed_volume"]["amount"] == "18000.00"
    assert cny["collections"]["amount"] == "2100.00"
    assert (cny["par1"], cny["par30"], cny["par90"], cny["npl_ratio"]) == (
        "0.5000", "0.5000", "0.1875", "0.1875")
    assert {b["key"]: (b["loans"], b["outstanding_principal"]["amount"])
            for b in cny["by_status"]} == {"active": (2, "13000.00"),
                                           "defaulted": (1, "3000.00"),
                                           "pending_contract": (1, "0.00")}
    # before the repayment, from the ledger as of that day
    before = api.call("GET", "/v1/reports/portfolio?as_of=2026-03-10",
                      key=keys["acme"]["admin"]).json["currencies"][0]
    assert before["outstanding_principal"]["amount"] == "18000.00"
    assert before["collections"]["amount"] == "0.00"
    assert api.call("GET", "/v1/reports/portfolio?as_of=2026-02-01",
                    key=keys["acme"]["admin"]).json["currencies"] == []

    csv = api.call("GET", "/v1/reports/portfolio.csv?as_of=2026-03-31",
                   key=keys["acme"]["reviewer"])
    assert csv.status == 200 and csv.headers["content-type"].startswith("text/csv")
    lines = csv.body.decode().splitlines()
    assert lines[0] == "currency,dimension,key,loans,amount,ratio"
    assert "CNY,metric,npl_ratio,,3000.00,0.1875" in lines
    assert "p9" not in csv.body.decode()  # beta's loan never shows in acme's report


def test_origination_report_and_csv(api, keys):
    at = "2026-03-02T10:00:00+00:00"
    _application("acme", "A1", "approve", "champion", "accepted", [("approved", at)])
    _application("acme", "A2", "decline", "champion", "declined", [("declined", at)])
    _application("acme", "A3", "refer", "challenger", "approved",
                 [("referred", at), ("approved", "2026-03-02T12:00:00+00:00")])
    _application("acme", "A4", "refer", "challenger", "referred", [("referred", at)])
    _application("beta", "B1", "approve", "champion", "approved", [("approved", at)])
    r = api.call("GET", "/v1/reports/origination?from=2026-03-01&to=2026-03-02",
                 key=keys["acme"]["operator"])
    assert r.status == 200, r.json
    o = r.json
    assert (o["from"], o["applications"], o["approve"], o["refer"], o["decline"]) == (
        "2026-03-01", 4, 1, 2, 1)
    assert (o["approval_rate"], o["refer_rate"], o["decline_rate"]) == (
        "0.2500", "0.5000", "0.2500")
    assert (o["final_approved"], o["final_declined"], o["undecided"]) == (2, 1, 1)
    assert o["time_to_decision"]["max_seconds"] == 7200
    assert {a["arm"]: (a["applications"], a["approval_rate"]) for a in o["arms"]} == {
        "champion": (2, "0.5000"), "challenger": (2, "0.0000")}
    empty = api.call("GET", "/v1/reports/origination?from=2026-04-01&to=2026-04-30",
                     key=keys["acme"]["operator"]).json
    assert empty["applications"] == 0 and empty["approval_rate"] == "0.0000"
    csv = api.call("GET", "/v1/reports/origination.csv?from=2026-03-01&to=2026-03-02",
                   key=keys["acme"]["admin"])
    assert csv.status == 200 and "all,applications,4" in csv.body.decode().splitlines()
    bad = api.call("GET", "/v1/reports/origination?from=2026-03-05&to=2026-03-01",
                   key=keys["acme"]["admin"])
    assert bad.status == 422
    assert api.call("GET", "/v1/reports/origination?from=2025-01-01&to=2026-03-01",
                    key=keys["acme"]["admin"]).status == 422


def test_reports_roles(api, keys):
    for path in ("/v1/reports/portfolio", "/v1/reports/portfolio.csv",
                 "/v1/reports/origination?from=2026-03-01&to=2026-03-02",
                 "/v1/reports/origination.csv?from=2026-03-01&to=2026-03-02"):
        assert api.call("GET", path, key=keys["acme"]["partner"]).status == 403
        assert api.call("GET", path, key=keys["beta"]["admin"]).status == 200
    assert datetime.now(UTC).year >= 2026
