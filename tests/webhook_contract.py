"""Every event body the emitters produce, checked against its payload model
(api/webhook_events.py) as it is built: an autouse fixture of the integration tests
(tests/integration/conftest.py), so each real flow they drive is also a contract test of the
`webhooks:` section, and a field added to an emitter without its model fails there. Events a
test makes itself (synthetic payloads handed to the emit plumbing) are not checked."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from pydantic import ValidationError

PRODUCT = Path(__file__).resolve().parents[1] / "chalicelib"


# The emit plumbing a test may call with a payload of its own making.
PLUMBING = {PRODUCT / "services" / "outbox.py", PRODUCT / "services" / "loan_lifecycle.py"}


def _from_the_product(frame: FrameType | None) -> bool:
    """Whether the product's code made the event: past the emit plumbing (outbox.emit, its
    announce_* adapters, loan_lifecycle.move), the caller is in chalicelib, not a test."""
    while frame is not None and Path(frame.f_code.co_filename).resolve() in PLUMBING:
        frame = frame.f_back
    return frame is not None and Path(frame.f_code.co_filename).resolve().is_relative_to(
        PRODUCT)


class Emitted:
    """The bodies built during one test, and the ones that broke their model."""

    def __init__(self) -> None:
        self.bodies: list[tuple[str, str]] = []
        self.broken: list[str] = []

    def types(self) -> set[str]:
        return {t for t, _ in self.bodies}


@pytest.fixture(autouse=True)
def emitted_events(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emitted]:
    from chalicelib.api.webhook_events import envelope
    from chalicelib.services import outbox

    seen = Emitted()
    original = outbox.message

    def checked(event_id: str, event_type: str, now: Any, data: dict[str, Any]) -> str:
        body = original(event_id, event_type, now, data)
        if not _from_the_product(sys._getframe(1)):
            return body  # a test's own synthetic event (the plumbing called from a test)
        seen.bodies.append((str(event_type), body))
        try:
            envelope(event_type).model_validate_json(body)
        except (KeyError, ValueError, ValidationError) as exc:
            seen.broken.append(f"{event_type}: {exc}\n{body}")
        return body

    monkeypatch.setattr(outbox, "message", checked)
    yield seen
    assert seen.broken == [], "an emitted event does not match its model:\n" + \
        "\n".join(seen.broken)
