"""The ledger through the API: chart, postings, limits, replay, two-phase, reversal, verify."""

from __future__ import annotations

from typing import Any

import pytest

from tests.lag import settle


@pytest.fixture
def books(api):
    api.tenant("acme")
    keys = {role: api.key("acme", role) for role in ("admin", "operator", "partner")}
    r = api.call("POST", "/v1/ledger/accounts", {
        "account_id": "bank-a", "name": "Cash at bank A", "type": "asset",
        "currency": "CNY", "floor": "0.00"}, key=keys["admin"])
    assert r.status == 201, r.json
    return keys


def money(amount):
    return {"amount": amount, "currency": "CNY"}


def journal(jid, legs, **extra):
    return {"journal_id": jid, "effective_date": "2026-03-01",
            "postings": [{"account_id": a, "side": s, "amount": money(v)} for a, s, v in legs],
            **extra}


def fund(api, key, jid="fund-1", amount="1000.00"):
    return api.call("POST", "/v1/ledger/journals",
                    journal(jid, [("bank-a", "debit", amount), ("funding", "credit", amount)]),
                    key=key)


def balance(api, key, account, as_of=None):
    path = f"/v1/ledger/accounts/{account}" + (f"?as_of={as_of}" if as_of else "")
    r = api.call("GET", path, key=key)
    assert r.status == 200, r.json
    return r.json["balance"]


def verify_ok(api, key):
    r = api.call("POST", "/v1/ledger/verify", key=key)
    assert r.status == 200 and r.json["ok"], r.json["discrepancies"]
    settle()  # the trial balance lists the accounts from an index
    tb = api.call("GET", "/v1/ledger/trial-balance", key=key).json
    assert tb["balanced"]


def test_tenant_gets_the_default_chart(api, books):
    settle()  # the chart is listed from an index
    r = api.call("GET", "/v1/ledger/accounts?limit=100", key=books["operator"])
    ids = {a["id"] for a in r.json["data"]}
    assert ids == {"funding", "channel-clearing", "interest-income", "fee-income",
                   "penalty-income", "borrower-credit", "suspense", "write-off-expense",
                   "bank-a"}
    funding = next(a for a in r.json["data"] if a["type"] == "equity")
    assert funding["policy"] == "sharded" and funding["shards"] == 32


def test_posting_moves_balances_and_books_verify(api, books):
    r = fund(api, books["operator"])
    assert r.status == 201 and r.json["kind"] == "standard"
    cash = balance(api, books["admin"], "bank-a")
    assert (cash["posted"], cash["available"], cash["normal_side"]) == ("1000.00", "1000.00",
                                                                         "debit")
    funding = balance(api, books["admin"], "funding")
    assert funding["posted"] == "1000.00" and funding["normal_side"] == "credit"
    verify_ok(api, books["operator"])
    trail = api.call("GET", "/v1/audit/journal/fund-1", key=books["admin"]).json["data"]
    assert trail[0]["action"] == "journal.posted" and trail[0]["actor_role"] == "operator"


def test_limit_breach_names_the_account_and_writes_nothing(api, books, aws):
    fund(api, books["operator"], amount="100.00")
    entries_before = aws["dynamodb"].scan(ConsistentRead=True, TableName="test-ledger-entries",
                                          Select="COUNT")["Count"]
    r = api.call("POST", "/v1/ledger/journals",
                 journal("pay-1", [("suspense", "debit", "100.01"),
                                   ("bank-a", "credit", "100.01")]), key=books["operator"])
    assert r.status == 422 and r.json["type"].endswith(":limit-exceeded"), r.json
    assert r.json["account_id"] == "bank-a" and r.json["limit"] == "floor"
    after = aws["dynamodb"].scan(ConsistentRead=True, TableName="test-ledger-entries",
                                 Select="COUNT")["Count"]
    assert after == entries_before
    assert balance(api, books["admin"], "bank-a")["posted"] == "100.00"
    assert api.call("GET", "/v1/audit/journal/pay-1", key=books["admin"]).status == 404


def test_unbalanced_and_malformed_journals_are_refused(api, books):
    r = api.call("POST", "/v1/ledger/journals",
                 journal("bad-1", [("bank-a", "debit", "10.00"),
                                   ("funding", "credit", "9.99")]), key=books["operator"])
    assert r.status == 422 and r.json["type"].endswith(":unbalanced-journal")
    bad = journal("bad-2", [("bank-a", "debit", "10.00"), ("funding", "credit", "10.00")])
    bad["postings"][0]["amount"]["amount"] = 10.0
    r = api.call("POST", "/v1/ledger/journals", bad, key=books["operator"])
    assert r.status == 422 and r.json["errors"][0]["pointer"] == "/body/postings/0/amount/amount"
    r = api.call("POST", "/v1/ledger/journals",
                 journal("bad-3", [("nowhere", "debit", "1.00"), ("funding", "credit", "1.00")]),
                 key=books["operator"])
    assert r.status == 404


def test_journal_id_replay_and_conflict(api, books):
    assert fund(api, books["operator"]).status == 201
    replay = fund(api, books["operator"])  # a new Idempotency-Key, the same journal
    assert replay.status == 200 and replay.json["id"] == "fund-1"
    assert balance(api, books["admin"], "bank-a")["posted"] == "1000.00"
    conflict = fund(api, books["operator"], amount="999.00")
    assert conflict.status == 409 and conflict.json["type"].endswith(":journal-conflict")
    assert conflict.json["differences"] == ["postings"]


def test_two_phase_partial_post_exactly_once(api, books):
    fund(api, books["operator"])
    hold = journal("hold-1", [("suspense", "debit", "300.00"),
                              ("bank-a", "credit", "300.00")], pending=True)
    r = api.call("POST", "/v1/ledger/journals", hold, key=books["operator"])
    assert r.status == 201 and r.json["pending_status"] == "open"
    cash = balance(api, books["admin"], "bank-a")
    assert (cash["posted"], cash["pending_out"], cash["available"]) == ("1000.00", "300.00",
                                                                        "700.00")
    partial = {"journal_id": "hold-1-post", "effective_date": "2026-03-02", "postings": [
        {"account_id": "suspense", "side": "debit", "amount": money("250.00")},
        {"account_id": "bank-a", "side": "credit", "amount": money("250.00")}]}
    r = api.call("POST", "/v1/ledger/journals/hold-1/post", partial, key=books["operator"])
    assert r.status == 201 and r.json["kind"] == "post_pending"
    cash = balance(api, books["admin"], "bank-a")
    assert (cash["posted"], cash["pending_out"], cash["available"]) == ("750.00", "0.00", "750.00")
    again = api.call("POST", "/v1/ledger/journals/hold-1/void",
                     {"journal_id": "hold-1-void", "effective_date": "2026-03-02"},
                     key=books["operator"])
    assert again.status == 409 and again.json["type"].endswith(":pending-already-resolved")
    view = api.call("GET", "/v1/ledger/journals/hold-1", key=books["operator"]).json
    assert view["pending_status"] == "posted" and view["resolved_by"] == "hold-1-post"
    verify_ok(api, books["operator"])


def test_reversal_restores_balances_once(api, books):
    fund(api, books["operator"])
    body = {"journal_id": "fund-1-rev", "effective_date": "2026-03-05", "description": "error"}
    r = api.call("POST", "/v1/ledger/journals/fund-1/reverse", body, key=books["operator"])
    assert r.status == 201 and r.json["kind"] == "reversal" and r.json["ref"] == "fund-1"
    assert balance(api, books["admin"], "bank-a")["posted"] == "0.00"
    twice = api.call("POST", "/v1/ledger/journals/fund-1/reverse",
                     {**body, "journal_id": "fund-1-rev2"}, key=books["operator"])
    assert twice.status == 409 and twice.json["type"].endswith(":already-reversed")
    # Point in time: before the reversal the cash was there.
    assert balance(api, books["admin"], "bank-a", "2026-03-04")["posted"] == "1000.00"
    verify_ok(api, books["operator"])


def test_closed_account_refuses_postings(api, books):
    r = api.call("POST", "/v1/ledger/accounts/bank-a/close", key=books["admin"])
    assert r.status == 200 and r.json["status"] == "closed"
    r = fund(api, books["operator"])
    assert r.status == 409 and r.json["type"].endswith(":account-closed")


def test_statement_pages_through_entries(api, books):
    for n in range(3):
        fund(api, books["operator"], jid=f"fund-{n}", amount="10.00")
    seen, cursor = [], None
    while True:
        path = "/v1/ledger/accounts/bank-a/entries?limit=2" + (
            f"&cursor={cursor}" if cursor else "")
        page = api.call("GET", path, key=books["operator"]).json
        seen += [e["journal_id"] for e in page["data"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == ["fund-0", "fund-1", "fund-2"]


def test_roles_and_tenant_boundary(api, books):
    assert api.call("GET", "/v1/ledger/accounts", key=books["partner"]).status == 403
    r = api.call("POST", "/v1/ledger/journals", journal("x", []), key=books["admin"])
    assert r.status == 403  # manual postings are an operator's job
    fund(api, books["operator"])
    api.tenant("acme-corp")
    other = api.key("acme-corp", "operator")
    for path in ("/v1/ledger/accounts/bank-a", "/v1/ledger/journals/fund-1",
                 "/v1/ledger/accounts/bank-a/entries"):
        assert api.call("GET", path, key=other).status == 404, path
    r = api.call("POST", "/v1/ledger/journals/fund-1/reverse",
                 {"journal_id": "steal", "effective_date": "2026-03-05"}, key=other)
    assert r.status == 404
    ids = {a["id"] for a in api.call("GET", "/v1/ledger/accounts?limit=100",
                                     key=other).json["data"]}
    assert "bank-a" not in ids
    assert balance(api, books["admin"], "bank-a")["posted"] == "1000.00"


def test_scheduled_sweep_voids_expired_pendings_once(api, books):
    from datetime import UTC, datetime, timedelta

    from chalicelib.jobs.ledger_sweep import sweep_all as sweep_now

    def sweep_all(*at: Any) -> Any:
        settle()  # the sweep finds pendings through an index, which trails the writes
        return sweep_now(*at)

    fund(api, books["operator"])
    soon = datetime.now(UTC) + timedelta(minutes=1)
    hold = journal("hold-exp", [("suspense", "debit", "300.00"),
                                ("bank-a", "credit", "300.00")], pending=True,
                   expires_at=soon.isoformat())
    assert api.call("POST", "/v1/ledger/journals", hold, key=books["operator"]).status == 201
    assert sweep_all() == {}  # not expired yet
    later = soon + timedelta(minutes=5)
    assert sweep_all(later) == {"acme": 1}
    assert sweep_all(later) == {}  # delivered twice: nothing more happens
    view = api.call("GET", "/v1/ledger/journals/hold-exp", key=books["operator"]).json
    assert view["pending_status"] == "voided"
    assert balance(api, books["admin"], "bank-a")["available"] == "1000.00"
    verify_ok(api, books["operator"])


def test_the_sweep_never_voids_a_payout_reservation(api, books):
    """Issue 14: a disbursement reservation written with a ledger expiry (as before this
    change) is left to the disbursement service, whose payout may have been executed; a
    manual pending beside it is voided as before."""
    from datetime import UTC, datetime, timedelta

    from chalicelib.jobs.ledger_sweep import sweep_all as sweep_now

    def sweep_all(*at: Any) -> Any:
        settle()  # the sweep finds pendings through an index, which trails the writes
        return sweep_now(*at)
    from chalicelib.store.ledger import ledger
    from ledger.chart import DISBURSEMENT, domain_metadata
    from ledger.model import JournalRequest, Posting, Side

    fund(api, books["operator"])
    soon = datetime.now(UTC) + timedelta(minutes=1)
    legs = (Posting("suspense", Side.DEBIT, 10_000, "CNY"),
            Posting("bank-a", Side.CREDIT, 10_000, "CNY"))
    for jid, meta in (("disb:dsb_old:1", domain_metadata(DISBURSEMENT)), ("manual-hold", {})):
        ledger().post("acme", JournalRequest(jid, legs, soon.date(), "", meta, pending=True,
                                             expires_at=soon))
    assert sweep_all(soon + timedelta(minutes=5)) == {"acme": 1}
    views = {j: api.call("GET", f"/v1/ledger/journals/{j}", key=books["operator"]).json
             for j in ("disb:dsb_old:1", "manual-hold")}
    assert views["manual-hold"]["pending_status"] == "voided"
    assert views["disb:dsb_old:1"]["pending_status"] == "open"
    verify_ok(api, books["operator"])
