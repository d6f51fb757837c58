"""Cold start: import time of the API handler module (app.py) against a bare Chalice app with
boto3, as a ratio, each the median of fresh-interpreter imports (interleaved, same run).

Two settings: this venv (Python 3.11, source tree, __pycache__ warm), and, when `make package`
has built build/package/dev and a CPython 3.12 exists, the artifact itself under 3.12 with
/var/task, /opt/python and a boto3 stand-in for /var/runtime on sys.path: closest to Lambda.
Usage: .venv/bin/python bench/bench_cold_start.py [--runs 9]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from infra import package  # noqa: E402

BARE_APP = 'import boto3\nfrom chalice import Chalice\napp = Chalice(app_name="bare")\n'
TIMER = (
    "import sys, time\n"
    "sys.path[:0] = {paths!r}\n"
    "t0 = time.perf_counter()\n"
    "import {module}\n"
    "print(time.perf_counter() - t0)\n"
)


def import_seconds(python: str, module: str, paths: list[str], isolated: bool) -> float:
    flags = ["-I", "-S"] if isolated else []
    code = TIMER.format(paths=paths, module=module)
    out = subprocess.run([python, *flags, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    return float(out.strip().splitlines()[-1])


def compare(label: str, python: str, app_paths: list[str], bare_paths: list[str],
            runs: int, isolated: bool) -> dict[str, float | str]:
    app_t, bare_t = [], []
    import_seconds(python, "app", app_paths, isolated)  # warm the OS file cache once
    for _ in range(runs):
        app_t.append(import_seconds(python, "app", app_paths, isolated))
        bare_t.append(import_seconds(python, "bare_app", bare_paths, isolated))
    a, b = statistics.median(app_t), statistics.median(bare_t)
    print(f"{label}: import app {a * 1000:.0f} ms, bare Chalice+boto3 {b * 1000:.0f} ms, "
          f"ratio {a / b:.2f} (median of {runs}; app min/max {min(app_t) * 1000:.0f}/"
          f"{max(app_t) * 1000:.0f} ms)")
    return {"setting": label, "app_ms": a * 1000, "bare_ms": b * 1000, "ratio": a / b}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    rows: list[dict[str, float | str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "bare_app.py").write_text(BARE_APP)
        rows.append(compare("venv python3.11 (source tree)", sys.executable, [str(ROOT)],
                            [tmp], args.runs, isolated=False))
        stage = ROOT / "build" / "package" / "dev"
        python312 = package.find_python312()
        runtime = ROOT / "build" / "package" / "runtime-standin"
        if not (stage / "function").is_dir() or python312 is None or not runtime.is_dir():
            print("artifact under python3.12: skipped (run `make package`; needs a 3.12)")
        else:
            task, layer = str(stage / "function"), str(stage / "layer" / "python")
            # /var/runtime has its .pyc files; give the stand-in the same.
            subprocess.run([python312, "-m", "compileall", "-q", str(runtime)], check=False,
                           capture_output=True)
            rows.append(compare("artifact under python3.12 (/var/task + layer + runtime boto3)",
                                python312, [task, layer, str(runtime)],
                                [tmp, task, layer, str(runtime)], args.runs, isolated=True))
    if args.json:
        args.json.write_text(json.dumps({"cold_start": rows}, indent=1))


if __name__ == "__main__":
    main()
