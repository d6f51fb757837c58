"""Where channels, their breakers, daily usage counters and callback routing live.

- channel `<t>#channel#<id>` / `channel` (aggregate; listed under gsi1pk `<t>#channels`)
- directory `<t>#chdir` / `<id>`: one entry per channel, put in its creation transaction, so
  routing lists the tenant's channel ids with one strongly consistent Query (the index may
  still miss a channel created a moment ago); channels created before the directory existed
  are found through the index (ids only: routing re-reads every channel item consistently)
- breaker `<t>#breaker#<id>` / `breaker`: the channel's state item. The breaker (versioned;
  outside money transactions) and `balance_low` (the low-balance flag, flipped only by a
  conditional write, so each crossing is announced once; it never moves the version)
- usage `<t>#chusage#<id>#<yyyy-mm-dd>` / `usage`: `used` minor units, raised in the same
  transaction as the payout's pending journal under `used + amount <= limit`, lowered on void
- route `_platform#chroute#<id>` / `route`: channel id → tenant, for unauthenticated callbacks
  (channel ids are random and global; the route only says where to look for the secret)
- seen callback `<t>#chcb#<id>#<webhook id>` / `cb`: put once, in the callback's transaction
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pynamodb.attributes import BooleanAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import DoesNotExist

from chalicelib.channels import breaker
from chalicelib.store import dynamo
from chalicelib.store.attributes import IntAttribute
from chalicelib.store.keys import PLATFORM, key
from chalicelib.store.models import Aggregate, MainItem
from chalicelib.store.uow import check_version, put

CHANNEL_SK = "channel"
USAGE_TTL_DAYS = 40


class ChannelItem(Aggregate):
    channel_id = UnicodeAttribute()
    name = UnicodeAttribute()
    type = UnicodeAttribute()
    currency = UnicodeAttribute()
    fixed_cost = IntAttribute()
    proportional_bps = IntAttribute()
    settlement_seconds = IntAttribute()
    max_payout = IntAttribute(null=True)
    daily_limit = IntAttribute(null=True)
    enabled = BooleanAttribute()
    config = UnicodeAttribute()  # JSON: the adapter's settings (sandbox behaviour)
    webhook_secret = UnicodeAttribute()  # whsec_...; shown once at creation
    breaker_threshold = IntAttribute()
    breaker_cooldown_seconds = IntAttribute()
    low_balance_threshold = IntAttribute(null=True)  # minor units; None: not watched


class BreakerItem(MainItem):
    state = UnicodeAttribute()
    failures = IntAttribute()
    opened_at = UTCDateTimeAttribute(null=True)
    probe_until = UTCDateTimeAttribute(null=True)
    version = IntAttribute()
    balance_low = BooleanAttribute(null=True)


@dataclass(frozen=True)
class ChannelState:
    """The channel's state item as read: its breaker (and version) and the low-balance flag."""

    breaker: breaker.State
    version: int
    balance_low: bool


def channel_pk(tenant: str, channel_id: str) -> str:
    return key(tenant, "channel", channel_id)


def list_pk(tenant: str) -> str:
    return key(tenant, "channels")


def route_item(tenant: str, channel_id: str) -> dict[str, Any]:
    return {"pk": {"S": key(PLATFORM, "chroute", channel_id)}, "sk": {"S": "route"},
            "tenant": {"S": tenant}}


def tenant_of_channel(channel_id: str) -> str | None:
    item = dynamo.client().get_item(
        TableName=dynamo.table("main"), ConsistentRead=True,
        Key={"pk": {"S": key(PLATFORM, "chroute", channel_id)}, "sk": {"S": "route"}},
    ).get("Item")
    return item["tenant"]["S"] if item else None


def get_channel(tenant: str, channel_id: str) -> ChannelItem | None:
    try:
        return ChannelItem.get(channel_pk(tenant, channel_id), CHANNEL_SK, consistent_read=True)
    except DoesNotExist:
        return None


def list_channels(tenant: str, limit: int = 100, start: dict[str, Any] | None = None
                  ) -> tuple[list[ChannelItem], dict[str, Any] | None]:
    kwargs: dict[str, Any] = {"TableName": dynamo.table("main"), "IndexName": "gsi1",
                              "KeyConditionExpression": "gsi1pk = :p",
                              "ExpressionAttributeValues": {":p": {"S": list_pk(tenant)}},
                              "Limit": limit}
    if start:
        kwargs["ExclusiveStartKey"] = start
    page = dynamo.client().query(**kwargs)
    return ([ChannelItem.from_raw_data(i) for i in page.get("Items", [])],
            page.get("LastEvaluatedKey"))


def directory_pk(tenant: str) -> str:
    return key(tenant, "chdir")


def directory_item(tenant: str, channel_id: str) -> dict[str, Any]:
    return {"pk": {"S": directory_pk(tenant)}, "sk": {"S": channel_id}}


def _ids(attribute: str, **query: Any) -> set[str]:
    kwargs: dict[str, Any] = {"TableName": dynamo.table("main"),
                              "ProjectionExpression": attribute, **query}
    ids: set[str] = set()
    while True:
        page = dynamo.client().query(**kwargs)
        ids.update(i[attribute]["S"] for i in page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return ids
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def channel_ids(tenant: str) -> set[str]:
    """Every channel id of the tenant: the directory (consistent) and, for channels older than
    the directory, the index (a stale row there only names a channel that is re-read)."""
    return directory_ids(tenant) | index_ids(tenant)


def index_ids(tenant: str) -> set[str]:
    """The ids the listing index holds (eventually consistent: may miss the newest)."""
    return _ids("channel_id", IndexName="gsi1", KeyConditionExpression="gsi1pk = :p",
                ExpressionAttributeValues={":p": {"S": list_pk(tenant)}})


def directory_ids(tenant: str) -> set[str]:
    """The ids in the directory (one consistent Query): every channel created since it exists."""
    return _ids("sk", ConsistentRead=True, KeyConditionExpression="pk = :p",
                ExpressionAttributeValues={":p": {"S": directory_pk(tenant)}})


def get_channels(tenant: str, ids: set[str] | list[str]) -> list[ChannelItem]:
    """The channels' items as they are now (one consistent BatchGetItem per 100), by id;
    an id with no channel is left out."""
    keys = [(channel_pk(tenant, i), CHANNEL_SK) for i in ids]
    return sorted(ChannelItem.batch_get(keys), key=lambda c: c.channel_id)


def unchanged(item: ChannelItem, amount: int) -> dict[str, Any]:
    """A TransactItems ConditionCheck: the channel is still the one routing read (its version
    pins every attribute the ranking used), still enabled, and its limits still admit the
    amount (the usage counter is checked against the daily limit read)."""
    check = check_version(item)
    body = check["ConditionCheck"]
    terms = [body["ConditionExpression"], "enabled = :on"]
    values: dict[str, Any] = {":on": {"BOOL": True}}
    if item.max_payout is None:
        terms.append("attribute_not_exists(max_payout)")
    else:
        terms.append("max_payout >= :amount")
        values[":amount"] = {"N": str(amount)}
    if item.daily_limit is None:
        terms.append("attribute_not_exists(daily_limit)")
    else:
        terms.append("daily_limit = :limit")
        values[":limit"] = {"N": str(item.daily_limit)}
    body["ConditionExpression"] = " AND ".join(terms)
    body["ExpressionAttributeValues"].update(values)
    return check


# --- breaker -----------------------------------------------------------------------------

def breaker_keys(tenant: str, channel_id: str) -> tuple[str, str]:
    return key(tenant, "breaker", channel_id), "breaker"


def get_state(tenant: str, channel_id: str) -> ChannelState:
    """One consistent GetItem; an item the low-balance flag created alone has no breaker yet."""
    pk, sk = breaker_keys(tenant, channel_id)
    raw = dynamo.client().get_item(TableName=dynamo.table("main"), ConsistentRead=True,
                                   Key={"pk": {"S": pk}, "sk": {"S": sk}}).get("Item")
    if raw is None:
        return ChannelState(breaker.State(), 0, False)
    low = bool(raw.get("balance_low", {}).get("BOOL", False))
    if "version" not in raw:
        return ChannelState(breaker.State(), 0, low)
    item = BreakerItem.from_raw_data(raw)
    return ChannelState(breaker.State(item.state, item.failures, item.opened_at,
                                      item.probe_until), item.version, low)


def get_breaker(tenant: str, channel_id: str) -> tuple[breaker.State, int]:
    state = get_state(tenant, channel_id)
    return state.breaker, state.version


def breaker_update(tenant: str, channel_id: str, state: breaker.State,
                   expected: int) -> dict[str, Any]:
    """The Update writing `state` if the version is still `expected` (0: no breaker yet); it
    leaves the low-balance flag alone."""
    pk, sk = breaker_keys(tenant, channel_id)
    attrs = BreakerItem(pk, sk, state=state.state, failures=state.failures,
                        opened_at=state.opened_at, probe_until=state.probe_until,
                        version=expected + 1).serialize()
    names = ("state", "failures", "opened_at", "probe_until", "version")
    present = [n for n in names if n in attrs]
    absent = [n for n in names if n not in attrs]
    expression = "SET " + ", ".join(f"#{n} = :{n}" for n in present)
    if absent:
        expression += " REMOVE " + ", ".join(f"#{n}" for n in absent)
    values = {f":{n}": attrs[n] for n in present}
    if expected:
        condition = "#version = :expected"
        values[":expected"] = {"N": str(expected)}
    else:
        condition = "attribute_not_exists(#version)"
    return {"Update": {
        "TableName": dynamo.table("main"), "Key": {"pk": {"S": pk}, "sk": {"S": sk}},
        "UpdateExpression": expression, "ConditionExpression": condition,
        "ExpressionAttributeNames": {f"#{n}": n for n in names},
        "ExpressionAttributeValues": values}}


def save_breaker(tenant: str, channel_id: str, state: breaker.State, expected: int) -> bool:
    """Conditional on the version read; False when another request changed it first."""
    try:
        update = breaker_update(tenant, channel_id, state, expected)["Update"]
        dynamo.client().update_item(**update)
    except dynamo.client().exceptions.ConditionalCheckFailedException:
        return False
    return True


def balance_flag(tenant: str, channel_id: str, low: bool) -> dict[str, Any]:
    """The Update flipping the low-balance flag to `low`, refused unless it was the other way:
    of concurrent requests that see the same crossing, one wins and announces it."""
    pk, sk = breaker_keys(tenant, channel_id)
    condition = ("attribute_not_exists(balance_low) OR balance_low = :other" if low
                 else "balance_low = :other")
    return {"Update": {
        "TableName": dynamo.table("main"), "Key": {"pk": {"S": pk}, "sk": {"S": sk}},
        "UpdateExpression": "SET balance_low = :low", "ConditionExpression": condition,
        "ExpressionAttributeValues": {":low": {"BOOL": low}, ":other": {"BOOL": not low}}}}


# --- daily usage -------------------------------------------------------------------------

def usage_keys(tenant: str, channel_id: str, day: date) -> dict[str, Any]:
    return {"pk": {"S": key(tenant, "chusage", channel_id, day.isoformat())},
            "sk": {"S": "usage"}}


def used_on(tenant: str, channel_id: str, day: date) -> int:
    item = dynamo.client().get_item(TableName=dynamo.table("main"), ConsistentRead=True,
                                    Key=usage_keys(tenant, channel_id, day)).get("Item")
    return int(item["used"]["N"]) if item else 0


def reserve_usage(tenant: str, channel_id: str, day: date, amount: int, limit: int | None,
                  now: datetime) -> dict[str, Any]:
    """A TransactItems Update raising today's usage, refused past the daily limit."""
    update: dict[str, Any] = {
        "TableName": dynamo.table("main"), "Key": usage_keys(tenant, channel_id, day),
        "UpdateExpression": "ADD used :a SET expires_at = if_not_exists(expires_at, :ttl)",
        "ExpressionAttributeValues": {":a": {"N": str(amount)}, ":ttl": {
            "N": str(int(now.timestamp()) + USAGE_TTL_DAYS * 86400)}},
    }
    if limit is not None:
        update["ConditionExpression"] = "attribute_not_exists(used) OR used <= :room"
        update["ExpressionAttributeValues"][":room"] = {"N": str(limit - amount)}
        update["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
    return {"Update": update}


def release_usage(tenant: str, channel_id: str, day: date, amount: int) -> dict[str, Any]:
    return {"Update": {
        "TableName": dynamo.table("main"), "Key": usage_keys(tenant, channel_id, day),
        "UpdateExpression": "ADD used :a",
        "ExpressionAttributeValues": {":a": {"N": str(-amount)}}}}


# --- callbacks ---------------------------------------------------------------------------

def seen_keys(tenant: str, channel_id: str, msg_id: str) -> dict[str, Any]:
    return {"pk": {"S": key(tenant, "chcb", channel_id, msg_id)}, "sk": {"S": "cb"}}


def seen(tenant: str, channel_id: str, msg_id: str) -> bool:
    return "Item" in dynamo.client().get_item(TableName=dynamo.table("main"),
                                              ConsistentRead=True,
                                              Key=seen_keys(tenant, channel_id, msg_id))


def seen_item(tenant: str, channel_id: str, msg_id: str, now: datetime) -> dict[str, Any]:
    item = {**seen_keys(tenant, channel_id, msg_id), "at": {"S": now.isoformat()},
            "expires_at": {"N": str(int(now.timestamp()) + USAGE_TTL_DAYS * 86400)}}
    return put("main", item, "attribute_not_exists(pk)")


def head_ref(item: Any) -> dict[str, str]:
    return {"table": "main", "pk": item.pk, "sk": item.sk}
