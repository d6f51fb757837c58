"""Submit-to-decision time through the local stack (moto server + chalice local, real HTTP).

    .venv/bin/python bench/bench_origination.py [--applications 200]

Each POST /v1/applications validates, checks duplicates, scores (ONNX), evaluates the policy
(CEL rules, champion/challenger), prices the offer, seals the personal data (KMS + AES-GCM)
and commits one transaction; the figure is the client's wall time per request. For scale it
also prints the in-process cost of the scoring and decision steps alone. Asserts nothing.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from tests.e2e.conftest import start_stack, stop_stack
from tests.integration.origination.conftest import BAD, GOOD, MID, TERMS, application

POLICY = {"score_bands": {"approve_from": 540, "decline_below": 500},
          "rules": [{"id": "risk", "expression": "applicant.age >= 18 && score.pd < 0.35",
                     "reason_code": "RISK", "reason_text": "Risk of default too high."},
                    {"id": "one_open", "expression": "duplicates.open_applications < 3",
                     "reason_code": "DUP", "reason_text": "Too many open applications."}],
          "max_auto_approve": {"amount": "30000.00", "currency": "CNY"}}


def ms(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1000


def in_process(n: int) -> tuple[list[float], list[float]]:
    from chalicelib.lending.decision import SAMPLE_FACTS, PolicyConfig, decide
    from chalicelib.scoring import default_scorer

    scorer = default_scorer()
    features = {**GOOD, "duration_months": 12, "credit_amount": "2000", "age_years": 40,
                "purpose": "car_used"}
    policy = PolicyConfig.model_validate(POLICY)
    score_t, decide_t = [], []
    for _ in range(n):
        t0 = time.perf_counter()
        scorer.score(features)
        t1 = time.perf_counter()
        decide(policy, SAMPLE_FACTS, 1_000_000, [])
        t2 = time.perf_counter()
        score_t.append(t1 - t0)
        decide_t.append(t2 - t1)
    return score_t[n // 10:], decide_t[n // 10:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--applications", type=int, default=200)
    args = parser.parse_args()
    stack = start_stack()
    # start_stack pipes the stack's output and nobody reads it: once the pipe's 64 KiB fill
    # (request logs), the server blocks on write. Drain it.
    drain = threading.Thread(target=lambda: [None for _ in stack.process.stdout or []],
                             daemon=True)
    drain.start()
    try:
        def post(path: str, body: object, key: str) -> dict:
            r = stack.call("POST", path, key, json=body,
                           headers={"Idempotency-Key": str(uuid.uuid4())})
            assert r.status_code in (200, 201), r.text
            return r.json()

        tenant = f"bench-{uuid.uuid4().hex[:6]}"
        post("/v1/tenants", {"tenant_id": tenant, "name": "Bench",
                             "time_zone": "UTC"}, stack.admin_key)
        admin = post(f"/v1/tenants/{tenant}/api-keys", {"role": "admin", "name": "a"},
                     stack.admin_key)["key"]
        partner = post(f"/v1/tenants/{tenant}/api-keys", {"role": "partner", "name": "p"},
                       stack.admin_key)["key"]
        policy = post("/v1/decision-policies", {"name": "Bench", "config": POLICY}, admin)
        terms = {**copy.deepcopy(TERMS), "references": {"decision_policy_id": policy["id"]}}
        product = post("/v1/products", {"name": "Bench", "terms": terms}, admin)
        profiles = (GOOD, MID, BAD)
        walls: list[float] = []
        outcomes: dict[str, int] = {}
        for i in range(args.applications + 10):
            body = application(product["id"], serial=f"{i % 1000:03d}",
                               characteristics=profiles[i % 3],
                               amount="2000.00" if i % 3 == 1 else "10000.00")
            t0 = time.perf_counter()
            decided = post("/v1/applications", body, partner)
            elapsed = time.perf_counter() - t0
            if i >= 10:  # the first requests load the model and the CEL parser
                walls.append(elapsed)
                outcomes[decided["status"]] = outcomes.get(decided["status"], 0) + 1
    finally:
        stop_stack(stack)
    score_t, decide_t = in_process(1000)
    print(f"submit-to-decision over HTTP, {len(walls)} applications (local stack: moto + "
          f"chalice local)")
    print(f"  p50 {ms(walls, 50):7.1f} ms   p99 {ms(walls, 99):7.1f} ms   "
          f"mean {statistics.mean(walls) * 1000:7.1f} ms   outcomes {outcomes}")
    print("in-process steps (same machine):")
    print(f"  scoring (ONNX + reasons)   p50 {ms(score_t, 50):6.2f} ms  p99 {ms(score_t, 99):6.2f}"
          " ms")
    print(f"  decision (2 CEL rules)     p50 {ms(decide_t, 50):6.2f} ms  "
          f"p99 {ms(decide_t, 99):6.2f} ms")
    print("  (bench/bench_scoring.py has onnxruntime vs scikit-learn and batch throughput)")


if __name__ == "__main__":
    main()
