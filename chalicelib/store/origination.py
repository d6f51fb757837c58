"""Where applications, borrower index entries, decision policies and tenant models live.

Main-table layout (every key starts with `<tenant>#`):

| item | pk | sk | gsi1pk / gsi1sk |
|---|---|---|---|
| application | `t#application#<id>` | `application` | `t#applications` / `<status>#<at>#<id>` |
| borrower index entry | `t#borrower#<blind index>` | `application#<id>` or `loan#<id>` | - |
| borrower fence | `t#borrower#<blind index>` | `#fence` (`n`: submissions seen) | - |
| decision policy | `t#policy#<id>` | `policy` | `t#policies` / `<status>#<at>#<id>` |
| policy version | `t#policy#<id>` | `v#000001` | - |
| tenant model | `t#model#<id>` | `model` | `t#models` / `<at>#<id>` |
| model version | `t#model#<id>` | `v#000001` | - |

The borrower index is keyed by a keyed blind index (HMAC of the tenant and the normalized
national ID, see services/personal_data.py), never by the ID: it lives in the base table's key
rather than in a GSI key so the duplicate check reads it with a strongly consistent Query (a
GSI is eventually consistent, and two applications a second apart must see each other).
Two applications submitted at the same instant would still each miss the other; the fence
closes that race: every submission moves the borrower's fence from the count it read, so of
two racing submissions one commits and the other gets a conflict and, retried, sees it.
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import DoesNotExist

from chalicelib.store import dynamo
from chalicelib.store.attributes import IntAttribute
from chalicelib.store.keys import key
from chalicelib.store.models import Aggregate, MainItem

APPLICATION_SK = "application"
POLICY_SK = "policy"
MODEL_SK = "model"


class ApplicationItem(Aggregate):
    """An application. Personal data only inside `applicant_enc` (an encrypted envelope)."""

    application_id = UnicodeAttribute()
    product_id = UnicodeAttribute()
    product_version = IntAttribute()
    status = UnicodeAttribute()
    amount = IntAttribute()  # requested, minor units
    currency = UnicodeAttribute()
    term = IntAttribute()
    purpose = UnicodeAttribute()
    channel = UnicodeAttribute()
    source = UnicodeAttribute(null=True)
    consents = UnicodeAttribute()  # JSON
    submitted_by = UnicodeAttribute()  # API key id
    submitted_role = UnicodeAttribute()
    applicant_enc = UnicodeAttribute()  # JSON envelope: AES-GCM ciphertext + KMS-wrapped key
    borrower_ref = UnicodeAttribute()  # blind index (keyed hash), never the ID itself
    age = IntAttribute()
    region = UnicodeAttribute()
    decision = UnicodeAttribute(null=True)  # JSON decision record
    offer = UnicodeAttribute(null=True)  # JSON offer
    offer_valid_until = UTCDateTimeAttribute(null=True)
    reviews = UnicodeAttribute(default="[]")  # JSON list
    history = UnicodeAttribute(default="[]")  # JSON list of {status, at, by}
    loan_id = UnicodeAttribute(null=True)
    # The payout destination (issue 17), as on the loan (store/loans.py), copied at acceptance.
    beneficiary_enc = UnicodeAttribute(null=True)
    beneficiary_shown = UnicodeAttribute(null=True)
    beneficiary_pending_enc = UnicodeAttribute(null=True)
    beneficiary_pending_shown = UnicodeAttribute(null=True)


class BorrowerLinkItem(MainItem):
    """One application or loan of a borrower, found by the blind index of their ID."""

    kind = UnicodeAttribute()  # "application" | "loan"
    ref_id = UnicodeAttribute()
    status = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    offer_valid_until = UTCDateTimeAttribute(null=True)


class PolicyItem(Aggregate):
    policy_id = UnicodeAttribute()
    name = UnicodeAttribute()
    status = UnicodeAttribute()
    current_version = IntAttribute()


class PolicyVersionItem(MainItem):
    policy_id = UnicodeAttribute()
    number = IntAttribute()
    config = UnicodeAttribute()  # canonical JSON of PolicyConfig
    created_at = UTCDateTimeAttribute()
    created_by = UnicodeAttribute()


class ModelItem(Aggregate):
    model_id = UnicodeAttribute()
    name = UnicodeAttribute()
    latest_version = IntAttribute()
    active_version = IntAttribute(null=True)


class ModelVersionItem(MainItem):
    """An immutable uploaded model: its sealed card and bytes are S3 objects."""

    model_id = UnicodeAttribute()
    number = IntAttribute()
    card_model_id = UnicodeAttribute()
    card_version = UnicodeAttribute()
    sha256 = UnicodeAttribute()
    size_bytes = IntAttribute()
    model_key = UnicodeAttribute()  # S3 key under `<tenant>/models/`
    card_key = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    created_by = UnicodeAttribute()


def application_pk(tenant: str, application_id: str) -> str:
    return key(tenant, "application", application_id)


def borrower_pk(tenant: str, blind: str) -> str:
    return key(tenant, "borrower", blind)


def policy_pk(tenant: str, policy_id: str) -> str:
    return key(tenant, "policy", policy_id)


def model_pk(tenant: str, model_id: str) -> str:
    return key(tenant, "model", model_id)


def version_sk(number: int) -> str:
    return f"v#{number:06d}"


def list_pk(tenant: str, kind: str) -> str:
    return key(tenant, kind)


def status_sk(status: str, created_iso: str, item_id: str) -> str:
    return f"{status}#{created_iso}#{item_id}"


def _get(model: Any, pk: str, sk: str) -> Any:
    try:
        return model.get(pk, sk, consistent_read=True)
    except DoesNotExist:
        return None


def get_application(tenant: str, application_id: str) -> ApplicationItem | None:
    return _get(ApplicationItem, application_pk(tenant, application_id), APPLICATION_SK)


def get_policy(tenant: str, policy_id: str) -> PolicyItem | None:
    return _get(PolicyItem, policy_pk(tenant, policy_id), POLICY_SK)


def get_policy_version(tenant: str, policy_id: str, number: int) -> PolicyVersionItem | None:
    return _get(PolicyVersionItem, policy_pk(tenant, policy_id), version_sk(number))


def get_model(tenant: str, model_id: str) -> ModelItem | None:
    return _get(ModelItem, model_pk(tenant, model_id), MODEL_SK)


def get_model_version(tenant: str, model_id: str, number: int) -> ModelVersionItem | None:
    return _get(ModelVersionItem, model_pk(tenant, model_id), version_sk(number))


FENCE_SK = "#fence"


def borrower_links(tenant: str, blind: str) -> tuple[list[BorrowerLinkItem], int]:
    """Every application and loan of one borrower in the tenant (strongly consistent), and the
    fence count the submission must move (see the module note)."""
    out: list[BorrowerLinkItem] = []
    fence = 0
    kwargs: dict[str, Any] = {
        "TableName": dynamo.table("main"), "ConsistentRead": True,
        "KeyConditionExpression": "pk = :p",
        "ExpressionAttributeValues": {":p": {"S": borrower_pk(tenant, blind)}},
    }
    while True:
        page = dynamo.client().query(**kwargs)
        for raw in page.get("Items", []):
            if raw["sk"]["S"] == FENCE_SK:
                fence = int(raw["n"]["N"])
            else:
                out.append(BorrowerLinkItem.from_raw_data(raw))
        if "LastEvaluatedKey" not in page or len(out) >= 1000:
            return out, fence
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def move_fence(tenant: str, blind: str, seen: int) -> dict[str, Any]:
    """The transaction entry that moves the borrower's fence from the count read to the next."""
    condition = "attribute_not_exists(pk)" if seen == 0 else "#n = :seen"
    values = {":next": {"N": str(seen + 1)}}
    if seen:
        values[":seen"] = {"N": str(seen)}
    return {"Update": {
        "TableName": dynamo.table("main"),
        "Key": {"pk": {"S": borrower_pk(tenant, blind)}, "sk": {"S": FENCE_SK}},
        "UpdateExpression": "SET #n = :next", "ConditionExpression": condition,
        "ExpressionAttributeNames": {"#n": "n"}, "ExpressionAttributeValues": values}}


def query_list(tenant: str, kind: str, prefix: str | None, limit: int,
               start: dict[str, Any] | None, filter_expression: str | None = None,
               filter_values: dict[str, Any] | None = None,
               ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """One page of a tenant's list index (gsi1), optionally narrowed to an sk prefix."""
    values: dict[str, Any] = {":p": {"S": list_pk(tenant, kind)}}
    condition = "gsi1pk = :p"
    if prefix:
        condition += " AND begins_with(gsi1sk, :s)"
        values[":s"] = {"S": prefix}
    kwargs: dict[str, Any] = {"TableName": dynamo.table("main"), "IndexName": "gsi1",
                              "KeyConditionExpression": condition, "Limit": limit,
                              "ExpressionAttributeValues": {**values, **(filter_values or {})},
                              "ScanIndexForward": False}
    if filter_expression:
        kwargs["FilterExpression"] = filter_expression
    if start:
        kwargs["ExclusiveStartKey"] = start
    page = dynamo.client().query(**kwargs)
    return page.get("Items", []), page.get("LastEvaluatedKey")
