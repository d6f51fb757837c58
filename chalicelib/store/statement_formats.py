"""Where a channel's statement format lives: pk `<t>#stmtfmt#<channel>`, sk `format`, the
setting as JSON and a version that orders concurrent changes (its audit chain is
`statement_format/<channel>`)."""

from __future__ import annotations

import json
from typing import Any

from chalicelib.store import dynamo
from chalicelib.store.keys import key

SK = "format"


def keys(tenant: str, channel_id: str) -> dict[str, Any]:
    return {"pk": {"S": key(tenant, "stmtfmt", channel_id)}, "sk": {"S": SK}}


def get(tenant: str, channel_id: str) -> tuple[dict[str, Any], int, str] | None:
    """(setting, version, updated_at), or None while the channel has none."""
    item = dynamo.client().get_item(TableName=dynamo.table("main"), ConsistentRead=True,
                                    Key=keys(tenant, channel_id)).get("Item")
    if not item:
        return None
    return json.loads(item["setting"]["S"]), int(item["version"]["N"]), item["updated_at"]["S"]


def put(tenant: str, channel_id: str, setting: dict[str, Any], version: int,
        updated_at: str) -> dict[str, Any]:
    """The transaction's put of version `version`, only over version - 1 (or nothing)."""
    condition = "attribute_not_exists(pk)" if version == 1 else "#v = :prev"
    op: dict[str, Any] = {"TableName": dynamo.table("main"), "Item": {
        **keys(tenant, channel_id), "setting": {"S": json.dumps(setting, sort_keys=True)},
        "version": {"N": str(version)}, "updated_at": {"S": updated_at}},
        "ConditionExpression": condition}
    if version > 1:
        op["ExpressionAttributeNames"] = {"#v": "version"}
        op["ExpressionAttributeValues"] = {":prev": {"N": str(version - 1)}}
    return {"Put": op}
