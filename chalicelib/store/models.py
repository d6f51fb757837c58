"""pynamodb models of the main table's items: the only place that knows their shapes.

Several models share the single-table layout (pk, sk, gsi1pk, gsi1sk). Every aggregate carries
an optimistic `version` and the head of its audit chain (`audit_seq`, `audit_head`).

Reads through these models are strongly consistent unless the caller opts out: on DynamoDB a
default GetItem may miss an item written a moment ago (an immutable version just created
answers "not found") or return the one before the last change, and most reads here decide a
write. A caller passes `consistent_read=False` only where a stale answer is provably harmless,
and says why beside it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

from pynamodb.attributes import MapAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.models import Model

from chalicelib.store.attributes import IntAttribute

_T = TypeVar("_T", bound="MainItem")


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

    @classmethod
    def get(cls: type[_T], hash_key: Any, range_key: Any = None, consistent_read: bool = True,
            attributes_to_get: Sequence[str] | None = None) -> _T:
        """GetItem, strongly consistent by default (see the module note)."""
        return super().get(hash_key, range_key, consistent_read=consistent_read,
                           attributes_to_get=attributes_to_get)

    @classmethod
    def batch_get(cls: type[_T], items: Iterable[Any], consistent_read: bool | None = True,
                  attributes_to_get: Sequence[str] | None = None) -> Iterator[_T]:
        """BatchGetItem, strongly consistent by default (see the module note)."""
        return super().batch_get(items, consistent_read=consistent_read,
                                 attributes_to_get=attributes_to_get)


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
