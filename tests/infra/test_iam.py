"""IAM: the policy files are what infra/iam.py generates, the append-only rules hold, and the
app policy allows every DynamoDB action the product code performs in the integration suites.

The evaluator below implements the part of IAM policy logic these policies use (explicit deny
wins, wildcards, StringEquals/StringNotEquals on single-valued keys, ForAnyValue:StringEquals).
It is a check of our policies' intent, not of AWS's evaluator: IAM itself could not be run here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest

from infra import iam

ROOT = Path(__file__).resolve().parents[2]
STAGE = "dev"
PREFIX = iam.stage_settings(STAGE)["LENDING_TABLE_PREFIX"]


def _listify(v: Any) -> list[Any]:
    return v if isinstance(v, list) else [v]


def _condition_holds(condition: dict[str, Any], context: dict[str, str]) -> bool:
    for op, tests in condition.items():
        for key, want in tests.items():
            wanted, have = _listify(want), context.get(key)
            if op == "StringEquals" or op == "ForAnyValue:StringEquals":
                ok = have is not None and have in wanted
            elif op == "StringNotEquals":
                ok = have is None or have not in wanted  # a missing key matches a negation
            else:
                raise AssertionError(f"evaluator does not know {op}")
            if not ok:
                return False
    return True


def decide(policy: dict[str, Any], action: str, resource: str,
           context: dict[str, str] | None = None) -> str:
    allowed = False
    for st in policy["Statement"]:
        if not any(fnmatchcase(action, a) for a in _listify(st["Action"])):
            continue
        if not any(fnmatchcase(resource, r) for r in _listify(st["Resource"])):
            continue
        if not _condition_holds(st.get("Condition", {}), context or {}):
            continue
        if st["Effect"] == "Deny":
            return "Deny"
        allowed = True
    return "Allow" if allowed else "Implicit"


def table(name: str, prefix: str = PREFIX) -> str:
    return f"arn:aws:dynamodb:us-east-1:123456789012:table/{prefix}{name}"


IN_TX = {"dynamodb:EnclosingOperation": "TransactWriteItems"}


def test_committed_policy_files_are_generated():
    for path, policy in iam.policy_files(STAGE).items():
        assert path.read_text() == iam.render(policy), f"run: python -m infra.iam {STAGE}"
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"][STAGE]
    assert config["autogen_policy"] is False
    assert config["iam_policy_file"] == f"policy-{STAGE}.json"
    authorizer = config["lambda_functions"][iam.AUTHORIZER_FUNCTION]
    assert authorizer["iam_policy_file"] == f"policy-{STAGE}-authorizer.json"


@pytest.mark.parametrize("name", ["ledger-journals", "ledger-entries", "audit"])
def test_append_only_tables(name):
    policy = iam.app_policy(STAGE)
    for action in ("PutItem", "GetItem", "Query", "ConditionCheckItem", "BatchGetItem"):
        assert decide(policy, f"dynamodb:{action}", table(name)) == "Allow"
        assert decide(policy, f"dynamodb:{action}", table(name), IN_TX) == "Allow"
    for action in ("DeleteItem", "BatchWriteItem"):
        assert decide(policy, f"dynamodb:{action}", table(name)) == "Deny"
        assert decide(policy, f"dynamodb:{action}", table(name), IN_TX) == "Deny"
    assert decide(policy, "dynamodb:UpdateItem", table(name)) == "Deny"
    assert decide(policy, "dynamodb:UpdateItem", table(name), IN_TX) == "Deny"


def test_mutable_and_balance_tables():
    policy = iam.app_policy(STAGE)
    for name in ("main", "idempotency"):
        for action in ("UpdateItem", "DeleteItem", "PutItem"):
            assert decide(policy, f"dynamodb:{action}", table(name)) == "Allow"
    assert decide(policy, "dynamodb:UpdateItem", table("ledger-accounts"), IN_TX) == "Allow"
    assert decide(policy, "dynamodb:DeleteItem", table("ledger-accounts")) == "Implicit"
    assert decide(policy, "dynamodb:Scan", table("main")) == "Implicit"
    assert decide(policy, "dynamodb:PutItem", table("main", "lending-prod-")) == "Implicit"
    assert decide(policy, "dynamodb:DeleteTable", table("main")) == "Implicit"


def test_authorizer_reads_one_table_only():
    policy = iam.authorizer_policy(STAGE)
    assert decide(policy, "dynamodb:GetItem", table("main")) == "Allow"
    for action in ("PutItem", "UpdateItem", "Query"):
        assert decide(policy, f"dynamodb:{action}", table("main")) == "Implicit"
    assert decide(policy, "dynamodb:GetItem", table("ledger-accounts")) == "Implicit"
    secret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:lending-dev/api-AbCdEf"
    assert decide(policy, "secretsmanager:GetSecretValue", secret) == "Allow"


def test_signed_contract_lock_and_kms_alias():
    policy = iam.app_policy(STAGE)
    bucket = iam.stage_settings(STAGE)["LENDING_BUCKET"]
    from chalicelib.contracts.storage import document_key, signed_document_key

    signed = f"arn:aws:s3:::{bucket}/{signed_document_key('acme', 'ctr_1')}"
    unsigned = f"arn:aws:s3:::{bucket}/{document_key('acme', 'ctr_1')}"
    assert decide(policy, "s3:PutObjectRetention", signed) == "Allow"
    assert decide(policy, "s3:PutObjectRetention", unsigned) == "Implicit"
    assert decide(policy, "s3:PutObjectRetention", f"arn:aws:s3:::{bucket}/models/m") == "Implicit"
    assert decide(policy, "s3:DeleteObject", signed) == "Implicit"
    key = "arn:aws:kms:us-east-1:123456789012:key/1234"
    alias = {"kms:ResourceAliases": f"alias/{PREFIX}personal-data"}
    assert decide(policy, "kms:Decrypt", key, alias) == "Allow"
    assert decide(policy, "kms:Decrypt", key, {"kms:ResourceAliases": "alias/other"}) == "Implicit"


@pytest.mark.xdist_group("iam-record")
def test_policy_allows_everything_the_product_code_does(tmp_path):
    """Runs the ledger, tenant, audit and unit-of-work integration tests (~45 s) recording each
    DynamoDB action product code makes (tests' own tampering excluded), then evaluates them."""
    record = tmp_path / "actions.json"
    suites = ["tests/integration/ledger", "tests/integration/test_tenants_and_keys.py",
              "tests/integration/test_audit_chain.py", "tests/integration/test_unit_of_work.py"]
    env = {**os.environ, "IAM_RECORD_FILE": str(record)}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p",
         "tests.infra.iam_recorder", "-o", "addopts=", *suites],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:]
    policy = iam.app_policy(STAGE)
    seen = json.loads(record.read_text())
    logical = [(a, t.split("-", 1)[1], enc) for a, t, enc in seen]
    assert ("UpdateItem", "ledger-accounts", "TransactWriteItems") in logical
    assert ("PutItem", "ledger-entries", "TransactWriteItems") in logical
    refused = []
    for action, name, enclosing in sorted(set(logical)):
        context = {"dynamodb:EnclosingOperation": enclosing} if enclosing else {}
        if decide(policy, f"dynamodb:{action}", table(name), context) != "Allow":
            refused.append((action, name, enclosing))
    assert refused == []


def test_onboarding_may_manage_usage_keys_only():
    policy = iam.app_policy(STAGE)
    keys = "arn:aws:apigateway:us-east-1::/apikeys"
    plan_keys = "arn:aws:apigateway:us-east-1::/usageplans/abc123/keys"
    for action, resource in (("apigateway:POST", keys), ("apigateway:GET", keys),
                             ("apigateway:POST", plan_keys)):
        assert decide(policy, action, resource) == "Allow"
    assert decide(policy, "apigateway:DELETE", keys + "/k1") == "Implicit"
    assert decide(policy, "apigateway:PATCH", "arn:aws:apigateway:us-east-1::/usageplans/abc123") \
        == "Implicit"
