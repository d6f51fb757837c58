"""infra/storage.yaml deployed into moto's CloudFormation creates what the code expects.

moto 5.2.5's CloudFormation creates the tables (keys, GSIs, streams, billing, deletion
protection), the bucket (with its encryption), the KMS key and alias and the SNS topic. It
silently drops TTL, point-in-time recovery, bucket versioning, the public access block and
Object Lock, and does not support AWS::S3::BucketPolicy or AWS::CloudWatch::Alarm: those are
checked on the template itself (cfn-lint validates their schema in `make lint`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from infra import iam
from infra.tables import TEMPLATE, load_template, table_definitions

pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse:UserWarning")

PREFIX = "cfn-"
BUCKET = "cfn-documents"


@pytest.fixture(scope="module")
def stack() -> Iterator[dict[str, Any]]:
    with mock_aws():
        cfn = boto3.client("cloudformation", region_name="us-east-1")
        cfn.create_stack(
            StackName="lending-storage",
            TemplateBody=Path(TEMPLATE).read_text(encoding="utf-8"),
            Parameters=[
                {"ParameterKey": "TablePrefix", "ParameterValue": PREFIX},
                {"ParameterKey": "BucketName", "ParameterValue": BUCKET},
            ],
        )
        described = cfn.describe_stacks(StackName="lending-storage")["Stacks"][0]
        yield {
            "stack": described,
            "resources": cfn.list_stack_resources(StackName="lending-storage")[
                "StackResourceSummaries"
            ],
            "dynamodb": boto3.client("dynamodb", region_name="us-east-1"),
            "s3": boto3.client("s3", region_name="us-east-1"),
            "kms": boto3.client("kms", region_name="us-east-1"),
        }


def _gsis(table: dict[str, Any]) -> dict[str, Any]:
    return {
        g["IndexName"]: (g["KeySchema"], g["Projection"]["ProjectionType"])
        for g in table.get("GlobalSecondaryIndexes", [])
    }


def _attrs(table: dict[str, Any]) -> set[tuple[str, str]]:
    return {(a["AttributeName"], a["AttributeType"]) for a in table["AttributeDefinitions"]}


def test_stack_creates(stack: dict[str, Any]) -> None:
    assert stack["stack"]["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"] for o in stack["stack"]["Outputs"]}
    assert {"PersonalDataKeyArn", "DocumentsBucketName", "AlarmTopicArn"} <= outputs


def test_tables_match_the_definitions_the_local_stack_and_tests_use(stack):
    ddb = stack["dynamodb"]
    definitions = table_definitions(PREFIX)
    assert len(definitions) == 6
    created = set(ddb.list_tables()["TableNames"])
    for definition in definitions:
        want = definition["create"]
        assert want["TableName"] in created
        got = ddb.describe_table(TableName=want["TableName"])["Table"]
        assert got["KeySchema"] == want["KeySchema"], want["TableName"]
        assert _gsis(got) == _gsis(want), want["TableName"]
        assert _attrs(got) == _attrs(want), want["TableName"]
        assert got["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        assert got["DeletionProtectionEnabled"] is True
        if "StreamSpecification" in want:
            assert got["StreamSpecification"] == want["StreamSpecification"]
        else:
            assert not got.get("StreamSpecification", {}).get("StreamEnabled")


def test_tables_are_the_ones_the_code_names(stack):
    """pynamodb models, the store's logical names, the ledger and the IAM groups agree."""
    from chalicelib.store.models import MainItem
    from ledger.items import Tables

    created = set(stack["dynamodb"].list_tables()["TableNames"])
    ledger = Tables(PREFIX)
    logical = {name.removeprefix(PREFIX) for name in created}
    assert {ledger.accounts, ledger.journals, ledger.entries} <= created
    assert {"main", "audit", "idempotency"} <= logical
    assert MainItem.Meta.table_name.endswith("main")
    assert (MainItem.pk.attr_name, MainItem.sk.attr_name) == ("pk", "sk")
    grouped = iam.MUTABLE_TABLES + iam.BALANCE_TABLES + iam.APPEND_ONLY_TABLES
    assert sorted(grouped) == sorted(logical), "every table needs an IAM group"


def test_ttl_pitr_and_sse_declared_for_every_table():
    """moto's CloudFormation drops these three, so they are checked in the template."""
    resources = load_template()["Resources"]
    tables = {k: v["Properties"] for k, v in resources.items()
              if v["Type"] == "AWS::DynamoDB::Table"}
    for name, props in tables.items():
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert props["SSESpecification"] == {"SSEEnabled": True}, name
        assert resources[name]["DeletionPolicy"] == "Retain"
    ttl = {k: p["TimeToLiveSpecification"]["AttributeName"] for k, p in tables.items()
           if "TimeToLiveSpecification" in p}
    # Idempotency records and main-table leases expire; ledger and audit items never do.
    assert ttl == {"MainTable": "expires_at", "IdempotencyTable": "expires_at"}


def test_bucket_and_key(stack):
    s3 = stack["s3"]
    assert BUCKET in {b["Name"] for b in s3.list_buckets()["Buckets"]}
    rules = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    aliases = {a["AliasName"] for a in stack["kms"].list_aliases()["Aliases"]}
    assert f"alias/{PREFIX}personal-data" in aliases


def test_bucket_versioning_public_access_and_object_lock_declared():
    """moto does not apply these from CloudFormation; the template must declare them."""
    resources = load_template()["Resources"]
    props = resources["DocumentsBucket"]["Properties"]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert all(props["PublicAccessBlockConfiguration"][k] for k in (
        "BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"))
    assert props["ObjectLockEnabled"] is True
    # No default retention rule: only signed contracts are locked (per object, COMPLIANCE).
    assert props["ObjectLockConfiguration"] == {"ObjectLockEnabled": "Enabled"}
    statements = {s["Sid"]: s for s in
                  resources["DocumentsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]}
    locked = statements["SignedContractsAreWrittenLocked"]
    assert locked["Effect"] == "Deny"
    assert locked["Condition"] == {"StringNotEquals": {"s3:object-lock-mode": "COMPLIANCE"}}
    # The pattern must cover the keys the code really writes signed contracts under.
    from fnmatch import fnmatch

    from chalicelib.contracts.storage import document_key, signature_key, signed_document_key

    pattern = locked["Resource"]["Fn::Sub"].split("}/", 1)[1]
    assert fnmatch(signed_document_key("acme", "ctr_1"), pattern)
    assert fnmatch(signature_key("acme", "ctr_1", "ab" * 32), pattern)
    assert not fnmatch(document_key("acme", "ctr_1"), pattern)
    assert statements["DenyInsecureTransport"]["Condition"] == {
        "Bool": {"aws:SecureTransport": "false"}}


def test_every_table_has_a_throttle_alarm_on_the_topic():
    resources = load_template()["Resources"]
    tables = {k for k, v in resources.items() if v["Type"] == "AWS::DynamoDB::Table"}
    alarmed = set()
    for res in resources.values():
        if res["Type"] != "AWS::CloudWatch::Alarm":
            continue
        props = res["Properties"]
        assert props["AlarmActions"] == [{"Ref": "AlarmTopic"}]
        for metric in props.get("Metrics", []):
            if "MetricStat" in metric:
                dims = metric["MetricStat"]["Metric"]["Dimensions"]
                alarmed |= {d["Value"]["Ref"] for d in dims if d["Name"] == "TableName"}
    assert alarmed == tables


def test_every_dead_letter_queue_has_an_alarm_on_the_topic():
    """A redrive target nobody watches hides failures: each one has an alarm on its depth."""
    resources = load_template()["Resources"]
    dead_letter = {q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
                   for q in resources.values()
                   if q["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" in q["Properties"]}
    watched = {dim["Value"]["Fn::GetAtt"][0]
               for res in resources.values() if res["Type"] == "AWS::CloudWatch::Alarm"
               and res["Properties"].get("Namespace") == "AWS/SQS"
               and res["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
               and res["Properties"]["Threshold"] == 0
               for dim in res["Properties"]["Dimensions"] if dim["Name"] == "QueueName"}
    assert dead_letter and dead_letter == watched
