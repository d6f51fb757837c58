"""Issue 16: lending/events.py is the one list of event types. Emitters name its members (no
string literal event type is emitted), every listed type has an emitter, and the payload
models and subscription model cover exactly the list."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import get_args

from chalicelib.api import webhook_events, webhooks
from chalicelib.lending import events
from chalicelib.lending.events import EVENT_TYPES, EventType
from chalicelib.services import outbox

ROOT = Path(__file__).resolve().parents[3] / "chalicelib"
CATALOGUE = ROOT / "lending" / "events.py"
# Modules that describe every type generically rather than emitting one.
DESCRIBERS = {ROOT / "api" / "webhook_events.py", ROOT / "api" / "openapi_webhooks.py"}


def _trees() -> dict[Path, ast.AST]:
    return {p: ast.parse(p.read_text(encoding="utf-8")) for p in sorted(ROOT.rglob("*.py"))
            if p != CATALOGUE}


def _emit_type_args(tree: ast.AST) -> list[ast.expr]:
    """The event-type argument of every `outbox.emit(...)`/`emit(...)` and `Notice(...)`."""
    found: list[ast.expr] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(
            node.func, "id", "")
        if name == "emit" and len(node.args) >= 3:
            found.append(node.args[2])
        elif name == "Notice" and node.args:
            found.append(node.args[0])
        found += [k.value for k in node.keywords if k.arg in ("event_type", "kind")
                  and name in ("emit", "Notice")]
    return found


def test_no_emitter_passes_a_string_literal_event_type():
    literal = [f"{p.relative_to(ROOT)}:{a.lineno}" for p, tree in _trees().items()
               for a in _emit_type_args(tree)
               if isinstance(a, ast.Constant) and isinstance(a.value, str)]
    assert literal == []
    assert all(isinstance(v, EventType) for v in outbox.LOAN_EVENTS.values())


def test_every_listed_type_is_emitted_somewhere():
    named = {node.attr for p, tree in _trees().items() if p not in DESCRIBERS
             for node in ast.walk(tree)
             if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
             and node.value.id == "EventType"}
    assert named == {t.name for t in EventType}


def test_the_catalogue_is_shared_by_models_and_subscriptions():
    assert set(webhook_events.DATA_MODELS) == set(EventType) == set(webhook_events.ENVELOPES)
    assert set(get_args(webhooks.Subscription)) == {*EVENT_TYPES, events.ALL}
    assert webhooks.WebhookCreate.model_fields["event_types"].metadata[-1].max_length \
        >= len(EVENT_TYPES) + 1


def test_a_wildcard_subscription_covers_every_type_and_future_ones():
    assert all(events.subscribed(("*",), t) for t in (*EVENT_TYPES, "loan.future_thing"))
    assert events.subscribed(("loan.closed",), "loan.closed")
    assert not events.subscribed(("loan.closed",), "loan.disbursed")
