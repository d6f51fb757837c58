"""Contracts: templates (immutable versions), creation on acceptance, signing codes, signing,
and verification of the stored document against its recorded SHA-256."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from chalicelib import clock
from chalicelib.config import settings
from chalicelib.contracts import notifier, signing, storage
from chalicelib.contracts.context import contract_context, sample_context, worst_case_context
from chalicelib.contracts.document import DocumentProblem, render_pdf
from chalicelib.contracts.sandbox import TemplateProblem, check_syntax, render
from chalicelib.errors import DomainError, FieldError, conflict, not_found
from chalicelib.lending.money import format_amount
from chalicelib.lending.schedule import MAX_INSTALLMENTS
from chalicelib.services import loan_lifecycle
from chalicelib.services.products import terms_of
from chalicelib.store import aggregates, contracts, products
from chalicelib.store import tenants as tenant_store
from chalicelib.store.audit import Actor
from chalicelib.store.contracts import ContractItem, TemplateItem, TemplateVersionItem
from chalicelib.store.ledger import ledger
from chalicelib.store.loans import PENDING_CONTRACT, PENDING_DISBURSEMENT, LoanItem
from chalicelib.store.uow import UnitOfWork, put
from ledger.chart import loan_accounts

DEFAULT_TEMPLATE = "default"


@cache
def default_source() -> str:
    return (Path(__file__).resolve().parents[1] / "contracts" / "templates" /
            "default.j2").read_text(encoding="utf-8")


def _template_problem(exc: TemplateProblem | DocumentProblem, pointer: str) -> DomainError:
    return DomainError("validation-error", "The template cannot be used.",
                       [FieldError(pointer, str(exc) if isinstance(exc, TemplateProblem)
                                   else exc.message, exc.code)])


def _render_worst_case(source: str) -> None:
    """The trial render on the largest contract any product can make, under the same budget
    as a real render: what is too expensive for it is refused now, not on a customer's loan."""
    try:
        render(source, worst_case_context())
    except TemplateProblem as exc:
        if not exc.code.startswith("render_"):
            raise
        raise TemplateProblem(f"on the largest contract a product allows ({MAX_INSTALLMENTS} "
                              f"installments, the longest names and amounts): {exc}",
                              exc.code, exc.line) from None


def check_template(source: str, pointer: str = "/body/body") -> None:
    """A template is accepted only if it parses, renders the worst-case contract within the
    render budget (first: an expensive template is refused after one budget, not two) and
    renders a sample contract to a PDF."""
    try:
        check_syntax(source)
        _render_worst_case(source)
        render_pdf(render(source, sample_context()), "sample")
    except (TemplateProblem, DocumentProblem) as exc:
        raise _template_problem(exc, pointer) from None


# --- templates ---------------------------------------------------------------------------

def _version(tenant: str, template_id: str, number: int, source: str, actor: Actor,
             now: datetime) -> TemplateVersionItem:
    return TemplateVersionItem(contracts.template_pk(tenant, template_id),
                               contracts.version_sk(number), template_id=template_id,
                               number=number, body=source,
                               sha256=signing.sha256_hex(source.encode()), created_at=now,
                               created_by=actor.key_id)


def create_template(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime, name: str,
                    source: str, product_id: str | None
                    ) -> tuple[TemplateItem, TemplateVersionItem]:
    if product_id is not None and products.get_product(tenant, product_id) is None:
        raise DomainError("validation-error", "Unknown product.",
                          [FieldError("/body/product_id", "no such product", "not_found")])
    check_template(source)
    template_id = f"ctpl_{secrets.token_hex(8)}"
    item = TemplateItem(contracts.template_pk(tenant, template_id), contracts.TEMPLATE_SK,
                        template_id=template_id, name=name, product_id=product_id,
                        current_version=1, version=1, created_at=now, updated_at=now,
                        gsi1pk=contracts.templates_list_pk(tenant),
                        gsi1sk=f"{now.isoformat()}#{template_id}")
    version = _version(tenant, template_id, 1, source, actor, now)
    aggregates.save(uow, item, tenant=tenant, aggregate_type="contract_template",
                    aggregate_id=template_id, action="template.created", actor=actor, at=now,
                    data={"version": 1, "sha256": version.sha256}, noun="template", new=True)
    uow.add(put("main", version.serialize(), "attribute_not_exists(pk)"))
    return item, version


def add_template_version(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime,
                         template_id: str, source: str
                         ) -> tuple[TemplateItem, TemplateVersionItem]:
    item = template(tenant, template_id)
    check_template(source)
    number = item.current_version + 1
    item.current_version = number
    version = _version(tenant, template_id, number, source, actor, now)
    aggregates.save(uow, item, tenant=tenant, aggregate_type="contract_template",
                    aggregate_id=template_id, action="template.version_added", actor=actor,
                    at=now, data={"version": number, "sha256": version.sha256}, noun="template")
    uow.add(put("main", version.serialize(), "attribute_not_exists(pk)"))
    return item, version


def template(tenant: str, template_id: str) -> TemplateItem:
    item = contracts.get_template(tenant, template_id)
    if item is None:
        raise not_found("Contract template")
    return item


def template_version(tenant: str, template_id: str,
                     number: int | None) -> tuple[TemplateItem, TemplateVersionItem]:
    item = template(tenant, template_id)
    wanted = number or item.current_version
    version = contracts.get_template_version(tenant, template_id, wanted)
    if version is None or wanted > item.current_version:
        raise not_found("Contract template version")
    return item, version


def _template_for(tenant: str, template_id: str | None) -> tuple[str, int, str]:
    if template_id is None:
        return DEFAULT_TEMPLATE, 1, default_source()
    item = contracts.get_template(tenant, template_id)
    if item is None:
        raise conflict(f"The product names contract template {template_id}, which does not "
                       "exist in this tenant; fix the product's references.")
    version = contracts.get_template_version(tenant, template_id, item.current_version)
    assert version is not None
    return template_id, version.number, version.body


# --- contracts ---------------------------------------------------------------------------

def create_for_loan(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime, loan: LoanItem,
                    applicant: dict[str, Any]) -> ContractItem:
    """Renders the loan's contract, stores the PDF once in S3 and adds the contract item.

    Called by the accept command inside its unit of work; the S3 object is written first, so a
    failed commit leaves at most an unreferenced object (its key holds a fresh contract id)."""
    _, _, terms = terms_of(tenant, loan.product_id, loan.product_version)
    template_id, number, source = _template_for(tenant, terms.references.contract_template_id)
    contract_id = f"ctr_{secrets.token_hex(8)}"
    tenant_item = tenant_store.get_tenant(tenant)
    national = applicant.get("national_id") or {}
    context = contract_context(
        contract_id=contract_id,
        loan={"id": loan.loan_id, "currency": loan.currency,
              "principal": format_amount(loan.principal, loan.currency), "term": loan.term,
              "grade": loan.grade, "annual_rate_percent": loan.annual_rate_percent,
              "apr_percent": loan.apr_percent, "product_id": loan.product_id,
              "product_version": loan.product_version},
        schedule=json.loads(loan.schedule), fees=terms.fees.model_dump(mode="json"),
        lender={"name": tenant_item.name if tenant_item else tenant, "id": tenant},
        borrower={"name": str(applicant.get("name", "")),
                  "national_id": str(national.get("number", "")),
                  "phone": str(applicant.get("phone", ""))},
        signed_on=clock.business_date(tenant, now).isoformat())
    try:
        pdf = render_pdf(render(source, context), f"Contract {contract_id}")
    except (TemplateProblem, DocumentProblem) as exc:
        raise DomainError("contract-render-failed",
                          f"The contract template {template_id} v{number} cannot render this "
                          f"loan: {exc}", extra={"template_id": template_id,
                                                 "template_version": number}) from None
    digest = signing.sha256_hex(pdf)
    key = storage.document_key(tenant, contract_id)
    storage.put_once(key, pdf, "application/pdf", digest, lock=False, now=now)
    item = ContractItem(contracts.contract_pk(tenant, contract_id), contracts.CONTRACT_SK,
                        contract_id=contract_id, loan_id=loan.loan_id,
                        application_id=loan.application_id, template_id=template_id,
                        template_version=number, document_key=key, document_sha256=digest,
                        document_size=len(pdf), status=contracts.PENDING_SIGNATURE,
                        code_attempts=0, codes_issued=0, version=1, created_at=now,
                        updated_at=now)
    aggregates.save(uow, item, tenant=tenant, aggregate_type="contract", aggregate_id=contract_id,
                    action="contract.created", actor=actor, at=now,
                    data={"loan_id": loan.loan_id, "template_id": template_id,
                          "template_version": number, "document_sha256": digest},
                    noun="contract", new=True)
    return item


def get(tenant: str, contract_id: str) -> ContractItem:
    item = contracts.get_contract(tenant, contract_id)
    if item is None:
        raise not_found("Contract")
    return item


def _save(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime, item: ContractItem,
          action: str, data: dict[str, Any]) -> None:
    aggregates.save(uow, item, tenant=tenant, aggregate_type="contract",
                    aggregate_id=item.contract_id, action=action, actor=actor, at=now, data=data,
                    noun="contract")


def _not_voided(item: ContractItem) -> None:
    if item.status == contracts.VOIDED:
        raise conflict("The contract was voided: its loan expired before it was signed.",
                       contract_status=item.status)


@dataclass(frozen=True)
class IssuedCode:
    contract: ContractItem
    code: str
    destination: str


def _applicant(tenant: str, application_id: str) -> dict[str, Any]:
    from chalicelib.services import applications  # origination's service; imported late

    return applications.applicant_of(tenant, applications.get(tenant, application_id))


def issue_code(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime,
               contract_id: str) -> IssuedCode:
    item = get(tenant, contract_id)
    _not_voided(item)
    if item.status != contracts.PENDING_SIGNATURE:
        raise conflict("The contract is already signed.", status=item.status)
    if item.codes_issued >= signing.MAX_CODES:
        raise DomainError("signing-locked", f"{signing.MAX_CODES} codes were already issued "
                          "for this contract; it needs a person to look at it.")
    code = signing.new_code()
    item.code_hash = signing.code_hash(settings().token_secret, contract_id, code)
    item.code_expires_at = signing.expiry(now)
    item.code_attempts, item.codes_issued = 0, item.codes_issued + 1
    _save(uow, tenant, actor, now, item, "contract.code_issued",
          {"expires_at": item.code_expires_at.isoformat(), "issued": item.codes_issued})
    destination = str(_applicant(tenant, item.application_id).get("phone", ""))
    message = notifier.Message(tenant, contract_id, destination, code)
    uow.after_commit.append(lambda: notifier.current().send(message))
    return IssuedCode(item, code, destination)


def sign(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime, contract_id: str, *,
         code: str, signer_name: str, national_id: str, ip: str,
         user_agent: str) -> ContractItem:
    item = get(tenant, contract_id)
    _not_voided(item)
    if item.status == contracts.SIGNED:
        raise conflict("The contract is already signed; a contract is signed once.",
                       signed_at=item.signed_at.isoformat() if item.signed_at else None)
    state = signing.CodeState(item.code_hash, item.code_expires_at, item.code_attempts)
    problem = signing.precheck(state, now)
    if problem:
        raise _code_error(problem)
    if not contracts.consume_attempt(item, signing.MAX_ATTEMPTS):
        raise _code_error("too_many_attempts")
    problem = signing.check_code(signing.CodeState(item.code_hash, item.code_expires_at, 0),
                                 settings().token_secret, contract_id, code, now)
    if problem:
        raise _code_error(problem)
    applicant = _applicant(tenant, item.application_id)
    national = (applicant.get("national_id") or {}).get("number", "")
    if signer_name != applicant.get("name") or national_id.upper() != str(national).upper():
        raise DomainError("validation-error", "The signer is not the borrower.", [
            FieldError("/body/signer", "name and national ID must match the borrower's",
                       "signer_mismatch")])
    document = storage.get(item.document_key)
    if document is None or signing.sha256_hex(document) != item.document_sha256:
        raise DomainError("document-tampered", "The stored document no longer matches its "
                          "recorded SHA-256; it cannot be signed.")
    loan = loan_lifecycle.load(tenant, item.loan_id)
    if loan.status != PENDING_CONTRACT:
        raise conflict("The loan is not awaiting its contract.", loan_status=loan.status)
    record = signing.signature_record(
        contract_id=contract_id, loan_id=item.loan_id, document_sha256=item.document_sha256,
        template_id=item.template_id, template_version=item.template_version,
        signer=_sealed_signer(tenant, contract_id, signer_name, national_id), signed_at=now,
        ip=ip, user_agent=user_agent, key_id=actor.key_id)
    evidence = json.dumps(record, sort_keys=True, ensure_ascii=False, indent=1).encode()
    signed_key = storage.signed_document_key(tenant, contract_id)
    signature_key = storage.signature_key(tenant, contract_id, record["record_sha256"])
    storage.put_once(signed_key, document, "application/pdf", item.document_sha256,
                     lock=True, now=now)
    storage.put_once(signature_key, evidence, "application/json",
                     signing.sha256_hex(evidence), lock=True, now=now)
    public = {"document_sha256": item.document_sha256, "signed_at": now.isoformat(), "ip": ip,
              "user_agent": user_agent, "method": "one-time-code", "api_key_id": actor.key_id,
              "signer_ref": loan.borrower_ref, "record_sha256": record["record_sha256"]}
    item.status, item.signed_at = contracts.SIGNED, now
    item.signed_document_key, item.signature_key = signed_key, signature_key
    item.signature_sha256 = signing.sha256_hex(evidence)
    item.signature = json.dumps(public, sort_keys=True, separators=(",", ":"))
    item.code_hash = item.code_expires_at = None
    _save(uow, tenant, actor, now, item, "contract.signed",
          {"document_sha256": item.document_sha256, "record_sha256": record["record_sha256"]})
    for part in ledger().prepare_open_accounts(tenant, loan_accounts(loan.loan_id,
                                                                     loan.currency)):
        uow.add_part(part)
    loan_lifecycle.move(uow, tenant, actor, now, loan, PENDING_DISBURSEMENT,
                        "loan.contract_signed", {"contract_id": contract_id})
    return item


def _sealed_signer(tenant: str, contract_id: str, name: str, national_id: str) -> dict[str, str]:
    """The evidence is kept for years under Object Lock, so the signer's identity in it is
    sealed with the tenant's personal-data key (bound to the contract) and shown masked: the
    record still proves who signed, to whoever may unseal it, and leaks no ID in clear."""
    from chalicelib.lending.identity import mask_id, mask_name
    from chalicelib.services import personal_data

    sealed = personal_data.seal(tenant, "signature", contract_id,
                                {"name": name, "national_id": national_id})
    return {"name": mask_name(name), "national_id": mask_id(national_id), "sealed": sealed}


def _code_error(problem: str) -> DomainError:
    messages = {"no_code": "Request a signing code first.",
                "code_expired": "The signing code has expired; request a new one.",
                "too_many_attempts": "Too many wrong codes; request a new one.",
                "code_wrong": "The signing code is wrong."}
    return DomainError("validation-error", messages[problem],
                       [FieldError("/body/code", messages[problem], problem)])


@dataclass(frozen=True)
class Verification:
    contract: ContractItem
    document_sha256: str | None
    signed_copy_sha256: str | None
    signature_sha256: str | None

    @property
    def match(self) -> bool:
        c = self.contract
        ok = self.document_sha256 == c.document_sha256
        if c.status == contracts.SIGNED:
            ok = ok and self.signed_copy_sha256 == c.document_sha256 \
                and self.signature_sha256 == c.signature_sha256
        return ok


def verify(tenant: str, contract_id: str) -> Verification:
    item = get(tenant, contract_id)

    def digest(key: str | None) -> str | None:
        data = storage.get(key) if key else None
        return signing.sha256_hex(data) if data is not None else None

    return Verification(item, digest(item.document_key), digest(item.signed_document_key),
                        digest(item.signature_key))


def document_url(tenant: str, contract_id: str) -> tuple[ContractItem, str]:
    item = get(tenant, contract_id)
    # Keys are rebuilt from the caller's tenant, never taken from the item or the request.
    key = (storage.signed_document_key(tenant, contract_id) if item.status == contracts.SIGNED
           else storage.document_key(tenant, contract_id))
    return item, storage.presign(key)
