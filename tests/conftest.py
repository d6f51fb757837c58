"""Shared fixtures: an in-process moto account with our tables created from infra/storage.yaml."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from infra import gateway_problems
from infra.tables import provision
from tests import dynamo_limits, schedule

TEST_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "LENDING_TABLE_PREFIX": "test-",
    "LENDING_BUCKET": "test-documents",
    "LENDING_STAGE": "test",
    "PLATFORM_ADMIN_KEY": "platform-admin-key-for-tests-only",
    "API_KEY_PEPPER": "pepper-for-tests-only-0123456789",
    "TOKEN_SIGNING_SECRET": "token-secret-for-tests-only-0123",
}

for _name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "LENDING_SECRETS_ID"):
    os.environ.pop(_name, None)
os.environ.update(TEST_ENV)
# The in-process test client's gateway answers its own 401/403 as the deployed one does.
gateway_problems.install_local()
# Every DynamoDB call refused as real DynamoDB refuses it: over-long keys, items over 400 KB.
dynamo_limits.install()


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    """A fresh moto account per test with every table, the bucket and the KMS key provisioned."""
    from chalicelib import clock, config

    config.reset()
    clock.reset()  # tenants' cached zones belong to the previous account
    with mock_aws():
        _apply_moto_patches()
        clients = {name: boto3.client(name) for name in ("dynamodb", "s3", "kms", "sqs")}
        provision(clients, TEST_ENV["LENDING_TABLE_PREFIX"], TEST_ENV["LENDING_BUCKET"])
        yield clients
    config.reset()


def _apply_moto_patches() -> None:
    try:
        from infra import moto_patches
    except ImportError:  # the patch module lands separately; until then moto runs unpatched
        return
    moto_patches.apply()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Makes `--dist loadgroup` group again: xdist 3.8 renames a grouped item by writing
    `_nodeid` (`<id>@<group>`), but pytest 9 reads a node's id from `_id`, so without this every
    `xdist_group` is ignored and shared module worlds (security, artifact) are built twice.
    First puts the longest tests at the front (tests/schedule.py)."""
    from _pytest.nodeid import NodeId

    schedule.longest_first(items)
    for item in items:
        renamed = item.__dict__.get("_nodeid")
        if renamed and renamed != item.nodeid:
            item._id = NodeId.parse(renamed)
