"""The audit chain detects edits, removals and reordering, and names the broken link."""

from __future__ import annotations

from tests.lag import settle


def _setup(api):
    api.tenant("acme")
    admin = api.key("acme", "admin")
    partner = api.key("acme", "partner")
    kid = partner.split("_")[2]
    assert api.call("DELETE", f"/v1/tenants/acme/api-keys/{kid}",
                    key=api.platform_key).status == 200
    return admin, kid


def _verify(api, key):
    settle()  # the verifier enumerates chains through an index, which trails the writes
    r = api.call("POST", "/v1/audit/verify", key=key)
    assert r.status == 200
    return r.json


def _record(aws, kid, seq):
    return {"pk": {"S": f"acme#audit#api_key#{kid}"}, "sk": {"S": f"{seq:012d}"}}


def test_untouched_chains_verify(api):
    admin, _ = _setup(api)
    report = _verify(api, admin)
    assert report["ok"] and report["chains"] == 3 and report["records"] == 4


def test_records_name_the_actor_and_request(api):
    admin, kid = _setup(api)
    trail = api.call("GET", f"/v1/audit/api_key/{kid}", key=admin).json["data"]
    assert trail[1]["actor_role"] == "platform" and trail[1]["actor_key_id"] == "platform-admin"
    assert trail[1]["prev_hash"] == trail[0]["hash"]
    assert all(r["request_id"] for r in trail)


def test_the_trail_shows_the_change_just_made_on_lagging_reads(api):
    from tests.lag import lag

    api.tenant("acme")
    admin, partner = api.key("acme", "admin"), api.key("acme", "partner")
    kid = partner.split("_")[2]
    with lag(index_ms=2000, base_ms=2000):
        assert api.call("DELETE", f"/v1/tenants/acme/api-keys/{kid}",
                        key=api.platform_key).status == 200
        trail = api.call("GET", f"/v1/audit/api_key/{kid}", key=admin).json["data"]
    assert [r["seq"] for r in trail] == [1, 2]


def test_edited_record_is_named(api, aws):
    admin, kid = _setup(api)
    aws["dynamodb"].update_item(
        TableName="test-audit", Key=_record(aws, kid, 1),
        UpdateExpression="SET #d = :d", ExpressionAttributeNames={"#d": "data"},
        ExpressionAttributeValues={":d": {"S": '{"name":"partner key","role":"admin"}'}},
    )
    report = _verify(api, admin)
    assert not report["ok"]
    (brk,) = report["breaks"]
    assert (brk["aggregate_type"], brk["aggregate_id"], brk["seq"]) == ("api_key", kid, 1)
    assert "edited" in brk["reason"]


def test_removed_tail_is_named(api, aws):
    admin, kid = _setup(api)
    aws["dynamodb"].delete_item(TableName="test-audit", Key=_record(aws, kid, 2))
    (brk,) = _verify(api, admin)["breaks"]
    assert brk["aggregate_id"] == kid and "head" in brk["reason"]


def test_removed_middle_record_is_named(api, aws):
    admin, kid = _setup(api)
    api.call("DELETE", f"/v1/tenants/acme/api-keys/{kid}", key=api.platform_key)  # no-op
    aws["dynamodb"].delete_item(TableName="test-audit", Key=_record(aws, kid, 1))
    (brk,) = _verify(api, admin)["breaks"]
    assert brk["seq"] == 2 and "gap" in brk["reason"]


def test_rehashed_forgery_breaks_the_next_link(api, aws):
    """An attacker who edits a record and recomputes its hash still breaks the chain."""
    from chalicelib.store.audit import from_item, record_hash

    admin, kid = _setup(api)
    ddb = aws["dynamodb"]
    item = ddb.get_item(
        ConsistentRead=True, TableName="test-audit", Key=_record(aws, kid, 1))["Item"]
    item["data"] = {"S": '{"name":"partner key","role":"admin"}'}
    item["hash"] = {"S": record_hash(from_item(item))}
    ddb.put_item(TableName="test-audit", Item=item)
    (brk,) = _verify(api, admin)["breaks"]
    assert brk["seq"] == 2 and "prev_hash" in brk["reason"]


def test_audit_records_are_conditional_puts(api, aws):
    """Appending never overwrites: a second write of the same seq is refused."""
    import pytest
    from botocore.exceptions import ClientError

    from chalicelib.store.uow import put

    _, kid = _setup(api)
    item = aws["dynamodb"].get_item(ConsistentRead=True, TableName="test-audit",
                                    Key=_record(aws, kid, 1))["Item"]
    entry = put("audit", item, "attribute_not_exists(pk)")["Put"]
    entry.pop("ReturnValuesOnConditionCheckFailure")
    with pytest.raises(ClientError):
        aws["dynamodb"].put_item(**entry)
