"""An in-process API client (Chalice's test client over moto) that checks the contract."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from chalice.test import Client

from tests.conftest import TEST_ENV
from tests.contract_check import check_response
from tests.webhook_contract import emitted_events  # noqa: F401  # autouse: issue 16


@dataclass
class Result:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class Api:
    """Calls the app like a partner would, and validates each response against openapi.yaml."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.platform_key = TEST_ENV["PLATFORM_ADMIN_KEY"]

    def call(self, method: str, path: str, body: Any = None, *, key: str | None = None,
             idem: str | bool | None = None, headers: dict[str, str] | None = None,
             raw: bytes | str | None = None) -> Result:
        sent = {"Content-Type": "application/json"}
        if key:
            sent["Authorization"] = f"Bearer {key}"
        if idem is True or (idem is None and method == "POST"):
            sent["Idempotency-Key"] = str(uuid.uuid4())
        elif isinstance(idem, str):
            sent["Idempotency-Key"] = idem
        sent.update(headers or {})
        payload = raw if raw is not None else (json.dumps(body) if body is not None else None)
        response = self.client.http.request(method, path, headers=sent, body=payload or b"")
        result = Result(response.status_code, {k.lower(): v for k, v in response.headers.items()},
                        response.body)
        check_response(method, path, result.status, result.headers.get("content-type", ""),
                       result.body)
        return result

    # Conveniences for the common setup steps.
    def tenant(self, tenant_id: str, currency: str = "CNY",
               time_zone: str = "UTC") -> dict[str, Any]:
        r = self.call("POST", "/v1/tenants", {"tenant_id": tenant_id, "name": tenant_id.title(),
                                              "base_currency": currency,
                                              "time_zone": time_zone}, key=self.platform_key)
        assert r.status == 201, r.json
        return r.json

    def key(self, tenant_id: str, role: str) -> str:
        r = self.call("POST", f"/v1/tenants/{tenant_id}/api-keys",
                      {"role": role, "name": f"{role} key"}, key=self.platform_key)
        assert r.status == 201, r.json
        return r.json["key"]


@pytest.fixture
def api(aws: dict[str, Any]) -> Iterator[Api]:
    from chalicelib.store import dynamo

    dynamo.reset()
    import app as app_module

    with Client(app_module.app, stage_name="local") as client:
        yield Api(client)
