"""Every scheduled function has its own timeout: none inherits the API's 29 seconds."""

from __future__ import annotations

import json
from pathlib import Path

import app as app_module

CONFIG = Path(__file__).resolve().parents[2] / ".chalice" / "config.json"
LAMBDA_MAX = 900


def test_every_scheduled_function_declares_a_timeout():
    stage = json.loads(CONFIG.read_text())["stages"]["dev"]
    functions = stage.get("lambda_functions", {})
    for source in app_module.app.event_sources:
        settings = functions.get(source.name)
        assert settings and "lambda_timeout" in settings, (
            f"{source.name}: add lambda_functions.{source.name}.lambda_timeout to the dev stage")
        assert stage["lambda_timeout"] < settings["lambda_timeout"] <= LAMBDA_MAX
