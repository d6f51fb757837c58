"""The default chart of accounts every tenant starts with, and the accounts opened on demand.

Tenant-wide control accounts that every loan touches (funding, clearing, income, borrower
credit, suspense, write-off) are `sharded`; per-loan receivables and per-channel cash are
`exact` with a floor of zero, so the ledger refuses to over-collect or over-disburse them.
"""

from __future__ import annotations

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
