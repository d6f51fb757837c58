"""Reconciliation runs and exceptions, audit checkpoints and the nightly verification results."""

from __future__ import annotations

import base64
import binascii
from datetime import date
from typing import Annotated, Literal

from chalice import Blueprint
from pydantic import BaseModel, Field, StringConstraints, model_validator

from chalicelib.api import pagination
from chalicelib.api.http import Context, Reply, endpoint
from chalicelib.api.ledger import JournalId, PostingIn
from chalicelib.api.reconciliation_models import (
    AuditResult,
    CheckpointResult,
    ExceptionDetail,
    ExceptionResolution,
    LedgerResult,
    ReconciliationResult,
    tagged,
)
from chalicelib.api.roles import BOOKKEEPERS, OPERATORS
from chalicelib.api.schemas import PageQuery, Strict
from chalicelib.errors import FieldError, invalid, not_found
from chalicelib.services import checkpoints, daily_checks, reconciliation, statement_reading
from chalicelib.store import outbox as items
from chalicelib.store import reconciliation as store
from ledger.model import JournalRequest, Posting, Side

bp = Blueprint(__name__)
ChannelId = Annotated[str, StringConstraints(max_length=64,
                                             pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]
MAX_INLINE = 1024 * 1024


class RunCreate(Strict):
    channel: ChannelId
    format: Literal["native", "camt053", "mapped_csv"] = Field(default="native", description=(
        "How the statement is read (docs/statements.md): the project's CSV, ISO 20022 "
        "camt.053 XML, or the bank's CSV through the channel's statement-format mapping."))
    statement_key: str | None = Field(default=None, max_length=1024, description=(
        "S3 key of an uploaded statement: `<tenant>/statements/<channel>/<name>.csv|.xml`."))
    csv: str | None = Field(default=None, max_length=MAX_INLINE, description=(
        "The statement inline as text (native or mapped_csv; for mapped_csv it is encoded "
        "in the mapping's encoding). Native: header `reference,type,amount,currency,"
        "value_date`, one movement per line, amounts as plain decimals in major units, type "
        "payout|collection, ISO dates."))
    xml: str | None = Field(default=None, max_length=MAX_INLINE, description=(
        "A camt.053 document inline (format camt053), read as UTF-8."))
    content_base64: str | None = Field(default=None, max_length=MAX_INLINE * 4 // 3 + 4,
                                       description="The statement's exact bytes, base64, in "
                                       "any format (e.g. a GB18030 file as the bank sent it).")
    period_start: date | None = Field(default=None, description="Defaults to the earliest "
                                      "value date (or the date in the file's name).")
    period_end: date | None = Field(default=None, description="Defaults to the latest "
                                    "value date (give both period dates, or neither).")

    @model_validator(mode="after")
    def _one_source(self) -> RunCreate:
        given = [x for x in (self.statement_key, self.csv, self.xml, self.content_base64)
                 if x is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of statement_key, csv, xml and content_base64")
        if self.xml is not None and self.format != "camt053":
            raise ValueError("xml is a camt053 statement: give format camt053")
        if self.csv is not None and self.format == "camt053":
            raise ValueError("a camt053 statement goes in xml or content_base64")
        if (self.period_start is None) != (self.period_end is None):
            raise ValueError("give both period_start and period_end, or neither")
        return self


class ReconciliationRunOut(BaseModel):
    id: str
    channel: str
    status: Literal["running", "completed"]
    source: Literal["s3", "inline"]
    format: Literal["native", "camt053", "mapped_csv"]
    statement: str
    statement_sha256: str = Field(description="SHA-256 of the exact statement bytes used.")
    period_start: date
    period_end: date
    started_at: str
    finished_at: str | None
    lines: int | None
    skipped_entries: int = Field(description="camt.053 entries not booked (PDNG, INFO): "
                                 "listed by the bank, not reconciled.")
    movements: int | None = Field(description="Ledger movements read (period ± tolerance).")
    counts: dict[str, int] = Field(description="Results per class: matched, "
                                   "missing_in_ledger, missing_in_statement, amount_mismatch, "
                                   "duplicate.")
    new_exceptions: int | None
    known_exceptions: int | None = Field(description="Exceptions already raised by an "
                                         "earlier run (not raised twice).")


class RunPage(BaseModel):
    next_cursor: str | None
    data: list[ReconciliationRunOut]


class ExceptionOut(BaseModel):
    id: str
    kind: Literal["missing_in_ledger", "missing_in_statement", "amount_mismatch", "duplicate"]
    channel: str
    reference: str
    status: Literal["open", "resolved"]
    first_run_id: str
    first_seen: str
    detail: ExceptionDetail = Field(description="statement_line and/or ledger movement, with "
                                    "`differences` for mismatches and `side` for duplicates.")
    resolution: ExceptionResolution | None


class ExceptionPage(BaseModel):
    next_cursor: str | None
    data: list[ExceptionOut]


class ExceptionQuery(PageQuery):
    status: Literal["open", "resolved"] | None = None


class AdjustingJournal(Strict):
    journal_id: JournalId
    effective_date: date
    description: str = Field(default="", max_length=500)
    metadata: dict[str, str] = Field(default_factory=dict, max_length=20, description=(
        "Put the statement's reference under `channel_reference` so the next run matches."))
    postings: list[PostingIn] = Field(min_length=2, max_length=58)


class ExceptionResolveIn(Strict):
    note: str = Field(min_length=1, max_length=2000)
    journal: AdjustingJournal | None = Field(default=None, description=(
        "An adjusting journal posted in the same transaction as the resolution."))


class CheckpointOut(BaseModel):
    covers_from: str = Field(description="Start of the interval (the previous checkpoint's "
                                         "`through`; the first one starts at the beginning).")
    through: str = Field(description="End of the interval (exclusive), UTC.")
    count: int = Field(description="Audit records in the interval.")
    digest: str
    prev_hash: str
    checkpoint_hash: str
    created_at: str


class CheckpointList(BaseModel):
    data: list[CheckpointOut]


class CheckpointVerifyOut(BaseModel):
    through: str
    ok: bool
    expected_count: int
    found_count: int
    problems: list[str]


class CheckpointVerifyList(BaseModel):
    ok: bool
    data: list[CheckpointVerifyOut]


class VerificationOut(BaseModel):
    day: date
    ok: bool
    ran_at: str
    ledger: LedgerResult | None = None
    audit: AuditResult | None = None
    checkpoints: CheckpointResult | None = None
    reconciliation: ReconciliationResult | None = None


class VerificationPage(BaseModel):
    next_cursor: str | None
    data: list[VerificationOut]


class VerifyNow(Strict):
    day: date = Field(description="The business day (UTC), usually yesterday: the audit trail "
                      "is checkpointed through its end, or through now - 5 minutes while it "
                      "lasts.")


class LimitQuery(Strict):
    limit: int = Field(default=7, ge=1, le=100)


@endpoint(bp, "POST", "/v1/reconciliation/runs", location="/v1/reconciliation/runs/{id}",
          summary="Reconcile a channel statement now",
          tag="Reconciliation", roles=OPERATORS, body=RunCreate, idempotent=True,
          max_body=MAX_INLINE * 4 // 3 + 8192, errors={404},
          responses={201: (ReconciliationRunOut,
                           "The completed run; exceptions are listed separately")})
def create_run(ctx: Context, body: RunCreate) -> Reply:
    if body.statement_key is not None:
        source = reconciliation.load_s3(ctx.tenant, body.channel, body.statement_key,
                                        body.format)
    else:
        source = reconciliation.Source("inline", "inline", _inline(ctx, body), body.format)
    period = (body.period_start, body.period_end) if body.period_start and body.period_end \
        else None
    view = reconciliation.run(ctx.tenant, ctx.actor, ctx.now, body.channel, source, period,
                              ctx.uow)
    return Reply(ReconciliationRunOut(**view), 201)


def _inline(ctx: Context, body: RunCreate) -> bytes:
    if body.content_base64 is not None:
        try:
            return base64.b64decode(body.content_base64, validate=True)
        except binascii.Error as exc:
            raise invalid([FieldError("/body/content_base64", "not valid base64")]) from exc
    if body.xml is not None:
        return body.xml.encode()
    encoding = "utf-8"
    if body.format == "mapped_csv":
        encoding = (statement_reading.setting(ctx.tenant, body.channel).get("csv")
                    or {}).get("encoding", "utf-8")
    try:
        return (body.csv or "").encode(encoding)
    except UnicodeEncodeError as exc:
        raise invalid([FieldError("/body/csv", f"character {exc.start} cannot be written in "
                                  f"{encoding}")]) from exc


@endpoint(bp, "GET", "/v1/reconciliation/runs", summary="Reconciliation runs",
          tag="Reconciliation", roles=BOOKKEEPERS, query=PageQuery,
          responses={200: (RunPage, "Runs, newest first")})
def list_runs(ctx: Context, query: PageQuery) -> Reply:
    scope = pagination.scope_of(ctx.tenant, "recon-runs", {})
    found, last = items.query_page(store.runs_index_pk(ctx.tenant), index=True,
                                   limit=query.limit, newest_first=True,
                                   start=pagination.decode(query.cursor, scope))
    return Reply(RunPage(next_cursor=pagination.encode(scope, last),
                         data=[ReconciliationRunOut(**reconciliation.run_view(i)) for i in found]))


@endpoint(bp, "GET", "/v1/reconciliation/runs/{recon_run_id}", summary="A reconciliation run",
          tag="Reconciliation", roles=BOOKKEEPERS,
          responses={200: (ReconciliationRunOut, "The run")})
def get_reconciliation_run(ctx: Context, recon_run_id: str) -> Reply:
    item = items.get(store.run_pk(ctx.tenant, recon_run_id), store.RUN_SK)
    if item is None:
        raise not_found("Reconciliation run")
    return Reply(ReconciliationRunOut(**reconciliation.run_view(item)))


@endpoint(bp, "GET", "/v1/reconciliation/exceptions", summary="Reconciliation exceptions",
          tag="Reconciliation", roles=BOOKKEEPERS, query=ExceptionQuery,
          responses={200: (ExceptionPage, "Exceptions, newest first within a status")})
def list_exceptions(ctx: Context, query: ExceptionQuery) -> Reply:
    scope = pagination.scope_of(ctx.tenant, "recon-exceptions", {"status": query.status})
    found, last = items.query_page(store.exceptions_index_pk(ctx.tenant), index=True,
                                   prefix=f"{query.status}#" if query.status else None,
                                   limit=query.limit, newest_first=True,
                                   start=pagination.decode(query.cursor, scope))
    return Reply(ExceptionPage(next_cursor=pagination.encode(scope, last),
                               data=[ExceptionOut(**reconciliation.exception_view(i))
                                     for i in found]))


@endpoint(bp, "POST", "/v1/reconciliation/exceptions/{exception_id}/resolve",
          summary="Resolve an exception (note, or adjusting journal)", tag="Reconciliation",
          roles=OPERATORS, body=ExceptionResolveIn, idempotent=True,
          responses={200: (ExceptionOut, "Resolved")})
def resolve_exception(ctx: Context, exception_id: str, body: ExceptionResolveIn) -> Reply:
    journal = None
    if body.journal is not None:
        j = body.journal
        journal = JournalRequest(
            j.journal_id, tuple(Posting(p.account_id, Side(p.side), p.amount.minor,
                                        p.amount.currency) for p in j.postings),
            j.effective_date, j.description or f"reconciliation {exception_id}",
            {**j.metadata, "reconciliation_exception": exception_id})
    item = reconciliation.resolve(ctx.uow, ctx.tenant, ctx.actor, ctx.now, exception_id,
                                  body.note, journal)
    return Reply(ExceptionOut(**reconciliation.exception_view(item)))


@endpoint(bp, "GET", "/v1/reconciliation/checkpoints", summary="Daily audit checkpoints",
          tag="Reconciliation", roles=BOOKKEEPERS, query=LimitQuery,
          responses={200: (CheckpointList, "Newest first")})
def list_checkpoints(ctx: Context, query: LimitQuery) -> Reply:
    data = [CheckpointOut(covers_from=c["from"], **{k: v for k, v in c.items()
                                                    if k not in ("hours", "from")})
            for c in checkpoints.listing(ctx.tenant, query.limit)]
    return Reply(CheckpointList(data=data))


@endpoint(bp, "POST", "/v1/reconciliation/checkpoints/verify",
          summary="Re-verify recent checkpoints against the audit trail", tag="Reconciliation",
          roles=BOOKKEEPERS, query=LimitQuery,
          responses={200: (CheckpointVerifyList, "One result per checkpoint, newest first")})
def verify_checkpoints(ctx: Context, query: LimitQuery) -> Reply:
    checks = checkpoints.verify_recent(ctx.tenant, query.limit)
    return Reply(CheckpointVerifyList(ok=all(c.ok for c in checks), data=[
        CheckpointVerifyOut(through=c.through, ok=c.ok, expected_count=c.expected_count,
                            found_count=c.found_count, problems=c.problems) for c in checks]))


@endpoint(bp, "GET", "/v1/reconciliation/verifications",
          summary="Nightly verification results", tag="Reconciliation", roles=BOOKKEEPERS,
          query=PageQuery, responses={200: (VerificationPage, "Newest day first")})
def list_verifications(ctx: Context, query: PageQuery) -> Reply:
    scope = pagination.scope_of(ctx.tenant, "verifications", {})
    found, last = items.query_page(store.verifications_index_pk(ctx.tenant), index=True,
                                   limit=query.limit, newest_first=True,
                                   start=pagination.decode(query.cursor, scope))
    return Reply(VerificationPage(next_cursor=pagination.encode(scope, last), data=[
        VerificationOut(**tagged(daily_checks.verification_view(i))) for i in found]))


@endpoint(bp, "POST", "/v1/reconciliation/verifications",
          summary="Run the nightly verification now", tag="Reconciliation", roles=OPERATORS,
          body=VerifyNow, idempotent=True,
          responses={200: (VerificationOut, "Ledger, audit chains, checkpoint and new "
                                            "statements, as the nightly job records them")})
def verify_now(ctx: Context, body: VerifyNow) -> Reply:
    return Reply(VerificationOut(**tagged(daily_checks.run_tenant(ctx.tenant, body.day, ctx.now))))
