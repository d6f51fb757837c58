"""Append-only audit records, hash-chained per aggregate.

Each record carries the previous record's hash; the aggregate's item carries the chain head, so
an edited, removed or reordered record breaks a link the verifier can name. Records are written
with conditional Puts inside the command's transaction and never updated or deleted.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.store import dynamo
from chalicelib.store.keys import key
from chalicelib.store.uow import UnitOfWork, put

GENESIS = "0" * 64
SHARDS = 16  # per-tenant index shards: a single per-tenant partition would be a hot item
HASHED_FIELDS = (
    "tenant", "aggregate_type", "aggregate_id", "seq", "prev_hash", "action",
    "actor_key_id", "actor_role", "request_id", "at", "data", "head_ref",
)


@dataclass(frozen=True)
class Actor:
    key_id: str
    role: str
    request_id: str


@dataclass(frozen=True)
class ChainHead:
    seq: int
    hash: str


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def record_hash(record: dict[str, Any]) -> str:
    return hashlib.sha256(canonical({f: record.get(f) for f in HASHED_FIELDS}).encode()).hexdigest()


def chain_pk(tenant: str, aggregate_type: str, aggregate_id: str) -> str:
    return key(tenant, "audit", aggregate_type, aggregate_id)


def _shard(aggregate_type: str, aggregate_id: str) -> int:
    digest = hashlib.sha256(f"{aggregate_type}/{aggregate_id}".encode()).hexdigest()
    return int(digest[:4], 16) % SHARDS


def append(uow: UnitOfWork, *, tenant: str, aggregate_type: str, aggregate_id: str,
           head: ChainHead | None, action: str, actor: Actor, at: datetime,
           data: dict[str, Any], head_ref: dict[str, str] | None = None) -> ChainHead:
    """Adds the next record of an aggregate's chain to the transaction; returns the new head.

    `data` must hold no personal data in clear. `head_ref` locates the item that stores the
    chain head (table, pk, sk) so the verifier can detect a removed tail.
    """
    prev = head or ChainHead(0, GENESIS)
    record = {
        "tenant": tenant,
        "aggregate_type": aggregate_type,
        "aggregate_id": aggregate_id,
        "seq": prev.seq + 1,
        "prev_hash": prev.hash,
        "action": action,
        "actor_key_id": actor.key_id,
        "actor_role": actor.role,
        "request_id": actor.request_id,
        "at": at.isoformat(),
        "data": canonical(data),
        "head_ref": canonical(head_ref) if head_ref else None,
    }
    record["hash"] = record_hash(record)
    uow.add(put("audit", _to_item(record), "attribute_not_exists(pk)"))
    return ChainHead(record["seq"], record["hash"])


def _to_item(record: dict[str, Any]) -> dict[str, Any]:
    pk = chain_pk(record["tenant"], record["aggregate_type"], record["aggregate_id"])
    shard = _shard(record["aggregate_type"], record["aggregate_id"])
    item = {
        "pk": {"S": pk},
        "sk": {"S": f"{record['seq']:012d}"},
        "gsi1pk": {"S": key(record["tenant"], "audit", f"{shard:02d}")},
        "gsi1sk": {"S": f"{record['at']}#{pk}#{record['seq']:012d}"},
        "seq": {"N": str(record["seq"])},
        "hash": {"S": record["hash"]},
    }
    for name in HASHED_FIELDS:
        value = record[name]
        if name == "seq" or value is None:
            continue
        item[name] = {"S": value}
    return item


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    record: dict[str, Any] = {name: item[name]["S"] for name in HASHED_FIELDS
                              if name in item and "S" in item[name]}
    record["seq"] = int(item["seq"]["N"]) if "seq" in item else None
    record.setdefault("head_ref", None)
    record["hash"] = item.get("hash", {}).get("S")
    record["pk"], record["sk"] = item["pk"]["S"], item["sk"]["S"]
    return record


def latest_head(tenant: str, aggregate_type: str, aggregate_id: str) -> ChainHead | None:
    """The chain head read from the trail itself, for aggregates whose item holds no head (the
    ledger's immutable journals and accounts); the conditional put still orders appends."""
    page = dynamo.client().query(
        TableName=dynamo.table("audit"), KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": chain_pk(tenant, aggregate_type, aggregate_id)}},
        ScanIndexForward=False, Limit=1, ConsistentRead=True)
    items = page.get("Items", [])
    return ChainHead(int(items[0]["seq"]["N"]), items[0]["hash"]["S"]) if items else None


def list_chain(tenant: str, aggregate_type: str, aggregate_id: str, limit: int,
               start: dict[str, Any] | None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """One page of an aggregate's trail, oldest first."""
    kwargs: dict[str, Any] = {
        "TableName": dynamo.table("audit"),
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": chain_pk(tenant, aggregate_type, aggregate_id)}},
        "Limit": limit, "ConsistentRead": True,  # the trail shows the change just made
    }
    if start:
        kwargs["ExclusiveStartKey"] = start
    page = dynamo.client().query(**kwargs)
    return [from_item(i) for i in page.get("Items", [])], page.get("LastEvaluatedKey")


@dataclass(frozen=True)
class Break:
    """A broken link: which record (or head) and why."""

    aggregate_type: str
    aggregate_id: str
    seq: int | None
    pk: str
    sk: str | None
    reason: str


def verify_chain(records: list[dict[str, Any]], head: ChainHead | None) -> Break | None:
    """Returns the first broken link of one aggregate's chain (records in any order)."""
    ordered = sorted(records, key=lambda r: r["pk"] + r["sk"])
    prev = ChainHead(0, GENESIS)
    for rec in ordered:
        where = (rec.get("aggregate_type", "?"), rec.get("aggregate_id", "?"), rec["seq"],
                 rec["pk"], rec["sk"])
        if rec["sk"] != f"{prev.seq + 1:012d}" or rec["seq"] != prev.seq + 1:
            expected = prev.seq + 1
            return Break(*where, f"expected record {expected}, found {rec['sk']} (gap or reorder)")
        if rec.get("prev_hash") != prev.hash:
            return Break(*where, "prev_hash does not match the previous record's hash")
        if record_hash(rec) != rec.get("hash"):
            return Break(*where, "content does not match its hash (record edited)")
        prev = ChainHead(rec["seq"], rec["hash"])
    if head is not None and head != prev and ordered:
        last = ordered[-1]
        return Break(last.get("aggregate_type", "?"), last.get("aggregate_id", "?"), head.seq,
                     last["pk"], None,
                     f"aggregate head is record {head.seq} but the chain ends at {prev.seq}")
    return None


def _tenant_records(tenant: str) -> Iterator[dict[str, Any]]:
    client = dynamo.client()
    for shard in range(SHARDS):
        kwargs: dict[str, Any] = {
            "TableName": dynamo.table("audit"),
            "IndexName": "gsi1",
            "KeyConditionExpression": "gsi1pk = :p",
            "ExpressionAttributeValues": {":p": {"S": key(tenant, "audit", f"{shard:02d}")}},
        }
        while True:
            page = client.query(**kwargs)
            yield from (from_item(i) for i in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _head(head_ref: str | None) -> ChainHead | None:
    if not head_ref:
        return None
    ref = json.loads(head_ref)
    item = dynamo.client().get_item(
        TableName=dynamo.table(ref["table"]),
        Key={"pk": {"S": ref["pk"]}, "sk": {"S": ref["sk"]}},
        ConsistentRead=True,
    ).get("Item")
    if not item or "audit_seq" not in item:
        return ChainHead(-1, "missing")
    return ChainHead(int(item["audit_seq"]["N"]), item["audit_head"]["S"])


@dataclass(frozen=True)
class VerifyReport:
    chains: int
    records: int
    breaks: list[Break]

    @property
    def ok(self) -> bool:
        return not self.breaks


def verify_tenant(tenant: str) -> VerifyReport:
    """Recomputes every chain of a tenant and checks each against its aggregate's head."""
    chains: dict[str, list[dict[str, Any]]] = defaultdict(list)
    count = 0
    for record in _tenant_records(tenant):
        chains[record["pk"]].append(record)
        count += 1
    breaks = []
    for pk, records in chains.items():
        broken = _verify(records)
        if broken:  # the index is eventually consistent: confirm on a consistent read
            broken = _verify(_consistent_chain(pk))
        if broken:
            breaks.append(broken)
    return VerifyReport(len(chains), count, breaks)


def _verify(records: list[dict[str, Any]]) -> Break | None:
    head_refs = [r.get("head_ref") for r in records if r.get("head_ref")]
    return verify_chain(records, _head(head_refs[-1]) if head_refs else None)


def _consistent_chain(pk: str) -> list[dict[str, Any]]:
    kwargs: dict[str, Any] = {
        "TableName": dynamo.table("audit"),
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": pk}},
        "ConsistentRead": True,
    }
    records = []
    while True:
        page = dynamo.client().query(**kwargs)
        records.extend(from_item(i) for i in page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return records
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
