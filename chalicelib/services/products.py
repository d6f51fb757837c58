"""Loan products as configuration: created, versioned (immutably) and retired by a tenant."""

from __future__ import annotations

import json
import secrets
from datetime import datetime

from chalicelib.errors import conflict, not_found
from chalicelib.lending.product import ProductConfig
from chalicelib.store import aggregates, products
from chalicelib.store.audit import Actor
from chalicelib.store.models import ProductItem, ProductVersionItem
from chalicelib.store.uow import UnitOfWork, put


def _terms_json(terms: ProductConfig) -> str:
    return json.dumps(terms.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


def load_terms(version: ProductVersionItem) -> ProductConfig:
    return ProductConfig.model_validate(json.loads(version.terms))


def _version_item(tenant: str, product_id: str, number: int, terms: ProductConfig,
                  actor: Actor, now: datetime) -> ProductVersionItem:
    return ProductVersionItem(products.product_pk(tenant, product_id), products.version_sk(number),
                              product_id=product_id, number=number, terms=_terms_json(terms),
                              created_at=now, created_by=actor.key_id)


def _summary(terms: ProductConfig) -> dict[str, object]:
    return {"currency": terms.currency, "amortization": terms.amortization.value,
            "grades": list(terms.pricing.grades)}


def create(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime, name: str,
           terms: ProductConfig) -> tuple[ProductItem, ProductVersionItem]:
    product_id = f"prod_{secrets.token_hex(8)}"
    pk = products.product_pk(tenant, product_id)
    item = ProductItem(pk, products.PRODUCT_SK, product_id=product_id, name=name, status="active",
                       current_version=1, version=1, created_at=now, updated_at=now,
                       gsi1pk=products.list_pk(tenant),
                       gsi1sk=products.list_sk("active", now.isoformat(), product_id))
    aggregates.save(uow, item, tenant=tenant, aggregate_type="product", aggregate_id=product_id,
                    action="product.created", actor=actor, at=now,
                    data={"name": name, "version": 1, **_summary(terms)}, noun="product",
                    new=True)
    version = _version_item(tenant, product_id, 1, terms, actor, now)
    uow.add(put("main", version.serialize(), "attribute_not_exists(pk)"))
    return item, version


def _existing(tenant: str, product_id: str) -> ProductItem:
    item = products.get_product(tenant, product_id)
    if item is None:
        raise not_found("Product")
    return item


def add_version(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime, product_id: str,
                terms: ProductConfig) -> tuple[ProductItem, ProductVersionItem]:
    item = _existing(tenant, product_id)
    if item.status != "active":
        raise conflict("A retired product cannot get new versions.", product_id=product_id)
    number = item.current_version + 1
    item.current_version = number
    aggregates.save(uow, item, tenant=tenant, aggregate_type="product", aggregate_id=product_id,
                    action="product.version_added", actor=actor, at=now,
                    data={"version": number, **_summary(terms)}, noun="product")
    version = _version_item(tenant, product_id, number, terms, actor, now)
    uow.add(put("main", version.serialize(), "attribute_not_exists(pk)"))
    return item, version


def retire(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime,
           product_id: str) -> ProductItem:
    item = _existing(tenant, product_id)
    if item.status == "retired":
        return item
    item.status = "retired"
    item.gsi1sk = products.list_sk("retired", item.created_at.isoformat(), product_id)
    aggregates.save(uow, item, tenant=tenant, aggregate_type="product", aggregate_id=product_id,
                    action="product.retired", actor=actor, at=now, data={}, noun="product")
    return item


def terms_of(tenant: str, product_id: str,
             version: int | None = None) -> tuple[ProductItem, ProductVersionItem, ProductConfig]:
    """A product with one of its versions (the current one by default)."""
    item = _existing(tenant, product_id)
    number = version or item.current_version
    stored = products.get_version(tenant, product_id, number)
    if stored is None or number > item.current_version:
        raise not_found("Product version")
    return item, stored, load_terms(stored)
