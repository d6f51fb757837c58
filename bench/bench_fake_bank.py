"""Payouts per second through the fake bank over real HTTPS, with 1 and 4 threads.

    .venv/bin/python bench/bench_fake_bank.py [--payouts 200] [--loans 12] [--threads 1 4]
                                              [--json out.json]

Two figures per thread count:
- `protocol`: the `bank_http` adapter alone (signed POST /payouts over kept-alive TLS
  connections to `python -m fakebank`); what the protocol and the fake bank cost.
- `stack`: POST /v1/loans/{id}/disbursements on the local stack routed to a `bank_http` channel
  at the fake bank (routing, reservation, the HTTPS payout, posting); setup (applications,
  signing) is not timed.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def protocol_rate(bank: Any, payouts: int, threads: int) -> dict[str, Any]:
    """The adapter's submit against the fake bank, in-process (moto KMS for the sealed secret)."""
    os.environ.update({"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "bench",
                       "AWS_SECRET_ACCESS_KEY": "bench", "LENDING_TABLE_PREFIX": "bench-",
                       "LENDING_STAGE": "test", "PLATFORM_ADMIN_KEY": "bench-admin-key-0123456789",
                       "API_KEY_PEPPER": "bench-pepper-0123456789abcdef",
                       "TOKEN_SIGNING_SECRET": "bench-token-secret-0123456789"})
    os.environ.pop("AWS_ENDPOINT_URL", None)
    import boto3
    from moto import mock_aws

    from chalicelib import config
    from chalicelib.channels import bank_http
    from chalicelib.channels.protocol import OutcomeKind, Payout
    from chalicelib.lending.beneficiary import Beneficiary
    from chalicelib.services import personal_data

    config.reset()
    personal_data.reset()
    client, secret = f"bench-{uuid.uuid4().hex[:6]}", secrets.token_urlsafe(24)
    bank.add_client(client, secret, None)
    with mock_aws():
        kms = boto3.client("kms")
        key = kms.create_key()["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName=config.settings().kms_alias, TargetKeyId=key)
        sealed = personal_data.seal("bench", bank_http.SECRET_RECORD, "ch_bench",
                                    {"secret": secret})
        adapter = bank_http.BankHttpChannel("ch_bench", {
            "base_url": bank.url, "client_id": client, "api_secret_sealed": sealed,
            "ca_cert_pem": bank.ca_pem})
        who = Beneficiary("bank_account", "王小明", "ICBC", "6200000000000005",
                          "cn_unionpay_card")  # the bank refuses a payout without one
        batch = [Payout(f"dsb_{secrets.token_hex(8)}.1", "bench", "ch_bench", "loan", 100_00,
                        "CNY", who) for _ in range(payouts)]
        adapter.submit(Payout("warm.1", "bench", "ch_bench", "loan", 1, "CNY", who))
        started = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            kinds = list(pool.map(lambda p: adapter.submit(p).kind, batch))
        elapsed = time.perf_counter() - started
    settled = sum(k is OutcomeKind.SETTLED for k in kinds)
    return {"path": "protocol", "threads": threads, "payouts": payouts, "seconds": elapsed,
            "rate": payouts / elapsed, "settled": settled}


def stack_rate(bank: Any, loans: int, threads: int) -> dict[str, Any]:
    """Disbursements through the local stack to a `bank_http` channel at the fake bank."""
    from tests.e2e.conftest import start_stack, stop_stack
    from tests.e2e.test_disbursement import disburse, product, signed_loan, tenant_with_keys
    from tests.e2e.test_fake_bank import bank_channel

    stack = start_stack()
    try:
        keys = tenant_with_keys(stack)
        pid = product(stack, keys)
        _, client = bank_channel(stack, bank, keys, fund="100000000.00")
        ready = [signed_loan(stack, keys, pid, 500 + i) for i in range(loans)]
        started = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            results = list(pool.map(lambda loan: disburse(stack, keys, loan), ready))
        elapsed = time.perf_counter() - started
        settled = sum(stack.call("GET", f"/v1/disbursements/{r.json()['id']}", keys["admin"])
                      .json()["status"] == "settled" for r in results if r.status_code == 202)
        paid = sum(p["client_id"] == client for p in bank.ledger()["payouts"])
    finally:
        stop_stack(stack)
    return {"path": "stack", "threads": threads, "payouts": loans, "seconds": elapsed,
            "rate": loans / elapsed, "settled": settled, "bank_paid": paid}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payouts", type=int, default=200)
    parser.add_argument("--loans", type=int, default=12)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--no-stack", action="store_true", help="the protocol figure only")
    parser.add_argument("--json", type=Path)
    ns = parser.parse_args()
    from infra.fake_bank_process import spawn

    bank = spawn()
    cells = []
    try:
        for threads in ns.threads:
            cells.append(protocol_rate(bank, ns.payouts, threads))
        if not ns.no_stack:
            for threads in ns.threads:
                cells.append(stack_rate(bank, ns.loans, threads))
    finally:
        bank.stop()
    for c in cells:
        extra = f", bank paid {c['bank_paid']}" if "bank_paid" in c else ""
        print(f"fake bank over HTTPS, {c['path']:<8} {c['threads']} threads: {c['payouts']} "
              f"payouts in {c['seconds']:.2f} s = {c['rate']:.1f} payouts/s "
              f"(settled {c['settled']}{extra})", flush=True)
    if ns.json:
        ns.json.write_text(json.dumps({"cells": cells}))


if __name__ == "__main__":
    main()
