"""Real DynamoDB's size limits, enforced on every DynamoDB call the tests make.

moto (5.2) checks key sizes only in PutItem, but DynamoDB refuses with a ValidationException
any key over its limits in every operation: a partition key over 2,048 bytes, a sort key over
1,024 bytes, in the table's key or an index's key (an over-long index key attribute fails the
write), and any item over 400 KB. Against AWS such a request is a 500 for us, so the suite
must see it too. `install()` registers one botocore handler, `before-parameter-build.dynamodb`,
on every session (moto's own hook is installed the same way), which raises the same
ClientError ValidationException DynamoDB answers. It learns each table's key schema from its
CreateTable call (the template's schema for tables made elsewhere) and only walks the key
attributes and, for writes of whole items, the item: cheap enough for every test.

UpdateItem's resulting item is only known to the server: moto refuses one over 405,000 bytes
(stricter than AWS's 409,600); here the update's own values are checked against 400 KB and its
SET of index key attributes against the key limits.
"""

from __future__ import annotations

import re
from typing import Any

import botocore.handlers
from botocore.exceptions import ClientError
from moto.dynamodb.exceptions import HashKeyTooLong, ItemSizeTooLarge, RangeKeyTooLong

HASH_MAX = 2048
RANGE_MAX = 1024
ITEM_MAX = 400 * 1024
EVENT = "before-parameter-build.dynamodb"
_UNIQUE = "lending-tests-dynamodb-limits"

# table name -> (primary key {attr: limit}, every key attribute incl. indexes {attr: limit})
_schemas: dict[str, tuple[dict[str, int], dict[str, int]]] = {}
_template: dict[str, tuple[dict[str, int], dict[str, int]]] = {}


def _limits(key_schema: list[dict[str, str]]) -> dict[str, int]:
    return {k["AttributeName"]: HASH_MAX if k["KeyType"] == "HASH" else RANGE_MAX
            for k in key_schema}


def _schema_of(create: dict[str, Any]) -> tuple[dict[str, int], dict[str, int]]:
    primary = _limits(create.get("KeySchema", []))
    every = dict(primary)
    for index in (*create.get("GlobalSecondaryIndexes", ()),
                  *create.get("LocalSecondaryIndexes", ())):
        for name, limit in _limits(index.get("KeySchema", [])).items():
            every[name] = min(limit, every.get(name, limit))
    return primary, every


def _template_schemas() -> dict[str, tuple[dict[str, int], dict[str, int]]]:
    if not _template:
        from infra.tables import table_definitions

        for table in table_definitions(""):
            _template[table["create"]["TableName"]] = _schema_of(table["create"])
    return _template


def schema(table: str) -> tuple[dict[str, int], dict[str, int]]:
    """The table's key limits: from its CreateTable, else the template's table it ends with."""
    found = _schemas.get(table)
    if found is None:
        suffixes = _template_schemas()
        match = max((s for s in suffixes if table.endswith(s)), key=len, default=None)
        found = suffixes[match] if match else ({}, {})
        _schemas[table] = found
    return found


def value_size(value: dict[str, Any]) -> int:
    """An attribute value's size as DynamoDB counts it (numbers approximately)."""
    (kind, v), = value.items()
    if kind == "S":
        return len(v.encode("utf-8"))
    if kind == "B":
        return len(v)
    if kind == "N":
        return len(str(v)) // 2 + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode("utf-8")) for s in v)
    if kind == "NS":
        return sum(len(str(n)) // 2 + 1 for n in v)
    if kind == "BS":
        return sum(len(b) for b in v)
    if kind == "L":
        return 3 + sum(1 + value_size(x) for x in v)
    if kind == "M":
        return 3 + sum(1 + len(k.encode("utf-8")) + value_size(x) for k, x in v.items())
    return 0


def item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode("utf-8")) + value_size(v) for name, v in item.items())


def _refuse(operation: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": "ValidationException", "Message": message},
                        "ResponseMetadata": {"HTTPStatusCode": 400}}, operation)


def _check_keys(operation: str, values: dict[str, Any], limits: dict[str, int]) -> None:
    for name, limit in limits.items():
        value = values.get(name)
        if value is not None and value_size(value) > limit:
            cls = HashKeyTooLong if limit == HASH_MAX else RangeKeyTooLong
            raise _refuse(operation, cls.key_too_large_msg)


def _check_item(operation: str, table: str, item: dict[str, Any]) -> None:
    _check_keys(operation, item, schema(table)[1])
    if item_size(item) > ITEM_MAX:
        raise _refuse(operation, ItemSizeTooLarge.item_size_too_large_msg)


def _name(token: str, names: dict[str, str]) -> str:
    return names.get(token, token) if token.startswith("#") else token


_CONDITIONS = (
    re.compile(r"(#?[\w.]+)\s*(?:=|<=|>=|<|>)\s*(:\w+)"),
    re.compile(r"begins_with\s*\(\s*(#?[\w.]+)\s*,\s*(:\w+)\s*\)", re.I),
    re.compile(r"(#?[\w.]+)\s+BETWEEN\s+(:\w+)\s+AND\s+(:\w+)", re.I),
)
_CLAUSE = re.compile(r"\b(SET|REMOVE|ADD|DELETE)\b", re.I)
_PLACEHOLDER = re.compile(r":\w+")


def _check_query(operation: str, params: dict[str, Any]) -> None:
    primary, every = schema(params.get("TableName", ""))
    limits = every if params.get("IndexName") else primary
    names = params.get("ExpressionAttributeNames") or {}
    values = params.get("ExpressionAttributeValues") or {}
    condition = params.get("KeyConditionExpression") or ""
    for pattern in _CONDITIONS:
        for attr, *placeholders in pattern.findall(condition):
            limit = limits.get(_name(attr, names))
            for p in placeholders:
                if limit is not None and p in values:
                    _check_keys(operation, {"k": values[p]}, {"k": limit})
    if params.get("ExclusiveStartKey"):
        _check_keys(operation, params["ExclusiveStartKey"], every)


def _set_assignments(expression: str) -> list[tuple[str, str]]:
    """(target, value expression) of each SET action, split at top-level commas."""
    parts = _CLAUSE.split(expression)
    out: list[tuple[str, str]] = []
    for keyword, body in zip(parts[1::2], parts[2::2], strict=False):
        if keyword.upper() != "SET":
            continue
        depth, start = 0, 0
        for i, char in enumerate(body + ","):
            depth += char == "("
            depth -= char == ")"
            if char == "," and depth == 0:
                target, _, value = body[start:i].partition("=")
                out.append((target.strip(), value))
                start = i + 1
    return out


def _check_update(operation: str, params: dict[str, Any]) -> None:
    table = params.get("TableName", "")
    primary, every = schema(table)
    _check_keys(operation, params.get("Key") or {}, primary)
    names = params.get("ExpressionAttributeNames") or {}
    values = params.get("ExpressionAttributeValues") or {}
    for target, expression in _set_assignments(params.get("UpdateExpression") or ""):
        limit = every.get(_name(target, names))
        if limit is None:
            continue
        for p in _PLACEHOLDER.findall(expression):
            if p in values:
                _check_keys(operation, {"k": values[p]}, {"k": limit})
    if item_size({**(params.get("Key") or {}), **values}) > ITEM_MAX:
        raise _refuse(operation, ItemSizeTooLarge.item_size_too_large_msg)


def _check_transact_write(operation: str, params: dict[str, Any]) -> None:
    for action in params.get("TransactItems") or ():
        for kind, body in action.items():
            if kind == "Put":
                _check_item(operation, body.get("TableName", ""), body.get("Item") or {})
            elif kind == "Update":
                _check_update(operation, body)
            else:  # Delete, ConditionCheck
                _check_keys(operation, body.get("Key") or {},
                            schema(body.get("TableName", ""))[0])


def _check_batch_write(operation: str, params: dict[str, Any]) -> None:
    for table, requests in (params.get("RequestItems") or {}).items():
        for request in requests:
            if "PutRequest" in request:
                _check_item(operation, table, request["PutRequest"].get("Item") or {})
            if "DeleteRequest" in request:
                _check_keys(operation, request["DeleteRequest"].get("Key") or {},
                            schema(table)[0])


def _check_batch_get(operation: str, params: dict[str, Any]) -> None:
    for table, request in (params.get("RequestItems") or {}).items():
        for key in request.get("Keys") or ():
            _check_keys(operation, key, schema(table)[0])


def _check_transact_get(operation: str, params: dict[str, Any]) -> None:
    for action in params.get("TransactItems") or ():
        get = action.get("Get") or {}
        _check_keys(operation, get.get("Key") or {}, schema(get.get("TableName", ""))[0])


def _check_key_of(operation: str, params: dict[str, Any]) -> None:
    _check_keys(operation, params.get("Key") or {}, schema(params.get("TableName", ""))[0])


def _check_put(operation: str, params: dict[str, Any]) -> None:
    _check_item(operation, params.get("TableName", ""), params.get("Item") or {})


def _check_scan(operation: str, params: dict[str, Any]) -> None:
    if params.get("ExclusiveStartKey"):
        _check_keys(operation, params["ExclusiveStartKey"],
                    schema(params.get("TableName", ""))[1])


def _record_table(operation: str, params: dict[str, Any]) -> None:
    if params.get("TableName"):
        _schemas[params["TableName"]] = _schema_of(params)


CHECKS = {
    "GetItem": _check_key_of, "DeleteItem": _check_key_of, "PutItem": _check_put,
    "UpdateItem": _check_update, "Query": _check_query, "Scan": _check_scan,
    "TransactWriteItems": _check_transact_write, "TransactGetItems": _check_transact_get,
    "BatchWriteItem": _check_batch_write, "BatchGetItem": _check_batch_get,
    "CreateTable": _record_table,
}


def enforce(params: dict[str, Any], model: Any, **_: Any) -> None:
    """The botocore handler: raises DynamoDB's ValidationException for a request it refuses."""
    check = CHECKS.get(model.name)
    if check is not None:
        check(model.name, params)


def install() -> None:
    """On every botocore session from now on, and on boto3's default one if it exists."""
    entry = (EVENT, enforce)
    if entry not in botocore.handlers.BUILTIN_HANDLERS:
        botocore.handlers.BUILTIN_HANDLERS.append(entry)
    import boto3

    if boto3.DEFAULT_SESSION is not None:
        boto3.DEFAULT_SESSION.events.register(EVENT, enforce, unique_id=_UNIQUE)
