"""A channel's statement format (`admin` sets it, with an audit record; bookkeepers read it):
which format its `.csv` statements are in, the account its camt.053 statements must name, and
the column mapping of its bank's own CSV export. See docs/statements.md."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from chalice import Blueprint
from pydantic import BaseModel, Field, StringConstraints, model_validator

from chalicelib.api.http import Context, Reply, endpoint
from chalicelib.api.roles import BOOKKEEPERS, CONFIGURERS
from chalicelib.api.schemas import Strict
from chalicelib.errors import FieldError, conflict, invalid, not_found
from chalicelib.lending import statement_mapping
from chalicelib.lending.money import CurrencyCode
from chalicelib.store import audit
from chalicelib.store import channels as channel_store
from chalicelib.store import statement_formats as store
from chalicelib.store.outbox import iso

bp = Blueprint(__name__)

Column = Annotated[int, Field(ge=1, le=500)] | Annotated[
    str, StringConstraints(min_length=1, max_length=100)]
COLUMN = ("A column: its header name (needs `header: true`) or its 1-based position.")
Value = Annotated[str, StringConstraints(min_length=1, max_length=20)]


class IndicatorRule(Strict):
    """The type is in a column of its own, e.g. 借/贷 or D/C."""

    by: Literal["indicator"]
    column: Column = Field(description=COLUMN)
    payout: list[Value] = Field(min_length=1, max_length=10,
                                description="Values meaning money out (借, D, DR).")
    collection: list[Value] = Field(min_length=1, max_length=10,
                                    description="Values meaning money in (贷, C, CR).")


class SignRule(Strict):
    """The amount is signed."""

    by: Literal["sign"]
    negative: Literal["payout", "collection"] = Field(
        default="payout", description="What a negative amount is (a bank debit: payout).")


class ColumnsRule(Strict):
    """Separate debit (money out) and credit (money in) amount columns; one per row is used."""

    by: Literal["columns"]
    debit: Column = Field(description=COLUMN)
    credit: Column = Field(description=COLUMN)


class CsvMapping(Strict):
    encoding: Literal["utf-8", "utf-8-sig", "gb18030"] = Field(
        default="utf-8", description="gb18030 reads GBK and GB2312 exports too.")
    delimiter: Literal[",", ";", "\t", "|"] = ","
    header: bool = Field(default=True, description="A header row follows the skipped lines.")
    skip_lines: int = Field(default=0, ge=0, le=100, description="Title lines before it.")
    skip_footer_lines: int = Field(default=0, ge=0, le=100,
                                   description="Summary rows after the data (blank rows are "
                                   "skipped anyway).")
    reference: Column = Field(description=COLUMN)
    amount: Column | None = Field(default=None, description=COLUMN + " Not with `by: columns`.")
    currency: Column | None = Field(default=None, description=COLUMN)
    fixed_currency: CurrencyCode | None = Field(default=None, description=(
        "The currency of every line, for files without a currency column."))
    value_date: Column = Field(description=COLUMN)
    date_format: str = Field(default="%Y-%m-%d", min_length=2, max_length=40, description=(
        "strptime directives %Y %y %m %d %b %H %M %S %%, e.g. `%Y%m%d`, `%d/%m/%Y`."))
    type: IndicatorRule | SignRule | ColumnsRule = Field(discriminator="by")
    decimal_separator: Literal[".", ","] = "."
    thousands_separator: Literal["", ",", ".", " ", "'"] = ""


class StatementFormatIn(Strict):
    format: Literal["native", "camt053", "mapped_csv"] = Field(default="native", description=(
        "What the nightly job reads this channel's `.csv` statements as (`.xml` is always "
        "camt.053)."))
    account: str | None = Field(default=None, min_length=1, max_length=64, description=(
        "The account the bank's camt.053 statements name (Acct/Id/IBAN or Othr/Id; spaces "
        "and case ignored). A camt.053 statement of any other account is refused."))
    csv: CsvMapping | None = Field(default=None, description="Required for mapped_csv.")

    @model_validator(mode="after")
    def _mapping_when_mapped(self) -> StatementFormatIn:
        if self.format == "mapped_csv" and self.csv is None:
            raise ValueError("format mapped_csv needs the csv mapping")
        return self


class StatementFormatOut(StatementFormatIn):
    channel_id: str
    version: int
    updated_at: str


def _channel_currency(ctx: Context, channel_id: str) -> str:
    item = channel_store.get_channel(ctx.tenant, channel_id)
    if item is None:
        raise not_found("Channel")
    return item.currency


@endpoint(bp, "PUT", "/v1/channels/{channel_id}/statement-format",
          summary="Set how a channel's statements are read", tag="Reconciliation",
          roles=CONFIGURERS, body=StatementFormatIn,
          responses={200: (StatementFormatOut, "The format now in force")})
def put_statement_format(ctx: Context, channel_id: str, body: StatementFormatIn) -> Reply:
    currency = _channel_currency(ctx, channel_id)
    setting = body.model_dump(mode="json")
    if body.csv is not None:
        mapping = statement_mapping.Mapping.of(setting["csv"])
        problems = [FieldError(f"/body/csv/{where}", message)
                    for where, message in statement_mapping.problems(mapping)]
        if body.csv.fixed_currency not in (None, currency):
            problems.append(FieldError("/body/csv/fixed_currency",
                                       f"the channel pays in {currency}"))
        if problems:
            raise invalid(problems, "The statement mapping is not valid.")
    earlier = store.get(ctx.tenant, channel_id)
    version = earlier[1] + 1 if earlier else 1
    ctx.uow.add(store.put(ctx.tenant, channel_id, setting, version, iso(ctx.now)),
                on_fail=lambda _r: conflict("The statement format changed concurrently; retry."))
    audit.append(ctx.uow, tenant=ctx.tenant, aggregate_type="statement_format",
                 aggregate_id=channel_id,
                 head=audit.latest_head(ctx.tenant, "statement_format", channel_id),
                 action="statement_format.set", actor=ctx.actor, at=ctx.now,
                 data={**setting, "version": version})
    return Reply(_out(channel_id, setting, version, iso(ctx.now)))


@endpoint(bp, "GET", "/v1/channels/{channel_id}/statement-format",
          summary="How a channel's statements are read", tag="Reconciliation",
          roles=BOOKKEEPERS,
          responses={200: (StatementFormatOut, "The format (default: native, no mapping)")})
def get_statement_format(ctx: Context, channel_id: str) -> Reply:
    _channel_currency(ctx, channel_id)
    found = store.get(ctx.tenant, channel_id)
    if found is None:
        return Reply(_out(channel_id, StatementFormatIn().model_dump(mode="json"), 0, ""))
    return Reply(_out(channel_id, *found))


def _out(channel_id: str, setting: dict[str, Any], version: int, at: str) -> BaseModel:
    return StatementFormatOut(channel_id=channel_id, version=version, updated_at=at, **setting)
