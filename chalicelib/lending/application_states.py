"""The application's life, as a table of allowed transitions (pure).

    submitted → scored → approved | referred | declined
    referred  → approved | declined            (review; four eyes above the policy's amount)
    approved  → accepted | expired | withdrawn (the offer: accepted creates the loan)
    submitted | scored | referred → withdrawn

`submitted` and `scored` are passed through inside the submit request (scoring takes
milliseconds) and recorded in the history; an offer's expiry is a fact of time, so `expired` is
shown from the moment the offer lapses and written when someone next acts on it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

Status = Literal["submitted", "scored", "approved", "referred", "declined", "accepted",
                 "expired", "withdrawn"]
STATUSES: tuple[Status, ...] = ("submitted", "scored", "approved", "referred", "declined",
                                "accepted", "expired", "withdrawn")
TRANSITIONS: dict[str, frozenset[str]] = {
    "submitted": frozenset({"scored", "withdrawn"}),
    "scored": frozenset({"approved", "referred", "declined", "withdrawn"}),
    "referred": frozenset({"approved", "declined", "withdrawn"}),
    "approved": frozenset({"accepted", "expired", "withdrawn"}),
    "declined": frozenset(),
    "accepted": frozenset(),
    "expired": frozenset(),
    "withdrawn": frozenset(),
}
OPEN: frozenset[str] = frozenset({"submitted", "scored", "referred", "approved"})
OUTCOME_STATUS: dict[str, Status] = {"approve": "approved", "refer": "referred",
                                     "decline": "declined"}


def can_move(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, frozenset())


def effective_status(stored: str, offer_valid_until: datetime | None, now: datetime) -> str:
    """An approved application whose offer has lapsed is expired, written or not."""
    if stored == "approved" and offer_valid_until is not None and now > offer_valid_until:
        return "expired"
    return stored


def is_open(stored: str, offer_valid_until: datetime | None, now: datetime) -> bool:
    return effective_status(stored, offer_valid_until, now) in OPEN
