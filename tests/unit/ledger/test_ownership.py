"""The chart's ownership rule (issue 14): by account namespace, and by the journal's marker
with its id namespace as the fallback, so neither a chosen id nor a missing marker dodges it."""

from __future__ import annotations

import pytest

from ledger import chart


@pytest.mark.parametrize(("account", "owner"), [
    ("loan:L1:principal", chart.LOAN), ("loan:L1:penalty", chart.LOAN),
    ("cash:ch_1", chart.CHANNEL), ("channel-clearing", chart.REPAYMENT),
    ("borrower-credit", chart.REFUND), ("funding", None), ("suspense", None),
    ("interest-income", None), ("bank-a", None), ("loans:x", None), ("cashbox", None)])
def test_accounts_are_owned_by_namespace(account: str, owner: str | None) -> None:
    assert chart.account_owner(account) == owner


def test_every_domain_journal_id_and_account_helper_is_covered() -> None:
    assert chart.account_owner(chart.loan_account_id("L", "fee")) == chart.LOAN
    assert chart.account_owner(chart.channel_cash_id("ch_x")) == chart.CHANNEL
    for journal, owner in [("rpy:rpy_1", chart.REPAYMENT), ("rpy:rpy_1:rev", chart.REPAYMENT),
                           ("rfd:rfd_1", chart.REFUND), ("cob:L:2024-01-01",
                                                        chart.CLOSE_OF_BUSINESS),
                           ("wo:L", chart.WRITE_OFF), ("disb:dsb_1:1", chart.DISBURSEMENT),
                           ("disb:dsb_1:1:post", chart.DISBURSEMENT),
                           ("fund:ch_1:initial", chart.CHANNEL), ("rpy-1", None),
                           ("fund-1", None)]:
        assert chart.journal_id_owner(journal) == owner, journal


def test_the_marker_decides_before_the_id() -> None:
    marked = chart.domain_metadata(chart.DISBURSEMENT, loan_id="L")
    assert marked == {"loan_id": "L", chart.DOMAIN_KEY: chart.DISBURSEMENT}
    assert chart.journal_owner("any-id", marked) == chart.DISBURSEMENT
    assert chart.journal_owner("cob:L:2024-01-01", {}) == chart.CLOSE_OF_BUSINESS
    assert chart.journal_owner("manual-1", {"loan_id": "L"}) is None
