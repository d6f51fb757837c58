"""Close of business: loans per second, in-process moto (with the repo's moto patches), and
DynamoDB requests, items and write units per loan-day counted from the calls made.

    .venv/bin/python bench/bench_cob.py [--sizes 1000 5000]

Loans are created directly through the services and the ledger (not HTTP: no scoring, PDF or
signing), disbursed on 2024-01-31; that setup is not timed. Timed: one COB run for business
date 2024-02-01 over the whole portfolio (each loan: one day of accrual, one transaction),
then a second run of the same date (every loan skipped by its marker). The local stack over
HTTP adds ~2 ms per request on top; the per-loan work is the same.

Measured here (2 cores, in-process moto; 1,000 while a test suite shared the CPU; the reruns
before the skip-on-marker shortcut): 200 loans 53.7 loans/s; 1,000 loans 18.5 loans/s;
5,000 loans 26.2 loans/s (191 s); 5x loans -> 3.5x time. Per loan-day: 1 TransactWriteItems,
6 items, ~14 table WCU (the servicing item is ~2-3 KB), 1 BatchGetItem (ledger specs).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DAY = date(2024, 2, 1)
NOW = datetime(2024, 2, 2, tzinfo=UTC)


class Meter:
    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.items = 0
        self.wcu = 0
        self.gsi_items = 0

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        self.requests[model.name] += 1
        if model.name == "TransactWriteItems":
            for entry in params["TransactItems"]:
                (_op, body), = entry.items()
                self.items += 1
                item = body.get("Item") or {}
                size = sum(len(k) + len(str(v)) for k, v in item.items()) if item else 300
                self.wcu += 2 * max(1, math.ceil(size / 1024))
                if "gsi1pk" in item:
                    self.gsi_items += 1
        elif model.name in ("PutItem", "UpdateItem"):
            self.items += 1
            self.wcu += 1


def bench(sizes: list[int]) -> None:
    os.environ.setdefault("PYTEST_CURRENT_TEST", "bench")
    from chalice.test import Client
    from moto import mock_aws

    import tests.conftest as base
    from chalicelib import config
    from infra import moto_patches
    from infra.tables import provision

    moto_patches.apply()
    config.reset()
    rows = []
    for n in sizes:
        with mock_aws():
            import boto3

            provision({s: boto3.client(s) for s in ("dynamodb", "s3", "kms")},
                      base.TEST_ENV["LENDING_TABLE_PREFIX"], base.TEST_ENV["LENDING_BUCKET"])
            from chalicelib.store import dynamo

            dynamo.reset()
            import app as app_module
            from chalicelib.services import cob
            from chalicelib.store.ledger import ledger
            from tests.integration.conftest import Api
            from tests.integration.contracts.helpers import make_product, tenant_keys
            from tests.integration.servicing_core.loans import active_loan

            with Client(app_module.app, stage_name="local") as client:
                api = Api(client)
                keys = tenant_keys(api, "bench")
                pid = make_product(api, keys["admin"], fees={"late": "50.00",
                                                             "penalty_rate_percent": "18"})["id"]
                t0 = time.perf_counter()
                for _ in range(n):
                    active_loan("bench", pid, date(2024, 1, 31))
                setup = time.perf_counter() - t0
                meter = Meter()
                dynamo.client().meta.events.register("provide-client-params.dynamodb.*", meter)
                t0 = time.perf_counter()
                run = cob.start("bench", DAY, NOW, "bench")
                done = cob.view(cob.run("bench", run["run_id"]["S"], NOW))
                first = time.perf_counter() - t0
                dynamo.client().meta.events.unregister("provide-client-params.dynamodb.*", meter)
                t0 = time.perf_counter()
                again = cob.view(cob.run("bench", cob.start("bench", DAY, NOW, "bench")
                                         ["run_id"]["S"], NOW))
                second = time.perf_counter() - t0
                assert done["stepped"] == n and again["stepped"] == 0, (done, again)
                ok = ledger().verify("bench").ok if n <= 1000 else None
            rows.append((n, setup, first, second, meter, ok))
            print(f"{n:>6} loans: setup {setup:7.1f} s | COB {first:7.1f} s = "
                  f"{n / first:6.1f} loans/s ({first / n * 1000:5.1f} ms/loan) | rerun "
                  f"{second:6.1f} s ({n / second:6.0f} loans/s, all skipped) | ledger verify: "
                  f"{ok}", flush=True)
            per = {k: v / n for k, v in meter.requests.items()}
            print(f"        per loan-day: {', '.join(f'{k} {v:.2f}' for k, v in per.items())}; "
                  f"{meter.items / n:.1f} items written, ~{meter.wcu / n:.1f} table WCU, "
                  f"{meter.gsi_items / n:.2f} ledger-index items (journal + entries)", flush=True)
    if len(rows) > 1:
        (n0, _, t0_, *_), (n1, _, t1_, *_) = rows[0], rows[-1]
        print(f"growth: {n1 / n0:.0f}x loans -> {t1_ / t0_:.1f}x time")
    n, _, first, _, meter, _ = rows[-1]
    wcu = meter.wcu / n
    items = meter.items / n
    ms = first / n * 1000
    print(f"\nProjection, 1,000,000 loans on DynamoDB (one loan-day each): {items:.1f} items and "
          f"~{wcu:.0f} WCU per loan-day -> {wcu * 1e6 / 1e6:.0f} M WCU per COB "
          f"(~${wcu * 1e6 * 1.25 / 1e6:.0f} on demand at $1.25/M WRU). A transaction is ~10-20 "
          f"ms on DynamoDB; with a worker doing loans one at a time at ~20 ms each, one Lambda "
          f"does ~{780 / 0.02:,.0f} loans in 13 minutes, so 1,000,000 loans need "
          f"~{math.ceil(1e6 / (780 / 0.02))} workers (26 with margin, e.g. 40 chunks of 25,000); "
          f"at 40 workers x ~50 tx/s = 2,000 tx/s x {wcu:.0f} WCU = {2000 * wcu:,.0f} WCU/s, "
          f"under the 40,000 WCU/s table quota. (moto here: {ms:.1f} ms/loan.)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000])
    bench(parser.parse_args().sizes)


if __name__ == "__main__":
    main()
