"""The suite's DynamoDB refuses what real DynamoDB refuses (tests/dynamo_limits.py): keys over
2,048 / 1,024 bytes in every operation and on index key attributes, items over 400 KB."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.dynamo_limits import HASH_MAX, ITEM_MAX, RANGE_MAX

MAIN = "test-main"
IDEMPOTENCY = "test-idempotency"


def _s(text: str) -> dict[str, str]:
    return {"S": text}


def _refused(call: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return error["Message"]


def test_an_over_long_partition_key_is_refused_by_get_item(aws: dict[str, Any]) -> None:
    ddb = aws["dynamodb"]
    key = {"pk": _s("a" * HASH_MAX), "sk": _s("b" * RANGE_MAX)}
    assert "Item" not in ddb.get_item(TableName=MAIN, Key=key)  # at the limits: fine
    message = _refused(ddb.get_item, TableName=MAIN,
                       Key={"pk": _s("a" * (HASH_MAX + 1)), "sk": _s("x")})
    assert "hashkey" in message
    assert "range keys" in _refused(ddb.get_item, TableName=MAIN,
                                    Key={"pk": _s("x"), "sk": _s("b" * (RANGE_MAX + 1))})


def test_sizes_are_bytes_not_characters(aws: dict[str, Any]) -> None:
    ddb = aws["dynamodb"]
    _refused(ddb.get_item, TableName=IDEMPOTENCY, Key={"pk": _s("\u4e2d" * 683)})  # 2,049 B
    _refused(ddb.delete_item, TableName=MAIN,
             Key={"pk": _s("x"), "sk": _s("\U0001f4a9" * 257)})  # 1,028 bytes


def test_every_operation_checks_its_keys(aws: dict[str, Any]) -> None:
    ddb = aws["dynamodb"]
    long_pk, long_sk = _s("p" * (HASH_MAX + 1)), _s("s" * (RANGE_MAX + 1))
    _refused(ddb.query, TableName=MAIN, KeyConditionExpression="pk = :p",
             ExpressionAttributeValues={":p": long_pk})
    _refused(ddb.query, TableName=MAIN, KeyConditionExpression="#p = :p AND begins_with(sk, :s)",
             ExpressionAttributeNames={"#p": "pk"},
             ExpressionAttributeValues={":p": _s("x"), ":s": long_sk})
    _refused(ddb.update_item, TableName=MAIN, Key={"pk": long_pk, "sk": _s("x")},
             UpdateExpression="SET a = :a", ExpressionAttributeValues={":a": _s("1")})
    _refused(ddb.transact_write_items, TransactItems=[
        {"ConditionCheck": {"TableName": MAIN, "Key": {"pk": _s("x"), "sk": long_sk},
                            "ConditionExpression": "attribute_exists(pk)"}}])
    _refused(ddb.transact_get_items, TransactItems=[
        {"Get": {"TableName": MAIN, "Key": {"pk": long_pk, "sk": _s("x")}}}])
    _refused(ddb.batch_get_item, RequestItems={MAIN: {"Keys": [{"pk": _s("x"),
                                                               "sk": long_sk}]}})
    _refused(ddb.batch_write_item, RequestItems={MAIN: [
        {"DeleteRequest": {"Key": {"pk": long_pk, "sk": _s("x")}}}]})


def test_index_key_attributes_are_bounded_on_write(aws: dict[str, Any]) -> None:
    ddb = aws["dynamodb"]
    item = {"pk": _s("x"), "sk": _s("y"), "gsi1pk": _s("g" * (HASH_MAX + 1)), "gsi1sk": _s("z")}
    _refused(ddb.put_item, TableName=MAIN, Item=item)
    _refused(ddb.transact_write_items, TransactItems=[{"Put": {"TableName": MAIN, "Item": item}}])
    _refused(ddb.batch_write_item, RequestItems={MAIN: [{"PutRequest": {"Item": item}}]})
    _refused(ddb.update_item, TableName=MAIN, Key={"pk": _s("x"), "sk": _s("y")},
             UpdateExpression="SET other = :o, #g = if_not_exists(#g, :g)",
             ExpressionAttributeNames={"#g": "gsi1sk"},
             ExpressionAttributeValues={":o": _s("1"), ":g": _s("s" * (RANGE_MAX + 1))})
    _refused(ddb.query, TableName=MAIN, IndexName="gsi1", KeyConditionExpression="gsi1pk = :g",
             ExpressionAttributeValues={":g": _s("g" * (HASH_MAX + 1))})
    assert ddb.scan(TableName=MAIN)["Items"] == []


def test_items_over_400_kb_are_refused(aws: dict[str, Any]) -> None:
    ddb = aws["dynamodb"]
    key = {"pk": _s("x"), "sk": _s("y")}
    big = _s("\u4e2d" * (ITEM_MAX // 3 + 1))  # 3 bytes a character
    _refused(ddb.put_item, TableName=MAIN, Item={**key, "body": big})
    _refused(ddb.transact_write_items, TransactItems=[
        {"Update": {"TableName": MAIN, "Key": key, "UpdateExpression": "SET body = :b",
                    "ExpressionAttributeValues": {":b": big}}}])
    ddb.put_item(TableName=MAIN, Item={**key, "body": _s("a" * 200_000)})
    _refused(ddb.update_item, TableName=MAIN, Key=key, UpdateExpression="SET more = :m",
             ExpressionAttributeValues={":m": _s("a" * 210_000)})  # moto: the result's size
    assert ddb.get_item(TableName=MAIN, Key=key)["Item"].keys() == {"pk", "sk", "body"}
