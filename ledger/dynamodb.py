"""The ledger on DynamoDB: reads, `prepare_*` transaction parts, and commands that commit alone.

The boto3 low-level DynamoDB client is passed in (no client is created here), so the same code
runs against AWS, a moto server or in-process moto. Business commands take the `prepare_*`
parts into their own unit of work; `post()` & co. commit a part alone with conflict retries and
idempotent replay (same journal id + same content returns the stored journal).
"""

from __future__ import annotations

import hashlib
import heapq
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from ledger import balances, items, keys, posting, two_phase, validation
from ledger.chart import default_chart
from ledger.errors import (
    AccountExists,
    AccountNotFound,
    DuplicateJournal,
    JournalConflict,
    JournalNotFound,
    LedgerBusy,
    LedgerError,
    PendingAlreadyResolved,
    TransactionTooLarge,
)
from ledger.items import Tables
from ledger.model import (
    Account,
    AccountSpec,
    AccountStatus,
    Balance,
    BalancePolicy,
    Entry,
    Journal,
    JournalKind,
    JournalRequest,
    JournalView,
    Page,
    Posting,
    Totals,
    TrialBalance,
    TrialBalanceLine,
)
from ledger.parts import LedgerPart, TransactionPart
from ledger.verification import (
    RecheckScope,
    Snapshot,
    StoredBalance,
    VerificationReport,
    recheck_scope,
    verify_snapshot,
    with_reread,
)

MAX_TRANSACTION_ITEMS = 100
VERIFY_REREADS = 4  # consistent re-reads of what disagrees before a discrepancy is reported


def utcnow() -> datetime:
    return datetime.now(UTC)


class SpecCache:
    """Account definitions never change once opened (status lives on the balance items, where
    every posting's condition checks it), so they can be cached per process: a posting to a
    cached account makes no read at all."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._data: OrderedDict[tuple[str, str], AccountSpec] = OrderedDict()

    def get(self, tenant: str, account_id: str) -> AccountSpec | None:
        with self._lock:
            spec = self._data.get((tenant, account_id))
            if spec is not None:
                self._data.move_to_end((tenant, account_id))
            return spec

    def put(self, tenant: str, spec: AccountSpec) -> None:
        with self._lock:
            self._data[(tenant, spec.account_id)] = spec
            self._data.move_to_end((tenant, spec.account_id))
            while len(self._data) > self._size:
                self._data.popitem(last=False)


class DynamoLedger:
    """One ledger over the three `<prefix>ledger-*` tables; thread-safe, one per process."""

    def __init__(
        self,
        client: Any,
        table_prefix: str,
        *,
        clock: Callable[[], datetime] = utcnow,
        conflict_retries: int = 8,
        backoff_base: float = 0.005,
        backoff_cap: float = 0.2,
        sleep: Callable[[float], None] = time.sleep,
        spec_cache_size: int = 10_000,
    ) -> None:
        self.client = client
        self.tables = Tables(table_prefix)
        self.clock = clock
        self.conflict_retries = conflict_retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.sleep = sleep
        self.specs = SpecCache(spec_cache_size)

    # ---- committing ---------------------------------------------------------------------------

    def commit(self, parts: Sequence[TransactionPart], token_seed: str | None = None) -> None:
        """Commits parts in one TransactWriteItems; retries conflicts with bounded backoff and
        raises the precise error a part explains."""
        all_items = [item for part in parts for item in part.items]
        if len(all_items) > MAX_TRANSACTION_ITEMS:
            raise TransactionTooLarge(len(all_items), MAX_TRANSACTION_ITEMS)
        if not all_items:
            return
        for attempt in range(self.conflict_retries + 1):
            kwargs: dict[str, Any] = {"TransactItems": all_items}
            if token_seed is not None:
                # botocore's own retries of one attempt reuse the token (ambiguous timeouts).
                digest = hashlib.sha256(f"{token_seed}:{attempt}".encode()).hexdigest()
                kwargs["ClientRequestToken"] = digest[:36]
            try:
                self.client.transact_write_items(**kwargs)
                return
            except Exception as exc:
                response = getattr(exc, "response", None) or {}
                code = response.get("Error", {}).get("Code")
                if code == "TransactionCanceledException":
                    reasons = response.get("CancellationReasons") or []
                    error = explain(parts, reasons)
                    if error is not None:
                        raise error from exc
                    if not _only_conflicts(reasons):
                        raise
                elif code not in ("TransactionConflictException",
                                  "TransactionInProgressException"):
                    raise
            if attempt < self.conflict_retries:
                cap = min(self.backoff_cap, self.backoff_base * 2**attempt)
                self.sleep(random.uniform(0, cap))
        raise LedgerBusy(self.conflict_retries + 1)

    # ---- accounts -----------------------------------------------------------------------------

    def prepare_open_accounts(self, tenant: str, specs: Sequence[AccountSpec]) -> list[LedgerPart]:
        """Parts (<= 60 items each) that open these accounts; a taken id fails AccountExists."""
        validation.check_tenant(tenant)
        for spec in specs:
            validation.check_account_spec(spec)
        return posting.open_parts(self.tables, tenant, specs, self.clock())

    def prepare_default_chart(self, tenant: str, currency: str,
                              shards: int = 32) -> list[LedgerPart]:
        validation.check_currency(currency)
        return self.prepare_open_accounts(tenant, default_chart(currency, shards))

    def open_accounts(self, tenant: str, specs: Sequence[AccountSpec]) -> list[Account]:
        """Opens the accounts not opened yet; the same definition again is a no-op, a different
        one AccountExists naming the fields."""
        validation.check_tenant(tenant)
        for spec in specs:
            validation.check_account_spec(spec)
        existing = self._load_accounts(tenant, [s.account_id for s in specs])
        missing = []
        for spec in specs:
            have = existing.get(spec.account_id)
            if have is None:
                missing.append(spec)
                continue
            diff = items.spec_differences(have.spec, spec)
            if diff:
                raise AccountExists(spec.account_id, diff)
        for part in self.prepare_open_accounts(tenant, missing):
            try:
                self.commit([part])
            except AccountExists as err:
                if err.differences:
                    raise
        return [self.get_account(tenant, s.account_id) for s in specs]

    def open_default_chart(self, tenant: str, currency: str, shards: int = 32) -> list[Account]:
        return self.open_accounts(tenant, default_chart(currency, shards))

    def prepare_close_account(self, tenant: str, account_id: str) -> LedgerPart:
        """Closed on the definition and every balance item: later postings fail AccountClosed.
        Voids of earlier pending journals still release their reservations."""
        return posting.close_part(self.tables, tenant, self.get_account(tenant, account_id).spec)

    def close_account(self, tenant: str, account_id: str) -> Account:
        account = self.get_account(tenant, account_id)
        if account.status is not AccountStatus.CLOSED:
            self.commit([posting.close_part(self.tables, tenant, account.spec)])
        return self.get_account(tenant, account_id)

    def get_account(self, tenant: str, account_id: str) -> Account:
        validation.check_tenant(tenant)
        validation.check_account_id(account_id)
        found = self._load_accounts(tenant, [account_id])
        if account_id not in found:
            raise AccountNotFound(account_id)
        return found[account_id]

    def list_accounts(self, tenant: str, limit: int = 100,
                      cursor: Mapping[str, str] | None = None) -> Page[Account]:
        """The chart in account id order, across the sharded listing index."""
        validation.check_tenant(tenant)
        after = (cursor or {}).get("after")
        rows, more = self._merge_query(
            self.tables.accounts, "gsi1", "gsi1pk", "gsi1sk", keys.accounts_index_pks(tenant),
            after, limit, consistent=False,
        )
        accounts = [items.account_from_item(r) for r in rows]
        for a in accounts:
            self.specs.put(tenant, a.spec)
        return Page(accounts, {"after": accounts[-1].account_id} if more and accounts else None)

    def balance(self, tenant: str, account_id: str, as_of: date | None = None) -> Balance:
        """Current balance (sum of the balance items), or as of the end of an effective date
        (sum of the entries up to it)."""
        spec = self.get_account(tenant, account_id).spec
        if as_of is None:
            totals = sum(self._stored_balances(tenant, spec).values(), Totals())
        else:
            totals = Totals()
            for pk in self._entry_partitions(tenant, spec):
                for item in self._query_all(
                    self.tables.entries, None, "pk", pk, sk_lt=keys.entries_before(as_of)
                ):
                    totals = totals + items.totals_from(_numbers(item))
        return balances.balance_of(account_id, spec.currency, spec.normal_side, totals,
                                   spec.floor, as_of)

    def statement(self, tenant: str, account_id: str, limit: int = 100,
                  cursor: Mapping[str, str] | None = None) -> Page[Entry]:
        """The account's entries in effective-date order; `cursor` continues after the last one
        (for a sharded account the shard partitions are merged)."""
        spec = self.get_account(tenant, account_id).spec
        limit = max(1, min(limit, 1000))
        after = (cursor or {}).get("after")
        rows, more = self._merge_query(
            self.tables.entries, None, "pk", "sk", self._entry_partitions(tenant, spec),
            after, limit, consistent=True,
        )
        entries = [items.entry_from_item(r) for r in rows]
        return Page(entries, {"after": entries[-1].position} if more and entries else None)

    def trial_balance(self, tenant: str) -> TrialBalance:
        lines: list[TrialBalanceLine] = []
        by_currency: dict[str, Totals] = {}
        for account in self._all_accounts(tenant):
            spec = account.spec
            t = sum(self._stored_balances(tenant, spec).values(), Totals())
            lines.append(TrialBalanceLine(spec.account_id, spec.type, spec.currency, t))
            by_currency[spec.currency] = by_currency.get(spec.currency, Totals()) + t
        return TrialBalance(lines, by_currency)

    # ---- journals: prepare ------------------------------------------------------------------

    def prepare_journal(self, tenant: str, request: JournalRequest) -> LedgerPart:
        """A standard (or, with request.pending, a pending) journal as a transaction part."""
        return self._assemble(tenant, self._new_journal(tenant, request), None)

    def prepare_post_pending(
        self, tenant: str, journal_id: str, pending_id: str, *,
        postings: Sequence[Posting] | None = None, effective_date: date | None = None,
        description: str = "", metadata: Mapping[str, str] | None = None,
        known: JournalView | None = None,
    ) -> LedgerPart:
        """Posts a pending journal (fully, or `postings` <= each reserved leg) and releases the
        rest of its reservation. `known`: the pending journal as the caller just read it (or
        wrote it), saving the read; its state is still checked by the transaction."""
        journal, pending = self._resolution(tenant, journal_id, pending_id, postings,
                                            effective_date, description, metadata, post=True,
                                            known=known)
        return self._assemble(tenant, journal, pending)

    def prepare_void_pending(
        self, tenant: str, journal_id: str, pending_id: str, *,
        effective_date: date | None = None, description: str = "",
        metadata: Mapping[str, str] | None = None, known: JournalView | None = None,
    ) -> LedgerPart:
        journal, pending = self._resolution(tenant, journal_id, pending_id, None,
                                            effective_date, description, metadata, post=False,
                                            known=known)
        return self._assemble(tenant, journal, pending)

    def prepare_reversal(
        self, tenant: str, journal_id: str, original_id: str, *,
        effective_date: date | None = None, description: str = "",
        metadata: Mapping[str, str] | None = None,
    ) -> LedgerPart:
        """A journal mirroring a posted one (sides swapped), linked to it; once per journal."""
        journal, original = self._reversal(tenant, journal_id, original_id, effective_date,
                                           description, metadata)
        two_phase.check_reversible(original)
        return self._assemble(tenant, journal, None)

    # ---- journals: commit alone, idempotently -----------------------------------------------

    def post(self, tenant: str, request: JournalRequest) -> Journal:
        """Commits a standard or pending journal; a replay returns the stored journal."""
        journal = self._new_journal(tenant, request)
        return self._submit(tenant, journal, lambda: self._assemble(tenant, journal, None))

    def post_pending(
        self, tenant: str, journal_id: str, pending_id: str, *,
        postings: Sequence[Posting] | None = None, effective_date: date | None = None,
        description: str = "", metadata: Mapping[str, str] | None = None,
    ) -> Journal:
        journal, pending = self._resolution(tenant, journal_id, pending_id, postings,
                                            effective_date, description, metadata, post=True)
        return self._submit(tenant, journal, lambda: self._assemble(tenant, journal, pending))

    def void_pending(
        self, tenant: str, journal_id: str, pending_id: str, *,
        effective_date: date | None = None, description: str = "",
        metadata: Mapping[str, str] | None = None,
    ) -> Journal:
        journal, pending = self._resolution(tenant, journal_id, pending_id, None,
                                            effective_date, description, metadata, post=False)
        return self._submit(tenant, journal, lambda: self._assemble(tenant, journal, pending))

    def reverse(
        self, tenant: str, journal_id: str, original_id: str, *,
        effective_date: date | None = None, description: str = "",
        metadata: Mapping[str, str] | None = None,
    ) -> Journal:
        journal, original = self._reversal(tenant, journal_id, original_id, effective_date,
                                           description, metadata)

        def build() -> LedgerPart:
            two_phase.check_reversible(original)
            return self._assemble(tenant, journal, None)

        return self._submit(tenant, journal, build)

    def get_journal(self, tenant: str, journal_id: str) -> JournalView:
        view = self._find_journal(tenant, journal_id)
        if view is None:
            raise JournalNotFound(journal_id)
        return view

    def journal_entries(self, tenant: str, journal_id: str) -> list[Entry]:
        """The entries a journal wrote (one per account it touched), from the entries index."""
        validation.check_tenant(tenant)
        validation.check_journal_id(journal_id)
        response = self.client.query(
            TableName=self.tables.entries,
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :pk AND begins_with(gsi1sk, :jid)",
            ExpressionAttributeValues={
                ":pk": {"S": keys.entries_index_pk(tenant, journal_id)},
                ":jid": {"S": f"{journal_id}#"},
            },
        )
        return [items.entry_from_item(i) for i in response.get("Items", [])]

    def sweep_expired(self, tenant: str, now: datetime | None = None, limit: int = 100,
                      keep: Callable[[str], bool] | None = None) -> list[Journal]:
        """Voids pending journals whose expiry has passed (the sparse pending index); safe to
        run concurrently: each void has a deterministic id and resolves at most once. Pendings
        whose id `keep` accepts are left open: their owner decides their fate."""
        validation.check_tenant(tenant)
        now = now or self.clock()
        bound = keys.iso(now)
        voided: list[Journal] = []
        for pk in keys.pending_index_pks(tenant):
            for item in self._query_all(self.tables.accounts, "gsi1", "gsi1pk", pk,
                                        sk_lt=bound, key_sk="gsi1sk"):
                if len(voided) >= limit:
                    return voided
                pending_id = item["journal_id"]["S"]
                if keep is not None and keep(pending_id):
                    continue
                try:
                    voided.append(self.void_pending(
                        tenant, _expiry_void_id(pending_id), pending_id,
                        effective_date=now.date(), description="expired pending journal",
                        metadata={"reason": "expired"},
                    ))
                except PendingAlreadyResolved:
                    continue
        return voided

    # ---- verification -------------------------------------------------------------------------

    def snapshot(self, tenant: str) -> Snapshot:
        """Everything the tenant's ledger holds, listed from the indexes (eventually consistent:
        `verify` re-reads whatever disagrees before believing it)."""
        validation.check_tenant(tenant)
        accounts = {a.account_id: a.spec for a in self._all_accounts(tenant)}
        stored: dict[tuple[str, int | None], StoredBalance] = {}
        for spec in accounts.values():
            stored.update(self._balance_snapshot(tenant, spec))
        journals: dict[str, Journal] = {}
        for pk in keys.journals_index_pks(tenant):
            for item in self._query_all(self.tables.journals, "gsi1", "gsi1pk", pk):
                j = items.journal_from_item(item)
                journals[j.journal_id] = j
        entries = [
            items.entry_from_item(item)
            for pk in keys.entries_index_pks(tenant)
            for item in self._query_all(self.tables.entries, "gsi1", "gsi1pk", pk)
        ]
        return Snapshot(tenant, accounts, stored, journals, entries)

    def verify(self, tenant: str) -> VerificationReport:
        """Every journal balances per currency, every balance item (posted and pending, every
        shard) equals the sum of its entries, the trial balance nets to zero per currency, no
        entry lacks its journal, links are used once, limits hold: every discrepancy listed.

        The snapshot comes from indexes, which lag on DynamoDB (a posting of the last moments
        is in the balance items but not yet in the entries index). So each discrepancy is
        re-checked on consistent base-table reads of the accounts and journals it concerns,
        and only one the re-read confirms (the same discrepancies twice in a row) is reported;
        postings committed during the re-read can move the figures, so it is repeated up to
        VERIFY_REREADS times."""
        snapshot = self.snapshot(tenant)
        report = verify_snapshot(snapshot)
        for _ in range(VERIFY_REREADS):
            if report.ok:
                break
            before = report.discrepancies
            snapshot = self._reread(snapshot, recheck_scope(snapshot, before))
            report = verify_snapshot(snapshot)
            if report.discrepancies == before:
                break
        return report

    def _reread(self, s: Snapshot, scope: RecheckScope) -> Snapshot:
        """`s` with the scope's accounts (definition, balance items, entries) and journals read
        consistently from the base tables, plus the journals of entries the index missed."""
        found = self._load_accounts(s.tenant, sorted(scope.accounts))
        stored: dict[tuple[str, int | None], StoredBalance] = {}
        entries: list[Entry] = []
        for account in found.values():
            for pk in self._entry_partitions(s.tenant, account.spec):
                entries.extend(items.entry_from_item(item)
                               for item in self._query_all(self.tables.entries, None, "pk", pk))
            stored.update(self._balance_snapshot(s.tenant, account.spec))
        wanted = set(scope.journals) | {e.journal_id for e in entries
                                        if e.journal_id not in s.journals}
        journals = {jid: self._stored_journal(s.tenant, jid) for jid in sorted(wanted)}
        specs = {a: found[a].spec if a in found else None for a in scope.accounts}
        return with_reread(s, specs, stored, entries, journals)

    def _stored_journal(self, tenant: str, journal_id: str) -> Journal | None:
        """The journal item itself, consistently (no id validation: the id comes from storage)."""
        for item in self._query_all(self.tables.journals, None, "pk",
                                    keys.journal_pk(tenant, journal_id)):
            if item["sk"]["S"] == keys.JOURNAL_SK:
                return items.journal_from_item(item)
        return None

    def _balance_snapshot(self, tenant: str,
                          spec: AccountSpec) -> dict[tuple[str, int | None], StoredBalance]:
        return {(spec.account_id, shard): StoredBalance(totals, low, high, status)
                for shard, (totals, low, high, status)
                in self._stored_balance_items(tenant, spec).items()}

    # ---- internals ----------------------------------------------------------------------------

    def _new_journal(self, tenant: str, request: JournalRequest) -> Journal:
        validation.check_tenant(tenant)
        validation.check_journal_request(request)
        return Journal(
            journal_id=request.journal_id,
            kind=JournalKind.PENDING if request.pending else JournalKind.STANDARD,
            postings=tuple(request.postings),
            effective_date=request.effective_date,
            created_at=self.clock(),
            description=request.description,
            metadata=dict(request.metadata),
            expires_at=request.expires_at,
        )

    def _linked(self, tenant: str, journal_id: str, ref: str, kind: JournalKind,
                postings: tuple[Posting, ...], effective_date: date | None, description: str,
                metadata: Mapping[str, str] | None) -> Journal:
        validation.check_tenant(tenant)
        validation.check_journal_id(journal_id)
        validation.check_journal_id(ref, "ref")
        validation.check_common(description, metadata or {})
        now = self.clock()
        return Journal(journal_id, kind, postings, effective_date or now.date(), now,
                       description, dict(metadata or {}), ref)

    def _resolution(self, tenant: str, journal_id: str, pending_id: str,
                    postings: Sequence[Posting] | None, effective_date: date | None,
                    description: str, metadata: Mapping[str, str] | None,
                    *, post: bool,
                    known: JournalView | None = None) -> tuple[Journal, JournalView]:
        validation.check_tenant(tenant)
        if known is not None and known.journal.journal_id != pending_id:
            raise ValueError("the known journal is not the pending one named")
        pending = known or self.get_journal(tenant, pending_id)
        if pending.journal.kind is not JournalKind.PENDING:
            two_phase.check_resolvable(pending, self.clock(), posting=post)
        if post:
            legs = two_phase.posted_legs(
                pending.journal, tuple(postings) if postings is not None else None
            )
            kind = JournalKind.POST_PENDING
        else:
            legs, kind = pending.journal.postings, JournalKind.VOID_PENDING
        journal = self._linked(tenant, journal_id, pending_id, kind, legs, effective_date,
                               description, metadata)
        return journal, pending

    def _reversal(self, tenant: str, journal_id: str, original_id: str,
                  effective_date: date | None, description: str,
                  metadata: Mapping[str, str] | None) -> tuple[Journal, JournalView]:
        validation.check_tenant(tenant)
        original = self.get_journal(tenant, original_id)
        journal = self._linked(tenant, journal_id, original_id, JournalKind.REVERSAL,
                               two_phase.reversal_legs(original.journal), effective_date,
                               description, metadata)
        return journal, original

    def _assemble(self, tenant: str, journal: Journal,
                  pending: JournalView | None) -> LedgerPart:
        if pending is not None:
            two_phase.check_resolvable(pending, journal.created_at,
                                       posting=journal.kind is JournalKind.POST_PENDING)
        account_ids = {p.account_id for p in journal.postings}
        if pending is not None:
            account_ids |= {p.account_id for p in pending.journal.postings}
        specs = self._load_specs(tenant, sorted(account_ids))
        return posting.journal_part(
            self.tables, tenant, journal, specs,
            pending=pending.journal if pending else None, now=journal.created_at,
        )

    def _submit(self, tenant: str, journal: Journal, build: Callable[[], LedgerPart]) -> Journal:
        """Prepare and commit alone; any refusal is first checked against a stored journal of
        the same id (a replay answers with the original, a different content with a conflict)."""
        try:
            part = build()
            self.commit([part], token_seed=f"{tenant}:{journal.journal_id}:"
                                           f"{keys.iso(journal.created_at)}")
            return journal
        except DuplicateJournal as dup:
            return dup.existing
        except LedgerError as err:
            if isinstance(err, JournalConflict):
                raise
            existing = self._find_journal(tenant, journal.journal_id)
            if existing is None:
                raise
            diff = two_phase.content_differences(existing.journal, journal)
            if diff:
                raise JournalConflict(journal.journal_id, diff, existing.journal) from err
            return existing.journal

    def _find_journal(self, tenant: str, journal_id: str) -> JournalView | None:
        validation.check_tenant(tenant)
        validation.check_journal_id(journal_id)
        pk = keys.journal_pk(tenant, journal_id)
        found = list(self._query_all(self.tables.journals, None, "pk", pk))
        state = self.client.get_item(
            TableName=self.tables.accounts, ConsistentRead=True,
            Key={"pk": {"S": pk}, "sk": {"S": keys.PENDING_SK}},
        ).get("Item")
        return items.view_from_items(found + ([state] if state else []))

    def _load_specs(self, tenant: str, account_ids: Iterable[str]) -> dict[str, AccountSpec]:
        out: dict[str, AccountSpec] = {}
        missing = []
        for account_id in account_ids:
            spec = self.specs.get(tenant, account_id)
            if spec is None:
                missing.append(account_id)
            else:
                out[account_id] = spec
        if missing:
            for account_id, account in self._load_accounts(tenant, missing).items():
                out[account_id] = account.spec
        return out

    def _load_accounts(self, tenant: str, account_ids: Sequence[str]) -> dict[str, Account]:
        wanted = [
            {"pk": {"S": keys.account_pk(tenant, a)}, "sk": {"S": keys.DEF_SK}}
            for a in dict.fromkeys(account_ids)
        ]
        out = {}
        for item in self._batch_get(self.tables.accounts, wanted):
            account = items.account_from_item(item)
            self.specs.put(tenant, account.spec)
            out[account.account_id] = account
        return out

    def _all_accounts(self, tenant: str) -> list[Account]:
        out: list[Account] = []
        cursor: Mapping[str, str] | None = None
        while True:
            page = self.list_accounts(tenant, 1000, cursor)
            out.extend(page.items)
            if page.cursor is None:
                return out
            cursor = page.cursor

    def _stored_balance_items(
        self, tenant: str, spec: AccountSpec
    ) -> dict[int | None, tuple[Totals, int, int, str]]:
        out: dict[int | None, tuple[Totals, int, int, str]] = {}
        for item in self._batch_get(self.tables.accounts, items.balance_keys(tenant, spec)):
            v = _numbers(item)
            shard = items.shard_of_key(item["pk"]["S"])
            out[shard] = (items.totals_from(v), int(v.get("low", 0)), int(v.get("high", 0)),
                          item.get("status", {}).get("S", "open"))
        return out

    def _stored_balances(self, tenant: str, spec: AccountSpec) -> dict[int | None, Totals]:
        return {k: v[0] for k, v in self._stored_balance_items(tenant, spec).items()}

    def _entry_partitions(self, tenant: str, spec: AccountSpec) -> list[str]:
        if spec.policy is BalancePolicy.EXACT:
            return [keys.entries_pk(tenant, spec.account_id, None)]
        return [keys.entries_pk(tenant, spec.account_id, s) for s in range(spec.shards)]

    def _batch_get(self, table: str, wanted: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for start in range(0, len(wanted), 100):
            request = {table: {"Keys": wanted[start:start + 100], "ConsistentRead": True}}
            for attempt in range(10):
                response = self.client.batch_get_item(RequestItems=request)
                out.extend(response.get("Responses", {}).get(table, []))
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
                self.sleep(min(self.backoff_cap, self.backoff_base * 2**attempt))
            else:
                raise LedgerBusy(10)
        return out

    def _query_all(self, table: str, index: str | None, key_pk: str, pk: str, *,
                   sk_lt: str | None = None, sk_gt: str | None = None, key_sk: str = "sk",
                   limit: int | None = None) -> Iterator[dict[str, Any]]:
        names = {"#pk": key_pk}
        values: dict[str, Any] = {":pk": {"S": pk}}
        condition = "#pk = :pk"
        if sk_lt is not None:
            condition += " AND #sk < :lt"
            values[":lt"] = {"S": sk_lt}
            names["#sk"] = key_sk
        if sk_gt is not None:
            condition += " AND #sk > :gt"
            values[":gt"] = {"S": sk_gt}
            names["#sk"] = key_sk
        kwargs: dict[str, Any] = {
            "TableName": table,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        if index:
            kwargs["IndexName"] = index
        else:
            kwargs["ConsistentRead"] = True
        if limit is not None:
            kwargs["Limit"] = limit
        while True:
            response = self.client.query(**kwargs)
            yield from response.get("Items", [])
            last = response.get("LastEvaluatedKey")
            if not last or limit is not None:
                return
            kwargs["ExclusiveStartKey"] = last

    def _merge_query(self, table: str, index: str | None, key_pk: str, key_sk: str,
                     pks: list[str], after: str | None, limit: int, *,
                     consistent: bool) -> tuple[list[dict[str, Any]], bool]:
        """Up to `limit` items after `after` in sort-key order across several partitions, and
        whether more exist (sort keys are unique across the partitions)."""
        streams = []
        more = False
        for pk in pks:
            got = list(self._query_all(table, index, key_pk, pk, sk_gt=after, key_sk=key_sk,
                                       limit=limit + 1))
            if len(got) > limit:
                more = True
            streams.append(got)
        merged = list(heapq.merge(*streams, key=lambda item: item[key_sk]["S"]))
        if len(merged) > limit:
            more = True
        return merged[:limit], more


def explain(
    parts: Sequence[TransactionPart], reasons: Sequence[dict[str, Any]]
) -> Exception | None:
    """Slices CancellationReasons back to each part (same order as the items) and returns the
    first error a part explains."""
    offset = 0
    for part in parts:
        mine = list(reasons[offset:offset + len(part.items)])
        offset += len(part.items)
        if any(r.get("Code") not in (None, "None") for r in mine):
            error = part.explain(mine)
            if error is not None:
                return error
    return None


def _only_conflicts(reasons: Sequence[dict[str, Any]]) -> bool:
    codes = {r.get("Code") for r in reasons} - {None, "None"}
    return bool(codes) and codes <= {"TransactionConflict"}


def _numbers(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: int(v["N"]) if "N" in v else v.get("S") for k, v in item.items()}


def _expiry_void_id(pending_id: str) -> str:
    candidate = f"expired:{pending_id}"
    if len(candidate) <= 128:
        return candidate
    return "expired:" + hashlib.sha256(pending_id.encode()).hexdigest()[:40]

