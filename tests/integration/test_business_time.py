"""The business day is the tenant's (issue 14): its time zone, aware datetimes only, close of
business never ahead of the tenant's today, the scheduled plan per local yesterday, and the
sandbox clock of stages local and test."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from chalicelib import clock, config
from chalicelib.jobs import cob as cob_job
from chalicelib.services import servicing
from chalicelib.store import sandbox_clock
from chalicelib.store.ledger import ledger
from tests.integration.contracts.helpers import make_product, tenant_keys
from tests.integration.servicing_core.loans import active_loan, money

SHANGHAI = "Asia/Shanghai"
LATE_EVENING_UTC = "2025-01-15T23:30:00+00:00"  # 2025-01-16 07:30 in Shanghai


def _tenant(api: Any, tenant: str, zone: str) -> dict[str, str]:
    return tenant_keys(api, tenant, zone)


@pytest.fixture
def shanghai(api: Any) -> dict[str, str]:
    return _tenant(api, "acme", SHANGHAI)


def _pay(api: Any, key: str, loan_id: str, paid_at: str, ref: str) -> Any:
    return api.call("POST", f"/v1/loans/{loan_id}/repayments", {
        "amount": money("100.00"), "paid_at": paid_at, "channel": "alipay",
        "external_reference": ref}, key=key)


def _set_clock(api: Any, key: str, at: str) -> Any:
    return api.call("PUT", "/v1/sandbox/clock", {"now": at}, key=key)


# --- the tenant's time zone ------------------------------------------------------------------

def test_onboarding_requires_a_real_iana_time_zone(api: Any) -> None:
    for body, code in [({}, "missing"), ({"time_zone": "Mars/Olympus"}, "time_zone"),
                       ({"time_zone": "../../etc/passwd"}, "time_zone"),
                       ({"time_zone": "+08:00"}, "time_zone")]:
        r = api.call("POST", "/v1/tenants", {"tenant_id": "acme", "name": "A", **body},
                     key=api.platform_key)
        assert r.status == 422, body
        assert [(e["pointer"], e["code"]) for e in r.json["errors"]] == [
            ("/body/time_zone", code)]
    created = api.call("POST", "/v1/tenants", {"tenant_id": "acme", "name": "A",
                                               "time_zone": SHANGHAI}, key=api.platform_key)
    assert created.status == 201, created.json  # nothing was written by the refusals
    assert created.json["time_zone"] == SHANGHAI


def test_time_zone_is_changeable_by_its_admin_or_the_platform_and_audited(api: Any) -> None:
    acme, beta = _tenant(api, "acme", SHANGHAI), _tenant(api, "beta", "UTC")
    r = api.call("PUT", "/v1/tenants/acme/time-zone", {"time_zone": "America/New_York"},
                 key=acme["admin"])
    assert r.status == 200 and r.json["time_zone"] == "America/New_York", r.json
    assert clock.zone("acme").key == "America/New_York"  # this process forgot the old one
    r = api.call("PUT", "/v1/tenants/beta/time-zone", {"time_zone": SHANGHAI},
                 key=acme["admin"])
    assert r.status == 404  # another tenant's admin: as if it did not exist
    assert api.call("PUT", "/v1/tenants/beta/time-zone", {"time_zone": SHANGHAI},
                    key=acme["operator"]).status == 403
    r = api.call("PUT", "/v1/tenants/beta/time-zone", {"time_zone": "Nowhere/Land"},
                 key=api.platform_key)
    assert r.status == 422 and r.json["errors"][0]["pointer"] == "/body/time_zone"
    r = api.call("PUT", "/v1/tenants/beta/time-zone", {"time_zone": SHANGHAI},
                 key=api.platform_key)
    assert r.status == 200 and r.json["time_zone"] == SHANGHAI
    trail = api.call("GET", "/v1/audit/tenant/acme", key=acme["admin"]).json["data"]
    assert [(t["action"], t["data"]) for t in trail][-1] == (
        "tenant.time_zone_changed", {"from": SHANGHAI, "to": "America/New_York"})
    assert api.call("POST", "/v1/audit/verify", key=beta["admin"]).json["ok"]
    # Readable by the tenant's own keys and the platform; another tenant's is a 404.
    assert api.call("GET", "/v1/tenants/acme", key=acme["partner"]).json["time_zone"] == (
        "America/New_York")
    assert api.call("GET", "/v1/tenants/beta", key=api.platform_key).json["time_zone"] == SHANGHAI
    assert api.call("GET", "/v1/tenants/beta", key=acme["admin"]).status == 404


# --- business dates ----------------------------------------------------------------------------

def test_one_instant_with_two_offsets_is_one_business_date(api: Any,
                                                          shanghai: dict[str, str]) -> None:
    """2025-01-15T23:30Z and 2025-01-16T07:30+08:00 are one instant: in Shanghai, the 16th."""
    product = make_product(api, shanghai["admin"])["id"]
    loans = [active_loan("acme", product, date(2025, 1, 10)) for _ in range(2)]
    for loan_id, paid_at in zip(loans, (LATE_EVENING_UTC, "2025-01-16T07:30:00+08:00"),
                                strict=True):
        r = _pay(api, shanghai["partner"], loan_id, paid_at, f"ref-{loan_id}")
        assert r.status == 201, r.json
        assert servicing.load("acme", loan_id).events[-1].on == date(2025, 1, 16)
        journal = ledger().get_journal("acme", r.json["journal_id"]).journal
        assert journal.effective_date == date(2025, 1, 16)


def test_a_naive_datetime_is_a_422_on_its_field(api: Any, shanghai: dict[str, str]) -> None:
    product = make_product(api, shanghai["admin"])["id"]
    loan_id = active_loan("acme", product, date(2025, 1, 10))
    r = _pay(api, shanghai["partner"], loan_id, "2025-01-15T23:30:00", "naive")
    assert r.status == 422
    assert [e["pointer"] for e in r.json["errors"]] == ["/body/paid_at"]
    assert r.json["errors"][0]["code"] == "timezone_aware"
    assert servicing.load("acme", loan_id).events == []  # nothing written
    r = _pay(api, shanghai["partner"], loan_id, "0001-01-01T00:00:00+14:00", "overflow")
    assert r.status == 422 and r.json["errors"][0]["code"] == "datetime_range"  # not a 500
    r = api.call("POST", "/v1/ledger/journals", {
        "journal_id": "j-naive", "effective_date": "2025-01-16", "pending": True,
        "expires_at": "2025-01-20T00:00:00",
        "postings": [{"account_id": "funding", "side": "debit", "amount": money("1.00")},
                     {"account_id": "funding", "side": "credit", "amount": money("1.00")}]},
        key=shanghai["operator"])
    assert r.status == 422 and "/body/expires_at" in {e["pointer"] for e in r.json["errors"]}


def test_reports_default_to_the_tenants_today(api: Any, shanghai: dict[str, str]) -> None:
    assert _set_clock(api, shanghai["admin"], LATE_EVENING_UTC).status == 200
    r = api.call("GET", "/v1/reports/portfolio", key=shanghai["reviewer"])
    assert r.status == 200 and r.json["as_of"] == "2025-01-16", r.json


# --- close of business -------------------------------------------------------------------------

def test_close_of_business_refuses_a_date_after_the_tenants_today(
        api: Any, shanghai: dict[str, str]) -> None:
    beta = _tenant(api, "beta", "America/Los_Angeles")
    for keys in (shanghai, beta):
        assert _set_clock(api, keys["admin"], LATE_EVENING_UTC).status == 200
    # Shanghai's today is the 16th: it may close the 16th, not the 17th.
    r = api.call("POST", "/v1/cob/runs", {"business_date": "2025-01-17"},
                 key=shanghai["operator"])
    assert r.status == 422, r.json
    assert r.json["errors"][0]["pointer"] == "/body/business_date"
    assert "2025-01-16" in r.json["detail"]
    ok = api.call("POST", "/v1/cob/runs", {"business_date": "2025-01-16"},
                  key=shanghai["operator"])
    assert ok.status == 202, ok.json
    # Los Angeles is still on the 15th.
    r = api.call("POST", "/v1/cob/runs", {"business_date": "2025-01-16"}, key=beta["operator"])
    assert r.status == 422 and "2025-01-15" in r.json["detail"]


def test_the_schedule_closes_each_tenants_local_yesterday_once(api: Any) -> None:
    _tenant(api, "acme", SHANGHAI)
    _tenant(api, "beta", "America/Los_Angeles")
    at = datetime.fromisoformat(LATE_EVENING_UTC)
    first = cob_job.run_all(now=at)
    assert {t: (v["business_date"], v["attempt"]) for t, v in first.items()} == {
        "acme": ("2025-01-15", 1), "beta": ("2025-01-14", 1)}
    again = cob_job.run_all(now=at + timedelta(minutes=15))  # the next 15-minute tick
    assert {t: (v["id"], v["status"]) for t, v in again.items()} == {
        t: (v["id"], "completed") for t, v in first.items()}  # no new attempt, no write
    later = cob_job.run_all(now=at + timedelta(hours=9))  # LA has passed its midnight
    assert later["beta"]["business_date"] == "2025-01-15" and later["acme"]["attempt"] == 1


# --- the sandbox clock -------------------------------------------------------------------------

def test_sandbox_clock_moves_the_tenants_now_and_is_audited(api: Any,
                                                            shanghai: dict[str, str]) -> None:
    real = api.call("GET", "/v1/sandbox/clock", key=shanghai["partner"]).json
    assert real["sandbox"] is False and real["time_zone"] == SHANGHAI
    ahead = datetime.now(UTC) + timedelta(days=30)
    r = _set_clock(api, shanghai["admin"], ahead.astimezone(clock.zone("acme")).isoformat())
    assert r.status == 200 and r.json["sandbox"] is True, r.json
    got = api.call("GET", "/v1/sandbox/clock", key=shanghai["operator"]).json
    shown = datetime.fromisoformat(got["now"])
    assert ahead <= shown < ahead + timedelta(seconds=30)  # it runs on from the instant set
    assert got["today"] == ahead.astimezone(clock.zone("acme")).date().isoformat()
    # The request's now is the sandbox's: a payment 10 days ahead of real time is not future.
    product = make_product(api, shanghai["admin"])["id"]
    loan_id = active_loan("acme", product, (datetime.now(UTC) - timedelta(days=5)).date())
    paid = (datetime.now(UTC) + timedelta(days=10)).isoformat()
    assert _pay(api, shanghai["partner"], loan_id, paid, "ahead").status == 201
    assert _pay(api, shanghai["partner"], loan_id,
                (ahead + timedelta(hours=1)).isoformat(), "beyond").status == 422
    # Back to the real clock; the chain of changes verifies.
    r = api.call("DELETE", "/v1/sandbox/clock", key=shanghai["admin"])
    assert r.status == 200 and r.json["sandbox"] is False
    trail = api.call("GET", "/v1/audit/sandbox_clock/acme", key=shanghai["admin"]).json["data"]
    assert [t["action"] for t in trail] == ["sandbox_clock.set", "sandbox_clock.reset"]
    assert api.call("POST", "/v1/audit/verify", key=shanghai["admin"]).json["ok"]
    for bad in ("2025-01-01T00:00:00", "9999-12-31T23:59:59-14:00"):  # naive, overflowing
        r = api.call("PUT", "/v1/sandbox/clock", {"now": bad}, key=shanghai["admin"])
        assert r.status == 422 and r.json["errors"][0]["pointer"] == "/body/now", r.json
    assert _set_clock(api, shanghai["operator"], LATE_EVENING_UTC).status == 403


def test_other_stages_have_no_sandbox_clock_and_never_read_one(
        api: Any, shanghai: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    assert _set_clock(api, shanghai["admin"], LATE_EVENING_UTC).status == 200
    prod = replace(config.settings(), stage="prod")  # (the test client sets the stage's env)
    monkeypatch.setattr(clock, "settings", lambda: prod)

    def no_read(_tenant: str) -> None:
        raise AssertionError("a sandbox item was read outside a sandbox stage")

    monkeypatch.setattr(sandbox_clock, "get", no_read)
    for method in ("GET", "DELETE"):
        r = api.call(method, "/v1/sandbox/clock", key=shanghai["admin"])
        assert r.status == 404 and r.json["type"].endswith(":not-found"), r.json
    assert _set_clock(api, shanghai["admin"], LATE_EVENING_UTC).status == 404
    assert abs(clock.now("acme") - datetime.now(UTC)) < timedelta(seconds=5)
