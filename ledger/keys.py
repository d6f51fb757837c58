"""Every DynamoDB key the ledger writes: all start with "<tenant>#" ("#" is in no tenant id).

Hot-partition rule: anything written by every posting is spread over shards. Per-tenant index
partitions (account listing, journal listing, entries by journal, open pendings) use
INDEX_SHARDS partitions chosen by a stable hash, so no single GSI partition takes a tenant's
whole write rate.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta

INDEX_SHARDS = 16
DEF_SK = "def"
BAL_SK = "bal"
JOURNAL_SK = "journal"
PENDING_SK = "pending"
REVERSED_SK = "reversed"


def stable_hash(text: str) -> int:
    """A process-independent hash (Python's hash() is salted per process)."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def shard_for(journal_id: str, account_id: str, shards: int) -> int:
    """The balance shard (and entry partition) a journal's leg on a sharded account lands in."""
    return stable_hash(f"{journal_id}\x00{account_id}") % shards


def index_shard(text: str) -> str:
    return f"{stable_hash(text) % INDEX_SHARDS:02d}"


def account_pk(tenant: str, account_id: str) -> str:
    return f"{tenant}#acct#{account_id}"


def shard_pk(tenant: str, account_id: str, shard: int) -> str:
    return f"{tenant}#acct#{account_id}#{shard:02d}"


def accounts_index_pk(tenant: str, account_id: str) -> str:
    return f"{tenant}#accounts#{index_shard(account_id)}"


def accounts_index_pks(tenant: str) -> list[str]:
    return [f"{tenant}#accounts#{i:02d}" for i in range(INDEX_SHARDS)]


def journal_pk(tenant: str, journal_id: str) -> str:
    return f"{tenant}#jrnl#{journal_id}"


def journals_index_pk(tenant: str, journal_id: str) -> str:
    return f"{tenant}#journals#{index_shard(journal_id)}"


def journals_index_pks(tenant: str) -> list[str]:
    return [f"{tenant}#journals#{i:02d}" for i in range(INDEX_SHARDS)]


def pending_index_pk(tenant: str, journal_id: str) -> str:
    return f"{tenant}#pending#{index_shard(journal_id)}"


def pending_index_pks(tenant: str) -> list[str]:
    return [f"{tenant}#pending#{i:02d}" for i in range(INDEX_SHARDS)]


def pending_index_sk(expires_at: datetime, journal_id: str) -> str:
    return f"{iso(expires_at)}#{journal_id}"


def entries_pk(tenant: str, account_id: str, shard: int | None) -> str:
    base = f"{tenant}#entries#{account_id}"
    return base if shard is None else f"{base}#{shard:02d}"


def entry_sk(effective_date: date, created_at: datetime, journal_id: str) -> str:
    """Statement order: effective date, then recording time; unique per account per journal."""
    return f"{effective_date.isoformat()}#{iso(created_at)}#{journal_id}"


def entries_before(as_of: date) -> str:
    """Every entry sort key of an effective date <= as_of is below this bound."""
    return (as_of + timedelta(days=1)).isoformat()


def entries_index_pk(tenant: str, journal_id: str) -> str:
    return f"{tenant}#jentries#{index_shard(journal_id)}"


def entries_index_pks(tenant: str) -> list[str]:
    return [f"{tenant}#jentries#{i:02d}" for i in range(INDEX_SHARDS)]


def iso(moment: datetime) -> str:
    """Fixed-width UTC timestamp, so string order is time order."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
