"""Counts every DynamoDB request of this process and estimates the write units it costs.

Why: `make bench` reports requests and write units per business operation. The meter hooks
botocore's events on every DynamoDB client created after `install()` (boto3's and pynamodb's),
and sizes items from in-process moto's own tables (before and after each write), so an Update
costs what its larger image costs, as DynamoDB bills it.

Write units (estimates, DynamoDB's published rules): 1 per started KB per item written
(Put/Update/Delete, BatchWriteItem), doubled inside TransactWriteItems; a ConditionCheck is
counted like a transactional write of the item it reads (an upper bound); plus 1 per started KB
for each global secondary index the item (old or new image) is keyed in.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from typing import Any

import botocore.session

ACCOUNT = "123456789012"
REGION = "us-east-1"


class Meter:
    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.wcu = 0.0
        self.items = 0
        self.lock = threading.Lock()
        self._pending: list[tuple[str, dict[str, Any], float, int, bool]] = []

    def snapshot(self) -> tuple[Counter[str], float, int]:
        with self.lock:
            return Counter(self.requests), self.wcu, self.items

    # ---- botocore events ---------------------------------------------------------------------

    def before(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        writes: list[tuple[str, str, dict[str, Any]]] = []
        name = model.name
        if name == "TransactWriteItems":
            for entry in params.get("TransactItems", []):
                ((op, body),) = entry.items()
                writes.append((op, body["TableName"], body))
        elif name in ("PutItem", "UpdateItem", "DeleteItem"):
            writes.append((name[:-4], params["TableName"], params))
        elif name == "BatchWriteItem":
            for table, requests in params.get("RequestItems", {}).items():
                for r in requests:
                    ((op, body),) = r.items()
                    writes.append(("Put" if op == "PutRequest" else "Delete", table, body))
        transactional = name == "TransactWriteItems"
        with self.lock:
            self.requests[name] += 1
            self._pending = []
            for op, table, body in writes:
                key = body.get("Key") or _key_of(table, body.get("Item", {}))
                before = _stored_size(table, key)
                new = _size(body["Item"]) if op == "Put" else -1
                self._pending.append((table, key, before, new, transactional))
                if op == "ConditionCheck":
                    self._pending[-1] = (table, key, before, before, transactional)

    def after(self, model: Any, http_response: Any = None, **_: Any) -> None:
        status = getattr(http_response, "status_code", 200)
        with self.lock:
            pending, self._pending = self._pending, []
            if status >= 300:
                return  # refused: nothing written, nothing billed (a cancelled tx is billed;
                # ignored here: the operations measured succeed)
            for table, key, before, new, transactional in pending:
                after = new if new >= 0 else _stored_size(table, key)
                size = max(before, after, 1)
                units = math.ceil(size / 1024) * (2 if transactional else 1)
                units += math.ceil(size / 1024) * _indexed(table, key, after >= 0)
                self.wcu += units
                self.items += 1


def _backend() -> Any:
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[ACCOUNT][REGION]


def _table(name: str) -> Any:
    return _backend().get_table(name)


def _key_of(table: str, item: dict[str, Any]) -> dict[str, Any]:
    t = _table(table)
    keys = [t.hash_key_attr] + ([t.range_key_attr] if t.range_key_attr else [])
    return {k: item[k] for k in keys if k in item}


def _stored(table: str, key: dict[str, Any]) -> Any:
    from moto.dynamodb.models.dynamo_type import DynamoType

    t = _table(table)
    hash_key = DynamoType(key[t.hash_key_attr])
    range_key = DynamoType(key[t.range_key_attr]) if t.range_key_attr else None
    try:
        return t.get_item(hash_key, range_key)
    except Exception:
        return None


def _stored_size(table: str, key: dict[str, Any]) -> int:
    item = _stored(table, key)
    return int(item.size()) if item is not None else 0


def _size(item: dict[str, Any]) -> int:
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.utilities import bytesize

    return sum(bytesize(k) + DynamoType(v).size() for k, v in item.items())


def _indexed(table: str, key: dict[str, Any], exists: bool) -> int:
    """How many GSIs the stored item is keyed in (after the write)."""
    item = _stored(table, key) if exists else None
    if item is None:
        return 0
    return sum(1 for index in _table(table).global_indexes
               if all(k in item.attrs for k in index.schema_key_attrs))


METER = Meter()
_installed = False


def install() -> Meter:
    """Hooks every DynamoDB client created from now on (call before any client exists)."""
    global _installed
    if not _installed:
        original = botocore.session.Session.create_client

        def create_client(self: Any, *args: Any, **kwargs: Any) -> Any:
            client = original(self, *args, **kwargs)
            if client.meta.service_model.service_name == "dynamodb":
                client.meta.events.register("provide-client-params.dynamodb.*", METER.before)
                client.meta.events.register("after-call.dynamodb.*", METER.after)
            return client

        botocore.session.Session.create_client = create_client  # type: ignore[method-assign]
        _installed = True
    return METER
