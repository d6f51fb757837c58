"""The whole lifecycle through the client a partner generates from openapi.yaml, and nothing else.

Every call is a generated `<tag>.<operation>.sync_detailed(...)`, every body a generated model,
and every answer must be the documented success, parsed into its generated model: a `None`, a
`Problem` or a field the model does not know (`additional_properties`) is the contract lying.
"""

from __future__ import annotations

import copy
import importlib
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from types import ModuleType
from typing import Any

import attrs
import pytest

from tests.e2e.conftest import Stack
from tests.generated_client import Generated, generate, load
from tests.integration.origination.conftest import TERMS, application
from tests.lag import eventually

pytestmark = pytest.mark.e2e

POLICY = {"score_bands": {"approve_from": 540, "decline_below": 500},
          "rules": [{"id": "adult", "expression": "applicant.age >= 18 && score.pd < 0.35",
                     "reason_code": "RISK", "reason_text": "Your risk of default is too high."}],
          "max_auto_approve": {"amount": "30000.00", "currency": "CNY"}}
REFERRED_AMOUNT = "40000.00"  # above the policy's max_auto_approve: a person decides
ROLES = ("admin", "partner", "reviewer", "operator")
SCORE_FLOATS = {"pd", "points_lost"}  # probabilities and scorecard points, not money


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    return generate(tmp_path_factory.mktemp("client"))


class Partner:
    """The generated package, used the way its README says: `<api>.<op>.sync_detailed`."""

    def __init__(self, package: ModuleType, base_url: str) -> None:
        self.package, self.base_url = package, base_url
        self.name = package.__name__

    def client(self, token: str) -> Any:
        return self.package.AuthenticatedClient(base_url=self.base_url, token=token,
                                                raise_on_unexpected_status=True, timeout=60)

    def op(self, tag: str, operation: str) -> Callable[..., Any]:
        return importlib.import_module(f"{self.name}.api.{tag}.{operation}").sync_detailed

    def model(self, name: str) -> Any:
        return getattr(importlib.import_module(f"{self.name}.models"), name)

    def call(self, token: str, tag: str, operation: str, status: int | set[int], returns: str,
             *args: Any, body: tuple[str, dict[str, Any]] | None = None,
             idempotent: bool = True, **kwargs: Any) -> Any:
        """One operation; its documented success status and model, or the test fails."""
        if body is not None:
            kwargs["body"] = self.model(body[0]).from_dict(body[1])
        if idempotent:
            kwargs["idempotency_key"] = str(uuid.uuid4())
        r = self.op(tag, operation)(*args, client=self.client(token), **kwargs)
        assert r.status_code in ({status} if isinstance(status, int) else status), (
            operation, r.status_code, r.content[:800])
        assert isinstance(r.parsed, self.model(returns)), (operation, type(r.parsed))
        assert_known_fields(r.parsed, operation)
        return r.parsed


def assert_known_fields(value: Any, where: str) -> None:
    """Nothing the server sent fell outside the schema (the generator's models keep unknown
    keys in `additional_properties`; a map model has nothing but those), and no amount of
    money arrived as a number."""
    assert not isinstance(value, float) or where.rsplit(".", 1)[-1] in SCORE_FLOATS, where
    if isinstance(value, list):
        for i, item in enumerate(value):
            assert_known_fields(item, f"{where}[{i}]")
        return
    if not attrs.has(type(value)):
        return
    declared = [f.name for f in attrs.fields(type(value)) if f.name != "additional_properties"]
    if set(declared) == {"amount", "currency"}:  # a money object
        assert isinstance(value.amount, str), f"{where}.amount is {value.amount!r}"
    extra = getattr(value, "additional_properties", {})
    if declared:
        assert not extra, f"{where}: {type(value).__name__} got undocumented {sorted(extra)}"
    for name in declared:
        assert_known_fields(getattr(value, name), f"{where}.{name}")
    for key, item in extra.items():
        assert_known_fields(item, f"{where}[{key}]")


@pytest.fixture
def partner(generated: Generated, stack: Stack) -> Partner:
    return Partner(load(generated), stack.base)


def test_money_stays_a_decimal_string_in_the_generated_models(partner: Partner) -> None:
    money = partner.model("MoneyOut")
    assert {f.name: f.type for f in attrs.fields(money)}["amount"] in (str, "str")
    parsed = money.from_dict({"amount": "10000.00", "currency": "CNY"})
    assert parsed.amount == "10000.00" and parsed.to_dict()["amount"] == "10000.00"


def test_the_lifecycle_with_the_generated_client_only(partner: Partner, stack: Stack) -> None:
    p, root = partner, stack.admin_key
    tenant = f"gen-{uuid.uuid4().hex[:8]}"
    p.call(root, "platform", "create_tenant", 201, "Tenant", body=(
        "TenantCreate", {"tenant_id": tenant, "name": "Generated", "base_currency": "CNY",
                         "time_zone": "UTC"}))
    keys = {role: p.call(root, "platform", "issue_api_key", 201, "ApiKeyIssued", tenant,
                         body=("ApiKeyCreate", {"role": role, "name": role})).key
            for role in ROLES}
    admin, partner_key, operator = keys["admin"], keys["partner"], keys["operator"]

    # admin: decision policy, product, channel (funded by the operator), webhook
    policy = p.call(admin, "decisions", "create_policy", 201, "PolicyOut",
                    body=("PolicyCreate", {"name": "Standard", "config": POLICY}))
    terms = {**copy.deepcopy(TERMS), "overpayment_tolerance": "100.00",
             "references": {"decision_policy_id": policy.id}}
    product = p.call(admin, "products", "create_product", 201, "ProductOut",
                     body=("ProductCreate", {"name": "Microloan", "terms": terms}))
    channel = p.call(admin, "channels", "create_channel", 201, "ChannelCreated", body=(
        "ChannelCreate", {"name": "Sandbox bank", "type": "sandbox", "currency": "CNY",
                          "settlement_seconds": 60, "fixed_cost": "1.00"}))
    p.call(operator, "channels", "fund_channel", 201, "FundingOut", channel.id,
           body=("FundingCreate", {"amount": "100000.00", "reference": "seed-funding"}))
    hook = p.call(admin, "webhooks", "create_webhook", 201, "WebhookCreated", body=(
        "WebhookCreate", {"url": "http://127.0.0.1:9/hooks",
                          "event_types": ["loan.disbursed", "repayment.received"]}))
    assert hook.secret

    # partner: an approved application, accepted, signed, disbursed, repaid and paid off
    body = application(product.id, serial="271")
    app = p.call(partner_key, "applications", "submit_application", 201, "ApplicationOut",
                 body=("ApplicationCreate", body))
    assert app.status == "approved" and isinstance(app.amount.amount, str)
    accepted = p.call(partner_key, "applications", "accept_offer", 201, "AcceptOut", app.id)
    loan_id = accepted.loan.id
    loan = p.call(partner_key, "disbursements", "get_loan", 200, "LoanView", loan_id,
                  idempotent=False)
    contract = p.call(partner_key, "contracts", "get_contract", 200, "ContractOut",
                      loan.contract_id, idempotent=False)
    assert contract.loan_id == loan_id
    code = p.call(partner_key, "contracts", "issue_code", 201, "CodeOut", loan.contract_id)
    assert code.code, "the local stage echoes the signing code"
    signer = {"name": body["applicant"]["name"],
              "national_id": body["applicant"]["national_id"]["number"]}
    p.call(partner_key, "contracts", "sign_contract", 200, "ContractOut", loan.contract_id,
           body=("SignBody", {"code": code.code, "signer": signer}))
    started = p.call(partner_key, "disbursements", "start_disbursement", {200, 202},
                     "DisbursementOut", loan_id)
    settled = eventually(lambda: p.call(
        partner_key, "disbursements", "get_disbursement", 200, "DisbursementOut", started.id,
        idempotent=False).status, "settled", within=30)
    assert settled == "settled"
    first = p.call(partner_key, "disbursements", "get_loan", 200, "LoanView", loan_id,
                   idempotent=False).schedule.installments[0]
    assert isinstance(first.total, str)
    part = Decimal(first.total) / 2
    p.call(partner_key, "repayments", "post_repayment", 201, "RepaymentOut", loan_id, body=(
        "RepaymentBody", {"amount": {"amount": f"{part:.2f}", "currency": "CNY"},
                          "paid_at": datetime.now(UTC).isoformat(), "channel": channel.id,
                          "external_reference": f"gen-{loan_id}-1"}))
    quote = p.call(partner_key, "repayments", "get_payoff_quote", 200, "PayoffOut", loan_id,
                   idempotent=False)
    assert isinstance(quote.total.amount, str)
    p.call(partner_key, "repayments", "post_repayment", 201, "RepaymentOut", loan_id, body=(
        "RepaymentBody", {"amount": quote.total.to_dict(),
                          "paid_at": datetime.now(UTC).isoformat(), "channel": channel.id,
                          "external_reference": f"gen-{loan_id}-2"}))
    servicing = p.call(operator, "repayments", "get_servicing", 200, "ServicingOut", loan_id,
                       idempotent=False)
    assert Decimal(servicing.outstanding.principal.amount) == 0, servicing.to_dict()

    # reviewer: an application the policy refers, decided
    referred = p.call(partner_key, "applications", "submit_application", 201,
                      "ApplicationOut", body=("ApplicationCreate", application(
                          product.id, serial="272", amount=REFERRED_AMOUNT)))
    assert referred.status == "referred"
    queue = p.call(keys["reviewer"], "reviews", "review_queue", 200, "ApplicationPage",
                   idempotent=False)
    assert referred.id in [a.id for a in queue.data]
    reviewed = p.call(keys["reviewer"], "reviews", "review_application", 200,
                      "ApplicationOut", referred.id,
                      body=("ReviewCreate", {"decision": "approve", "comment": "verified"}))
    assert reviewed.status == "approved"

    # operator: a statement with a line the ledger never booked, and its exception resolved
    today = datetime.now(UTC).date().isoformat()
    csv = ("reference,type,amount,currency,value_date\n"
           f"GEN-UNKNOWN-1,payout,42.00,CNY,{today}\n")
    run = p.call(operator, "reconciliation", "create_run", 201, "ReconciliationRunOut",
                 body=("RunCreate", {"channel": channel.id, "csv": csv}))
    assert run.counts["missing_in_ledger"] == 1, run.to_dict()
    page = p.call(operator, "reconciliation", "list_exceptions", 200, "ExceptionPage",
                  idempotent=False)
    [exception] = [e for e in page.data if e.reference == "GEN-UNKNOWN-1"]
    resolved = p.call(operator, "reconciliation", "resolve_exception", 200, "ExceptionOut",
                      exception.id, body=("ExceptionResolveIn", {"note": "bank error"}))
    assert resolved.status == "resolved"



def test_the_contract_itself_through_the_generated_client(partner: Partner) -> None:
    """The one operation with a YAML default: the generated client reads its JSON form, which
    the server sends to `Accept: application/json` (a client-wide header, harmless elsewhere)."""
    client = partner.package.Client(base_url=partner.base_url, raise_on_unexpected_status=True,
                                    headers={"Accept": "application/json"})
    r = partner.op("service", "openapi_document")(client=client)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    document = partner.model("OpenapiDocumentResponse200")
    assert isinstance(r.parsed, document)
    assert r.parsed["openapi"].startswith("3.1") and r.parsed["paths"]
