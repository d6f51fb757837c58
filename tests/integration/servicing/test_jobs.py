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
