"""Ledger verify on indexes that lag (tests/lag.py): a posting of the last moments is in the
balance items (read consistently) but not yet in the journal and entry indexes; verify re-reads
what disagrees from the base tables, so the books verify, and real damage is still reported."""

from __future__ import annotations

from typing import Any

from ledger.dynamodb import DynamoLedger
from tests.integration.ledger.conftest import TENANT, journal
from tests.lag import lag, settle

LAG_MS = 2000
LAG = {"index_ms": LAG_MS, "base_ms": LAG_MS}


def post_some(ledger: DynamoLedger) -> None:
    ledger.post(TENANT, journal("fund-1", ("cash:alipay", "dr", 10_000), ("funding", "cr", 10_000)))
    ledger.post(TENANT, journal("pay-1", ("loan:L1:principal", "dr", 700),
                                ("cash:alipay", "cr", 700)))
    ledger.post(TENANT, journal("pend-1", ("loan:L1:principal", "dr", 50),
                                ("cash:alipay", "cr", 50), pending=True))
    ledger.post_pending(TENANT, "post-1", "pend-1")


def test_journals_posted_just_before_verify_verify_ok(ledger: DynamoLedger) -> None:
    settle(LAG_MS)  # the chart, opened by the fixture
    with lag(**LAG):
        post_some(ledger)
        report = ledger.verify(TENANT)
    assert report.ok, report.discrepancies
    assert report.journals == 4 and report.entries == 8


def test_a_tampered_balance_is_still_reported_under_lag(ledger: DynamoLedger,
                                                        aws: dict[str, Any]) -> None:
    settle(LAG_MS)
    with lag(**LAG):
        post_some(ledger)
        aws["dynamodb"].update_item(
            TableName="test-ledger-accounts",
            Key={"pk": {"S": f"{TENANT}#acct#cash:alipay"}, "sk": {"S": "bal"}},
            UpdateExpression="ADD posted_dr :n", ExpressionAttributeValues={":n": {"N": "7"}})
        report = ledger.verify(TENANT)
    found = [(d.kind, d.account_id, d.field, d.expected, d.actual)
             for d in report.discrepancies if d.kind == "balance-mismatch"]
    assert found == [("balance-mismatch", "cash:alipay", "posted_dr", 10_000, 10_007)]


def test_a_removed_journal_is_still_reported_under_lag(ledger: DynamoLedger,
                                                       aws: dict[str, Any]) -> None:
    settle(LAG_MS)
    with lag(**LAG):
        post_some(ledger)
        aws["dynamodb"].delete_item(
            TableName="test-ledger-journals",
            Key={"pk": {"S": f"{TENANT}#jrnl#pay-1"}, "sk": {"S": "journal"}})
        report = ledger.verify(TENANT)
    assert {(d.kind, d.journal_id) for d in report.discrepancies} >= {
        ("orphan-entry", "pay-1")}


def test_the_nightly_ledger_check_passes_right_after_postings(api: Any) -> None:
    """Through the API and the nightly step: journals posted within the lag (the tenant and
    its accounts settled before), the new account listed by the lagging index too."""
    from chalicelib.services import daily_checks

    api.tenant(TENANT)
    admin, operator = api.key(TENANT, "admin"), api.key(TENANT, "operator")
    settle(LAG_MS)
    with lag(**LAG):
        r = api.call("POST", "/v1/ledger/accounts", {
            "account_id": "bank-a", "name": "Cash at bank A", "type": "asset",
            "currency": "CNY", "floor": "0.00"}, key=admin)
        assert r.status == 201, r.json
        for n, amount in enumerate(("1000.00", "25.50")):
            r = api.call("POST", "/v1/ledger/journals", {
                "journal_id": f"fund-{n}", "effective_date": "2026-03-01",
                "postings": [{"account_id": a, "side": s,
                              "amount": {"amount": amount, "currency": "CNY"}}
                             for a, s in (("bank-a", "debit"), ("funding", "credit"))]},
                key=operator)
            assert r.status == 201, r.json
        check = daily_checks.ledger_check(TENANT)
        verified = api.call("POST", "/v1/ledger/verify", key=operator)
    assert check["ok"] and check["discrepancies"] == 0, check["shown"]
    assert verified.status == 200 and verified.json["ok"], verified.json["discrepancies"]
