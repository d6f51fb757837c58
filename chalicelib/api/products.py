"""Loan products (tenant configuration, `admin` writes, every role reads)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from chalice import Blueprint
from pydantic import BaseModel, Field

from chalicelib.api import pagination
from chalicelib.api.http import Context, Reply, endpoint
from chalicelib.api.roles import CONFIGURERS, EVERYONE
from chalicelib.api.schemas import PageQuery, Strict
from chalicelib.lending.product import ProductConfig
from chalicelib.services import products
from chalicelib.store import products as store
from chalicelib.store.models import ProductItem

bp = Blueprint(__name__)


class ProductCreate(Strict):
    name: str = Field(min_length=1, max_length=200)
    terms: ProductConfig


class ProductVersionCreate(Strict):
    terms: ProductConfig


class ProductOut(BaseModel):
    id: str
    name: str
    status: Literal["active", "retired"]
    current_version: int
    version: int = Field(description="The version whose terms are shown.")
    terms: ProductConfig
    created_at: datetime
    updated_at: datetime


class ProductSummary(BaseModel):
    id: str
    name: str
    status: Literal["active", "retired"]
    current_version: int
    created_at: datetime


class ProductPage(BaseModel):
    next_cursor: str | None
    data: list[ProductSummary]


class ProductQuery(PageQuery):
    status: Literal["active", "retired"] | None = None


class VersionQuery(Strict):
    version: int | None = Field(default=None, ge=1, le=1_000_000)


def _out(item: ProductItem, number: int, terms: ProductConfig) -> ProductOut:
    return ProductOut(id=item.product_id, name=item.name, status=item.status,
                      current_version=item.current_version, version=number, terms=terms,
                      created_at=item.created_at, updated_at=item.updated_at)


@endpoint(bp, "POST", "/v1/products", location="/v1/products/{id}",
          summary="Create a loan product", tag="Products",
          roles=CONFIGURERS, body=ProductCreate, idempotent=True,
          responses={201: (ProductOut, "Product created at version 1")})
def create_product(ctx: Context, body: ProductCreate) -> Reply:
    item, version = products.create(ctx.uow, ctx.tenant, ctx.actor, ctx.now, body.name, body.terms)
    return Reply(_out(item, version.number, body.terms), 201)


@endpoint(bp, "GET", "/v1/products", summary="List products", tag="Products", roles=EVERYONE,
          query=ProductQuery, responses={200: (ProductPage, "A page of products")})
def list_products(ctx: Context, query: ProductQuery) -> Reply:
    scope = pagination.scope_of(ctx.tenant, "products", {"status": query.status})
    items, last = store.list_products(ctx.tenant, query.status, query.limit,
                                      pagination.decode(query.cursor, scope))
    data = [ProductSummary(id=i.product_id, name=i.name, status=i.status,
                           current_version=i.current_version, created_at=i.created_at)
            for i in items]
    return Reply(ProductPage(next_cursor=pagination.encode(scope, last), data=data))


@endpoint(bp, "GET", "/v1/products/{product_id}", summary="A product and its terms",
          tag="Products", roles=EVERYONE, query=VersionQuery,
          responses={200: (ProductOut, "The product at its current (or the asked) version")})
def get_product(ctx: Context, product_id: str, query: VersionQuery) -> Reply:
    item, version, terms = products.terms_of(ctx.tenant, product_id, query.version)
    return Reply(_out(item, version.number, terms))


@endpoint(bp, "POST", "/v1/products/{product_id}/versions",
          location="/v1/products/{id}?version={version}",
          summary="Add a product version",
          tag="Products", roles=CONFIGURERS, body=ProductVersionCreate, idempotent=True,
          responses={201: (ProductOut, "The new current version; earlier loans keep theirs")})
def add_product_version(ctx: Context, product_id: str, body: ProductVersionCreate) -> Reply:
    item, version = products.add_version(ctx.uow, ctx.tenant, ctx.actor, ctx.now, product_id,
                                         body.terms)
    return Reply(_out(item, version.number, body.terms), 201)


@endpoint(bp, "POST", "/v1/products/{product_id}/retire", summary="Retire a product",
          tag="Products", roles=CONFIGURERS, idempotent=True,
          responses={200: (ProductOut, "Retired: no new quotes or applications")})
def retire_product(ctx: Context, product_id: str) -> Reply:
    item = products.retire(ctx.uow, ctx.tenant, ctx.actor, ctx.now, product_id)
    _, version, terms = products.terms_of(ctx.tenant, product_id, item.current_version)
    return Reply(_out(item, version.number, terms))
