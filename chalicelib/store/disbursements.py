"""Disbursements and per-product routing policies in the main table.

- disbursement `<t>#disb#<id>` / `disbursement` (aggregate; attempts as JSON)
- routing policy `<t>#routing#<product id>` / `policy`
"""

from __future__ import annotations

import json
from typing import Any

from pynamodb.attributes import UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import DoesNotExist

from chalicelib.channels.router import Policy, Strategy
from chalicelib.lending.payout_actions import action_required
from chalicelib.store import dynamo
from chalicelib.store.attributes import IntAttribute
from chalicelib.store.keys import key
from chalicelib.store.models import Aggregate

SK = "disbursement"
PROCESSING, SETTLED, FAILED = "processing", "settled", "failed"


class DisbursementItem(Aggregate):
    disbursement_id = UnicodeAttribute()
    loan_id = UnicodeAttribute()
    status = UnicodeAttribute()
    currency = UnicodeAttribute()
    financed = IntAttribute()  # debited to the loan's principal receivable
    payout = IntAttribute()  # paid to the borrower through the channel
    fee = IntAttribute()  # origination fee recognised as income at payout
    policy = UnicodeAttribute()  # JSON
    attempts = UnicodeAttribute(default="[]")  # JSON list, oldest first
    skipped = UnicodeAttribute(default="{}")  # JSON: channel -> why it was not tried (last)
    failure = UnicodeAttribute(null=True)
    settled_at = UTCDateTimeAttribute(null=True)
    # The loan's sealed beneficiary as it was at start (bound to the loan: services/beneficiaries)
    beneficiary_enc = UnicodeAttribute(null=True)

    def attempt_list(self) -> list[dict[str, Any]]:
        return json.loads(self.attempts)


def pk(tenant: str, disbursement_id: str) -> str:
    return key(tenant, "disb", disbursement_id)


def in_flight_pk(tenant: str) -> str:
    """Sparse index of the tenant's `processing` disbursements (the resume job's worklist)."""
    return key(tenant, "disb-inflight")


def mark_in_flight(tenant: str, item: DisbursementItem) -> None:
    """Keeps the item in the in-flight index exactly while it is processing, its sort key led
    by who must act (lending/payout_actions.py), so each actor's worklist is one query."""
    action = action_required(item.status, item.attempt_list(), item.updated_at)
    if action is not None:
        item.gsi1pk = in_flight_pk(tenant)
        item.gsi1sk = f"{action.by}#{item.created_at.isoformat()}#{item.disbursement_id}"
    else:
        item.gsi1pk = item.gsi1sk = None


def in_flight(tenant: str, limit: int = 500) -> list[str]:
    """Ids of processing disbursements, oldest first (eventually consistent: re-read each)."""
    out: list[str] = []
    kwargs: dict[str, Any] = {
        "TableName": dynamo.table("main"), "IndexName": "gsi1",
        "KeyConditionExpression": "gsi1pk = :p",
        "ExpressionAttributeValues": {":p": {"S": in_flight_pk(tenant)}}}
    while len(out) < limit:
        page = dynamo.client().query(**kwargs)
        out += [i["disbursement_id"]["S"] for i in page.get("Items", [])]
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return out[:limit]


def needing(tenant: str, by: str, limit: int,
            start: dict[str, Any] | None) -> tuple[list[DisbursementItem], dict[str, Any] | None]:
    """One page of the in-flight disbursements waiting for `by`, oldest first (the index
    trails writes by a moment: a caller acting on one re-reads it)."""
    kwargs: dict[str, Any] = {
        "TableName": dynamo.table("main"), "IndexName": "gsi1", "Limit": limit,
        "KeyConditionExpression": "gsi1pk = :p AND begins_with(gsi1sk, :by)",
        "ExpressionAttributeValues": {":p": {"S": in_flight_pk(tenant)}, ":by": {"S": f"{by}#"}}}
    if start:
        kwargs["ExclusiveStartKey"] = start
    page = dynamo.client().query(**kwargs)
    items = [DisbursementItem.from_raw_data(i) for i in page.get("Items", [])]
    return items, page.get("LastEvaluatedKey")


def get(tenant: str, disbursement_id: str) -> DisbursementItem | None:
    try:
        return DisbursementItem.get(pk(tenant, disbursement_id), SK, consistent_read=True)
    except DoesNotExist:
        return None


def policy_keys(tenant: str, product_id: str) -> dict[str, Any]:
    return {"pk": {"S": key(tenant, "routing", product_id)}, "sk": {"S": "policy"}}


def get_policy(tenant: str, product_id: str) -> Policy | None:
    item = dynamo.client().get_item(TableName=dynamo.table("main"), ConsistentRead=True,
                                    Key=policy_keys(tenant, product_id)).get("Item")
    if not item:
        return None
    return policy_of(json.loads(item["policy"]["S"]))


def policy_of(data: dict[str, Any]) -> Policy:
    return Policy(Strategy(data["strategy"]), data.get("max_settlement_seconds"),
                  int(data.get("max_attempts", 3)))


def policy_json(policy: Policy) -> dict[str, Any]:
    return {"strategy": policy.strategy.value,
            "max_settlement_seconds": policy.max_settlement_seconds,
            "max_attempts": policy.max_attempts}


def put_policy(tenant: str, product_id: str, policy: Policy) -> dict[str, Any]:
    return {"Put": {"TableName": dynamo.table("main"), "Item": {
        **policy_keys(tenant, product_id),
        "policy": {"S": json.dumps(policy_json(policy), sort_keys=True)}}}}
