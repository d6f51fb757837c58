"""The default chart of accounts every tenant starts with, and the accounts opened on demand.

Tenant-wide control accounts that every loan touches (funding, clearing, income, borrower
credit, suspense, write-off) are `sharded`; per-loan receivables and per-channel cash are
`exact` with a floor of zero, so the ledger refuses to over-collect or over-disburse them.
"""

from __future__ import annotations

from collections.abc import Mapping

from ledger.model import AccountSpec, AccountType, BalancePolicy

DEFAULT_SHARDS = 32

FUNDING = "funding"
CHANNEL_CLEARING = "channel-clearing"
INTEREST_INCOME = "interest-income"
FEE_INCOME = "fee-income"
PENALTY_INCOME = "penalty-income"
BORROWER_CREDIT = "borrower-credit"
SUSPENSE = "suspense"
WRITE_OFF_EXPENSE = "write-off-expense"

LOAN_COMPONENTS = ("principal", "interest", "fee", "penalty")


def _control(account_id: str, name: str, type_: AccountType, currency: str,
             shards: int) -> AccountSpec:
    return AccountSpec(account_id, name, type_, currency, BalancePolicy.SHARDED, shards)


def default_chart(currency: str, shards: int = DEFAULT_SHARDS) -> list[AccountSpec]:
    """The chart created with each tenant for its base currency."""
    a = AccountType
    return [
        _control(FUNDING, "Lending capital", a.EQUITY, currency, shards),
        _control(CHANNEL_CLEARING, "Disbursements and collections in transit", a.LIABILITY,
                 currency, shards),
        _control(INTEREST_INCOME, "Interest income", a.INCOME, currency, shards),
        _control(FEE_INCOME, "Fee income", a.INCOME, currency, shards),
        _control(PENALTY_INCOME, "Penalty income", a.INCOME, currency, shards),
        _control(BORROWER_CREDIT, "Borrower credit balances (overpayments)", a.LIABILITY,
                 currency, shards),
        _control(SUSPENSE, "Suspense (unidentified money)", a.LIABILITY, currency, shards),
        _control(WRITE_OFF_EXPENSE, "Loan write-offs", a.EXPENSE, currency, shards),
    ]


def channel_cash_id(channel: str) -> str:
    return f"cash:{channel}"


def channel_cash(channel: str, currency: str) -> AccountSpec:
    """Prefunded cash at a disbursement channel: exact, must not go below zero."""
    return AccountSpec(channel_cash_id(channel), f"Cash at {channel}", AccountType.ASSET,
                       currency, BalancePolicy.EXACT, 1, floor=0,
                       metadata={"channel": channel})


def loan_account_id(loan_id: str, component: str) -> str:
    return f"loan:{loan_id}:{component}"


def loan_accounts(loan_id: str, currency: str) -> list[AccountSpec]:
    """Per-loan receivables: exact, never negative (no over-collection of a component)."""
    return [
        AccountSpec(loan_account_id(loan_id, c), f"Loan {loan_id} {c} receivable",
                    AccountType.ASSET, currency, BalancePolicy.EXACT, 1, floor=0,
                    metadata={"loan_id": loan_id, "component": c})
        for c in LOAN_COMPONENTS
    ]


# --- what the domain owns ------------------------------------------------------------------
# The books of loans and channels are written only by the commands that keep them equal to
# their aggregates (a loan's servicing state, a disbursement's attempts, a channel's funding).
# Ownership is decided twice, so neither a chosen account id nor a chosen journal id dodges it:
# by account namespace, and by the marker `DOMAIN_KEY` a domain command records in its journal's
# metadata (the ledger API refuses that key), with the journal id prefixes as a fallback for
# journals written before the marker existed (the API refuses those prefixes too).

DOMAIN_KEY = "domain"  # journal metadata: which domain command wrote it

LOAN = "loan"  # a loan's receivables; its servicing journals
CHANNEL = "channel"  # a channel's prefunded cash and its funding journals
DISBURSEMENT = "disbursement"  # payout reservations, their posts and voids
REPAYMENT = "repayment"  # collections in transit (channel clearing); repayment journals
REFUND = "refund"  # the borrower's credit balance; refund journals
CLOSE_OF_BUSINESS = "close-of-business"  # accrual, fees, penalties
WRITE_OFF = "write-off"

CONTROL_OWNERS = {CHANNEL_CLEARING: REPAYMENT, BORROWER_CREDIT: REFUND}
NAMESPACE_OWNERS = (("loan:", LOAN), ("cash:", CHANNEL))
JOURNAL_PREFIX_OWNERS = (("rpy:", REPAYMENT), ("rfd:", REFUND), ("cob:", CLOSE_OF_BUSINESS),
                         ("wo:", WRITE_OFF), ("disb:", DISBURSEMENT), ("fund:", CHANNEL))


def account_owner(account_id: str) -> str | None:
    """The domain that alone may journal against (or open, or close) this account, if any."""
    if account_id in CONTROL_OWNERS:
        return CONTROL_OWNERS[account_id]
    return next((o for prefix, o in NAMESPACE_OWNERS if account_id.startswith(prefix)), None)


def journal_id_owner(journal_id: str) -> str | None:
    """The domain whose journal ids look like this one (a namespace no client may use)."""
    return next((o for p, o in JOURNAL_PREFIX_OWNERS if journal_id.startswith(p)), None)


def journal_owner(journal_id: str, metadata: Mapping[str, str]) -> str | None:
    """Who wrote a stored journal: its marker, else (older journals) its id's namespace."""
    return metadata.get(DOMAIN_KEY) or journal_id_owner(journal_id)


def domain_metadata(owner: str, **metadata: str) -> dict[str, str]:
    """Metadata for a journal a domain command writes: marked as that domain's."""
    return {**metadata, DOMAIN_KEY: owner}
