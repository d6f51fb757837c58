"""Ledger cost and throughput: DynamoDB requests and write units per journal, postings per second.

Runs the DynamoDB adapter against a local ThreadedMotoServer on 127.0.0.1 (with
infra.moto_patches applied when present) and counts every request the adapter makes through a
botocore event hook. Write units follow DynamoDB's pricing: a transactional write costs 2 WCU
per started KB of the item; each item written to a GSI (projection ALL) adds 1 WCU per KB there.

    .venv/bin/python bench/bench_ledger.py [--journals 300] [--threads 8]
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from infra.tables import create_tables
from ledger import JournalRequest, Posting, Side, channel_cash, loan_accounts
from ledger.dynamodb import DynamoLedger

TENANT = "bench"
DAY = date(2024, 5, 1)


class Meter:
    """Counts requests, transaction items and write units from the parameters of each call."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.items = 0
        self.table_wcu = 0
        self.gsi_wcu = 0

    def reset(self) -> None:
        self.__init__()  # type: ignore[misc]

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        self.requests[model.name] += 1
        if model.name != "TransactWriteItems":
            return
        for entry in params["TransactItems"]:
            (op, body), = entry.items()
            self.items += 1
            size = _item_size(body.get("Item") or body.get("Key", {}))
            if op == "Update":
                size = max(size, 400)  # balance/state items stay well under 1 KB
            self.table_wcu += 2 * max(1, math.ceil(size / 1024))
            touches_gsi = "gsi1pk" in body.get("Item", {}) or "gsi1pk" in body.get(
                "UpdateExpression", "")
            if touches_gsi:
                self.gsi_wcu += max(1, math.ceil(size / 1024))


def _item_size(item: dict[str, Any]) -> int:
    """DynamoDB's item size: attribute names plus values (close enough for our flat items)."""
    return sum(len(name) + len(json.dumps(value)) for name, value in item.items())


def start_server() -> tuple[Any, str]:
    from moto.server import ThreadedMotoServer

    try:
        from infra import moto_patches

        moto_patches.apply()
    except ImportError:
        print("note: infra.moto_patches not found; stock moto (slower, not thread-safe)")
    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"


def client_for(endpoint: str, threads: int) -> Any:
    return boto3.client(
        "dynamodb", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="bench", aws_secret_access_key="bench",
        config=Config(max_pool_connections=max(10, threads * 2)),
    )


def simple(i: int) -> JournalRequest:
    return JournalRequest(f"s-{i}", (Posting("cash:alipay", Side.DEBIT, 100, "CNY"),
                                     Posting("funding", Side.CREDIT, 100, "CNY")), DAY)


def disbursement(ledger: DynamoLedger, i: int, loans: int) -> None:
    """Loan principal receivable debit; channel clearing and origination fee credits; pending,
    then posted when the channel confirms."""
    loan = f"L{i % loans}"
    ledger.post(TENANT, JournalRequest(f"d-{i}", (
        Posting(f"loan:{loan}:principal", Side.DEBIT, 10_000, "CNY"),
        Posting("channel-clearing", Side.CREDIT, 9_800, "CNY"),
        Posting("fee-income", Side.CREDIT, 200, "CNY"),
    ), DAY, metadata={"loan_id": loan}, pending=True,
        expires_at=datetime.now(UTC) + timedelta(days=1)))
    ledger.post_pending(TENANT, f"d-{i}-post", f"d-{i}", effective_date=DAY)


def run(ledger: DynamoLedger, work: Any, n: int, threads: int) -> float:
    start = time.perf_counter()
    if threads == 1:
        for i in range(n):
            work(i)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(work, range(n)))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--journals", type=int, default=300)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--shards", type=int, default=32)
    args = parser.parse_args()
    server, endpoint = start_server()
    try:
        client = client_for(endpoint, args.threads)
        meter = Meter()
        client.meta.events.register("provide-client-params.dynamodb.*", meter)
        create_tables(client, "bench-")
        ledger = DynamoLedger(client, "bench-")
        loans = 50
        ledger.open_default_chart(TENANT, "CNY", shards=args.shards)
        ledger.open_accounts(TENANT, [channel_cash("alipay", "CNY")] + [
            spec for n in range(loans) for spec in loan_accounts(f"L{n}", "CNY")])
        ledger.post(TENANT, simple(-1))  # warms the account definition cache
        rows = []
        n = args.journals
        for name, work, journals_per_unit in (
            ("two-leg journal (exact cash / sharded funding)",
             lambda i: ledger.post(TENANT, simple(i)), 1),
            ("loan disbursement: pending + post (3 legs)",
             lambda i: disbursement(ledger, i, loans), 2),
        ):
            meter.reset()
            elapsed = run(ledger, work, n, 1)
            units = n
            rows.append((
                name, sum(meter.requests.values()) / units, dict(meter.requests),
                meter.items / units, meter.table_wcu / units, meter.gsi_wcu / units,
                units * journals_per_unit / elapsed,
            ))
            offset = 10_000 if journals_per_unit == 1 else 20_000
            elapsed_mt = run(ledger, lambda i, w=work, o=offset: w(o + i), n, args.threads)
            rows[-1] = (*rows[-1], n * journals_per_unit / elapsed_mt)
        report = ledger.verify(TENANT)
        print(f"moto server {endpoint}, {n} units per scenario, sharded accounts: "
              f"{args.shards} shards; verify ok={report.ok} ({report.journals} journals, "
              f"{report.entries} entries)\n")
        header = ("scenario (per unit)", "requests", "tx items", "table WCU", "GSI WCU",
                  "journals/s 1 thread", f"journals/s {args.threads} threads")
        print(" | ".join(header))
        print(" | ".join("---" for _ in header))
        for name, reqs, by_op, tx_items, wcu, gsi, rate1, rate_n in rows:
            ops = ", ".join(f"{k} {v / n:g}" for k, v in sorted(by_op.items()))
            print(f"{name} | {reqs:g} ({ops}) | {tx_items:g} | {wcu:g} | {gsi:g} | "
                  f"{rate1:,.0f} | {rate_n:,.0f}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
