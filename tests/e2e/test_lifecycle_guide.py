"""docs/lifecycle.md runs as pasted: its shell blocks, in order, take a loan from a new tenant
to closed on the real local stack."""

from __future__ import annotations

import re
import subprocess
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
GUIDE = Path(__file__).resolve().parents[2] / "docs" / "lifecycle.md"


def _blocks(text: str) -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```$", text, flags=re.S | re.M)


def test_the_lifecycle_guide_runs_as_pasted(stack, tmp_path):
    (tmp_path / ".local").mkdir()
    (tmp_path / ".local" / "stack.env").write_text(
        f"export API={stack.base}\nexport ADMIN={stack.admin_key}\n", encoding="utf-8")
    tenant = f"guide{uuid.uuid4().hex[:8]}"  # a fresh tenant: its platform idempotency keys too
    script = "\n".join(_blocks(GUIDE.read_text(encoding="utf-8"))).replace("acme", tenant)
    script += '\ncurl $API/v1/loans/$LOAN -H "Authorization: Bearer $PARTNER_KEY" | j status\n'
    run = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.rstrip().splitlines()[-1] == "closed", run.stdout[-2000:]
