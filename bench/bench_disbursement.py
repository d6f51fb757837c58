"""Disbursements per second through the local stack (real HTTP), and DynamoDB requests and
write units per disbursement and per payout callback (counted in-process at botocore's
`_make_api_call`: every client's requests, pynamodb's and the ledger's included).

    .venv/bin/python bench/bench_disbursement.py [--loans 24] [--threads 4]

Setup (applications, acceptance, signing) is not timed; only POST /v1/loans/{id}/disbursements,
which routes, reserves (pending journal), pays through the sandbox channel and posts, is.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def http_throughput(loans: int, threads: int) -> None:
    from tests.e2e.conftest import start_stack, stop_stack
    from tests.e2e.test_disbursement import (
        channel,
        disburse,
        post0,
        product,
        signed_loan,
        tenant_with_keys,
    )

    stack = start_stack()
    try:
        if stack.process.stdout is not None:  # nobody reads the pipe: drain it
            import threading

            threading.Thread(target=lambda: [None for _ in stack.process.stdout],
                             daemon=True).start()
        keys = tenant_with_keys(stack)
        pid = product(stack, keys)
        channel(stack, keys, "main", "100000000.00", fixed_cost="1.00")
        channel(stack, keys, "backup", "100000000.00", fixed_cost="2.00")
        ready = [signed_loan(stack, keys, pid, 100 + i) for i in range(loans)]
        started = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            results = list(pool.map(lambda loan: disburse(stack, keys, loan), ready))
        elapsed = time.perf_counter() - started
        ok = sum(r.status_code == 202 for r in results)
        settled = sum(stack.call("GET", f"/v1/disbursements/{r.json()['id']}", keys["admin"])
                      .json()["status"] == "settled" for r in results if r.status_code == 202)
        verified = post0(stack, "/v1/ledger/verify", keys["admin"]).json()["ok"]
        print(f"HTTP (local stack, moto server): {loans} disbursements, {threads} threads: "
              f"{elapsed:.2f} s, {loans / elapsed:.1f} disbursements/s, "
              f"{elapsed / loans * 1000:.0f} ms each; accepted {ok}, settled {settled}, "
              f"ledger verifies: {verified}")
    finally:
        stop_stack(stack)


class Meter:
    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.items = 0
        self.wcu = 0

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        self.requests[model.name] += 1
        if model.name == "TransactWriteItems":
            for entry in params["TransactItems"]:
                (op, body), = entry.items()
                if op == "ConditionCheck":
                    self.items += 1
                    self.wcu += 2
                    continue
                self.items += 1
                size = sum(len(k) + len(str(v)) for k, v in (body.get("Item") or {}).items())
                self.wcu += 2 * max(1, math.ceil(size / 1024))
        elif model.name in ("PutItem", "UpdateItem", "DeleteItem"):
            self.items += 1
            size = sum(len(k) + len(str(v)) for k, v in (params.get("Item") or {}).items())
            self.wcu += max(1, math.ceil(size / 1024))


class _Counted:
    """Every DynamoDB request of any botocore client (boto3's, pynamodb's, the ledger's),
    counted at `_make_api_call` and priced by `Meter`."""

    def __init__(self) -> None:
        import botocore.client

        self.meter = Meter()
        self._client = botocore.client.BaseClient
        self._original = self._client._make_api_call
        meter, original = self.meter, self._original

        def counted(client: Any, operation: str, params: dict[str, Any]) -> Any:
            if client.meta.service_model.service_name == "dynamodb":
                meter(client.meta.service_model.operation_model(operation), params)
            return original(client, operation, params)

        self._client._make_api_call = counted  # type: ignore[method-assign]

    def close(self) -> Counter[str]:
        self._client._make_api_call = self._original  # type: ignore[method-assign]
        return self.meter.requests


def _describe(what: str, meter: Meter) -> str:
    writes = sum(meter.requests[n] for n in ("TransactWriteItems", "PutItem", "UpdateItem",
                                             "DeleteItem"))
    return (f"{what}: {sum(meter.requests.values())} DynamoDB requests ({writes} writes: "
            f"{meter.requests['TransactWriteItems']} transactions), {meter.items} items "
            f"written, ~{meter.wcu} table WCU (GSI writes not counted); by kind: "
            f"{dict(meter.requests)}")


def write_units() -> None:
    os.environ.setdefault("PYTEST_CURRENT_TEST", "bench")
    from chalice.test import Client
    from moto import mock_aws

    import tests.conftest as base  # sets the test environment
    from chalicelib import config
    from infra.tables import provision

    config.reset()
    with mock_aws():
        import boto3

        provision({n: boto3.client(n) for n in ("dynamodb", "s3", "kms")},
                  base.TEST_ENV["LENDING_TABLE_PREFIX"], base.TEST_ENV["LENDING_BUCKET"])
        from chalicelib.store import dynamo

        dynamo.reset()
        import app as app_module
        from tests.integration.conftest import Api
        from tests.integration.contracts.helpers import (
            accepted_loan,
            contract_of,
            make_product,
            sign,
            tenant_keys,
        )
        from tests.integration.disbursement.conftest import callback

        with Client(app_module.app, stage_name="local") as client:
            api = Api(client)
            keys = tenant_keys(api, "bench")
            pid = make_product(api, keys["admin"])["id"]
            aws = {"dynamodb": boto3.client("dynamodb")}

            def new_channel(name: str, **sandbox: Any) -> dict[str, Any]:
                ch = api.call("POST", "/v1/channels", {
                    "name": name, "type": "sandbox", "currency": "CNY",
                    "settlement_seconds": 60, "sandbox": sandbox}, key=keys["admin"]).json
                api.call("POST", f"/v1/channels/{ch['id']}/fundings",
                         {"amount": "1000000.00", "reference": "init"}, key=keys["operator"])
                return ch

            serials = iter(range(100, 999))

            def signed() -> str:
                loan = accepted_loan(api, keys, pid, serial=str(next(serials)))
                loan_id = loan["loan"]["id"]
                assert sign(api, keys, contract_of(aws, "bench", loan_id),
                            loan["applicant"]).status == 200
                return loan_id

            def disburse(loan_id: str) -> dict[str, Any]:
                r = api.call("POST", f"/v1/loans/{loan_id}/disbursements",
                             key=keys["partner"], idem=str(uuid.uuid4()))
                assert r.status == 202, r.json
                return r.json

            sync_ch = new_channel("c")
            first, second = signed(), signed()
            counted = _Counted()
            disburse(first)
            counted.close()
            print(_describe("One disbursement (request + routing + reserve + sandbox settle + "
                            "post), in-process, first of the process", counted.meter))
            counted = _Counted()
            disburse(second)
            counted.close()
            print(_describe("One disbursement, warm process", counted.meter))
            async_ch = new_channel("async", settle="callback")
            api.call("PATCH", f"/v1/channels/{sync_ch['id']}", {"enabled": False},
                     key=keys["admin"])  # the callback channel pays the next ones
            payouts = []
            for loan_id in (signed(), signed()):
                d = disburse(loan_id)
                got = api.call("GET", f"/v1/disbursements/{d['id']}", key=keys["admin"]).json
                payouts.append(got["attempts"][0]["payout_id"])
            for label, payout in zip(("first for the channel in the process", "warm"),
                                     payouts, strict=True):
                counted = _Counted()
                r = callback(api, async_ch, {"type": "payout.settled", "payout_id": payout})
                counted.close()
                assert r.status == 200 and r.json["outcome"] == "processed", r.json
                print(_describe(f"One payout callback (payout.settled, signed), {label}",
                                counted.meter))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--loans", type=int, default=24)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    write_units()
    http_throughput(args.loans, args.threads)


if __name__ == "__main__":
    main()
