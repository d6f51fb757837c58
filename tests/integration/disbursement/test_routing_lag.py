"""Routing on real DynamoDB: a channel changed a moment ago is routed on as it is now.

Under `lag` the channels index and non-consistent reads see the table as of 2 s ago, as a
lagging GSI would; every change below lands inside that window, just before the disbursement.
The loan and the channels are set up before the lag (settled), the change under it.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.disbursement.conftest import channel, disburse, signed_loan
from tests.lag import lag

LAG = {"index_ms": 2000, "base_ms": 2000}


def _get(api: Any, key: str, path: str) -> dict[str, Any]:
    r = api.call("GET", path, key=key)
    assert r.status == 200, r.json
    return r.json


def _patch(api: Any, acme: dict[str, str], ch: dict[str, Any], body: dict[str, Any]) -> None:
    r = api.call("PATCH", f"/v1/channels/{ch['id']}", body, key=acme["admin"])
    assert r.status == 200, r.json


def _paid_through(api: Any, acme: dict[str, str], loan_id: str) -> list[str]:
    """Disburses the loan now; the channels its attempts went to."""
    r = disburse(api, acme["partner"], loan_id)
    assert r.status == 202, r.json
    d = _get(api, acme["admin"], f"/v1/disbursements/{r.json['id']}")
    assert d["status"] == "settled", d
    return [a["channel_id"] for a in d["attempts"]]


@pytest.mark.parametrize("change", [
    {"enabled": False},
    {"max_payout": "5000.00"},
    {"daily_limit": "5000.00"},
], ids=["disabled", "max-payout-lowered", "daily-limit-lowered"])
def test_a_channel_changed_a_moment_ago_is_routed_on_as_it_is_now(api, acme, product, aws,
                                                                   clock, change):
    cheap = channel(api, acme, "cheap", fixed_cost="1.00", daily_limit="20000.00")
    dear = channel(api, acme, "dear", fixed_cost="5.00")
    loan_id = signed_loan(api, acme, aws, product["id"])  # pays out 9,800.00
    with lag(**LAG):
        _patch(api, acme, cheap, change)
        assert _paid_through(api, acme, loan_id) == [dear["id"]]
        used = _get(api, acme["admin"], f"/v1/channels/{cheap['id']}")["used_today"]
        assert used["amount"] == "0.00"


@pytest.mark.parametrize("how", ["created", "re-enabled"])
def test_a_channel_created_or_enabled_a_moment_ago_is_found(api, acme, product, aws, clock,
                                                            how):
    old = channel(api, acme, "only", enabled=False) if how == "re-enabled" else None
    loan_id = signed_loan(api, acme, aws, product["id"])
    with lag(**LAG):
        if old is None:
            new = channel(api, acme, "new")
        else:
            _patch(api, acme, old, {"enabled": True})
            new = old
        assert _paid_through(api, acme, loan_id) == [new["id"]]


def _change_when_chosen(monkeypatch: pytest.MonkeyPatch, channel_id: str, times: int,
                        change: dict[str, Any]) -> list[int]:
    """An operator's change to the channel lands right after routing ranked it (between the
    read and the reservation), the first `times` times it is chosen."""
    from chalicelib.services import channels as service
    from chalicelib.store.audit import Actor
    from chalicelib.store.uow import UnitOfWork

    acquire, calls = service.acquire, []

    def racing(tenant: str, item: Any, *seen: Any) -> bool:
        if item.channel_id == channel_id and len(calls) < times:
            calls.append(1)
            uow = UnitOfWork()
            service.update(uow, tenant, Actor("key_ops", "admin", "req_race"), service.clock(),
                           channel_id, {**change, "name": f"changed {len(calls)}"})
            uow.commit()
        return acquire(tenant, item, *seen)

    monkeypatch.setattr(service, "acquire", racing)
    return calls


def test_a_channel_disabled_between_routing_and_reserving_refuses_the_reservation(
        api, acme, product, aws, clock, monkeypatch):
    cheap = channel(api, acme, "cheap", fixed_cost="1.00")
    dear = channel(api, acme, "dear", fixed_cost="5.00")
    loan_id = signed_loan(api, acme, aws, product["id"])
    calls = _change_when_chosen(monkeypatch, cheap["id"], 1, {"enabled": False})
    assert _paid_through(api, acme, loan_id) == [dear["id"]]  # routed again, on fresh reads
    assert calls == [1]
    assert _get(api, acme["admin"], f"/v1/channels/{cheap['id']}")["available"][
        "amount"] == "100000.00"


def test_a_channel_changing_under_every_reservation_is_skipped_with_the_reason(
        api, acme, product, aws, clock, monkeypatch):
    cheap = channel(api, acme, "cheap", fixed_cost="1.00")
    dear = channel(api, acme, "dear", fixed_cost="5.00")
    loan_id = signed_loan(api, acme, aws, product["id"])
    _change_when_chosen(monkeypatch, cheap["id"], 2, {})
    r = disburse(api, acme["partner"], loan_id)
    d = _get(api, acme["admin"], f"/v1/disbursements/{r.json['id']}")
    assert [a["channel_id"] for a in d["attempts"]] == [dear["id"]]
    assert d["skipped"] == {cheap["id"]: "channel-changed"}
