"""Every event body the emitters produce, checked against its payload model
(api/webhook_events.py) as it is built: an autouse fixture of the integration tests
(tests/integration/conftest.py), so each real flow they drive is also a contract test of the
`webhooks:` section, and a field added to an emitter without its model fails there. Events a
test emits itself (synthetic payloads straight into `outbox.emit`) are not checked."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from pydantic import ValidationError

PRODUCT = Path(__file__).resolve().parents[1] / "chalicelib"


def _from_the_product(emit_caller: FrameType | None) -> bool:
    """Whether `outbox.emit` was called by the product's code (an emitter), not by a test."""
    return emit_caller is not None and Path(emit_caller.f_code.co_filename).resolve() \
        .is_relative_to(PRODUCT)


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
        if not _from_the_product(sys._getframe(2)):
            return body  # a test's own synthetic event (outbox.emit called from a test)
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
