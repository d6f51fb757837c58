"""The lag fixture itself (tests/lag.py): lagged reads see the past, everything else the present."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.lag import lag

LAG_MS = 300


@pytest.fixture
def table(aws: dict[str, Any]) -> Any:
    client = aws["dynamodb"]
    client.create_table(
        TableName="lagged", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                   {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"}
                              for a in ("pk", "sk", "g")],
        GlobalSecondaryIndexes=[{"IndexName": "by-g", "Projection": {"ProjectionType": "ALL"},
                                 "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}]}])
    put(client, "1", 1)  # before the lag: settled
    return client


def put(client: Any, sk: str, v: int, **kw: Any) -> None:
    client.put_item(TableName="lagged", Item={"pk": {"S": "a"}, "sk": {"S": sk},
                                              "g": {"S": "x"}, "v": {"N": str(v)}}, **kw)


def key(sk: str) -> dict[str, Any]:
    return {"pk": {"S": "a"}, "sk": {"S": sk}}


def by_index(client: Any) -> dict[str, str]:
    items = client.query(TableName="lagged", IndexName="by-g", KeyConditionExpression="g = :g",
                         ExpressionAttributeValues={":g": {"S": "x"}})["Items"]
    return {i["sk"]["S"]: i["v"]["N"] for i in items}


def base(client: Any, consistent: bool) -> dict[str, str]:
    items = client.query(TableName="lagged", KeyConditionExpression="pk = :p",
                         ExpressionAttributeValues={":p": {"S": "a"}},
                         ConsistentRead=consistent)["Items"]
    return {i["sk"]["S"]: i["v"]["N"] for i in items}


def test_index_reads_see_the_past_until_the_lag_has_passed(table: Any) -> None:
    with lag(index_ms=LAG_MS):
        put(table, "1", 2)
        put(table, "2", 9)
        table.delete_item(TableName="lagged", Key=key("1"))
        put(table, "3", 3)
        assert by_index(table) == {"1": "1"}  # as before the lag's writes
        assert base(table, consistent=False) == {"2": "9", "3": "3"}  # base reads not lagged
        time.sleep(LAG_MS / 1000 + 0.05)
        assert by_index(table) == {"2": "9", "3": "3"}
    assert by_index(table) == {"2": "9", "3": "3"}


def test_non_consistent_base_reads_lag_and_consistent_ones_do_not(table: Any) -> None:
    with lag(base_ms=LAG_MS):
        put(table, "1", 2)
        put(table, "2", 5)
        assert table.get_item(TableName="lagged", Key=key("1"))["Item"]["v"] == {"N": "1"}
        assert "Item" not in table.get_item(TableName="lagged", Key=key("2"))
        assert table.get_item(TableName="lagged", Key=key("1"),
                              ConsistentRead=True)["Item"]["v"] == {"N": "2"}
        assert base(table, consistent=False) == {"1": "1"}
        assert base(table, consistent=True) == {"1": "2", "2": "5"}
        batch = table.batch_get_item(RequestItems={"lagged": {"Keys": [key("1"), key("2")]}})
        assert [i["v"]["N"] for i in batch["Responses"]["lagged"]] == ["1"]
        batch = table.batch_get_item(RequestItems={"lagged": {"Keys": [key("1"), key("2")],
                                                              "ConsistentRead": True}})
        assert sorted(i["v"]["N"] for i in batch["Responses"]["lagged"]) == ["2", "5"]
        assert by_index(table) == {"1": "2", "2": "5"}  # index not lagged here


def test_writes_and_their_conditions_see_the_live_table(table: Any) -> None:
    with lag(index_ms=LAG_MS, base_ms=LAG_MS):
        put(table, "2", 5)
        with pytest.raises(table.exceptions.ConditionalCheckFailedException):
            put(table, "2", 6, ConditionExpression="attribute_not_exists(pk)")
        table.transact_write_items(TransactItems=[
            {"Update": {"TableName": "lagged", "Key": key("1"), "UpdateExpression": "SET v = :v",
                        "ConditionExpression": "v = :old",
                        "ExpressionAttributeValues": {":v": {"N": "7"}, ":old": {"N": "1"}}}},
            {"Put": {"TableName": "lagged", "Item": {**key("4"), "g": {"S": "x"},
                                                      "v": {"N": "4"}}}}])
        assert by_index(table) == {"1": "1"}  # the transaction's writes are in the lag too
        assert base(table, consistent=True) == {"1": "7", "2": "5", "4": "4"}
        with pytest.raises(table.exceptions.TransactionCanceledException):
            table.transact_write_items(TransactItems=[
                {"Put": {"TableName": "lagged", "Item": {**key("5"), "v": {"N": "5"}}}},
                {"ConditionCheck": {"TableName": "lagged", "Key": key("1"),
                                    "ConditionExpression": "v = :one",
                                    "ExpressionAttributeValues": {":one": {"N": "1"}}}}])
        assert base(table, consistent=True) == {"1": "7", "2": "5", "4": "4"}  # rolled back
        time.sleep(LAG_MS / 1000 + 0.05)
        assert by_index(table) == {"1": "7", "2": "5", "4": "4"}
