"""Request examples for the contract: a body `example` and a curl `x-codeSamples` per operation.

Built from the routes (chalicelib/api/http.py ROUTES) and the schemas the contract already
holds, so a new route gets its sample without anyone writing one: a body example is walked from
its JSON Schema (a field's own `examples`/`default`, then a value for its name or format), and
a model whose fields depend on each other gets a whole example from `MODEL_EXAMPLES`. A test
validates every example against its component schema, so an example cannot drift from the model.
"""

from __future__ import annotations

import json
import re
import shlex
from typing import Any

from chalicelib.api.http import PATH_PARAM, ROUTES, RouteSpec

# A readable value per field name, used where the schema gives no example of its own.
FIELD_EXAMPLES: dict[str, Any] = {
    "currency": "CNY",
    "time_zone": "Asia/Shanghai",
    "tenant_id": "acme",
    "name": "Acme Lending",
    "email": "ana@example.com",
    "url": "https://partner.example.com/hooks/lending",
    "reason": "Customer request",
    "note": "Checked with the bank statement",
    "code": "123456",
    "country": "DE",
    "business_date": "2026-03-31",
    "date": "2026-03-31",
    "on": "2026-03-31",
    "as_of": "2026-03-31",
    "description": "Working capital",
    "national_id": "110105198506151236",
    "channel": "bank-a",
    "external_reference": "bank-a-20260331-0001",
    "reference": "funding-2026-03",
    "comment": "Income verified by phone",
}
# Path parameter values: ids the way the API issues them.
PATH_EXAMPLES: dict[str, str] = {
    "tenant_id": "acme",
    "run_id": "cob-2026-03-31-1",  # close-of-business runs: `cob-<date>-<n>`
    "version": "2",
    "n": "1",
    "aggregate_type": "loan",
}
# The prefix the API mints each kind of id with (chalicelib/services: `prod_<16 hex>`, ...).
MINTED_PREFIXES: dict[str, str] = {
    "application_id": "app", "channel_id": "ch", "template_id": "ctpl", "contract_id": "ctr",
    "disbursement_id": "dsb", "loan_id": "loan", "model_id": "mdl", "policy_id": "pol",
    "product_id": "prod", "quote_id": "quo", "repayment_id": "rpy", "run_id": "rr",
    "webhook_id": "wh", "decision_policy_id": "pol", "scoring_model_id": "mdl",
}
HEX = "4f9c2a7b1e3d5c60"


def id_example(name: str) -> str:
    """An id of the kind `name` names, shaped like the ones the API issues."""
    return f"{MINTED_PREFIXES.get(name, name.removesuffix('_id')[:8] or 'id')}_{HEX}"


FORMAT_EXAMPLES: dict[str, str] = {
    "date": "2026-03-31",
    "date-time": "2026-03-31T09:30:00Z",
    "email": "ana@example.com",
    "uri": "https://partner.example.com/hooks/lending",
    "uuid": "8f14e45f-ceea-467f-a0e6-2b4a5b6c7d8e",
}
PRODUCT_TERMS: dict[str, Any] = {
    "currency": "CNY",
    "amount": {"min": "1000.00", "max": "50000.00"},
    "term": {"min": 3, "max": 24},
    "pricing": {"rate_percent": {"A": "10.2", "B": "12", "C": "14", "D": "18", "E": "24"}},
    "apr_cap_percent": "36",
}
POLICY_CONFIG: dict[str, Any] = {
    "score_bands": {"approve_from": 540, "decline_below": 500},
    "rules": [{"id": "adult", "expression": "applicant.age >= 18 && score.pd < 0.35",
               "reason_code": "RISK", "reason_text": "Your risk of default is too high."}],
    "max_auto_approve": {"amount": "30000.00", "currency": "CNY"},
}
TEMPLATE_BODY = ("Lender: {{ lender.name }}\nBorrower: {{ borrower.name }}\n"
                 "Principal: {{ loan.principal }} {{ loan.currency }}, "
                 "{{ loan.term }} installments\n")
# The shipped scorecard's inputs (models_onnx/), a strong credit file.
FEATURES: dict[str, Any] = {
    "checking_account": "no_account", "credit_history": "critical_or_credit_elsewhere",
    "savings": "1000_or_more", "employment_since": "7_years_or_more",
    "other_debtors": "guarantor", "property": "real_estate", "other_installment_plans": "none",
    "housing": "own", "duration_months": 12, "credit_amount": "2000", "age_years": 40,
    "purpose": "car_used",
}
# Whole bodies for the models whose fields only make sense together (keyed by model name).
MODEL_EXAMPLES: dict[str, dict[str, Any]] = {
    "ApplicationCreate": {
        "product_id": id_example("product_id"),
        "amount": {"amount": "10000.00", "currency": "CNY"},
        "term": 12,
        "purpose": "car_used",
        "applicant": {
            "name": "王小明",
            "national_id": {"type": "prc_resident_id", "number": "110105198506151236"},
            "phone": "+8613812345678",
            "date_of_birth": "1985-06-15",
            "monthly_income": {"amount": "8000.00", "currency": "CNY"},
            "employment": {"status": "employed", "months_in_job": 36},
            "address": {"region": "CN-BJ"},
        },
        "channel": {"type": "app", "source": "campaign-7"},
        "consents": {"credit_check": True, "data_processing": True},
    },
    "QuoteRequest": {"product_id": id_example("product_id"),
                     "amount": {"amount": "10000.00", "currency": "CNY"}, "term": 12,
                     "disbursement_date": "2026-04-01", "grade": "B"},
    "SignBody": {"code": "123456",
                 "signer": {"name": "王小明", "national_id": "110105198506151236"}},
    "JournalIn": {"journal_id": "fund-2026-03-31", "effective_date": "2026-03-31",
                  "postings": [
                      {"account_id": "cash", "side": "debit",
                       "amount": {"currency": "CNY", "amount": "250000.00"}},
                      {"account_id": "equity", "side": "credit",
                       "amount": {"currency": "CNY", "amount": "250000.00"}}]},
    "ProductCreate": {"name": "Microloan", "terms": PRODUCT_TERMS},
    "ProductVersionCreate": {"terms": PRODUCT_TERMS},
    "ChannelPatch": {"daily_limit": "500000.00"},
    "ChannelCreate": {"name": "Bank A", "type": "sandbox", "currency": "CNY",
                      "settlement_seconds": 60, "daily_limit": "2000000.00"},
    "ApiKeyCreate": {"role": "partner", "name": "partner-app"},
    "ScoreRequest": {"features": FEATURES},
    "TenantCreate": {"tenant_id": "acme", "name": "Acme Microfinance",
                     "time_zone": "Asia/Shanghai"},
    "PolicyCreate": {"name": "Standard", "config": POLICY_CONFIG},
    "PolicyVersionCreate": {"config": POLICY_CONFIG},
    "TemplateCreate": {"name": "Loan agreement", "body": TEMPLATE_BODY},
    "TemplateVersionCreate": {"body": TEMPLATE_BODY},
    "AprRequest": {"method": "us_reg_z",
                   "advances": [{"date": "2026-03-31", "amount": "1000.00"}],
                   "payments": [{"date": "2026-04-30", "amount": "1010.00"}]},
    "DelinquencySettings": {"ranges": [{"name": "1-30", "min_days": 1, "max_days": 30},
                                       {"name": "31-60", "min_days": 31, "max_days": 60},
                                       {"name": "61-90", "min_days": 61, "max_days": 90},
                                       {"name": "90+", "min_days": 91}]},
    "RunCreate": {"channel": "bank-a", "csv": "reference,type,amount,currency,value_date\n"
                  "dsb_4f9c2a7b1e3d5c60,payout,10000.00,CNY,2026-03-31\n"},
}

# Which key a sample authenticates with: the most specific role the operation allows. The
# variables are those of the README walk and docs/lifecycle.md (`$ADMIN` the platform key,
# `$KEY` the tenant's admin key).
ROLE_KEYS = {"partner": "$PARTNER_KEY", "operator": "$OPERATOR_KEY",
             "reviewer": "$REVIEWER_KEY", "admin": "$KEY", "platform": "$ADMIN"}


def example_for(schema: dict[str, Any], components: dict[str, Any], name: str = "",
                depth: int = 0) -> Any:
    """A value that satisfies `schema`: required properties only, the first choice of a union."""
    if "$ref" in schema:
        target = schema["$ref"].rsplit("/", 1)[1]
        if target in MODEL_EXAMPLES:
            return MODEL_EXAMPLES[target]
        return example_for(components[target], components, name, depth + 1)
    if "const" in schema:
        return schema["const"]
    if schema.get("examples"):
        return schema["examples"][0]
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    if "enum" in schema:
        return schema["enum"][0]
    for union in ("anyOf", "oneOf", "allOf"):
        if union in schema:
            choices = [s for s in schema[union] if s.get("type") != "null"] or schema[union]
            return example_for(choices[0], components, name, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or "properties" in schema:
        return _object(schema, components, depth)
    if kind == "array":
        item = example_for(schema.get("items", {}), components, name, depth + 1)
        return [item] * max(1, schema.get("minItems", 1))
    if kind == "integer":
        return _number(schema, 1)
    if kind == "number":
        return _number(schema, 1.0)
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return _string(schema, name)


def _object(schema: dict[str, Any], components: dict[str, Any], depth: int) -> dict[str, Any]:
    required = set(schema.get("required", []))
    out: dict[str, Any] = {}
    for field, prop in schema.get("properties", {}).items():
        if field in required:
            out[field] = example_for(prop, components, field, depth + 1)
    return out


def _number(schema: dict[str, Any], fallback: float) -> Any:
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    if low is None:
        return type(fallback)(max(fallback, 0))
    value = low + (1 if "exclusiveMinimum" in schema else 0)
    return type(fallback)(value)


def _string(schema: dict[str, Any], name: str) -> str:
    """The first readable candidate that fits the field's format, pattern and length."""
    if schema.get("format") in FORMAT_EXAMPLES:
        return FORMAT_EXAMPLES[schema["format"]]
    candidates = [FIELD_EXAMPLES.get(name), id_example(name) if name.endswith("_id") else None,
                  name.replace("_", " ") or "text"]
    for value in candidates:
        if isinstance(value, str) and _fits(schema, value):
            return value
    return _from_pattern(schema.get("pattern", ""), schema.get("minLength", 1))


def _fits(schema: dict[str, Any], value: str) -> bool:
    pattern = schema.get("pattern")
    return (schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", len(value))
            and (pattern is None or re.search(pattern, value) is not None))


def _from_pattern(pattern: str, length: int) -> str:
    """The simple anchored patterns the models use: digits, or lower-case letters."""
    digit = "[0-9]" in pattern or "\\d" in pattern
    return ("1" if digit else "a") * max(1, length)


def path_example(route: RouteSpec) -> str:
    path = route.path
    for name in PATH_PARAM.findall(path):
        path = path.replace("{" + name + "}", PATH_EXAMPLES.get(name) or id_example(name))
    return path


def _query_example(operation: dict[str, Any], components: dict[str, Any]) -> str:
    pairs = []
    for param in operation.get("parameters", []):
        if param.get("in") == "query" and param.get("required"):
            value = example_for(param["schema"], components, param["name"])
            pairs.append(f"{param['name']}={value}")
    return "?" + "&".join(pairs) if pairs else ""


def curl(route: RouteSpec, operation: dict[str, Any], body: Any,
         components: dict[str, Any]) -> str:
    url = f"$API{path_example(route)}{_query_example(operation, components)}"
    parts = [f"curl -sS -X {route.method} \"{url}\""]
    if route.roles is not None:
        key = next(ROLE_KEYS[role] for role in ROLE_KEYS if role in route.roles)
        parts.append(f"-H \"Authorization: Bearer {key}\"")
    if route.idempotent:
        parts.append("-H \"Idempotency-Key: $(uuidgen)\"")
    if body is not None:
        parts.append("-H \"Content-Type: application/json\"")
        parts.append("-d " + shlex.quote(json.dumps(body, ensure_ascii=False)))
    return " \\\n  ".join(parts)


def add_examples(spec: dict[str, Any]) -> dict[str, Any]:
    """Adds to `spec` (in place) each body's `example` and each operation's curl sample."""
    components = spec["components"]["schemas"]
    by_operation = {r.operation_id: r for r in ROUTES}
    for ops in spec["paths"].values():
        for operation in ops.values():
            route = by_operation[operation["operationId"]]
            body = None
            if "requestBody" in operation:
                media = operation["requestBody"]["content"]["application/json"]
                body = example_for(media["schema"], components)
                media["example"] = body
            operation["x-codeSamples"] = [{"lang": "Shell", "label": "curl",
                                           "source": curl(route, operation, body, components)}]
    return spec
