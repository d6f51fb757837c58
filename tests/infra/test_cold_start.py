"""The API handler's cold start must not pay for onnxruntime (~230 ms) until a score is asked."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = r"""
import json, sys
import app  # what Lambda imports for the API handler (Handler: app.app)
import chalicelib.api.auth  # the authorizer function's module
before = sorted(m for m in ("onnxruntime", "sklearn", "pandas", "moto") if m in sys.modules)
from chalicelib.scoring.registry import default_scorer
from tests.unit.scoring.conftest import SAFE
default_scorer().score(SAFE)
print(json.dumps({"before": before, "after": "onnxruntime" in sys.modules}))
"""


def test_importing_the_handlers_does_not_load_onnxruntime():
    proc = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True,
                          text=True, check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout.splitlines()[-1])
    assert seen["before"] == []
    assert seen["after"] is True  # the probe can see a lazy import happen
