"""Cold start: importing the scoring package must not import onnxruntime, pandas or sklearn."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.unit.scoring.conftest import SAFE

ROOT = Path(__file__).resolve().parents[3]

PROGRAM = """
import json, sys
import chalicelib.scoring
import chalicelib.scoring.card, chalicelib.scoring.features, chalicelib.scoring.reasons
import chalicelib.scoring.registry, chalicelib.scoring.runtime, chalicelib.scoring.scale
import chalicelib.scoring.validation
heavy = ("onnxruntime", "pandas", "sklearn", "skl2onnx", "onnx")
at_import = {m: m in sys.modules for m in heavy}
result = chalicelib.scoring.default_scorer().score(json.loads(sys.argv[1]))
after_scoring = {m: m in sys.modules for m in heavy}
print(json.dumps({"at_import": at_import, "after_scoring": after_scoring, "pd": result.pd}))
"""


def test_onnxruntime_is_imported_only_when_a_model_is_loaded() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROGRAM, json.dumps(SAFE)],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert not any(report["at_import"].values()), report
    assert report["after_scoring"]["onnxruntime"] is True
    for module in ("pandas", "sklearn", "skl2onnx", "onnx"):
        assert report["after_scoring"][module] is False, module
    assert 0 < report["pd"] < 1
