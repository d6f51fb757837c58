"""Close of business: idempotent per date, resumable, buckets on the right day."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import boto3

from chalicelib.config import settings
from chalicelib.lending.state_codec import state_json
from chalicelib.services import cob, cob_chunks, servicing
from chalicelib.store import dynamo
from chalicelib.store.ledger import ledger
from tests.integration.servicing_core.loans import active_loan, balances, indexed, status

NOW = datetime(2024, 6, 1, tzinfo=UTC)
HANDLER = "close_of_business_chunk"


class Queue:
    """The COB queue in moto, and delivery to the app's handler like Lambda's event source."""

    def __init__(self, api: Any) -> None:
        self.client = api.client
        self.sqs = boto3.client("sqs")
        self.url = self.sqs.get_queue_url(QueueName=settings().cob_queue)["QueueUrl"]

    def receive(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while True:
            got = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10)
            if not got.get("Messages"):
                return out
            out += got["Messages"]

    def deliver(self, body: str) -> None:
        event = self.client.events.generate_sqs_event(message_bodies=[body],
                                                      queue_name=settings().cob_queue)
        self.client.lambda_.invoke(HANDLER, event)

    def drain(self) -> list[dict[str, Any]]:
        """Delivers every message, and those the deliveries send, deleting each on success."""
        seen = []
        while batch := self.receive():
            for m in batch:
                self.deliver(m["Body"])
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=m["ReceiptHandle"])
                seen.append(json.loads(m["Body"]))
        return seen


def run_day(tenant: str, day: date, now: datetime = NOW, *, wait: bool = True,
            **kw: Any) -> dict[str, Any]:
    """The day's run worked inline (planned, then every chunk in order in this process); `now`
    must be on or after the day (close of business never runs ahead of today). `wait`: first
    for the loans index to catch up, as it has when a real run starts (a lag test does not)."""
    if wait:
        indexed(tenant)
    item = cob.start(tenant, day, now, "test")
    return cob.view(cob_chunks.run_inline(tenant, item["run_id"]["S"], now, **kw))


def snapshot(tenant: str) -> dict[str, Any]:
    """Every loan's servicing state and ledger balances, and the tenant's trial balance."""
    rows = dynamo.client().scan(ConsistentRead=True, TableName=dynamo.table("main"))["Items"]
    ids = sorted(r["loan_id"]["S"] for r in rows if r["sk"]["S"] == "loan"
                 and r["pk"]["S"].startswith(f"{tenant}#"))
    out: dict[str, Any] = {}
    for i in ids:
        loaded = servicing.load(tenant, i)
        out[i] = (json.dumps(state_json(loaded.state), sort_keys=True), balances(tenant, i),
                  loaded.loan.status)
    tb = ledger().trial_balance(tenant)
    out["_trial"] = sorted((line.account_id, str(line.totals)) for line in tb.lines)
    return out


def test_second_run_of_a_date_changes_nothing(api: Any, acme: dict[str, str],
                                              product: str) -> None:
    loans = [active_loan("acme", product, date(2024, 1, 31)) for _ in range(3)]
    first = run_day("acme", date(2024, 2, 10))
    assert first["status"] == "completed" and first["stepped"] == 3
    before = snapshot("acme")
    second = run_day("acme", date(2024, 2, 10))
    assert second["attempt"] == 2 and second["stepped"] == 0 and second["skipped"] == 3
    assert snapshot("acme") == before
    for i in loans:
        loaded = servicing.load("acme", i)
        t = loaded.state.totals(loaded.policy.day_count)
        assert balances("acme", i)["interest"] == t.receivable("interest") > 0
    assert ledger().verify("acme").ok


def test_killed_run_restarted_equals_uninterrupted(api: Any, acme: dict[str, str],
                                                   product: str, monkeypatch: Any) -> None:
    monkeypatch.setattr(cob_chunks, "PAGE", 2)
    a = [active_loan("acme", product, date(2024, 1, 31)) for _ in range(5)]
    killed = run_day("acme", date(2024, 3, 5), stop_after=3)
    assert killed["status"] == "running"
    resumed = run_day("acme", date(2024, 3, 5))
    assert resumed["id"] == killed["id"] and resumed["status"] == "completed"
    after_kill = snapshot("acme")
    reference = {}
    for i in a:  # the reference: each loan's fold through the date, from scratch
        loaded = servicing.load("acme", i)
        fresh = servicing.base_state(loaded.loan)
        from chalicelib.lending.loan_state import derive

        reference[i] = json.dumps(state_json(derive(fresh, [], date(2024, 3, 5),
                                                    loaded.policy)), sort_keys=True)
        assert after_kill[i][0] == reference[i]
        assert after_kill[i][2] == "delinquent"  # Feb 29 missed
    assert ledger().verify("acme").ok


def test_dpd_31_on_the_right_day_across_february(api: Any, acme: dict[str, str],
                                                 product: str) -> None:
    loan_id = active_loan("acme", product, date(2023, 12, 31))  # due Jan 31, Feb 29, Mar 31
    day = date(2024, 1, 31)
    seen = {}
    while day < date(2024, 3, 3):
        day += timedelta(days=1)
        run_day("acme", day)
        v = api.call("GET", f"/v1/loans/{loan_id}/servicing", key=acme["reviewer"]).json
        seen[day] = (v["days_past_due"], v["bucket"], v["status"])
    assert seen[date(2024, 2, 1)] == (1, "1-30", "delinquent")
    assert seen[date(2024, 3, 1)] == (30, "1-30", "delinquent")
    assert seen[date(2024, 3, 2)] == (31, "31-60", "delinquent")
    assert status("acme", loan_id) == "delinquent"
    fees = servicing.load("acme", loan_id).state.installments
    assert fees[0].late_fee == 5000 and fees[1].late_fee == 5000 and fees[0].penalty > 0
    assert balances("acme", loan_id)["penalty"] > 0 and ledger().verify("acme").ok
    # Reminders before the due date and notices after misses went to the outbox.
    rows = dynamo.client().scan(ConsistentRead=True, TableName=dynamo.table("main"))["Items"]
    events = sorted((json.loads(r["body"]["S"])["data"]["due_date"], r["type"]["S"])
                    for r in rows if r["sk"]["S"] == "event" and "type" in r
                    and r["type"]["S"].startswith("installment."))
    assert ("2024-02-29", "installment.due_soon") in events  # 3 days ahead: on Feb 26
    assert ("2024-01-31", "installment.overdue") in events
    assert ("2024-02-29", "installment.overdue") in events
    # The portfolio report sees what close of business computed: one loan, 31 days late.
    report = api.call("GET", "/v1/reports/portfolio?as_of=2024-03-02", key=acme["reviewer"])
    (book,) = report.json["currencies"]
    assert (book["par1"], book["par30"], book["par90"]) == ("1.0000", "1.0000", "0.0000")


def test_custom_ranges_default_and_write_off(api: Any, acme: dict[str, str],
                                             product: str) -> None:
    settings = {"ranges": [{"name": "early", "min_days": 1, "max_days": 5},
                           {"name": "late", "min_days": 6}], "default_after_days": 10}
    r = api.call("PUT", "/v1/settings/delinquency", settings, key=acme["admin"])
    assert r.status == 200, r.json
    loan_id = active_loan("acme", product, date(2024, 1, 31))
    indexed("acme")
    run = api.call("POST", "/v1/cob/runs", {"business_date": "2024-03-10"},
                   key=acme["operator"])
    assert run.status == 202 and run.json["status"] == "running", run.json
    assert len(Queue(api).drain()) == 2  # one chunk, closed by the worker, then the sweep
    got = api.call("GET", f"/v1/cob/runs/{run.json['id']}", key=acme["reviewer"])
    assert (got.json["status"], got.json["stepped"]) == ("completed", 1)
    v = api.call("GET", f"/v1/loans/{loan_id}/servicing", key=acme["reviewer"]).json
    assert (v["days_past_due"], v["bucket"], v["status"]) == (10, "late", "delinquent")
    run_day("acme", date(2024, 3, 11))
    assert status("acme", loan_id) == "defaulted"
    wo = api.call("POST", f"/v1/loans/{loan_id}/write-off", {"reason": "uncollectable"},
                  key=acme["operator"])
    assert wo.status == 200 and wo.json["status"] == "written_off", wo.json
    assert set(balances("acme", loan_id).values()) == {0}
    assert ledger().verify("acme").ok
    assert run_day("acme", date(2024, 3, 12))["stepped"] == 0


def test_cob_endpoints_roles_and_tenancy(api: Any, acme: dict[str, str],
                                         beta: dict[str, str]) -> None:
    r = api.call("POST", "/v1/cob/runs", {"business_date": "2024-03-10"}, key=acme["partner"])
    assert r.status == 403
    run = api.call("POST", "/v1/cob/runs", {"business_date": "2024-03-10"}, key=acme["operator"])
    assert run.status == 202
    assert api.call("GET", f"/v1/cob/runs/{run.json['id']}", key=beta["admin"]).status == 404
    assert api.call("PUT", "/v1/settings/delinquency", {"ranges": [
        {"name": "x", "min_days": 1}]}, key=acme["operator"]).status == 403
