"""Close of business on an eventually consistent index (issue 24): under `lag`, the loans
index (and non-consistent base reads) answer as of 2 s ago, as DynamoDB's GSI may. A worker
takes only loan ids from the index and decides from consistent reads, so a loan whose index
row is stale is still closed, with its loan status agreeing with its servicing state, and the
run completes with no open loan's day left open. Each test fails on the workers that built
loans from index rows (the row's status skipped the loan, or hid the status move)."""

from __future__ import annotations

import time as clock
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time
from typing import Any

import pytest

from chalicelib.jobs import cob as cob_job
from chalicelib.services import cob, cob_chunks, loan_lifecycle, repayments
from chalicelib.store import dynamo, loans
from chalicelib.store import servicing as store
from chalicelib.store.audit import Actor
from chalicelib.store.ledger import ledger
from chalicelib.store.uow import UnitOfWork
from infra import moto_lag
from tests.integration.servicing_core.loans import active_loan
from tests.integration.servicing_core.test_cob import NOW, Queue, run_day
from tests.lag import lag, settle

LAG_MS = 2000
DISBURSED = date(2024, 1, 31)  # monthly: due Feb 29, Mar 31, ...
ACTOR = Actor("test", "operator", "req")


@contextmanager
def stale() -> Iterator[None]:
    """`lag(2000, 2000)` whose clock stands still: what is written inside stays unseen by
    lagged reads for the whole block (a run shorter than the lag, however loaded the machine);
    what was written before is settled (under a lagged test run, `--lag-ms`, too)."""
    settle(LAG_MS)
    with lag(index_ms=LAG_MS, base_ms=LAG_MS), pytest.MonkeyPatch.context() as patch:
        now = clock.monotonic()
        patch.setattr(moto_lag, "_NOW", lambda: now)
        yield


def disbursed(tenant: str, loan_id: str) -> None:
    """The payout settles: `disbursing` -> `active` (the index row keeps `disbursing#...`)."""
    uow = UnitOfWork()
    loan_lifecycle.move(uow, tenant, ACTOR, NOW, loan_lifecycle.load(tenant, loan_id),
                        loans.ACTIVE, "loan.disbursed", {})
    uow.commit()


def cure(tenant: str, loan_id: str, on: date) -> None:
    """A payment dated `on` that covers the missed installment and part of the next: the loan
    is `active` again (the index row keeps `delinquent#...`)."""
    uow = UnitOfWork()
    repayments.repay(uow, tenant, ACTOR, NOW, loan_id, 300_000, "CNY",
                     datetime.combine(on, time(9), UTC), "ch", f"cure-{loan_id}")
    uow.commit()
    assert loan_lifecycle.load(tenant, loan_id).status == loans.ACTIVE


def index_status(tenant: str, loan_id: str) -> str:
    """What the (lagged) loans index says the loan's status is."""
    got = dynamo.client().query(TableName=dynamo.table("main"), IndexName="gsi1",
                                KeyConditionExpression="gsi1pk = :p",
                                ExpressionAttributeValues={":p": {"S": loans.list_pk(tenant)}})
    (row,) = [r for r in got["Items"] if r["loan_id"]["S"] == loan_id]
    return str(row["status"]["S"])


def closed(tenant: str, loan_id: str) -> tuple[date | None, str | None, str]:
    """The loan's `through`, its servicing status (None: never closed) and its loan item's
    status, read consistently."""
    item = store.get_servicing(tenant, loan_id)
    status = loan_lifecycle.load(tenant, loan_id).status
    if item is None:
        return None, None, status
    return date.fromisoformat(item["through"]["S"]), item["status"]["S"], status


def test_a_loan_settled_within_the_lag_before_the_run_is_closed(api: Any, acme: dict[str, str],
                                                                product: str) -> None:
    day = date(2024, 2, 10)
    steady = active_loan("acme", product, DISBURSED)
    late = active_loan("acme", product, DISBURSED, status=loans.DISBURSING)
    with stale():
        disbursed("acme", late)
        run = run_day("acme", day, wait=False)
        assert index_status("acme", late) == loans.DISBURSING  # the run saw a stale row
    assert (run["status"], run["stepped"]) == ("completed", 2)
    assert closed("acme", steady) == closed("acme", late) == (day, "active", "active")
    assert ledger().verify("acme").ok


def test_a_loan_turning_delinquent_in_the_run_moves_its_loan_item(api: Any, acme: dict[str, str],
                                                                  product: str) -> None:
    """Delinquent (index row `delinquent#...`), cured within the lag, then delinquent again in
    the run (Mar 31 not fully paid by Apr 1): the step compared the new status with the stale
    row's, saw no move and left the loan item `active` beside a `delinquent` servicing state."""
    loan_id = active_loan("acme", product, DISBURSED)
    assert run_day("acme", date(2024, 3, 1))["stepped"] == 1
    assert closed("acme", loan_id)[1:] == ("delinquent", "delinquent")
    day = date(2024, 4, 1)
    with stale():
        cure("acme", loan_id, date(2024, 3, 1))
        run = run_day("acme", day, wait=False)
        assert index_status("acme", loan_id) == loans.DELINQUENT  # the row the run saw
    assert (run["status"], run["stepped"]) == ("completed", 1)
    assert closed("acme", loan_id) == (day, "delinquent", "delinquent")
    assert ledger().verify("acme").ok


def test_a_fanned_out_run_leaves_no_day_open_under_lag(api: Any, acme: dict[str, str],
                                                       product: str, monkeypatch: Any) -> None:
    """One loan per chunk, over SQS: a steady loan, one settled and one cured within the lag
    (their stale rows sit in other slices than their live ones). The run completes exactly
    once with every open loan closed through the date, statuses agreeing."""
    monkeypatch.setattr(cob_chunks, "CHUNK", 1)
    steady, settled, cured = (active_loan("acme", product, DISBURSED, status=s)
                              for s in (loans.ACTIVE, loans.DISBURSING, loans.ACTIVE))
    assert run_day("acme", date(2024, 3, 1))["stepped"] == 2  # `settled` is not open yet
    day = date(2024, 3, 2)
    with stale():
        disbursed("acme", settled)
        cure("acme", cured, date(2024, 3, 1))
        run_id = cob.start("acme", day, NOW, "test")["run_id"]["S"]
        cob_chunks.dispatch("acme", run_id, NOW)
        sent = [m["chunk"] for m in Queue(api).drain()]
        assert sorted(sent) == [1, 2, 3, 4]  # three slices of one loan, then the sweep
        assert index_status("acme", settled) == loans.DISBURSING
    run = cob.get_run("acme", run_id)
    assert (run["status"]["S"], run["chunks_done"]["N"], run["chunks_total"]["N"]) == (
        "completed", "4", "4")
    assert not cob_chunks.try_complete("acme", run_id, NOW)  # completed exactly once
    # `settled` is closed from its disbursement: Feb 29 missed, delinquent like `steady`
    assert closed("acme", steady) == closed("acme", settled) == (day, "delinquent", "delinquent")
    assert closed("acme", cured) == (day, "active", "active")
    assert ledger().verify("acme").ok



def test_a_second_run_right_after_a_completed_one_is_a_new_attempt(api: Any,
                                                                   acme: dict[str, str],
                                                                   product: str) -> None:
    """The runs index does not show the completed attempt yet: an operator's second run is
    attempt 2 (not the completed attempt 1 handed back), and the schedule still leaves the
    closed day alone (no attempt 3)."""
    active_loan("acme", product, DISBURSED)
    day = date(2024, 2, 10)
    with stale():
        first = run_day("acme", day, wait=False)
        second = run_day("acme", day, wait=False)
        scheduled = cob_job.run_all(now=datetime(2024, 2, 11, 12, tzinfo=UTC))["acme"]
    assert (first["id"], first["stepped"]) == ("cob-2024-02-10-1", 1)
    assert (second["id"], second["status"], second["stepped"], second["skipped"]) == (
        "cob-2024-02-10-2", "completed", 0, 1)
    assert scheduled["status"] == "completed"
    assert store.get_run("acme", "cob-2024-02-10-3") is None


def test_a_loan_quarantined_within_the_lag_has_its_exception_cleared(api: Any,
                                                                    acme: dict[str, str],
                                                                    product: str) -> None:
    """Quarantined, repaired and closed by the next run before the exceptions index shows
    the exception: the page reads it consistently beside the servicing item and clears it."""
    loan_id = active_loan("acme", product, DISBURSED)
    day = date(2024, 2, 10)
    key = {"pk": {"S": loans.loan_pk("acme", loan_id)}, "sk": {"S": store.SERVICING_SK}}
    with stale():
        dynamo.client().put_item(TableName=dynamo.table("main"), Item=store.servicing_item(
            "acme", loan_id, {"through": DISBURSED.isoformat(), "dpd": 0}, [], 1, "active")
            | {"state": {"S": "{not json"}})  # a hand edit gone wrong
        assert run_day("acme", day, wait=False)["quarantined"] == 1
        dynamo.client().delete_item(TableName=dynamo.table("main"), Key=key)  # repaired
        assert run_day("acme", day, wait=False)["stepped"] == 1
    exc = store.get_exception("acme", loan_id) or {}
    assert exc["status"]["S"] == "resolved"
    assert closed("acme", loan_id) == (day, "active", "active")
