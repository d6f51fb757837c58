"""Where products, their immutable versions and stored quotes live in the main table."""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import DoesNotExist

from chalicelib.store import dynamo
from chalicelib.store.keys import key
from chalicelib.store.models import ProductItem, ProductVersionItem, QuoteItem

PRODUCT_SK = "product"


def product_pk(tenant: str, product_id: str) -> str:
    return key(tenant, "product", product_id)


def version_sk(number: int) -> str:
    return f"v#{number:06d}"


def list_pk(tenant: str) -> str:
    return key(tenant, "products")


def list_sk(status: str, created_iso: str, product_id: str) -> str:
    return f"{status}#{created_iso}#{product_id}"


def quote_pk(tenant: str, quote_id: str) -> str:
    return key(tenant, "quote", quote_id)


def get_product(tenant: str, product_id: str) -> ProductItem | None:
    try:
        return ProductItem.get(product_pk(tenant, product_id), PRODUCT_SK, consistent_read=True)
    except DoesNotExist:
        return None


def get_version(tenant: str, product_id: str, number: int) -> ProductVersionItem | None:
    try:
        return ProductVersionItem.get(product_pk(tenant, product_id), version_sk(number))
    except DoesNotExist:
        return None


def list_products(tenant: str, status: str | None, limit: int,
                  start: dict[str, Any] | None) -> tuple[list[ProductItem], dict[str, Any] | None]:
    values: dict[str, Any] = {":p": {"S": list_pk(tenant)}}
    condition = "gsi1pk = :p"
    if status:
        condition += " AND begins_with(gsi1sk, :s)"
        values[":s"] = {"S": f"{status}#"}
    kwargs: dict[str, Any] = {"TableName": dynamo.table("main"), "IndexName": "gsi1",
                              "KeyConditionExpression": condition,
                              "ExpressionAttributeValues": values, "Limit": limit}
    if start:
        kwargs["ExclusiveStartKey"] = start
    page = dynamo.client().query(**kwargs)
    return ([ProductItem.from_raw_data(i) for i in page.get("Items", [])],
            page.get("LastEvaluatedKey"))


def get_quote(tenant: str, quote_id: str) -> QuoteItem | None:
    try:
        return QuoteItem.get(quote_pk(tenant, quote_id), "quote")
    except DoesNotExist:
        return None
