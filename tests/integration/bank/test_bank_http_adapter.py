"""The `bank_http` adapter against the fake bank process over real HTTPS: what each answer
means (settled, refused, 5xx, paid-but-timed-out, down), idempotent resends, a wrong secret,
and a secret that never leaks into an outcome."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.channels import bank_http
from chalicelib.channels.protocol import OutcomeKind, Payout
from chalicelib.lending.beneficiary import Beneficiary
from infra.fake_bank_process import FakeBank, spawn

SECRET = "bank-api-secret-" + "x" * 16
DEFAULTS = {"latency_ms": 0, "failure_rate": 0.0, "refusal_rate": 0.0, "paid_timeout_rate": 0.0,
            "paid_timeout_ms": 1500, "settle": "sync", "hold_callbacks": False}


@pytest.fixture(scope="module")
def bank() -> Iterator[FakeBank]:
    running = spawn()
    running.add_client("lender", SECRET, None)
    yield running
    running.stop()


@pytest.fixture
def fresh(bank: FakeBank, aws: Any) -> FakeBank:
    from chalicelib.services import personal_data

    personal_data.reset()
    bank.control("POST", "/_control/down", {"down": False})
    bank.configure(**DEFAULTS)
    return bank


def adapter(bank: FakeBank, secret: str = SECRET, **over: Any) -> bank_http.BankHttpChannel:
    from chalicelib.services import personal_data

    sealed = personal_data.seal("acme", bank_http.SECRET_RECORD, "ch_bank", {"secret": secret})
    config = {"base_url": bank.url, "client_id": "lender", "api_secret_sealed": sealed,
              "ca_cert_pem": bank.ca_pem, "connect_timeout_ms": 1000, "read_timeout_ms": 500,
              **over}
    return bank_http.BankHttpChannel("ch_bank", config)


def payout(amount: int = 1_000_000) -> Payout:
    who = Beneficiary("bank_account", "张三", "ICBC", "6222020000000000000", "cn_unionpay_card")
    return Payout(f"dsb_{secrets.token_hex(8)}.1", "acme", "ch_bank", "loan_1", amount, "CNY",
                  who)


def executed(bank: FakeBank, payout_id: str) -> list[dict[str, Any]]:
    return [p for p in bank.ledger()["payouts"] if p["payout_id"] == payout_id]


def test_settles_and_a_resend_with_the_same_key_pays_once(fresh: FakeBank) -> None:
    a, p = adapter(fresh), payout()
    first = a.submit(p)
    again = a.submit(p)
    assert first.kind is OutcomeKind.SETTLED and first.provider_ref
    assert again == first
    assert a.status(p).kind is OutcomeKind.SETTLED
    assert len(executed(fresh, p.payout_id)) == 1
    assert executed(fresh, p.payout_id)[0]["amount"] == 1_000_000


def test_a_refusal_is_certainly_not_paid(fresh: FakeBank) -> None:
    fresh.configure(refusal_rate=1.0)
    a, p = adapter(fresh), payout()
    out = a.submit(p)
    assert out.kind is OutcomeKind.FAILED and "refused" in out.reason
    assert a.status(p).kind is OutcomeKind.NOT_FOUND and not executed(fresh, p.payout_id)


def test_a_5xx_is_ambiguous_and_the_status_query_says_never_executed(fresh: FakeBank) -> None:
    fresh.configure(failure_rate=1.0)
    a, p = adapter(fresh), payout()
    assert a.submit(p).kind is OutcomeKind.TIMEOUT
    assert a.status(p).kind is OutcomeKind.NOT_FOUND


def test_paid_but_timed_out_is_ambiguous_and_the_status_query_finds_it_paid(
        fresh: FakeBank) -> None:
    fresh.configure(paid_timeout_rate=1.0, paid_timeout_ms=1500)
    a, p = adapter(fresh), payout()
    out = a.submit(p)
    assert out.kind is OutcomeKind.TIMEOUT, out
    status = a.status(p)
    assert status.kind is OutcomeKind.SETTLED and status.provider_ref
    assert len(executed(fresh, p.payout_id)) == 1


def test_a_bank_that_is_down_refuses_the_connection_so_nothing_was_sent(
        fresh: FakeBank) -> None:
    fresh.control("POST", "/_control/down", {"down": True})
    try:
        a, p = adapter(fresh), payout()
        out = a.submit(p)
        assert out.kind is OutcomeKind.FAILED and "not reached" in out.reason
        assert a.status(p).kind is OutcomeKind.UNKNOWN
    finally:
        fresh.control("POST", "/_control/down", {"down": False})


def test_a_wrong_secret_is_refused_and_never_shown(fresh: FakeBank) -> None:
    wrong = "wrong-secret-" + "y" * 20
    out = adapter(fresh, secret=wrong).submit(payout())
    assert out.kind is OutcomeKind.FAILED and "X-Signature" in out.reason
    assert wrong not in repr(out) and SECRET not in repr(out)


def test_an_untrusted_certificate_is_never_sent_to(fresh: FakeBank) -> None:
    a, p = adapter(fresh, ca_cert_pem=None), payout()
    out = a.submit(p)
    assert out.kind is OutcomeKind.FAILED and "SSLError" in out.reason
    assert not executed(fresh, p.payout_id)


def test_the_same_key_with_another_body_is_refused(fresh: FakeBank) -> None:
    a, p = adapter(fresh), payout()
    assert a.submit(p).kind is OutcomeKind.SETTLED
    other = Payout(p.payout_id, p.tenant, p.channel_id, p.loan_id, p.amount + 1, p.currency,
                   p.beneficiary)
    assert a.submit(other).kind is OutcomeKind.FAILED
    assert len(executed(fresh, p.payout_id)) == 1


def test_the_signed_statement_lists_the_clients_payouts(fresh: FakeBank) -> None:
    from datetime import UTC, datetime

    from chalicelib.lending import statement

    a, p = adapter(fresh), payout(123_45)
    assert a.submit(p).kind is OutcomeKind.SETTLED
    today = datetime.now(UTC).date()
    lines = statement.parse(a.statement("acme", today, today, "csv"))
    assert (p.payout_id, "payout", 123_45) in [(x.reference, x.type, x.amount) for x in lines]
    assert b"<EndToEndId>" + p.payout_id.encode() in a.statement("acme", today, today)
    with pytest.raises(bank_http.BankUnavailable):
        adapter(fresh, secret="wrong-secret-" + "z" * 20).statement("acme", today, today)


def test_a_404_that_does_not_name_the_payout_is_not_never_executed(fresh: FakeBank) -> None:
    """A wrong base path (or a proxy) answers 404 too: only the bank's own `not_found` for this
    payout id may let the money fail over to another channel."""
    wrong = adapter(fresh, base_url=fresh.url + "/v9")
    assert wrong.status(payout()).kind is OutcomeKind.UNKNOWN
    assert adapter(fresh).status(payout()).kind is OutcomeKind.NOT_FOUND


def test_the_bank_records_exactly_the_beneficiary_it_was_told(fresh: FakeBank) -> None:
    a, p = adapter(fresh), payout()
    assert a.submit(p).kind is OutcomeKind.SETTLED
    assert p.beneficiary is not None
    assert executed(fresh, p.payout_id)[0]["beneficiary"] == p.beneficiary.as_json()


@pytest.mark.parametrize(("who", "named"), [
    (None, "beneficiary missing"),
    (Beneficiary("bank_account", "张三", "ICBC", "6222020000000000001", "cn_unionpay_card"),
     "beneficiary.account_number luhn_check_failed"),
    (Beneficiary("bank_account", "Anna Li", None, "DE88370400440532013000", "iban"),
     "beneficiary.account_number iban_check_failed"),
    (Beneficiary("ewallet", "张三", wallet_provider="alipay"),
     "beneficiary.wallet_id missing"),
])
def test_a_beneficiary_the_bank_cannot_pay_is_refused_and_never_paid(
        fresh: FakeBank, who: Beneficiary | None, named: str) -> None:
    p = payout()
    p = Payout(p.payout_id, p.tenant, p.channel_id, p.loan_id, p.amount, p.currency, who)
    a = adapter(fresh)
    out = a.submit(p)
    assert out.kind is OutcomeKind.FAILED and "beneficiary cannot be paid" in out.reason
    assert named in out.reason
    assert a.status(p).kind is OutcomeKind.NOT_FOUND and not executed(fresh, p.payout_id)
    for secret in ("6222020000000000001", "DE88370400440532013000"):  # no account echoed
        assert secret not in out.reason


def test_a_closed_account_is_refused_though_its_number_is_valid(fresh: FakeBank) -> None:
    p = payout()
    assert p.beneficiary is not None and p.beneficiary.account_number
    fresh.configure(closed_accounts=[p.beneficiary.account_number])
    try:
        out = adapter(fresh).submit(p)
    finally:
        fresh.configure(closed_accounts=[])
    assert out.kind is OutcomeKind.FAILED and "closed" in out.reason
    assert not executed(fresh, p.payout_id)
