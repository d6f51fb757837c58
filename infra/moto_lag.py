"""Eventual consistency for moto: reads that may be stale on DynamoDB see the table as it was.

moto answers every read from the live table, so a suite on moto cannot see what real DynamoDB
does: a GSI (or LSI) Query/Scan is always eventually consistent, and a base-table GetItem,
BatchGetItem, Query or Scan without `ConsistentRead=True` may be too. Under `lag(...)`:

- index reads see the table as of `index_ms` ago, non-consistent base-table reads as of
  `base_ms` ago (real, monotonic time: the sandbox business clock plays no part);
- consistent reads, TransactGetItems, and every write and its condition see the live table.

How: while a lag is on, every write (PutItem, UpdateItem, DeleteItem, and so the items of a
BatchWriteItem or TransactWriteItems) first records a deep copy of the item it replaces (or
that there was none) with the time. A lagged read runs moto's own handler against a view of the
table in which every item changed since "now - lag" is put back as it was before its first such
change. moto_patches serializes DynamoDB requests per backend, so a read's view never overlaps a
write. Writes made before the lag was switched on count as settled.

    with lag(index_ms=2000):                 # indexes 2 s behind
    with lag(index_ms=200, base_ms=200):     # and non-consistent base reads 200 ms behind

The whole process can be lagged from the first write: `tests/lag.py` is a pytest plugin
(`-p tests.lag --lag-ms=200`, how `make test` runs the suites that must hold on real DynamoDB)
and the local stack reads `MOTO_LAG_MS` (`make run`, and the e2e stack of a lagged run).
"""

from __future__ import annotations

import copy
import functools
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler

_NOW = time.monotonic
LAG_ENV = "MOTO_LAG_MS"


@dataclass
class _Lag:
    index_s: float = 0.0
    base_s: float = 0.0
    # backend -> table name -> [(time, hash key, range key, item before the write | None)]; weak
    # keys, so a later test's backend never inherits a freed one's log through a reused id()
    history: weakref.WeakKeyDictionary[Any, dict[str, list[tuple[float, Any, Any, Any]]]] = (
        field(default_factory=weakref.WeakKeyDictionary))

    @property
    def on(self) -> bool:
        return self.index_s > 0 or self.base_s > 0


_state = _Lag()
_guard = threading.Lock()
_installed = False


@contextmanager
def lag(index_ms: float = 0, base_ms: float = 0) -> Iterator[None]:
    """Index reads `index_ms` behind, non-consistent base reads `base_ms` behind, inside."""
    install()
    previous = (_state.index_s, _state.base_s)
    _state.index_s, _state.base_s = index_ms / 1000, base_ms / 1000
    try:
        yield
    finally:
        _state.index_s, _state.base_s = previous
        if not _state.on:
            _state.history.clear()


def install() -> None:
    """Patches moto once (idempotent); with no lag on, the patches only pass calls through."""
    global _installed
    with _guard:
        if _installed:
            return
        for name in ("put_item", "update_item", "delete_item"):
            setattr(DynamoDBBackend, name, _recording(getattr(DynamoDBBackend, name), name))
        for name in ("get_item", "batch_get_item", "query", "scan"):
            setattr(DynamoHandler, name, _lagging(getattr(DynamoHandler, name)))
        _installed = True


# --- writes: remember what each write replaces --------------------------------------------

def _recording(original: Callable[..., Any], name: str) -> Callable[..., Any]:
    @functools.wraps(original)
    def write(self: DynamoDBBackend, table_name: str, data: dict[str, Any], *args: Any,
              **kwargs: Any) -> Any:
        if _state.on:
            _remember(self, table_name, data)
        return original(self, table_name, data, *args, **kwargs)

    return write


def _remember(backend: DynamoDBBackend, table_name: str, data: dict[str, Any]) -> None:
    try:
        table = backend.get_table(table_name)
        hash_key, range_key = backend.get_keys_value(table, data)
    except Exception:  # moto will raise its own error for this request
        return
    current = table.get_item(hash_key, range_key)
    now = _NOW()
    log = _state.history.setdefault(backend, {}).setdefault(table.name, [])
    log.append((now, hash_key, range_key, copy.deepcopy(current)))
    horizon = now - max(_state.index_s, _state.base_s) - 1.0
    if log[0][0] < horizon:
        del log[:next((i for i, r in enumerate(log) if r[0] >= horizon), len(log))]


# --- reads: answer from the table as it was ----------------------------------------------

def _lagging(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def read(self: DynamoHandler) -> Any:
        if not _state.on:
            return original(self)
        backend = self.dynamodb_backend
        views = [(table, since) for table, since in _lagged_tables(self, backend)
                 if since is not None]
        swapped = []
        try:
            for table, since in views:
                past = _view(backend, table, since)
                if past is not None:
                    swapped.append((table, table.items))
                    table.items = past
            return original(self)
        finally:
            for table, items in reversed(swapped):
                table.items = items

    return read


def _lagged_tables(handler: DynamoHandler, backend: DynamoDBBackend
                   ) -> Iterator[tuple[Table, float | None]]:
    """Each table the request reads, with the time its read is as of (None: live)."""
    body = handler.body
    now = _NOW()
    if "RequestItems" in body:  # BatchGetItem: per table
        for name, request in body["RequestItems"].items():
            behind = 0.0 if request.get("ConsistentRead") else _state.base_s
            yield _table(backend, name), (now - behind if behind else None)
        return
    if body.get("IndexName"):
        behind = _state.index_s
    else:
        behind = 0.0 if body.get("ConsistentRead") else _state.base_s
    yield _table(backend, body["TableName"]), (now - behind if behind else None)


def _table(backend: DynamoDBBackend, name: str) -> Table:
    return backend.get_table(name)


def _view(backend: DynamoDBBackend, table: Table, since: float) -> Any:
    """`table.items` with every item changed after `since` as it was before its first change
    (None when nothing changed since)."""
    before: dict[tuple[Any, Any], Any] = {}
    for when, hash_key, range_key, old in _state.history.get(backend, {}).get(table.name, ()):
        if when > since:
            before.setdefault((hash_key, range_key), old)
    if not before:
        return None
    view = copy.copy(table.items)
    for (hash_key, range_key), old in before.items():
        if table.range_key_attr is None:
            if old is None:
                view.pop(hash_key, None)
            else:
                view[hash_key] = old
            continue
        bucket = dict(view.get(hash_key, {}))
        if old is None:
            bucket.pop(range_key, None)
        else:
            bucket[range_key] = old
        if bucket:
            view[hash_key] = bucket
        else:
            view.pop(hash_key, None)
    return view


def from_environment() -> None:
    """`MOTO_LAG_MS=200 make run` (and the e2e stack under a lagged test run): the local
    stack's moto answers index and non-consistent reads that far behind, as DynamoDB may."""
    ms = float(os.environ.get(LAG_ENV) or 0)
    if ms:
        install()
        _state.index_s = _state.base_s = ms / 1000
