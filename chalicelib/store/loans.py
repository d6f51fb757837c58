"""Loans: the aggregate an accepted offer creates, and where it lives.

Created by origination in state `pending_contract` with the accepted offer's exact terms.
Later capabilities extend it (contracts: `pending_contract` → `pending_disbursement`;
disbursement: → `active` with ledger accounts; servicing: → `closed` / `written_off`); they add
attributes here rather than a second item, so one conditional Put on `version` keeps guarding
every change.

Layout: pk `<tenant>#loan#<id>`, sk `loan`; gsi1pk `<tenant>#loans`,
gsi1sk `<status>#<created>#<id>` (lists by status, newest first).
"""

from __future__ import annotations

from pynamodb.attributes import UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import DoesNotExist

from chalicelib.store.attributes import IntAttribute
from chalicelib.store.keys import key
from chalicelib.store.models import Aggregate

LOAN_SK = "loan"
PENDING_CONTRACT = "pending_contract"
PENDING_DISBURSEMENT = "pending_disbursement"  # contract signed (issue 6)
DISBURSING = "disbursing"  # a payout is in flight at a channel (issue 6)
ACTIVE = "active"  # paid out; the schedule runs from the disbursement date (issue 6)
# Servicing (issue 7): set by repayments and close of business from the days past due.
DELINQUENT = "delinquent"
DEFAULTED = "defaulted"
CLOSED = "closed"  # everything repaid; every loan account at zero
WRITTEN_OFF = "written_off"  # by an operator
CANCELLED = "cancelled"  # issue 17: never paid out, expired (services/loan_expiry.py); terminal


class LoanItem(Aggregate):
    loan_id = UnicodeAttribute()
    application_id = UnicodeAttribute()
    product_id = UnicodeAttribute()
    product_version = IntAttribute()
    principal = IntAttribute()  # minor units
    currency = UnicodeAttribute()
    term = IntAttribute()  # installments
    grade = UnicodeAttribute()
    annual_rate_percent = UnicodeAttribute()  # decimal string, e.g. "12.5" (never a float)
    apr_percent = UnicodeAttribute()  # the APR disclosed in the accepted offer
    schedule = UnicodeAttribute()  # JSON of the offer's schedule (amounts as decimal strings)
    status = UnicodeAttribute()
    borrower_ref = UnicodeAttribute()  # blind index of the borrower's national ID
    accepted_at = UTCDateTimeAttribute()
    accepted_by = UnicodeAttribute()  # API key id
    # Contracts and disbursement (issue 6): additive, null until those steps happen.
    contract_id = UnicodeAttribute(null=True)
    disbursement_id = UnicodeAttribute(null=True)  # the one in flight or settled
    disbursed_at = UTCDateTimeAttribute(null=True)
    cancelled_at = UTCDateTimeAttribute(null=True)  # issue 17: with cancel_reason
    cancel_reason = UnicodeAttribute(null=True)  # "expired"
    # The payout destination (issue 17): sealed (services/beneficiaries), and its masked form
    # for responses; a change a reviewer must approve waits in the `pending` pair.
    beneficiary_enc = UnicodeAttribute(null=True)
    beneficiary_shown = UnicodeAttribute(null=True)  # JSON, masked
    beneficiary_pending_enc = UnicodeAttribute(null=True)
    beneficiary_pending_shown = UnicodeAttribute(null=True)  # JSON, masked + who asked, when


def loan_pk(tenant: str, loan_id: str) -> str:
    return key(tenant, "loan", loan_id)


def list_pk(tenant: str) -> str:
    return key(tenant, "loans")


def list_sk(status: str, created_iso: str, loan_id: str) -> str:
    return f"{status}#{created_iso}#{loan_id}"


def get_loan(tenant: str, loan_id: str) -> LoanItem | None:
    try:
        return LoanItem.get(loan_pk(tenant, loan_id), LOAN_SK, consistent_read=True)
    except DoesNotExist:
        return None
