"""Schemathesis against the real local stack (moto server + `chalice local`) from openapi.yaml.

Every operation in the committed contract is fuzzed over HTTP with a bounded number of examples,
authenticated with real keys of a freshly seeded tenant (the role each operation's `x-roles`
allows), then the contract's `links` are walked statefully (create -> read/act chains). Each
response must be: no 5xx, a documented status, a body valid against its schema and the documented
content type. Nothing is excluded: the platform-only operations run with the platform key.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.e2e.conftest import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("schemathesis")]

ROOT = Path(__file__).resolve().parents[2]
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance,
          content_type_conformance, response_headers_conformance]
# Per operation: ~93 operations on two busy cores must finish in well under three minutes.
EXAMPLES = 8
STATEFUL_SCENARIOS = 25
# Which seeded key calls an operation: the most capable role its `x-roles` allows.
ROLE_ORDER = ("admin", "operator", "partner", "reviewer", "platform")

CONFIG = schemathesis.Config.from_dict({
    "phases": {
        # The coverage phase derives every boundary case the schema implies, not a bounded number
        # per operation: ~6 minutes for this contract on two cores, over the budget. Fuzzing with
        # both positive and negative data stays on.
        "coverage": {"enabled": False},
        # Stateful runs walk the links the contract declares (what clients are told), not links
        # Schemathesis guesses from parameter names.
        "stateful": {"inference": {"algorithms": []}},
    },
})
schema = schemathesis.openapi.from_path(ROOT / "openapi.yaml", config=CONFIG)
COUNTS: dict[str, int] = {}
STEPS: dict[str, int] = {}


def _role(case: Any) -> str | None:
    roles = case.operation.definition.raw.get("x-roles")
    if not roles:
        return None
    return next(r for r in ROLE_ORDER if r in roles)


def _idempotent(case: Any) -> bool:
    return any(p.name == "Idempotency-Key" for p in case.operation.headers)


def prepare(case: Any, keys: dict[str, str]) -> None:
    """Real credentials for the operation's role, and a fresh Idempotency-Key per request (a
    generated one repeats across examples, which would only ever test the replay path)."""
    role = _role(case)
    if role is not None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {keys[role]}"}
    if _idempotent(case):
        case.headers = {**(case.headers or {}), "Idempotency-Key": str(uuid.uuid4())}


@pytest.fixture(scope="module")
def keys(stack: Stack) -> dict[str, str]:
    """A tenant with a key of every role, plus the platform key."""
    tenant = f"st-{uuid.uuid4().hex[:8]}"
    created = stack.call("POST", "/v1/tenants", stack.admin_key,
                         json={"tenant_id": tenant, "name": "Schemathesis"},
                         headers={"Idempotency-Key": str(uuid.uuid4())})
    assert created.status_code == 201, created.text
    out = {"platform": stack.admin_key}
    for role in ("admin", "operator", "partner", "reviewer"):
        r = stack.call("POST", f"/v1/tenants/{tenant}/api-keys", stack.admin_key,
                       json={"role": role, "name": f"schemathesis-{role}"},
                       headers={"Idempotency-Key": str(uuid.uuid4())})
        assert r.status_code == 201, r.text
        out[role] = r.json()["key"]
    return out


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          phases=[Phase.explicit, Phase.generate],
          suppress_health_check=list(HealthCheck))
def test_operation_conforms(case: Any, stack: Stack, keys: dict[str, str]) -> None:
    prepare(case, keys)
    response = case.call(base_url=stack.base, timeout=30)
    COUNTS[case.operation.label] = COUNTS.get(case.operation.label, 0) + 1
    case.validate_response(response, checks=CHECKS)


@pytest.fixture(scope="module")
def machine(stack: Stack, keys: dict[str, str]) -> type:
    base = schema.as_state_machine()

    class Links(base):  # type: ignore[misc, valid-type]
        def before_call(self, case: Any) -> None:
            prepare(case, keys)

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": stack.base, "timeout": 30}

        def after_call(self, response: Any, case: Any) -> None:
            super().after_call(response, case)
            STEPS[case.operation.label] = STEPS.get(case.operation.label, 0) + 1

        def validate_response(self, response: Any, case: Any, additional_checks: Any = None,
                              **kwargs: Any) -> None:
            case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs or None)

    return Links


def test_stateful_links(machine: type, capsys: pytest.CaptureFixture[str]) -> None:
    """Create -> read/act chains through the contract's links (POST /v1/products ->
    GET /v1/products/{product_id}, POST /v1/ledger/journals -> reverse, ...)."""
    machine.run(settings=settings(max_examples=STATEFUL_SCENARIOS, stateful_step_count=5,
                                  deadline=None, derandomize=True, database=None,
                                  suppress_health_check=list(HealthCheck)))
    operations = len(list(schema.get_all_operations()))
    with capsys.disabled():
        print(f"\nschemathesis: {len(COUNTS)}/{operations} operations, "
              f"{sum(COUNTS.values())} cases; stateful: {STATEFUL_SCENARIOS} scenarios, "
              f"{sum(STEPS.values())} calls over {len(STEPS)} operations")
