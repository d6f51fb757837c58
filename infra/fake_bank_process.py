"""`python -m fakebank` as a child on free ports: how the e2e tests, the bench and `make run
FAKE_BANK=1` start the fake bank, set it up and read its ledger."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class FakeBank:
    process: subprocess.Popen[bytes]
    url: str  # the TLS protocol base URL
    control_url: str  # unsigned control endpoint
    ca_file: Path

    @property
    def ca_pem(self) -> str:
        return self.ca_file.read_text()

    def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.control_url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as r:
            raw = r.read()
        return json.loads(raw) if raw[:1] in (b"{", b"[") else raw

    def add_client(self, client_id: str, api_secret: str, webhook_secret: str | None) -> None:
        self.control("POST", "/_control/clients", {"client_id": client_id,
                                                   "api_secret": api_secret,
                                                   "webhook_secret": webhook_secret})

    def configure(self, **behaviour: Any) -> dict[str, Any]:
        result: dict[str, Any] = self.control("POST", "/_control/config", behaviour)
        return result

    def ledger(self) -> dict[str, Any]:
        result: dict[str, Any] = self.control("GET", "/_control/ledger")
        return result

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def spawn(*args: str, port: int = 0, timeout: float = 20.0) -> FakeBank:
    folder = Path(tempfile.mkdtemp(prefix="fakebank-"))
    info = folder / "info.json"
    log = (folder / "fakebank.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "fakebank", "--dir", str(folder),
                                "--port", str(port), *args], cwd=ROOT, stdout=log,
                               stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while not info.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("fake bank did not start:\n"
                               + (folder / "fakebank.log").read_text(errors="replace"))
        time.sleep(0.05)
    data = json.loads(info.read_text())
    return FakeBank(process, data["url"], data["control_url"], Path(data["ca_file"]))
