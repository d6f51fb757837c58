"""Issue 17: no loan stays `disbursing` without exactly one open item naming who must act.

Every path into `disbursing` is driven (sync settle, callback, unknown, escalated, failover,
crash before submit); at each state the disbursement is in exactly one actor's list (served by
the in-flight index) and its `action_required` names that actor; once resolved it is in none.
"""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.channels.sandbox import SandboxChannel
from chalicelib.jobs import disbursement_resume
from chalicelib.lending.payout_actions import ACTORS, action_required
from chalicelib.services import disbursements
from chalicelib.store import disbursements as store
from tests.integration.disbursement.conftest import callback, channel, disburse, signed_loan
from tests.lag import eventually

SILENT = {"timeout_rate_percent": 100, "timeout_outcome": "unknown"}


def _lists(api: Any, key: str, d: str) -> list[str]:
    """The actors whose worklist holds disbursement d."""
    out = []
    for by in ACTORS:
        r = api.call("GET", f"/v1/disbursements?needs={by}&limit=100", key=key)
        assert r.status == 200, r.json
        out += [by for item in r.json["data"] if item["id"] == d]
    return out


def _one_item(api: Any, acme: dict[str, str], d: str, by: str | None) -> None:
    """d waits for exactly `by` (None: for nobody, and its loan is not disbursing)."""
    view = api.call("GET", f"/v1/disbursements/{d}", key=acme["admin"]).json
    loan = api.call("GET", f"/v1/loans/{view['loan_id']}", key=acme["admin"]).json
    expected = [by] if by else []
    assert eventually(lambda: _lists(api, acme["operator"], d), expected) == expected
    if by is None:
        assert view["action_required"] is None and loan["status"] != "disbursing", view
    else:
        assert loan["status"] == "disbursing"
        assert view["action_required"]["by"] == by and view["action_required"]["reason"]


def _disable(api: Any, acme: dict[str, str], ch: dict[str, Any]) -> None:
    r = api.call("PATCH", f"/v1/channels/{ch['id']}", {"enabled": False}, key=acme["admin"])
    assert r.status == 200, r.json


@pytest.fixture
def seen_at_submit(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str | None]]:
    """(payout id, actor) for every payout as the channel receives it: the in-between state
    of a synchronous settlement or a failover, read from the stored disbursement."""
    seen: list[tuple[str, str | None]] = []
    submit = SandboxChannel.submit

    def recording(self: SandboxChannel, payout: Any) -> Any:
        item = store.get(payout.tenant, payout.payout_id.rpartition(".")[0])
        assert item is not None
        action = action_required(item.status, item.attempt_list(), item.updated_at)
        seen.append((payout.payout_id, action.by if action else None))
        return submit(self, payout)

    monkeypatch.setattr(SandboxChannel, "submit", recording)
    return seen


def test_every_path_into_disbursing_has_exactly_one_open_item(api, acme, product, aws, clock,
                                                              seen_at_submit, monkeypatch):
    loan = iter(signed_loan(api, acme, aws, product["id"]) for _ in range(6))

    # sync settle: while the channel is paying, the system holds it; then nobody
    sync = channel(api, acme, "sync")
    d_sync = disburse(api, acme["partner"], next(loan)).json["id"]
    assert seen_at_submit == [(f"{d_sync}.1", "system")]
    _one_item(api, acme, d_sync, None)
    _disable(api, acme, sync)

    # crash before submit: reserved, the system (resume job) must act
    crash = channel(api, acme, "crash")
    real_submit = disbursements._submit
    monkeypatch.setattr(disbursements, "_submit", lambda *_a: False)
    d_crash = disburse(api, acme["partner"], next(loan)).json["id"]
    monkeypatch.setattr(disbursements, "_submit", real_submit)
    _one_item(api, acme, d_crash, "system")
    _disable(api, acme, crash)

    # callback: accepted, the channel must answer
    cb = channel(api, acme, "callback", sandbox={"settle": "callback"})
    d_cb = disburse(api, acme["partner"], next(loan)).json["id"]
    _one_item(api, acme, d_cb, "channel")
    _disable(api, acme, cb)

    # unknown, and (later) escalated: operators must act
    unknown = channel(api, acme, "unknown", sandbox=SILENT)
    d_unknown = disburse(api, acme["partner"], next(loan)).json["id"]
    d_esc = disburse(api, acme["partner"], next(loan)).json["id"]
    _one_item(api, acme, d_unknown, "operator")
    _disable(api, acme, unknown)

    # failover: the first channel refuses, the next is tried by the system, then awaited
    refuses = channel(api, acme, "refuses", sandbox={"failure_rate_percent": 100})
    nxt = channel(api, acme, "next", sandbox={"settle": "callback"}, proportional_bps=50)
    d_fail = disburse(api, acme["partner"], next(loan)).json["id"]
    assert seen_at_submit[-2:] == [(f"{d_fail}.1", "system"), (f"{d_fail}.2", "system")]
    _one_item(api, acme, d_fail, "channel")
    _disable(api, acme, refuses)

    # time passes: the crashed one is resumed (settled), the unknown ones escalate
    clock.advance(disbursements.UNKNOWN_DEADLINE.total_seconds() + 1)
    expected = {"acme": {"submitted": 1, "escalated": 2, "waiting": 2}}
    assert eventually(lambda: disbursement_resume.run_all(), expected) == expected
    _one_item(api, acme, d_crash, None)
    for d in (d_unknown, d_esc):
        _one_item(api, acme, d, "operator")

    # every in-flight disbursement of the tenant has exactly one item
    for d in (d_cb, d_unknown, d_esc, d_fail):
        assert len(_lists(api, acme["operator"], d)) == 1

    # resolved: by the channel's callbacks and by operators; none is left anywhere
    for d, ch in ((d_cb, cb), (d_fail, nxt)):
        view = api.call("GET", f"/v1/disbursements/{d}", key=acme["admin"]).json
        attempt = view["attempts"][-1]
        assert attempt["channel_id"] == ch["id"]
        r = callback(api, ch, {"type": "payout.settled", "payout_id": attempt["payout_id"]},
                     timestamp=int(clock.now.timestamp()))
        assert r.status == 200 and r.json["outcome"] == "processed", r.json
    for d, outcome in ((d_unknown, "settled"), (d_esc, "failed")):
        r = api.call("POST", f"/v1/disbursements/{d}/attempts/1/resolve",
                     {"outcome": outcome, "provider_ref": "BANK-1", "note": "statement"},
                     key=acme["operator"])
        assert r.status == 200, r.json
    # failed by the operator: routing continued to the next channel, which the loan awaits
    _one_item(api, acme, d_esc, "channel")
    retry = api.call("GET", f"/v1/disbursements/{d_esc}", key=acme["admin"]).json["attempts"]
    assert [a["status"] for a in retry] == ["failed", "submitted"]
    assert retry[1]["channel_id"] == nxt["id"]
    r = callback(api, nxt, {"type": "payout.settled", "payout_id": retry[1]["payout_id"]},
                 timestamp=int(clock.now.timestamp()))
    assert r.status == 200 and r.json["outcome"] == "processed", r.json
    for d in (d_sync, d_crash, d_cb, d_unknown, d_esc, d_fail):
        _one_item(api, acme, d, None)
        view = api.call("GET", f"/v1/disbursements/{d}", key=acme["admin"]).json
        assert view["status"] == "settled", view
