"""Reconciliation through the API against a real ledger (moto): every class on one statement,
S3 statements, resolution with a note or an adjusting journal, the nightly verification with
checkpoints that catch edits, isolation and roles."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, timedelta

from chalicelib.lending.money import parse_amount
from chalicelib.services import daily_checks
from chalicelib.store import dynamo
from chalicelib.store import outbox as items
from chalicelib.store import reconciliation as recon_store
from chalicelib.store.ledger import ledger
from ledger.chart import channel_cash
from ledger.model import JournalRequest, Posting, Side

HEADER = "reference,type,amount,currency,value_date\n"


def stored_exception(exception_id, tenant="acme"):
    return items.get(recon_store.exception_pk(tenant, exception_id), recon_store.EXCEPTION_SK)


def money(amount):
    return {"amount": amount, "currency": "CNY"}


def post(api, key, jid, legs, when="2026-03-02", metadata=None, pending=False,
         tenant="acme"):
    """Books a channel movement as the domain commands do (through the ledger itself): the
    ledger API may not touch a channel's cash or clearing (issue 14)."""
    return ledger().post(tenant, JournalRequest(
        jid, tuple(Posting(a, Side(s), parse_amount(v, "CNY"), "CNY") for a, s, v in legs),
        date.fromisoformat(when), "", metadata or {}, pending))


def payout(api, key, ref, amount, jid=None, when="2026-03-02"):
    return post(api, key, jid or f"pay-{ref}", [("channel-clearing", "debit", amount),
                                               ("cash:alipay", "credit", amount)],
                when, {"channel_reference": ref})


def books(api, keys, tenant="acme"):
    k = keys[tenant]
    ledger().open_accounts(tenant, [channel_cash("alipay", "CNY")])
    post(api, k["operator"], "fund-1", [("cash:alipay", "debit", "100000.00"),
                                        ("funding", "credit", "100000.00")], when="2026-02-01",
         tenant=tenant)
    return k


def run(api, key, csv, channel="alipay", **extra):
    return api.call("POST", "/v1/reconciliation/runs", {"channel": channel, "csv": csv, **extra},
                    key=key)


def exceptions(api, key, status=None):
    r = api.call("GET", "/v1/reconciliation/exceptions" + (f"?status={status}" if status else ""),
                 key=key)
    assert r.status == 200, r.json
    return r.json["data"]


def test_a_statement_with_each_kind_of_discrepancy_is_classified_exactly(api, keys, capsys):
    k = books(api, keys)
    op = k["operator"]
    payout(api, op, "PAY-1", "1500.00")                     # matched
    payout(api, op, "PAY-2", "800.00")                      # statement says 880.00
    payout(api, op, "PAY-3", "300.00")                      # not in the statement
    payout(api, op, "PAY-4", "120.00")                      # listed twice in the statement
    # a disbursement: reserved with the reference, posted later without it
    post(api, op, "disb-5", [("channel-clearing", "debit", "640.00"),
                             ("cash:alipay", "credit", "640.00")],
         metadata={"channel_reference": "PAY-5"}, pending=True)
    ledger().post_pending("acme", "disb-5-post", "disb-5", effective_date=date(2026, 3, 2))
    post(api, op, "col-6", [("cash:alipay", "debit", "55.50"),
                            ("channel-clearing", "credit", "55.50")],
         metadata={"channel_reference": "COL-6"})           # a collection, matched
    csv = HEADER + "\n".join([
        "PAY-1,payout,1500.00,CNY,2026-03-02",
        "PAY-2,payout,880.00,CNY,2026-03-02",
        "PAY-4,payout,120.00,CNY,2026-03-02",
        "PAY-4,payout,120.00,CNY,2026-03-03",
        "PAY-5,payout,640.00,CNY,2026-03-03",
        "COL-6,collection,55.50,CNY,2026-03-02",
        "PAY-9,payout,42.00,CNY,2026-03-03",                # unknown to the ledger
    ]) + "\n"
    r = run(api, op, csv)
    assert r.status == 201, r.json
    assert r.json["counts"] == {"matched": 4, "amount_mismatch": 1, "missing_in_ledger": 1,
                                "missing_in_statement": 1, "duplicate": 1}
    assert r.json["statement_sha256"] == hashlib.sha256(csv.encode()).hexdigest()
    assert (r.json["period_start"], r.json["period_end"]) == ("2026-03-02", "2026-03-03")
    found = {(e["kind"], e["reference"]) for e in exceptions(api, op, "open")}
    assert found == {("amount_mismatch", "PAY-2"), ("missing_in_statement", "PAY-3"),
                     ("duplicate", "PAY-4"), ("missing_in_ledger", "PAY-9")}
    mismatch = next(e for e in exceptions(api, op) if e["kind"] == "amount_mismatch")
    assert mismatch["detail"]["statement_line"]["amount"] == "880.00"
    assert mismatch["detail"]["ledger"]["amount"] == "800.00"
    assert mismatch["detail"]["differences"] == ["amount"]
    for e in exceptions(api, op):  # the typed detail drops nothing the run recorded
        raw = json.loads(stored_exception(e["id"])["detail"]["S"])
        assert {k: x for k, x in e["detail"].items() if k in raw or x is not None} == raw

    emitted = [json.loads(x) for x in capsys.readouterr().out.splitlines() if '"_aws"' in x]
    assert [m["ReconciliationExceptions"] for m in emitted] == [4]  # what the alarm watches
    from infra.sam_template import METRIC_NAMESPACE, RECONCILIATION_METRIC

    assert emitted[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == METRIC_NAMESPACE
    assert RECONCILIATION_METRIC in emitted[0]
    again = run(api, op, csv)  # the same statement again: same results, no new exceptions
    assert again.json["counts"] == r.json["counts"]
    assert (again.json["new_exceptions"], again.json["known_exceptions"]) == (0, 4)
    runs = api.call("GET", "/v1/reconciliation/runs", key=k["admin"]).json["data"]
    assert [x["id"] for x in runs] == [again.json["id"], r.json["id"]]


def test_resolution_with_a_note_or_an_adjusting_journal(api, keys):
    k = books(api, keys)
    op = k["operator"]
    payout(api, op, "PAY-1", "100.00")
    csv = HEADER + "PAY-1,payout,100.00,CNY,2026-03-02\nPAY-7,payout,25.00,CNY,2026-03-02\n"
    assert run(api, op, csv).json["counts"]["missing_in_ledger"] == 1
    [exc] = exceptions(api, op, "open")
    # the channel paid out 25.00 the ledger never booked: post it, referenced, with the note
    body = {"note": "payout booked late; adjusted", "journal": {
        "journal_id": "adj-pay-7", "effective_date": "2026-03-02",
        "metadata": {"channel_reference": "PAY-7"},
        "postings": [{"account_id": "suspense", "side": "debit", "amount": money("25.00")},
                     {"account_id": "cash:alipay", "side": "credit", "amount": money("25.00")}]}}
    r = api.call("POST", f"/v1/reconciliation/exceptions/{exc['id']}/resolve", body, key=op)
    assert r.status == 200, r.json
    assert r.json["status"] == "resolved" and r.json["resolution"]["journal_id"] == "adj-pay-7"
    assert r.json["resolution"] == json.loads(stored_exception(exc["id"])["resolution"]["S"])
    journal = api.call("GET", "/v1/ledger/journals/adj-pay-7", key=op).json
    assert journal["metadata"]["reconciliation_exception"] == exc["id"]
    assert run(api, op, csv).json["counts"] == {"matched": 2, "amount_mismatch": 0,
                                                "missing_in_ledger": 0,
                                                "missing_in_statement": 0, "duplicate": 0}
    assert exceptions(api, op, "open") == []
    assert api.call("POST", f"/v1/reconciliation/exceptions/{exc['id']}/resolve",
                    {"note": "again"}, key=op).status == 409
    assert api.call("POST", "/v1/ledger/verify", key=op).json["ok"]


def test_a_failing_adjusting_journal_leaves_the_exception_open(api, keys):
    k = books(api, keys)
    op = k["operator"]
    run(api, op, HEADER + "PAY-8,payout,25.00,CNY,2026-03-02\n")
    [exc] = exceptions(api, op, "open")
    body = {"note": "x", "journal": {
        "journal_id": "adj-bad", "effective_date": "2026-03-02",
        "postings": [{"account_id": "suspense", "side": "debit", "amount": money("1.00")},
                     {"account_id": "no-such-account", "side": "credit",
                      "amount": money("1.00")}]}}
    r = api.call("POST", f"/v1/reconciliation/exceptions/{exc['id']}/resolve", body, key=op)
    assert r.status in (404, 422), r.json
    assert [e["id"] for e in exceptions(api, op, "open")] == [exc["id"]]


def test_statements_from_s3_and_strict_parsing(api, keys, aws):
    k = books(api, keys)
    op = k["operator"]
    payout(api, op, "PAY-1", "100.00")
    aws["s3"].put_object(Bucket="test-documents", Key="acme/statements/alipay/2026-03-02.csv",
                         Body=(HEADER + "PAY-1,payout,100.00,CNY,2026-03-02\n").encode())
    r = api.call("POST", "/v1/reconciliation/runs", {
        "channel": "alipay", "statement_key": "acme/statements/alipay/2026-03-02.csv"}, key=op)
    assert r.status == 201 and r.json["counts"]["matched"] == 1
    assert r.json["source"] == "s3"
    for key in ("beta/statements/alipay/2026-03-02.csv", "acme/statements/other/x.csv"):
        r = api.call("POST", "/v1/reconciliation/runs", {"channel": "alipay",
                                                         "statement_key": key}, key=op)
        assert r.status == 422, r.json
    missing = api.call("POST", "/v1/reconciliation/runs", {
        "channel": "alipay", "statement_key": "acme/statements/alipay/none.csv"}, key=op)
    assert missing.status == 404
    bad = run(api, op, HEADER + "PAY-1,payout,1.001,CNY,2026-03-02\nPAY-2,pay,1.00,CNY,x\n")
    assert bad.status == 422
    assert [e["pointer"] for e in bad.json["errors"]] == [
        "/body/statement/line/2/amount", "/body/statement/line/3/type",
        "/body/statement/line/3/value_date"]
    both = api.call("POST", "/v1/reconciliation/runs", {"channel": "alipay", "csv": HEADER,
                                                        "statement_key": "acme/x"}, key=op)
    assert both.status == 422
    assert run(api, op, HEADER, channel="unknown").status == 422  # no period, empty
    assert run(api, op, HEADER, channel="unknown", period_start="2026-03-01",
               period_end="2026-03-01").status == 404  # no cash account for that channel


def test_nightly_verification_records_ledger_audit_checkpoint_and_statements(api, keys, aws):
    k = books(api, keys)
    op = k["operator"]
    payout(api, op, "PAY-1", "100.00")
    aws["s3"].put_object(Bucket="test-documents", Key="acme/statements/alipay/2026-03-02.csv",
                         Body=(HEADER + "PAY-1,payout,100.00,CNY,2026-03-02\n").encode())
    today = datetime.now(UTC).date().isoformat()
    r = api.call("POST", "/v1/reconciliation/verifications", {"day": today}, key=op)
    assert r.status == 200, r.json
    v = r.json
    assert v["ok"], v
    assert v["ledger"]["ok"] and v["audit"]["ok"] and v["checkpoints"]["ok"]
    assert v["ledger"]["journals"] == 2 and v["audit"]["records"] > 0
    assert [x["counts"]["matched"] for x in v["reconciliation"]["runs"]] == [1]
    # run again: the statement is not reconciled twice
    again = api.call("POST", "/v1/reconciliation/verifications", {"day": today}, key=op).json
    assert again["ok"] and again["reconciliation"]["runs"] == []
    # the typed response carries every key the job recorded, plus each step's `status` tag
    stored = json.loads(daily_checks.stored_verification("acme", date.fromisoformat(today))
                        ["results"]["S"])
    assert {step: {k: x for k, x in again[step].items() if k != "status"}
            for step in stored} == stored
    assert {again[step]["status"] for step in stored} == {"checked"}
    listed = api.call("GET", "/v1/reconciliation/verifications", key=k["admin"]).json["data"]
    assert [x["day"] for x in listed] == [today]
    runs = api.call("GET", "/v1/reconciliation/runs", key=k["admin"]).json["data"]
    assert [x["statement"] for x in runs] == ["acme/statements/alipay/2026-03-02.csv"]
    cps = api.call("GET", "/v1/reconciliation/checkpoints", key=k["admin"]).json["data"]
    assert len(cps) == 1 and cps[0]["covers_from"].startswith("0000")


def test_a_checkpoint_catches_an_audit_record_edited_after_it(api, keys):
    from chalicelib.services import checkpoints

    k = books(api, keys)
    payout(api, k["operator"], "PAY-1", "100.00")
    r = api.call("POST", "/v1/ledger/journals", {  # a manual journal: audited
        "journal_id": "own-1", "effective_date": "2026-03-02", "postings": [
            {"account_id": "suspense", "side": "debit", "amount": money("1.00")},
            {"account_id": "funding", "side": "credit", "amount": money("1.00")}]},
        key=k["operator"])
    assert r.status == 201, r.json
    later = datetime.now(UTC) + timedelta(hours=1)  # everything so far has settled by then
    made = checkpoints.create("acme", later, later)
    assert made["count"] > 0
    assert [c.ok for c in checkpoints.verify_recent("acme")] == [True]
    # someone with table access edits one audit record (content only, hash left alone)
    client = dynamo.client()
    target = next(i for i in client.scan(ConsistentRead=True, TableName="test-audit")["Items"]
                  if i["pk"]["S"].startswith("acme#audit#journal#") and "gsi1sk" in i)
    target["data"] = {"S": '{"legs":3,"effective_date":"2026-03-02"}'}
    client.put_item(TableName="test-audit", Item=target)
    check = api.call("POST", "/v1/reconciliation/checkpoints/verify", key=k["operator"]).json
    assert not check["ok"]
    [bad] = check["data"]
    at = target["gsi1sk"]["S"]
    assert bad["problems"] == [f"{at[:10]} {at[11:13]}:00-{at[11:13]}:59 UTC: records edited "
                               f"or reordered ({made['count']} at checkpoint, "
                               f"{made['count']} now)"]
    # re-hashing the edited record (a forger's next step) does not help: content is recomputed
    from chalicelib.store.audit import from_item, record_hash
    target["hash"] = {"S": record_hash(from_item(target))}
    client.put_item(TableName="test-audit", Item=target)
    assert not checkpoints.verify_recent("acme")[0].ok


def test_checkpoints_tile_time_and_detect_removed_records_and_checkpoints(api, keys):
    from chalicelib.services import checkpoints
    from chalicelib.store import checkpoints as cp_store

    books(api, keys)
    now = datetime.now(UTC)
    first = checkpoints.create("acme", datetime(2026, 1, 2, tzinfo=UTC), now)
    assert first["count"] == 0  # nothing before 2026-01-02
    later = now + timedelta(hours=1)
    second = checkpoints.create("acme", later, later)
    assert second["prev_hash"] == first["checkpoint_hash"]
    assert second["from"] == first["through"] and second["count"] > 0
    assert checkpoints.create("acme", later, later) == second  # nothing new: no new checkpoint
    assert all(c.ok for c in checkpoints.verify_recent("acme"))
    client = dynamo.client()
    record = next(i for i in client.scan(ConsistentRead=True, TableName="test-audit")["Items"]
                  if i["pk"]["S"].startswith("acme#audit#") and "gsi1sk" in i)
    client.delete_item(TableName="test-audit", Key={"pk": record["pk"], "sk": record["sk"]})
    check_second, check_first = checkpoints.verify_recent("acme")
    assert not check_second.ok and "records removed" in check_second.problems[0]
    assert check_second.found_count == check_second.expected_count - 1 and check_first.ok
    client.delete_item(TableName="test-audit", Key={"pk": {"S": cp_store.pk("acme")},
                                                    "sk": {"S": first["through"]}})
    [check_second] = checkpoints.verify_recent("acme")
    assert "links to an earlier checkpoint that no longer exists" in check_second.problems


def test_other_tenants_get_404_and_roles_are_enforced(api, keys):
    acme = books(api, keys)
    beta = keys["beta"]
    run(api, acme["operator"], HEADER + "PAY-8,payout,25.00,CNY,2026-03-02\n")
    [exc] = exceptions(api, acme["operator"])
    assert api.call("POST", f"/v1/reconciliation/exceptions/{exc['id']}/resolve",
                    {"note": "x"}, key=beta["operator"]).status == 404
    for path in ("/v1/reconciliation/runs", "/v1/reconciliation/exceptions",
                 "/v1/reconciliation/checkpoints", "/v1/reconciliation/verifications"):
        assert api.call("GET", path, key=beta["operator"]).json["data"] == []
        for role in ("partner", "reviewer"):
            assert api.call("GET", path, key=acme[role]).status == 403
    # a foreign tenant's run on the same channel name sees none of acme's ledger
    assert run(api, beta["operator"], HEADER + "PAY-8,payout,25.00,CNY,2026-03-02\n"
               ).status == 404
    for role in ("admin", "partner", "reviewer"):
        assert run(api, acme[role], HEADER + "PAY-8,payout,25.00,CNY,2026-03-02\n"
                   ).status == 403
        assert api.call("POST", f"/v1/reconciliation/exceptions/{exc['id']}/resolve",
                        {"note": "x"}, key=acme[role]).status == 403
        assert api.call("POST", "/v1/reconciliation/verifications", {"day": "2026-03-01"},
                        key=acme[role]).status == 403
    for role in ("partner", "reviewer"):
        assert api.call("POST", "/v1/reconciliation/checkpoints/verify",
                        key=acme[role]).status == 403


class Killed(BaseException):
    """The Lambda dying: not an Exception, so nothing in the code under test catches it."""


def test_a_nightly_run_killed_midway_resumes_without_duplicate_exceptions(api, keys, aws):
    from chalicelib.jobs import nightly_checks

    k = books(api, keys)
    op = k["operator"]
    for ref, amount in (("PAY-1", "100.00"), ("PAY-2", "80.00"), ("PAY-3", "30.00")):
        payout(api, op, ref, amount)
    aws["s3"].put_object(Bucket="test-documents", Key="acme/statements/alipay/2026-03-02.csv",
                         Body=(HEADER + "PAY-1,payout,100.00,CNY,2026-03-02\n"
                               "PAY-2,payout,88.00,CNY,2026-03-02\n"
                               "PAY-8,payout,25.00,CNY,2026-03-02\n"
                               "PAY-9,payout,26.00,CNY,2026-03-02\n").encode())
    written = []

    def dies_after_two_exceptions(params, **_):
        if "#recon-exc#" in params["Item"]["pk"]["S"]:
            if len(written) == 2:
                raise Killed
            written.append(params["Item"]["pk"]["S"])

    events = dynamo.client().meta.events
    events.register("before-parameter-build.dynamodb.PutItem", dies_after_two_exceptions)
    now = datetime.now(UTC)
    try:
        try:
            nightly_checks.run_all(now)
            raise AssertionError("the run was not cut off")
        except Killed:
            pass
    finally:
        events.unregister("before-parameter-build.dynamodb.PutItem", dies_after_two_exceptions)
    [cut] = api.call("GET", "/v1/reconciliation/runs", key=k["admin"]).json["data"]
    assert cut["status"] == "running" and len(exceptions(api, op)) == 2
    assert nightly_checks.run_all(now, resume_only=True) == {"acme": False, "beta": True}
    [done] = api.call("GET", "/v1/reconciliation/runs", key=k["admin"]).json["data"]
    assert done["id"] == cut["id"] and done["status"] == "completed"
    assert done["counts"] == {"matched": 1, "amount_mismatch": 1, "missing_in_ledger": 2,
                              "missing_in_statement": 1, "duplicate": 0}
    assert (done["new_exceptions"], done["known_exceptions"]) == (4, 0)
    found = exceptions(api, op)
    assert len(found) == 4 and {e["first_run_id"] for e in found} == {done["id"]}
    # delivered again: the statement is marked, the day complete - nothing changes
    assert nightly_checks.run_all(now) == {"acme": False, "beta": True}
    assert len(api.call("GET", "/v1/reconciliation/runs", key=k["admin"]).json["data"]) == 1
    assert exceptions(api, op) == found
    audit_ok = api.call("POST", "/v1/audit/verify", key=k["admin"]).json
    assert audit_ok["ok"], audit_ok


def test_an_adjusting_journal_corrects_channel_books_but_never_a_loan_or_a_credit(api, keys):
    """Issue 14: reconciliation may adjust what a statement proves (a channel's cash and the
    collections in transit), not a loan's receivables, a borrower's credit or a domain's
    journal ids; the refusal names the command and the exception stays open."""
    k = books(api, keys)
    op = k["operator"]
    run(api, op, HEADER + "PAY-8,payout,25.00,CNY,2026-03-02\n")
    [exc] = exceptions(api, op, "open")
    for account, jid in (("borrower-credit", "adj-1"), ("loan:L1:principal", "adj-2"),
                         ("suspense", "rpy:rpy_forged")):
        body = {"note": "x", "journal": {
            "journal_id": jid, "effective_date": "2026-03-02", "postings": [
                {"account_id": "cash:alipay", "side": "credit", "amount": money("25.00")},
                {"account_id": account, "side": "debit", "amount": money("25.00")}]}}
        r = api.call("POST", f"/v1/reconciliation/exceptions/{exc['id']}/resolve", body, key=op)
        assert r.status == 403 and r.json["type"].endswith(":domain-owned"), r.json
        assert r.json["errors"][0]["pointer"].startswith("/body/journal/"), r.json
    assert [e["id"] for e in exceptions(api, op, "open")] == [exc["id"]]
