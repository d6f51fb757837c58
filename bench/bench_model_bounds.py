"""What the bounds on tenant ONNX models cost: the static graph check and the run watchdog.

    .venv/bin/python bench/bench_model_bounds.py [--runs 2000]

Prints: the static check's first call (protobuf's import and the descriptor pool) and its cost
per model (the shipped scorecard; a 100-tree forest, when scikit-learn is installed); one
session run bare vs under the watchdog (p50/p99, µs); how long after its limit the issue's Loop
attack really stops; and session creation and run with and without graph optimisation (tenant
sessions run without it). Asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from bench._timing import median_ms, percentile
from chalicelib.scoring import default_scorer
from chalicelib.scoring.features import build_feed
from chalicelib.scoring.validation import synthetic_rows
from chalicelib.scoring.watchdog import MAX_RUN_SECONDS, WATCHDOG, RunTimeout, bounded_run


def run_us(fn, runs: int) -> list[float]:
    for _ in range(50):
        fn()
    out = []
    for _ in range(runs):
        t0 = time.perf_counter_ns()
        fn()
        out.append((time.perf_counter_ns() - t0) / 1000)
    return out


def forest_bytes() -> bytes | None:
    try:
        import skl2onnx
        from skl2onnx.common.data_types import FloatTensorType
        from sklearn.ensemble import RandomForestClassifier
    except ImportError:
        return None
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 10)).astype(np.float32)
    forest = RandomForestClassifier(100, max_depth=8, random_state=0).fit(x, x[:, 0] > 0)
    return bytes(skl2onnx.convert_sklearn(
        forest, initial_types=[("x", FloatTensorType([None, 10]))],
        options={id(forest): {"zipmap": False}}, target_opset={"": 17, "ai.onnx.ml": 3},
    ).SerializeToString())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    args = parser.parse_args()

    import onnxruntime as ort

    from chalicelib.scoring.graph_checks import static_problems

    scorer = default_scorer()
    shipped = (Path(__file__).resolve().parents[1] / "models_onnx"
               / "german_credit_v1.onnx").read_bytes()
    import chalicelib.scoring.onnx_proto as proto

    proto.model_proto_class.cache_clear()
    fresh = "google.protobuf.message_factory" not in sys.modules
    t0 = time.perf_counter()
    import google.protobuf.descriptor_pool
    import google.protobuf.message_factory  # noqa: F401
    t1 = time.perf_counter()
    static_problems(shipped)
    t2 = time.perf_counter()
    print(f"static check, first call: protobuf import {(t1 - t0) * 1000:.1f} ms"
          f"{'' if fresh else ' (already imported)'}, descriptor pool + check "
          f"{(t2 - t1) * 1000:.1f} ms")
    models = {"shipped scorecard": shipped}
    forest = forest_bytes()
    if forest is not None:
        models["100-tree forest, depth 8"] = forest
    for name, data in models.items():
        ms = median_ms(lambda data=data: static_problems(data), 20)
        print(f"static check, {name} ({len(data) / 1024:.0f} KiB): {ms:.2f} ms")

    session, card = scorer._session, scorer.card
    feed = build_feed(card, synthetic_rows(card)[:1], scorer.input_types())
    bare: list[float] = []
    bounded: list[float] = []
    for _ in range(10):  # interleaved, so that this machine's drift hits both alike
        bare += run_us(lambda: session.run(["probabilities"], feed), args.runs // 10)
        bounded += run_us(lambda: bounded_run(session, ["probabilities"], feed), args.runs // 10)

    def arm_disarm() -> None:
        WATCHDOG.disarm(WATCHDOG.arm(ort.RunOptions(), MAX_RUN_SECONDS))

    guard = run_us(arm_disarm, args.runs)
    print()
    print(f"{'one row, shipped model':<40} {'p50 µs':>8} {'p99 µs':>8}")
    for name, values in (("session.run", bare), ("bounded_run (watchdog)", bounded),
                         ("the guard alone: RunOptions+arm+disarm", guard)):
        print(f"{name:<40} {percentile(values, 50):>8.1f} {percentile(values, 99):>8.1f}")

    from chalicelib.scoring.runtime import open_session
    from tests.unit.scoring import hostile

    attack = open_session(hostile.to_bytes(hostile.loop))
    t0 = time.perf_counter()
    with contextlib.suppress(RunTimeout):
        bounded_run(attack, ["probabilities"], {"float_input": np.zeros((1, 3), np.float32)})
    stopped = time.perf_counter() - t0
    print(f"\nLoop of 10^12 trips: stopped after {stopped:.3f} s (limit {MAX_RUN_SECONDS} s, "
          f"{(stopped - MAX_RUN_SECONDS) * 1000:.1f} ms late)")

    print()
    for level in (ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
                  ort.GraphOptimizationLevel.ORT_DISABLE_ALL):
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        options.graph_optimization_level = level
        create = median_ms(lambda options=options: ort.InferenceSession(
            shipped, options, providers=["CPUExecutionProvider"]), 10)
        s = ort.InferenceSession(shipped, options, providers=["CPUExecutionProvider"])
        run = percentile(run_us(lambda s=s: s.run(["probabilities"], feed), args.runs), 50)
        print(f"{level.name:<16} session {create:.1f} ms, run p50 {run:.1f} µs")


if __name__ == "__main__":
    main()
