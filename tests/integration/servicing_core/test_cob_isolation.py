"""Close of business isolates failures: a loan that cannot be closed is quarantined (exception
record, metric, partner event), its chunk, its tenant and the other tenants close, and a later
run retries it; a tenant that fails in the scheduled job does not stop the tenants after it."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest

from chalicelib.jobs import cob as cob_job
from chalicelib.services import cob_exceptions, servicing
from chalicelib.store import audit, dynamo, loans, tenants
from chalicelib.store import servicing as store
from chalicelib.store.keys import PLATFORM, key
from chalicelib.store.ledger import ledger
from infra.sam_template import COB_QUARANTINE_METRIC, METRIC_NAMESPACE
from tests.integration.contracts.helpers import make_product
from tests.integration.servicing_core.loans import active_loan, caught_up, indexed
from tests.integration.servicing_core.test_cob import NOW, Queue, run_day

DISBURSED = date(2024, 1, 31)
DAY = date(2024, 2, 10)


def corrupt_servicing(tenant: str, loan_id: str) -> None:
    """A servicing item whose state is not JSON (a bad migration, a hand edit)."""
    dynamo.client().put_item(TableName=dynamo.table("main"), Item=store.servicing_item(
        tenant, loan_id, {"through": DISBURSED.isoformat(), "dpd": 0}, [], 1, "active")
        | {"state": {"S": "{not json: 王小明"}})


def through(tenant: str, loan_id: str) -> date:
    return servicing.load(tenant, loan_id).state.through


def events(kind: str) -> list[dict[str, Any]]:
    rows = dynamo.client().scan(ConsistentRead=True, TableName=dynamo.table("main"))["Items"]
    return [json.loads(r["body"]["S"])["data"] for r in rows
            if r["sk"]["S"] == "event" and r["type"]["S"] == kind]


def metric(capsys: Any) -> list[int]:
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if '"_aws"' in x]
    return [m[COB_QUARANTINE_METRIC] for m in lines if COB_QUARANTINE_METRIC in m
            and m["_aws"]["CloudWatchMetrics"][0]["Namespace"] == METRIC_NAMESPACE]


def exceptions(api: Any, key: str, query: str = "") -> Any:
    """The listing, once its index has caught up (it is eventually consistent)."""
    caught_up(store.exceptions_index_pk("acme"))
    r = api.call("GET", f"/v1/cob/exceptions{query}", key=key)
    assert r.status == 200, r.json
    return r.json


def test_a_loan_that_cannot_be_closed_is_quarantined_and_retried(
        api: Any, acme: dict[str, str], beta: dict[str, str], product: str,
        capsys: Any, caplog: Any) -> None:
    good = [active_loan("acme", product, DISBURSED) for _ in range(2)]
    broken = active_loan("acme", product, DISBURSED)
    corrupt_servicing("acme", broken)
    other = active_loan("beta", make_product(api, beta["admin"])["id"], DISBURSED)
    capsys.readouterr()

    run = run_day("acme", DAY)
    assert run["status"] == "completed", run
    assert (run["stepped"], run["quarantined"], run["processed"]) == (2, 1, 3)
    assert all(through("acme", i) == DAY for i in good)
    assert metric(capsys) == [1]  # what CobLoansQuarantinedAlarm watches
    got = api.call("GET", f"/v1/cob/runs/{run['id']}", key=acme["operator"]).json
    assert got["quarantined"] == 1
    (exc,) = exceptions(api, acme["operator"], "?status=open")["data"]
    assert (exc["loan_id"], exc["status"], exc["business_date"], exc["run_id"],
            exc["occurrences"], exc["error_class"]) == (
        broken, "open", DAY.isoformat(), run["id"], 1, "JSONDecodeError")
    assert "王小明" not in json.dumps(exc) and "Traceback" not in exc["message"]
    logged = [r.getMessage() for r in caplog.records if "quarantined" in r.getMessage()]
    assert logged and "cob_exceptions" not in logged[0] and "servicing.py:" in logged[0]
    assert not any("王小明" in r.getMessage() or r.exc_info for r in caplog.records)
    (event,) = events(cob_exceptions.EVENT)  # the partner event, with the record
    assert event == {"loan_id": broken, "business_date": DAY.isoformat(),
                     "run_id": run["id"], "error_class": "JSONDecodeError"}
    assert api.call("GET", "/v1/cob/exceptions", key=acme["reviewer"]).status == 403
    assert exceptions(api, beta["operator"])["data"] == []  # per tenant

    assert run_day("beta", DAY)["stepped"] == 1 and through("beta", other) == DAY

    again = run_day("acme", DAY)  # a second attempt retries the loan: still broken
    assert (again["quarantined"], again["skipped"]) == (1, 2)
    (exc,) = exceptions(api, acme["operator"])["data"]
    assert (exc["occurrences"], exc["run_id"], exc["first_run_id"]) == (2, again["id"],
                                                                         run["id"])
    assert len(events(cob_exceptions.EVENT)) == 1  # announced when it opened, not nightly

    dynamo.client().delete_item(TableName=dynamo.table("main"), Key={  # repaired
        "pk": {"S": loans.loan_pk("acme", broken)}, "sk": {"S": store.SERVICING_SK}})
    later = run_day("acme", DAY + timedelta(days=1))
    assert (later["stepped"], later["quarantined"]) == (3, 0)
    assert through("acme", broken) == DAY + timedelta(days=1)
    assert exceptions(api, acme["operator"], "?status=open")["data"] == []
    (done,) = exceptions(api, acme["operator"], "?status=resolved")["data"]
    assert (done["loan_id"], done["resolution"]["by"], done["resolution"]["run_id"]) == (
        broken, "cob", later["id"])
    assert ledger().verify("acme").ok and audit.verify_tenant("acme").ok


def test_an_unreadable_product_version_is_quarantined_in_a_fanned_out_chunk(
        api: Any, acme: dict[str, str], product: str, monkeypatch: Any) -> None:
    from chalicelib.services import cob_chunks

    monkeypatch.setattr(cob_chunks, "CHUNK", 2)
    ids = [active_loan("acme", product, DISBURSED) for _ in range(4)]
    dynamo.client().update_item(  # the loan names a version its product never had
        TableName=dynamo.table("main"),
        Key={"pk": {"S": loans.loan_pk("acme", ids[0])}, "sk": {"S": "loan"}},
        UpdateExpression="SET product_version = :v", ExpressionAttributeValues={
            ":v": {"N": "99"}})
    indexed("acme")
    run = api.call("POST", "/v1/cob/runs", {"business_date": DAY.isoformat()},
                   key=acme["operator"]).json
    Queue(api).drain()
    got = api.call("GET", f"/v1/cob/runs/{run['id']}", key=acme["operator"]).json
    assert (got["status"], got["stepped"], got["quarantined"]) == ("completed", 3, 1)
    assert all(through("acme", i) == DAY for i in ids[1:])
    (exc,) = exceptions(api, acme["operator"])["data"]
    assert (exc["loan_id"], exc["error_class"], exc["message"]) == (
        ids[0], "DomainError:not-found", "not-found: Product version not found")


def test_a_ledger_refusal_is_quarantined(api: Any, acme: dict[str, str], product: str) -> None:
    from ledger.chart import loan_account_id

    ok, refused = (active_loan("acme", product, DISBURSED) for _ in range(2))
    ledger().close_account("acme", loan_account_id(refused, "interest"))  # nothing may accrue
    run = run_day("acme", DAY)
    assert (run["status"], run["stepped"], run["quarantined"]) == ("completed", 1, 1)
    assert through("acme", ok) == DAY and through("acme", refused) == DISBURSED
    (exc,) = exceptions(api, acme["operator"])["data"]
    assert exc["loan_id"] == refused and exc["error_class"] == "AccountClosed:account-closed"
    assert ledger().verify("acme").ok


def test_an_unreadable_loan_item_is_quarantined(api: Any, acme: dict[str, str],
                                                product: str) -> None:
    ok, broken = (active_loan("acme", product, DISBURSED) for _ in range(2))
    dynamo.client().update_item(  # a number stored as a string: the item does not decode
        TableName=dynamo.table("main"),
        Key={"pk": {"S": loans.loan_pk("acme", broken)}, "sk": {"S": "loan"}},
        UpdateExpression="SET principal = :p", ExpressionAttributeValues={":p": {"S": "x"}})
    run = run_day("acme", DAY)
    assert (run["status"], run["stepped"], run["quarantined"]) == ("completed", 1, 1)
    assert through("acme", ok) == DAY
    (exc,) = exceptions(api, acme["operator"])["data"]
    assert (exc["loan_id"], exc["error_class"]) == (broken, "AttributeDeserializationError")


def test_an_operator_lists_pages_and_resolves_exceptions(api: Any, acme: dict[str, str],
                                                        product: str) -> None:
    ids = [active_loan("acme", product, DISBURSED) for _ in range(3)]
    for i in ids:
        corrupt_servicing("acme", i)
    run_day("acme", DAY)
    first = exceptions(api, acme["operator"], "?status=open&limit=2")
    assert len(first["data"]) == 2 and first["next_cursor"]
    rest = exceptions(api, acme["operator"], f"?status=open&limit=2&cursor="
                                            f"{first['next_cursor']}")
    assert {e["loan_id"] for e in first["data"] + rest["data"]} == set(ids)
    assert rest["next_cursor"] is None
    assert api.call("GET", f"/v1/cob/exceptions?cursor={first['next_cursor']}",
                    key=acme["operator"]).status == 400  # bound to the query that made it

    url = f"/v1/cob/exceptions/{ids[0]}/resolve"
    r = api.call("POST", url, {"note": "written off by hand"}, key=acme["operator"])
    assert r.status == 200 and r.json["status"] == "resolved", r.json
    assert r.json["resolution"]["note"] == "written off by hand"
    assert api.call("POST", url, {"note": "again"}, key=acme["operator"]).status == 409
    assert api.call("POST", "/v1/cob/exceptions/loan_nope/resolve", {"note": "x"},
                    key=acme["operator"]).status == 404
    assert api.call("POST", url, {"note": "x"}, key=acme["partner"]).status == 403
    assert api.call("POST", url, {"note": ""}, key=acme["operator"]).status == 422
    assert len(exceptions(api, acme["operator"], "?status=open")["data"]) == 2

    rerun = run_day("acme", DAY)  # still broken: the resolved one opens again, announced
    assert rerun["quarantined"] == 3
    assert len(exceptions(api, acme["operator"], "?status=open")["data"]) == 3
    assert len(events(cob_exceptions.EVENT)) == 4
    assert audit.verify_tenant("acme").ok


def test_a_tenant_failing_in_the_schedule_does_not_stop_the_others(
        api: Any, acme: dict[str, str], beta: dict[str, str], product: str) -> None:
    caught_up(key(PLATFORM, "tenants"))  # the job lists tenants by their index
    first, second = list(tenants.tenant_ids())[:2]
    by_tenant = {"acme": product, "beta": make_product(api, beta["admin"])["id"]}
    loan = {t: active_loan(t, by_tenant[t], DISBURSED) for t in (first, second)}
    dynamo.client().put_item(TableName=dynamo.table("main"), Item={  # unreadable settings
        "pk": {"S": store.settings_pk(first)}, "sk": {"S": "delinquency"},
        "body": {"S": "{"}, "version": {"N": "1"}})
    for t in (first, second):
        indexed(t)
    out = cob_job.run_all(business_date=DAY, now=NOW)
    assert out[first] == {"error": "JSONDecodeError"}
    assert out[second]["status"] == "completed" and through(second, loan[second]) == DAY
    assert store.get_servicing(first, loan[first]) is None  # not closed yet

    dynamo.client().delete_item(TableName=dynamo.table("main"), Key={  # repaired
        "pk": {"S": store.settings_pk(first)}, "sk": {"S": "delinquency"}})
    caught_up(store.runs_index_pk(first, DAY.isoformat()))  # the resume job lists runs by it
    resumed = cob_job.run_all(business_date=DAY, now=NOW + timedelta(minutes=30),
                              resume_only=True)
    assert set(resumed) == {first}  # only the unfinished run: its stale chunk sent again
    Queue(api).drain()
    assert through(first, loan[first]) == DAY
    assert store.latest_run(first, DAY.isoformat())["status"]["S"] == "completed"


@pytest.mark.parametrize("code", ["ProvisionedThroughputExceededException",
                                  "InternalServerError"])
def test_an_outage_is_not_blamed_on_a_loan(code: str) -> None:
    from botocore.exceptions import ClientError

    exc = ClientError({"Error": {"Code": code, "Message": "x"}}, "TransactWriteItems")
    assert cob_exceptions.transient(exc)
    assert not cob_exceptions.transient(ValueError("bad state"))
