"""Least-privilege IAM policies per Lambda function, written to .chalice/policy-<stage>*.json.

Chalice (autogen_policy: false) gives every function the stage's `iam_policy_file` unless
`lambda_functions.<name>.iam_policy_file` names another. So:

- policy-<stage>.json: the API handler and every scheduled job (a new @app.schedule function
  gets it with no infra change; narrow a job by adding a lambda_functions entry);
- policy-<stage>-authorizer.json: the authorizer reads API keys from the main table, nothing else.

Ledger journals, entries and the audit trail are append-only: Put (the code always conditions it
on attribute_not_exists), Get, Query, ConditionCheck, and an explicit Deny of UpdateItem,
DeleteItem and BatchWriteItem. IAM authorises each action inside TransactWriteItems as its
single-item twin (Put -> PutItem, Update -> UpdateItem), so the deny holds in transactions too.
The ledger keeps its only mutable items (balances, pending-journal states) in ledger-accounts,
so the deny on the other three tables has no exception.

`python -m infra.iam` rewrites the files; a test fails if they drift from this module.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CHALICE_DIR = ROOT / ".chalice"

MUTABLE_TABLES = ("main", "idempotency")
BALANCE_TABLES = ("ledger-accounts",)  # balance items take conditional updates; never deleted
APPEND_ONLY_TABLES = ("ledger-journals", "ledger-entries", "audit")

READ = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query",
        "dynamodb:ConditionCheckItem", "dynamodb:DescribeTable"]
FORBIDDEN_ON_APPEND_ONLY = ["dynamodb:UpdateItem", "dynamodb:DeleteItem",
                            "dynamodb:BatchWriteItem"]
METRIC_NAMESPACE = "LendingApi"
COB_QUEUE = "cob-chunks"  # infra/storage.yaml: ${TablePrefix}cob-chunks


def stage_settings(stage: str) -> dict[str, str]:
    """The stage's environment from .chalice/config.json: the names the code will use."""
    config = json.loads((CHALICE_DIR / "config.json").read_text())
    env = config["stages"][stage].get("environment_variables", {})
    missing = {"LENDING_TABLE_PREFIX", "LENDING_BUCKET", "LENDING_SECRETS_ID"} - set(env)
    if missing:
        raise KeyError(f"stage {stage} lacks {sorted(missing)} in .chalice/config.json")
    return env


def table_arns(prefix: str, tables: tuple[str, ...]) -> list[str]:
    """Tables and their indexes; account and region are pinned by the SAM post-processing."""
    out = []
    for t in tables:
        arn = f"arn:aws:dynamodb:*:*:table/{prefix}{t}"
        out += [arn, f"{arn}/index/*"]
    return out


def _logs() -> dict[str, Any]:
    return {
        "Sid": "Logs",
        "Effect": "Allow",
        "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": "arn:aws:logs:*:*:*",
    }


def _secret(secret_id: str) -> dict[str, Any]:
    return {
        "Sid": "ReadOwnSecret",
        "Effect": "Allow",
        "Action": ["secretsmanager:GetSecretValue"],
        "Resource": f"arn:aws:secretsmanager:*:*:secret:{secret_id}-??????",
    }


def app_policy(stage: str) -> dict[str, Any]:
    """API handler and scheduled jobs."""
    env = stage_settings(stage)
    prefix, bucket = env["LENDING_TABLE_PREFIX"], env["LENDING_BUCKET"]
    statements: list[dict[str, Any]] = [
        _logs(),
        {
            "Sid": "MutableTables",
            "Effect": "Allow",
            "Action": [*READ, "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
            "Resource": table_arns(prefix, MUTABLE_TABLES),
        },
        {
            "Sid": "LedgerBalances",
            "Effect": "Allow",
            "Action": [*READ, "dynamodb:PutItem", "dynamodb:UpdateItem"],
            "Resource": table_arns(prefix, BALANCE_TABLES),
        },
        {
            "Sid": "AppendOnlyTables",
            "Effect": "Allow",
            "Action": [*READ, "dynamodb:PutItem"],
            "Resource": table_arns(prefix, APPEND_ONLY_TABLES),
        },
        {
            "Sid": "DenyRewritingJournalsEntriesAndAudit",
            "Effect": "Deny",
            "Action": FORBIDDEN_ON_APPEND_ONLY,
            "Resource": table_arns(prefix, APPEND_ONLY_TABLES),
        },
    ]
    statements += [
        {
            # Onboarding: the tenant's usage plan key (services/usage_keys.py).
            "Sid": "TenantUsageKeys",
            "Effect": "Allow",
            "Action": ["apigateway:GET", "apigateway:POST"],
            "Resource": ["arn:aws:apigateway:*::/apikeys", "arn:aws:apigateway:*::/apikeys/*",
                         "arn:aws:apigateway:*::/usageplans/*/keys"],
        },
        {
            "Sid": "Documents",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"],
            "Resource": f"arn:aws:s3:::{bucket}/*",
        },
        {
            "Sid": "ListDocumentsSoMissingIsA404",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": f"arn:aws:s3:::{bucket}",
        },
        {
            "Sid": "LockSignedContracts",
            "Effect": "Allow",
            "Action": ["s3:PutObjectRetention", "s3:GetObjectRetention"],
            "Resource": f"arn:aws:s3:::{bucket}/*/contracts/*/signed/*",
        },
        {
            "Sid": "PersonalDataKey",
            "Effect": "Allow",
            "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": "arn:aws:kms:*:*:key/*",
            "Condition": {
                "ForAnyValue:StringEquals": {"kms:ResourceAliases": f"alias/{prefix}personal-data"}
            },
        },
        {
            "Sid": "JobMetrics",
            "Effect": "Allow",
            "Action": ["cloudwatch:PutMetricData"],
            "Resource": "*",
            "Condition": {"StringEquals": {"cloudwatch:namespace": METRIC_NAMESPACE}},
        },
        {
            # Close of business fan-out: the coordinator sends chunks, the worker (whose
            # event source mapping polls with the function's role) receives and deletes them.
            "Sid": "CobChunksQueue",
            "Effect": "Allow",
            "Action": ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage",
                       "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes",
                       "sqs:GetQueueUrl"],
            "Resource": f"arn:aws:sqs:*:*:{prefix}{COB_QUEUE}",
        },
        _secret(env["LENDING_SECRETS_ID"]),
    ]
    return {"Version": "2012-10-17", "Statement": statements}


def authorizer_policy(stage: str) -> dict[str, Any]:
    """Looks up one API key item; reads nothing else and writes nothing."""
    env = stage_settings(stage)
    return {
        "Version": "2012-10-17",
        "Statement": [
            _logs(),
            {
                "Sid": "ReadApiKeys",
                "Effect": "Allow",
                "Action": ["dynamodb:GetItem", "dynamodb:DescribeTable"],
                "Resource": f"arn:aws:dynamodb:*:*:table/{env['LENDING_TABLE_PREFIX']}main",
            },
            _secret(env["LENDING_SECRETS_ID"]),
        ],
    }


AUTHORIZER_FUNCTION = "api_key_authorizer"


def policy_files(stage: str) -> dict[Path, dict[str, Any]]:
    return {
        CHALICE_DIR / f"policy-{stage}.json": app_policy(stage),
        CHALICE_DIR / f"policy-{stage}-authorizer.json": authorizer_policy(stage),
    }


def render(policy: dict[str, Any]) -> str:
    return json.dumps(policy, indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    stages = (argv if argv is not None else sys.argv[1:]) or ["dev"]
    for stage in stages:
        for path, policy in policy_files(stage).items():
            path.write_text(render(policy))
            print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
