"""Request latency p50/p99 per endpoint on the local stack vs a bare Chalice endpoint making the
same number of DynamoDB calls (one run, one client thread, warm).

Why: separates what our request path costs (validation, idempotency, audit, rendering,
logging) from what any Chalice + boto3 handler pays for the same DynamoDB round trips on the
same moto. The DynamoDB calls per endpoint come from bench_operations (`--ops` JSON, or it is
run first). Prints a table; asserts nothing.

    .venv/bin/python bench/bench_latency.py [--requests 40] [--ops ops.json] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _timing import percentile  # noqa: E402
from bench_local_stack import api_post, start_stack, stop_stack  # noqa: E402

from infra.local_stack import PREFIX, aws_env  # noqa: E402
from infra.stack_process import free_port  # noqa: E402


def _timed(fn: Any, n: int) -> list[float]:
    fn(-1)  # warm: first request of a kind (imports, caches)
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def _calls(ops: dict[str, Any], name: str) -> int:
    return round(ops["operations"][name]["total"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--ops", type=Path, help="bench_operations --json output")
    parser.add_argument("--json", type=Path)
    ns = parser.parse_args()
    if ns.ops is None:
        ns.ops = Path("/tmp") / f"bench-ops-{os.getpid()}.json"
        subprocess.run([sys.executable, str(ROOT / "bench" / "bench_operations.py"), "--loans",
                        "2", "--json", str(ns.ops)], check=True, stdout=subprocess.DEVNULL)
    ops = json.loads(ns.ops.read_text())

    import requests

    from tests.integration.origination.conftest import TERMS, application

    stack = start_stack()
    bare: subprocess.Popen[bytes] | None = None
    rows: list[dict[str, Any]] = []
    try:
        s = requests.Session()
        r = api_post(s, stack.base + "/v1/tenants", stack.admin_key,
                     {"tenant_id": "lat", "name": "Latency", "base_currency": "CNY",
                      "time_zone": "UTC"})
        assert r.status_code == 201, r.text
        keys = {}
        for role in ("admin", "operator", "partner"):
            r = api_post(s, f"{stack.base}/v1/tenants/lat/api-keys", stack.admin_key,
                         {"role": role, "name": role})
            keys[role] = r.json()["key"]
        r = api_post(s, stack.base + "/v1/products", keys["admin"],
                     {"name": "Microloan", "terms": TERMS})
        assert r.status_code == 201, r.text
        product = r.json()["id"]

        def journal(i: int) -> None:
            body = {"journal_id": f"lat-{i}-{uuid.uuid4().hex[:6]}", "effective_date":
                    "2026-03-01", "postings": [
                        {"account_id": "suspense", "side": "debit",
                         "amount": {"amount": "1.00", "currency": "CNY"}},
                        {"account_id": "funding", "side": "credit",
                         "amount": {"amount": "1.00", "currency": "CNY"}}]}
            got = api_post(s, stack.base + "/v1/ledger/journals", keys["operator"], body)
            assert got.status_code == 201, got.text

        def read(i: int) -> None:
            got = s.get(stack.base + "/v1/ledger/journals/lat-seed",
                        headers={"Authorization": f"Bearer {keys['operator']}"})
            assert got.status_code == 200, got.text

        def apply(i: int) -> None:
            body = application(product, serial=f"{(i + 2) % 900 + 100}")
            got = api_post(s, stack.base + "/v1/applications", keys["partner"], body)
            assert got.status_code == 201, got.text

        api_post(s, stack.base + "/v1/ledger/journals", keys["operator"], {
            "journal_id": "lat-seed", "effective_date": "2026-03-01", "postings": [
                {"account_id": "suspense", "side": "debit",
                 "amount": {"amount": "1.00", "currency": "CNY"}},
                {"account_id": "funding", "side": "credit",
                 "amount": {"amount": "1.00", "currency": "CNY"}}]})
        endpoints = [("POST /v1/ledger/journals", journal, _calls(ops, "journal (ledger API)")),
                     ("GET /v1/ledger/journals/{id}", read, _calls(ops, "journal read (GET)")),
                     ("POST /v1/applications", apply, _calls(ops, "application"))]
        port = free_port()
        env = {**os.environ, **aws_env(int(stack.moto.rsplit(":", 1)[1]))}
        bare = subprocess.Popen([sys.executable, str(ROOT / "bench" / "_bare_app.py"), "--port",
                                 str(port), "--table", f"{PREFIX}main"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            try:
                if s.get(f"http://127.0.0.1:{port}/bare/0", timeout=2).ok:
                    break
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        for name, fn, calls in endpoints:
            ours = _timed(fn, ns.requests)
            ref = _timed(lambda _i, c=calls: s.get(f"http://127.0.0.1:{port}/bare/{c}"),
                         ns.requests)
            rows.append({"endpoint": name, "dynamodb_calls": calls,
                         "p50_ms": percentile(ours, 50), "p99_ms": percentile(ours, 99),
                         "bare_p50_ms": percentile(ref, 50), "bare_p99_ms": percentile(ref, 99)})
    finally:
        if bare is not None:
            bare.terminate()
            bare.wait(timeout=10)
        stop_stack(stack)
    print(f"Latency on the local stack, {ns.requests} requests each, one client thread "
          "(bare = Chalice + boto3 making the same number of consistent GetItem calls)")
    print(f"{'endpoint':<32}{'calls':>6}{'p50 ms':>8}{'p99 ms':>8}{'bare p50':>9}{'bare p99':>9}"
          f"{'ratio p50':>10}")
    for r in rows:
        print(f"{r['endpoint']:<32}{r['dynamodb_calls']:>6}{r['p50_ms']:>8.1f}{r['p99_ms']:>8.1f}"
              f"{r['bare_p50_ms']:>9.1f}{r['bare_p99_ms']:>9.1f}"
              f"{r['p50_ms'] / r['bare_p50_ms']:>10.2f}")
    if ns.json:
        ns.json.write_text(json.dumps({"latency": rows}, indent=1))


if __name__ == "__main__":
    main()
