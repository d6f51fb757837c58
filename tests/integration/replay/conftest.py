"""Replay fixtures: the state a repeated delivery must leave exactly as it found it."""

from __future__ import annotations

from typing import Any

from chalicelib.store import dynamo
from tests.integration.contracts.conftest import _fresh_caches  # noqa: F401
from tests.integration.disbursement.conftest import acme, clock, product  # noqa: F401
from tests.integration.servicing.conftest import receiver  # noqa: F401

# main-table items that carry money, loan state, outbox and reconciliation results (not the
# bookkeeping of a delivery itself: job run records, markers, received-callback ids)
WATCHED = ("#loan#", "#disb#", "#repayment#", "#event#", "#webhook#", "#dead-letters",
           "#channel#", "#chusage#", "#recon-exc#", "#recon-run#", "#verification#",
           "#checkpoint", "#breaker#")


def _scan(table: str) -> list[dict[str, Any]]:
    client, items = dynamo.client(), []
    kwargs: dict[str, Any] = {"TableName": dynamo.table(table), "ConsistentRead": True}
    while True:
        page = client.scan(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return sorted(items, key=lambda i: (i["pk"]["S"], i["sk"]["S"]))
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every ledger item (accounts and balances, journals, entries), every audit record, and
    the watched main-table items."""
    out = {t: _scan(t) for t in ("ledger-accounts", "ledger-journals", "ledger-entries",
                                 "audit")}
    out["main"] = [i for i in _scan("main") if any(w in i["pk"]["S"] for w in WATCHED)]
    return out


def books_hold(api: Any, keys: dict[str, str]) -> None:
    ledger = api.call("POST", "/v1/ledger/verify", key=keys["admin"]).json
    assert ledger["ok"], ledger
    trail = api.call("POST", "/v1/audit/verify", key=keys["admin"]).json
    assert trail["ok"], trail
