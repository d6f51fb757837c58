"""pynamodb models of the main table's items: the only place that knows their shapes.

Several models share the single-table layout (pk, sk, gsi1pk, gsi1sk). Every aggregate carries
an optimistic `version` and the head of its audit chain (`audit_seq`, `audit_head`).
"""

from __future__ import annotations

import os

from pynamodb.attributes import MapAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.models import Model

from chalicelib.store.attributes import IntAttribute


def _table(logical: str) -> str:
    return os.environ.get("LENDING_TABLE_PREFIX", "lending-local-") + logical


class MainItem(Model):
    class Meta:
        table_name = _table("main")
        region = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)


class Aggregate(MainItem):
    version = IntAttribute()
    audit_seq = IntAttribute()
    audit_head = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()


class TenantItem(Aggregate):
    tenant_id = UnicodeAttribute()
    name = UnicodeAttribute()
    base_currency = UnicodeAttribute()
    status = UnicodeAttribute()
    usage_key = UnicodeAttribute(null=True)  # API Gateway usage plan key (throttling, metering)
    time_zone = UnicodeAttribute(null=True)  # IANA name; null: onboarded before zones (UTC)


class ApiKeyItem(Aggregate):
    tenant_id = UnicodeAttribute()
    key_id = UnicodeAttribute()
    name = UnicodeAttribute()
    role = UnicodeAttribute()
    secret_hash = UnicodeAttribute()
    status = UnicodeAttribute()
    created_by = UnicodeAttribute()
    revoked_at = UTCDateTimeAttribute(null=True)
    labels = MapAttribute(null=True)
    usage_key = UnicodeAttribute(null=True)  # the tenant's, copied so auth needs one read


class ProductItem(Aggregate):
    product_id = UnicodeAttribute()
    name = UnicodeAttribute()
    status = UnicodeAttribute()
    current_version = IntAttribute()


class ProductVersionItem(MainItem):
    """One immutable version of a product's terms (canonical JSON of ProductConfig)."""

    product_id = UnicodeAttribute()
    number = IntAttribute()
    terms = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    created_by = UnicodeAttribute()


class QuoteItem(MainItem):
    quote_id = UnicodeAttribute()
    product_id = UnicodeAttribute()
    product_version = IntAttribute()
    body = UnicodeAttribute()  # the rendered quote, exactly as first returned
    created_at = UTCDateTimeAttribute()
    valid_until = UTCDateTimeAttribute()
    expires_at = IntAttribute()  # DynamoDB TTL, some days after valid_until
