"""The embedded local stack for the demo, started and stopped the way the e2e tests do it
(infra/stack_process.py); its log goes to a file."""

from __future__ import annotations

import contextlib
import secrets

from infra.stack_process import StackProcess, interrupt, spawn


def start() -> StackProcess:
    return spawn("demo-" + secrets.token_urlsafe(24), log_prefix="demo-stack-", timeout=120)


def stop(stack: StackProcess) -> None:
    """The demo's summary is already out: a stack that ignored Ctrl-C was killed, and that is
    all there is to do."""
    if stack.process.poll() is None:
        with contextlib.suppress(RuntimeError):
            interrupt(stack)
    stack.log.unlink(missing_ok=True)
