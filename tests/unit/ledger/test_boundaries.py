"""ledger/ stands alone: no chalice or chalicelib anywhere; the pure core imports no AWS SDK."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

LEDGER = Path(__file__).resolve().parents[3] / "ledger"
ADAPTERS = {"dynamodb.py"}
AWS = ("boto3", "botocore", "pynamodb", "aioboto3")


def imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0])
    return out


MODULES = sorted(LEDGER.glob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_no_application_imports(path: Path) -> None:
    assert not imports(path) & {"chalice", "chalicelib"}


@pytest.mark.parametrize("path", [p for p in MODULES if p.name not in ADAPTERS],
                         ids=lambda p: p.name)
def test_pure_core_imports_no_aws_sdk(path: Path) -> None:
    assert not imports(path) & set(AWS)
