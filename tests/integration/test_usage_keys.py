"""Per-tenant throttling: each tenant's API Gateway usage key, from onboarding to the authorizer."""

from __future__ import annotations

import boto3
import pytest

from chalicelib import config
from chalicelib.api.auth import api_key_authorizer
from chalicelib.services import usage_keys

ARN = "arn:aws:execute-api:us-east-1:123456789012:abcdef/api/GET/v1/ledger/accounts"


def authorize(key: str) -> dict:
    event = {"type": "TOKEN", "authorizationToken": f"Bearer {key}", "methodArn": ARN}
    return api_key_authorizer(event, None)


@pytest.fixture
def plan(aws, monkeypatch):
    gateway = boto3.client("apigateway")
    plan_id = gateway.create_usage_plan(name="tenants")["id"]
    monkeypatch.setenv("LENDING_USAGE_PLAN_ID", plan_id)
    config.reset()
    yield gateway, plan_id
    config.reset()


def _members(gateway, plan_id):
    return {k["name"]: k["value"] for k in gateway.get_usage_plan_keys(
        usagePlanId=plan_id)["items"]}


def test_each_tenant_gets_its_usage_key_and_the_authorizer_returns_it(api, plan):
    gateway, plan_id = plan
    api.tenant("acme")
    api.tenant("acme-corp")
    members = _members(gateway, plan_id)
    assert set(members) == {"test-acme", "test-acme-corp"}
    assert members["test-acme"] != members["test-acme-corp"]
    decision = authorize(api.key("acme", "partner"))
    assert decision["usageIdentifierKey"] == members["test-acme"]
    assert decision["context"]["tenant"] == "acme"
    other = authorize(api.key("acme-corp", "admin"))
    assert other["usageIdentifierKey"] == members["test-acme-corp"]


def test_provisioning_again_reuses_the_key(api, plan):
    gateway, plan_id = plan
    first = usage_keys.provision("acme")
    assert usage_keys.provision("acme") == first
    assert list(_members(gateway, plan_id).values()) == [first]
    named = gateway.get_api_keys(nameQuery="test-acme")["items"]
    assert len(named) == 1


def test_without_a_plan_nothing_is_created_and_auth_still_works(api, aws):
    api.tenant("acme")
    assert boto3.client("apigateway").get_api_keys()["items"] == []
    decision = authorize(api.key("acme", "admin"))
    assert "usageIdentifierKey" not in decision and decision["context"]["role"] == "admin"


def test_invalid_keys_carry_no_usage_key(api, plan):
    api.tenant("acme")
    decision = authorize("lk_acme_0123456789abcdef_" + "A" * 43)
    assert decision["context"] == {"error": "invalid"} and "usageIdentifierKey" not in decision
