"""Where a tenant's sandbox clock lives (stages local and test only; see chalicelib/clock.py).

One item beside the tenant: the clock's offset from real time in microseconds (0 = the real
clock) and the head of its audit chain. Returning to the real clock writes offset 0 rather than
deleting the item, so the chain keeps its head and audit verification its tail check.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from chalicelib.store import dynamo
from chalicelib.store.keys import key
from chalicelib.store.uow import put

SK = "sandbox-clock"


def keys(tenant: str) -> tuple[str, str]:
    return key(tenant, "tenant"), SK


def head_ref(tenant: str) -> dict[str, str]:
    pk, sk = keys(tenant)
    return {"table": "main", "pk": pk, "sk": sk}


def get(tenant: str) -> dict[str, Any] | None:
    pk, sk = keys(tenant)
    item: dict[str, Any] | None = dynamo.client().get_item(
        TableName=dynamo.table("main"), Key={"pk": {"S": pk}, "sk": {"S": sk}},
        ConsistentRead=True).get("Item")
    return item


def offset(item: dict[str, Any] | None) -> timedelta:
    return timedelta(microseconds=int(item["offset_us"]["N"])) if item else timedelta(0)


def put_item(tenant: str, shift: timedelta, at: datetime, version: int | None, seq: int,
             head: str) -> dict[str, Any]:
    """A TransactItems Put of the clock, guarded by the version read (None: must not exist)."""
    pk, sk = keys(tenant)
    item = {"pk": {"S": pk}, "sk": {"S": sk},
            "offset_us": {"N": str(shift // timedelta(microseconds=1))},
            "updated_at": {"S": at.isoformat()}, "version": {"N": str((version or 0) + 1)},
            "audit_seq": {"N": str(seq)}, "audit_head": {"S": head}}
    if version is None:
        return put("main", item, "attribute_not_exists(pk)")
    return put("main", item, "#v = :v", names={"#v": "version"},
               values={":v": {"N": str(version)}})
