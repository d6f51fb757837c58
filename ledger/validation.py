"""Request checks that need no storage: ids, currencies, amounts, sizes and per-currency balance.

The bounds keep every journal inside one DynamoDB transaction with room for the caller's items
(see `MAX_ACCOUNTS_PER_JOURNAL`) and every item far below DynamoDB's 400 KB.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime

from ledger.errors import InvalidRequest, UnbalancedJournal
from ledger.model import AccountSpec, BalancePolicy, JournalRequest, Posting, Side

TENANT_ID = re.compile(r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$")
ACCOUNT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")
JOURNAL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
CURRENCY = re.compile(r"^[A-Z]{3}$")

MAX_AMOUNT = 10**18  # per posting; totals stay far inside DynamoDB's 38 digits
MAX_POSTINGS = 100
# 1 journal + (entry + balance update) per account + 1 pending/reversal marker <= 60 items.
MAX_ACCOUNTS_PER_JOURNAL = 29
MAX_DESCRIPTION = 500
MAX_METADATA_KEYS = 20
MAX_METADATA_KEY = 64
MAX_METADATA_VALUE = 256
MAX_SHARDS = 64


def check_tenant(tenant: str) -> None:
    if not TENANT_ID.fullmatch(tenant) or "--" in tenant:
        raise InvalidRequest("tenant", f"invalid tenant id {tenant!r}")


def check_account_id(account_id: str, field: str = "account_id") -> None:
    if not isinstance(account_id, str) or not ACCOUNT_ID.fullmatch(account_id):
        raise InvalidRequest(field, f"invalid account id {account_id!r}")


def check_journal_id(journal_id: str, field: str = "journal_id") -> None:
    if not isinstance(journal_id, str) or not JOURNAL_ID.fullmatch(journal_id):
        raise InvalidRequest(field, f"invalid journal id {journal_id!r}")


def check_currency(currency: str, field: str = "currency") -> None:
    if not isinstance(currency, str) or not CURRENCY.fullmatch(currency):
        raise InvalidRequest(field, f"invalid ISO 4217 currency code {currency!r}")


def check_amount(amount: object, field: str) -> None:
    # bool is an int subclass; floats and Decimals are refused outright.
    if type(amount) is not int:
        raise InvalidRequest(field, "amount must be an integer number of minor units")
    if not 0 < amount <= MAX_AMOUNT:
        raise InvalidRequest(field, f"amount must be between 1 and {MAX_AMOUNT}")


def check_metadata(metadata: Mapping[str, str], field: str = "metadata") -> None:
    if len(metadata) > MAX_METADATA_KEYS:
        raise InvalidRequest(field, f"at most {MAX_METADATA_KEYS} keys")
    for key, value in metadata.items():
        if not isinstance(key, str) or not 0 < len(key) <= MAX_METADATA_KEY:
            raise InvalidRequest(f"{field}.{key}", f"keys are 1..{MAX_METADATA_KEY} characters")
        if not isinstance(value, str) or len(value) > MAX_METADATA_VALUE:
            raise InvalidRequest(
                f"{field}.{key}", f"values are strings of at most {MAX_METADATA_VALUE} characters"
            )


def check_utc(moment: datetime | None, field: str) -> None:
    if moment is not None and (moment.tzinfo is None or moment.utcoffset() is None):
        raise InvalidRequest(field, "must be timezone-aware")


def check_postings(postings: Iterable[Posting], field: str = "postings") -> None:
    """Shape of every leg, then debits = credits per currency (all imbalances reported)."""
    postings = list(postings)
    if len(postings) < 2:
        raise InvalidRequest(field, "a journal needs at least two postings")
    if len(postings) > MAX_POSTINGS:
        raise InvalidRequest(field, f"at most {MAX_POSTINGS} postings")
    for i, p in enumerate(postings):
        here = f"{field}[{i}]"
        if not isinstance(p, Posting):
            raise InvalidRequest(here, "not a posting")
        check_account_id(p.account_id, f"{here}.account_id")
        if not isinstance(p.side, Side):
            raise InvalidRequest(f"{here}.side", "side must be debit or credit")
        check_amount(p.amount, f"{here}.amount")
        check_currency(p.currency, f"{here}.currency")
    accounts = {p.account_id for p in postings}
    if len(accounts) > MAX_ACCOUNTS_PER_JOURNAL:
        raise InvalidRequest(field, f"at most {MAX_ACCOUNTS_PER_JOURNAL} distinct accounts")
    currencies_per_account: dict[str, set[str]] = {}
    for p in postings:
        currencies_per_account.setdefault(p.account_id, set()).add(p.currency)
    for account_id, currencies in sorted(currencies_per_account.items()):
        if len(currencies) > 1:
            raise InvalidRequest(field, f"account {account_id!r} posted in {sorted(currencies)}")
    imbalances = imbalance(postings)
    if imbalances:
        raise UnbalancedJournal(imbalances)


def imbalance(postings: Iterable[Posting]) -> dict[str, tuple[int, int]]:
    """currency -> (debits, credits) for every currency whose legs do not balance."""
    sums: dict[str, list[int]] = {}
    for p in postings:
        pair = sums.setdefault(p.currency, [0, 0])
        pair[0 if p.side is Side.DEBIT else 1] += p.amount
    return {c: (d, k) for c, (d, k) in sums.items() if d != k}


def check_journal_request(request: JournalRequest) -> None:
    check_journal_id(request.journal_id)
    check_postings(request.postings)
    check_common(request.description, request.metadata)
    check_utc(request.expires_at, "expires_at")
    if request.expires_at is not None and not request.pending:
        raise InvalidRequest("expires_at", "only pending journals expire")


def check_common(description: str, metadata: Mapping[str, str]) -> None:
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
        raise InvalidRequest("description", f"at most {MAX_DESCRIPTION} characters")
    check_metadata(metadata)


def check_account_spec(spec: AccountSpec) -> None:
    check_account_id(spec.account_id)
    check_currency(spec.currency)
    if not isinstance(spec.name, str) or not 0 < len(spec.name) <= 200:
        raise InvalidRequest("name", "1..200 characters")
    check_metadata(spec.metadata)
    if spec.policy is BalancePolicy.EXACT and spec.shards != 1:
        raise InvalidRequest("shards", "exact accounts have one balance item")
    if spec.policy is BalancePolicy.SHARDED:
        if not 2 <= spec.shards <= MAX_SHARDS:
            raise InvalidRequest("shards", f"sharded accounts have 2..{MAX_SHARDS} shards")
        if spec.floor is not None or spec.ceiling is not None:
            raise InvalidRequest(
                "policy", "limits need an exact account: sharded balances are not conditional"
            )
    for name in ("floor", "ceiling"):
        value = getattr(spec, name)
        if value is not None and (type(value) is not int or abs(value) > MAX_AMOUNT * 1000):
            raise InvalidRequest(name, "an integer number of minor units")
    if spec.floor is not None and spec.ceiling is not None and spec.floor > spec.ceiling:
        raise InvalidRequest("ceiling", "ceiling is below floor")
