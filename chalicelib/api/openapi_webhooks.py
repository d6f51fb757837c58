"""The contract's `webhooks:` section (OpenAPI 3.1): one POST per event type, its body the
event's envelope (api/webhook_events.py), with the Standard Webhooks headers that sign it.

Kept apart from api/openapi.py, which calls `add_webhooks` on the spec it built.
"""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

from chalicelib.api.webhook_events import ENVELOPES

REF = "#/components/schemas/{model}"
SIGNATURE = "v1,[A-Za-z0-9+/=]+"

HEADERS: dict[str, tuple[str, dict[str, Any]]] = {
    "webhook-id": ("The event id: the same on every attempt and replay, so dedupe on it.",
                   {"type": "string", "pattern": "^evt_[0-9a-f]{32}$"}),
    "webhook-timestamp": ("Unix seconds when this attempt was signed; refuse old ones.",
                          {"type": "string", "pattern": "^[0-9]+$"}),
    "webhook-signature": ("`v1,<base64 HMAC-SHA256 of `<webhook-id>.<webhook-timestamp>.<body>` "
                          "with the endpoint's whsec_ secret>` (Standard Webhooks; verify with "
                          "the `standardwebhooks` libraries).",
                          {"type": "string", "pattern": f"^{SIGNATURE}( {SIGNATURE})*$"}),
}

DESCRIPTION = (
    "Sent to every active endpoint subscribed to `{type}` (or to `*`) that was registered "
    "before the event happened. At least once: retried with exponential backoff on a non-2xx "
    "answer or a timeout (5 s), then dead-lettered. Events of one loan reach an endpoint in the "
    "order they happened: a later one waits while an earlier one is being retried.")


def _operation(event_type: str, ref: dict[str, Any]) -> dict[str, Any]:
    name = ref["$ref"].rsplit("/", 1)[1]
    return {"post": {
        "operationId": f"on{name}",
        "summary": f"`{event_type}`",
        "description": DESCRIPTION.format(type=event_type),
        "tags": ["Webhooks"],
        "parameters": [{"name": header, "in": "header", "required": True,
                        "description": text, "schema": schema}
                       for header, (text, schema) in HEADERS.items()],
        "requestBody": {"required": True, "content": {"application/json": {"schema": ref}}},
        "responses": {"2XX": {"description": "Received: any 2xx ends the retries."}},
    }}


def add_webhooks(spec: dict[str, Any]) -> dict[str, Any]:
    """`spec` with its `webhooks:` and the envelopes' schemas in components (a name the API's
    own schemas already use must mean the same schema)."""
    keys = [(model, "serialization") for model in ENVELOPES.values()]
    refs, top = models_json_schema(keys, ref_template=REF)
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in top.get("$defs", {}).items():
        if schemas.setdefault(name, schema) != schema:
            raise ValueError(f"webhook schema {name} clashes with an API schema of that name")
    spec["webhooks"] = {t.value: _operation(t.value, refs[(model, "serialization")])
                        for t, model in ENVELOPES.items()}
    return spec
