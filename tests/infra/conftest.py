"""Prints the artifact's size and margin at the end of the run (test output is captured)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

LOADED_AT = time.time()
MANIFEST = Path(__file__).resolve().parents[2] / "build" / "test-artifact" / "last-manifest.json"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not MANIFEST.is_file() or MANIFEST.stat().st_mtime < LOADED_AT:
        return
    from infra.package import summary

    terminalreporter.write_line("lambda artifact: " + summary(json.loads(MANIFEST.read_text())))
