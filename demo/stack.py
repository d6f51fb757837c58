"""The embedded local stack (`python -m infra.local_stack`: moto + chalice local) on free
ports, started and stopped the way the e2e tests do it; its log goes to a file."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from infra.local_stack import wait_healthy

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Stack:
    base: str
    admin_key: str
    process: subprocess.Popen[bytes]
    log: Path


def start() -> Stack:
    api_port, moto_port = free_port(), free_port()
    admin_key = "demo-" + secrets.token_urlsafe(24)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LENDING_"))}
    env.update({"PLATFORM_ADMIN_KEY": admin_key, "PORT": str(api_port),
                "MOTO_PORT": str(moto_port)})
    log = Path(tempfile.mkstemp(prefix="demo-stack-", suffix=".log")[1])
    with log.open("wb") as sink:  # a file, never a pipe nobody drains
        process = subprocess.Popen([sys.executable, "-m", "infra.local_stack"], cwd=ROOT,
                                   env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        wait_healthy(api_port, timeout=120)
    except RuntimeError:
        process.kill()
        raise RuntimeError("the local stack did not start:\n"
                           + log.read_text(errors="replace")[-4000:]) from None
    return Stack(f"http://127.0.0.1:{api_port}", admin_key, process, log)


def stop(stack: Stack) -> None:
    if stack.process.poll() is None:
        stack.process.send_signal(signal.SIGINT)
        try:
            stack.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            stack.process.kill()
            stack.process.wait(timeout=10)
    stack.log.unlink(missing_ok=True)
