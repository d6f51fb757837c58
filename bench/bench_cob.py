"""Close of business on the local stack: loans/s from 1,000 to 20,000 loans, the DynamoDB
requests and write units per loan, and the projection for a 1,000,000-loan tenant.

    .venv/bin/python bench/bench_cob.py                         # 1,000 and 5,000 loans
    .venv/bin/python bench/bench_cob.py --sizes 1000 2000 5000 10000 20000 --chunk 5000

Per size, a fresh `python -m infra.local_stack` (moto server over HTTP with the repo's moto
patches, `chalice local`, the COB queue; its own queue workers off: `--cob-workers 0`). The
tenant and its product are made through the HTTP API. The loans are seeded fast and honestly:
the same functions the accept/disburse path uses build each loan's items (loan item, audit
record, ledger accounts, then the disbursement journal), and they reach moto by BatchWriteItem
instead of one transaction each; the balance updates are folded (bench_local_stack's checked
ADD fold) so the ledger still verifies. Not timed.

Timed: the coordinator (`cob.start` + `cob_chunks.dispatch`, what the daily schedule and
`POST /v1/cob/runs` run: keys-only planning, chunk items, SQS sends) in this process, and
`--workers` threads here that receive the chunk messages from the stack's SQS and hand them
to the app's own handler (`close_of_business_chunk`), until the run completes. Business date
2024-02-01, each loan disbursed 2024-01-31: one day of accrual, one transaction per loan. Then
a second run of the date (every loan skipped by its marker). Requests are counted from this
process's botocore events (every DynamoDB and SQS call of coordinator and workers); write
units are estimated from the item sizes (transactional: 2 WCU per KB).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import secrets
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_local_stack import (  # noqa: E402
    _apply_update,
    api_post,
    loadavg,
    start_stack,
    stop_stack,
)

from infra.local_stack import BUCKET, PREFIX, REGION  # noqa: E402

TENANT = "bench"
DAY = date(2024, 2, 1)
DISBURSED = date(2024, 1, 31)
NOW = datetime(2024, 2, 2, tzinfo=UTC)
HANDLER = "close_of_business_chunk"
# Typical DynamoDB latencies in-region (ms, p50-ish) for the projection: a 6-item
# TransactWriteItems, a BatchGetItem of a few small items, a Query page, an SQS call.
LATENCY_MS = {"TransactWriteItems": 15.0, "BatchGetItem": 5.0, "Query": 8.0, "GetItem": 4.0,
              "UpdateItem": 6.0, "PutItem": 6.0, "sqs": 10.0}


class Meter:
    """Counts this process's DynamoDB requests, items written and estimated write units."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.items = 0
        self.wcu = 0.0
        self.lock = threading.Lock()

    @staticmethod
    def _kb(item: dict[str, Any]) -> int:
        return max(1, math.ceil(len(json.dumps(item)) / 1024))

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        with self.lock:
            self.requests[model.name] += 1
            if model.name == "TransactWriteItems":
                for entry in params["TransactItems"]:
                    (op, body), = entry.items()
                    if op == "ConditionCheck":
                        continue
                    self.items += 1
                    self.wcu += 2 * (self._kb(body["Item"]) if "Item" in body else 1)
            elif model.name in ("PutItem", "UpdateItem"):
                self.items += 1
                self.wcu += self._kb(params["Item"]) if "Item" in params else 1


def app_env(moto: str) -> None:
    """This process runs the app's code against the stack's moto, like a worker Lambda."""
    os.environ.update({
        "AWS_ENDPOINT_URL": moto, "AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local", "LENDING_TABLE_PREFIX": PREFIX,
        "LENDING_BUCKET": BUCKET, "LENDING_STAGE": "local",
        "PLATFORM_ADMIN_KEY": secrets.token_urlsafe(24),
        "API_KEY_PEPPER": secrets.token_urlsafe(24),
        "TOKEN_SIGNING_SECRET": secrets.token_urlsafe(24)})
    for name in ("PYTEST_CURRENT_TEST", "LENDING_SECRETS_ID"):
        os.environ.pop(name, None)
    from chalicelib import config
    from chalicelib.services import cob_chunks
    from chalicelib.store import dynamo

    config.reset()
    dynamo.reset()
    cob_chunks._sqs.cache_clear()
    cob_chunks._queue_url.cache_clear()


def setup_tenant(stack: Any) -> str:
    """Tenant (default chart of accounts), admin key and a product, through the HTTP API."""
    import requests

    from tests.integration.origination.conftest import TERMS

    with requests.Session() as s:
        r = api_post(s, stack.base + "/v1/tenants", stack.admin_key,
                     {"tenant_id": TENANT, "name": "Bench", "base_currency": "CNY",
                      "time_zone": "UTC"})
        assert r.status_code == 201, r.text
        r = api_post(s, f"{stack.base}/v1/tenants/{TENANT}/api-keys", stack.admin_key,
                     {"role": "admin", "name": "bench"})
        assert r.status_code == 201, r.text
        admin = r.json()["key"]
        terms = {**TERMS, "fees": {"late": "50.00", "penalty_rate_percent": "18"}}
        r = api_post(s, stack.base + "/v1/products", admin, {"name": "Microloan",
                                                             "terms": terms})
        assert r.status_code == 201, r.text
        return str(r.json()["id"])


# ---- seeding ---------------------------------------------------------------------------------

class Writer:
    """Collects a unit of work's items: Puts go out by BatchWriteItem (3 threads), balance
    Updates are folded into their final item (the ledger's ADD shapes only, checked)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.puts: list[tuple[str, dict[str, Any]]] = []
        self.fresh: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.state: dict[tuple[str, str, str], dict[str, Any]] = {}

    def take(self, items: list[dict[str, Any]]) -> None:
        for entry in items:
            (op, body), = entry.items()
            if op == "Put":
                self.puts.append((body["TableName"], body["Item"]))
                key = (body["TableName"], body["Item"]["pk"]["S"], body["Item"]["sk"]["S"])
                self.fresh[key] = body["Item"]
            elif op == "Update":
                key = (body["TableName"], body["Key"]["pk"]["S"], body["Key"]["sk"]["S"])
                if key not in self.state and key not in self.fresh:
                    got = self.client.get_item(TableName=key[0], Key=body["Key"],
                                               ConsistentRead=True).get("Item")
                    if got:
                        self.fresh[key] = got
                _apply_update(self.state, self.fresh, body)
            elif op != "ConditionCheck":
                raise RuntimeError(f"seeding cannot model {op}")

    def flush(self, with_state: bool = False) -> None:
        writes = self.puts + ([(k[0], v) for k, v in self.state.items()] if with_state else [])
        self.puts = []
        batches = [writes[i:i + 25] for i in range(0, len(writes), 25)]

        def load(part: list[list[tuple[str, dict[str, Any]]]]) -> None:
            for batch in part:
                request: dict[str, list[dict[str, Any]]] = {}
                for table, item in batch:
                    request.setdefault(table, []).append({"PutRequest": {"Item": item}})
                while request:
                    request = self.client.batch_write_item(
                        RequestItems=request)["UnprocessedItems"]

        threads = [threading.Thread(target=load, args=(batches[k::3],)) for k in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


def seed(product_id: str, n: int) -> list[str]:
    """n active loans, as tests/integration/servicing_core/loans.active_loan makes them."""
    from chalicelib.lending.quote import quote
    from chalicelib.services.products import terms_of
    from chalicelib.store import audit, dynamo
    from chalicelib.store.audit import Actor
    from chalicelib.store.ledger import ledger
    from chalicelib.store.loans import ACTIVE, LoanItem, list_pk, list_sk, loan_pk
    from chalicelib.store.uow import UnitOfWork, put_aggregate
    from ledger.chart import FEE_INCOME, FUNDING, loan_account_id, loan_accounts
    from ledger.model import JournalRequest, Posting, Side

    _, version, terms = terms_of(TENANT, product_id)
    sched = quote(terms, 1_200_000, 6, "B", DISBURSED).schedule
    assert sched is not None
    now = datetime.combine(DISBURSED, datetime.min.time(), UTC)
    actor = Actor("bench", "admin", "seed")
    writer = Writer(dynamo.client())
    ids = [f"loan_{secrets.token_hex(8)}" for _ in range(n)]
    for loan_id in ids:
        uow = UnitOfWork()
        loan = LoanItem(loan_pk(TENANT, loan_id), "loan", loan_id=loan_id, application_id="app",
                        product_id=product_id, product_version=version.number,
                        principal=1_200_000, currency=terms.currency, term=6, grade="B",
                        annual_rate_percent=str(terms.rate_percent("B")), apr_percent="0",
                        schedule=json.dumps(sched.as_json()), status=ACTIVE, borrower_ref="b",
                        accepted_at=now, accepted_by="k", version=1, created_at=now,
                        updated_at=now, disbursed_at=now, gsi1pk=list_pk(TENANT),
                        gsi1sk=list_sk(ACTIVE, now.isoformat(), loan_id))
        head = audit.append(uow, tenant=TENANT, aggregate_type="loan", aggregate_id=loan_id,
                            head=None, action="loan.created", actor=actor, at=now,
                            data={"status": ACTIVE},
                            head_ref={"table": "main", "pk": loan.pk, "sk": loan.sk})
        loan.audit_seq, loan.audit_head = head.seq, head.hash
        uow.add(put_aggregate(loan, None))
        for part in ledger().prepare_open_accounts(TENANT, loan_accounts(loan_id,
                                                                         terms.currency)):
            uow.add_part(part)
        writer.take(uow.items)
    writer.flush()
    for loan_id in ids:
        legs = [Posting(loan_account_id(loan_id, "principal"), Side.DEBIT, sched.financed,
                        terms.currency), Posting(FUNDING, Side.CREDIT, sched.payout,
                                                 terms.currency)]
        if sched.origination_fee:
            legs.append(Posting(FEE_INCOME, Side.CREDIT, sched.origination_fee, terms.currency))
        part = ledger().prepare_journal(TENANT, JournalRequest(
            f"disb:{loan_id}", tuple(legs), DISBURSED, "bench disbursement",
            {"loan_id": loan_id}))
        writer.take(list(part.items))
    writer.flush(with_state=True)
    return ids


# ---- the timed run -----------------------------------------------------------------------------

def drain(workers: int, tenant: str, run_id: str) -> None:
    """Worker threads: receive a chunk message from the stack's SQS, hand it to the app's SQS
    handler as a one-record event, delete it; until the run is completed."""
    import boto3
    from chalice.local import LambdaContext

    import app as app_module
    from chalicelib.config import settings
    from chalicelib.services import cob

    handler = app_module.app.handler_map[HANDLER]
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=settings().cob_queue)["QueueUrl"]
    errors: list[BaseException] = []

    def work() -> None:
        try:
            while cob.get_run(tenant, run_id)["status"]["S"] != cob.COMPLETED and not errors:
                got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1,
                                          WaitTimeSeconds=1, VisibilityTimeout=900)
                for m in got.get("Messages", []):
                    event = {"Records": [{"messageId": m["MessageId"], "body": m["Body"],
                                          "receiptHandle": m["ReceiptHandle"],
                                          "attributes": {}, "messageAttributes": {},
                                          "eventSource": "aws:sqs"}]}
                    handler(event, LambdaContext(HANDLER, 1769, 900_000))
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"worker failed: {errors[0]!r}") from errors[0]


def close_of_business(workers: int) -> dict[str, Any]:
    from chalicelib.services import cob, cob_chunks

    run = cob.start(TENANT, DAY, NOW, "bench")
    cob_chunks.dispatch(TENANT, run["run_id"]["S"], NOW)
    drain(workers, TENANT, run["run_id"]["S"])
    return cob.view(cob.get_run(TENANT, run["run_id"]["S"]))


def one_size(n: int, workers: int, chunk: int) -> dict[str, Any]:
    os.environ["COB_WORKERS"] = "0"
    t0 = time.perf_counter()
    stack = start_stack()
    try:
        app_env(stack.moto)
        from chalicelib.services import cob_chunks
        from chalicelib.store import dynamo
        from chalicelib.store.ledger import ledger

        cob_chunks.CHUNK = chunk
        product_id = setup_tenant(stack)
        seed(product_id, n)
        setup = time.perf_counter() - t0
        meter, sqs_calls = Meter(), Counter[str]()
        dynamo.client().meta.events.register("provide-client-params.dynamodb.*", meter)
        cob_chunks._sqs().meta.events.register(
            "provide-client-params.sqs.*",
            lambda model, **_: sqs_calls.update([model.name]))
        load0, cpu0, t1 = loadavg(), time.process_time(), time.perf_counter()
        first = close_of_business(workers)
        wall, cpu = time.perf_counter() - t1, time.process_time() - cpu0
        dynamo.client().meta.events.unregister("provide-client-params.dynamodb.*", meter)
        t2 = time.perf_counter()
        again = close_of_business(workers)
        rerun = time.perf_counter() - t2
        assert first["stepped"] == n and first["status"] == "completed", first
        assert again["stepped"] == 0 and again["skipped"] == n, again
        ok = ledger().verify(TENANT).ok if n <= 1000 else None
        return {"n": n, "setup": setup, "wall": wall, "cpu": cpu, "rerun": rerun, "ok": ok,
                "requests": dict(meter.requests), "items": meter.items, "wcu": meter.wcu,
                "sqs": dict(sqs_calls), "chunks": first["chunks_total"],
                "load": f"{load0} -> {loadavg()}"}
    finally:
        stop_stack(stack)


def report(rows: list[dict[str, Any]], workers: int) -> None:
    r = rows[-1]
    n = r["n"]
    per = {k: v / n for k, v in sorted(r["requests"].items())}
    sqs_per = sum(r["sqs"].values()) / n
    if len(rows) > 1:
        a, b = rows[0], rows[-1]
        print(f"\ngrowth: {b['n'] / a['n']:.0f}x loans -> {b['wall'] / a['wall']:.1f}x time; "
              f"time per loan at {b['n']:,} / at {a['n']:,} = "
              f"{(b['wall'] / b['n']) / (a['wall'] / a['n']):.2f}")
    cpu_ms = r["cpu"] / n * 1000
    io_ms = sum(per.get(k, 0) * v for k, v in LATENCY_MS.items() if k != "sqs") \
        + sqs_per * LATENCY_MS["sqs"]
    t_loan = (cpu_ms + io_ms) / 1000
    per_worker = 13 * 60 / t_loan  # one Lambda's budget
    chunk = int(10 * 60 / t_loan) // 1000 * 1000  # ~10 minutes of one worker
    chunks = math.ceil(1e6 / chunk)
    plan_s = 1e6 / 1000 * LATENCY_MS["Query"] / 1000 * 4  # ~250 keys-only loans per 1 MB page
    tx_s = chunks / t_loan
    wcu = r["wcu"] / n
    print(f"\nProjection, 1,000,000 loans on DynamoDB (one loan-day each), from the measured "
          f"requests per loan ({', '.join(f'{k} {v:.3f}' for k, v in per.items())}, SQS "
          f"{sqs_per:.4f}) x typical latencies {LATENCY_MS} ms, plus the measured Python CPU "
          f"{cpu_ms:.1f} ms/loan (this machine; a 1769 MB Lambda has one vCPU):\n"
          f"  ~{t_loan * 1000:.0f} ms per loan, one loan at a time -> one worker closes "
          f"~{per_worker:,.0f} loans in its 13-minute budget; chunks of {chunk:,} loans "
          f"(~10 min each);\n"
          f"  planning reads the index keys-only (~{plan_s:.0f} s for 1M loans, 1 MB pages), "
          f"then {chunks} chunks on {chunks} workers at once finish ~"
          f"{(plan_s + chunk * t_loan) / 60:.1f} min after the start (< 15);\n"
          f"  load: {tx_s:,.0f} transactions/s x {wcu:.1f} WCU = {tx_s * wcu:,.0f} WCU/s "
          f"(on-demand table default quota 40,000 WCU/s); ~{wcu:.1f} M WCU per COB "
          f"(~${wcu * 1.25:.0f} on demand at $1.25 per million WRU). The SQS event source's "
          f"maximum concurrency is jobs/cob.MAX_WORKERS; {workers} worker(s) here.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--workers", type=int, default=1, help="chunk worker threads")
    parser.add_argument("--chunk", type=int, default=5000, help="loans per chunk")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # one size, in a child
    ns = parser.parse_args()
    if ns.one:
        print("RESULT " + json.dumps(one_size(ns.one, ns.workers, ns.chunk)), flush=True)
        return
    rows = []
    print(f"load average at start: {loadavg()} (2 cores, shared)", flush=True)
    for n in ns.sizes:
        # Each size in its own process and stack (the app's clients cache their endpoint).
        out = subprocess.run([sys.executable, __file__, "--one", str(n), "--workers",
                              str(ns.workers), "--chunk", str(ns.chunk)], cwd=ROOT,
                             check=True, stdout=subprocess.PIPE, text=True).stdout
        r = json.loads(next(line for line in out.splitlines()
                            if line.startswith("RESULT "))[len("RESULT "):])
        rows.append(r)
        per = ", ".join(f"{k} {v / n:.3f}" for k, v in sorted(r["requests"].items()))
        print(f"{n:>6} loans ({r['chunks']} chunks, {ns.workers} worker(s)): setup "
              f"{r['setup']:6.1f} s | COB {r['wall']:7.1f} s = {n / r['wall']:6.1f} loans/s "
              f"({r['wall'] / n * 1000:5.1f} ms/loan, bench CPU {r['cpu'] / n * 1000:4.1f} "
              f"ms/loan) | rerun {r['rerun']:6.1f} s ({n / r['rerun']:5.0f} loans/s, all "
              f"skipped) | verify {r['ok']} | load {r['load']}", flush=True)
        print(f"        per loan: {per}; SQS {sum(r['sqs'].values()) / n:.4f} "
              f"({r['sqs']}); {r['items'] / n:.1f} items written, "
              f"~{r['wcu'] / n:.1f} WCU", flush=True)
    report(rows, ns.workers)


if __name__ == "__main__":
    main()
