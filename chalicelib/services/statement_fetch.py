"""Bank statements fetched, not only uploaded: each `bank_http` channel's statement of the
tenant's previous business day, through the adapter's signed `GET /statements`, stored where
the nightly reconciliation (services/daily_checks.py) reads new statements.

The object is `<tenant>/statements/<channel>/<day>-fetched.xml` (camt.053, when the channel's
statement format is `camt053`) or `<day>-fetched.native.csv` (the protocol's CSV, which is the
project's native format whatever CSV mapping the channel has for uploads), so
`statement_reading.format_for_key` reads it right and `daily_checks.statement_period` reconciles
exactly that day. Written once (a conditional put): a second fetch of the same day, even a
concurrent one, leaves the first object and its ETag, so the nightly run reconciles it once.
One channel's failure is counted and the others are still fetched.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from botocore.exceptions import ClientError

from chalicelib import clock
from chalicelib.channels import bank_http
from chalicelib.config import settings
from chalicelib.services import reconciliation, statement_reading
from chalicelib.store import channels as channel_store
from chalicelib.store.channels import ChannelItem

log = logging.getLogger("lending.jobs")
NATIVE_SUFFIX = "-fetched.native.csv"
CAMT_SUFFIX = "-fetched.xml"


@dataclass(frozen=True)
class Fetched:
    channel_id: str
    key: str
    outcome: str  # fetched | already | failed
    error: str | None = None


def previous_business_day(tenant: str, now: datetime) -> date:
    return clock.business_date(tenant, now) - timedelta(days=1)


def protocol_format(tenant: str, channel_id: str) -> str:
    """What to ask the bank for: camt.053 when the channel's statements are camt.053, else the
    protocol's (native) CSV."""
    chosen = statement_reading.setting(tenant, channel_id).get("format")
    return "camt053" if chosen == "camt053" else "csv"


def statement_key(tenant: str, channel_id: str, day: date, fmt: str) -> str:
    suffix = CAMT_SUFFIX if fmt == "camt053" else NATIVE_SUFFIX
    return f"{reconciliation.statement_prefix(tenant, channel_id)}{day.isoformat()}{suffix}"


def bank_channels(tenant: str) -> list[ChannelItem]:
    ids = channel_store.channel_ids(tenant)
    return [c for c in channel_store.get_channels(tenant, ids) if c.type == "bank_http"]


def _exists(key: str) -> bool:
    try:
        reconciliation.s3_client().head_object(Bucket=settings().bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


def _put_once(key: str, data: bytes, content_type: str) -> bool:
    """False when the object already exists (another fetch won): it is left as it is."""
    try:
        reconciliation.s3_client().put_object(Bucket=settings().bucket, Key=key, Body=data,
                                              ContentType=content_type, IfNoneMatch="*")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("PreconditionFailed",
                                                         "ConditionalRequestConflict"):
            return False
        raise
    return True


def fetch_channel(tenant: str, item: ChannelItem, day: date) -> Fetched:
    fmt = protocol_format(tenant, item.channel_id)
    key = statement_key(tenant, item.channel_id, day, fmt)
    if _exists(key):
        return Fetched(item.channel_id, key, "already")
    adapter = bank_http.BankHttpChannel(item.channel_id, json.loads(item.config))
    data = adapter.statement(tenant, day, day, fmt)
    content_type = "application/xml" if fmt == "camt053" else "text/csv"
    return Fetched(item.channel_id, key, "fetched" if _put_once(key, data, content_type)
                   else "already")


def fetch_tenant(tenant: str, now: datetime) -> list[Fetched]:
    """Every bank channel's statement of the tenant's previous business day."""
    day = previous_business_day(tenant, now)
    out = []
    for item in bank_channels(tenant):
        try:
            out.append(fetch_channel(tenant, item, day))
        except Exception as exc:  # this channel only: the next run tries it again
            if not isinstance(exc, bank_http.BankUnavailable):
                log.exception("statement fetch of channel %s failed", item.channel_id)
            out.append(Fetched(item.channel_id, statement_key(
                tenant, item.channel_id, day, "csv"), "failed",
                f"{type(exc).__name__}: {exc}"[:300]))
    return out
