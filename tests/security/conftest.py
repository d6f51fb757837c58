"""Security suite fixtures: one moto account, one API client and one fixture world shared by
the whole package (built once, about 10-30 s), a log capture running from before the world is
built, and snapshots of everything stored.

Every module here marks itself `xdist_group("security")`, so the world is built on one worker.
Nothing the suite's checks do may change the world: refused calls change nothing (that is what
is checked), and calls the role table allows are made so they stop at validation or at a
missing id (see test_function_level).
"""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import io
import json
import logging
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import boto3
import pytest
from chalice.test import Client
from moto import mock_aws

from infra.tables import provision
from tests.conftest import TEST_ENV, _apply_moto_patches
from tests.integration.conftest import Api
from tests.integration.origination.conftest import TERMS
from tests.integration.origination.test_models import FEATURES, shipped
from tests.security import matrix, world

BUCKET = TEST_ENV["LENDING_BUCKET"]
NOISY = ("botocore", "boto3", "urllib3", "s3transfer", "moto", "pynamodb", "fontTools", "fpdf")


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:
            self.lines.append(f"{record.msg!r} {record.args!r}")


@dataclass
class Env:
    api: Api
    aws: dict[str, Any]
    acme: world.World
    acme2: world.World
    bad_keys: dict[str, str | None]  # credential name -> Authorization bearer value
    logs: _Capture
    stdout: io.StringIO
    bodies: dict[str, Any] = field(default_factory=dict)


def _reset_caches() -> None:
    from chalicelib import config
    from chalicelib.contracts import storage
    from chalicelib.services import personal_data, scoring_models
    from chalicelib.store import dynamo

    config.reset()
    dynamo.reset()
    from chalicelib.services import credentials

    getattr(credentials, "forget_all", lambda: None)()  # verified-key cache, where there is one
    for reset in (personal_data.reset, scoring_models.reset, storage.reset):
        reset()


def _bad_keys(api: Api, aws: dict[str, Any], acme: world.World) -> dict[str, str | None]:
    """Credentials that must all be 401: none, malformed, wrong secret, revoked, and keys of a
    tenant that does not exist or whose record was removed."""
    good = acme.keys["admin"]
    prefix, secret = good.rsplit("_", 1)
    wrong = prefix + "_" + ("A" if secret[0] != "A" else "B") + secret[1:]
    revoked = api.key("acme", "admin")
    key_id = revoked.split("_")[2]
    r = api.call("DELETE", f"/v1/tenants/acme/api-keys/{key_id}", key=api.platform_key)
    assert r.status == 200, r.json
    api.tenant("ghost")
    ghost = api.key("ghost", "admin")
    aws["dynamodb"].delete_item(TableName="test-main", Key={"pk": {"S": "ghost#tenant"},
                                                             "sk": {"S": "tenant"}})
    return {
        "no key": None,
        "malformed key": "not-a-key",
        "platform key with a typo": api.platform_key + "x",
        "wrong secret": wrong,
        "revoked key": revoked,
        "unknown tenant": f"lk_nobody_{secrets.token_hex(8)}_{secrets.token_urlsafe(32)}",
        "other tenant's id in a key": good.replace("lk_acme_", "lk_acme2_"),
        "deleted tenant": ghost,
    }


@pytest.fixture(scope="package")
def env() -> Iterator[Env]:
    _reset_caches()
    capture = _Capture()
    capture.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    quiet = {name: logging.getLogger(name).level for name in NOISY}
    for name in NOISY:  # the SDKs' own wire traces: not our code's logging, and slow
        logging.getLogger(name).setLevel(logging.INFO)
    out = io.StringIO()
    try:
        with mock_aws():
            _apply_moto_patches()
            aws = {name: boto3.client(name) for name in ("dynamodb", "s3", "kms", "sqs")}
            provision(aws, TEST_ENV["LENDING_TABLE_PREFIX"], BUCKET)
            import app as app_module

            with Client(app_module.app, stage_name="local") as client, \
                    contextlib.redirect_stdout(out):
                api = Api(client)
                acme = world.build(api, aws, "acme", serial=100)
                acme2 = world.build(api, aws, "acme2", serial=200)
                e = Env(api, aws, acme, acme2, _bad_keys(api, aws, acme), capture, out)
                e.bodies = matrix.sample_bodies(acme.ids, _extra(acme))
                yield e
    finally:
        root.removeHandler(capture)
        root.setLevel(old_level)
        for name, level in quiet.items():
            logging.getLogger(name).setLevel(level)
        _reset_caches()


def _extra(w: world.World) -> dict[str, Any]:
    model_bytes, card = shipped()
    return {
        "terms": copy.deepcopy(TERMS),
        "national_id": w.national_ids[0],
        "model": {"card": copy.deepcopy(card),
                  "model_base64": base64.b64encode(model_bytes).decode()},
        "features": dict(FEATURES),
        "csv": "reference,type,amount,currency,value_date\n"
               f"sec-ref,payout,1.00,CNY,{date.today().isoformat()}\n",
    }


def snapshot(aws: dict[str, Any]) -> dict[str, str]:
    """Every DynamoDB item of every table and every S3 object, keyed by identity + content."""
    out: dict[str, str] = {}
    ddb = aws["dynamodb"]
    for table in ddb.list_tables()["TableNames"]:
        for page in ddb.get_paginator("scan").paginate(TableName=table):
            for item in page["Items"]:
                text = json.dumps(item, sort_keys=True)
                digest = hashlib.sha1(text.encode()).hexdigest()
                out[f"{table} {item.get('pk')} {item.get('sk')} {digest}"] = text
    for page in aws["s3"].get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for obj in page.get("Contents", []):
            out[f"s3 {obj['Key']} {obj['ETag']}"] = obj["ETag"]
    return out


def changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(set(before) ^ set(after))[:6]
