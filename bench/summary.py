"""`make bench`: runs each bench in quick mode, collects their JSON, prints ONE table at the end.

Each bench writes machine-readable figures to a temporary file (`--json`); bench_cob (owned by
the servicing work) is read through its own contract: `--json PATH` if it offers it, else its
`--one N` child mode, which prints `RESULT {json}`. Every bench's own output goes to the
terminal as it runs; a bench that fails is reported in the table and makes the exit status 1.

    .venv/bin/python bench/summary.py            # quick (a few minutes)
    .venv/bin/python bench/summary.py --full     # the benches' own defaults (much longer)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"


def run(name: str, args: list[str], out: Path | None, failures: list[str]) -> Any:
    print(f"\n== {name} {' '.join(args)}", flush=True)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, str(BENCH / name), *args], cwd=ROOT,
                          stdout=subprocess.PIPE, text=True)
    print(proc.stdout, end="", flush=True)
    print(f"   ({time.perf_counter() - t0:.0f} s)", flush=True)
    if proc.returncode != 0:
        failures.append(f"{name} exited {proc.returncode}")
        return None
    if out is None:
        return proc.stdout
    return json.loads(out.read_text()) if out.exists() else None


def cob_figures(sizes: list[int], tmp: Path, failures: list[str]) -> list[dict[str, Any]]:
    helptext = subprocess.run([sys.executable, str(BENCH / "bench_cob.py"), "--help"],
                              cwd=ROOT, capture_output=True, text=True).stdout
    if "--json" in helptext:
        out = tmp / "cob.json"
        data = run("bench_cob.py", ["--sizes", *map(str, sizes), "--json", str(out)], out,
                   failures)
        rows = data.get("sizes", data.get("rows", [])) if isinstance(data, dict) else data
        return list(rows or [])
    rows = []
    for n in sizes:
        text = run("bench_cob.py", ["--one", str(n)], None, failures)
        line = next((x for x in (text or "").splitlines() if x.startswith("RESULT ")), None)
        if line:
            rows.append(json.loads(line[len("RESULT "):]))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the benches' default sizes")
    ns = parser.parse_args()
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-") as d:
        tmp = Path(d)
        for name in ("bench_apr.py", "bench_schedule.py", "bench_templates.py", "bench_rules.py",
                     "bench_model_bounds.py", "bench_id_guard.py"):
            run(name, [], None, failures)
        run("bench_webhooks.py", [] if ns.full else ["--sizes", "50", "200"], None, failures)
        ops = run("bench_operations.py", ["--loans", "3", "--json", str(tmp / "ops.json")],
                  tmp / "ops.json", failures)
        lat = run("bench_latency.py", ["--requests", "100" if ns.full else "30", "--ops",
                                       str(tmp / "ops.json"), "--json", str(tmp / "lat.json")],
                  tmp / "lat.json", failures) if ops else None
        # all 1000 rows: the sklearn side is refitted on them, as the shipped model was
        scoring = run("bench_scoring.py", ([] if ns.full else ["--batch-repeat", "5"])
                      + ["--json", str(tmp / "scoring.json")], tmp / "scoring.json", failures)
        cold = run("bench_cold_start.py", ["--runs", "9" if ns.full else "3", "--json",
                                           str(tmp / "cold.json")], tmp / "cold.json", failures)
        stack_args = ([] if ns.full else ["--items", "5000", "--seconds", "5", "--threads",
                                          "4", "--paths", "api"])
        stack = run("bench_local_stack.py", [*stack_args, "--json", str(tmp / "stack.json")],
                    tmp / "stack.json", failures)
        cob = cob_figures([1000, 5000] if ns.full else [300], tmp, failures)
        bank = run("bench_fake_bank.py", ["--json", str(tmp / "bank.json")]
                   + ([] if ns.full else ["--payouts", "100", "--loans", "6"]),
                   tmp / "bank.json", failures)
    table(ops, lat, scoring, cold, stack, cob, failures)
    bank_table(bank)
    sys.exit(1 if failures else 0)


def bank_table(bank: Any) -> None:
    print("Payouts per second through the fake bank over HTTPS (bench_fake_bank)")
    for c in (bank or {}).get("cells", []):
        print(f"  {c['path']:<9} {c['threads']} threads {c['rate']:7.1f} payouts/s "
              f"({c['payouts']} in {c['seconds']:.2f} s)")


def table(ops: Any, lat: Any, scoring: Any, cold: Any, stack: Any, cob: list[dict[str, Any]],
          failures: list[str]) -> None:
    line = "=" * 96
    print(f"\n{line}\nSUMMARY (one run on this machine; figures, not assertions)\n{line}")
    print("DynamoDB per operation through the API (in-process moto; WCU estimated from items)")
    if ops:
        for name, r in ops["operations"].items():
            kinds = ", ".join(f"{k} {v:g}" for k, v in sorted(r["requests"].items()))
            print(f"  {name:<24}{r['total']:>6.3g} requests {r['wcu']:>6.3g} WCU  ({kinds})")
    print("Latency per endpoint on the local stack vs bare Chalice with the same DynamoDB calls")
    for r in (lat or {}).get("latency", []):
        print(f"  {r['endpoint']:<32}{r['dynamodb_calls']:>3} calls  p50 {r['p50_ms']:6.1f} ms"
              f"  p99 {r['p99_ms']:6.1f} ms | bare p50 {r['bare_p50_ms']:6.1f} p99 "
              f"{r['bare_p99_ms']:6.1f} | ratio p50 {r['p50_ms'] / r['bare_p50_ms']:.2f}")
    print("Scoring, one application (µs)")
    if scoring:
        single = scoring["single_us"]
        ort = single["onnxruntime session.run (1 row)"]
        skl = single["sklearn predict_proba (1-row DataFrame ready)"]
        print(f"  onnxruntime p50 {ort['p50']:.0f} p99 {ort['p99']:.0f} | scikit-learn p50 "
              f"{skl['p50']:.0f} p99 {skl['p99']:.0f} | sklearn/ort p50 "
              f"{skl['p50'] / ort['p50']:.1f}x")
    print("COB loans per second by portfolio size (local stack)")
    for r in cob:
        n, wall = r.get("n"), r.get("wall")
        if n and wall:
            print(f"  {n:>7,} loans  {n / wall:7.1f} loans/s  ({wall:.1f} s)")
    print("API handler import time vs a bare Chalice app")
    for r in (cold or {}).get("cold_start", []):
        print(f"  {r['setting']:<62} {r['app_ms']:6.0f} ms vs {r['bare_ms']:5.0f} ms "
              f"= {r['ratio']:.2f}x")
    print("Journal postings through the HTTP API on the local stack")
    for c in (stack or {}).get("cells", []):
        print(f"  {c['path']:<34} {c['threads']} threads {c['rate']:6.1f}/s wall, "
              f"{c['per_cpu_s']:6.1f} per CPU-s (moto {c['moto_ms']:.1f} + API "
              f"{c['api_ms']:.1f} + client {c['client_ms']:.1f} ms CPU/posting), "
              f"load {c['load']}")
    if stack:
        print(f"  ({stack['items']:,} ledger items; verify ok={stack['verify_ok']})")
    for f in failures:
        print(f"FAILED: {f}")


if __name__ == "__main__":
    main()
