"""The partner event catalogue: the one list of event types the API emits.

The spec (api/openapi_webhooks.py), the subscription model (api/webhooks.py), the payload
models (api/webhook_events.py) and every emitter refer to these members, never to a string,
so a type cannot be emitted, subscribed to or documented without being listed here.
"""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    APPLICATION_DECIDED = "application.decided"
    CONTRACT_SIGNED = "contract.signed"
    LOAN_DISBURSED = "loan.disbursed"
    REPAYMENT_RECEIVED = "repayment.received"
    INSTALLMENT_DUE_SOON = "installment.due_soon"
    INSTALLMENT_OVERDUE = "installment.overdue"
    LOAN_CLOSED = "loan.closed"
    DISBURSEMENT_ESCALATED = "disbursement.escalated"
    LOAN_COB_QUARANTINED = "loan.cob_quarantined"  # close of business could not close the loan
    CHANNEL_BREAKER_OPENED = "channel.breaker_opened"  # payouts skip the channel
    CHANNEL_BREAKER_CLOSED = "channel.breaker_closed"  # a probe succeeded: routed to again
    CHANNEL_BALANCE_LOW = "channel.balance_low"  # available fell under the channel's threshold
    CHANNEL_BALANCE_RESTORED = "channel.balance_restored"  # back at or above it
    LOAN_CANCELLED = "loan.cancelled"  # accepted, never paid out, expired (issue 17)


EVENT_TYPES: tuple[str, ...] = tuple(t.value for t in EventType)
ALL = "*"  # a subscription to every event type, those added later included


def subscribed(event_types: tuple[str, ...] | list[str], event_type: str) -> bool:
    """Whether an endpoint subscribed to `event_types` receives `event_type`."""
    return ALL in event_types or event_type in event_types
