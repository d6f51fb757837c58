"""Decision policies: tenant configuration, versioned immutably like products.

A version is accepted only if every rule compiles inside the sandbox, its estimated cost over
facts of the largest allowed size stays under the per-rule bound and their sum under the
policy's (so no rule, and no 50 rules together, can occupy the shared service), it dry-runs on
facts of the right shape (unknown fields and type mismatches are found here, with the rule's
pointer, rather than at the first application), and its challenger, if any, is another
existing policy.
"""

from __future__ import annotations

import copy
import json
import secrets
from datetime import datetime
from functools import cache
from typing import Any

from chalicelib import scoring
from chalicelib.errors import FieldError, conflict, invalid, not_found
from chalicelib.lending.decision import DEFAULT_POLICY, FACT_SHAPES, SAMPLE_FACTS, PolicyConfig
from chalicelib.lending.rules import (
    MAX_POLICY_COST,
    RuleSyntaxError,
    cost_problem,
    estimated_cost,
    expression_problems,
)
from chalicelib.store import aggregates
from chalicelib.store import origination as store
from chalicelib.store.audit import Actor
from chalicelib.store.origination import PolicyItem, PolicyVersionItem
from chalicelib.store.uow import UnitOfWork, put

DEFAULT_ID = "default"


def _json(config: PolicyConfig) -> str:
    return json.dumps(config.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


@cache
def _sample() -> dict[str, Any]:
    """Dry-run facts, with the shipped model's inputs as sample characteristics."""
    sample = copy.deepcopy(SAMPLE_FACTS)
    sample["applicant"]["characteristics"] = {
        spec.name: spec.categories[0] if spec.type == "categorical"
        else int(spec.minimum or 0) for spec in scoring.shipped_card().inputs}
    return sample


def _rule_problem(expression: str) -> str | None:
    why = expression_problems(expression, _sample())
    # A tenant model's own inputs are unknown here; the decision refers if one is missing.
    if why and why.startswith("unknown field") and "characteristics" in expression:
        return None
    return why


def check(tenant: str, config: PolicyConfig, own_id: str | None, root: str) -> None:
    """Every problem with a policy the model validation cannot see, at once (422)."""
    errors = []
    total = 0
    for i, rule in enumerate(config.rules):
        pointer = f"{root}/rules/{i}/expression"
        try:  # the cost is bounded before the dry run, which would otherwise spend it
            cost = estimated_cost(rule.expression, FACT_SHAPES)
        except RuleSyntaxError as exc:
            errors.append(FieldError(pointer, str(exc), "rule_invalid"))
            continue
        if why := cost_problem(cost):
            errors.append(FieldError(pointer, why, "rule_too_costly"))
            continue
        total += cost
        if why := _rule_problem(rule.expression):
            errors.append(FieldError(pointer, why, "rule_invalid"))
    if total > MAX_POLICY_COST:
        errors.append(FieldError(f"{root}/rules", f"the rules' estimated cost {total:,} in total "
                                 f"exceeds the policy's bound of {MAX_POLICY_COST:,} evaluation "
                                 "steps", "policy_too_costly"))
    if config.challenger is not None:
        target = config.challenger.policy_id
        pointer = f"{root}/challenger/policy_id"
        if target == own_id:
            errors.append(FieldError(pointer, "a policy cannot challenge itself", "self"))
        elif store.get_policy(tenant, target) is None:
            errors.append(FieldError(pointer, "no such decision policy", "not_found"))
    if errors:
        raise invalid(errors, "The decision policy cannot be accepted.")


def _version(tenant: str, policy_id: str, number: int, config: PolicyConfig, actor: Actor,
             now: datetime) -> PolicyVersionItem:
    return PolicyVersionItem(store.policy_pk(tenant, policy_id), store.version_sk(number),
                             policy_id=policy_id, number=number, config=_json(config),
                             created_at=now, created_by=actor.key_id)


def _summary(config: PolicyConfig) -> dict[str, object]:
    return {"rules": [r.id for r in config.rules],
            "bands": config.score_bands.model_dump(),
            "challenger": config.challenger.model_dump() if config.challenger else None}


def create(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime, name: str,
           config: PolicyConfig) -> tuple[PolicyItem, PolicyVersionItem]:
    check(tenant, config, None, "/body/config")
    policy_id = f"pol_{secrets.token_hex(8)}"
    item = PolicyItem(store.policy_pk(tenant, policy_id), store.POLICY_SK, policy_id=policy_id,
                      name=name, status="active", current_version=1, version=1,
                      created_at=now, updated_at=now, gsi1pk=store.list_pk(tenant, "policies"),
                      gsi1sk=store.status_sk("active", now.isoformat(), policy_id))
    aggregates.save(uow, item, tenant=tenant, aggregate_type="decision_policy",
                    aggregate_id=policy_id, action="policy.created", actor=actor, at=now,
                    data={"name": name, "version": 1, **_summary(config)}, noun="policy",
                    new=True)
    version = _version(tenant, policy_id, 1, config, actor, now)
    uow.add(put("main", version.serialize(), "attribute_not_exists(pk)"))
    return item, version


def existing(tenant: str, policy_id: str) -> PolicyItem:
    item = store.get_policy(tenant, policy_id)
    if item is None:
        raise not_found("Decision policy")
    return item


def add_version(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime, policy_id: str,
                config: PolicyConfig) -> tuple[PolicyItem, PolicyVersionItem]:
    item = existing(tenant, policy_id)
    check(tenant, config, policy_id, "/body/config")
    number = item.current_version + 1
    item.current_version = number
    aggregates.save(uow, item, tenant=tenant, aggregate_type="decision_policy",
                    aggregate_id=policy_id, action="policy.version_added", actor=actor, at=now,
                    data={"version": number, **_summary(config)}, noun="policy")
    version = _version(tenant, policy_id, number, config, actor, now)
    uow.add(put("main", version.serialize(), "attribute_not_exists(pk)"))
    return item, version


def config_of(tenant: str, policy_id: str,
              number: int | None = None) -> tuple[PolicyItem, int, PolicyConfig]:
    item = existing(tenant, policy_id)
    wanted = number or item.current_version
    stored = store.get_policy_version(tenant, policy_id, wanted)
    if stored is None:
        raise not_found("Decision policy version")
    return item, wanted, PolicyConfig.model_validate(json.loads(stored.config))


def for_product(tenant: str, policy_id: str | None) -> tuple[str, int, PolicyConfig]:
    """(id, version, config) of the policy a product names, or the built-in default."""
    if not policy_id:
        return DEFAULT_ID, 1, DEFAULT_POLICY
    item = store.get_policy(tenant, policy_id)
    if item is None:
        raise conflict(f"The product names decision policy {policy_id}, which does not exist "
                       "in this tenant; fix the product's references.")
    _, number, config = config_of(tenant, policy_id)
    return policy_id, number, config
