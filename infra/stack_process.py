"""`python -m infra.local_stack` (what `make run` runs) as a child on free ports: the one way the
e2e tests, `make demo` and the benches start and stop it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from infra.local_stack import ROOT, wait_healthy


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class StackProcess:
    process: subprocess.Popen[bytes]
    api_port: int
    moto_port: int
    admin_key: str
    log: Path
    env_file: Path | None = None  # its stack.env (API, ADMIN, MOTO), while it runs

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def moto(self) -> str:
        return f"http://127.0.0.1:{self.moto_port}"


def spawn(admin_key: str, *, log_prefix: str = "local-stack-", timeout: float = 90.0,
          extra_env: dict[str, str] | None = None) -> StackProcess:
    """Starts the stack with `admin_key` as its platform key and waits until it is healthy.
    Its output goes to a file, never to a pipe nobody drains (a full pipe blocks the server);
    its stack.env goes beside it, never over the one of a `make run` in this checkout.
    `extra_env` sets the stack's options (LOCAL_SCHEDULE_COB=1, ...)."""
    api_port, moto_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "LENDING_", "LOCAL_SCHEDULE", "LOCAL_STACK_"))}
    log = Path(tempfile.mkstemp(prefix=log_prefix, suffix=".log")[1])
    env_file = log.with_suffix(".env")
    env.update({"PLATFORM_ADMIN_KEY": admin_key, "PORT": str(api_port),
                "MOTO_PORT": str(moto_port), "LOCAL_STACK_ENV_FILE": str(env_file),
                **(extra_env or {})})
    with log.open("wb") as sink:
        process = subprocess.Popen([sys.executable, "-m", "infra.local_stack"], cwd=ROOT,
                                   env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        wait_healthy(api_port, timeout=timeout)
        _wait_for(env_file, process)  # written once healthy: the stack is ready as `make run` is
    except RuntimeError:
        process.kill()
        output = log.read_text(errors="replace")
        raise RuntimeError(f"local stack failed to start:\n{output[-4000:]}") from None
    return StackProcess(process, api_port, moto_port, admin_key, log, env_file)


def _wait_for(path: Path, process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the stack did not write {path}")
        time.sleep(0.05)


def interrupt(stack: StackProcess, timeout: float = 30.0) -> int:
    """Ctrl-C, as a person stops `make run`; returns its exit status. A stack that ignores it
    is killed and reported (RuntimeError with the end of its log)."""
    stack.process.send_signal(signal.SIGINT)
    try:
        code = stack.process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        stack.process.kill()
        stack.process.wait(timeout=10)
        raise RuntimeError("the local stack ignored Ctrl-C; its output:\n"
                           + stack.log.read_text(errors="replace")[-3000:]) from None
    stack.log.unlink(missing_ok=True)
    return code
