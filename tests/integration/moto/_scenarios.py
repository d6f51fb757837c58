"""Workloads shared by the moto patch tests; also runnable as a subprocess.

The patch is process-wide and cannot be undone, so the unpatched side of a comparison always runs
in its own interpreter: ``python -m tests.integration.moto._scenarios differential 0 1 2``
(unpatched) or ``... differential-patched 0 1 2`` prints one JSON document on stdout.
"""

from __future__ import annotations

import copy
import json
import os
import random
import socket
import sys
import threading
from typing import Any

REGION = "us-east-1"
LEDGER = "diff-ledger"
IDEM = "diff-idem"
PKS = ("P0", "P1", "P2", "P3")
SKS = ("S0", "S1", "S2")


def _env() -> None:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def create_tables(client: Any) -> None:
    client.create_table(
        TableName=LEDGER,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk", "gsi1pk", "gsi1sk")
        ],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "gsi1",
                "KeySchema": [
                    {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                    {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    client.create_table(
        TableName=IDEM,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    )


# ------------------------------------------------------------------------------------------
# Randomized differential sequence
# ------------------------------------------------------------------------------------------


def _key(rng: random.Random) -> dict[str, Any]:
    return {"pk": {"S": rng.choice(PKS)}, "sk": {"S": rng.choice(SKS)}}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _rich(rng: random.Random) -> dict[str, Any]:
    """Every attribute type, nested: responses carrying them go through the serializer."""
    return {
        "blob": {"B": bytes([rng.randint(0, 255) for _ in range(3)])},
        "blobs": {"BS": [b"a", bytes([rng.randint(0, 255)])]},
        "tags": {"SS": ["x", f"t{rng.randint(0, 3)}"]},
        "nums": {"NS": ["1", str(rng.randint(2, 9))]},
        "flag": {"BOOL": rng.random() < 0.5},
        "nothing": {"NULL": True},
        "doc": {"M": {"a": {"L": [{"S": "s"}, {"N": "1.5"}, {"M": {"b": {"BOOL": False}}}]},
                      "c": {"NULL": True}}},
        "list": {"L": [{"SS": ["q"]}, {"B": b"\x00\x01"}]},
    }


def _put(rng: random.Random) -> dict[str, Any]:
    item: dict[str, Any] = {**_key(rng), "bal": _n(rng.randint(0, 50)), "note": {"S": "n"}}
    if rng.random() < 0.25:
        item.update(_rich(rng))
    if rng.random() < 0.6:
        item["gsi1pk"] = {"S": rng.choice(("G0", "G1"))}
        item["gsi1sk"] = {"S": f"x{rng.randint(0, 9)}"}
    op: dict[str, Any] = {"TableName": LEDGER, "Item": item}
    cond = rng.choice(("none", "not_exists", "bal"))
    if cond == "not_exists":
        op["ConditionExpression"] = "attribute_not_exists(pk)"
    elif cond == "bal":
        op["ConditionExpression"] = "bal >= :min"
        op["ExpressionAttributeValues"] = {":min": _n(rng.randint(0, 40))}
    if "ConditionExpression" in op and rng.random() < 0.5:
        op["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
    return {"Put": op}


def _update(rng: random.Random) -> dict[str, Any]:
    delta = rng.randint(-20, 20)
    op: dict[str, Any] = {
        "TableName": LEDGER,
        "Key": _key(rng),
        "UpdateExpression": "ADD bal :d",
        "ExpressionAttributeValues": {":d": _n(delta)},
    }
    roll = rng.random()
    if roll < 0.15:
        op["UpdateExpression"] = "ADD bal :d SET gsi1pk = :g, gsi1sk = :s"
        op["ExpressionAttributeValues"].update({":g": {"S": "G2"}, ":s": {"S": "y"}})
    elif roll < 0.22:
        op["UpdateExpression"] = "ADD bal :d REMOVE gsi1pk, gsi1sk"
    elif roll < 0.27:
        op["UpdateExpression"] = "ADD note :d"  # ADD a number to a string: moto's error path
    elif roll < 0.4:
        # Same expression text, different name mappings: the parse caches must key on names.
        op["UpdateExpression"] = "ADD #f :d"
        op["ExpressionAttributeNames"] = {"#f": rng.choice(("bal", "bal", "note"))}
    elif roll < 0.55:
        # The validator's paths: if_not_exists, arithmetic on stored values, nested documents,
        # list indexes, and the refusals (key attribute, overlapping paths, two SET clauses);
        # the same text with other names must be re-checked (validation caches key on names).
        op["UpdateExpression"], names, values = rng.choice((
            ("ADD #b :d SET #s = if_not_exists(#s, :o)", {"#b": "bal", "#s": "st"},
             {":o": {"S": "open"}}),
            ("SET #b = #b + :d", {"#b": "bal"}, {}),
            ("SET #b = if_not_exists(#b, :z) - :d", {"#b": "bal"}, {":z": _n(0)}),
            ("SET doc.a[0] = :v, #l = list_append(if_not_exists(#l, :e), :e) ADD bal :d",
             {"#l": "lst"}, {":v": {"S": "w"}, ":e": {"L": [{"N": "1"}]}}),
            ("SET #k = :v ADD bal :d", {"#k": rng.choice(("sk", "note", "pk"))},
             {":v": {"S": "k"}}),
            ("SET #a = :v, #b2 = :v ADD bal :d",
             {"#a": "note", "#b2": rng.choice(("note", "other"))}, {":v": {"S": "o"}}),
            ("SET note = :v SET other = :v ADD bal :d", {}, {":v": {"S": "x"}}),
            ("REMOVE doc.c, #l[0] ADD bal :d", {"#l": "list"}, {}),
        ))
        if names:
            op["ExpressionAttributeNames"] = names
        op["ExpressionAttributeValues"].update(values)
    cond = rng.choice(("none", "exists", "floor", "floor", "named"))
    if cond == "exists":
        op["ConditionExpression"] = "attribute_exists(pk)"
    elif cond == "floor":
        op["ConditionExpression"] = "attribute_exists(pk) AND bal >= :need"
        op["ExpressionAttributeValues"][":need"] = _n(max(0, -delta))
    elif cond == "named":
        op["ConditionExpression"] = "attribute_exists(#c) AND #c >= :need"
        name, need = rng.choice((("bal", _n(rng.randint(0, 30))), ("gsi1pk", {"S": "G1"})))
        op.setdefault("ExpressionAttributeNames", {})["#c"] = name
        op["ExpressionAttributeValues"][":need"] = need
    if rng.random() < 0.03:
        op.setdefault("ExpressionAttributeNames", {})["#unused"] = "bal"  # ValidationException
    if "ConditionExpression" in op and rng.random() < 0.5:
        op["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
    return {"Update": op}


def _delete(rng: random.Random) -> dict[str, Any]:
    op: dict[str, Any] = {"TableName": LEDGER, "Key": _key(rng)}
    if rng.random() < 0.5:
        op["ConditionExpression"] = "bal < :max"
        op["ExpressionAttributeValues"] = {":max": _n(rng.randint(0, 60))}
        if rng.random() < 0.5:
            op["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
    return {"Delete": op}


def _check(rng: random.Random) -> dict[str, Any]:
    op: dict[str, Any] = {"TableName": LEDGER, "Key": _key(rng)}
    roll = rng.random()
    if roll < 0.3:
        # Same text and values, different names: the parse cache must key on the names.
        op["ConditionExpression"] = "attribute_exists(#c)"
        op["ExpressionAttributeNames"] = {"#c": rng.choice(("bal", "gsi1pk", "nope"))}
    elif roll < 0.6:
        op["ConditionExpression"] = "attribute_exists(pk)"
    else:
        op["ConditionExpression"] = "bal >= :x"
        op["ExpressionAttributeValues"] = {":x": _n(rng.randint(0, 40))}
    if rng.random() < 0.5:
        op["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
    return {"ConditionCheck": op}


def _idem(rng: random.Random) -> dict[str, Any]:
    return {
        "Put": {
            "TableName": IDEM,
            "Item": {"pk": {"S": f"K{rng.randint(0, 7)}"}, "v": _n(rng.randint(0, 9))},
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


def _transaction(rng: random.Random) -> list[dict[str, Any]]:
    makers = (_put, _update, _update, _delete, _check, _idem)
    items: list[dict[str, Any]] = []
    seen: set[str] = set()
    for _ in range(rng.randint(1, 6)):
        candidate = rng.choice(makers)(rng)
        body = next(iter(candidate.values()))
        key = body.get("Key") or {k: body["Item"][k] for k in ("pk", "sk") if k in body["Item"]}
        marker = json.dumps([body["TableName"], key], sort_keys=True)
        if marker in seen:
            continue
        seen.add(marker)
        items.append(candidate)
    if rng.random() < 0.08 and items:
        items.append(copy.deepcopy(items[0]))  # same item twice: ValidationException
    if rng.random() < 0.04:
        items.insert(
            rng.randint(0, len(items)),
            {
                "Update": {  # key without its range part: moto raises, transaction rolls back
                    "TableName": LEDGER,
                    "Key": {"pk": {"S": "P0"}},
                    "UpdateExpression": "ADD bal :d",
                    "ExpressionAttributeValues": {":d": _n(1)},
                }
            },
        )
    return items


def _jsonable(value: Any) -> Any:
    """Binary attributes come back as bytes: compare them as text."""
    if isinstance(value, bytes):
        return {"__bytes__": value.hex()}
    raise TypeError(f"cannot compare {type(value).__name__}")


def _clean(response: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def _call(client: Any, op: str, **kwargs: Any) -> dict[str, Any]:
    from botocore.exceptions import ClientError

    try:
        return {"ok": _clean(getattr(client, op)(**kwargs))}
    except ClientError as e:
        return {"error": _clean(e.response)}


def _single(rng: random.Random, client: Any) -> dict[str, Any]:
    """A non-transactional call, to check the patch leaves the other write/read paths alone."""
    kind = rng.choice(("put", "update", "delete", "get", "query", "gsi", "scan"))
    if kind == "put":
        op = _put(rng)["Put"]
        op.pop("ReturnValuesOnConditionCheckFailure", None)
        return _call(client, "put_item", ReturnValues=rng.choice(("NONE", "ALL_OLD")), **op)
    if kind == "update":
        op = _update(rng)["Update"]
        rv = rng.choice(("NONE", "ALL_NEW", "UPDATED_OLD", "UPDATED_NEW", "ALL_OLD"))
        return _call(client, "update_item", ReturnValues=rv, **op)
    if kind == "delete":
        return _call(client, "delete_item", ReturnValues="ALL_OLD", **_delete(rng)["Delete"])
    if kind == "get":
        return _call(client, "get_item", TableName=LEDGER, Key=_key(rng), ConsistentRead=True)
    if kind == "query":
        kwargs: dict[str, Any] = {
            "TableName": LEDGER,
            "KeyConditionExpression": "pk = :p",
            "ExpressionAttributeValues": {":p": {"S": rng.choice(PKS)}},
            "ScanIndexForward": rng.random() < 0.5,
        }
        if rng.random() < 0.4:
            kwargs["KeyConditionExpression"] += " AND sk >= :s"
            kwargs["ExpressionAttributeValues"][":s"] = {"S": rng.choice(SKS)}
        if rng.random() < 0.4:
            kwargs["Limit"] = 1
        if rng.random() < 0.3:
            kwargs["FilterExpression"] = "bal > :z"
            kwargs["ExpressionAttributeValues"][":z"] = _n(10)
        first = _call(client, "query", **kwargs)
        pages = [first]
        while "ok" in pages[-1] and "LastEvaluatedKey" in pages[-1]["ok"] and len(pages) < 10:
            kwargs["ExclusiveStartKey"] = pages[-1]["ok"]["LastEvaluatedKey"]
            pages.append(_call(client, "query", **kwargs))
        return {"pages": pages}
    if kind == "gsi":
        gsi: dict[str, Any] = {
            "TableName": LEDGER,
            "IndexName": "gsi1",
            "KeyConditionExpression": "gsi1pk = :g",
            "ExpressionAttributeValues": {":g": {"S": rng.choice(("G0", "G1", "G2"))}},
            "ScanIndexForward": rng.random() < 0.7,
        }
        if rng.random() < 0.3:
            gsi["KeyConditionExpression"] += " AND gsi1sk > :s"
            gsi["ExpressionAttributeValues"][":s"] = {"S": f"x{rng.randint(0, 9)}"}
        if rng.random() < 0.5:
            gsi["Limit"] = rng.randint(1, 3)
        gsi_pages = [_call(client, "query", **gsi)]
        while ("ok" in gsi_pages[-1] and "LastEvaluatedKey" in gsi_pages[-1]["ok"]
               and len(gsi_pages) < 20):
            gsi["ExclusiveStartKey"] = gsi_pages[-1]["ok"]["LastEvaluatedKey"]
            gsi_pages.append(_call(client, "query", **gsi))
        return {"pages": gsi_pages}
    return _call(client, "scan", TableName=LEDGER)


def _stream_records() -> list[dict[str, Any]]:
    """The ledger table's stream shard, read from moto's backend (no random ids or times)."""
    from moto.dynamodb.models import dynamodb_backends

    shard = dynamodb_backends["123456789012"][REGION].get_table(LEDGER).stream_shard
    out = []
    for record in shard.items:
        d = record.record["dynamodb"]
        out.append(
            {
                "event": record.record["eventName"],
                "seq": d["SequenceNumber"],
                "keys": d["Keys"],
                "new": d.get("NewImage"),
                "old": d.get("OldImage"),
            }
        )
    return out


def _dump(client: Any) -> dict[str, Any]:
    def items(table: str) -> list[Any]:
        found = client.scan(TableName=table)["Items"]
        return sorted(found, key=lambda i: json.dumps(i, sort_keys=True, default=_jsonable))

    return {"ledger": items(LEDGER), "idem": items(IDEM), "stream": _stream_records()}


def run_sequence(seed: int, steps: int = 250) -> dict[str, Any]:
    """One fresh mock_aws account, one seeded sequence: every response and the final state."""
    _env()
    import boto3
    from moto import mock_aws

    rng = random.Random(seed)
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        create_tables(client)
        log: list[Any] = []
        for _ in range(steps):
            if rng.random() < 0.3:
                log.append(_single(rng, client))
            else:
                items = _transaction(rng)
                log.append({"tx": items, **_call(client, "transact_write_items",
                                                TransactItems=items)})
        return {"log": log, "final": _dump(client)}


def differential(seeds: list[int], patched: bool) -> dict[str, Any]:
    if patched:
        from infra import moto_patches

        moto_patches.apply()
    from moto.dynamodb.models import DynamoDBBackend

    return {
        "patched_impl": DynamoDBBackend.transact_write_items.__module__,
        "runs": {str(seed): run_sequence(seed) for seed in seeds},
    }


# ------------------------------------------------------------------------------------------
# Concurrency hammer over HTTP
# ------------------------------------------------------------------------------------------


def hammer(
    endpoint: str,
    table: str = "race-ledger",
    threads: int = 8,
    per_thread: int = 30,
    start: int = 150,
) -> dict[str, Any]:
    """Threads post conditional debits (floor 0) and matching credits against the same two
    balance items, plus a journal record, each as one transaction; some transactions are made to
    fail on purpose so rollbacks interleave with commits. Returns the counts and final state."""
    _env()
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError

    setup = boto3.client("dynamodb", region_name=REGION, endpoint_url=endpoint)
    setup.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
    )
    debit_key = {"pk": {"S": "ACC#debit"}, "sk": {"S": "BALANCE"}}
    credit_key = {"pk": {"S": "ACC#credit"}, "sk": {"S": "BALANCE"}}
    setup.put_item(TableName=table, Item={**debit_key, "bal": {"N": str(start)}})
    setup.put_item(TableName=table, Item={**credit_key, "bal": {"N": "0"}})

    committed = [0]
    unexpected: list[str] = []
    guard = threading.Lock()

    def worker(tid: int) -> None:
        client = boto3.client(
            "dynamodb",
            region_name=REGION,
            endpoint_url=endpoint,
            config=Config(retries={"max_attempts": 0}, max_pool_connections=2),
        )
        for i in range(per_thread):
            poison = i % 5 == 4  # fails on its last item after applying the first two
            items: list[dict[str, Any]] = [
                {
                    "Update": {
                        "TableName": table,
                        "Key": debit_key,
                        "UpdateExpression": "ADD bal :d",
                        "ConditionExpression": "bal >= :amount",
                        "ExpressionAttributeValues": {":d": {"N": "-1"}, ":amount": {"N": "1"}},
                    }
                },
                {
                    "Update": {
                        "TableName": table,
                        "Key": credit_key,
                        "UpdateExpression": "ADD bal :d",
                        "ExpressionAttributeValues": {":d": {"N": "1"}},
                    }
                },
                {
                    "Put": {
                        "TableName": table,
                        "Item": {"pk": {"S": f"JRN#{tid}#{i}"}, "sk": {"S": "HEADER"}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
            if poison:
                items.append(
                    {
                        "ConditionCheck": {
                            "TableName": table,
                            "Key": {"pk": {"S": "ACC#missing"}, "sk": {"S": "BALANCE"}},
                            "ConditionExpression": "attribute_exists(pk)",
                        }
                    }
                )
            try:
                client.transact_write_items(TransactItems=items)
            except ClientError as e:
                if e.response["Error"]["Code"] != "TransactionCanceledException":
                    with guard:
                        unexpected.append(e.response["Error"]["Code"])
                continue
            except Exception as e:  # a 500 from a crashed request shows up here
                with guard:
                    unexpected.append(type(e).__name__)
                continue
            if poison:
                with guard:
                    unexpected.append("poisoned transaction committed")
            with guard:
                committed[0] += 1

    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=600)
    debit = int(setup.get_item(TableName=table, Key=debit_key)["Item"]["bal"]["N"])
    credit = int(setup.get_item(TableName=table, Key=credit_key)["Item"]["bal"]["N"])
    journals = setup.scan(TableName=table, Select="COUNT")["Count"] - 2
    return {
        "start": start,
        "attempts": threads * per_thread,
        "committed": committed[0],
        "debit": debit,
        "credit": credit,
        "journals": journals,
        "unexpected": unexpected,
    }


def hammer_violations(result: dict[str, Any]) -> list[str]:
    """Every way the hammer's result can show a lost update or a breached limit."""
    problems = []
    if result["debit"] < 0:
        problems.append(f"floor breached: debit balance {result['debit']}")
    if result["debit"] != result["start"] - result["committed"]:
        problems.append(f"debit {result['debit']} != start - committed")
    if result["credit"] != result["committed"]:
        problems.append(f"credit {result['credit']} != committed {result['committed']}")
    if result["journals"] != result["committed"]:
        problems.append(f"journals {result['journals']} != committed {result['committed']}")
    if result["unexpected"]:
        problems.append(f"unexpected errors: {sorted(set(result['unexpected']))}")
    return problems


def hammer_server(mode: str, switch_interval: float, rounds: int) -> dict[str, Any]:
    """Runs the hammer against a ThreadedMotoServer in this process: ``stock`` moto, the patch
    (``patched``) or the patch with the request lock taken out again (``unlocked``)."""
    import logging

    if mode != "stock":
        from infra import moto_patches

        moto_patches.apply()
        if mode == "unlocked":
            from moto.dynamodb.responses import DynamoHandler

            DynamoHandler.call_action = moto_patches._originals["DynamoHandler.call_action"]
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
    sys.setswitchinterval(switch_interval)
    results = []
    for round_no in range(rounds):
        port = free_port()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        try:
            result = hammer(f"http://127.0.0.1:{port}", table=f"race-ledger-{round_no}")
        finally:
            server.stop()
        results.append({**result, "violations": hammer_violations(result)})
        if results[-1]["violations"]:
            break
    return {"rounds": results}


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command in ("differential", "differential-patched"):
        out = differential([int(a) for a in args], patched=command.endswith("patched"))
    elif command == "hammer":
        out = hammer_server(args[0], float(args[1]), int(args[2]))
    else:
        raise SystemExit(f"unknown command {command}")
    sys.stdout.write(json.dumps(out, sort_keys=True, default=_jsonable))
