"""The borrower's payout destination: sealed, shown masked, changed only before disbursement.

Stored on the application and, from acceptance, on the loan: `beneficiary_enc` is sealed like
the applicant (services/personal_data; the AAD binds it to the tenant, the record type
`beneficiary` and the owning application or loan id, so an envelope copied elsewhere does not
open) and `beneficiary_shown` is the masked form responses read without a KMS call. A loan's
disbursement copies the loan's envelope at start, so the payout instruction is decrypted from
the item the driver already holds (no extra read).

Holder name: compared with the applicant's after normalisation (lending/beneficiary). The
decision policy's `beneficiary.name_mismatch` says what a mismatch does: `refuse` (422 at the
field) or `refer`: at intake the application is referred (reason `beneficiary_name_mismatch`);
a later change waits in `beneficiary_pending_*` until a reviewer other than the requester
approves it, and a disbursement is refused while one waits.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from chalicelib.errors import DomainError, FieldError, conflict, invalid
from chalicelib.lending import beneficiary as rules
from chalicelib.lending.beneficiary import Beneficiary
from chalicelib.lending.decision import PolicyConfig
from chalicelib.services import decision_policies, loan_lifecycle, personal_data
from chalicelib.services.products import terms_of
from chalicelib.store import aggregates
from chalicelib.store.audit import Actor
from chalicelib.store.loans import PENDING_CONTRACT, PENDING_DISBURSEMENT, LoanItem
from chalicelib.store.origination import ApplicationItem
from chalicelib.store.uow import UnitOfWork

log = logging.getLogger("lending.beneficiaries")
RECORD = "beneficiary"
REQUIRED = "beneficiary-required"
CHANGE_PENDING = "beneficiary-change-pending"
CHANGEABLE_LOAN = frozenset({PENDING_CONTRACT, PENDING_DISBURSEMENT})
CHANGEABLE_APPLICATION = frozenset({"submitted", "scored", "referred", "approved"})
HOLDER_POINTER = "/body/beneficiary/holder_name"
Owner = ApplicationItem | LoanItem


def seal(tenant: str, owner_id: str, b: Beneficiary) -> str:
    return personal_data.seal(tenant, RECORD, owner_id, b.as_json())


def unseal(tenant: str, owner_id: str, envelope: str | None) -> Beneficiary | None:
    if not envelope:
        return None
    return Beneficiary.of(personal_data.unseal(tenant, RECORD, owner_id, envelope))


def shown(owner: Owner) -> dict[str, Any] | None:
    return json.loads(owner.beneficiary_shown) if owner.beneficiary_shown else None


def pending_shown(owner: Owner) -> dict[str, Any] | None:
    return json.loads(owner.beneficiary_pending_shown) if owner.beneficiary_pending_shown \
        else None


def _dump(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def attach(owner: Owner, tenant: str, owner_id: str, b: Beneficiary | None) -> None:
    """Sets the current beneficiary (sealed and masked) on an application or a loan."""
    owner.beneficiary_enc = seal(tenant, owner_id, b) if b else None
    owner.beneficiary_shown = _dump(rules.masked(b)) if b else None


def _hold(owner: Owner, tenant: str, owner_id: str, b: Beneficiary, actor: Actor,
          now: datetime) -> None:
    owner.beneficiary_pending_enc = seal(tenant, owner_id, b)
    owner.beneficiary_pending_shown = _dump({**rules.masked(b), "requested_by": actor.key_id,
                                             "requested_at": now.isoformat()})


def _clear_pending(owner: Owner) -> None:
    owner.beneficiary_pending_enc = owner.beneficiary_pending_shown = None


def name_problems(policy: PolicyConfig, b: Beneficiary | None,
                  applicant_name: str) -> list[FieldError]:
    """The holder-name mismatch a `refuse` policy makes a 422 ([] otherwise)."""
    if b is None or rules.names_match(b.holder_name, applicant_name):
        return []
    if policy.beneficiary.name_mismatch != "refuse":
        return []
    return [FieldError(HOLDER_POINTER, "the account holder's name does not match the "
                       "applicant's", rules.NAME_MISMATCH_CODE)]


def name_check(policy: PolicyConfig, b: Beneficiary | None, applicant_name: str) -> bool:
    """True when the holder is the applicant; a mismatch under `refuse` is a 422."""
    found = name_problems(policy, b, applicant_name)
    if found:
        raise invalid(found, "The payout account does not belong to the applicant.")
    return b is None or rules.names_match(b.holder_name, applicant_name)


def _policy(tenant: str, product_id: str, version: int | None) -> PolicyConfig:
    _, _, terms = terms_of(tenant, product_id, version)
    return decision_policies.for_product(tenant, terms.references.decision_policy_id)[2]


def _audit(b: Beneficiary, matches: bool, held: bool) -> dict[str, Any]:
    return {"beneficiary": rules.masked(b), "name_matches": matches, "held_for_review": held}


def change_application(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime,
                       application: ApplicationItem, b: Beneficiary,
                       applicant_name: str) -> bool:
    """Replaces an open application's beneficiary; True when it waits for a reviewer."""
    from chalicelib.lending.application_states import effective_status

    status = effective_status(application.status, application.offer_valid_until, now)
    if status not in CHANGEABLE_APPLICATION:
        raise conflict(f"The beneficiary of an application in status {status} cannot change"
                       "; change it on the loan.", status=status)
    aid = application.application_id
    policy = _policy(tenant, application.product_id, application.product_version)
    matches = name_check(policy, b, applicant_name)
    if matches:
        attach(application, tenant, aid, b)
        _clear_pending(application)
    else:
        _hold(application, tenant, aid, b, actor, now)
    action = "application.beneficiary_" + ("changed" if matches else "change_held")
    aggregates.save(uow, application, tenant=tenant, aggregate_type="application",
                    aggregate_id=aid, action=action, actor=actor, at=now,
                    data=_audit(b, matches, not matches), noun="application")
    return not matches


def _changeable(loan: LoanItem) -> None:
    if loan.status not in CHANGEABLE_LOAN:
        raise conflict("The beneficiary cannot change once the loan is being disbursed.",
                       loan_status=loan.status)


def change_loan(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime, loan: LoanItem,
                b: Beneficiary, applicant_name: str) -> bool:
    """Replaces a loan's beneficiary before disbursement; True when it waits for a reviewer."""
    _changeable(loan)
    policy = _policy(tenant, loan.product_id, loan.product_version)
    matches = name_check(policy, b, applicant_name)
    if matches:
        attach(loan, tenant, loan.loan_id, b)
        _clear_pending(loan)
    else:
        _hold(loan, tenant, loan.loan_id, b, actor, now)
    action = "loan.beneficiary_" + ("changed" if matches else "change_held")
    loan_lifecycle.move(uow, tenant, actor, now, loan, None, action,
                        _audit(b, matches, not matches))
    return not matches


def review_loan(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime, loan: LoanItem,
                verdict: str, comment: str) -> None:
    """A reviewer approves (it takes effect) or declines (it is dropped) a held change."""
    _changeable(loan)
    waiting = pending_shown(loan)
    if waiting is None:
        raise conflict("No beneficiary change is waiting for review on this loan.")
    if waiting.get("requested_by") == actor.key_id:
        raise DomainError("forbidden", "A reviewer may not approve a change they requested.")
    if verdict == "approve":
        loan.beneficiary_enc = loan.beneficiary_pending_enc
        loan.beneficiary_shown = _dump({k: v for k, v in waiting.items()
                                        if k not in ("requested_by", "requested_at")})
    _clear_pending(loan)
    loan_lifecycle.move(uow, tenant, actor, now, loan, None,
                        f"loan.beneficiary_change_{verdict}d",
                        {"beneficiary": waiting, "comment": comment})


def copy_to_loan(tenant: str, application: ApplicationItem, loan: LoanItem) -> None:
    """At acceptance: the application's beneficiary (and any held change) sealed anew for the
    loan, whose id the envelope is then bound to."""
    aid = application.application_id
    attach(loan, tenant, loan.loan_id, unseal(tenant, aid, application.beneficiary_enc))
    held = unseal(tenant, aid, application.beneficiary_pending_enc)
    if held is not None:
        loan.beneficiary_pending_enc = seal(tenant, loan.loan_id, held)
        loan.beneficiary_pending_shown = application.beneficiary_pending_shown


def ready_to_pay(loan: LoanItem) -> None:
    """Refuses a disbursement with nowhere to pay, or while a change waits for review."""
    if not loan.beneficiary_enc:
        raise DomainError(REQUIRED, "The loan has no beneficiary: set one with PUT "
                          f"/v1/loans/{loan.loan_id}/beneficiary before disbursing.")
    if loan.beneficiary_pending_enc:
        raise DomainError(CHANGE_PENDING, "A beneficiary change waits for a reviewer; it must "
                          "be approved or declined before the loan is disbursed.")


def for_payout(tenant: str, loan_id: str, envelope: str | None) -> Beneficiary | None:
    """The payout instruction's destination, from the envelope a disbursement copied from its
    loan at start (bound to the loan's id)."""
    return unseal(tenant, loan_id, envelope)
