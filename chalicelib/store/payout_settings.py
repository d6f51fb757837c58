"""A tenant's payout settings in the main table: pk `<t>#settings`, sk `payouts` (raw item)."""

from __future__ import annotations

import json
from typing import Any

from chalicelib.store import dynamo
from chalicelib.store.keys import key

SK = "payouts"


def _key(tenant: str) -> dict[str, Any]:
    return {"pk": {"S": key(tenant, "settings")}, "sk": {"S": SK}}


def get(tenant: str) -> dict[str, Any] | None:
    item = dynamo.client().get_item(TableName=dynamo.table("main"), ConsistentRead=True,
                                    Key=_key(tenant)).get("Item")
    return json.loads(item["body"]["S"]) if item else None


def put(tenant: str, body: dict[str, Any]) -> dict[str, Any]:
    """A TransactItems Put of the settings (last writer wins; the audit chain keeps each)."""
    return {"Put": {"TableName": dynamo.table("main"), "Item": {
        **_key(tenant), "body": {"S": json.dumps(body, sort_keys=True)}}}}
