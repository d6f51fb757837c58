"""Where servicing keeps its items in the main table (raw items, no pynamodb).

- servicing state: pk `t#loan#<id>`, sk `servicing`: the loan's derived state (JSON), its event
  list (JSON), `through` (the last business day closed: the per-loan COB marker) and `version`.
  A separate item from the loan, with no index keys, so a daily COB write never rewrites the
  loans index (gsi1 projects ALL; one tenant's loans share one index partition).
- repayment: pk `t#repayment#<id>`, sk `repayment`; gsi1pk `t#loan#<id>#repayments`,
  gsi1sk `<created>#<id>` (a loan's repayments, in order).
- repayment reference: pk `t#repayment-ref#<channel>#<external reference>`, sk `repayment-ref`:
  which repayment a channel's reference was reported as. Put with `attribute_not_exists` in the
  repayment's own transaction, so one money movement is recorded once (the reference grammar
  has no '#', so the key is unambiguous); kept when the repayment is reversed.
- delinquency settings: pk `t#settings`, sk `delinquency`.
- COB run: pk `t#cob-run#<id>`, sk `run`; gsi1pk `t#cob-runs#<date>`, gsi1sk `<attempt>`.
- COB chunk: pk `t#cob-run#<id>`, sk `chunk#<nnnnnn>`: one slice of the loans index (exclusive
  start key, inclusive end sort key), its status, resume cursor and counts; the run's last one,
  the sweep, spans the whole index and holds `since` (loans changed after it). Beside its run,
  so one Query reads a run's chunks.
- COB exception (a quarantined loan): pk `t#cob-exc#<loan id>`, sk `exception`; gsi1pk
  `t#cob-exceptions`, gsi1sk `<status>#<first seen>#<loan id>` (list by status with
  begins_with). One per loan: a loan failing again while open updates it, a loan failing after
  its resolution reopens it (the audit chain keeps each episode).
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.store import dynamo
from chalicelib.store.keys import key
from chalicelib.store.loans import loan_pk

SERVICING_SK = "servicing"
REPAYMENT_SK = "repayment"
REFERENCE_SK = "repayment-ref"
RUN_SK = "run"
CHUNK_SK = "chunk#"
EXCEPTION_SK = "exception"


def _get(pk: str, sk: str) -> dict[str, Any] | None:
    out = dynamo.client().get_item(TableName=dynamo.table("main"),
                                   Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True)
    return out.get("Item")


def get_servicing(tenant: str, loan_id: str) -> dict[str, Any] | None:
    return _get(loan_pk(tenant, loan_id), SERVICING_SK)


def servicing_item(tenant: str, loan_id: str, state: dict[str, Any], events: list[Any],
                   version: int, status: str) -> dict[str, Any]:
    return {"pk": {"S": loan_pk(tenant, loan_id)}, "sk": {"S": SERVICING_SK},
            "loan_id": {"S": loan_id}, "state": {"S": json.dumps(state, separators=(",", ":"))},
            "events": {"S": json.dumps(events, separators=(",", ":"))},
            "through": {"S": state["through"]}, "status": {"S": status},
            # Read by the portfolio report (PAR, NPL) without decoding the whole state.
            "days_past_due": {"N": str(int(state["dpd"]))},
            "version": {"N": str(version)}}


def repayment_pk(tenant: str, repayment_id: str) -> str:
    return key(tenant, "repayment", repayment_id)


def repayments_index_pk(tenant: str, loan_id: str) -> str:
    return key(tenant, "loan", loan_id, "repayments")


def get_repayment(tenant: str, repayment_id: str) -> dict[str, Any] | None:
    return _get(repayment_pk(tenant, repayment_id), REPAYMENT_SK)


def reference_pk(tenant: str, channel: str, reference: str) -> str:
    return key(tenant, "repayment-ref", channel, reference)


def get_reference(tenant: str, channel: str, reference: str) -> dict[str, Any] | None:
    return _get(reference_pk(tenant, channel, reference), REFERENCE_SK)


def reference_item(tenant: str, channel: str, reference: str, repayment_id: str, loan_id: str,
                   created_at: str) -> dict[str, Any]:
    return {"pk": {"S": reference_pk(tenant, channel, reference)}, "sk": {"S": REFERENCE_SK},
            "repayment_id": {"S": repayment_id}, "loan_id": {"S": loan_id},
            "created_at": {"S": created_at}}


def list_repayments(tenant: str, loan_id: str, limit: int,
                    start: dict[str, Any] | None) -> tuple[list[dict[str, Any]], Any]:
    kw: dict[str, Any] = {"TableName": dynamo.table("main"), "IndexName": "gsi1",
                          "KeyConditionExpression": "gsi1pk = :p",
                          "ExpressionAttributeValues": {":p": {"S": repayments_index_pk(
                              tenant, loan_id)}}, "Limit": limit}
    if start:
        kw["ExclusiveStartKey"] = start
    out = dynamo.client().query(**kw)
    return out.get("Items", []), out.get("LastEvaluatedKey")


def settings_pk(tenant: str) -> str:
    return key(tenant, "settings")


def get_delinquency(tenant: str) -> dict[str, Any] | None:
    item = _get(settings_pk(tenant), "delinquency")
    return json.loads(item["body"]["S"]) if item else None


def delinquency_put(tenant: str, body: dict[str, Any], version: int) -> dict[str, Any]:
    """A TransactItems Put of the tenant's delinquency settings (last writer wins)."""
    item = {"pk": {"S": settings_pk(tenant)}, "sk": {"S": "delinquency"},
            "body": {"S": json.dumps(body, sort_keys=True)}, "version": {"N": str(version)}}
    return {"Put": {"TableName": dynamo.table("main"), "Item": item}}


def run_pk(tenant: str, run_id: str) -> str:
    return key(tenant, "cob-run", run_id)


def runs_index_pk(tenant: str, business_date: str) -> str:
    return key(tenant, "cob-runs", business_date)


def get_run(tenant: str, run_id: str) -> dict[str, Any] | None:
    return _get(run_pk(tenant, run_id), RUN_SK)


def latest_run(tenant: str, business_date: str) -> dict[str, Any] | None:
    out = dynamo.client().query(
        TableName=dynamo.table("main"), IndexName="gsi1",
        KeyConditionExpression="gsi1pk = :p",
        ExpressionAttributeValues={":p": {"S": runs_index_pk(tenant, business_date)}},
        ScanIndexForward=False, Limit=1)
    items = out.get("Items", [])
    return get_run(tenant, items[0]["run_id"]["S"]) if items else None


def chunk_sk(n: int) -> str:
    return f"{CHUNK_SK}{n:06d}"


def get_chunk(tenant: str, run_id: str, n: int) -> dict[str, Any] | None:
    return _get(run_pk(tenant, run_id), chunk_sk(n))


def list_chunks(tenant: str, run_id: str) -> list[dict[str, Any]]:
    """Every chunk of a run, in order (a run has tens of chunks: a few pages at most)."""
    kw: dict[str, Any] = {"TableName": dynamo.table("main"), "ConsistentRead": True,
                          "KeyConditionExpression": "pk = :p AND begins_with(sk, :c)",
                          "ExpressionAttributeValues": {":p": {"S": run_pk(tenant, run_id)},
                                                        ":c": {"S": CHUNK_SK}}}
    out: list[dict[str, Any]] = []
    while True:
        page = dynamo.client().query(**kw)
        out += page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return out
        kw["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def exception_pk(tenant: str, loan_id: str) -> str:
    return key(tenant, "cob-exc", loan_id)


def exceptions_index_pk(tenant: str) -> str:
    return key(tenant, "cob-exceptions")


def exception_sk(status: str, first_seen: str, loan_id: str) -> str:
    return f"{status}#{first_seen}#{loan_id}"


def get_exception(tenant: str, loan_id: str) -> dict[str, Any] | None:
    return _get(exception_pk(tenant, loan_id), EXCEPTION_SK)
