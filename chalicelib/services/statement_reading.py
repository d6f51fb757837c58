"""Which parser reads a statement, and with what channel settings: the three formats end in
the same `StatementLine`s, so matching never knows which one it was.

- `native`: the project's own CSV (lending/statement.py), needing nothing from the channel;
- `camt053`: ISO 20022 XML (lending/camt053.py), checked against the channel's currency and
  the `account` of its statement format;
- `mapped_csv`: a bank's CSV through the channel's column mapping (lending/statement_mapping.py).

The nightly job picks by the S3 key (`format_for_key`): `.xml` is camt.053; `.native.csv` is
native (a statement fetched over the bank protocol, services/statement_fetch.py); `.csv` is what
the channel's statement format says for CSV (`native` or `mapped_csv`), `native` without one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.errors import DomainError, FieldError, not_found
from chalicelib.lending import camt053, statement, statement_mapping
from chalicelib.lending.reconcile import StatementLine
from chalicelib.store import channels as channel_store
from chalicelib.store import statement_formats

FORMATS = ("native", "camt053", "mapped_csv")


@dataclass(frozen=True)
class Read:
    lines: list[StatementLine]
    skipped: int = 0  # camt.053 entries not booked (PDNG, INFO): not money that moved


def setting(tenant: str, channel: str) -> dict[str, Any]:
    found = statement_formats.get(tenant, channel)
    return found[0] if found else {"format": "native", "account": None, "csv": None}


def read(tenant: str, channel: str, fmt: str, data: bytes) -> Read:
    """Raises statement.StatementError for a malformed file, DomainError when the channel
    is missing or has no mapping for `mapped_csv`."""
    if fmt == "native":
        return Read(statement.parse(data))
    item = channel_store.get_channel(tenant, channel)
    if item is None:
        raise not_found("Channel")
    config = setting(tenant, channel)
    if fmt == "camt053":
        parsed = camt053.parse(data, currency=item.currency, account=config.get("account"))
        return Read(parsed.lines, parsed.skipped)
    if not config.get("csv"):
        raise DomainError("validation-error", "The channel has no CSV mapping.", [FieldError(
            "/body/format", f"PUT /v1/channels/{channel}/statement-format with `csv` first")])
    return Read(statement_mapping.parse(data, statement_mapping.Mapping.of(config["csv"]),
                                        item.currency))


def format_for_key(tenant: str, channel: str, s3_key: str) -> str:
    if s3_key.lower().endswith(".xml"):
        return "camt053"
    if s3_key.lower().endswith(".native.csv"):  # fetched from a bank_http channel
        return "native"
    chosen = setting(tenant, channel).get("format")
    return "mapped_csv" if chosen == "mapped_csv" else "native"
