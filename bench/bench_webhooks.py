"""What a webhook costs: DynamoDB requests and CPU per event from emit to delivered, at two
sizes, so the per-event cost can be seen not to grow with the backlog.

In-process moto (with infra.moto_patches) and a receiver on 127.0.0.1 over real HTTP; one
tenant, two endpoints, events spread over loans (each loan's events are delivered in order,
issue 16). Runs the delivery worker (`webhook_delivery.run`) until nothing is left and meters
every DynamoDB request (bench/_meter.py).

    .venv/bin/python bench/bench_webhooks.py [--sizes 100 400] [--loans-per 10]

Prints figures; nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import _meter  # noqa: E402

METER = _meter.install()  # before any DynamoDB client exists

import tests.conftest as test_env  # noqa: E402  (the test environment: secrets, prefix)


def one_size(events: int, loans_per: int) -> dict[str, float]:
    import boto3
    from chalice.test import Client
    from moto import mock_aws

    from chalicelib import config
    from chalicelib.lending.events import EventType
    from chalicelib.services import credentials, outbox, personal_data, webhook_delivery
    from chalicelib.store import dynamo
    from chalicelib.store.uow import UnitOfWork
    from infra.tables import provision
    from tests.integration.conftest import Api
    from tests.webhook_receiver import receiving

    config.reset()
    with mock_aws(), receiving() as receiver:
        test_env._apply_moto_patches()
        clients = {n: boto3.client(n) for n in ("dynamodb", "s3", "kms")}
        provision(clients, test_env.TEST_ENV["LENDING_TABLE_PREFIX"],
                  test_env.TEST_ENV["LENDING_BUCKET"])
        dynamo.reset()
        personal_data.reset()
        credentials.forget_all()
        import app as app_module

        with Client(app_module.app, stage_name="local") as client:
            api = Api(client)
            api.tenant("acme")
            admin = api.key("acme", "admin")
            for path in ("/a", "/b"):
                r = api.call("POST", "/v1/webhooks", {"url": receiver.url(path),
                                                      "event_types": ["*"]}, key=admin)
                assert r.status == 201, r.json
        loans = max(1, events // loans_per)
        before, wcu0, _ = METER.snapshot()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for n in range(events):
            uow = UnitOfWork()
            outbox.emit(uow, "acme", EventType.REPAYMENT_RECEIVED,
                        {"loan_id": f"loan_{n % loans:04d}", "repayment_id": f"rep_{n:05d}",
                         "amount": {"amount": "10.00", "currency": "CNY"},
                         "paid_at": "2026-03-02T09:00:00+00:00", "channel": "alipay",
                         "reference": f"ext-{n}", "loan_status": "active"})
            uow.commit()
        emitted, wcu1, _ = METER.snapshot()
        cpu1 = time.process_time()
        runs = 0
        while len(receiver.got()) < 2 * events and runs < 10 * loans_per + 10:
            webhook_delivery.run(dispatch_limit=events, deliver_limit=2 * events)
            runs += 1
        after, wcu2, _ = METER.snapshot()
        cpu2, wall2 = time.process_time(), time.perf_counter()
        assert len(receiver.got()) == 2 * events, (len(receiver.got()), runs)
        return {"events": events, "loans": loans, "runs": runs,
                "emit_requests": sum((emitted - before).values()) / events,
                "emit_wcu": (wcu1 - wcu0) / events,
                "deliver_requests": sum((after - emitted).values()) / events,
                "deliver_wcu": (wcu2 - wcu1) / events,
                "emit_cpu_ms": (cpu1 - cpu0) / events * 1e3,
                "deliver_cpu_ms": (cpu2 - cpu1) / events * 1e3,
                "wall_s": wall2 - wall0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 400])
    parser.add_argument("--loans-per", type=int, default=10,
                        help="events per loan (delivered in order, one after another)")
    ns = parser.parse_args()
    print(f"{'events':>7} {'loans':>6} {'runs':>5} {'emit req/ev':>12} {'emit WCU/ev':>12} "
          f"{'deliver req/ev':>15} {'deliver WCU/ev':>15} {'emit CPU ms/ev':>15} "
          f"{'deliver CPU ms/ev':>18} {'wall s':>7}")
    for size in ns.sizes:
        r = one_size(size, ns.loans_per)
        print(f"{r['events']:>7} {r['loans']:>6} {r['runs']:>5} {r['emit_requests']:>12.1f} "
              f"{r['emit_wcu']:>12.1f} {r['deliver_requests']:>15.1f} {r['deliver_wcu']:>15.1f} "
              f"{r['emit_cpu_ms']:>15.2f} {r['deliver_cpu_ms']:>18.2f} {r['wall_s']:>7.1f}")
    print("(two endpoints: each event is two deliveries; requests and WCU are per event)")


if __name__ == "__main__":
    main()
