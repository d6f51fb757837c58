"""The payout destination over real HTTP: a loan is paid to the beneficiary it was given, the
beneficiary cannot change once the loan is disbursing, and the stack's whole output (its
request log, the driver, the channel) never holds the account number or the holder's name."""

from __future__ import annotations

import uuid

import pytest

from tests.e2e.test_disbursement import channel, post0, product, signed_loan, tenant_with_keys
from tests.integration.origination.conftest import payout_account

pytestmark = pytest.mark.e2e
CARD = "6212345678901265"  # Luhn-valid UnionPay number used by no other test


def _put(stack, path, body, key):
    return stack.call("PUT", path, key, json=body, headers={"Idempotency-Key": str(uuid.uuid4())})


def test_a_loan_is_paid_to_its_beneficiary_and_the_stack_never_logs_it(stack):
    keys = tenant_with_keys(stack)
    pid = product(stack, keys)
    channel(stack, keys, "bank-a", "100000.00")
    loan_id = signed_loan(stack, keys, pid, 501)
    holder = "王 小明"  # the applicant's name as the bank spells it: matches, unique in the log
    put = _put(stack, f"/v1/loans/{loan_id}/beneficiary",
               {"beneficiary": payout_account(holder, number=CARD)}, keys["partner"])
    assert put.status_code == 200, put.text
    assert put.json()["beneficiary"]["account_number"] == "****1265"
    started = post0(stack, f"/v1/loans/{loan_id}/disbursements", keys["partner"])
    assert started.status_code == 202, started.text
    loan = stack.call("GET", f"/v1/loans/{loan_id}", keys["partner"]).json()
    assert loan["status"] == "active" and loan["beneficiary"]["holder_name"] == "王***", loan
    late = _put(stack, f"/v1/loans/{loan_id}/beneficiary",
                {"beneficiary": payout_account(holder, number=CARD)}, keys["partner"])
    assert late.status_code == 409, late.text
    output = stack.log.read_text(errors="replace")
    assert loan_id in output  # the scan reads the stack's real output
    assert CARD not in output and CARD[:12] not in output
    assert holder not in output and "王小明" not in output
