"""Payouts through the fake bank (`python -m fakebank`) over real HTTPS from the real local stack
(`python -m infra.local_stack`): settled at once and by callback, paid-but-timed-out never paid
again elsewhere, a bank that is down fails over, a late callback after escalation lands,
duplicate callbacks change nothing, and the books reconcile against the bank's statement."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

import pytest

from chalicelib.channels import bank_signing
from infra.fake_bank_process import FakeBank, spawn
from infra.local_stack import ROOT, app_env
from tests.e2e.test_disbursement import channel, disburse, product, signed_loan, tenant_with_keys
from tests.e2e.test_local_stack import _post
from tests.integration.origination.conftest import UNIONPAY_CARD, payout_account

pytestmark = pytest.mark.e2e
DEFAULTS = {"latency_ms": 0, "failure_rate": 0.0, "refusal_rate": 0.0, "paid_timeout_rate": 0.0,
            "paid_timeout_ms": 3000, "settle": "sync", "hold_callbacks": False,
            "duplicate_callbacks": 0, "callback_delay_ms": 0, "closed_accounts": []}
_serial = count(300)
API_SECRETS: dict[str, str] = {}  # client id -> its API secret (to act as the lender's portal)


def eventually(read: Callable[[], Any], holds: Callable[[Any], bool],
               timeout: float = 20.0) -> Any:
    """`read()` again until `holds` its answer or `timeout` passes; the last answer."""
    deadline = time.monotonic() + timeout
    while not holds(got := read()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return got


@pytest.fixture(scope="module")
def bank() -> Iterator[FakeBank]:
    running = spawn()
    yield running
    running.stop()


@pytest.fixture
def world(stack: Any, bank: FakeBank) -> dict[str, Any]:
    bank.control("POST", "/_control/down", {"down": False})
    bank.configure(**DEFAULTS)
    keys = tenant_with_keys(stack)
    return {"keys": keys, "product": product(stack, keys)}


def bank_channel(stack: Any, bank: FakeBank, keys: dict[str, str], fund: str = "1000000.00",
                 **fields: Any) -> tuple[str, str]:
    """A funded `bank_http` channel at the fake bank; returns (channel id, its client id)."""
    client_id, api_secret = f"lender-{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(24)
    settings = {"base_url": bank.url, "client_id": client_id, "api_secret": api_secret,
                "ca_cert_pem": bank.ca_pem, "read_timeout_ms": 1000,
                "callback_url": stack.base + "/v1/channel-callbacks/{channel_id}"}
    body = {"name": "fake bank", "type": "bank_http", "currency": "CNY",
            "settlement_seconds": 60, "fixed_cost": "1.00", "bank_http": settings, **fields}
    r = _post(stack, "/v1/channels", body, keys["admin"])
    assert r.status_code == 201, r.text
    created = r.json()
    assert api_secret not in r.text and "sealed" not in r.text
    assert created["bank_http"]["api_secret_set"] is True
    bank.add_client(client_id, api_secret, created["webhook_secret"])
    API_SECRETS[client_id] = api_secret
    f = _post(stack, f"/v1/channels/{created['id']}/fundings", {"amount": fund,
                                                                "reference": "init"},
              keys["operator"])
    assert f.status_code == 201, f.text
    bank.control("POST", "/_control/deposits", {"client_id": client_id, "reference": "init",
                                                "amount": fund, "currency": "CNY"})
    return created["id"], client_id


def paid(bank: FakeBank, client_id: str) -> list[dict[str, Any]]:
    return [p for p in bank.ledger()["payouts"] if p["client_id"] == client_id]


def disbursement(stack: Any, keys: dict[str, str], loan_id: str) -> dict[str, Any]:
    r = disburse(stack, keys, loan_id)
    assert r.status_code in (200, 202), r.text
    return stack.call("GET", f"/v1/disbursements/{r.json()['id']}", keys["admin"]).json()


def state(stack: Any, keys: dict[str, str], disbursement_id: str) -> dict[str, Any]:
    return stack.call("GET", f"/v1/disbursements/{disbursement_id}", keys["admin"]).json()


def loan_status(stack: Any, keys: dict[str, str], loan_id: str) -> str:
    return str(stack.call("GET", f"/v1/loans/{loan_id}", keys["admin"]).json()["status"])


def new_loan(stack: Any, w: dict[str, Any], **overrides: Any) -> str:
    return signed_loan(stack, w["keys"], w["product"], next(_serial), **overrides)


def test_a_payout_settles_through_the_bank_at_once(stack, bank, world):
    keys = world["keys"]
    cid, client = bank_channel(stack, bank, keys)
    loan = new_loan(stack, world)
    d = disbursement(stack, keys, loan)
    assert d["status"] == "settled", d
    attempt = d["attempts"][-1]
    assert attempt["channel_id"] == cid and attempt["status"] == "settled"
    assert [p["payout_id"] for p in paid(bank, client)] == [attempt["payout_id"]]
    assert loan_status(stack, keys, loan) == "active"


def test_a_payout_settles_by_the_banks_signed_callback_and_duplicates_change_nothing(
        stack, bank, world):
    keys = world["keys"]
    bank.configure(settle="callback", callback_delay_ms=300, duplicate_callbacks=2)
    _, client = bank_channel(stack, bank, keys)
    loan = new_loan(stack, world)
    d = disbursement(stack, keys, loan)
    assert d["attempts"][-1]["status"] in ("submitted", "settled"), d
    settled = eventually(lambda: state(stack, keys, d["id"]),
                         lambda s: s["status"] == "settled", timeout=20)
    assert [a["status"] for a in settled["attempts"]] == ["settled"]
    eventually(lambda: bank.ledger()["callbacks_sent"], lambda n: n >= 3, timeout=20)
    assert len(paid(bank, client)) == 1 and loan_status(stack, keys, loan) == "active"
    v = stack.call("POST", "/v1/ledger/verify", keys["admin"], data=b"",
                   headers={"Idempotency-Key": str(uuid.uuid4())})
    assert v.status_code == 200 and v.json()["ok"], v.text


def test_paid_but_timed_out_is_never_paid_again_through_another_channel(stack, bank, world):
    keys = world["keys"]
    cid, client = bank_channel(stack, bank, keys)
    other = channel(stack, keys, "fallback", "1000000.00", fixed_cost="9.00")
    bank.configure(paid_timeout_rate=1.0, paid_timeout_ms=3000)
    loan = new_loan(stack, world)
    d = disbursement(stack, keys, loan)
    assert d["status"] == "settled", d
    assert [(a["channel_id"], a["status"]) for a in d["attempts"]] == [(cid, "settled")]
    assert len(paid(bank, client)) == 1
    fallback = stack.call("GET", f"/v1/channels/{other}", keys["admin"]).json()
    assert fallback["balance"] == fallback["available"] == {"amount": "1000000.00",
                                                            "currency": "CNY"}
    assert loan_status(stack, keys, loan) == "active"


def test_a_bank_that_is_down_opens_its_breaker_and_the_payout_fails_over(stack, bank, world):
    keys = world["keys"]
    cid, client = bank_channel(stack, bank, keys, breaker={"threshold": 1,
                                                           "cooldown_seconds": 600})
    other = channel(stack, keys, "fallback", "1000000.00", fixed_cost="9.00")
    bank.control("POST", "/_control/down", {"down": True})
    try:
        loan = new_loan(stack, world)
        d = disbursement(stack, keys, loan)
    finally:
        bank.control("POST", "/_control/down", {"down": False})
    assert d["status"] == "settled", d
    assert [(a["channel_id"], a["status"]) for a in d["attempts"]] == [
        (cid, "failed"), (other, "settled")]
    assert "not reached" in d["attempts"][0]["reason"]
    assert not paid(bank, client)
    view = stack.call("GET", f"/v1/channels/{cid}", keys["admin"]).json()
    assert view["breaker"]["state"] == "open", view["breaker"]
    assert view["available"]["amount"] == "1000000.00"  # its reservation was released


def job_at(stack: Any, code: str, tenant: str, at: datetime) -> Any:
    """`code` (statements of `tenant` and `at` that set `out`, printed as JSON) run as the
    stack's jobs run, against its own moto, at `at`: the stack schedules its jobs on the real
    clock, too late for a test."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LENDING_"))},
           **app_env(stack.moto_port), "PLATFORM_ADMIN_KEY": stack.admin_key}
    script = ("import json, sys; from datetime import datetime, timedelta; "
              "tenant = sys.argv[1]; "
              f"at = datetime.fromisoformat(sys.argv[2]); {code}; "
              "print(json.dumps(out, default=str))")
    run = subprocess.run([sys.executable, "-c", script, tenant, at.isoformat()], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def resume_at(stack: Any, keys: dict[str, str], at: datetime) -> dict[str, int]:
    """The tenant's sandbox clock set to `at` (PUT /v1/sandbox/clock), then the resume job
    (services/disbursements.resume) against the stack's own moto on that clock: the stack
    schedules it every 5 minutes, too late for a test."""
    r = stack.call("PUT", "/v1/sandbox/clock", keys["admin"], json={"now": at.isoformat()})
    assert r.status_code == 200, r.text
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LENDING_"))},
           **app_env(stack.moto_port), "PLATFORM_ADMIN_KEY": stack.admin_key}
    code = ("import json,sys; from chalicelib.services import disbursements as d; "
            "print(json.dumps(d.resume(sys.argv[1])))")
    out = subprocess.run([sys.executable, "-c", code, keys["tenant"]], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120, check=True)
    result: dict[str, int] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_a_late_callback_after_escalation_lands(stack, bank, world):
    keys = world["keys"]
    bank.configure(settle="callback", hold_callbacks=True)
    _, client = bank_channel(stack, bank, keys)
    loan = new_loan(stack, world)
    d = disbursement(stack, keys, loan)
    assert d["attempts"][-1]["status"] == "submitted", d
    later = datetime.now(UTC) + timedelta(days=6, hours=12)  # past escalation, before expiry
    assert resume_at(stack, keys, later) == {"escalated": 1}
    escalated = state(stack, keys, d["id"])
    assert escalated["attempts"][-1]["status"] == "escalated", escalated
    assert loan_status(stack, keys, loan) == "disbursing"
    assert bank.control("POST", "/_control/callbacks/release", {})["released"] == 1
    settled = eventually(lambda: state(stack, keys, d["id"]),
                         lambda s: s["status"] == "settled", timeout=20)
    assert [a["status"] for a in settled["attempts"]] == ["settled"]
    assert len(paid(bank, client)) == 1 and loan_status(stack, keys, loan) == "active"


def test_the_books_reconcile_against_the_banks_statement(stack, bank, world):
    keys = world["keys"]
    cid, client = bank_channel(stack, bank, keys)
    loans = [new_loan(stack, world) for _ in range(3)]
    for loan in loans:
        assert disbursement(stack, keys, loan)["status"] == "settled"
    today = datetime.now(UTC).date().isoformat()
    csv = bank.control("GET", f"/_control/statements?client_id={client}&from={today}"
                              f"&to={today}&format=csv")
    assert csv.decode().count("\n") == 5  # header, the prefunding deposit, three payouts
    r = _post(stack, "/v1/reconciliation/runs", {"channel": cid, "csv": csv.decode()},
              keys["operator"])
    assert r.status_code in (200, 201, 202), r.text
    run = eventually(lambda: stack.call("GET", f"/v1/reconciliation/runs/{r.json()['id']}",
                                        keys["operator"]).json(),
                     lambda x: x["status"] == "completed", timeout=30)
    assert run["counts"].get("matched") == 4, run
    exceptions = stack.call("GET", "/v1/reconciliation/exceptions", keys["operator"]).json()
    assert run["new_exceptions"] == 0, (run, exceptions)


def test_the_readme_payout_to_the_fake_bank_runs_as_pasted(tmp_path):
    """`make run FAKE_BANK=1` (the stack's --fake-bank), the lifecycle guide to a signed
    contract, then the README's bank section, as pasted."""
    from tests.e2e.conftest import start_stack, stop_stack
    from tests.e2e.test_lifecycle_guide import _run

    tenant = f"bank{uuid.uuid4().hex[:8]}"
    guide = (ROOT / "docs" / "lifecycle.md").read_text(encoding="utf-8").split("\n## 5.")[0]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Paying through a bank (the fake bank)\n", 1)[1].split(
        "\n## ", 1)[0]
    blocks = [re.findall(r"^```sh\n(.*?)^```$", text, flags=re.S | re.M)
              for text in (guide, section)]
    assert blocks[1], "the README shows a payout to the fake bank"
    script = "\n".join(blocks[0] + blocks[1]).replace("acme", tenant)
    stack = start_stack({"FAKE_BANK": "1"})
    try:
        assert stack.env_file is not None and "BANK_CA=" in stack.env_file.read_text()
        run = _run(stack, tmp_path, script)
    finally:
        stop_stack(stack)
    assert run.returncode == 0, (run.stdout[-2000:], run.stderr[-2000:])
    out = run.stdout
    assert "\nsettled\n" in out, out[-3000:]
    assert f'"client_id": "{tenant}"' in out and ".1\"" in out  # the bank's ledger
    assert "camt.053.001.08" in out and "<EndToEndId>" in out


def test_the_bank_is_paid_to_exactly_the_account_the_application_gave(stack, bank, world):
    keys = world["keys"]
    _, client = bank_channel(stack, bank, keys)
    loan = new_loan(stack, world)  # the default application's UnionPay card, in its name
    assert disbursement(stack, keys, loan)["status"] == "settled"
    [payout] = paid(bank, client)
    assert payout["beneficiary"] == payout_account("王小明") == {
        "kind": "bank_account", "scheme": "cn_unionpay_card", "bank_code": "ICBC",
        "account_number": UNIONPAY_CARD, "holder_name": "王小明"}
    today = datetime.now(UTC).date().isoformat()
    xml = bank.control("GET", f"/_control/statements?client_id={client}&from={today}"
                              f"&to={today}&format=camt053").decode()
    entry = xml.split(f"<EndToEndId>{payout['payout_id']}</EndToEndId>", 1)[1]
    assert entry.split("</Ntry>", 1)[0].split() == [
        "</Refs>", "<RltdPties>", "<Cdtr>", "<Pty>", "<Nm>王小明</Nm>", "</Pty>", "</Cdtr>",
        "<CdtrAcct>", "<Id>", "<Othr>", f"<Id>{UNIONPAY_CARD}</Id>", "<SchmeNm>",
        "<Prtry>cn_unionpay_card</Prtry>", "</SchmeNm>", "</Othr>", "</Id>", "</CdtrAcct>",
        "</RltdPties>", "</TxDtls>", "</NtryDtls>"]


CLOSED_CARD = "6212345678901232"  # Luhn-valid, BIN 62: our side accepts it, the bank refuses


def test_a_beneficiary_the_bank_refuses_fails_cleanly_with_nothing_paid(stack, bank, world):
    """A 4xx refusal is certainly unpaid: the attempt fails, its reservation is released, and
    with no other channel the disbursement ends failed (another channel would be tried next:
    see the test below)."""
    keys = world["keys"]
    bank.configure(closed_accounts=[CLOSED_CARD])
    cid, client = bank_channel(stack, bank, keys)
    loan = new_loan(stack, world, beneficiary=payout_account("王小明", CLOSED_CARD))
    r = disburse(stack, keys, loan)
    d = state(stack, keys, r.json()["id"])
    assert [(a["channel_id"], a["status"]) for a in d["attempts"]] == [(cid, "failed")], d
    assert "account is closed" in d["attempts"][0]["reason"]
    assert CLOSED_CARD not in json.dumps(d)  # masked everywhere but at the bank
    assert d["status"] == "failed", d
    assert not paid(bank, client)
    view = stack.call("GET", f"/v1/channels/{cid}", keys["admin"]).json()
    assert view["available"] == view["balance"] == {"amount": "1000000.00", "currency": "CNY"}


def test_a_beneficiary_the_bank_refuses_fails_over_to_the_next_channel(stack, bank, world):
    keys = world["keys"]
    bank.configure(closed_accounts=[CLOSED_CARD])
    cid, client = bank_channel(stack, bank, keys)
    other = channel(stack, keys, "fallback", "1000000.00", fixed_cost="9.00")
    loan = new_loan(stack, world, beneficiary=payout_account("王小明", CLOSED_CARD))
    d = disbursement(stack, keys, loan)
    assert [(a["channel_id"], a["status"]) for a in d["attempts"]] == [
        (cid, "failed"), (other, "settled")], d
    assert not paid(bank, client) and loan_status(stack, keys, loan) == "active"


def reconcile(stack: Any, keys: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    r = _post(stack, "/v1/reconciliation/runs", body, keys["operator"])
    assert r.status_code in (200, 201, 202), r.text
    run: dict[str, Any] = eventually(
        lambda: stack.call("GET", f"/v1/reconciliation/runs/{r.json()['id']}",
                           keys["operator"]).json(),
        lambda x: x["status"] == "completed", timeout=30)
    return run


def portal_payout(bank: FakeBank, client: str, amount: str) -> str:
    """A payout the lender made at the bank by hand (its portal), unknown to our ledger."""
    import requests

    payout_id = f"manual-{uuid.uuid4().hex[:8]}"
    body = json.dumps({"payout_id": payout_id, "amount": amount, "currency": "CNY",
                       "beneficiary": payout_account("王小明")}).encode()
    headers = {"Content-Type": "application/json", "Idempotency-Key": payout_id,
               **bank_signing.headers(client, API_SECRETS[client], "POST", "/payouts",
                                      int(time.time()), body)}
    r = requests.post(bank.url + "/payouts", data=body, headers=headers, timeout=10,
                      verify=str(bank.ca_file))
    assert r.status_code == 201, r.text
    return payout_id


def test_the_books_reconcile_against_the_banks_camt053_and_a_stray_payout_is_one_exception(
        stack, bank, world):
    keys = world["keys"]
    cid, client = bank_channel(stack, bank, keys)
    for _ in range(2):
        assert disbursement(stack, keys, new_loan(stack, world))["status"] == "settled"
    r = stack.call("PUT", f"/v1/channels/{cid}/statement-format", keys["admin"],
                   json={"format": "camt053", "account": f"FB-{client}"})
    assert r.status_code == 200, r.text
    today = datetime.now(UTC).date().isoformat()

    def camt() -> str:
        return bank.control("GET", f"/_control/statements?client_id={client}&from={today}"
                                   f"&to={today}&format=camt053").decode()

    clean = reconcile(stack, keys, {"channel": cid, "format": "camt053", "xml": camt()})
    assert clean["format"] == "camt053" and clean["new_exceptions"] == 0, clean
    assert clean["counts"] == {"matched": 3, "missing_in_ledger": 0, "missing_in_statement": 0,
                               "amount_mismatch": 0, "duplicate": 0}, clean
    stray = portal_payout(bank, client, "123.45")
    run = reconcile(stack, keys, {"channel": cid, "format": "camt053", "xml": camt()})
    assert run["counts"] == {**clean["counts"], "missing_in_ledger": 1}, run
    assert run["new_exceptions"] == 1, run
    found = stack.call("GET", "/v1/reconciliation/exceptions?limit=100",
                       keys["operator"]).json()["data"]
    mine = [(e["kind"], e["reference"], e["detail"]["statement_line"]["amount"])
            for e in found if e["channel"] == cid]
    assert mine == [("missing_in_ledger", stray, "123.45")], found


def test_the_scheduled_fetch_stores_the_banks_camt053_and_the_nightly_run_reconciles_it(
        stack, bank, world):
    """The hourly job and the nightly checks of the local stack, run at tomorrow's time: the
    bank's statement of today (the tenant's previous business day then) is fetched over the
    signed protocol, stored once, and reconciled with every line matched."""
    keys = world["keys"]
    tenant = keys["tenant"]
    cid, client = bank_channel(stack, bank, keys)
    r = stack.call("PUT", f"/v1/channels/{cid}/statement-format", keys["admin"],
                   json={"format": "camt053", "account": f"FB-{client}"})
    assert r.status_code == 200, r.text
    for _ in range(2):
        assert disbursement(stack, keys, new_loan(stack, world))["status"] == "settled"
    at = datetime.now(UTC) + timedelta(days=1)  # the e2e tenant's business day is UTC's
    fetch = ("from chalicelib.services import statement_fetch as f; "
             "out = [vars(x) for x in f.fetch_tenant(tenant, at)]")
    [fetched] = job_at(stack, fetch, tenant, at)
    day = datetime.now(UTC).date().isoformat()
    assert fetched == {"channel_id": cid, "outcome": "fetched", "error": None,
                       "key": f"{tenant}/statements/{cid}/{day}-fetched.xml"}
    assert [x["outcome"] for x in job_at(stack, fetch, tenant, at)] == ["already"]
    night = job_at(stack, "from chalicelib.services import daily_checks as d; "
                          "out = d.run_tenant(tenant, at.date() - timedelta(days=1), at)",
                   tenant, at)["reconciliation"]
    assert night["failures"] == [], night
    [run] = night["runs"]
    assert run["statement"] == fetched["key"], run
    assert run["counts"] == {"matched": 3, "missing_in_ledger": 0, "missing_in_statement": 0,
                             "amount_mismatch": 0, "duplicate": 0}, run
