"""What "in order" means for partner events (pure; the queue itself is services/webhook_order).

An event's position is `<emitted at>#<index>#<event id>`: the platform's wall-clock time of the
emit (UTC, microseconds; the sandbox business clock plays no part), then its index among the
events of the same transaction, then its id. Positions compare as strings. Events of one loan
come from transactions that the loan's version guard serializes, so their positions follow the
order in which they happened. Events are ordered per endpoint and per order key: the loan (its
`loan_id`), or, for an application's decisions before it has a loan, the application, or, for
a channel's health events (serialized by the channel's state item), the channel.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def order_key(data: Mapping[str, Any]) -> str | None:
    """The queue an event joins, or None for an event that no other waits on."""
    if data.get("loan_id"):
        return f"loan:{data['loan_id']}"
    if data.get("application_id"):
        return f"application:{data['application_id']}"
    if data.get("channel_id"):  # a channel's health events (loan events name a loan first)
        return f"channel:{data['channel_id']}"
    return None


def position(emitted_at: str, index: int, event_id: str) -> str:
    """`emitted_at` is a fixed-width UTC timestamp (store.outbox.iso), so strings sort as time."""
    return f"{emitted_at}#{index:03d}#{event_id}"


def registered_in_time(registered_at: str, emitted_at: str) -> bool:
    """Whether an endpoint registered at `registered_at` receives an event emitted at
    `emitted_at` (both wall clock, fixed width): only events emitted once it exists. Either
    missing (written before issue 16): it does, as before."""
    return not registered_at or not emitted_at or registered_at <= emitted_at
