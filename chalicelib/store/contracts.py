"""Where contract templates (with immutable versions) and contracts live in the main table.

Layout: template `<t>#ctpl#<id>` / `template`, its versions `v#000001`...; listed under
gsi1pk `<t>#ctpls`. Contract `<t>#contract#<id>` / `contract`. The document bytes are in S3
(contracts/storage.py); the item holds their SHA-256 and the signing state.
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import DoesNotExist

from chalicelib.store import dynamo
from chalicelib.store.attributes import IntAttribute
from chalicelib.store.keys import key
from chalicelib.store.models import Aggregate, MainItem

TEMPLATE_SK = "template"
CONTRACT_SK = "contract"
PENDING_SIGNATURE = "pending_signature"
SIGNED = "signed"
VOIDED = "voided"  # its loan expired unsigned (issue 17): it can no longer be signed


class TemplateItem(Aggregate):
    template_id = UnicodeAttribute()
    name = UnicodeAttribute()
    product_id = UnicodeAttribute(null=True)
    current_version = IntAttribute()


class TemplateVersionItem(MainItem):
    """One immutable version of a template's source."""

    template_id = UnicodeAttribute()
    number = IntAttribute()
    body = UnicodeAttribute()
    sha256 = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    created_by = UnicodeAttribute()


class ContractItem(Aggregate):
    contract_id = UnicodeAttribute()
    loan_id = UnicodeAttribute()
    application_id = UnicodeAttribute()
    template_id = UnicodeAttribute()  # "default" for the built-in template
    template_version = IntAttribute()
    document_key = UnicodeAttribute()
    document_sha256 = UnicodeAttribute()
    document_size = IntAttribute()
    status = UnicodeAttribute()
    code_hash = UnicodeAttribute(null=True)
    code_expires_at = UTCDateTimeAttribute(null=True)
    code_attempts = IntAttribute(default=0)
    codes_issued = IntAttribute(default=0)
    signed_at = UTCDateTimeAttribute(null=True)
    signed_document_key = UnicodeAttribute(null=True)
    signature_key = UnicodeAttribute(null=True)
    signature_sha256 = UnicodeAttribute(null=True)
    signature = UnicodeAttribute(null=True)  # JSON evidence without personal data


def template_pk(tenant: str, template_id: str) -> str:
    return key(tenant, "ctpl", template_id)


def version_sk(number: int) -> str:
    return f"v#{number:06d}"


def templates_list_pk(tenant: str) -> str:
    return key(tenant, "ctpls")


def contract_pk(tenant: str, contract_id: str) -> str:
    return key(tenant, "contract", contract_id)


def get_template(tenant: str, template_id: str) -> TemplateItem | None:
    try:
        return TemplateItem.get(template_pk(tenant, template_id), TEMPLATE_SK,
                                consistent_read=True)
    except DoesNotExist:
        return None


def get_template_version(tenant: str, template_id: str,
                         number: int) -> TemplateVersionItem | None:
    try:
        return TemplateVersionItem.get(template_pk(tenant, template_id), version_sk(number))
    except DoesNotExist:
        return None


def list_templates(tenant: str, limit: int, start: dict[str, Any] | None
                   ) -> tuple[list[TemplateItem], dict[str, Any] | None]:
    kwargs: dict[str, Any] = {"TableName": dynamo.table("main"), "IndexName": "gsi1",
                              "KeyConditionExpression": "gsi1pk = :p",
                              "ExpressionAttributeValues": {":p": {"S": templates_list_pk(tenant)}},
                              "Limit": limit, "ScanIndexForward": False}
    if start:
        kwargs["ExclusiveStartKey"] = start
    page = dynamo.client().query(**kwargs)
    return ([TemplateItem.from_raw_data(i) for i in page.get("Items", [])],
            page.get("LastEvaluatedKey"))


def get_contract(tenant: str, contract_id: str) -> ContractItem | None:
    try:
        return ContractItem.get(contract_pk(tenant, contract_id), CONTRACT_SK,
                                consistent_read=True)
    except DoesNotExist:
        return None


def consume_attempt(item: ContractItem, max_attempts: int) -> bool:
    """Spends one signing attempt atomically (before the code is compared), so parallel guesses
    cannot exceed the limit. False when none is left."""
    try:
        dynamo.client().update_item(
            TableName=dynamo.table("main"),
            Key={"pk": {"S": item.pk}, "sk": {"S": item.sk}},
            UpdateExpression="SET code_attempts = if_not_exists(code_attempts, :z) + :one",
            ConditionExpression="(attribute_not_exists(code_attempts) OR code_attempts < :max)"
                                " AND code_hash = :h",
            ExpressionAttributeValues={":z": {"N": "0"}, ":one": {"N": "1"},
                                       ":max": {"N": str(max_attempts)},
                                       ":h": {"S": item.code_hash or ""}})
    except dynamo.client().exceptions.ConditionalCheckFailedException:
        return False
    return True
