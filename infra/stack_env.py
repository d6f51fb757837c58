"""`.local/stack.env`: how a shell learns the running local stack's address and admin key.

`make run` writes it once the API is healthy (`source .local/stack.env` sets `API`, `ADMIN` and
`MOTO`, the names the README walk uses; with the fake bank also `BANK`, `BANK_CONTROL` and
`BANK_CA`) and removes it when it stops. It holds the platform admin key, so it is created
owner-only (0600) and the folder is git-ignored.
"""

from __future__ import annotations

import contextlib
import os
import shlex
from pathlib import Path

DEFAULT_ENV_FILE = Path(__file__).resolve().parents[1] / ".local" / "stack.env"


def render(api_port: int, moto_port: int, admin_key: str,
           extra: dict[str, str] | None = None) -> str:
    """`extra`: more names, e.g. the fake bank's BANK, BANK_CONTROL and BANK_CA."""
    values = {"API": f"http://127.0.0.1:{api_port}", "ADMIN": admin_key,
              "MOTO": f"http://127.0.0.1:{moto_port}", **(extra or {})}
    return "".join(f"export {k}={shlex.quote(v)}\n" for k, v in values.items())


def write(path: Path, text: str) -> None:
    """Owner-only from its first byte (never world-readable, not even briefly)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def remove(path: Path, text: str) -> None:
    """Removes the file if it is still the one this stack wrote (not a newer stack's)."""
    with contextlib.suppress(OSError):
        if path.read_text() == text:
            path.unlink()
