"""The real thing over HTTP: `python -m infra.local_stack` (what `make run` runs) on free ports."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from infra.local_stack import wait_healthy

ROOT = Path(__file__).resolve().parents[2]
ADMIN_KEY = "e2e-platform-admin-key-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Stack:
    base: str
    api_port: int
    moto_port: int
    process: subprocess.Popen[bytes]
    log: Path
    admin_key: str = ADMIN_KEY

    def call(self, method: str, path: str, key: str | None = None, **kwargs: object):
        headers = dict(kwargs.pop("headers", {}) or {})  # type: ignore[arg-type]
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return requests.request(method, self.base + path, headers=headers, timeout=30, **kwargs)


def start_stack() -> Stack:
    api_port, moto_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LENDING_"))}
    env.update({"PLATFORM_ADMIN_KEY": ADMIN_KEY, "PORT": str(api_port),
                "MOTO_PORT": str(moto_port)})
    # The stack logs a line per request: to a file, never a pipe nobody drains (it would fill
    # and block the server).
    log = Path(tempfile.mkstemp(prefix="local-stack-", suffix=".log")[1])
    with log.open("wb") as sink:
        process = subprocess.Popen([sys.executable, "-m", "infra.local_stack"], cwd=ROOT,
                                   env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        wait_healthy(api_port, timeout=90)
    except RuntimeError:
        process.kill()
        output = log.read_text(errors="replace")
        raise RuntimeError(f"local stack failed to start:\n{output[-4000:]}") from None
    return Stack(f"http://127.0.0.1:{api_port}", api_port, moto_port, process, log)


def stop_stack(stack: Stack) -> int:
    stack.process.send_signal(signal.SIGINT)
    try:
        code = stack.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        stack.process.kill()
        raise RuntimeError("the local stack ignored Ctrl-C; its output:\n"
                           + stack.log.read_text(errors="replace")[-3000:]) from None
    stack.log.unlink(missing_ok=True)
    return code


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    running = start_stack()
    yield running
    if running.process.poll() is None:
        stop_stack(running)
