"""Partner webhooks: endpoints (admin), their deliveries and the dead-letter list."""

from __future__ import annotations

import json
from typing import Any, Literal

from chalice import Blueprint
from pydantic import BaseModel, Field

from chalicelib.api import pagination
from chalicelib.api.http import Context, Reply, endpoint
from chalicelib.api.roles import BOOKKEEPERS, CONFIGURERS, OPERATORS
from chalicelib.api.schemas import PageQuery, Strict
from chalicelib.lending import events
from chalicelib.services import webhooks
from chalicelib.store import outbox as store

bp = Blueprint(__name__)
EventType = Literal[events.EVENT_TYPES]  # type: ignore[valid-type]  # one list: lending/events
Subscription = Literal[(*events.EVENT_TYPES, events.ALL)]  # type: ignore[valid-type]


class WebhookCreate(Strict):
    url: str = Field(min_length=8, max_length=2048, description=(
        "https URL that receives POSTs. Private, loopback and link-local addresses are refused "
        "(checked again at every delivery) except on the local and test stages "
        "(LENDING_STAGE=local|test), which also accept http."))
    event_types: list[Subscription] = Field(
        min_length=1, max_length=len(events.EVENT_TYPES) + 1, description=(
            "The event types this endpoint receives (see the spec's `webhooks`): any of them, "
            "all of them, or `\"*\"` alone for every event type, those added later included."))
    description: str = Field(default="", max_length=200)


class WebhookOut(BaseModel):
    id: str
    url: str
    event_types: list[str] = Field(description=(
        "As subscribed (see WebhookCreate); `[\"*\"]` is every event type."))
    description: str
    status: Literal["active", "deleted"]
    created_at: str


class WebhookCreated(WebhookOut):
    secret: str | None = Field(description=(
        "Standard Webhooks signing secret (whsec_...), shown once: store it now. Null on an "
        "idempotent replay, because the response stored for replays never holds it."))


class WebhookPage(BaseModel):
    next_cursor: str | None
    data: list[WebhookOut]


class DeliveryAttemptOut(BaseModel):
    at: str
    status: int | None = Field(description="HTTP status, null when no response came back.")
    error: str | None
    ms: int


class DeliveryOut(BaseModel):
    id: str = Field(description="`<webhook id>.<event id>`; the event id is the webhook-id "
                                "header of every attempt.")
    webhook_id: str
    event_id: str
    event_type: str
    status: Literal["pending", "delivered", "dead", "cancelled"]
    attempts: int
    replays: int
    created_at: str
    next_attempt_at: str | None
    last_attempt_at: str | None
    last_status: int | None
    last_error: str | None
    delivered_at: str | None
    dead_at: str | None
    history: list[DeliveryAttemptOut] = Field(description="The most recent attempts, oldest first.")


class DeliveryPage(BaseModel):
    next_cursor: str | None
    data: list[DeliveryOut]


def _webhook(e: webhooks.Endpoint) -> dict[str, Any]:
    return {"id": e.webhook_id, "url": e.url, "event_types": list(e.event_types),
            "description": e.description, "status": e.status, "created_at": e.created_at}


def delivery_out(item: dict[str, Any]) -> DeliveryOut:
    s, n = store.s, store.n
    return DeliveryOut(
        id=webhooks.delivery_id(s(item, "webhook_id") or "", s(item, "event_id") or ""),
        webhook_id=s(item, "webhook_id") or "", event_id=s(item, "event_id") or "",
        event_type=s(item, "event_type") or "", status=s(item, "status") or "pending",
        attempts=n(item, "attempts") or 0, replays=n(item, "replays") or 0,
        created_at=s(item, "created_at") or "", next_attempt_at=s(item, "next_attempt_at"),
        last_attempt_at=s(item, "last_attempt_at"), last_status=n(item, "last_status"),
        last_error=s(item, "last_error") or None, delivered_at=s(item, "delivered_at"),
        dead_at=s(item, "dead_at"),
        history=[DeliveryAttemptOut(**a) for a in json.loads(s(item, "history") or "[]")])


@endpoint(bp, "POST", "/v1/webhooks", location="/v1/webhooks/{id}",
          summary="Register a webhook endpoint", tag="Webhooks",
          roles=CONFIGURERS, body=WebhookCreate, idempotent=True,
          responses={201: (WebhookCreated, "Registered; the secret is shown this once")})
def create_webhook(ctx: Context, body: WebhookCreate) -> Reply:
    e, secret = webhooks.create(ctx.uow, ctx.tenant, ctx.actor, ctx.now, body.url,
                                list(body.event_types), body.description)
    return Reply(WebhookCreated(**_webhook(e), secret=secret), 201,
                 stored_body=WebhookCreated(**_webhook(e), secret=None))


@endpoint(bp, "GET", "/v1/webhooks", summary="List webhook endpoints", tag="Webhooks",
          roles=BOOKKEEPERS, query=PageQuery, responses={200: (WebhookPage, "Active endpoints")})
def list_webhooks(ctx: Context, query: PageQuery) -> Reply:
    scope = pagination.scope_of(ctx.tenant, "webhook-list", {})  # base-table keys
    found, last = webhooks.page(ctx.tenant, query.limit, pagination.decode(query.cursor, scope))
    data = [WebhookOut(**_webhook(e)) for e in found]
    return Reply(WebhookPage(next_cursor=pagination.encode(scope, last), data=data))


@endpoint(bp, "GET", "/v1/webhooks/{webhook_id}", summary="A webhook endpoint (never its "
          "secret)", tag="Webhooks", roles=BOOKKEEPERS,
          responses={200: (WebhookOut, "The endpoint")})
def get_webhook(ctx: Context, webhook_id: str) -> Reply:
    return Reply(WebhookOut(**_webhook(webhooks.get(ctx.tenant, webhook_id))))


@endpoint(bp, "DELETE", "/v1/webhooks/{webhook_id}", summary="Delete a webhook endpoint",
          tag="Webhooks", roles=CONFIGURERS,
          responses={204: (None, "Deleted; its undelivered deliveries are cancelled")})
def delete_webhook(ctx: Context, webhook_id: str) -> Reply:
    webhooks.delete(ctx.uow, ctx.tenant, ctx.actor, ctx.now, webhook_id)
    return Reply(None, 204)


@endpoint(bp, "GET", "/v1/webhooks/{webhook_id}/deliveries", summary="An endpoint's deliveries",
          tag="Webhooks", roles=BOOKKEEPERS, query=PageQuery,
          responses={200: (DeliveryPage, "Deliveries, newest first")})
def list_deliveries(ctx: Context, webhook_id: str, query: PageQuery) -> Reply:
    scope = pagination.scope_of(ctx.tenant, "deliveries", {"w": webhook_id})
    items, last = webhooks.deliveries(ctx.tenant, webhook_id, query.limit,
                                      pagination.decode(query.cursor, scope))
    return Reply(DeliveryPage(next_cursor=pagination.encode(scope, last),
                              data=[delivery_out(i) for i in items]))


@endpoint(bp, "GET", "/v1/webhooks/dead-letters", summary="Dead-lettered deliveries",
          tag="Webhooks", roles=BOOKKEEPERS, query=PageQuery,
          responses={200: (DeliveryPage, "Deliveries that exhausted their attempts, newest "
                                         "first")})
def list_dead_letters(ctx: Context, query: PageQuery) -> Reply:
    scope = pagination.scope_of(ctx.tenant, "dead-letters", {})
    items, last = webhooks.dead_letters(ctx.tenant, query.limit,
                                        pagination.decode(query.cursor, scope))
    return Reply(DeliveryPage(next_cursor=pagination.encode(scope, last),
                              data=[delivery_out(i) for i in items]))


@endpoint(bp, "POST", "/v1/webhooks/dead-letters/{delivery_id}/replay",
          summary="Replay a dead letter", tag="Webhooks", roles=OPERATORS, idempotent=True,
          responses={200: (DeliveryOut, "Queued again, due now, same webhook-id")})
def replay_dead_letter(ctx: Context, delivery_id: str) -> Reply:
    item = webhooks.replay(ctx.uow, ctx.tenant, ctx.actor, ctx.now, delivery_id)
    return Reply(delivery_out(item))
