"""Standard Webhooks signing (published vector + the reference library), retry schedule bounds,
personal-data screening and URL rules."""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from chalicelib.lending import webhooks as rules


def test_signature_matches_the_published_standard_webhooks_vector():
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    got = rules.signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
                          b'{"test": 2432232314}')
    assert got == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


@given(st.binary(min_size=0, max_size=300), st.text(min_size=1, max_size=40,
       alphabet=st.characters(min_codepoint=33, max_codepoint=126)))
def test_every_signature_verifies_with_an_independent_implementation(body, msg_id):
    secret = rules.new_secret()
    body = body.decode("latin-1").encode()  # any bytes a JSON body could hold
    ts = int(time.time())
    header = rules.signature(secret, msg_id, ts, body)
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mine = base64.b64encode(hmac.new(key, f"{msg_id}.{ts}.".encode() + body,
                                     hashlib.sha256).digest()).decode()
    assert header == f"v1,{mine}"


def test_headers_verify_with_the_reference_library_and_fail_on_tampering():
    secret = rules.new_secret()
    body = b'{"id":"evt_1","type":"loan.closed","data":{}}'
    headers = rules.signed_headers(secret, "evt_1", int(time.time()), body)
    assert Webhook(secret).verify(body, headers)["id"] == "evt_1"
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace(b"closed", b"opened"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(rules.new_secret()).verify(body, headers)


@given(st.integers(min_value=1, max_value=60), st.integers(min_value=0, max_value=2**32))
def test_backoff_is_exponential_capped_and_jittered_within_bounds(attempt, seed):
    delay = rules.backoff_seconds(attempt, random.Random(seed))
    ceiling = min(rules.BACKOFF_CAP_S, rules.BACKOFF_BASE_S * 2 ** (attempt - 1))
    assert ceiling // 2 <= delay <= ceiling
    assert delay > 0


def test_backoff_jitter_spreads_retries():
    delays = {rules.backoff_seconds(5, random.Random(s)) for s in range(50)}
    assert len(delays) > 10


def test_pii_keys_are_found_at_any_depth():
    assert rules.pii_keys({"loan_id": "x", "borrower": {"Phone": "1"}, "items": [{"email": 1}]}) \
        == ["/borrower/Phone", "/items/0/email"]
    assert rules.pii_keys({"loan_id": "x", "amount": "1.00"}) == []


@pytest.mark.parametrize("url,private_ok,refused", [
    ("https://hooks.example.com/x", False, False),
    ("http://hooks.example.com/x", False, True),
    ("http://127.0.0.1:8080/x", True, False),
    ("https://127.0.0.1/x", False, True),
    ("https://192.168.1.4/x", False, True),
    ("https://100.64.0.1/x", False, True),  # carrier-grade NAT
    ("https://169.254.169.254/x", False, True),
    ("https://[fd00::1]/x", False, True),
    ("https://[::ffff:127.0.0.1]/x", False, True),
    ("https://metadata.internal/x", False, True),
    ("https://8.8.8.8/x", False, False),
    ("https://a:b@hooks.example.com/x", False, True),
    ("https://hooks.example.com:0/x", False, True),
    ("https://hooks.example.com:99999/x", False, True),
    ("gopher://hooks.example.com/x", True, True),
])
def test_url_rules(url, private_ok, refused):
    assert (rules.url_problem(url, allow_private=private_ok) is not None) is refused
