"""A nightly step that raised is told apart from its report by `status`, in the model and in
what the API sends, so a client reads a `StepFailed` rather than a report missing its fields."""

from __future__ import annotations

from typing import Any

from chalicelib.api.reconciliation import VerificationOut
from chalicelib.api.reconciliation_models import LedgerCheck, StepFailed, tagged
from chalicelib.services import daily_checks


def _boom() -> dict[str, Any]:
    raise RuntimeError("table unavailable")


def test_a_failed_step_parses_as_step_failed_and_a_report_as_its_check():
    results: dict[str, Any] = {}
    daily_checks._step(results, "audit", _boom)
    results["ledger"] = {"ok": True, "accounts": 3, "journals": 2, "entries": 4,
                         "discrepancies": 0, "shown": []}
    view = VerificationOut(**tagged({"day": "2026-03-02", "ok": False,
                                     "ran_at": "2026-03-03T00:00:00Z", **results}))
    assert isinstance(view.audit, StepFailed) and isinstance(view.ledger, LedgerCheck)
    sent = view.model_dump(mode="json")
    assert sent["audit"] == {"status": "failed", "ok": False,
                             "error": "RuntimeError: table unavailable"}
    assert sent["ledger"] == {"status": "checked", **results["ledger"]}
    assert sent["checkpoints"] is None
