"""The contract's request examples are accepted by the API itself, not only by its schemas:
each self-contained example (one that names no other object) is sent as is, with the key its
curl sample names, and answers 2xx."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

SPEC = yaml.safe_load((Path(__file__).resolve().parents[2] / "openapi.yaml").read_text("utf-8"))
# In order: the platform makes the example tenant first; the rest run as that tenant.
SELF_CONTAINED = [
    ("post", "/v1/tenants"),
    ("post", "/v1/tenants/{tenant_id}/api-keys"),
    ("put", "/v1/tenants/{tenant_id}/time-zone"),
    ("post", "/v1/products"),
    ("post", "/v1/channels"),
    ("post", "/v1/decision-policies"),
    ("post", "/v1/contract-templates"),
    ("post", "/v1/apr"),
    ("post", "/v1/score"),
    ("put", "/v1/settings/delinquency"),
    ("put", "/v1/sandbox/clock"),
    ("post", "/v1/ledger/accounts"),
    ("post", "/v1/cob/runs"),
    ("post", "/v1/webhooks"),
    ("post", "/v1/reconciliation/verifications"),
]


def _example(method: str, path: str) -> tuple[dict[str, Any], Any]:
    op = SPEC["paths"][path][method]
    return op, op["requestBody"]["content"]["application/json"]["example"]


def _key_variable(op: dict[str, Any]) -> str:
    source = op["x-codeSamples"][0]["source"]
    return source.split("Authorization: Bearer ", 1)[1].split('"', 1)[0]


ROLES = {"$KEY": "admin", "$PARTNER_KEY": "partner", "$OPERATOR_KEY": "operator",
         "$REVIEWER_KEY": "reviewer"}


def test_self_contained_examples_are_accepted(api):
    tenant = _example("post", "/v1/tenants")[1]["tenant_id"]
    keys = {"$ADMIN": api.platform_key}
    for method, path in SELF_CONTAINED:
        op, body = _example(method, path)
        variable = _key_variable(op)
        if variable not in keys:
            keys[variable] = api.key(tenant, ROLES[variable])
        r = api.call(method.upper(), path.replace("{tenant_id}", tenant), body,
                     key=keys[variable])
        assert 200 <= r.status < 300, (method, path, r.json)


@pytest.mark.parametrize(("method", "path"), SELF_CONTAINED)
def test_listed_operations_exist_with_a_body(method, path):
    assert "requestBody" in SPEC["paths"][path][method]
