"""Quotes: the exact schedule and APR a product gives one borrower, stored until they expire.

A request the product cannot honour (outside its amount, term or grade limits, or an APR above
its cap) is refused with the figures behind each refusal, and nothing is stored: a stored quote
is always one the lender may offer.
"""

from __future__ import annotations

import json
import secrets
from datetime import date, datetime, timedelta
from typing import Any

from chalicelib.errors import DomainError, FieldError
from chalicelib.lending.quote import quote as price
from chalicelib.services.products import terms_of
from chalicelib.store import audit, products
from chalicelib.store.audit import Actor
from chalicelib.store.models import QuoteItem
from chalicelib.store.uow import UnitOfWork, put

VALIDITY = timedelta(days=7)
RETENTION = timedelta(days=90)  # kept after expiry so offers and disputes can refer to it


def create(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime, *, product_id: str,
           version: int | None, amount: int, currency: str, term: int, grade: str,
           disbursement_date: date, first_due_date: date | None) -> dict[str, Any]:
    product, stored, terms = terms_of(tenant, product_id, version)
    if product.status != "active":
        raise DomainError("conflict", "The product is retired and gives no new quotes.")
    if currency != terms.currency:
        raise DomainError("validation-error", "Currency does not match the product.", [
            FieldError("/body/amount/currency", f"this product lends in {terms.currency}",
                       "currency_mismatch")])
    result = price(terms, amount, term, grade, disbursement_date, first_due_date)
    body = result.as_json()
    if not result.eligible:
        raise DomainError(
            "quote-refused", "The product does not allow this loan: see `refusals`.",
            extra={"refusals": body["refusals"], "within_rules": result.within_rules,
                   "within_cap": result.within_cap, "apr": body["apr"]})
    quote_id = f"quo_{secrets.token_hex(8)}"
    valid_until = now + VALIDITY
    body.update({"id": quote_id, "product_id": product_id, "product_version": stored.number,
                 "disbursement_date": disbursement_date.isoformat(),
                 "created_at": now.isoformat(), "valid_until": valid_until.isoformat()})
    item = QuoteItem(products.quote_pk(tenant, quote_id), "quote", quote_id=quote_id,
                     product_id=product_id, product_version=stored.number,
                     body=json.dumps(body, sort_keys=True, separators=(",", ":")),
                     created_at=now, valid_until=valid_until,
                     expires_at=int((valid_until + RETENTION).timestamp()))
    uow.add(put("main", item.serialize(), "attribute_not_exists(pk)"))
    audit.append(uow, tenant=tenant, aggregate_type="quote", aggregate_id=quote_id, head=None,
                 action="quote.issued", actor=actor, at=now,
                 data={"product_id": product_id, "version": stored.number, "grade": grade,
                       "apr": body["apr"]["apr"]})
    return body


def read(tenant: str, quote_id: str, now: datetime) -> dict[str, Any] | None:
    item = products.get_quote(tenant, quote_id)
    if item is None:
        return None
    body = json.loads(item.body)
    body["status"] = "valid" if now <= item.valid_until else "expired"
    return body
