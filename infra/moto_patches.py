"""Run-time patches that make moto 5.2.5's DynamoDB fast and thread-safe for our local stack.

Why: moto's ``TransactWriteItems`` deep-copies every touched table once per transaction item (to be
able to roll back), so a posting costs O(table size): ~4 tx/s at 12,000 items. Moto also serves
HTTP requests on threads with no locking at all, so concurrent conditional updates can interleave
(a condition checked against stale state, or a failed transaction's whole-table rollback wiping
another thread's committed write).

What ``apply()`` changes (in-process, idempotent, for ``mock_aws`` and ``ThreadedMotoServer``):

1. ``DynamoDBBackend.transact_write_items``: same algorithm, same checks, same errors, in the
   same order, but instead of deep-copying tables it keeps an undo log: before an item of the
   transaction is touched, a deep copy of that one item (and the length of the table's stream
   shard) is recorded; on cancellation exactly those items and stream records are restored.
   Two deliberate fixes over stock moto: tables addressed by ARN are rolled back too, and a
   malformed item with two operations rolls back the items already applied (stock moto left
   them applied). Table objects keep their identity (stock moto swapped in the copy).
2. ``Table.query`` on the base table (no index) reads only the queried partition instead of
   every item in the table. Same items, same order (moto sorts the partition by range key with
   a stable sort; a partition's items are contiguous and in insertion order in both cases).
3. ``DynamoHandler.call_action`` runs under one re-entrant lock per DynamoDB backend
   (account + region), so every DynamoDB request is atomic with respect to the others.

Query on a GSI/LSI still scans the table (moto keeps no index structures, which is also why
GSI/LSI consistency needs no maintenance here): keep GSI queries off hot paths in local runs.

Apply with ``from infra import moto_patches; moto_patches.apply()`` before serving requests, or
run a patched server with ``python -m infra.moto_patches --port 5000``.
"""

from __future__ import annotations

import argparse
import copy
import functools
import hashlib
import inspect
import threading
import weakref
from collections.abc import Callable
from typing import Any

import moto
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend, get_filter_expression
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler

EXPECTED_MOTO_VERSION = "5.2.5"

# sha256 of inspect.getsource() of every function we replace or whose internals we rely on.
# If moto changes any of them, our copy could silently diverge: refuse to patch instead.
_EXPECTED_SOURCES: dict[str, str] = {
    "DynamoDBBackend.transact_write_items": "81db2cb7d94e39c9",
    "Table.query": "002b4d00be6df07c",
    "Table.all_items": "c80d2ee3c896acd0",
    "Table.put_item": "de23933013ef8426",
    "Table.get_item": "b08e98fe37b7e583",
    "Table.delete_item": "1594f7b07616c8cb",
    "DynamoDBBackend.update_item": "218984588dd689a5",
    "DynamoHandler.call_action": "ce5f57cf83cde340",
}

_APPLY_LOCK = threading.Lock()
_applied = False
_originals: dict[str, Any] = {}


def _source_targets() -> dict[str, Callable[..., Any]]:
    """moto's own functions, looked up through _originals for the ones we already replaced."""
    current = {
        "DynamoDBBackend.transact_write_items": DynamoDBBackend.transact_write_items,
        "Table.query": Table.query,
        "Table.all_items": Table.all_items,
        "Table.put_item": Table.put_item,
        "Table.get_item": Table.get_item,
        "Table.delete_item": Table.delete_item,
        "DynamoDBBackend.update_item": DynamoDBBackend.update_item,
        "DynamoHandler.call_action": DynamoHandler.call_action,
    }
    return {name: _originals.get(name, func) for name, func in current.items()}


def _fingerprint(func: Callable[..., Any]) -> str:
    return hashlib.sha256(inspect.getsource(func).encode()).hexdigest()[:16]


def _check_moto() -> None:
    """Fails loudly if this is not the moto our patch was written and verified against."""
    if moto.__version__ != EXPECTED_MOTO_VERSION:
        raise RuntimeError(
            f"infra.moto_patches targets moto {EXPECTED_MOTO_VERSION}, found {moto.__version__}: "
            "re-verify the patch (read moto/dynamodb, run tests/integration/moto) and update it"
        )
    for name, func in _source_targets().items():
        if _fingerprint(func) != _EXPECTED_SOURCES[name]:
            raise RuntimeError(
                f"infra.moto_patches: moto's {name} differs from the verified 5.2.5 source; "
                "re-verify the patch before using it"
            )


# --------------------------------------------------------------------------------------------
# 1. TransactWriteItems with an undo log
# --------------------------------------------------------------------------------------------


class _UndoLog:
    """Pre-images of the items (and stream shards) one transaction touches."""

    def __init__(self) -> None:
        # (table, hash, range or None, hash bucket existed, deep copy of the old item or None)
        self._items: list[tuple[Table, DynamoType, DynamoType | None, bool, Item | None]] = []
        # id(table) -> (table, shard, the shard's record list, its length before)
        self._streams: dict[int, tuple[Table, Any, list[Any], int]] = {}

    def record(self, backend: DynamoDBBackend, table_name: str, key: dict[str, Any]) -> None:
        """Snapshots one item before the transaction may touch it.

        Never raises: if the table or key cannot be resolved, moto's own lookup right after
        fails the same way before anything is written, so there is nothing to undo.
        """
        try:
            table = backend.get_table(table_name)
            hash_value = DynamoType(key[table.hash_key_attr])
            range_value = (
                DynamoType(key[table.range_key_attr]) if table.range_key_attr is not None else None
            )
            hash(hash_value)
            if range_value is not None:
                hash(range_value)
        except Exception:
            return
        bucket_present = hash_value in table.items
        old: Item | None
        if range_value is None:
            old = table.items.get(hash_value)
        else:
            old = table.items[hash_value].get(range_value) if bucket_present else None
        self._items.append(
            (table, hash_value, range_value, bucket_present, copy.deepcopy(old))
        )
        shard = table.stream_shard
        if shard is not None and id(table) not in self._streams:
            self._streams[id(table)] = (table, shard, shard.items, len(shard.items))

    def rollback(self) -> None:
        """Restores every recorded item, newest first, so overlapping records unwind correctly."""
        for table, hash_value, range_value, bucket_present, old in reversed(self._items):
            if range_value is None:
                if old is None:
                    table.items.pop(hash_value, None)
                else:
                    table.items[hash_value] = old
                continue
            if old is None:
                bucket = table.items.get(hash_value)
                if bucket is not None:
                    bucket.pop(range_value, None)
            else:
                table.items[hash_value][range_value] = old
            if not bucket_present and hash_value in table.items and not table.items[hash_value]:
                # moto's get_item creates empty buckets (defaultdict); drop the ones we caused.
                del table.items[hash_value]
        for table, shard, records, length in self._streams.values():
            del records[length:]
            shard.items = records
            table.stream_shard = shard
        self._items.clear()
        self._streams.clear()


def _transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    """moto 5.2.5's transact_write_items, line for line, with the table deep copies replaced by
    an undo log of the touched items (and the duplicate condition check dropped)."""
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    undo = _UndoLog()

    target_items: set[tuple[str, str]] = set()

    def check_unicity(table_name: str, key: dict[str, Any]) -> None:
        item = (str(table_name), str(dict(sorted(key.items()))))
        if item in target_items:
            raise MultipleTransactionsException()
        target_items.add(item)

    errors: list[tuple[str, str, dict[str, Any]] | tuple[None, None, None]] = []
    try:
        for item in transact_items:
            original_item: dict[str, Any] | None = None
            if len(list(item.keys())) > 1:
                raise TransactWriteSingleOpException

            try:
                op_type, op = next(iter(item.items()))
                if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                    raise ValueError("Unsupported transaction operation")

                table_name = op["TableName"]
                condition_expression = op.get("ConditionExpression")
                expression_attribute_names = op.get("ExpressionAttributeNames")
                expression_attribute_values = op.get("ExpressionAttributeValues")
                return_values_on_condition_check_failure = op.get(
                    "ReturnValuesOnConditionCheckFailure"
                )

                if op_type == "Put":
                    attrs = op["Item"]
                    table = self.get_table(table_name)
                    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                    if table.range_key_attr is not None:
                        key[table.range_key_attr] = attrs[table.range_key_attr]
                else:
                    key = op["Key"]

                check_unicity(table_name, key)
                undo.record(self, table_name, key)

                current = self.get_item(table_name, key)
                if condition_expression is not None:
                    condition_op = get_filter_expression(
                        condition_expression,
                        expression_attribute_names,
                        expression_attribute_values,
                    )
                    if not condition_op.expr(current):
                        if return_values_on_condition_check_failure == "ALL_OLD" and current:
                            original_item = current.to_json()["Attributes"]
                        raise ConditionalCheckFailed(item=original_item)

                # moto re-parses and re-checks the condition inside put/delete/update_item
                # against the very same item; under the backend lock nothing can change it in
                # between, so that second check is skipped (condition_expression=None).
                if op_type == "Put":
                    attrs = op["Item"]
                    self.put_item(
                        table_name,
                        attrs,
                        condition_expression=None,
                        expression_attribute_names=expression_attribute_names,
                        expression_attribute_values=expression_attribute_values,
                    )
                elif op_type == "Delete":
                    self.delete_item(
                        table_name,
                        key,
                        condition_expression=None,
                        expression_attribute_names=expression_attribute_names,
                        expression_attribute_values=expression_attribute_values,
                    )
                elif op_type == "Update":
                    update_expression = op["UpdateExpression"]
                    self.update_item(
                        table_name,
                        key,
                        update_expression=update_expression,
                        condition_expression=None,
                        expression_attribute_names=expression_attribute_names,
                        expression_attribute_values=expression_attribute_values,
                    )
                errors.append((None, None, None))
            except (MultipleTransactionsException, MockValidationException):
                raise
            except ConditionalCheckFailed as e:
                errors.append(("ConditionalCheckFailed", str(e.message), original_item))  # type: ignore[arg-type]
            except Exception as e:
                errors.append((type(e).__name__, str(e), original_item))  # type: ignore[arg-type]
    except BaseException:
        undo.rollback()
        raise

    if any(code is not None for code, _, _ in errors):
        undo.rollback()
        raise TransactionCanceledException(errors)


# --------------------------------------------------------------------------------------------
# 2. Base-table Query reads one partition
# --------------------------------------------------------------------------------------------

_partition_hint = threading.local()


def _all_items(self: Table) -> list[Item]:
    """moto's all_items, unless a base-table query on this thread narrowed it to one partition."""
    hint = getattr(_partition_hint, "value", None)
    if hint is not None and hint[0] is self:
        return list(hint[1])
    return _originals["Table.all_items"](self)


def _query(self: Table, hash_key: DynamoType | None, *args: Any, **kwargs: Any) -> Any:
    """Base-table queries only need the items in ``hash_key``'s bucket: moto's own filter
    (``item.hash_key == hash_key``) keeps exactly that bucket, since buckets are keyed by the
    same DynamoType equality."""
    index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
    original = _originals["Table.query"]
    if index_name or hash_key is None:
        return original(self, hash_key, *args, **kwargs)
    if self.range_key_attr is not None:
        bucket = self.items.get(hash_key)
        partition: list[Item] = list(bucket.values()) if bucket else []
    else:
        single = self.items.get(hash_key)
        partition = [single] if single is not None else []
    previous = getattr(_partition_hint, "value", None)
    _partition_hint.value = (self, partition)
    try:
        return original(self, hash_key, *args, **kwargs)
    finally:
        _partition_hint.value = previous


# --------------------------------------------------------------------------------------------
# 3. One lock per DynamoDB backend around request handling
# --------------------------------------------------------------------------------------------

_backend_locks: weakref.WeakKeyDictionary[Any, threading.RLock] = weakref.WeakKeyDictionary()
_backend_locks_guard = threading.Lock()


def backend_lock(backend: Any) -> threading.RLock:
    """The lock that serializes DynamoDB requests on ``backend`` (also for direct backend use)."""
    with _backend_locks_guard:
        lock = _backend_locks.get(backend)
        if lock is None:
            lock = threading.RLock()
            _backend_locks[backend] = lock
        return lock


def _locked_call_action(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def call_action(self: DynamoHandler) -> Any:
        try:
            backend = self.dynamodb_backend
        except Exception:  # no account/region: let moto raise its own error
            return original(self)
        with backend_lock(backend):
            return original(self)

    return call_action


# --------------------------------------------------------------------------------------------


def apply() -> None:
    """Installs the patches once; later calls are no-ops. Raises on an unexpected moto."""
    global _applied
    with _APPLY_LOCK:
        if _applied:
            return
        _check_moto()
        _originals["DynamoDBBackend.transact_write_items"] = DynamoDBBackend.transact_write_items
        _originals["Table.query"] = Table.query
        _originals["Table.all_items"] = Table.all_items
        _originals["DynamoHandler.call_action"] = DynamoHandler.call_action

        DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]
        Table.query = _query  # type: ignore[method-assign]
        Table.all_items = _all_items  # type: ignore[method-assign]
        DynamoHandler.call_action = _locked_call_action(  # type: ignore[method-assign]
            _originals["DynamoHandler.call_action"]
        )
        _applied = True


def is_applied() -> bool:
    return _applied


def main(argv: list[str] | None = None) -> None:
    """Runs a patched moto server in the foreground (the plain ``moto_server`` is unpatched)."""
    from moto.server import ThreadedMotoServer

    parser = argparse.ArgumentParser(description="moto server with infra.moto_patches applied")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    ns = parser.parse_args(argv)
    apply()
    server = ThreadedMotoServer(ip_address=ns.host, port=ns.port, verbose=True)
    server.start()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
