"""Contract templates (`admin` writes) and contracts: document, signing code, signature, verify."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from chalice import Blueprint
from pydantic import BaseModel, Field, field_validator

from chalicelib.api import pagination, problems
from chalicelib.api.http import Context, Reply, endpoint
from chalicelib.api.roles import CONFIGURERS, DOCUMENT_READERS, EVERYONE, SIGNERS
from chalicelib.api.schemas import PageQuery, Strict
from chalicelib.config import settings
from chalicelib.contracts import drawable, notifier, storage
from chalicelib.contracts.sandbox import MAX_TEMPLATE_CHARS
from chalicelib.services import contracts
from chalicelib.store import contracts as store
from chalicelib.store.contracts import ContractItem, TemplateItem, TemplateVersionItem

problems.register("signing-locked", 409, "Signing locked for this contract")
problems.register("document-tampered", 409, "Stored document does not match its hash")
problems.register("contract-render-failed", 422, "The contract cannot be rendered")

bp = Blueprint(__name__)
TemplateSource = Field(min_length=1, max_length=MAX_TEMPLATE_CHARS,
                       description="Jinja2 source, rendered in a sandbox. Markup: `# title`, "
                                   "`## heading`, `| a | b |` table rows, `---` a rule. "
                                   "Accepted only if it renders the largest contract a "
                                   "product allows within the render budget (200,000 steps, "
                                   "2 s of CPU, 262,144 characters).")


class TemplateCreate(Strict):
    name: str = Field(min_length=1, max_length=200)
    product_id: str | None = Field(default=None, min_length=1, max_length=64,
                                   pattern=r"^[A-Za-z0-9_-]+$")
    body: str = TemplateSource


class TemplateVersionCreate(Strict):
    body: str = TemplateSource


class TemplateOut(BaseModel):
    id: str
    name: str
    product_id: str | None
    current_version: int
    version: int = Field(description="The version whose body is shown.")
    body: str
    sha256: str
    created_at: datetime
    updated_at: datetime


class TemplateSummary(BaseModel):
    id: str
    name: str
    product_id: str | None
    current_version: int
    created_at: datetime


class TemplatePage(BaseModel):
    next_cursor: str | None
    data: list[TemplateSummary]


class VersionQuery(Strict):
    version: int | None = Field(default=None, ge=1, le=1_000_000)


class Signature(BaseModel):
    document_sha256: str
    signed_at: datetime
    ip: str
    user_agent: str
    method: Literal["one-time-code"]
    api_key_id: str
    signer_ref: str = Field(description="Blind reference of the borrower (no personal data).")
    record_sha256: str = Field(description="SHA-256 of the full signature record kept in S3.")


class ContractOut(BaseModel):
    id: str
    loan_id: str
    status: Literal["pending_signature", "signed", "voided"]
    template_id: str
    template_version: int
    document_sha256: str
    document_size: int
    code_expires_at: datetime | None
    signature: Signature | None
    created_at: datetime
    updated_at: datetime


class DocumentOut(BaseModel):
    url: str = Field(description="Presigned GET of the tenant's own object; short-lived.")
    expires_in: int
    content_type: Literal["application/pdf"]
    sha256: str
    signed: bool


class CodeOut(BaseModel):
    contract_id: str
    expires_at: datetime
    sent_to: str = Field(description="Masked destination.")
    code: str | None = Field(default=None, description="Echoed only in the local and test "
                                                       "stages (no real delivery there).")


class Signer(Strict):
    name: str = Field(min_length=1, max_length=200, description="As the application gave it "
                      "(compared in NFC, the form the application stored).")
    national_id: str = Field(min_length=4, max_length=64)

    @field_validator("name")
    @classmethod
    def _composed(cls, value: str) -> str:
        return drawable.normalised(value).strip()


class SignBody(Strict):
    code: str = Field(pattern=r"^[0-9]{6}$")
    signer: Signer


class ContractVerifyOut(BaseModel):
    contract_id: str
    match: bool
    recorded_sha256: str
    document_sha256: str | None = Field(description="Recomputed; null if the object is gone.")
    signed_copy_sha256: str | None
    signature_record_sha256: str | None


def _template_out(item: TemplateItem, version: TemplateVersionItem) -> TemplateOut:
    return TemplateOut(id=item.template_id, name=item.name, product_id=item.product_id,
                       current_version=item.current_version, version=version.number,
                       body=version.body, sha256=version.sha256, created_at=item.created_at,
                       updated_at=item.updated_at)


def contract_out(item: ContractItem) -> ContractOut:
    signature: dict[str, Any] | None = json.loads(item.signature) if item.signature else None
    return ContractOut(id=item.contract_id, loan_id=item.loan_id, status=item.status,  # type: ignore[arg-type]
                       template_id=item.template_id, template_version=item.template_version,
                       document_sha256=item.document_sha256, document_size=item.document_size,
                       code_expires_at=item.code_expires_at,
                       signature=Signature(**signature) if signature else None,
                       created_at=item.created_at, updated_at=item.updated_at)


@endpoint(bp, "POST", "/v1/contract-templates", location="/v1/contract-templates/{id}",
          summary="Create a contract template",
          tag="Contracts", roles=CONFIGURERS, body=TemplateCreate, idempotent=True,
          max_body=2 * MAX_TEMPLATE_CHARS + 4096,
          responses={201: (TemplateOut, "Created at version 1 (it rendered a sample contract)")})
def create_template(ctx: Context, body: TemplateCreate) -> Reply:
    item, version = contracts.create_template(ctx.uow, ctx.tenant, ctx.actor, ctx.now, body.name,
                                              body.body, body.product_id)
    return Reply(_template_out(item, version), 201)


@endpoint(bp, "GET", "/v1/contract-templates", summary="List contract templates",
          tag="Contracts", roles=EVERYONE, query=PageQuery,
          responses={200: (TemplatePage, "A page of templates, newest first")})
def list_templates(ctx: Context, query: PageQuery) -> Reply:
    scope = pagination.scope_of(ctx.tenant, "contract-templates", {})
    items, last = store.list_templates(ctx.tenant, query.limit,
                                       pagination.decode(query.cursor, scope))
    return Reply(TemplatePage(next_cursor=pagination.encode(scope, last), data=[
        TemplateSummary(id=i.template_id, name=i.name, product_id=i.product_id,
                        current_version=i.current_version, created_at=i.created_at)
        for i in items]))


@endpoint(bp, "GET", "/v1/contract-templates/{template_id}", summary="A contract template",
          tag="Contracts", roles=EVERYONE, query=VersionQuery,
          responses={200: (TemplateOut, "At its current (or the asked) version")})
def get_template(ctx: Context, template_id: str, query: VersionQuery) -> Reply:
    return Reply(_template_out(*contracts.template_version(ctx.tenant, template_id,
                                                           query.version)))


@endpoint(bp, "POST", "/v1/contract-templates/{template_id}/versions",
          location="/v1/contract-templates/{id}?version={version}",
          summary="Add a template version (earlier contracts keep theirs)", tag="Contracts",
          roles=CONFIGURERS, body=TemplateVersionCreate, idempotent=True,
          max_body=2 * MAX_TEMPLATE_CHARS + 4096,
          responses={201: (TemplateOut, "The new current version")})
def add_template_version(ctx: Context, template_id: str, body: TemplateVersionCreate) -> Reply:
    return Reply(_template_out(*contracts.add_template_version(
        ctx.uow, ctx.tenant, ctx.actor, ctx.now, template_id, body.body)), 201)


@endpoint(bp, "GET", "/v1/contracts/{contract_id}", summary="A contract: status, hash, signature",
          tag="Contracts", roles=EVERYONE, responses={200: (ContractOut, "The contract")})
def get_contract(ctx: Context, contract_id: str) -> Reply:
    return Reply(contract_out(contracts.get(ctx.tenant, contract_id)))


@endpoint(bp, "GET", "/v1/contracts/{contract_id}/document",
          summary="A short-lived link to the contract PDF (the signed copy once signed)",
          tag="Contracts", roles=DOCUMENT_READERS,
          responses={200: (DocumentOut, "Presigned URL of the tenant's own object")})
def get_document(ctx: Context, contract_id: str) -> Reply:
    item, url = contracts.document_url(ctx.tenant, contract_id)
    return Reply(DocumentOut(url=url, expires_in=storage.PRESIGN_SECONDS,
                             content_type="application/pdf", sha256=item.document_sha256,
                             signed=item.status == store.SIGNED))


@endpoint(bp, "POST", "/v1/contracts/{contract_id}/signing-code",
          location="/v1/contracts/{contract_id}",
          summary="Send the borrower a one-time signing code", tag="Contracts", roles=SIGNERS,
          idempotent=True, errors={409},
          responses={201: (CodeOut, "Sent; only its hash is stored")})
def issue_code(ctx: Context, contract_id: str) -> Reply:
    issued = contracts.issue_code(ctx.uow, ctx.tenant, ctx.actor, ctx.now, contract_id)
    echo = notifier.echoes_code(settings().stage)
    out = CodeOut(contract_id=contract_id, expires_at=issued.contract.code_expires_at,
                  sent_to="***" + issued.destination[-4:], code=issued.code if echo else None)
    stored = out.model_copy(update={"code": None})
    return Reply(out, 201, stored_body=stored)


@endpoint(bp, "POST", "/v1/contracts/{contract_id}/sign",
          summary="Sign with the one-time code: binds the signer to the document hash",
          tag="Contracts", roles=SIGNERS, body=SignBody, idempotent=True,
          responses={200: (ContractOut, "Signed; the loan awaits disbursement")})
def sign_contract(ctx: Context, contract_id: str, body: SignBody) -> Reply:
    request = bp.current_request
    identity = (request.context or {}).get("identity") or {}
    item = contracts.sign(ctx.uow, ctx.tenant, ctx.actor, ctx.now, contract_id, code=body.code,
                          signer_name=body.signer.name, national_id=body.signer.national_id,
                          ip=str(identity.get("sourceIp") or "unknown"),
                          user_agent=str(request.headers.get("user-agent") or "")[:512])
    return Reply(contract_out(item))


@endpoint(bp, "POST", "/v1/contracts/{contract_id}/verify",
          summary="Recompute the stored document's SHA-256 and compare", tag="Contracts",
          roles=EVERYONE,
          responses={200: (ContractVerifyOut, "Whether the stored objects still match")})
def verify_contract(ctx: Context, contract_id: str) -> Reply:
    v = contracts.verify(ctx.tenant, contract_id)
    return Reply(ContractVerifyOut(contract_id=contract_id, match=v.match,
                           recorded_sha256=v.contract.document_sha256,
                           document_sha256=v.document_sha256,
                           signed_copy_sha256=v.signed_copy_sha256,
                           signature_record_sha256=v.signature_sha256))
