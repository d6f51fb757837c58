"""The README's walk and docs/lifecycle.md run as pasted: their shell blocks, in order, with the
`.local/stack.env` the real local stack wrote, against that stack."""

from __future__ import annotations

import re
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def _script(doc: str, tenant: str, section: str = "") -> str:
    """The ```sh blocks of the document (from its `section` heading to the next one), joined;
    the walk's tenant renamed so that one stack can run it more than once (a tenant id and its
    platform idempotency keys are unique)."""
    text = (ROOT / doc).read_text(encoding="utf-8")
    if section:
        text = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    return "\n".join(re.findall(r"^```sh\n(.*?)^```$", text, flags=re.S | re.M)).replace(
        "acme", tenant)


def _run(stack, tmp_path: Path, script: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / ".local").mkdir(exist_ok=True)
    assert stack.env_file is not None and stack.env_file.exists()
    shutil.copy(stack.env_file, tmp_path / ".local" / "stack.env")  # as `make run` wrote it
    return subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)


def test_the_readme_walk_runs_as_pasted(stack, tmp_path):
    tenant = f"walk{uuid.uuid4().hex[:8]}"
    blocks = _script("README.md", tenant, "A walk through with curl")
    assert blocks.startswith("source .local/stack.env"), blocks[:200]
    run = _run(stack, tmp_path, blocks)
    assert run.returncode == 0, run.stderr[-2000:]
    out = run.stdout
    assert '"status":"ok"' in out.replace(" ", "")
    assert "Idempotent-Replayed: true" in out or "idempotent-replayed: true" in out.lower()
    assert '"ok":true' in out.replace(" ", "")  # the audit verification
    assert "validation-error" in out


def test_the_lifecycle_guide_runs_as_pasted(stack, tmp_path):
    script = _script("docs/lifecycle.md", f"guide{uuid.uuid4().hex[:8]}")
    script += '\ncurl $API/v1/loans/$LOAN -H "Authorization: Bearer $PARTNER_KEY" | j status\n'
    run = _run(stack, tmp_path, script)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.rstrip().splitlines()[-1] == "closed", run.stdout[-2000:]
