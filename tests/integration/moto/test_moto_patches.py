"""infra.moto_patches keeps moto's DynamoDB semantics while removing its O(table) costs and races.

The unpatched side of every comparison runs in a subprocess, because the patch is process-wide.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.table import Table

from infra import moto_patches
from tests.integration.moto import _scenarios as sc

ROOT = Path(__file__).resolve().parents[3]
ACCOUNT = "123456789012"


@pytest.fixture(autouse=True)
def _aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in (
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_DEFAULT_REGION", sc.REGION),
    ):
        monkeypatch.setenv(name, value)


@pytest.fixture
def patched_ddb() -> Iterator[Any]:
    moto_patches.apply()
    with mock_aws():
        yield boto3.client("dynamodb", region_name=sc.REGION)


def _subprocess_json(*args: str, timeout: float = 600) -> Any:
    proc = subprocess.run(
        [sys.executable, "-m", "tests.integration.moto._scenarios", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout)


# --------------------------------------------------------------------------------------------
# apply()
# --------------------------------------------------------------------------------------------


def test_apply_is_idempotent() -> None:
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.responses import DynamoHandler

    moto_patches.apply()
    first = (DynamoDBBackend.transact_write_items, Table.query, DynamoHandler.call_action)
    moto_patches.apply()
    assert (DynamoDBBackend.transact_write_items, Table.query, DynamoHandler.call_action) == first
    assert moto_patches.is_applied()
    assert DynamoDBBackend.transact_write_items.__module__ == "infra.moto_patches"


def test_refuses_unexpected_moto_version(monkeypatch: pytest.MonkeyPatch) -> None:
    import moto

    monkeypatch.setattr(moto, "__version__", "5.2.6")
    with pytest.raises(RuntimeError, match=r"targets moto 5\.2\.5, found 5\.2\.6"):
        moto_patches._check_moto()


def test_refuses_changed_moto_source(monkeypatch: pytest.MonkeyPatch) -> None:
    sources = dict(moto_patches._EXPECTED_SOURCES, **{"Table.query": "0" * 16})
    monkeypatch.setattr(moto_patches, "_EXPECTED_SOURCES", sources)
    with pytest.raises(RuntimeError, match=r"Table\.query differs"):
        moto_patches._check_moto()


def test_stock_moto_still_matches_the_verified_source() -> None:
    # _check_moto compares the *original* functions; after apply() they live in _originals.
    moto_patches.apply()
    for name, func in moto_patches._originals.items():
        assert moto_patches._fingerprint(func) == moto_patches._EXPECTED_SOURCES[name], name


# --------------------------------------------------------------------------------------------
# Differential: stock moto vs patched moto on the same randomized sequences
# --------------------------------------------------------------------------------------------


def test_randomized_sequences_match_stock_moto() -> None:
    seeds = ["11", "12", "13"]
    stock = _subprocess_json("differential", *seeds)
    patched = _subprocess_json("differential-patched", *seeds)
    assert stock["patched_impl"] == "moto.dynamodb.models"
    assert patched["patched_impl"] == "infra.moto_patches"

    seen: collections.Counter[str] = collections.Counter()
    for seed in seeds:
        a, b = stock["runs"][seed], patched["runs"][seed]
        assert len(a["log"]) == len(b["log"])
        for step, (x, y) in enumerate(zip(a["log"], b["log"], strict=True)):
            assert x == y, f"seed {seed} step {step} differs"
        assert a["final"] == b["final"], f"seed {seed}: final tables or stream differ"
        for entry in a["log"]:
            if "tx" not in entry:
                seen["single"] += 1
                text = json.dumps(entry)
                seen["response with every attribute type"] += all(
                    f'"{t}"' in text for t in ("B", "BS", "SS", "NS", "M", "L", "NULL", "BOOL"))
                seen["paged query"] += len(entry.get("pages", [])) > 1
            elif "ok" in entry:
                seen["committed"] += 1
            else:
                seen[entry["error"]["Error"]["Code"]] += 1
                for reason in entry["error"].get("CancellationReasons", []):
                    seen[f"reason:{reason['Code']}"] += 1
                    seen["reason with Item"] += "Item" in reason
            seen["ConditionCheck"] += any("ConditionCheck" in i for i in entry.get("tx", []))
        seen["stream records"] += len(a["final"]["stream"])
    # The sequences must really exercise what we claim to compare.
    for what in (
        "single",
        "committed",
        "TransactionCanceledException",
        "ValidationException",
        "reason:ConditionalCheckFailed",
        "reason:None",
        "reason with Item",
        "ConditionCheck",
        "stream records",
        "response with every attribute type",
        "paged query",
    ):
        assert seen[what] > 0, (what, seen)


# --------------------------------------------------------------------------------------------
# Rollback in a large table
# --------------------------------------------------------------------------------------------


def _snapshot(table: Table) -> dict[str, Any]:
    items = {}
    for bucket in table.items.values():
        for item in bucket.values():
            items[(item.hash_key.value, item.range_key.value)] = item.to_json()
    return {"items": items, "buckets": len(table.items)}


def test_failed_transaction_in_large_table_restores_exactly_the_touched_items(
    patched_ddb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = patched_ddb
    sc.create_tables(client)
    table = dynamodb_backends[ACCOUNT][sc.REGION].get_table(sc.LEDGER)
    for i in range(5000):
        table.put_item(
            {
                "pk": {"S": f"A{i % 700}"},
                "sk": {"S": f"B{i}"},
                "gsi1pk": {"S": f"G{i % 3}"},
                "gsi1sk": {"S": f"{i:05d}"},
                "bal": {"N": "100"},
                "tags": {"SS": ["x", "y"]},
                "nested": {"M": {"l": {"L": [{"N": "1"}, {"S": "s"}]}}},
            }
        )
    before = _snapshot(table)
    stream_before = len(table.stream_shard.items)
    gsi_before = client.query(
        TableName=sc.LEDGER,
        IndexName="gsi1",
        KeyConditionExpression="gsi1pk = :g",
        ExpressionAttributeValues={":g": {"S": "G1"}},
    )["Items"]

    # The patch must not copy whole tables any more: make that an error.
    def no_table_copies(self: Table, memo: dict[int, Any]) -> Table:
        raise AssertionError("a whole table was deep-copied")

    monkeypatch.setattr(Table, "__deepcopy__", no_table_copies, raising=False)

    key = lambda p, s: {"pk": {"S": p}, "sk": {"S": s}}  # noqa: E731
    with pytest.raises(ClientError) as err:
        client.transact_write_items(
            TransactItems=[
                {  # in-place update of an existing item, moving it to another GSI partition
                    "Update": {
                        "TableName": sc.LEDGER,
                        "Key": key("A1", "B1"),
                        "UpdateExpression": "ADD bal :d SET gsi1pk = :g, nested.l[0] = :z",
                        "ExpressionAttributeValues": {
                            ":d": {"N": "-30"},
                            ":g": {"S": "G9"},
                            ":z": {"N": "9"},
                        },
                    }
                },
                {"Delete": {"TableName": sc.LEDGER, "Key": key("A2", "B2")}},
                {  # overwrite an existing item
                    "Put": {
                        "TableName": sc.LEDGER,
                        "Item": {**key("A3", "B3"), "bal": {"N": "1"}},
                    }
                },
                {  # new item in an existing partition, and one in a brand new partition
                    "Put": {"TableName": sc.LEDGER, "Item": {**key("A4", "new"), "v": {"N": "1"}}}
                },
                {"Put": {"TableName": sc.LEDGER, "Item": {**key("NEW", "new"), "v": {"N": "1"}}}},
                {"Put": {"TableName": sc.IDEM, "Item": {"pk": {"S": "idem-1"}}}},
                {  # create-by-update in a new partition
                    "Update": {
                        "TableName": sc.LEDGER,
                        "Key": key("NEW2", "x"),
                        "UpdateExpression": "ADD bal :d",
                        "ExpressionAttributeValues": {":d": {"N": "5"}},
                    }
                },
                {
                    "ConditionCheck": {
                        "TableName": sc.LEDGER,
                        "Key": key("A5", "B5"),
                        "ConditionExpression": "bal > :x",
                        "ExpressionAttributeValues": {":x": {"N": "100"}},
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                },
            ]
        )
    monkeypatch.undo()

    response = err.value.response
    assert response["Error"]["Code"] == "TransactionCanceledException"
    reasons = response["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["None"] * 7 + ["ConditionalCheckFailed"]
    assert reasons[-1]["Message"] == "The conditional request failed"
    assert reasons[-1]["Item"]["pk"] == {"S": "A5"} and reasons[-1]["Item"]["bal"] == {"N": "100"}

    assert dynamodb_backends[ACCOUNT][sc.REGION].get_table(sc.LEDGER) is table  # not swapped
    assert _snapshot(table) == before  # values and no leftover empty partitions
    assert len(table.stream_shard.items) == stream_before
    assert dynamodb_backends[ACCOUNT][sc.REGION].get_table(sc.IDEM).items == {}
    gsi_after = client.query(
        TableName=sc.LEDGER,
        IndexName="gsi1",
        KeyConditionExpression="gsi1pk = :g",
        ExpressionAttributeValues={":g": {"S": "G1"}},
    )["Items"]
    assert gsi_after == gsi_before
    assert (
        client.query(
            TableName=sc.LEDGER,
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :g",
            ExpressionAttributeValues={":g": {"S": "G9"}},
        )["Count"]
        == 0
    )

    # The same transaction without the failing check commits every item.
    client.transact_write_items(
        TransactItems=[
            {
                "Update": {
                    "TableName": sc.LEDGER,
                    "Key": key("A1", "B1"),
                    "UpdateExpression": "ADD bal :d",
                    "ExpressionAttributeValues": {":d": {"N": "-30"}},
                }
            },
            {"Delete": {"TableName": sc.LEDGER, "Key": key("A2", "B2")}},
        ]
    )
    assert table.get_item(*_dk("A1", "B1")).attrs["bal"].value == "70"
    assert table.get_item(*_dk("A2", "B2")) is None


def _dk(pk: str, sk: str) -> tuple[Any, Any]:
    from moto.dynamodb.models.dynamo_type import DynamoType

    return DynamoType({"S": pk}), DynamoType({"S": sk})


def test_validation_error_mid_transaction_rolls_back(patched_ddb: Any) -> None:
    client = patched_ddb
    sc.create_tables(client)
    client.put_item(TableName=sc.LEDGER, Item={"pk": {"S": "p"}, "sk": {"S": "s"}, "n": {"N": "1"}})
    item = {"pk": {"S": "p"}, "sk": {"S": "s"}}
    with pytest.raises(ClientError) as err:
        client.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": sc.LEDGER,
                        "Key": item,
                        "UpdateExpression": "ADD n :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
                {"ConditionCheck": {"TableName": sc.LEDGER, "Key": item,
                                    "ConditionExpression": "attribute_exists(pk)"}},
            ]
        )
    assert err.value.response["Error"] == {
        "Code": "ValidationException",
        "Message": "Transaction request cannot include multiple operations on one item",
    }
    got = client.get_item(TableName=sc.LEDGER, Key=item)["Item"]
    assert got["n"] == {"N": "1"}


# --------------------------------------------------------------------------------------------
# Query reads one partition
# --------------------------------------------------------------------------------------------


def test_base_table_query_reads_only_its_partition(
    patched_ddb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = patched_ddb
    sc.create_tables(client)
    table = dynamodb_backends[ACCOUNT][sc.REGION].get_table(sc.LEDGER)
    for i in range(300):
        table.put_item({"pk": {"S": f"P{i % 30}"}, "sk": {"S": f"{i:04d}"}, "v": {"N": str(i)}})

    def full_scan(self: Table) -> list[Any]:
        raise AssertionError("base-table query scanned the whole table")

    monkeypatch.setitem(moto_patches._originals, "Table.all_items", full_scan)
    got = client.query(
        TableName=sc.LEDGER,
        KeyConditionExpression="pk = :p AND sk BETWEEN :a AND :b",
        ExpressionAttributeValues={":p": {"S": "P7"}, ":a": {"S": "0100"}, ":b": {"S": "0200"}},
        ScanIndexForward=False,
    )
    assert [i["v"]["N"] for i in got["Items"]] == ["187", "157", "127"]
    assert client.query(
        TableName=sc.LEDGER,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "nope"}},
    )["Items"] == []


@pytest.mark.parametrize("forward", [True, False])
@pytest.mark.parametrize("condition", ["", " AND gsi1sk BETWEEN :a AND :b", " AND gsi1sk > :a"])
def test_index_pages_keep_moto_order_and_resume_after_the_start_key(
    patched_ddb: Any, monkeypatch: pytest.MonkeyPatch, forward: bool, condition: str
) -> None:
    """Paged index queries (ties on the index key broken by the table keys) return exactly the
    items in DynamoDB's order, each once, and a page never compares the earlier pages' items
    against the start key (the bisection dropped them)."""
    client = patched_ddb
    sc.create_tables(client)
    table = dynamodb_backends[ACCOUNT][sc.REGION].get_table(sc.LEDGER)
    rows = [(f"P{i % 37:02d}", f"{i:04d}", f"k{i % 40:02d}") for i in range(600)]
    for pk, sk, g in rows:
        table.put_item({"pk": {"S": pk}, "sk": {"S": sk}, "gsi1pk": {"S": "G"},
                        "gsi1sk": {"S": g}})
    table.put_item({"pk": {"S": "other"}, "sk": {"S": "x"}, "gsi1pk": {"S": "H"},
                    "gsi1sk": {"S": "k10"}})
    values = {":g": {"S": "G"}, ":a": {"S": "k05"}, ":b": {"S": "k30"}}
    lo, hi = ("k05", "k30") if "BETWEEN" in condition else ("k05\0", "~") if condition else (
        "", "~")
    want = sorted(((g, pk, sk) for pk, sk, g in rows if lo <= g <= hi), reverse=not forward)

    compared = []
    real = Table._item_comes_before_dct
    monkeypatch.setattr(Table, "_item_comes_before_dct",
                        lambda *a, **k: compared.append(1) or real(*a, **k))
    kwargs: dict[str, Any] = {
        "TableName": sc.LEDGER, "IndexName": "gsi1", "Limit": 23, "ScanIndexForward": forward,
        "KeyConditionExpression": "gsi1pk = :g" + condition,
        "ExpressionAttributeValues": {k: v for k, v in values.items()
                                      if k == ":g" or k in condition}}
    got, pages = [], 0
    while True:
        page = client.query(**kwargs)
        pages += 1
        got += [(i["gsi1sk"]["S"], i["pk"]["S"], i["sk"]["S"]) for i in page["Items"]]
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    assert got == want
    assert pages >= len(want) // 23
    assert len(compared) <= pages  # at most the start item itself, once per page


# --------------------------------------------------------------------------------------------
# Concurrency over HTTP
# --------------------------------------------------------------------------------------------


@pytest.fixture
def tiny_switch_interval() -> Iterator[None]:
    """Makes the GIL switch threads every few microseconds so races show up in a short run."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


@pytest.mark.slow
def test_concurrent_transactions_over_http_lose_nothing(tiny_switch_interval: None) -> None:
    import logging

    from moto.server import ThreadedMotoServer

    moto_patches.apply()
    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
    port = sc.free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        result = sc.hammer(f"http://127.0.0.1:{port}", table="race-patched")
    finally:
        server.stop()
    assert sc.hammer_violations(result) == [], result
    assert result["committed"] > 0 and result["debit"] >= 0
    assert result["committed"] < result["attempts"]  # the floor really was hit


@pytest.mark.slow
def test_without_the_lock_moto_loses_updates_or_breaches_the_floor() -> None:
    """The lock is needed: the same workload, with the lock removed, goes wrong."""
    out = _subprocess_json("hammer", "unlocked", "1e-5", "3")
    assert any(r["violations"] for r in out["rounds"]), out
