"""Scheduled every minute: dispatch outbox events and attempt due webhook deliveries.

Safe to run concurrently or twice (scheduled events are at-least-once): fan-out is conditional
on the event still being pending, and each attempt is claimed under a version guard.
"""

from __future__ import annotations

from datetime import datetime

from chalicelib.services import webhook_delivery


def run_once(now: datetime | None = None) -> dict[str, int]:
    return webhook_delivery.run(now).as_dict()
