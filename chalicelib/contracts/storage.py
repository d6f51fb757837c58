"""Contract documents in S3: `<tenant>/contracts/<contract id>/...`, written once, never replaced.

The unsigned document is written when the contract is created; at signing, the signed copy and
the signature record go under `.../signed/` with a COMPLIANCE Object Lock when the bucket has
Object Lock (AWS; infra/storage.yaml), and plain otherwise (moto). Presigned URLs are made only
for keys built here from the caller's tenant, so a URL can never name another tenant's object.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from typing import Any

import boto3
from botocore.exceptions import ClientError

from chalicelib.config import settings
from chalicelib.store.keys import is_valid_tenant_id

PRESIGN_SECONDS = 300
LOCK_DAYS = 3650


def _prefix(tenant: str, contract_id: str) -> str:
    if not is_valid_tenant_id(tenant) or "/" in contract_id:
        raise ValueError("invalid tenant or contract id")
    return f"{tenant}/contracts/{contract_id}/"


def document_key(tenant: str, contract_id: str) -> str:
    return _prefix(tenant, contract_id) + "document.pdf"


def signed_document_key(tenant: str, contract_id: str) -> str:
    return _prefix(tenant, contract_id) + "signed/document.pdf"


def signature_key(tenant: str, contract_id: str, record_sha256: str) -> str:
    """Named by the record's hash: a retried signing after a failed commit writes a new object
    beside the orphan instead of colliding with it."""
    return _prefix(tenant, contract_id) + f"signed/signature-{record_sha256[:16]}.json"


@cache
def s3() -> Any:
    return boto3.client("s3", region_name=settings().region)


def reset() -> None:
    s3.cache_clear()
    _lock_supported.cache_clear()


@cache
def _lock_supported(bucket: str) -> bool:
    try:
        conf = s3().get_object_lock_configuration(Bucket=bucket)
    except ClientError:
        return False
    return conf.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled"


def put_once(key: str, body: bytes, content_type: str, sha256: str, *, lock: bool,
             now: datetime) -> None:
    """Writes an object that must not exist yet (If-None-Match where S3 supports it)."""
    bucket = settings().bucket
    extra: dict[str, Any] = {"Metadata": {"sha256": sha256}}
    if lock and _lock_supported(bucket):
        extra["ObjectLockMode"] = "COMPLIANCE"
        extra["ObjectLockRetainUntilDate"] = now + timedelta(days=LOCK_DAYS)
    try:
        s3().put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type,
                        IfNoneMatch="*", **extra)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("PreconditionFailed",
                                                             "ConditionalRequestConflict"):
            raise
        if get(key) != body:  # a retry of the same write is fine; anything else is not
            raise


def get(key: str) -> bytes | None:
    try:
        return s3().get_object(Bucket=settings().bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise


def presign(key: str) -> str:
    return s3().generate_presigned_url(
        "get_object", Params={"Bucket": settings().bucket, "Key": key,
                              "ResponseContentType": "application/pdf"},
        ExpiresIn=PRESIGN_SECONDS)
