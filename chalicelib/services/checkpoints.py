"""Audit checkpoints: a hash over the audit records of one interval, so that a later verifier
can prove those records were not edited, removed, added or reordered since.

Checkpoints tile time: each covers [previous checkpoint's `through`, its own `through`), so
every audit record falls in exactly one, and each carries the previous checkpoint's hash (a
removed or rewritten checkpoint breaks that chain). The nightly job checkpoints through the
end of the previous day; an on-demand run checkpoints through `now - SETTLE` (records are
stamped with their request time and the index is eventually consistent, so the last minutes
are left to the next checkpoint rather than risk a record arriving behind it).

Records are ordered by their index key (`<at>#<chain pk>#<seq>`: time, then chain, then
position - a total order independent of paging). Each contributes its key and the hash of its
content *recomputed* (not the stored hash, which an editor could recompute too). Hour buckets
localise a failure ("records of 10:00-11:00 changed") without storing every leaf.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.store import checkpoints as store
from chalicelib.store.audit import GENESIS, record_hash

SETTLE = timedelta(minutes=5)
MIN_INTERVAL = timedelta(hours=1)  # on-demand runs do not litter the chain with slivers
EPOCH = "0000-00-00T00:00:00.000000+00:00"  # the first checkpoint starts at the beginning


def stamp(moment: datetime) -> str:
    """The audit trail's own time format (datetime.isoformat of a UTC time), fixed width."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def buckets(records: list[dict[str, Any]]) -> dict[str, tuple[int, str]]:
    """`YYYY-MM-DDTHH` -> (count, digest) over the records, ordered by index key."""
    by_hour: dict[str, list[str]] = {}
    for rec in sorted(records, key=lambda r: r["gsi1sk"]):
        by_hour.setdefault(rec["gsi1sk"][:13], []).append(f"{rec['gsi1sk']} {record_hash(rec)}")
    return {h: (len(leaves), _sha("\n".join(leaves))) for h, leaves in sorted(by_hour.items())}


def digest_of(hours: dict[str, tuple[int, str]]) -> str:
    return _sha("\n".join(f"{h}:{c}:{d}" for h, (c, d) in sorted(hours.items())))


def checkpoint_hash(tenant: str, lower: str, through: str, count: int, digest: str,
                    prev: str) -> str:
    return _sha(json.dumps([tenant, lower, through, count, digest, prev], separators=(",", ":")))


def create(tenant: str, through: datetime, now: datetime) -> dict[str, Any]:
    """Checkpoints the records since the last checkpoint up to `through` (never later than
    now - SETTLE). Returns the newest checkpoint when there is nothing new to cover."""
    upper = stamp(min(through, now - SETTLE))
    latest = store.latest(tenant)
    if latest and latest[0]["sk"]["S"] >= stamp(min(through, now - SETTLE) - MIN_INTERVAL):
        return _view(latest[0])
    lower = latest[0]["sk"]["S"] if latest else EPOCH
    prev = latest[0]["checkpoint_hash"]["S"] if latest else GENESIS
    hours = buckets(store.interval_records(tenant, lower, upper))
    count = sum(c for c, _ in hours.values())
    digest = digest_of(hours)
    item = {
        "pk": {"S": store.pk(tenant)}, "sk": {"S": upper},
        "tenant": {"S": tenant}, "from": {"S": lower}, "count": {"N": str(count)},
        "digest": {"S": digest}, "hours": {"S": json.dumps(hours, separators=(",", ":"))},
        "prev_hash": {"S": prev},
        "checkpoint_hash": {"S": checkpoint_hash(tenant, lower, upper, count, digest, prev)},
        "created_at": {"S": stamp(now)},
    }
    if not store.put(item):  # a concurrent run wrote the same checkpoint first
        stored = store.get(tenant, upper)
        if stored is not None:
            return _view(stored)
    return _view(item)


def _view(item: dict[str, Any]) -> dict[str, Any]:
    return {"from": item["from"]["S"], "through": item["sk"]["S"],
            "count": int(item["count"]["N"]), "digest": item["digest"]["S"],
            "prev_hash": item["prev_hash"]["S"],
            "checkpoint_hash": item["checkpoint_hash"]["S"],
            "created_at": item["created_at"]["S"],
            "hours": {h: tuple(v) for h, v in json.loads(item["hours"]["S"]).items()}}


@dataclass
class CheckpointCheck:
    through: str
    ok: bool
    expected_count: int
    found_count: int
    problems: list[str] = field(default_factory=list)


def verify(tenant: str, cp: dict[str, Any], previous: dict[str, Any] | None,
           oldest: bool) -> CheckpointCheck:
    """Recomputes a checkpoint's interval from the trail as it is now; `previous` is the
    checkpoint before it, or `oldest` says there is none."""
    problems = []
    if checkpoint_hash(tenant, cp["from"], cp["through"], cp["count"], cp["digest"],
                       cp["prev_hash"]) != cp["checkpoint_hash"]:
        problems.append("the checkpoint itself was altered")
    if previous is not None and (cp["prev_hash"] != previous["checkpoint_hash"]
                                 or cp["from"] != previous["through"]):
        problems.append(f"does not link to the checkpoint through {previous['through']} "
                        "(a checkpoint was removed or replaced)")
    if oldest and (cp["prev_hash"] != GENESIS or cp["from"] != EPOCH):
        problems.append("links to an earlier checkpoint that no longer exists")
    hours = buckets(store.interval_records(tenant, cp["from"], cp["through"]))
    found = sum(c for c, _ in hours.values())
    if digest_of(hours) != cp["digest"]:
        stored = cp["hours"]
        for hour in sorted(set(stored) | set(hours)):
            was, now = stored.get(hour, (0, "")), hours.get(hour, (0, ""))
            if was != now:
                change = ("records removed" if now[0] < was[0] else "records added"
                          if now[0] > was[0] else "records edited or reordered")
                problems.append(f"{hour[:10]} {hour[11:13]}:00-{hour[11:13]}:59 UTC: {change} "
                                f"({was[0]} at checkpoint, {now[0]} now)")
    return CheckpointCheck(cp["through"], not problems, cp["count"], found, problems)


def verify_recent(tenant: str, limit: int = 7) -> list[CheckpointCheck]:
    """The newest `limit` checkpoints, each against its records and its predecessor."""
    views = [_view(i) for i in store.latest(tenant, limit=limit + 1)]
    checks = []
    for i, cp in enumerate(views[:limit]):
        previous = views[i + 1] if i + 1 < len(views) else None
        checks.append(verify(tenant, cp, previous, oldest=previous is None
                             and len(views) <= limit))
    return checks


def listing(tenant: str, limit: int) -> list[dict[str, Any]]:
    return [_view(i) for i in store.latest(tenant, limit=limit)]
