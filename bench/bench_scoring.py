"""Scoring latency and throughput: onnxruntime (our request path) vs the same sklearn pipeline.

    .venv/bin/python bench/bench_scoring.py [--rows 1000] [--batch-repeat 20]

Same process, same German Credit rows, warmed up. "single" = one application per call, p50/p99
over every row; "batch" = all rows per call, rows per second. Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from chalicelib.scoring import ModelRegistry, default_scorer
from chalicelib.scoring.features import build_feed


def latencies_us(fn: Callable[[Any], Any], items: Sequence[Any], warmup: int = 50) -> list[float]:
    for item in items[:warmup]:
        fn(item)
    out = []
    for item in items:
        t0 = time.perf_counter_ns()
        fn(item)
        out.append((time.perf_counter_ns() - t0) / 1000)
    return out


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def rows_per_second(fn: Callable[[], Any], n_rows: int, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return n_rows / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--batch-repeat", type=int, default=20)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    import pandas as pd
    from threadpoolctl import threadpool_limits

    from models_onnx import train_german_credit as train

    X, y = train.load_data()
    X = X.head(args.rows)
    pipe = train.build_pipeline().fit(X, y[: len(X)])
    rows = [{k: (int(v) if isinstance(v, np.integer) else v) for k, v in r.items()}
            for r in X.to_dict(orient="records")]

    cold_import = "onnxruntime" not in sys.modules
    t0 = time.perf_counter()
    scorer = default_scorer()  # first model: imports onnxruntime, reads, verifies, loads
    first_ms = (time.perf_counter() - t0) * 1000
    t0 = time.perf_counter()
    ModelRegistry().load(train.ONNX_PATH.read_bytes(), scorer.card)  # onnxruntime already in
    again_ms = (time.perf_counter() - t0) * 1000
    session, types = scorer._session, scorer.input_types()
    valid = [scorer.validate(r) for r in rows]
    feeds = [build_feed(scorer.card, [v], types) for v in valid]
    frames = [X.iloc[[i]] for i in range(len(X))]

    # Lambda gives one vCPU-ish: compare single-threaded on both sides.
    with threadpool_limits(limits=1):
        single = {
            "onnxruntime session.run (1 row)": latencies_us(
                lambda f: session.run(["probabilities"], f), feeds),
            "Scorer.score(dict): validate+ORT+score+reasons": latencies_us(scorer.score, rows),
            "sklearn predict_proba (1-row DataFrame ready)": latencies_us(
                pipe.predict_proba, frames),
            "sklearn predict_proba incl. DataFrame([dict])": latencies_us(
                lambda r: pipe.predict_proba(pd.DataFrame([r])), rows),
        }
        batch = {
            "Scorer.score_batch(dicts)": rows_per_second(
                lambda: scorer.score_batch(rows), len(rows), args.batch_repeat),
            "Scorer.predict_pd(validated rows)": rows_per_second(
                lambda: scorer.predict_pd(valid), len(rows), args.batch_repeat),
            "sklearn predict_proba(DataFrame)": rows_per_second(
                lambda: pipe.predict_proba(X), len(rows), args.batch_repeat),
        }

    agree = max(abs(a - b) for a, b in zip(
        scorer.predict_pd(valid), pipe.predict_proba(X)[:, 1], strict=True))
    print(f"model {scorer.card.ref}  rows {len(rows)}  max |PD_onnx - PD_sklearn| {agree:.1e}")
    print(f"first model load{' incl. onnxruntime import' if cold_import else ''}: "
          f"{first_ms:.0f} ms; another model (read+SHA-256+session): {again_ms:.0f} ms")
    print()
    print(f"{'single application':<50} {'p50 µs':>9} {'p99 µs':>9}")
    for name, values in single.items():
        print(f"{name:<50} {pct(values, 50):>9.1f} {pct(values, 99):>9.1f}")
    ort = single["onnxruntime session.run (1 row)"]
    skl = single["sklearn predict_proba (1-row DataFrame ready)"]
    print(f"{'ratio sklearn / onnxruntime (p50, p99)':<50} "
          f"{pct(skl, 50) / pct(ort, 50):>8.1f}x {pct(skl, 99) / pct(ort, 99):>8.1f}x")
    print()
    print(f"{'batch scoring':<50} {'rows/s':>9}")
    for name, rate in batch.items():
        print(f"{name:<50} {rate:>9.0f}")
    if args.json:
        args.json.write_text(json.dumps({
            "rows": len(rows), "max_pd_difference": agree,
            "single_us": {k: {"p50": pct(v, 50), "p99": pct(v, 99)} for k, v in single.items()},
            "batch_rows_per_s": batch, "first_load_ms": first_ms}, indent=1))


if __name__ == "__main__":
    main()
