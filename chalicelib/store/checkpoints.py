"""Daily audit checkpoints, stored in the audit table (append-only: conditional puts, and IAM
denies UpdateItem/DeleteItem there), beside - never inside - the audit records' own keys.

Item: pk `<tenant>#checkpoint`, sk `<through>` (ISO time the checkpoint covers up to, fixed
width); no index attributes, so the audit verifier's
per-tenant index never sees them. Each checkpoint carries the previous one's hash, so removing
or rewriting a checkpoint breaks the checkpoint chain as well.
"""

from __future__ import annotations

from typing import Any

from chalicelib.store import dynamo
from chalicelib.store.audit import SHARDS, from_item
from chalicelib.store.keys import key


def pk(tenant: str) -> str:
    return key(tenant, "checkpoint")


def interval_records(tenant: str, lower: str, upper: str,
                     cap: int = 2_000_000) -> list[dict[str, Any]]:
    """Every audit record of the tenant with lower <= time < upper (ISO strings), from the
    sharded index (gsi1sk starts with the record's ISO time)."""
    out: list[dict[str, Any]] = []
    client = dynamo.client()
    for shard in range(SHARDS):
        kwargs: dict[str, Any] = {
            "TableName": dynamo.table("audit"), "IndexName": "gsi1",
            "KeyConditionExpression": "gsi1pk = :p AND gsi1sk BETWEEN :lo AND :hi",
            "ExpressionAttributeValues": {":p": {"S": key(tenant, "audit", f"{shard:02d}")},
                                          ":lo": {"S": lower}, ":hi": {"S": upper}},
        }
        while len(out) < cap:
            page = client.query(**kwargs)
            for item in page.get("Items", []):
                if item["gsi1sk"]["S"] >= upper:
                    continue  # BETWEEN is inclusive; the interval is half-open
                record = from_item(item)
                record["gsi1sk"] = item["gsi1sk"]["S"]
                out.append(record)
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return out


def put(item: dict[str, Any]) -> bool:
    """Writes a checkpoint once; False when that day already has one."""
    from botocore.exceptions import ClientError

    try:
        dynamo.client().put_item(TableName=dynamo.table("audit"), Item=item,
                                 ConditionExpression="attribute_not_exists(pk)")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True


def get(tenant: str, through: str) -> dict[str, Any] | None:
    item: dict[str, Any] | None = dynamo.client().get_item(
        TableName=dynamo.table("audit"), Key={"pk": {"S": pk(tenant)}, "sk": {"S": through}},
        ConsistentRead=True).get("Item")
    return item


def latest(tenant: str, before: str | None = None, limit: int = 1) -> list[dict[str, Any]]:
    """The newest checkpoints (optionally strictly before a `through`), newest first."""
    condition = "pk = :p" + (" AND sk < :d" if before else "")
    values: dict[str, Any] = {":p": {"S": pk(tenant)}}
    if before:
        values[":d"] = {"S": before}
    page = dynamo.client().query(TableName=dynamo.table("audit"), KeyConditionExpression=condition,
                                 ExpressionAttributeValues=values, ScanIndexForward=False,
                                 Limit=limit, ConsistentRead=True)
    items: list[dict[str, Any]] = page.get("Items", [])
    return items
