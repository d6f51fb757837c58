"""Journal postings per second on the real local stack (`make run`) with 100,000 ledger items.

Why: issue 9 asks that `make run` sustain >= 100 journal postings/s with 100,000 items in the
ledger tables. This starts `python -m infra.local_stack` exactly as `make run` does (free
ports, its own process: moto server + `chalice local` child), fills the ledger tables, then
posts journals from THIS process (a separate one) with N client threads through

  (a) the ledger adapter (`DynamoLedger.post`) against the stack's moto endpoint, and
  (b) the HTTP API (`POST /v1/ledger/journals`, operator key, Idempotency-Key),

and ends with `verify()` of the whole tenant (prefill included): the books must still prove.

Prefill (honest and fast): the journals are built by the ledger itself
(`DynamoLedger.prepare_journal`: the same journal and entry items a posting writes); their Puts
go to the moto server with BatchWriteItem, and each touched balance item is written once with
the sum of the ADD updates those journals would have made (the update expressions are parsed
and checked, so a change in the ledger's item layout fails here rather than faking numbers).
The final verify() proves the prefilled balances equal their entries.

    .venv/bin/python bench/bench_local_stack.py                 # ~3-4 minutes
    .venv/bin/python bench/bench_local_stack.py --items 20000 --seconds 5 --threads 1 4
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import secrets
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from infra.local_stack import PREFIX, REGION  # noqa: E402
from infra.stack_process import StackProcess, interrupt, spawn  # noqa: E402
from ledger.dynamodb import DynamoLedger  # noqa: E402
from ledger.model import (  # noqa: E402
    AccountSpec,
    AccountType,
    BalancePolicy,
    JournalRequest,
    Posting,
    Side,
)

TENANT = "bench"
CURRENCY = "CNY"
PREFILL_ACCOUNTS = 2_000
HOT_ACCOUNTS = 200  # what the timed postings touch (exact, no floor) + the sharded funding


# ---- the stack ------------------------------------------------------------------------------


def start_stack() -> StackProcess:
    """`python -m infra.local_stack` on free ports, as tests/e2e/conftest.py starts it."""
    return spawn("bench-admin-" + secrets.token_urlsafe(16), log_prefix="bench-local-stack-")


def stop_stack(stack: StackProcess) -> None:
    with contextlib.suppress(RuntimeError):  # ignored Ctrl-C: killed; the figures are out
        interrupt(stack)


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process (all its threads), from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


# ---- clients --------------------------------------------------------------------------------


def dynamodb_client(endpoint: str, pool: int = 16) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client("dynamodb", endpoint_url=endpoint, region_name=REGION,
                        aws_access_key_id="local", aws_secret_access_key="local",
                        config=Config(max_pool_connections=pool, retries={"max_attempts": 2}))


def api_post(session: Any, url: str, key: str, body: dict[str, Any]) -> Any:
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": uuid.uuid4().hex}
    return session.post(url, json=body, headers=headers, timeout=60)


def setup_tenant(stack: StackProcess) -> str:
    """Creates the tenant (with its default chart) and an operator key through the API."""
    import requests

    with requests.Session() as s:
        r = api_post(s, stack.base + "/v1/tenants", stack.admin_key,
                     {"tenant_id": TENANT, "name": "Bench", "base_currency": CURRENCY,
                      "time_zone": "UTC"})
        assert r.status_code == 201, r.text
        r = api_post(s, f"{stack.base}/v1/tenants/{TENANT}/api-keys", stack.admin_key,
                     {"role": "operator", "name": "bench"})
        assert r.status_code == 201, r.text
        return str(r.json()["key"])


def count_items(client: Any, tables: list[str]) -> int:
    """Items in these tables (Scan COUNT, every page: one page stops at 1 MB)."""
    total = 0
    for table in tables:
        kwargs: dict[str, Any] = {"TableName": table, "Select": "COUNT"}
        while True:
            page = client.scan(**kwargs)
            total += int(page["Count"])
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return total


def account_id(i: int) -> str:
    return f"acc-{i:05d}"


def open_accounts(ledger: DynamoLedger, n: int) -> None:
    specs = [AccountSpec(account_id(i), f"Bench account {i}", AccountType.ASSET, CURRENCY,
                         BalancePolicy.EXACT, 1) for i in range(n)]
    for part in ledger.prepare_open_accounts(TENANT, specs):
        ledger.commit([part])
    for spec in specs:
        ledger.specs.put(TENANT, spec)


# ---- prefill --------------------------------------------------------------------------------

_ADD = re.compile(r"^ADD (#\w+ :\w+(?:, #\w+ :\w+)*)(?: SET #st = if_not_exists\(#st, :open\))?$")


Key = tuple[str, str, str]


def _apply_update(state: dict[Key, dict[str, Any]], fresh: dict[Key, dict[str, Any]],
                  update: dict[str, Any]) -> None:
    """Folds one balance Update of the ledger into ``state`` (only the shapes it writes)."""
    match = _ADD.match(update["UpdateExpression"])
    if match is None:
        raise RuntimeError(f"prefill cannot model the update {update['UpdateExpression']!r}")
    names, values = update["ExpressionAttributeNames"], update["ExpressionAttributeValues"]
    key = (update["TableName"], update["Key"]["pk"]["S"], update["Key"]["sk"]["S"])
    item = state.get(key)
    if item is None:
        item = fresh.get(key) or dict(update["Key"])
        state[key] = item
    for pair in match.group(1).split(", "):
        name, value = pair.split(" ")
        field = names[name]
        old = int(item.get(field, {"N": "0"})["N"])
        item[field] = {"N": str(old + int(values[value]["N"]))}
    if "if_not_exists" in update["UpdateExpression"] and names["#st"] not in item:
        item[names["#st"]] = values[":open"]


def prefill(ledger: DynamoLedger, client: Any, target_items: int, n_accounts: int) -> int:
    """Writes journals (built by the ledger) until the ledger tables hold ``target_items``."""
    from ledger import items as ledger_items

    bal_items = {}
    for i in range(n_accounts):
        spec = ledger.specs.get(TENANT, account_id(i))
        assert spec is not None
        item = ledger_items.account_bal_item(TENANT, spec)
        bal_items[(ledger.tables.accounts, item["pk"]["S"], item["sk"]["S"])] = item
    existing = count_items(client, [ledger.tables.accounts, ledger.tables.journals,
                                    ledger.tables.entries])
    rng = random.Random(7)
    state: dict[tuple[str, str, str], dict[str, Any]] = {}
    puts: list[tuple[str, dict[str, Any]]] = []
    new_balance_items = 0
    while existing + len(puts) + new_balance_items < target_items:
        a, b = rng.sample(range(n_accounts), 2)
        amount = rng.randint(100, 500_000)
        credit = "funding" if rng.random() < 0.1 else account_id(b)
        request = JournalRequest(f"pf-{len(puts):08d}", (
            Posting(account_id(a), Side.DEBIT, amount, CURRENCY),
            Posting(credit, Side.CREDIT, amount, CURRENCY)), date(2026, 1, 1 + rng.randrange(28)))
        part = ledger.prepare_journal(TENANT, request)
        for entry in part.items:
            op, body = next(iter(entry.items()))
            if op == "Put":
                puts.append((body["TableName"], body["Item"]))
            elif op == "Update":
                before = len(state)
                _apply_update(state, bal_items, body)
                key = (body["TableName"], body["Key"]["pk"]["S"], body["Key"]["sk"]["S"])
                if len(state) > before and key not in bal_items:
                    new_balance_items += 1
            else:
                raise RuntimeError(f"prefill cannot model {op}")
    writes = puts + [(key[0], item) for key, item in state.items()]
    batches = [writes[i:i + 25] for i in range(0, len(writes), 25)]

    def load(chunk: list[list[tuple[str, dict[str, Any]]]]) -> None:
        for batch in chunk:
            request: dict[str, list[dict[str, Any]]] = {}
            for table, item in batch:
                request.setdefault(table, []).append({"PutRequest": {"Item": item}})
            while request:
                request = client.batch_write_item(RequestItems=request)["UnprocessedItems"]

    workers = [threading.Thread(target=load, args=(batches[k::3],)) for k in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return existing + len(puts) + new_balance_items


# ---- timed postings -------------------------------------------------------------------------


def run_threads(threads: int, seconds: float, post_one: Callable[[int, int], None]) -> int:
    """Calls post_one(thread, seq) from ``threads`` threads for ``seconds``; returns the count."""
    done = [0] * threads
    errors: list[BaseException] = []
    stop_at = time.perf_counter() + seconds

    def worker(tid: int) -> None:
        seq = 0
        try:
            while time.perf_counter() < stop_at:
                post_one(tid, seq)
                seq += 1
                done[tid] += 1
        except BaseException as e:  # reported, and the cell fails
            errors.append(e)

    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=seconds + 120)
    if errors:
        raise RuntimeError(f"posting failed: {errors[0]!r}") from errors[0]
    return sum(done)


def _legs(rng: random.Random) -> tuple[str, str]:
    a, b = rng.sample(range(HOT_ACCOUNTS), 2)
    return account_id(a), ("funding" if rng.random() < 0.25 else account_id(b))


def measure(name: str, threads: int, seconds: float, post_one: Callable[[int, int], None],
            pids: dict[str, int]) -> dict[str, Any]:
    cpu0 = {k: cpu_seconds(p) for k, p in pids.items()}
    own0 = time.process_time()
    t0 = time.perf_counter()
    n = run_threads(threads, seconds, post_one)
    wall = time.perf_counter() - t0
    cpu = {k: cpu_seconds(p) - cpu0[k] for k, p in pids.items()}
    cpu["bench"] = time.process_time() - own0
    total_cpu = sum(cpu.values())
    return {"path": name, "threads": threads, "postings": n, "wall": wall, "rate": n / wall,
            "per_cpu_s": n / total_cpu if total_cpu else 0.0,
            "moto_ms": 1000 * cpu["moto"] / n if n else 0.0,
            "api_ms": 1000 * cpu.get("api", 0.0) / n if n else 0.0,
            "client_ms": 1000 * cpu["bench"] / n if n else 0.0, "load": loadavg()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=10.0, help="per cell")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--paths", nargs="+", choices=("adapter", "api"),
                        default=["adapter", "api"], help="which paths to measure")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    ns = parser.parse_args()

    import requests

    t_start = time.perf_counter()
    stack = start_stack()
    try:
        print(f"stack up in {time.perf_counter() - t_start:.1f}s, pid {stack.process.pid} "
              f"(load {loadavg()})",
              file=sys.stderr, flush=True)
        api_pid = next(iter(_children(stack.process.pid)), 0)
        pids = {"moto": stack.process.pid, **({"api": api_pid} if api_pid else {})}
        operator = setup_tenant(stack)
        client = dynamodb_client(stack.moto, pool=max(ns.threads) + 4)
        ledger = DynamoLedger(client, PREFIX)
        open_accounts(ledger, PREFILL_ACCOUNTS)
        t0 = time.perf_counter()
        total = prefill(ledger, client, ns.items, PREFILL_ACCOUNTS)
        print(f"prefill: {total:,} items in the ledger tables in "
              f"{time.perf_counter() - t0:.1f}s", file=sys.stderr, flush=True)

        cells: list[dict[str, Any]] = []
        run_id = uuid.uuid4().hex[:6]
        for threads in ns.threads if "adapter" in ns.paths else []:
            rngs = [random.Random(f"{threads}-{t}") for t in range(threads)]

            def via_adapter(tid: int, seq: int, threads: int = threads,
                            rngs: list[random.Random] = rngs) -> None:
                debit, credit = _legs(rngs[tid])
                amount = rngs[tid].randint(100, 10_000)
                ledger.post(TENANT, JournalRequest(
                    f"a{run_id}-{threads}-{tid}-{seq}",
                    (Posting(debit, Side.DEBIT, amount, CURRENCY),
                     Posting(credit, Side.CREDIT, amount, CURRENCY)), date(2026, 3, 1)))

            cells.append(measure("(a) ledger adapter -> moto", threads, ns.seconds,
                                 via_adapter, pids))
            print(f"  .. {cells[-1]}", file=sys.stderr, flush=True)
        if "api" in ns.paths:
            url = stack.base + "/v1/ledger/journals"
            with requests.Session() as warm:  # first requests import and cache: not measured
                for i in range(20):
                    debit, credit = _legs(random.Random(i))
                    money = {"amount": "1.00", "currency": CURRENCY}
                    r = api_post(warm, url, operator, {
                        "journal_id": f"warm{run_id}-{i}", "effective_date": "2026-03-01",
                        "postings": [{"account_id": debit, "side": "debit", "amount": money},
                                     {"account_id": credit, "side": "credit", "amount": money}]})
                    assert r.status_code == 201, r.text
            for threads in ns.threads:
                rngs = [random.Random(f"api-{threads}-{t}") for t in range(threads)]
                sessions = [requests.Session() for _ in range(threads)]

                def via_api(tid: int, seq: int, threads: int = threads,
                            rngs: list[random.Random] = rngs,
                            sessions: list[Any] = sessions) -> None:
                    debit, credit = _legs(rngs[tid])
                    amount = f"{rngs[tid].randint(1, 100)}.00"
                    body = {"journal_id": f"h{run_id}-{threads}-{tid}-{seq}",
                            "effective_date": "2026-03-01",
                            "postings": [
                                {"account_id": debit, "side": "debit",
                                 "amount": {"amount": amount, "currency": CURRENCY}},
                                {"account_id": credit, "side": "credit",
                                 "amount": {"amount": amount, "currency": CURRENCY}}]}
                    r = api_post(sessions[tid], url, operator, body)
                    if r.status_code != 201:
                        raise RuntimeError(f"{r.status_code}: {r.text[:300]}")

                cells.append(measure("(b) HTTP API -> chalice -> moto", threads, ns.seconds,
                                     via_api, pids))
                print(f"  .. {cells[-1]}", file=sys.stderr, flush=True)
                for s in sessions:
                    s.close()

        t0 = time.perf_counter()
        report = ledger.verify(TENANT)
        verify_s = time.perf_counter() - t0
        items_now = count_items(client, [ledger.tables.accounts, ledger.tables.journals,
                                         ledger.tables.entries])
    finally:
        stop_stack(stack)

    print()
    print(f"Journal postings (2 legs; one TransactWriteItems: 5 items via the adapter, 7 via the "
          f"API with its audit record and Idempotency-Key record) on `make run`'s "
          f"stack, moto with infra.moto_patches, {items_now:,} items in the ledger tables at "
          f"the end; {os.cpu_count()} CPUs")
    print("per CPU-s = postings per CPU-second of moto + chalice + this client together; "
          "ms/posting = CPU per posting of each process")
    header = (f"{'path':<34}{'threads':>7}{'postings':>9}{'per s':>8}{'per CPU-s':>10}"
              f"{'moto ms':>8}{'api ms':>7}{'client ms':>10}  load avg (1/5/15m)")
    print(header)
    print("-" * len(header))
    for c in cells:
        print(f"{c['path']:<34}{c['threads']:>7}{c['postings']:>9}{c['rate']:>8.1f}"
              f"{c['per_cpu_s']:>10.1f}{c['moto_ms']:>8.2f}{c['api_ms']:>7.2f}"
              f"{c['client_ms']:>10.2f}  {c['load']}")
    print(f"verify(): ok={report.ok} accounts={report.accounts} journals={report.journals} "
          f"entries={report.entries} discrepancies={len(report.discrepancies)} "
          f"({verify_s:.1f}s); whole run {time.perf_counter() - t_start:.0f}s")
    if ns.json:
        ns.json.write_text(json.dumps({"items": items_now, "cells": cells, "verify_ok": report.ok,
                                       "cpus": os.cpu_count()}, indent=1))
    if not report.ok:
        for d in report.discrepancies[:10]:
            print("  ", d)
        sys.exit(1)


if __name__ == "__main__":
    main()
