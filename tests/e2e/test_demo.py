"""`make demo` at a small size: the real `python -m demo` against the local stack over HTTP,
its exit status and its summary (decisions, payouts, statuses, reconciliation, verification)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from demo import report
from tests.e2e.conftest import ROOT

pytestmark = pytest.mark.e2e
LOANS = 20


def test_demo_runs_twenty_loans_through_the_lifecycle(stack, tmp_path: Path):
    out = tmp_path / "summary.json"
    env = {**os.environ, "LOANS": str(LOANS), "WORKERS": "8", "COLUMNS": "120"}
    done = subprocess.run([sys.executable, "-m", "demo", "--base-url", stack.base,
                           "--admin-key", stack.admin_key, "--summary-json", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "Ledger verified" in done.stdout and "demo passed" in done.stdout
    s = json.loads(out.read_text())
    assert s["applications"] == LOANS and sum(s["decisions"].values()) == LOANS
    assert all(s["decisions"].get(k, 0) > 0 for k in ("approve", "refer", "decline")), s
    assert s["reviews"]["approved"] + s["reviews"]["declined"] == s["decisions"]["refer"]
    assert s["approved"] + s["declined"] == LOANS
    assert s["contracts_signed"] == s["disbursed"]["count"] == s["approved"]
    statuses = s["loans_by_status"]
    assert sum(statuses.values()) == s["approved"]
    # paying the quote closes a loan; weekly loans still owing are late after the COB days
    # passed their first due date; monthly ones have nothing due yet
    assert statuses.get("closed", 0) == s["repayment_behaviour"].get("payoff", 0) > 0
    assert statuses.get("delinquent", 0) > 0 and statuses.get("active", 0) > 0, s
    assert [c["business_date"] for c in s["cob"]] and all(c["conflicts"] == 0 for c in s["cob"])
    assert s["reconciliation"] and all(r["exceptions"] == 0 and r["matched"] > 0
                                       for r in s["reconciliation"].values()), s
    assert s["ledger_verified"] and s["audit_verified"] and s["server_errors"] == 0
    assert s["errors"] == 0 and s["requests"] > 8 * LOANS
    assert report.passed(s)


@pytest.mark.parametrize("broken", [{"ledger_verified": False}, {"audit_verified": False},
                                    {"server_errors": 1}, {"errors": 2}])
def test_demo_fails_when_the_books_or_the_server_do(broken):
    good = {"ledger_verified": True, "audit_verified": True, "server_errors": 0, "errors": 0}
    assert report.passed(good)
    assert not report.passed({**good, **broken})
