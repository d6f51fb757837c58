"""pytest plugin (-p tests.infra.iam_recorder): records the IAM action each DynamoDB call needs.

IAM authorises each action inside TransactWriteItems/TransactGetItems as its single-item twin
with dynamodb:EnclosingOperation set, so a transaction becomes one record per item. The
records go to the JSON file named by IAM_RECORD_FILE when the session ends.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from botocore.client import BaseClient

TRANSACT = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
            "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}
_seen: set[tuple[str, str, str]] = set()
_original = BaseClient._make_api_call
ROOT = Path(__file__).resolve().parents[2]
PRODUCT = (str(ROOT / "chalicelib"), str(ROOT / "ledger"), str(ROOT / "app.py"))


def _from_product_code() -> bool:
    """The nearest caller in this repository is product code, not a test tampering with data
    or the fixture creating tables."""
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if name.startswith(str(ROOT)) and "/.venv/" not in name:
            return name.startswith(PRODUCT)
        frame = frame.f_back
    return False


def _record(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
    if self.meta.service_model.service_name == "dynamodb" and _from_product_code():
        if operation in ("TransactWriteItems", "TransactGetItems"):
            for item in params.get("TransactItems", []):
                ((kind, body),) = item.items()
                _seen.add((TRANSACT[kind], body["TableName"], operation))
        elif operation in ("BatchGetItem", "BatchWriteItem"):
            for table in params.get("RequestItems", {}):
                _seen.add((operation, table, ""))
        elif "TableName" in params:
            _seen.add((operation, params["TableName"], ""))
    return _original(self, operation, params)


BaseClient._make_api_call = _record  # type: ignore[method-assign]


def pytest_sessionfinish() -> None:
    path = os.environ.get("IAM_RECORD_FILE")
    if path:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(sorted(_seen), fh)
