"""Runtime settings, read from the environment once per process.

Locally the Makefile and the e2e fixtures set these; on AWS the Chalice stage config and
Secrets Manager do. Nothing else in the code reads os.environ.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache

VERSION = "0.1.0"


@dataclass(frozen=True)
class Settings:
    table_prefix: str
    bucket: str
    region: str
    stage: str
    platform_admin_key: str
    api_key_pepper: bytes
    token_secret: bytes
    usage_plan_id: str | None = None  # API Gateway tenant usage plan (deployed stages only)
    cob_queue: str = "lending-local-cob-chunks"  # SQS queue of close-of-business chunks

    def table(self, logical: str) -> str:
        """Physical table name for a logical one ('main', 'audit', 'ledger-journals', ...)."""
        return f"{self.table_prefix}{logical}"

    @property
    def kms_alias(self) -> str:
        return f"alias/{self.table_prefix}personal-data"


def _secrets() -> dict[str, str]:
    """Secrets come from Secrets Manager when deployed (LENDING_SECRETS_ID), else the env."""
    secret_id = os.environ.get("LENDING_SECRETS_ID")
    if not secret_id:
        return {}
    import boto3

    value = boto3.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
    return json.loads(value)


def _required(name: str, secrets: dict[str, str]) -> str:
    value = secrets.get(name) or os.environ.get(name, "")
    if len(value) < 16:
        raise RuntimeError(f"{name} must be set to at least 16 characters")
    return value


@cache
def settings() -> Settings:
    secrets = _secrets()
    prefix = os.environ.get("LENDING_TABLE_PREFIX", "lending-local-")
    return Settings(
        table_prefix=prefix,
        bucket=os.environ.get("LENDING_BUCKET", "lending-local-documents"),
        region=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        stage=os.environ.get("LENDING_STAGE", "local"),
        platform_admin_key=_required("PLATFORM_ADMIN_KEY", secrets),
        api_key_pepper=_required("API_KEY_PEPPER", secrets).encode(),
        token_secret=_required("TOKEN_SIGNING_SECRET", secrets).encode(),
        usage_plan_id=os.environ.get("LENDING_USAGE_PLAN_ID") or None,
        # Named like the tables (infra/storage.yaml: ${TablePrefix}cob-chunks).
        cob_queue=os.environ.get("LENDING_COB_QUEUE") or f"{prefix}cob-chunks",
    )


def reset() -> None:
    """Forgets cached settings (tests change the environment between cases)."""
    settings.cache_clear()
