"""Personal data: sealed at rest, never in keys, masked in responses, absent from logs."""

from __future__ import annotations

import json
import logging

import pytest

from chalicelib.services import personal_data
from tests.integration.origination.conftest import application

NAME = "王小明"
PHONE_DIGITS = "13812345678"


def _everything_stored(aws) -> str:
    """Every item of every table and every S3 object, as one string."""
    dump = []
    for table in aws["dynamodb"].list_tables()["TableNames"]:
        for page in aws["dynamodb"].get_paginator("scan").paginate(TableName=table):
            dump += [json.dumps(i, ensure_ascii=False) for i in page["Items"]]
    listing = aws["s3"].list_objects_v2(Bucket="test-documents").get("Contents", [])
    for obj in listing:
        body = aws["s3"].get_object(Bucket="test-documents", Key=obj["Key"])["Body"].read()
        dump.append(obj["Key"] + body.decode("utf-8", "replace"))
    return "\n".join(dump)


def test_nothing_personal_is_stored_or_logged_in_clear(api, acme, product, aws, caplog):
    caplog.set_level(logging.DEBUG)
    body = application(product["id"])
    national_id = body["applicant"]["national_id"]["number"]
    r = api.call("POST", "/v1/applications", body, key=acme["partner"])
    assert r.status == 201
    app = r.json
    api.call("POST", f"/v1/applications/{app['id']}/accept", key=acme["partner"])
    # an invalid submission (logged too) must not leak either
    broken = application(product["id"])
    broken["applicant"]["phone"] = "+86" + PHONE_DIGITS[:-1]
    assert api.call("POST", "/v1/applications", broken, key=acme["partner"]).status == 422

    stored = _everything_stored(aws)
    for secret in (national_id, national_id[:14], national_id[6:14], PHONE_DIGITS, NAME,
                   body["applicant"]["date_of_birth"], "8000.00"):
        assert secret not in stored, secret
        assert secret not in caplog.text, secret
    raw = aws["dynamodb"].get_item(ConsistentRead=True, TableName="test-main", Key={
        "pk": {"S": f"acme#application#{app['id']}"}, "sk": {"S": "application"}})["Item"]
    envelope = json.loads(raw["applicant_enc"]["S"])
    assert envelope["alg"] == "AES-256-GCM" and envelope["kms_key"] and envelope["edk"]
    # the blind index, not the ID, keys the borrower's entries
    links = [i for i in stored.splitlines() if "#borrower#" in i]
    assert links and all(national_id not in line for line in links)
    # responses are masked
    shown = api.call("GET", f"/v1/applications/{app['id']}", key=acme["reviewer"]).json
    assert shown["applicant"]["national_id"]["number"] == "*" * 14 + national_id[-4:]
    assert shown["applicant"]["phone"] == "+86138****5678" and shown["applicant"]["name"] == \
        "王**"
    assert PHONE_DIGITS not in json.dumps(shown, ensure_ascii=False)
    assert "app_" in caplog.text  # the log does name the application


def test_data_keys_are_cached_and_ciphertexts_are_bound_to_their_record(api, acme, product,
                                                                         aws):
    for n in range(3):
        r = api.call("POST", "/v1/applications", application(product["id"], serial=f"{n:03d}"),
                     key=acme["partner"])
        assert r.status == 201
    assert personal_data.stats["generate"] == 1  # one KMS data key for the burst
    sealed = personal_data.seal("acme", "application", "app_1", {"phone": "+8613800000000"})
    assert personal_data.unseal("acme", "application", "app_1", sealed) == {
        "phone": "+8613800000000"}
    from cryptography.exceptions import InvalidTag
    with pytest.raises(InvalidTag):
        personal_data.unseal("acme", "application", "app_2", sealed)  # moved to another id
    personal_data.reset()  # a cold process unwraps the key through KMS (and its context)
    assert personal_data.unseal("acme", "application", "app_1", sealed)["phone"]
    assert personal_data.stats["decrypt"] == 1
    with pytest.raises(Exception):  # noqa: B017 - KMS refuses another tenant's context
        personal_data.reset()
        personal_data.unseal("globex", "application", "app_1", sealed)


def test_blind_index_is_keyed_per_tenant_and_normalized():
    a = personal_data.blind_index("acme", "prc_resident_id", "11010519491231002X")
    assert a == personal_data.blind_index("acme", "prc_resident_id", "11010519491231002X")
    assert a != personal_data.blind_index("globex", "prc_resident_id", "11010519491231002X")
    assert a != personal_data.blind_index("acme", "passport", "11010519491231002X")
    assert len(a) == 64 and all(c in "0123456789abcdef" for c in a)
