"""Secrets come from Secrets Manager when deployed and from the environment locally."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from chalicelib import config


def test_secrets_manager_overrides_environment(monkeypatch):
    with mock_aws():
        secrets = boto3.client("secretsmanager")
        secrets.create_secret(Name="lending-test/api", SecretString=json.dumps({
            "PLATFORM_ADMIN_KEY": "from-secrets-manager-0123456789",
            "API_KEY_PEPPER": "pepper-from-secrets-manager-0001",
            "TOKEN_SIGNING_SECRET": "token-from-secrets-manager-00001",
        }))
        monkeypatch.setenv("LENDING_SECRETS_ID", "lending-test/api")
        config.reset()
        try:
            assert config.settings().platform_admin_key == "from-secrets-manager-0123456789"
        finally:
            monkeypatch.delenv("LENDING_SECRETS_ID")
            config.reset()


def test_short_or_missing_secrets_fail_loudly(monkeypatch):
    monkeypatch.setenv("PLATFORM_ADMIN_KEY", "short")
    config.reset()
    try:
        with pytest.raises(RuntimeError, match="PLATFORM_ADMIN_KEY"):
            config.settings()
    finally:
        monkeypatch.undo()
        config.reset()
