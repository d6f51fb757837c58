"""Close of business fanned out over SQS: the operator's POST plans chunks and answers 202,
messages are drained from moto's queue and handed to the Chalice SQS handler as real SQS
events; duplicates, a worker killed mid-chunk and lost messages end exactly like the inline
run of a twin tenant."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest

from chalicelib.jobs import cob as cob_job
from chalicelib.lending.state_codec import state_json
from chalicelib.services import cob, cob_chunks, servicing
from chalicelib.store import servicing as store
from chalicelib.store.ledger import ledger
from tests.integration.contracts.helpers import make_product
from tests.integration.servicing_core.loans import active_loan, balances, caught_up, indexed
from tests.integration.servicing_core.test_cob import NOW, Queue, run_day

DAY = date(2024, 3, 5)  # Feb 29 missed: every loan turns delinquent on the way


def portfolio(tenant: str, product: str, n: int) -> list[str]:
    """n active loans, once the loans index shows them (it lags, as DynamoDB's may)."""
    ids = [active_loan(tenant, product, date(2024, 1, 31) + timedelta(days=i % 3))
           for i in range(n)]
    indexed(tenant)
    return ids


def books(tenant: str, ids: list[str]) -> list[Any]:
    """Every loan's servicing state and ledger balances (loan ids left out, so twin tenants
    compare), and the tenant's income accounts."""
    rows = sorted((json.dumps(state_json(servicing.load(tenant, i).state), sort_keys=True),
                   sorted(balances(tenant, i).items())) for i in ids)
    income = {line.account_id: str(line.totals) for line in ledger().trial_balance(tenant).lines
              if line.account_id.endswith("-income")}
    return [rows, income]


@pytest.fixture
def small_chunks(monkeypatch: Any) -> None:
    monkeypatch.setattr(cob_chunks, "CHUNK", 2)
    monkeypatch.setattr(cob_chunks, "PAGE", 1)


@pytest.fixture
def twin(api: Any, beta: dict[str, str]) -> Any:
    """The reference: the same loans in tenant beta, closed by the inline run."""
    def make(n: int) -> list[Any]:
        pid = make_product(api, beta["admin"], fees={"late": "50.00",
                                                     "penalty_rate_percent": "18"})["id"]
        ids = portfolio("beta", pid, n)
        assert run_day("beta", DAY)["stepped"] == n
        return books("beta", ids)
    return make


def test_post_answers_202_and_workers_finish_the_run(api: Any, acme: dict[str, str],
                                                     product: str, twin: Any,
                                                     small_chunks: None,
                                                     monkeypatch: Any) -> None:
    ids = portfolio("acme", product, 5)
    monkeypatch.setattr("chalicelib.api.cob.PLAN_BUDGET_S", -1.0)  # one chunk, then a worker
    r = api.call("POST", "/v1/cob/runs", {"business_date": DAY.isoformat()},
                 key=acme["operator"])
    assert r.status == 202, r.json
    assert (r.json["status"], r.json["planned"], r.json["chunks_total"],
            r.json["processed"]) == ("running", False, 1, 0)
    q = Queue(api)
    first = q.receive()  # the rest of the plan goes to a worker; chunk 1 waits for chunk 2
    assert [json.loads(m["Body"])["kind"] for m in first] == ["plan"]
    q.deliver(first[0]["Body"])
    q.deliver(first[0]["Body"])  # a duplicate plan message plans nothing twice
    chunks = store.list_chunks("acme", r.json["id"])
    bounds = [(json.loads(c["start"]["S"]), json.loads(c["end"]["S"])) for c in chunks]
    assert len(bounds) == 3 and bounds[0][0] is None and all(e for _, e in bounds)
    assert [s for s, _ in bounds[1:]] == [e for _, e in bounds[:-1]]  # contiguous slices
    seen = q.drain()
    assert sorted(m["chunk"] for m in seen) == [1, 2, 3, 4]  # 4: the sweep, added by the last
    got = api.call("GET", f"/v1/cob/runs/{r.json['id']}", key=acme["reviewer"]).json
    assert (got["status"], got["chunks_done"], got["chunks_total"], got["processed"],
            got["stepped"], got["skipped"]) == ("completed", 4, 4, 5, 5, 0)
    assert books("acme", ids) == twin(5)
    assert ledger().verify("acme").ok


def test_duplicates_and_a_killed_worker_change_nothing(api: Any, acme: dict[str, str],
                                                       product: str, twin: Any,
                                                       small_chunks: None,
                                                       monkeypatch: Any) -> None:
    ids = portfolio("acme", product, 5)
    run = api.call("POST", "/v1/cob/runs", {"business_date": DAY.isoformat()},
                   key=acme["operator"]).json
    assert run["planned"] and run["chunks_total"] == 3
    q = Queue(api)
    msgs = {json.loads(m["Body"])["chunk"]: m for m in q.receive()}
    q.deliver(msgs[1]["Body"])
    after_one = cob.get_run("acme", run["id"])
    q.deliver(msgs[1]["Body"])  # at-least-once: the same chunk again
    assert cob.get_run("acme", run["id"]) == after_one

    real, calls = cob.close_loan, []

    def dies_after_the_second_loan(*a: Any) -> str:
        outcome = real(*a)  # the loan is stepped, then the Lambda dies before its page is
        calls.append(outcome)  # recorded
        if len(calls) == 2:
            raise RuntimeError("Lambda killed")
        return outcome

    monkeypatch.setattr(cob, "close_loan", dies_after_the_second_loan)
    indexed("acme")  # chunk 1's loans have left chunk 2's first row (else an empty page)
    with pytest.raises(RuntimeError, match="killed"):
        q.deliver(msgs[2]["Body"])
    monkeypatch.setattr(cob, "close_loan", real)
    chunk = store.get_chunk("acme", run["id"], 2)
    assert (chunk["status"]["S"], chunk["pages"]["N"], chunk["processed"]["N"]) == (
        "running", "1", "1")  # the first page was recorded
    indexed("acme")  # the visibility timeout (5,400 s) is far longer than the index's lag
    q.deliver(msgs[2]["Body"])  # redelivered after the visibility timeout
    q.deliver(msgs[3]["Body"])
    assert [m["chunk"] for m in q.drain()] == [4]  # the sweep
    done = cob.get_run("acme", run["id"])
    for m in msgs.values():  # late duplicates after completion
        q.deliver(m["Body"])
    assert cob.get_run("acme", run["id"]) == done
    assert not cob_chunks.try_complete("acme", run["id"], NOW)  # completed exactly once
    view = cob.view(done)
    # The killed page's loan was stepped (delinquent now: its index sort key moved out of the
    # slice), so the redelivery does not read it and the sweep finds it through (uncounted).
    assert (view["status"], view["processed"], view["stepped"], view["skipped"]) == (
        "completed", 4, 4, 0)
    assert books("acme", ids) == twin(5)
    assert ledger().verify("acme").ok


def test_schedule_inline_for_one_chunk_and_resends_lost_chunks(api: Any, acme: dict[str, str],
                                                               product: str,
                                                               monkeypatch: Any) -> None:
    portfolio("acme", product, 3)
    day = date(2024, 2, 10)
    out = cob_job.run_all(business_date=day, now=NOW)  # 3 loans: one chunk, worked inline
    assert (out["acme"]["status"], out["acme"]["stepped"], out["acme"]["chunks_total"]) == (
        "completed", 3, 2)  # the chunk and its sweep, both inline
    q = Queue(api)
    assert q.receive() == []

    monkeypatch.setattr(cob_chunks, "CHUNK", 2)
    day += timedelta(days=1)
    run = cob.start("acme", day, NOW, "test")
    cob_chunks.dispatch("acme", run["run_id"]["S"], NOW)
    for m in q.receive():  # both messages lost (say, dead-lettered)
        q.sqs.delete_message(QueueUrl=q.url, ReceiptHandle=m["ReceiptHandle"])
    caught_up(store.runs_index_pk("acme", day.isoformat()))  # the resume job lists runs by it
    assert cob_job.run_all(business_date=day, now=NOW, resume_only=True)["acme"][
        "status"] == "running"
    assert q.receive() == []  # not stale yet
    later = NOW + timedelta(seconds=cob_chunks.STALE_S + 1)
    cob_job.run_all(business_date=day, now=later, resume_only=True)
    assert [m["chunk"] for m in q.drain()] == [1, 2, 3]  # both resent, then the sweep
    view = cob.view(cob.get_run("acme", run["run_id"]["S"]))
    assert (view["status"], view["stepped"], view["chunks_done"]) == ("completed", 3, 3)


def test_whole_chunks_leave_no_empty_last_chunk(api: Any, acme: dict[str, str], product: str,
                                                small_chunks: None) -> None:
    """4 loans in chunks of 2 are 2 chunks (and the sweep): the planner looks one loan ahead
    before it calls a full chunk not the last, so no worker is sent an empty slice."""
    portfolio("acme", product, 4)
    run = cob.start("acme", DAY, NOW, "test")
    done = cob.view(cob_chunks.run_inline("acme", run["run_id"]["S"], NOW))
    chunks = store.list_chunks("acme", run["run_id"]["S"])
    assert (done["status"], done["chunks_total"], done["stepped"]) == ("completed", 3, 4)
    assert [int(c["processed"]["N"]) for c in chunks] == [2, 2, 0]  # and the sweep's


def test_a_loan_cured_into_a_worked_slice_is_closed_by_the_sweep(api: Any, acme: dict[str, str],
                                                                  product: str,
                                                                  monkeypatch: Any) -> None:
    """The index sorts by status: A (delinquent) sits in chunk 2, B (active) in chunk 1. Chunk
    1 is worked; then a repayment cures A, whose key moves to `active#...` inside chunk 1's
    worked slice, so chunk 2 no longer holds it. The sweep still closes A's day."""
    from tests.integration.servicing_core.test_repayments import pay

    monkeypatch.setattr(cob_chunks, "CHUNK", 1)
    a = active_loan("acme", product, date(2024, 1, 31))  # due Feb 29: late by Mar 1
    b = active_loan("acme", product, date(2024, 2, 10))
    d1, d2 = date(2024, 3, 1), date(2024, 3, 2)
    assert run_day("acme", d1)["stepped"] == 2
    assert (servicing.load("acme", a).state.status, servicing.load("acme", b).state.status) == (
        "delinquent", "active")
    indexed("acme")
    run = cob.start("acme", d2, NOW, "test")
    cob_chunks.dispatch("acme", run["run_id"]["S"], NOW)
    q = Queue(api)
    msgs = {json.loads(m["Body"])["chunk"]: m for m in q.receive()}
    assert sorted(msgs) == [1, 2]
    q.deliver(msgs[1]["Body"])  # B, the active slice
    r = pay(api, acme["partner"], a, "3000.00", d1.isoformat())  # paid yesterday, seen now
    assert r.status == 201, r.json
    assert servicing.load("acme", a).state.status == "active"  # moved into chunk 1's slice
    indexed("acme")  # and the index shows it there
    q.deliver(msgs[2]["Body"])  # (active#B, delinquent#A]: A is no longer there
    assert [m["chunk"] for m in q.drain()] == [3]  # the sweep
    view = cob.view(cob.get_run("acme", run["run_id"]["S"]))
    assert (view["status"], view["stepped"], view["chunks_total"]) == ("completed", 2, 3)
    assert servicing.load("acme", a).state.through == d2
    assert servicing.load("acme", b).state.through == d2
    assert ledger().verify("acme").ok
