"""Statements fetched from the bank, not only uploaded: the scheduled fetch asks the fake bank
process (real HTTPS, signed) for each `bank_http` channel's previous business day in the
channel's format, stores it once in moto S3 where the nightly run looks, and the nightly run
then reconciles it against the real disbursements with no exception."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib import clock
from chalicelib.config import settings
from chalicelib.jobs import nightly_checks
from chalicelib.jobs import statement_fetch as job
from chalicelib.services import daily_checks, statement_fetch
from infra.fake_bank_process import FakeBank, spawn
from tests.integration.disbursement.conftest import disburse, signed_loan
from tests.integration.disbursement.test_statement_formats import MAPPING

CLEAN = {"matched": 3, "missing_in_ledger": 0, "missing_in_statement": 0, "amount_mismatch": 0,
         "duplicate": 0}


@pytest.fixture(scope="module")
def bank() -> Iterator[FakeBank]:
    running = spawn()
    yield running
    running.stop()


def bank_channel(api: Any, keys: dict[str, str], bank: FakeBank, *, known: bool = True
                 ) -> tuple[str, str]:
    """A funded `bank_http` channel at the fake bank (`known`: the bank accepts its client)."""
    client_id, secret = f"lender-{secrets.token_hex(4)}", secrets.token_urlsafe(24)
    body = {"name": "bank", "type": "bank_http", "currency": "CNY", "settlement_seconds": 60,
            "bank_http": {"base_url": bank.url, "client_id": client_id, "api_secret": secret,
                          "ca_cert_pem": bank.ca_pem, "read_timeout_ms": 2000}}
    r = api.call("POST", "/v1/channels", body, key=keys["admin"])
    assert r.status == 201, r.json
    cid = r.json["id"]
    f = api.call("POST", f"/v1/channels/{cid}/fundings", {"amount": "100000.00",
                                                          "reference": "initial"},
                 key=keys["operator"])
    assert f.status == 201, f.json
    if known:
        bank.add_client(client_id, secret, None)
        bank.control("POST", "/_control/deposits", {"client_id": client_id,
                                                    "reference": "initial",
                                                    "amount": "100000.00", "currency": "CNY"})
    return cid, client_id


def pay_two(api: Any, keys: dict[str, str], aws: Any, product_id: str) -> None:
    for _ in range(2):
        loan_id = signed_loan(api, keys, aws, product_id)
        d = disburse(api, keys["partner"], loan_id)
        assert d.status in (200, 202), d.json
        got = api.call("GET", f"/v1/disbursements/{d.json['id']}", key=keys["admin"]).json
        assert got["status"] == "settled", got


def the_next_day(tenant: str) -> datetime:
    """An instant of the tenant's next business day: its previous day is today, when the
    payouts were booked."""
    now = datetime.now(UTC)
    return now + timedelta(days=1) if clock.business_date(tenant, now) == now.date() else now


@pytest.mark.parametrize(("setting", "fmt"), [("camt053", "camt053"), (None, "native"),
                                             ("mapped_csv", "native")])
def test_the_fetched_statement_is_stored_once_and_the_nightly_run_reconciles_it(
        api, acme, product, aws, bank, setting, fmt) -> None:
    """camt.053 when the channel's statements are; else the protocol's CSV, read as native
    even when the channel maps the CSVs people upload (`mapped_csv`)."""
    cid, client_id = bank_channel(api, acme, bank)
    if setting is not None:
        body = {"format": setting, "account": f"FB-{client_id}"}
        if setting == "mapped_csv":
            body["csv"] = MAPPING
        r = api.call("PUT", f"/v1/channels/{cid}/statement-format", body, key=acme["admin"])
        assert r.status == 200, r.json
    pay_two(api, acme, aws, product["id"])
    at = the_next_day("acme")
    [first] = statement_fetch.fetch_tenant("acme", at)
    day = (at - timedelta(days=1)).date().isoformat()
    suffix = "-fetched.xml" if fmt == "camt053" else "-fetched.native.csv"
    assert (first.channel_id, first.key, first.outcome) == (
        cid, f"acme/statements/{cid}/{day}{suffix}", "fetched")
    etag = aws["s3"].head_object(Bucket=settings().bucket, Key=first.key)["ETag"]
    assert [f.outcome for f in statement_fetch.fetch_tenant("acme", at)] == ["already"]
    assert aws["s3"].head_object(Bucket=settings().bucket, Key=first.key)["ETag"] == etag
    listed = aws["s3"].list_objects_v2(Bucket=settings().bucket,
                                       Prefix=f"acme/statements/{cid}/")["Contents"]
    assert [o["Key"] for o in listed] == [first.key]
    assert nightly_checks.run_all(now=at) == {"acme": True}  # the nightly job, as scheduled
    stored = daily_checks.stored_verification("acme", (at - timedelta(days=1)).date())
    assert stored is not None
    night = daily_checks.verification_view(stored)["reconciliation"]
    assert night["failures"] == [] and night["ok"], night
    [run] = night["runs"]
    assert run["statement"] == first.key and run["counts"] == CLEAN, run
    stored = api.call("GET", f"/v1/reconciliation/runs/{run['run_id']}", key=acme["operator"])
    assert stored.json["format"] == fmt and stored.json["new_exceptions"] == 0, stored.json
    assert daily_checks.reconcile_new("acme", at)["runs"] == []  # reconciled once


def test_one_bank_failing_does_not_stop_the_others_and_the_job_counts_both(
        api, acme, product, aws, bank) -> None:
    good, _ = bank_channel(api, acme, bank)
    bad, _ = bank_channel(api, acme, bank, known=False)  # the bank answers 401
    at = the_next_day("acme")
    assert job.run_all(at)["acme"] == {"fetched": 1, "failed": 1}
    keys = [o["Key"] for o in aws["s3"].list_objects_v2(
        Bucket=settings().bucket, Prefix="acme/statements/").get("Contents", [])]
    assert [k.split("/")[2] for k in keys] == [good]
    assert job.run_all(at)["acme"] == {"already": 1, "failed": 1}
    by_channel = {f.channel_id: f for f in statement_fetch.fetch_tenant("acme", at)}
    assert "HTTP 401" in (by_channel[bad].error or "")


def test_a_concurrent_second_fetch_leaves_the_first_object(api, acme, aws, bank,
                                                           monkeypatch) -> None:
    """Two runs that both found no object yet: the conditional put lets only one write, so
    the ETag (and the nightly run id derived from it) cannot change under the reconciliation."""
    bank_channel(api, acme, bank)
    at = the_next_day("acme")
    [first] = statement_fetch.fetch_tenant("acme", at)
    etag = aws["s3"].head_object(Bucket=settings().bucket, Key=first.key)["ETag"]
    monkeypatch.setattr(statement_fetch, "_exists", lambda key: False)  # lost the race
    assert [f.outcome for f in statement_fetch.fetch_tenant("acme", at)] == ["already"]
    assert aws["s3"].head_object(Bucket=settings().bucket, Key=first.key)["ETag"] == etag
