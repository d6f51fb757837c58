"""Ledger-posting TransactWriteItems throughput on moto, unpatched vs infra.moto_patches.

Why: moto's stock TransactWriteItems deep-copies whole tables, so the local stack slows down as
the ledger grows; this shows the curve before and after the patch, in-process (mock_aws) and over
HTTP (ThreadedMotoServer + boto3), at 300, 12,000 and 100,000 prefilled items.

Each cell runs in its own subprocess (the patch is process-wide and cannot be undone), prefills
the ledger tables directly through moto's backend (fast; same Item objects PutItem would make),
then posts 6-item journal transactions from one client thread for a fixed time (the clock
starts once the prefill is done and includes the first, cold, call). Unpatched cells
are capped; a cell that was cut off reports what it reached.

    .venv/bin/python bench/bench_moto_transactions.py            # full table, ~3 minutes
    .venv/bin/python bench/bench_moto_transactions.py --quick    # smaller caps
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import selectors
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REGION = "us-east-1"
ACCOUNT = "123456789012"
SIZES = (300, 12_000, 100_000)
KEY_ATTRS = ("pk", "sk", "gsi1pk", "gsi1sk")


def _table_spec(name: str, range_key: bool = True, gsi: bool = True) -> dict[str, Any]:
    """Key schemas as in infra/storage.yaml (pk/sk + gsi1, idempotency is hash-only)."""
    attrs = KEY_ATTRS if gsi else (("pk", "sk") if range_key else ("pk",))
    spec: dict[str, Any] = {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": a, "AttributeType": "S"} for a in attrs],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}]
        + ([{"AttributeName": "sk", "KeyType": "RANGE"}] if range_key else []),
    }
    if gsi:
        spec["GlobalSecondaryIndexes"] = [
            {
                "IndexName": "gsi1",
                "KeySchema": [
                    {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                    {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ]
    return spec


TABLES = {
    "accounts": _table_spec("bench-ledger-accounts"),
    "journals": _table_spec("bench-ledger-journals"),
    "entries": _table_spec("bench-ledger-entries"),
    "idempotency": _table_spec("bench-idempotency", range_key=False, gsi=False),
}


def _prefill(size: int) -> int:
    """Loads ``size`` items across the ledger tables straight into moto's backend."""
    from moto.dynamodb.models import dynamodb_backends

    backend = dynamodb_backends[ACCOUNT][REGION]
    n_accounts = max(2, size // 20)
    n_journals = size // 5
    n_idem = size // 5
    n_entries = size - n_accounts - n_journals - n_idem
    accounts = backend.get_table(TABLES["accounts"]["TableName"])
    for i in range(n_accounts):
        accounts.put_item(
            {
                "pk": {"S": f"T1#ACC#{i:07d}"},
                "sk": {"S": "BALANCE"},
                "gsi1pk": {"S": "T1#ACCOUNTS"},
                "gsi1sk": {"S": f"{i:07d}"},
                "posted_balance": {"N": "1000000000"},
                "floor": {"N": "0"},
                "currency": {"S": "KES"},
            }
        )
    journals = backend.get_table(TABLES["journals"]["TableName"])
    for i in range(n_journals):
        journals.put_item(
            {
                "pk": {"S": f"T1#JRN#{i:09d}"},
                "sk": {"S": "HEADER"},
                "gsi1pk": {"S": f"T1#DAY#{i % 365:03d}"},
                "gsi1sk": {"S": f"{i:09d}"},
                "kind": {"S": "repayment"},
                "amount": {"N": "1500"},
            }
        )
    entries = backend.get_table(TABLES["entries"]["TableName"])
    for i in range(n_entries):
        entries.put_item(
            {
                "pk": {"S": f"T1#JRN#{i // 2:09d}"},
                "sk": {"S": f"ENTRY#{i % 2}"},
                "gsi1pk": {"S": f"T1#ACC#{i % n_accounts:07d}"},
                "gsi1sk": {"S": f"{i:09d}"},
                "amount": {"N": "1500" if i % 2 else "-1500"},
            }
        )
    idem = backend.get_table(TABLES["idempotency"]["TableName"])
    for i in range(n_idem):
        idem.put_item({"pk": {"S": f"T1#IDEM#{i:09d}"}, "status": {"S": "done"}})
    return n_accounts


def posting(n_accounts: int, seq: int) -> list[dict[str, Any]]:
    """One realistic journal posting: header, two entries, two balance updates, idempotency."""
    jid = uuid.uuid4().hex
    debit, credit = f"T1#ACC#{seq % n_accounts:07d}", f"T1#ACC#{(seq + 1) % n_accounts:07d}"
    amount = "1500"
    t = {k: v["TableName"] for k, v in TABLES.items()}
    not_exists = "attribute_not_exists(pk)"
    return [
        {
            "Put": {
                "TableName": t["journals"],
                "Item": {
                    "pk": {"S": f"T1#JRN#{jid}"},
                    "sk": {"S": "HEADER"},
                    "gsi1pk": {"S": "T1#DAY#today"},
                    "gsi1sk": {"S": jid},
                    "amount": {"N": amount},
                },
                "ConditionExpression": not_exists,
            }
        },
        *(
            {
                "Put": {
                    "TableName": t["entries"],
                    "Item": {
                        "pk": {"S": f"T1#JRN#{jid}"},
                        "sk": {"S": f"ENTRY#{i}"},
                        "gsi1pk": {"S": acc},
                        "gsi1sk": {"S": jid},
                        "amount": {"N": sign + amount},
                    },
                    "ConditionExpression": not_exists,
                }
            }
            for i, (acc, sign) in enumerate(((debit, "-"), (credit, "")))
        ),
        {
            "Update": {
                "TableName": t["accounts"],
                "Key": {"pk": {"S": debit}, "sk": {"S": "BALANCE"}},
                "UpdateExpression": "ADD posted_balance :delta",
                "ConditionExpression": "attribute_exists(pk) AND posted_balance >= :need",
                "ExpressionAttributeValues": {
                    ":delta": {"N": "-" + amount},
                    ":need": {"N": amount},
                },
            }
        },
        {
            "Update": {
                "TableName": t["accounts"],
                "Key": {"pk": {"S": credit}, "sk": {"S": "BALANCE"}},
                "UpdateExpression": "ADD posted_balance :delta",
                "ConditionExpression": "attribute_exists(pk)",
                "ExpressionAttributeValues": {":delta": {"N": amount}},
            }
        },
        {
            "Put": {
                "TableName": t["idempotency"],
                "Item": {"pk": {"S": f"T1#IDEM#{jid}"}, "status": {"S": "done"}},
                "ConditionExpression": not_exists,
            }
        },
    ]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def worker(mode: str, patched: bool, size: int, seconds: float) -> None:
    """Runs one cell; prints READY, then one line per committed transaction (for the cap)."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    sys.path.insert(0, str(ROOT))
    import boto3
    from moto import mock_aws

    if patched:
        from infra import moto_patches

        moto_patches.apply()

    server = None
    mock = None
    if mode == "http":
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request

        port = _free_port()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        client = boto3.client(
            "dynamodb", region_name=REGION, endpoint_url=f"http://127.0.0.1:{port}"
        )
    else:
        mock = mock_aws()
        mock.start()
        client = boto3.client("dynamodb", region_name=REGION)
    try:
        for spec in TABLES.values():
            client.create_table(**spec)
        t0 = time.perf_counter()
        n_accounts = _prefill(size)
        print(f"READY {time.perf_counter() - t0:.2f}", flush=True)
        start = time.perf_counter()
        cpu0 = time.process_time()
        seq = 0
        while time.perf_counter() - start < seconds:
            client.transact_write_items(TransactItems=posting(n_accounts, seq))
            seq += 1
            print(f"TX {time.process_time() - cpu0:.4f}", flush=True)
        print("DONE", flush=True)
    finally:
        if server is not None:
            server.stop()
        if mock is not None:
            mock.stop()


def run_cell(mode: str, patched: bool, size: int, seconds: float, cap: float) -> dict[str, Any]:
    """Runs a worker; kills it at ``cap`` seconds of posting and reports the rate it reached."""
    with tempfile.TemporaryFile(mode="w+") as errlog:  # an unread stderr pipe could block it
        return _run_cell(errlog, mode, patched, size, seconds, cap)


def _run_cell(
    errlog: Any, mode: str, patched: bool, size: int, seconds: float, cap: float
) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--worker", mode, "1" if patched else "0", str(size),
           str(seconds)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errlog, text=True)
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    done, prefill, cpu = 0, None, 0.0
    last_tx_at = 0.0
    ready_at: float | None = None
    finished = False
    hard_deadline = time.monotonic() + cap + 120  # prefill of 100k items takes a few seconds
    try:
        while time.monotonic() < hard_deadline:
            if ready_at is not None and time.monotonic() - ready_at > cap:
                break
            if not sel.select(timeout=0.5):
                if proc.poll() is not None:
                    break
                continue
            line = proc.stdout.readline()
            if not line:
                break
            if line.startswith("READY"):
                prefill = float(line.split()[1])
                ready_at = time.monotonic()
            elif line.startswith("TX"):
                done += 1
                last_tx_at = time.monotonic()
                cpu = float(line.split()[1])
            elif line.startswith("DONE"):
                finished = True
                break
    finally:
        sel.close()
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)
        errlog.seek(0)
        err = errlog.read()[-4000:]
    if prefill is None:
        raise RuntimeError(f"bench worker failed: {mode} patched={patched} size={size}\n{err}")
    assert ready_at is not None
    elapsed = (last_tx_at if finished and done else time.monotonic()) - ready_at
    return {
        "mode": mode,
        "patched": patched,
        "size": size,
        "tx": done,
        "elapsed": elapsed,
        "rate": done / elapsed if elapsed else 0.0,
        "cpu_rate": done / cpu if cpu else 0.0,
        "capped": not finished,
        "prefill_s": prefill,
    }


def _fmt(cell: dict[str, Any]) -> str:
    if cell["tx"] == 0:
        return f"<{1 / cell['elapsed']:.2f} (0 tx in {cell['elapsed']:.0f}s)"
    text = f"{cell['rate']:.1f}"
    if cell["capped"]:
        text += f" (cap: {cell['tx']} tx/{cell['elapsed']:.0f}s)"
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", nargs=4, metavar=("MODE", "PATCHED", "SIZE", "SECONDS"))
    parser.add_argument("--quick", action="store_true", help="shorter runs and caps")
    parser.add_argument("--json", action="store_true", help="also print the raw cells as JSON")
    ns = parser.parse_args()
    if ns.worker:
        mode, patched, size, seconds = ns.worker
        worker(mode, patched == "1", int(size), float(seconds))
        return

    seconds = 2.0 if ns.quick else 5.0
    unpatched_cap = 6.0 if ns.quick else 15.0
    cells: list[dict[str, Any]] = []
    for mode in ("inproc", "http"):
        for size in SIZES:
            for patched in (False, True):
                cap = seconds + 15 if patched else unpatched_cap
                cell = run_cell(mode, patched, size, seconds if patched else cap, cap)
                cells.append(cell)
                print(f"  .. {mode:6} {size:>7} patched={patched!s:5} {_fmt(cell)}",
                      file=sys.stderr, flush=True)

    print()
    print("6-item ledger posting (TransactWriteItems), moto 5.2.5, one client thread, tx/s")
    print("(per CPU-s = transactions per CPU-second of the bench process: client and server")
    print(" together, so it does not depend on what else the machine is running)")
    header = (
        f"{'transport':<26}{'items':>9}  {'unpatched':<28}{'patched':>9}  {'per CPU-s':>9}"
        f"  {'speed-up':>8}"
    )
    print(header)
    print("-" * len(header))
    names = {"inproc": "in-process (mock_aws)", "http": "HTTP (ThreadedMotoServer)"}
    for mode in ("inproc", "http"):
        for size in SIZES:
            before = next(c for c in cells if (c["mode"], c["size"], c["patched"]) ==
                          (mode, size, False))
            after = next(c for c in cells if (c["mode"], c["size"], c["patched"]) ==
                         (mode, size, True))
            ratio = after["rate"] / before["rate"] if before["rate"] else float("inf")
            if before["rate"]:
                ratio_s = f"{ratio:.0f}x"
            else:
                ratio_s = f">{after['rate'] * before['elapsed']:.0f}x"
            print(f"{names[mode]:<26}{size:>9,}  {_fmt(before):<28}{after['rate']:>9.1f}"
                  f"  {after['cpu_rate']:>9.1f}  {ratio_s:>8}")
    if ns.json:
        print(json.dumps(cells, indent=1))


if __name__ == "__main__":
    main()
