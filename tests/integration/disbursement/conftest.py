"""Disbursement fixtures: a signed loan, channels, a movable clock, signed callbacks."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.integration.contracts.conftest import _fresh_caches  # noqa: F401
from tests.integration.contracts.helpers import (
    accepted_loan,
    contract_of,
    make_product,
    sign,
    tenant_keys,
)


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    from chalicelib.services import channels

    c = Clock()
    monkeypatch.setattr(channels, "clock", c)
    yield c


@pytest.fixture
def acme(api: Any) -> dict[str, str]:
    return tenant_keys(api, "acme")


@pytest.fixture
def product(api: Any, acme: dict[str, str]) -> dict[str, Any]:
    fees = {"origination": {"percent": "2", "treatment": "deducted"}}
    return make_product(api, acme["admin"], fees=fees)


_serial = iter(range(100, 999))


def signed_loan(api: Any, keys: dict[str, str], aws: Any, product_id: str,
                amount: str = "10000.00", tenant: str = "acme") -> str:
    loan = accepted_loan(api, keys, product_id, amount=amount, serial=str(next(_serial)))
    loan_id = loan["loan"]["id"]
    assert sign(api, keys, contract_of(aws, tenant, loan_id), loan["applicant"]).status == 200
    return loan_id


def channel(api: Any, keys: dict[str, str], name: str, *, fund: str | None = "100000.00",
            **fields: Any) -> dict[str, Any]:
    """The admin configures the channel; an operator records its prefunding (money)."""
    body = {"name": name, "type": "sandbox", "currency": "CNY", "settlement_seconds": 60,
            **fields}
    r = api.call("POST", "/v1/channels", body, key=keys["admin"])
    assert r.status == 201, r.json
    if fund:
        f = api.call("POST", f"/v1/channels/{r.json['id']}/fundings",
                     {"amount": fund, "reference": "initial"}, key=keys["operator"])
        assert f.status == 201, f.json
    return r.json


def disburse(api: Any, key: str, loan_id: str, **kw: Any) -> Any:
    return api.call("POST", f"/v1/loans/{loan_id}/disbursements", key=key, **kw)


def callback(api: Any, ch: dict[str, Any], payload: dict[str, Any], *,
             msg_id: str | None = None, secret: str | None = None,
             timestamp: int | None = None) -> Any:
    from chalicelib.channels import webhooks

    body = json.dumps(payload).encode()
    headers = webhooks.headers(secret or ch["webhook_secret"], msg_id or f"msg_{uuid.uuid4()}",
                               timestamp or int(time.time()), body)
    return api.call("POST", f"/v1/channel-callbacks/{ch['id']}", raw=body, headers=headers,
                    idem=False)


def verify_ledger(api: Any, key: str) -> None:
    r = api.call("POST", "/v1/ledger/verify", key=key)
    assert r.status == 200 and r.json["ok"], r.json
