"""The scheduled entry points: bounded, every tenant, safe to run twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib.jobs import nightly_checks, webhook_delivery
from chalicelib.services import outbox
from chalicelib.store.uow import UnitOfWork


def test_nightly_job_checks_every_tenant_and_runs_twice_safely(api, keys):
    now = datetime.now(UTC) + timedelta(days=1)
    assert nightly_checks.run_all(now) == {"acme": True, "beta": True}
    assert nightly_checks.run_all(now) == {"acme": True, "beta": True}
    for tenant in ("acme", "beta"):
        r = api.call("GET", "/v1/reconciliation/verifications", key=keys[tenant]["admin"])
        [v] = r.json["data"]
        assert v["day"] == (now.date() - timedelta(days=1)).isoformat() and v["ok"]
        cps = api.call("GET", "/v1/reconciliation/checkpoints", key=keys[tenant]["admin"])
        assert len(cps.json["data"]) == 1  # the second run added no sliver


def test_webhook_job_delivers_and_reports(api, keys, receiver):
    api.call("POST", "/v1/webhooks", {"url": receiver.url(), "event_types": ["loan.closed"]},
             key=keys["acme"]["admin"])
    uow = UnitOfWork()
    outbox.emit(uow, "acme", "loan.closed", {"loan_id": "loan_1"})
    uow.commit()
    report = webhook_delivery.run_once(datetime.now(UTC) + timedelta(seconds=5))
    assert report["delivered"] == 1 and report["events_dispatched"] == 1
    assert webhook_delivery.run_once(datetime.now(UTC) + timedelta(seconds=5))["attempted"] == 0


def test_nightly_job_isolates_a_failing_tenant_and_the_resume_retries_it(api, keys):
    from botocore.exceptions import ClientError

    from chalicelib.store import dynamo

    def acme_cannot_write(params, **_):
        if params["Item"]["pk"]["S"].startswith("acme#verification#"):
            raise ClientError({"Error": {"Code": "InternalServerError", "Message": "boom"}},
                              "PutItem")

    now = datetime.now(UTC) + timedelta(days=1)
    events = dynamo.client().meta.events
    events.register("before-parameter-build.dynamodb.PutItem", acme_cannot_write)
    try:
        assert nightly_checks.run_all(now) == {"acme": False, "beta": True}
    finally:
        events.unregister("before-parameter-build.dynamodb.PutItem", acme_cannot_write)
    beta = api.call("GET", "/v1/reconciliation/verifications", key=keys["beta"]["admin"])
    [first] = beta.json["data"]
    assert api.call("GET", "/v1/reconciliation/verifications",
                    key=keys["acme"]["admin"]).json["data"] == []
    assert nightly_checks.run_all(now, resume_only=True) == {"acme": True, "beta": True}
    [again] = api.call("GET", "/v1/reconciliation/verifications",
                       key=keys["beta"]["admin"]).json["data"]
    assert again == first  # beta's complete day was not run again
    assert len(api.call("GET", "/v1/reconciliation/verifications",
                        key=keys["acme"]["admin"]).json["data"]) == 1


def test_nightly_job_defers_past_its_budget_and_resumes(api, keys, aws):
    from chalicelib.services import daily_checks

    now = datetime.now(UTC) + timedelta(days=1)
    day = now.date() - timedelta(days=1)
    from chalicelib.store.ledger import ledger
    from ledger.chart import channel_cash

    ledger().open_accounts("acme", [channel_cash("alipay", "CNY")])  # the ledger API may not
    aws["s3"].put_object(Bucket="test-documents", Key=f"acme/statements/alipay/{day}.csv",
                         Body=b"reference,type,amount,currency,value_date\n")
    assert nightly_checks.run_all(now, resume_only=True) == {}  # nothing started that day
    assert nightly_checks.run_all(now, budget_s=-1) == {"acme": None, "beta": None}
    for tenant in ("acme", "beta"):
        assert api.call("GET", "/v1/reconciliation/verifications",
                        key=keys[tenant]["admin"]).json["data"] == []
    # cut off inside the tenant: its statement waits, the day is not complete
    cut = daily_checks.run_tenant("acme", day, now, deadline=-1.0)
    assert not cut["ok"] and cut["reconciliation"]["deferred"] == 1
    assert nightly_checks.run_all(now, resume_only=True) == {"acme": True, "beta": True}
    [v] = api.call("GET", "/v1/reconciliation/verifications",
                   key=keys["acme"]["admin"]).json["data"]
    assert v["ok"] and [x["statement"] for x in v["reconciliation"]["runs"]] == [
        f"acme/statements/alipay/{day}.csv"]
