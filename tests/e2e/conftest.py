"""The real thing over HTTP: `python -m infra.local_stack` (what `make run` runs) on free ports."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from infra.stack_process import StackProcess, interrupt, spawn

ROOT = Path(__file__).resolve().parents[2]
ADMIN_KEY = "e2e-platform-admin-key-0123456789"


@dataclass
class Stack(StackProcess):
    def call(self, method: str, path: str, key: str | None = None, **kwargs: object):
        headers = dict(kwargs.pop("headers", {}) or {})  # type: ignore[arg-type]
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return requests.request(method, self.base + path, headers=headers, timeout=30, **kwargs)


def start_stack(extra_env: dict[str, str] | None = None) -> Stack:
    """A stack of its own; `extra_env` sets its options (LOCAL_SCHEDULE_AT_START=1, ...)."""
    return Stack(**vars(spawn(ADMIN_KEY, extra_env=extra_env)))


def stop_stack(stack: Stack) -> int:
    return interrupt(stack)


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    running = start_stack()
    yield running
    if running.process.poll() is None:
        stop_stack(running)
