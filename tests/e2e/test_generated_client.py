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
import yaml

from tests.e2e.conftest import Stack
from tests.generated_client import SPEC, Generated, generate, load
from tests.integration.origination.conftest import TERMS, application
from tests.lag import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("generated-client")]  # one generation

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


def _successes() -> dict[str, tuple[str, dict[int, str]]]:
    """Per operation id: its tag, and each documented 2xx status with its schema's name."""
    spec = yaml.load(SPEC.read_text(encoding="utf-8"),
                     Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    out = {}
    for ops in spec["paths"].values():
        for op in ops.values():
            ok = {int(status): next(iter(r["content"].values()))["schema"]["$ref"].rsplit("/")[-1]
                  for status, r in op["responses"].items()
                  if status.startswith("2") and "$ref" in str(r.get("content"))}
            out[op["operationId"]] = (op["tags"][0].lower().replace(" ", "_"), ok)
    return out


class Partner:
    """The generated package, used as its README says (`<api>.<op>.sync_detailed`), each
    answer held to what the contract documents for the operation."""

    def __init__(self, package: ModuleType, base_url: str) -> None:
        self.package, self.base_url = package, base_url
        self.name = package.__name__
        self.successes = _successes()

    def client(self, token: str) -> Any:
        return self.package.AuthenticatedClient(base_url=self.base_url, token=token,
                                                raise_on_unexpected_status=True, timeout=60)

    def op(self, operation: str) -> Callable[..., Any]:
        tag = self.successes[operation][0]
        return importlib.import_module(f"{self.name}.api.{tag}.{operation}").sync_detailed

    def model(self, name: str) -> Any:
        return getattr(importlib.import_module(f"{self.name}.models"), name)

    def call(self, token: str, operation: str, *args: Any,
             body: tuple[str, dict[str, Any]] | None = None, **kwargs: Any) -> Any:
        """One operation: a documented success, parsed into that status's generated model."""
        if body is not None:
            kwargs["body"] = self.model(body[0]).from_dict(body[1])
        r = self.op(operation)(*args, client=self.client(token), **kwargs)
        documented = self.successes[operation][1]
        assert r.status_code in documented, (operation, r.status_code, r.content[:800])
        assert isinstance(r.parsed, self.model(documented[r.status_code])), (
            operation, type(r.parsed))
        assert_known_fields(r.parsed, operation)
        return r.parsed

    def post(self, token: str, operation: str, *args: Any, **kwargs: Any) -> Any:
        """An operation that takes an Idempotency-Key (a fresh one: a first attempt)."""
        return self.call(token, operation, *args, idempotency_key=str(uuid.uuid4()), **kwargs)


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
    for name in ("Money", "MoneyOut"):  # what a partner sends, what it reads
        money = partner.model(name)
        assert {f.name: f.type for f in attrs.fields(money)}["amount"] in (str, "str"), name
        parsed = money.from_dict({"amount": "10000.10", "currency": "CNY"})
        assert parsed.amount == "10000.10" and parsed.to_dict()["amount"] == "10000.10"


def _set_up(p: Partner, root: str) -> tuple[dict[str, str], Any, Any]:
    """platform: a tenant and its keys; admin: policy, product, channel, webhook; operator:
    the channel's funding. The keys, the product and the channel."""
    tenant = f"gen-{uuid.uuid4().hex[:8]}"
    p.post(root, "create_tenant", body=("TenantCreate", {
        "tenant_id": tenant, "name": "Generated", "base_currency": "CNY", "time_zone": "UTC"}))
    keys = {role: p.post(root, "issue_api_key", tenant,
                         body=("ApiKeyCreate", {"role": role, "name": role})).key
            for role in ROLES}
    admin = keys["admin"]
    policy = p.post(admin, "create_policy",
                    body=("PolicyCreate", {"name": "Standard", "config": POLICY}))
    terms = {**copy.deepcopy(TERMS), "overpayment_tolerance": "100.00",
             "references": {"decision_policy_id": policy.id}}
    product = p.post(admin, "create_product",
                     body=("ProductCreate", {"name": "Microloan", "terms": terms}))
    channel = p.post(admin, "create_channel", body=("ChannelCreate", {
        "name": "Sandbox bank", "type": "sandbox", "currency": "CNY",
        "settlement_seconds": 60, "fixed_cost": "1.00", "sandbox": {"fail_above": "90000.00"}}))
    assert channel.sandbox.fail_above.amount == "90000.00", channel.to_dict()
    p.post(keys["operator"], "fund_channel", channel.id,
           body=("FundingCreate", {"amount": "100000.00", "reference": "seed-funding"}))
    hook = p.post(admin, "create_webhook", body=("WebhookCreate", {
        "url": "http://127.0.0.1:9/hooks", "event_types": ["loan.disbursed",
                                                           "repayment.received"]}))
    assert hook.secret and hook.status == "active"
    return keys, product, channel


def _signed_loan(p: Partner, key: str, product_id: str) -> str:
    """partner: an approved application, accepted, its contract signed; the loan's id."""
    body = application(product_id, serial="271")
    app = p.post(key, "submit_application", body=("ApplicationCreate", body))
    assert app.status == "approved" and isinstance(app.amount.amount, str)
    loan_id = p.post(key, "accept_offer", app.id).loan.id
    contract_id = p.call(key, "get_loan", loan_id).contract_id
    assert p.call(key, "get_contract", contract_id).loan_id == loan_id
    code = p.post(key, "issue_code", contract_id)
    assert code.code, "the local stage echoes the signing code"
    person = body["applicant"]
    signed = p.post(key, "sign_contract", contract_id, body=("SignBody", {
        "code": code.code, "signer": {"name": person["name"],
                                      "national_id": person["national_id"]["number"]}}))
    assert signed.status == "signed"
    return loan_id


def _repay(p: Partner, key: str, loan_id: str, channel_id: str, amount: dict[str, str],
           n: int) -> None:
    p.post(key, "post_repayment", loan_id, body=("RepaymentBody", {
        "amount": amount, "paid_at": datetime.now(UTC).isoformat(), "channel": channel_id,
        "external_reference": f"gen-{loan_id}-{n}"}))


def test_the_lifecycle_with_the_generated_client_only(partner: Partner, stack: Stack) -> None:
    p = partner
    keys, product, channel = _set_up(p, stack.admin_key)
    key = keys["partner"]

    loan_id = _signed_loan(p, key, product.id)
    started = p.post(key, "start_disbursement", loan_id)
    assert eventually(lambda: p.call(key, "get_disbursement", started.id).status, "settled",
                      within=30) == "settled"
    first = p.call(key, "get_loan", loan_id).schedule.installments[0]
    _repay(p, key, loan_id, channel.id, {"amount": f"{Decimal(first.total) / 2:.2f}",
                                         "currency": "CNY"}, 1)
    quote = p.call(key, "get_payoff_quote", loan_id)
    _repay(p, key, loan_id, channel.id, quote.total.to_dict(), 2)
    servicing = p.call(keys["operator"], "get_servicing", loan_id)
    assert Decimal(servicing.outstanding.principal.amount) == 0, servicing.to_dict()

    # reviewer: an application the policy refers, decided
    referred = p.post(key, "submit_application", body=("ApplicationCreate", application(
        product.id, serial="272", amount=REFERRED_AMOUNT)))
    assert referred.status == "referred"
    assert referred.id in [a.id for a in p.call(keys["reviewer"], "review_queue").data]
    reviewed = p.post(keys["reviewer"], "review_application", referred.id,
                      body=("ReviewCreate", {"decision": "approve", "comment": "verified"}))
    assert reviewed.status == "approved"

    # operator: a statement line the ledger never booked, and the exception it raises resolved
    operator, today = keys["operator"], datetime.now(UTC).date().isoformat()
    csv = f"reference,type,amount,currency,value_date\nGEN-1,payout,42.00,CNY,{today}\n"
    run = p.post(operator, "create_run", body=("RunCreate", {"channel": channel.id, "csv": csv}))
    assert run.counts["missing_in_ledger"] == 1, run.to_dict()
    [exception] = [e for e in p.call(operator, "list_exceptions").data if e.reference == "GEN-1"]
    assert exception.detail.statement_line.amount == "42.00", exception.to_dict()
    resolved = p.post(operator, "resolve_exception", exception.id,
                      body=("ExceptionResolveIn", {"note": "the bank's error"}))
    assert resolved.status == "resolved" and resolved.resolution.note == "the bank's error"

    # operator: the nightly verification on demand, each step a typed report
    verified = p.post(operator, "verify_now", body=("VerifyNow", {"day": today}))
    assert verified.ledger.status == "checked" and verified.ledger.journals > 0, \
        verified.to_dict()
    assert verified.reconciliation.status == "checked", verified.to_dict()


def test_the_contract_itself_through_the_generated_client(partner: Partner) -> None:
    """The one operation with a YAML default: the generated client reads its JSON form, which
    the server sends to `Accept: application/json` (a client-wide header, harmless elsewhere)."""
    client = partner.package.Client(base_url=partner.base_url, raise_on_unexpected_status=True,
                                    headers={"Accept": "application/json"})
    r = partner.op("openapi_document")(client=client)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    document = partner.model("OpenapiDocumentResponse200")
    assert isinstance(r.parsed, document)
    assert r.parsed["openapi"].startswith("3.1") and r.parsed["paths"]
