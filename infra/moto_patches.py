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
   An index query sorts its candidates by plain key values (str, bytes' base64 text, Decimal:
   exactly what ``DynamoType`` compares) instead of ``DynamoType`` objects, and drops the
   items moto would skip as "before ExclusiveStartKey" by bisection, so a page no longer costs
   a sort of the whole index partition with Python-level comparisons plus a walk over every
   earlier page (paging a 20,000-loan index was quadratic: most of a close of business).
3. ``DynamoHandler.call_action`` runs under one re-entrant lock per DynamoDB backend
   (account + region), so every DynamoDB request is atomic with respect to the others.

4. Per-call costs (item construction, expression parsing, request routing, serialisation) and
   the update-expression validator: ``Validator.__init__`` copies the (cached, never mutated)
   AST with a structural clone instead of ``copy.deepcopy``, and ``DepthFirstTraverser`` picks
   a node's processor by its exact type, cached, instead of rebuilding the processing map and
   running ABC ``isinstance`` checks for every node (the AST classes use ABCMeta) — in a ledger
   posting these were ~2/3 of moto's time.

5. ``KeepAliveMotoServer`` (what ``make run`` serves): moto's ``ThreadedMotoServer`` with
   HTTP/1.1 keep-alive. Werkzeug's dev server closes every connection (it cannot drain a
   request body before the next request line), so each DynamoDB call paid a TCP connect, a new
   server thread and a teardown. Here a request with a Content-Length (and no Expect or
   Transfer-Encoding) has its body read in full before the app runs, so nothing of it can be
   left on the socket, and a length-delimited response keeps the connection open; any other
   request is served exactly as moto serves it (and closed). Nagle's algorithm is off on its
   sockets: werkzeug sends a response's headers and body separately, and on a kept-alive
   connection the body otherwise waits up to 40 ms for the client's delayed ACK of the headers
   (a GetItem took 46.7 ms instead of 3.3 ms).

Query on a GSI/LSI still scans the table (moto keeps no index structures, which is also why
GSI/LSI consistency needs no maintenance here): keep GSI queries off hot paths in local runs.

Apply with ``from infra import moto_patches; moto_patches.apply()`` before serving requests, or
run a patched server with ``python -m infra.moto_patches --port 5000``.
"""

from __future__ import annotations

import argparse
import bisect
import copy
import functools
import hashlib
import inspect
import io
import json
import threading
import weakref
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import moto
import moto.backends
import moto.core.responses
from moto.core import serialize as moto_serialize
from moto.core.serialize import BaseJSONSerializer, ResponseSerializer
from moto.dynamodb.comparisons import ConditionExpressionParser
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    ItemSizeTooLarge,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend, get_filter_expression
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
from moto.dynamodb.models.table import Table
from moto.dynamodb.models.utilities import bytesize
from moto.dynamodb.parsing import validators as moto_validators
from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser, Node
from moto.dynamodb.parsing.expressions import UpdateExpressionParser
from moto.dynamodb.parsing.validators import Validator
from moto.dynamodb.responses import DynamoHandler
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import WSGIRequestHandler, make_server

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
    "Item.__init__": "d9c12b62cb921831",
    "LimitedSizeDict.__setitem__": "d979580fdbe14f79",
    "ConditionExpressionParser.parse": "5c9b63c5f49ed5d5",
    "ConditionExpressionParser._lookup_expression_attribute_value": "a7ac783bd94ea73b",
    "ConditionExpressionParser._lookup_expression_attribute_name": "891f122f1ef67fb3",
    "UpdateExpressionParser.make": "2c00ed96d6e191f2",
    "Validator.__init__": "9489b532dd0fb359",
    "Validator.validate": "5a99f0d36c7b7b8e",
    "UpdateExpressionValidator.get_ast_processors": "918400bbecd67e83",
    "ActionCountValidator": "3fe995f04a9c4a2d",
    "OverlappingPathsValidator": "27f48a77a1762303",
    "UpdateHashRangeKeyValidator": "18ca06e4b0d82e64",
    "ThreadedMotoServer._server_entry": "ef744bd45e1e465a",
    "WSGIRequestHandler.run_wsgi": "774df60c75afd439",
    "WSGIRequestHandler.make_environ": "5aa026f5fa8ca3c2",
    "Node.__init__": "73e3e0773294a2bf",
    "Node.set_parent": "6f1144cae8e3be5f",
    "DepthFirstTraverser.nodes_to_be_processed": "1c2c84c8097e3517",
    "DepthFirstTraverser.process": "58328ec7c2f9b1f9",
    "DepthFirstTraverser.traverse_node_recursively": "d7f01d9b45cf9f64",
    "DepthFirstTraverser.traverse": "c78f8583f1961be7",
    "Table.sorted_items": "216dac1cd6b659d2",
    "moto.backends.list_of_moto_modules": "4f741a10b06500e8",
    "moto.core.responses.method_names_from_class": "9dbac89d082b655f",
    "BaseJSONSerializer._serialize_type_structure": "36873909cd0aeb4d",
    "ResponseSerializer._serialize_type_structure": "f9b47068f40ce489",
    "ResponseSerializer._serialize_structure_member": "437fdce43aa5ac84",
    "ResponseSerializer.get_value": "5ac16904b91c2935",
    "AttributePicker.__call__": "c15da8ec29c1afa4",
    "AttributePicker.get_possible_keys": "cb284052c5ea7fe1",
    "XFormedAttributePicker.get_possible_keys": "f0d20f55f37fd8a1",
    "ActionResult.execute_result": "6333faa349b58671",
    "serialize.ExplicitAlias": "50e6df2c5ef1bb8c",
    "serialize.ShapeNameAlias": "3aac05bf01b44d5c",
    "serialize.NoAlias": "54b6a9dd71d3de73",
    "serialize.ShapePrefixAlias": "bc24d299803babd2",
    "serialize.ClassPrefixAlias": "badfb8d077e500ff",
    "serialize.ModelAlias": "dc305f0cc88422f9",
}

# The serializer shortcut (_json_structure) is derived from exactly these alias providers.
_EXPECTED_ALIAS_PROVIDERS = [
    "ExplicitAlias", "ShapeNameAlias", "NoAlias", "ShapePrefixAlias", "ClassPrefixAlias",
    "ModelAlias",
]

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
        "Item.__init__": Item.__init__,
        "LimitedSizeDict.__setitem__": LimitedSizeDict.__setitem__,
        "ConditionExpressionParser.parse": ConditionExpressionParser.parse,
        "ConditionExpressionParser._lookup_expression_attribute_value":
            ConditionExpressionParser._lookup_expression_attribute_value,
        "ConditionExpressionParser._lookup_expression_attribute_name":
            ConditionExpressionParser._lookup_expression_attribute_name,
        "UpdateExpressionParser.make": UpdateExpressionParser.make,
        "Validator.__init__": Validator.__init__,
        "Validator.validate": Validator.validate,
        "UpdateExpressionValidator.get_ast_processors":
            moto_validators.UpdateExpressionValidator.get_ast_processors,
        "ActionCountValidator": moto_validators.ActionCountValidator,
        "OverlappingPathsValidator": moto_validators.OverlappingPathsValidator,
        "UpdateHashRangeKeyValidator": moto_validators.UpdateHashRangeKeyValidator,
        "ThreadedMotoServer._server_entry": ThreadedMotoServer._server_entry,
        "WSGIRequestHandler.run_wsgi": WSGIRequestHandler.run_wsgi,
        "WSGIRequestHandler.make_environ": WSGIRequestHandler.make_environ,
        "Node.__init__": Node.__init__,
        "Node.set_parent": Node.set_parent,
        "DepthFirstTraverser.nodes_to_be_processed": DepthFirstTraverser.nodes_to_be_processed,
        "DepthFirstTraverser.process": DepthFirstTraverser.process,
        "DepthFirstTraverser.traverse_node_recursively":
            DepthFirstTraverser.traverse_node_recursively,
        "DepthFirstTraverser.traverse": DepthFirstTraverser.traverse,
        "Table.sorted_items": Table.sorted_items,
        "moto.backends.list_of_moto_modules": moto.backends.list_of_moto_modules,
        "moto.core.responses.method_names_from_class":
            moto.core.responses.method_names_from_class,
        "BaseJSONSerializer._serialize_type_structure":
            BaseJSONSerializer._serialize_type_structure,
        "ResponseSerializer._serialize_type_structure":
            ResponseSerializer._serialize_type_structure,
        "ResponseSerializer._serialize_structure_member":
            ResponseSerializer._serialize_structure_member,
        "ResponseSerializer.get_value": ResponseSerializer.get_value,
        "AttributePicker.__call__": moto_serialize.AttributePicker.__call__,
        "AttributePicker.get_possible_keys": moto_serialize.AttributePicker.get_possible_keys,
        "XFormedAttributePicker.get_possible_keys":
            moto_serialize.XFormedAttributePicker.get_possible_keys,
        "ActionResult.execute_result": moto.core.responses.ActionResult.execute_result,
        **{f"serialize.{cls.__name__}": cls for cls in moto_serialize.DEFAULT_ALIAS_PROVIDERS},
    }
    return {name: _originals.get(name, func) for name, func in current.items()}


def _fingerprint(func: Callable[..., Any]) -> str:
    return hashlib.sha256(inspect.getsource(func).encode()).hexdigest()[:16]


def _traverser_classes() -> list[type]:
    return [cls for cls in vars(moto_validators).values()
            if isinstance(cls, type) and issubclass(cls, DepthFirstTraverser)]


def _check_traversers() -> None:
    """The traverser shortcut relies on no processor overriding how nodes are picked or
    walked (each one's ``_processing_map`` only maps node classes to its bound methods)."""
    for cls in _traverser_classes():
        for name in ("nodes_to_be_processed", "process", "traverse_node_recursively",
                     "traverse"):
            if cls is not DepthFirstTraverser and name in vars(cls):
                raise RuntimeError(f"infra.moto_patches: moto's {cls.__name__}.{name} is "
                                   "overridden; re-verify the traverser patch")


def _check_moto() -> None:
    """Fails loudly if this is not the moto our patch was written and verified against."""
    if moto.__version__ != EXPECTED_MOTO_VERSION:
        raise RuntimeError(
            f"infra.moto_patches targets moto {EXPECTED_MOTO_VERSION}, found {moto.__version__}: "
            "re-verify the patch (read moto/dynamodb, run tests/integration/moto) and update it"
        )
    providers = [cls.__name__ for cls in moto_serialize.DEFAULT_ALIAS_PROVIDERS]
    if providers != _EXPECTED_ALIAS_PROVIDERS:
        raise RuntimeError(f"infra.moto_patches: moto's alias providers changed: {providers}")
    for name, func in _source_targets().items():
        if _fingerprint(func) != _EXPECTED_SOURCES.get(name):
            raise RuntimeError(
                f"infra.moto_patches: moto's {name} differs from the verified 5.2.5 source; "
                "re-verify the patch before using it"
            )
    _check_traversers()


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
_start_hint = threading.local()  # (table, ExclusiveStartKey, ScanIndexForward) of an index query
_QUERY_SIGNATURE = inspect.signature(Table.query)  # moto's, taken before apply() replaces it


def _all_items(self: Table) -> list[Item]:
    """moto's all_items, unless a base-table query on this thread narrowed it to one partition."""
    hint = getattr(_partition_hint, "value", None)
    if hint is not None and hint[0] is self:
        return list(hint[1])
    return _originals["Table.all_items"](self)


def _query(self: Table, hash_key: DynamoType | None, *args: Any, **kwargs: Any) -> Any:
    """Base-table queries only need the items in ``hash_key``'s bucket: moto's own filter
    (``item.hash_key == hash_key``) keeps exactly that bucket, since buckets are keyed by the
    same DynamoType equality. Index queries only need the items whose index hash attributes
    match (see _gsi_candidates) instead of the whole table sorted by primary key."""
    index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
    original = _originals["Table.query"]
    if index_name:
        conditions = kwargs.get("hash_key_conditions")
        if not conditions or len(args) > 9:
            return original(self, hash_key, *args, **kwargs)
        candidates = _gsi_candidates(self, conditions)
        call = _QUERY_SIGNATURE.bind(self, hash_key, *args, **kwargs).arguments
        previous = getattr(_partition_hint, "value", None), getattr(_start_hint, "value", None)
        _partition_hint.value = (self, candidates)
        _start_hint.value = (self, call["exclusive_start_key"], call["scan_index_forward"])
        try:
            return original(self, hash_key, *args, **kwargs)
        finally:
            _partition_hint.value, _start_hint.value = previous
    if hash_key is None:
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
# 4. Per-call costs: item construction, expression parsing, request routing
# --------------------------------------------------------------------------------------------

_ITEM_SIZE_LIMIT = 405000  # moto's LimitedSizeDict limit


def _item_init(
    self: Item, hash_key: DynamoType, range_key: DynamoType | None, attrs: dict[str, Any]
) -> None:
    """moto's Item.__init__ without the O(n^2) size check: LimitedSizeDict re-sums the whole
    item on every attribute set. Same order, same running total, same ItemSizeTooLarge (the
    keys of ``attrs`` are unique, so each set adds a new key and the running sum is exactly
    what moto recomputes), same resulting dict."""
    self.hash_key = hash_key
    self.range_key = range_key
    result = LimitedSizeDict()
    total = 0
    for key, value in attrs.items():
        typed = DynamoType(value)
        total += bytesize(key) + typed.size()
        if total > _ITEM_SIZE_LIMIT:
            raise ItemSizeTooLarge
        dict.__setitem__(result, key, typed)
    self.attrs = result


_CACHE_LIMIT = 4096
_update_ast_cache: dict[tuple[type, str], Any] = {}
_condition_refs: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
_condition_cache: dict[tuple[Any, ...], tuple[Any, list[str], list[str]]] = {}
_cache_guard = threading.Lock()


def _bounded_put(cache: dict[Any, Any], key: Any, value: Any) -> None:
    with _cache_guard:
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[key] = value


def _update_expression_make(cls: type, expression_str: str) -> Any:
    """UpdateExpressionParser.make, memoised by expression text (the AST is purely syntactic:
    no names or values are resolved). The shared AST is never mutated: its two users only read
    it (``find_clauses``) or hand it to ``Validator``, whose __init__ deep-copies it (checked by
    fingerprint). Failures are not cached: a bad expression raises again, the same way."""
    key = (cls, expression_str)
    found = _update_ast_cache.get(key)
    if found is None:
        found = _originals["UpdateExpressionParser.make"].__func__(cls, expression_str)
        if isinstance(expression_str, str):
            _bounded_put(_update_ast_cache, key, found)
    return found


class _Recording(dict[str, Any]):
    """A names/values mapping that remembers which placeholders the parser looked up."""

    def __init__(self, source: dict[str, Any]) -> None:
        super().__init__(source)
        self.used: list[str] = []

    def __getitem__(self, key: str) -> Any:
        self.used.append(key)
        return super().__getitem__(key)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _condition_key(expr: str, names: Any, values: Any) -> tuple[Any, ...] | None:
    """Everything a parse of ``expr`` depends on: the text, and the names and values it looks
    up (the parser reads nothing else from them). None if not known yet or not cacheable."""
    refs = _condition_refs.get(expr)
    if refs is None:
        return None
    used_names, used_values = refs
    try:
        name_part = None if names is None else tuple((n, names[n]) for n in used_names)
        value_part = (
            None if values is None else tuple((v, _canonical(values[v])) for v in used_values)
        )
    except (KeyError, TypeError, ValueError):
        return None  # a missing placeholder: let moto's parse raise its own error
    return (expr, names is None, values is None, name_part, value_part)


def _condition_parse(self: ConditionExpressionParser) -> Any:
    """ConditionExpressionParser.parse, memoised. The result (an Op tree, read-only while
    evaluating) depends on the expression text and on the names/values it looks up, which are
    recorded on the first parse of each text; the found-names/values lists moto uses for its
    "unused placeholder" validation are replayed exactly."""
    original = _originals["ConditionExpressionParser.parse"]
    expr = self.condition_expression
    names, values = self.expression_attribute_names, self.expression_attribute_values
    if not expr or not isinstance(expr, str):
        return original(self)
    key = _condition_key(expr, names, values)
    if key is not None:
        hit = _condition_cache.get(key)
        if hit is not None:
            op, names_found, values_found = hit
            self.expr_attr_names_found.extend(names_found)
            self.expr_attr_values_found.extend(values_found)
            return op
    if key is None and expr not in _condition_refs and (
        isinstance(names, dict | type(None)) and isinstance(values, dict | type(None))
    ):
        rec_names = _Recording(names) if names is not None else None
        rec_values = _Recording(values) if values is not None else None
        self.expression_attribute_names = rec_names
        self.expression_attribute_values = rec_values
        try:
            op = original(self)
        finally:
            self.expression_attribute_names, self.expression_attribute_values = names, values
        _bounded_put(_condition_refs, expr, (
            tuple(dict.fromkeys(rec_names.used)) if rec_names is not None else (),
            tuple(dict.fromkeys(rec_values.used)) if rec_values is not None else (),
        ))
        key = _condition_key(expr, names, values)
    else:
        op = original(self)
    if key is not None:
        _bounded_put(_condition_cache, key,
                     (op, list(self.expr_attr_names_found), list(self.expr_attr_values_found)))
    return op


_IMMUTABLE = (str, int, float, bool, type(None))


class _NotPlain(Exception):
    """The AST holds something the structural clone does not model: use deepcopy."""


def _clone_node(node: Node, parent: Node | None) -> Node:
    new = object.__new__(type(node))
    attrs: dict[str, Any] = {}
    for name, value in node.__dict__.items():
        if name == "parent":
            attrs[name] = parent
        elif name == "children" and type(value) is list:
            kids: list[Any] = []
            for child in value:
                if isinstance(child, Node):
                    kids.append(_clone_node(child, new))
                elif type(child) in _IMMUTABLE:
                    kids.append(child)
                else:
                    raise _NotPlain
            attrs[name] = kids
        elif type(value) in _IMMUTABLE:
            attrs[name] = value
        else:
            raise _NotPlain
    new.__dict__ = attrs
    return new


def _ast_copy(expression: Any) -> Any:
    """What ``copy.deepcopy`` makes of a parsed update expression, built directly: a parser AST
    is a tree (no shared nodes) whose nodes hold only ``type``, ``parent`` and ``children``
    (nodes or immutable leaves such as placeholder names), so a copy is the same classes with
    the same attributes, children copied and parents pointing into the copy. Anything else
    (a root with a parent, other attribute values, a shared node) falls back to deepcopy."""
    if isinstance(expression, Node) and expression.parent is None and _is_tree(expression):
        try:
            return _clone_node(expression, None)
        except _NotPlain:
            pass
    return copy.deepcopy(expression)


_tree_verdicts: dict[int, tuple[Node, bool]] = {}


def _is_tree(root: Node) -> bool:
    """No node reachable twice (the parse cache hands out the same ASTs: checked once each)."""
    known = _tree_verdicts.get(id(root))
    if known is not None and known[0] is root:
        return known[1]
    verdict = _count_nodes(root) == _count_unique_nodes(root)
    _bounded_put(_tree_verdicts, id(root), (root, verdict))  # holds root: its id stays unique
    return verdict


def _count_nodes(node: Node) -> int:
    return 1 + sum(_count_nodes(c) for c in node.children or () if isinstance(c, Node))


def _count_unique_nodes(root: Node) -> int:
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) not in seen:
            seen.add(id(node))
            stack.extend(c for c in node.children or () if isinstance(c, Node))
    return len(seen)


def _validator_init(self: Validator, expression: Any, expression_attribute_names: Any,
                    expression_attribute_values: Any, item: Item, table: Table) -> None:
    """Validator.__init__ (same attributes, same order) with ``_ast_copy`` for deepcopy."""
    self.expression_attribute_names = expression_attribute_names
    self.expression_attribute_values = expression_attribute_values
    self.item = item
    self.table = table
    self.processors = self.get_ast_processors()
    self.node_to_validate = _ast_copy(expression)
    self.__dict__["_patched_source"] = expression  # ours: the parse-cache AST it copies


_PURE_CHECKS = (moto_validators.ActionCountValidator, moto_validators.OverlappingPathsValidator,
                moto_validators.UpdateHashRangeKeyValidator)
_passed_checks: dict[tuple[Any, ...], Node] = {}


def _checks_key(validator: Validator) -> tuple[Any, ...] | None:
    source = validator.__dict__.get("_patched_source")
    names = validator.expression_attribute_names
    if not isinstance(source, Node) or not isinstance(names, dict | type(None)):
        return None
    try:
        named = None if names is None else tuple(sorted(names.items()))
        keys = tuple(validator.table.table_key_attrs)
        hash((named, keys))
    except TypeError:
        return None
    return (id(source), named, keys)


def _validate(self: Validator) -> Node:
    """Validator.validate, skipping the three leading pure checks of an update expression
    (clause counts, overlapping paths, key attributes: they read only the AST, the names and
    the table's key attributes, change nothing and return the node) when the same parsed AST
    already passed them with the same names and keys. A failure is never remembered."""
    n = self.node_to_validate
    processors = self.processors
    key = None
    if tuple(type(p) for p in processors[:3]) == _PURE_CHECKS:
        key = _checks_key(self)
        if key is not None:
            known = _passed_checks.get(key)
            if known is not None and known is self.__dict__["_patched_source"]:
                processors = processors[3:]
                key = None  # nothing new to remember
    for i, processor in enumerate(processors):
        n = processor.traverse(n)
        if i == 2 and key is not None:
            _bounded_put(_passed_checks, key, self.__dict__["_patched_source"])
    return n


_node_types: dict[type, bool] = {}


def _is_node_type(cls: type) -> bool:
    found = _node_types.get(cls)
    if found is None:
        found = issubclass(cls, Node)
        _node_types[cls] = found
    return found


def _processor_for(traverser: DepthFirstTraverser, cls: type) -> Callable[[Node], Node] | None:
    """The processor ``process`` would call for a node of exactly this class (the first entry
    of the processing map it is an instance of), or None if ``nodes_to_be_processed`` excludes
    it. ``_processing_map`` only maps classes to the traverser's bound methods, so it is built
    once per traverser; the pick depends on the node's class alone."""
    state = traverser.__dict__.get("_patched_pick")
    if state is None:
        state = (traverser._processing_map(), {})
        traverser.__dict__["_patched_pick"] = state
        # Traversers do not define __slots__; the attribute is ours and never read by moto.
    mapping, picks = state
    if cls in picks:
        return picks[cls]
    pick = next((fn for key, fn in mapping.items() if issubclass(cls, key)), None)
    picks[cls] = pick
    return pick


def _traverse_node_recursively(self: DepthFirstTraverser, node: Any, child_id: int = -1) -> Any:
    """DepthFirstTraverser.traverse_node_recursively with the per-node ABC checks cached by
    class (``isinstance`` on an ABCMeta class costs a registry lookup every time)."""
    if _is_node_type(type(node)):
        parent_node = node.parent
        if node.children is not None:
            for i, child_node in enumerate(node.children):
                self.pre_processing_of_child(node, i)
                self.traverse_node_recursively(child_node, i)
        processor = _processor_for(self, type(node))
        if processor is not None:
            node = processor(node)
            node.parent = parent_node
            if parent_node:
                parent_node.children[child_id] = node
    return node


_moto_modules: tuple[str, ...] | None = None


def _list_of_moto_modules() -> Any:
    """moto lists its package directory (one stat per entry) twice per HTTP request to route
    it; the installed package does not change while we run."""
    global _moto_modules
    if _moto_modules is None:
        _moto_modules = tuple(_originals["moto.backends.list_of_moto_modules"]())
    return iter(_moto_modules)


_method_names: dict[type, tuple[str, ...]] = {}


def _method_names_from_class(clazz: type) -> list[str]:
    """moto runs inspect.getmembers on the handler class for every request, to check that the
    action is a method; handler classes do not gain or lose functions while serving (our own
    patches are installed before the first request, see apply())."""
    names = _method_names.get(clazz)
    if names is None:
        names = tuple(_originals["moto.core.responses.method_names_from_class"](clazz))
        _method_names[clazz] = names
    return list(names)


def _json_structure(
    self: BaseJSONSerializer, serialized: Any, value: Any, shape: Any, key: str
) -> None:
    """BaseJSONSerializer._serialize_type_structure with a shortcut for DynamoDB's
    AttributeValue given as a plain dict (every attribute of every item in a response).

    moto asks its attribute picker for each of the 10 members (S, N, B, SS, NS, BS, M, L,
    NULL, BOOL), trying up to 8 aliases each. For a plain ``dict`` whose keys are all member
    names, every alias but the member name itself misses (none is a member name: no dict has
    ``Meta``; the class-name, shape-name and model aliases of these members are never member
    names; the snake_case ones are lower case), so the picked value is ``value.get(member)``.
    The shortcut does exactly that and serialises the present members in member order, as
    moto does; anything else (other shapes, dict subclasses, unexpected keys, response
    transformers, renamed members) goes through moto's code.
    """
    if (
        type(value) is dict
        and getattr(shape, "name", None) == "AttributeValue"
        and not shape.is_document_type
        and not getattr(self._value_picker, "response_transformers", None)
    ):
        members = shape.members
        if value.keys() <= members.keys() and all(
            "name" not in m.serialization for m in members.values()
        ):
            wrapper: Any = self.MAP_TYPE() if key else serialized
            for member_key, member_shape in members.items():
                member_shape.parent = shape
                member_value = value.get(member_key)
                if member_value is not None:
                    self._serialize(wrapper, member_value, member_shape, member_key)
            if key:
                self._default_serialize(serialized, wrapper, shape, key)
            return
    _originals["BaseJSONSerializer._serialize_type_structure"](self, serialized, value, shape, key)


def _sort_value(value: DynamoType) -> Any:
    """What ``DynamoType`` compares for a key attribute (S, N or B), as a plain value."""
    if value.type == "N":
        return Decimal(value.value)
    return value.value if value.type in ("S", "B") else value.cast_value


def _sorted_items(self: Table, hash_key_attrs: list[str], range_key_attrs: list[str | None],
                  items: list[Item]) -> list[Item]:
    """moto's order (index keys, then table keys) by plain values; for the index query on this
    thread, without the items its ExclusiveStartKey skips (those at or before the key going
    forward, at or after it going backward: moto reverses this list afterwards)."""
    attrs = self._generate_attr_to_sort_by(hash_key_attrs, range_key_attrs)
    keyed = sorted(((tuple(_sort_value(it.attrs[a]) for a in attrs), it) for it in items),
                   key=lambda pair: pair[0])
    items[:] = [it for _, it in keyed]
    hint = getattr(_start_hint, "value", None)
    if hint is None or hint[0] is not self or not hint[1]:
        return items
    _, start, forward = hint
    if not all(isinstance(start.get(a), dict) for a in attrs):
        return items  # a partial key: leave the skipping to moto
    bound = tuple(_sort_value(DynamoType(start[a])) for a in attrs)
    keys = [k for k, _ in keyed]
    return items[bisect.bisect_right(keys, bound):] if forward else \
        items[:bisect.bisect_left(keys, bound)]


def _gsi_candidates(table: Table, conditions: list[tuple[str, DynamoType]]) -> list[Item]:
    """Items that pass moto's own hash-key check (same test, copied from Table.query), in any
    order: moto then sorts them by index keys *and* table keys, a total order, so the input
    order does not matter; moto re-applies all its checks to these candidates."""
    out: list[Item] = []
    for bucket in table.items.values():
        for item in bucket.values() if table.range_key_attr is not None else (bucket,):
            attrs = item.attrs
            for name, expected in conditions:
                found = attrs.get(name)
                if not found or found != expected:
                    break
            else:
                out.append(item)
    return out

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
# 5. A moto server with keep-alive connections
# --------------------------------------------------------------------------------------------


class KeepAliveRequestHandler(MotoRequestHandler):
    """MotoRequestHandler that keeps an HTTP/1.1 connection open when that is safe.

    Werkzeug's run_wsgi (checked by fingerprint) reads the body only through ``self.rfile``
    (as ``wsgi.input``, and in its after-response drain) and ends every response with a
    ``Connection: close`` header. For a request whose body length is known and that expects no
    100-continue, the body is read here first and run_wsgi gets it as an in-memory rfile, so
    the socket is left exactly at the next request line and the drain finds nothing to eat;
    the closing header is then dropped if the response carried a Content-Length."""

    disable_nagle_algorithm = True  # see 5. in the module's docstring
    _keep_alive = False
    _length_sent = False

    def run_wsgi(self) -> None:
        length = self.headers.get("Content-Length", "")
        simple = (self.request_version == "HTTP/1.1" and "Transfer-Encoding" not in self.headers
                  and "Expect" not in self.headers and (length == "" or length.isdigit()))
        if not simple:
            self._keep_alive = False
            super().run_wsgi()
            return
        body = self.rfile.read(int(length)) if length else b""
        if len(body) < int(length or 0):  # the client went away mid-body
            self.close_connection = True
            return
        socket_file = self.rfile
        self.rfile = io.BytesIO(body)  # type: ignore[assignment]
        self._keep_alive, self._length_sent = True, False
        try:
            super().run_wsgi()
        finally:
            self.rfile = socket_file
            self._keep_alive = False

    def send_header(self, keyword: str, value: str) -> None:
        name = keyword.lower()
        if name == "content-length":
            self._length_sent = True
        elif (name == "connection" and value.lower() == "close" and self._keep_alive
              and self._length_sent):
            return  # length-delimited response, request fully read: the connection stays
        super().send_header(keyword, value)


class KeepAliveMotoServer(ThreadedMotoServer):
    """ThreadedMotoServer serving through KeepAliveRequestHandler (same app, same threads)."""

    def _server_entry(self) -> None:
        app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server(self._ip_address, self._port, app, True,
                                   request_handler=KeepAliveRequestHandler)
        self._server_ready_event.set()
        self._server.serve_forever()


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
        _originals["Table.sorted_items"] = Table.sorted_items
        _originals["DynamoHandler.call_action"] = DynamoHandler.call_action
        _originals["Item.__init__"] = Item.__init__
        _originals["ConditionExpressionParser.parse"] = ConditionExpressionParser.parse
        _originals["UpdateExpressionParser.make"] = UpdateExpressionParser.make
        _originals["Validator.__init__"] = Validator.__init__
        _originals["Validator.validate"] = Validator.validate
        _originals["DepthFirstTraverser.traverse_node_recursively"] = (
            DepthFirstTraverser.traverse_node_recursively
        )
        _originals["moto.backends.list_of_moto_modules"] = moto.backends.list_of_moto_modules
        _originals["moto.core.responses.method_names_from_class"] = (
            moto.core.responses.method_names_from_class
        )
        _originals["BaseJSONSerializer._serialize_type_structure"] = (
            BaseJSONSerializer._serialize_type_structure
        )

        DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]
        Table.query = _query  # type: ignore[method-assign]
        Table.all_items = _all_items  # type: ignore[method-assign]
        Table.sorted_items = _sorted_items  # type: ignore[method-assign]
        DynamoHandler.call_action = _locked_call_action(  # type: ignore[method-assign]
            _originals["DynamoHandler.call_action"]
        )
        Item.__init__ = _item_init  # type: ignore[method-assign]
        ConditionExpressionParser.parse = _condition_parse  # type: ignore[method-assign]
        UpdateExpressionParser.make = classmethod(_update_expression_make)  # type: ignore[method-assign,assignment]
        Validator.__init__ = _validator_init  # type: ignore[method-assign]
        Validator.validate = _validate  # type: ignore[method-assign]
        DepthFirstTraverser.traverse_node_recursively = (  # type: ignore[method-assign]
            _traverse_node_recursively
        )
        moto.backends.list_of_moto_modules = _list_of_moto_modules
        moto.core.responses.method_names_from_class = _method_names_from_class  # type: ignore[assignment]
        BaseJSONSerializer._serialize_type_structure = _json_structure  # type: ignore[method-assign]
        _applied = True


def is_applied() -> bool:
    return _applied


def main(argv: list[str] | None = None) -> None:
    """Runs a patched moto server in the foreground (the plain ``moto_server`` is unpatched)."""
    parser = argparse.ArgumentParser(description="moto server with infra.moto_patches applied")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    ns = parser.parse_args(argv)
    apply()
    server = KeepAliveMotoServer(ip_address=ns.host, port=ns.port, verbose=True)
    server.start()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
