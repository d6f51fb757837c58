"""Reads infra/storage.yaml, the one definition of our tables, for the local stack and the tests.

The deployable CloudFormation template is the source of truth; this module turns its
AWS::DynamoDB::Table resources into CreateTable calls so moto gets exactly the same key schemas,
GSIs, TTL and streams that AWS gets.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

TEMPLATE = Path(__file__).with_name("storage.yaml")
_SUB = re.compile(r"\$\{([A-Za-z0-9:]+)\}")


# libyaml's loader when PyYAML has it: the same documents, ~8x faster (every test's moto
# account is provisioned from this template).
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)


def _resolve(value: Any, params: dict[str, str]) -> Any:
    """Resolves the few intrinsics our storage template uses (long-form Fn::Sub and Ref)."""
    if isinstance(value, dict) and len(value) == 1:
        (fn, arg), = value.items()
        if fn == "Fn::Sub":
            return _SUB.sub(lambda m: params[m.group(1)], arg)
        if fn == "Ref":
            return params[arg]
    return value


def _params(template: dict[str, Any], overrides: dict[str, str]) -> dict[str, str]:
    params = {k: str(v.get("Default", "")) for k, v in template.get("Parameters", {}).items()}
    params.update({"AWS::Partition": "aws", "AWS::AccountId": "123456789012"})
    params.update(overrides)
    return params


def table_definitions(prefix: str, template: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """CreateTable keyword arguments (plus TTL and logical id) for every table in the template."""
    template = template or load_template()
    params = _params(template, {"TablePrefix": prefix})
    tables = []
    for logical_id, res in template["Resources"].items():
        if res["Type"] != "AWS::DynamoDB::Table":
            continue
        props = res["Properties"]
        create: dict[str, Any] = {
            "TableName": _resolve(props["TableName"], params),
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if "GlobalSecondaryIndexes" in props:
            create["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        if "StreamSpecification" in props:
            create["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
        tables.append(
            {
                "logical_id": logical_id,
                "create": create,
                "ttl_attribute": props.get("TimeToLiveSpecification", {}).get("AttributeName"),
            }
        )
    return tables


def bucket_name(name: str, template: dict[str, Any] | None = None) -> str:
    template = template or load_template()
    props = template["Resources"]["DocumentsBucket"]["Properties"]
    return _resolve(props["BucketName"], _params(template, {"BucketName": name}))


def create_tables(dynamodb_client: Any, prefix: str) -> list[str]:
    """Creates every missing table (idempotent); returns the table names."""
    existing = set(dynamodb_client.list_tables().get("TableNames", []))
    names = []
    for table in table_definitions(prefix):
        create = table["create"]
        names.append(create["TableName"])
        if create["TableName"] in existing:
            continue
        dynamodb_client.create_table(**create)
        if table["ttl_attribute"]:
            dynamodb_client.update_time_to_live(
                TableName=create["TableName"],
                TimeToLiveSpecification={"Enabled": True, "AttributeName": table["ttl_attribute"]},
            )
    return names


def queue_definitions(prefix: str, template: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """CreateQueue arguments for every SQS queue in the template, dead-letter queues first;
    `dead_letter` names the queue a redrive policy targets."""
    template = template or load_template()
    params = _params(template, {"TablePrefix": prefix})
    queues = [(logical_id, res["Properties"]) for logical_id, res in template["Resources"].items()
              if res["Type"] == "AWS::SQS::Queue"]
    queues.sort(key=lambda q: "RedrivePolicy" in q[1])
    out = []
    for logical_id, props in queues:
        queue: dict[str, Any] = {
            "logical_id": logical_id, "QueueName": _resolve(props["QueueName"], params),
            "Attributes": {k: str(props[k]) for k in ("VisibilityTimeout",
                                                      "MessageRetentionPeriod") if k in props}}
        if "RedrivePolicy" in props:
            target = props["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
            queue["dead_letter"] = _resolve(
                template["Resources"][target]["Properties"]["QueueName"], params)
            queue["max_receive_count"] = props["RedrivePolicy"]["maxReceiveCount"]
        out.append(queue)
    return out


def create_queues(sqs_client: Any, prefix: str) -> list[str]:
    """Creates the template's queues (idempotent: CreateQueue with the same attributes)."""
    arns: dict[str, str] = {}
    for queue in queue_definitions(prefix):
        attributes = dict(queue["Attributes"])
        if "dead_letter" in queue:
            attributes["RedrivePolicy"] = json.dumps({
                "deadLetterTargetArn": arns[queue["dead_letter"]],
                "maxReceiveCount": queue["max_receive_count"]})
        url = sqs_client.create_queue(QueueName=queue["QueueName"],
                                      Attributes=attributes)["QueueUrl"]
        arns[queue["QueueName"]] = sqs_client.get_queue_attributes(
            QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return list(arns)


def provision(session_clients: dict[str, Any], prefix: str, bucket: str) -> dict[str, str]:
    """Creates tables, queues (when given an "sqs" client), the documents bucket and the
    personal-data key alias; returns their names."""
    ddb, s3, kms = session_clients["dynamodb"], session_clients["s3"], session_clients["kms"]
    create_tables(ddb, prefix)
    if "sqs" in session_clients:
        create_queues(session_clients["sqs"], prefix)
    if bucket not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    alias = f"alias/{prefix}personal-data"
    aliases = {a["AliasName"] for a in kms.list_aliases().get("Aliases", [])}
    if alias not in aliases:
        key_id = kms.create_key(Description="personal data (local)")["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName=alias, TargetKeyId=key_id)
    return {"bucket": bucket, "kms_alias": alias}
