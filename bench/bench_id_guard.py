"""What the id bounds cost: validating a request's path parameters, and the tests' check of
DynamoDB's key and item limits (tests/dynamo_limits.py) per call.

    .venv/bin/python bench/bench_id_guard.py [--repeats N]

Prints microseconds per call; nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import app  # noqa: F401 - registers every route
from chalicelib.api.http import ROUTES, validate
from tests import dynamo_limits


def _per_call_us(fn: object, repeats: int) -> float:
    fn()  # type: ignore[operator]
    start = time.process_time()
    for _ in range(repeats):
        fn()  # type: ignore[operator]
    return (time.process_time() - start) / repeats * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=20_000)
    ns = parser.parse_args()
    spec = next(r for r in ROUTES if r.path == "/v1/disbursements/{disbursement_id}/attempts/"
                                                "{n}/resolve")
    params = {"disbursement_id": "dsb_0123456789abcdef", "n": "2"}
    rows = [("path parameters (2) validated", _per_call_us(
        lambda: validate(spec.params, params, "/path"), ns.repeats))]

    key = {"pk": {"S": "acme#loan#loan_0123456789abcdef"}, "sk": {"S": "loan"}}
    item = {**key, "gsi1pk": {"S": "acme#loans"}, "gsi1sk": {"S": "active#2026-01-01"},
            **{f"a{i}": {"S": "x" * 40} for i in range(30)}}
    get = SimpleNamespace(name="GetItem")
    put = SimpleNamespace(name="TransactWriteItems")
    transact = {"TransactItems": [{"Put": {"TableName": "test-main", "Item": item}}] * 10}
    rows.append(("limits check: GetItem", _per_call_us(
        lambda: dynamo_limits.enforce({"TableName": "test-main", "Key": key}, get),
        ns.repeats)))
    rows.append(("limits check: 10-Put transaction of 34-attribute items", _per_call_us(
        lambda: dynamo_limits.enforce(transact, put), ns.repeats // 10)))
    for label, us in rows:
        print(f"{label:58s} {us:8.1f} us")


if __name__ == "__main__":
    main()
