"""The ledger over HTTP: accounts, balances, statements, journals, trial balance, verify."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from chalice import Blueprint
from pydantic import BaseModel, Field, StringConstraints

from chalicelib.api import pagination
from chalicelib.api.http import Context, Reply, endpoint
from chalicelib.api.roles import BOOKKEEPERS, CONFIGURERS, OPERATORS
from chalicelib.api.schemas import Instant, PageQuery, Strict
from chalicelib.lending.money import Money, format_amount, parse_amount
from chalicelib.services import ledger_ops
from chalicelib.store.ledger import ledger
from ledger.errors import DuplicateJournal
from ledger.model import (
    Account,
    AccountSpec,
    AccountStatus,
    AccountType,
    Balance,
    BalancePolicy,
    Entry,
    Journal,
    JournalRequest,
    Posting,
    Side,
)
from ledger.model import Totals as LedgerTotals

bp = Blueprint(__name__)

AccountId = Annotated[str, StringConstraints(max_length=100,
                                             pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")]
JournalId = Annotated[str, StringConstraints(max_length=128,
                                             pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")]
MetaKey = Annotated[str, StringConstraints(min_length=1, max_length=64)]
MetaValue = Annotated[str, StringConstraints(max_length=256)]


# ---- shapes ---------------------------------------------------------------------------------

class PostingIn(Strict):
    account_id: AccountId
    side: Literal["debit", "credit"]
    amount: Money


class JournalIn(Strict):
    journal_id: JournalId = Field(description="Client-chosen; the ledger's own idempotency key.")
    effective_date: date
    description: str = Field(default="", max_length=500)
    metadata: dict[MetaKey, MetaValue] = Field(default_factory=dict, max_length=20)
    postings: list[PostingIn] = Field(min_length=2, max_length=58)
    pending: bool = Field(default=False, description="Reserve now; post or void later, once.")
    expires_at: Instant | None = Field(default=None, description="Pending only: voided after.")


class PendingResolveIn(Strict):
    journal_id: JournalId = Field(description="Id of the journal that posts or voids.")
    effective_date: date
    description: str = Field(default="", max_length=500)
    postings: list[PostingIn] | None = Field(default=None, max_length=58,
                                             description="Post only: a partial post.")


class ReverseIn(Strict):
    journal_id: JournalId = Field(description="Id of the reversing journal.")
    effective_date: date
    description: str = Field(default="", max_length=500)


class AccountIn(Strict):
    account_id: AccountId
    name: str = Field(min_length=1, max_length=200)
    type: Literal["asset", "liability", "equity", "income", "expense"]
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    policy: Literal["exact", "sharded"] = "exact"
    shards: int = Field(default=1, ge=1, le=64)
    floor: str | None = Field(default=None, description="Decimal string: balance never below.")
    ceiling: str | None = Field(default=None, description="Decimal string: balance never above.")


class Totals(BaseModel):
    posted_debits: str
    posted_credits: str
    pending_debits: str
    pending_credits: str


class BalanceOut(BaseModel):
    currency: str
    normal_side: Literal["debit", "credit"]
    posted: str
    pending_in: str
    pending_out: str
    available: str
    totals: Totals
    as_of: date | None


class AccountOut(BaseModel):
    id: str
    name: str
    type: str
    normal_side: Literal["debit", "credit"]
    currency: str
    policy: Literal["exact", "sharded"]
    shards: int
    floor: str | None
    ceiling: str | None
    status: Literal["open", "closed"]
    created_at: datetime
    metadata: dict[str, str]
    balance: BalanceOut | None = None


class AccountPage(BaseModel):
    next_cursor: str | None
    data: list[AccountOut]


class PostingOut(BaseModel):
    account_id: str
    side: Literal["debit", "credit"]
    amount: Money


class JournalOut(BaseModel):
    id: str
    kind: str
    effective_date: date
    created_at: datetime
    description: str
    metadata: dict[str, str]
    ref: str | None
    expires_at: datetime | None
    postings: list[PostingOut]
    pending_status: str | None = None
    resolved_by: str | None = None
    reversed_by: str | None = None


class EntryOut(BaseModel):
    journal_id: str
    kind: str
    effective_date: date
    created_at: datetime
    description: str
    currency: str
    change: Totals
    shard: int | None


class EntryPage(BaseModel):
    account_id: str
    next_cursor: str | None
    data: list[EntryOut]


class TrialLine(BaseModel):
    account_id: str
    type: str
    currency: str
    totals: Totals


class TrialBalanceOut(BaseModel):
    lines: list[TrialLine]
    totals_by_currency: dict[str, Totals]
    balanced: bool = Field(description="Debits equal credits in every currency.")


class DiscrepancyOut(BaseModel):
    kind: str
    message: str
    journal_id: str | None
    account_id: str | None
    shard: int | None
    currency: str | None
    field: str | None
    expected: int | None
    actual: int | None


class LedgerVerifyOut(BaseModel):
    ok: bool
    accounts: int
    journals: int
    entries: int
    discrepancies: list[DiscrepancyOut]


class AsOfQuery(Strict):
    as_of: date | None = Field(default=None, description="Balance at the end of this date.")


# ---- rendering --------------------------------------------------------------------------------

def _totals(t: LedgerTotals, currency: str) -> Totals:
    return Totals(posted_debits=format_amount(t.posted_dr, currency),
                  posted_credits=format_amount(t.posted_cr, currency),
                  pending_debits=format_amount(t.pending_dr, currency),
                  pending_credits=format_amount(t.pending_cr, currency))


def _balance(b: Balance) -> BalanceOut:
    c = b.currency
    return BalanceOut(currency=c, normal_side=b.normal_side.value,
                      posted=format_amount(b.posted, c),
                      pending_in=format_amount(b.pending_in, c),
                      pending_out=format_amount(b.pending_out, c),
                      available=format_amount(b.available, c), totals=_totals(b.totals, c),
                      as_of=b.as_of)


def _account(a: Account, balance: Balance | None = None) -> AccountOut:
    s = a.spec
    return AccountOut(
        id=s.account_id, name=s.name, type=s.type.value, normal_side=s.type.normal_side.value,
        currency=s.currency, policy=s.policy.value, shards=s.shards,
        floor=None if s.floor is None else format_amount(s.floor, s.currency),
        ceiling=None if s.ceiling is None else format_amount(s.ceiling, s.currency),
        status=a.status.value, created_at=a.created_at, metadata=dict(s.metadata),
        balance=_balance(balance) if balance else None)


def _journal(j: Journal, pending_status: str | None = None, resolved_by: str | None = None,
             reversed_by: str | None = None) -> JournalOut:
    return JournalOut(
        id=j.journal_id, kind=j.kind.value, effective_date=j.effective_date,
        created_at=j.created_at, description=j.description, metadata=dict(j.metadata),
        ref=j.ref, expires_at=j.expires_at,
        postings=[PostingOut(account_id=p.account_id, side=p.side.value,
                             amount=Money.of_minor(p.amount, p.currency)) for p in j.postings],
        pending_status=pending_status, resolved_by=resolved_by, reversed_by=reversed_by)


def _entry(e: Entry) -> EntryOut:
    return EntryOut(journal_id=e.journal_id, kind=e.kind.value, effective_date=e.effective_date,
                    created_at=e.created_at, description=e.description, currency=e.currency,
                    change=_totals(e.delta, e.currency), shard=e.shard)


def _postings(items: list[PostingIn]) -> tuple[Posting, ...]:
    return tuple(Posting(p.account_id, Side(p.side), p.amount.minor, p.amount.currency)
                 for p in items)


# ---- accounts -------------------------------------------------------------------------------

@endpoint(bp, "GET", "/v1/ledger/accounts", summary="The chart of accounts", tag="Ledger",
          roles=BOOKKEEPERS, query=PageQuery, responses={200: (AccountPage, "A page of accounts")})
def list_accounts(ctx: Context, query: PageQuery) -> Reply:
    scope = pagination.scope_of(ctx.tenant, "ledger-accounts", {})
    start = pagination.decode(query.cursor, scope)
    page = ledger().list_accounts(ctx.tenant, query.limit, start)
    return Reply(AccountPage(next_cursor=pagination.encode(scope, page.cursor),
                             data=[_account(a) for a in page.items]))


@endpoint(bp, "POST", "/v1/ledger/accounts", location="/v1/ledger/accounts/{id}",
          summary="Open an account", tag="Ledger",
          roles=CONFIGURERS, body=AccountIn, idempotent=True,
          responses={201: (AccountOut, "Account opened")})
def open_account(ctx: Context, body: AccountIn) -> Reply:
    spec = AccountSpec(
        body.account_id, body.name, AccountType(body.type), body.currency,
        BalancePolicy(body.policy), body.shards,
        floor=None if body.floor is None else parse_amount(body.floor, body.currency,
                                                           allow_negative=True, field="floor"),
        ceiling=None if body.ceiling is None else parse_amount(body.ceiling, body.currency,
                                                               field="ceiling"))
    ledger_ops.open_account(ctx.uow, ctx.tenant, ctx.actor, ctx.now, spec)
    account = Account(spec, status=AccountStatus.OPEN, created_at=ctx.now)
    return Reply(_account(account), 201)


@endpoint(bp, "GET", "/v1/ledger/accounts/{account_id}", summary="An account and its balance",
          tag="Ledger", roles=BOOKKEEPERS, query=AsOfQuery,
          responses={200: (AccountOut, "Posted, pending and available balances")})
def get_account(ctx: Context, account_id: str, query: AsOfQuery) -> Reply:
    book = ledger()
    account = book.get_account(ctx.tenant, account_id)
    return Reply(_account(account, book.balance(ctx.tenant, account_id, query.as_of)))


@endpoint(bp, "POST", "/v1/ledger/accounts/{account_id}/close", summary="Close an account",
          tag="Ledger", roles=CONFIGURERS, idempotent=True,
          responses={200: (AccountOut, "Closed: further postings are refused")})
def close_account(ctx: Context, account_id: str) -> Reply:
    account = ledger().get_account(ctx.tenant, account_id)
    ledger_ops.close_account(ctx.uow, ctx.tenant, ctx.actor, ctx.now, account_id)
    return Reply(_account(Account(account.spec, AccountStatus.CLOSED, account.created_at)))


@endpoint(bp, "GET", "/v1/ledger/accounts/{account_id}/entries", summary="Account statement",
          tag="Ledger", roles=BOOKKEEPERS, query=PageQuery,
          responses={200: (EntryPage, "Entries in effective-date order")})
def account_entries(ctx: Context, account_id: str, query: PageQuery) -> Reply:
    scope = pagination.scope_of(ctx.tenant, "ledger-entries", {"account": account_id})
    book = ledger()
    book.get_account(ctx.tenant, account_id)  # 404 for a missing (or another tenant's) account
    page = book.statement(ctx.tenant, account_id, query.limit,
                          pagination.decode(query.cursor, scope))
    return Reply(EntryPage(account_id=account_id, next_cursor=pagination.encode(scope, page.cursor),
                           data=[_entry(e) for e in page.items]))


# ---- journals -------------------------------------------------------------------------------

@endpoint(bp, "POST", "/v1/ledger/journals", location="/v1/ledger/journals/{id}",
          summary="Post a manual journal", tag="Ledger",
          roles=OPERATORS, body=JournalIn, idempotent=True, errors={404}, lease=False,
          responses={201: (JournalOut, "Posted (or reserved, if pending)"),
                     200: (JournalOut, "This journal id already holds this exact journal")})
def post_journal(ctx: Context, body: JournalIn) -> Reply:
    """No read before the write: a taken journal id refuses the commit, and a refusal naming
    the same journal (DuplicateJournal) answers 200 with the stored one."""
    request = JournalRequest(body.journal_id, _postings(body.postings), body.effective_date,
                             body.description, dict(body.metadata), body.pending, body.expires_at)
    journal = ledger_ops.add_journal(ctx.uow, ctx.tenant, ctx.actor, ctx.now, request)
    ctx.on_refused = _stored_journal
    return _journal_reply(journal, 201)


def _journal_reply(journal: Journal, status_code: int) -> Reply:
    status = "open" if journal.kind.value == "pending" else None
    return Reply(_journal(journal, status), status_code,
                 {"Location": f"/v1/ledger/journals/{journal.journal_id}"})


def _stored_journal(error: Exception) -> Reply | None:
    return _journal_reply(error.existing, 200) if isinstance(error, DuplicateJournal) else None


@endpoint(bp, "GET", "/v1/ledger/journals/{journal_id}", summary="A journal", tag="Ledger",
          roles=BOOKKEEPERS, responses={200: (JournalOut, "The journal and what became of it")})
def get_journal(ctx: Context, journal_id: str) -> Reply:
    view = ledger().get_journal(ctx.tenant, journal_id)
    return Reply(_journal(view.journal,
                          view.pending_status.value if view.pending_status else None,
                          view.resolved_by, view.reversed_by))


@endpoint(bp, "POST", "/v1/ledger/journals/{journal_id}/reverse",
          location="/v1/ledger/journals/{id}",
          summary="Reverse a journal",
          tag="Ledger", roles=OPERATORS, body=ReverseIn, idempotent=True,
          responses={201: (JournalOut, "The reversing journal")})
def reverse_journal(ctx: Context, journal_id: str, body: ReverseIn) -> Reply:
    journal = ledger_ops.reverse(ctx.uow, ctx.tenant, ctx.actor, ctx.now,
                                 journal_id=body.journal_id, original_id=journal_id,
                                 effective_date=body.effective_date, description=body.description)
    return Reply(_journal(journal), 201)


def _resolve(ctx: Context, pending_id: str, body: PendingResolveIn, post: bool) -> Reply:
    journal = ledger_ops.resolve_pending(
        ctx.uow, ctx.tenant, ctx.actor, ctx.now, post=post, journal_id=body.journal_id,
        pending_id=pending_id, postings=_postings(body.postings) if body.postings else None,
        effective_date=body.effective_date, description=body.description, metadata={})
    return Reply(_journal(journal), 201)


@endpoint(bp, "POST", "/v1/ledger/journals/{journal_id}/post", location="/v1/ledger/journals/{id}",
          summary="Post a pending journal",
          tag="Ledger", roles=OPERATORS, body=PendingResolveIn, idempotent=True,
          responses={201: (JournalOut, "The posting journal (fully or partially)")})
def post_pending(ctx: Context, journal_id: str, body: PendingResolveIn) -> Reply:
    return _resolve(ctx, journal_id, body, post=True)


@endpoint(bp, "POST", "/v1/ledger/journals/{journal_id}/void", location="/v1/ledger/journals/{id}",
          summary="Void a pending journal",
          tag="Ledger", roles=OPERATORS, body=PendingResolveIn, idempotent=True,
          responses={201: (JournalOut, "The voiding journal")})
def void_pending(ctx: Context, journal_id: str, body: PendingResolveIn) -> Reply:
    return _resolve(ctx, journal_id, body, post=False)


# ---- books ----------------------------------------------------------------------------------

@endpoint(bp, "GET", "/v1/ledger/trial-balance", summary="Trial balance", tag="Ledger",
          roles=BOOKKEEPERS, responses={200: (TrialBalanceOut, "Totals per account and currency")})
def trial_balance(ctx: Context) -> Reply:
    tb = ledger().trial_balance(ctx.tenant)
    by_currency = {c: _totals(t, c) for c, t in tb.totals_by_currency.items()}
    balanced = all(t.posted_dr == t.posted_cr and t.pending_dr == t.pending_cr
                   for t in tb.totals_by_currency.values())
    return Reply(TrialBalanceOut(
        lines=[TrialLine(account_id=line.account_id, type=line.type.value,
                         currency=line.currency, totals=_totals(line.totals, line.currency))
               for line in tb.lines],
        totals_by_currency=by_currency, balanced=balanced))


@endpoint(bp, "POST", "/v1/ledger/verify", summary="Prove the books", tag="Ledger",
          roles=BOOKKEEPERS, responses={200: (LedgerVerifyOut, "Every discrepancy found, if any")})
def verify(ctx: Context) -> Reply:
    report = ledger().verify(ctx.tenant)
    return Reply(LedgerVerifyOut(ok=report.ok, accounts=report.accounts, journals=report.journals,
                           entries=report.entries,
                           discrepancies=[DiscrepancyOut(**d.__dict__)
                                          for d in report.discrepancies]))
