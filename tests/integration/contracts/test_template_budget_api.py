"""Issue 15 through the API: an expensive template is refused at creation (a trial render on the
worst-case contract), and one that slipped in earlier fails a contract cleanly (422, not 500)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from chalicelib.contracts.sandbox import MAX_RENDER_SECONDS
from chalicelib.lending.schedule import MAX_INSTALLMENTS
from tests.integration.contracts.helpers import make_product, tenant_keys
from tests.integration.origination.conftest import application

MARGIN = 1.0
# The attack: three nested loops over a 10,000-character string, printing nothing.
NESTED_FOR = ("{% set s = 'x' * 10000 %}{% for a in s %}{% for b in s %}{% for c in s %}"
              "{% endfor %}{% endfor %}{% endfor %}")
# Cheap on the sample's three installments; ~1,200² loop steps on the longest schedule.
QUADRATIC_IN_TERM = ("{% for a in schedule %}{% for b in schedule %}"
                     "{% if a.number < b.number %}{% endif %}{% endfor %}{% endfor %}ok\n")


@pytest.fixture
def acme(api: Any) -> dict[str, str]:
    return tenant_keys(api, "acme")


def _create(api: Any, key: str, body: str) -> tuple[Any, float]:
    start = time.thread_time()
    r = api.call("POST", "/v1/contract-templates", {"name": "t", "body": body}, key=key)
    return r, time.thread_time() - start


def _nothing_stored(api: Any, acme: dict[str, str]) -> bool:
    listed = api.call("GET", "/v1/contract-templates", key=acme["reviewer"])
    return listed.status == 200 and listed.json["data"] == []


def test_the_nested_loop_attack_is_refused_at_creation_within_the_budget(api, acme):
    r, cpu = _create(api, acme["admin"], NESTED_FOR)
    assert r.status == 422, r.json
    error = r.json["errors"][0]
    assert error["pointer"] == "/body/body" and error["code"] == "render_too_expensive"
    assert "steps" in error["detail"]
    assert f"{MAX_INSTALLMENTS} installments" in error["detail"]  # the worst case, tried first
    assert cpu < MAX_RENDER_SECONDS + MARGIN  # one budget: the sample render is not tried
    assert _nothing_stored(api, acme)


@pytest.mark.parametrize("body", [
    "{% for x in 'ab' recursive %}{{ loop('ab') }}{% endfor %}",
    "{% macro d(t, n) %}{% if n %}{{ d(t ~ t, n - 1) }}{% endif %}{% endmacro %}{{ d('a', 60) }}",
    "{{ 'x'|center(1000000000) }}",
    "{{ borrower.name|indent(1000000000) }}",
    "{{ '%1000000000s'|format('x') }}",
    "{{ ('x' * 10000)|list|join('x' * 10000) }}",
    "{{ [1]|batch(1000000000, 'x')|list }}",
    "{% for a in 'x' * 10000 %}{% for b in 'x' * 10000 %}{{ loan.principal.upper }}"
    "{% endfor %}{% endfor %}",
])
def test_other_attacks_are_refused_at_creation_within_the_budget(api, acme, body):
    r, cpu = _create(api, acme["admin"], body)
    assert r.status == 422, r.json
    assert r.json["errors"][0]["pointer"] == "/body/body"
    assert r.json["errors"][0]["code"].startswith("render_")
    assert cpu < MAX_RENDER_SECONDS + MARGIN
    assert _nothing_stored(api, acme)


def test_a_template_too_expensive_on_the_longest_schedule_is_refused_at_creation(api, acme):
    from chalicelib.contracts.context import sample_context, worst_case_context
    from chalicelib.contracts.sandbox import TemplateProblem, render

    assert render(QUADRATIC_IN_TERM, sample_context()) == "ok\n"  # fine on the sample
    thirty_years = worst_case_context()
    thirty_years["schedule"] = thirty_years["schedule"][:360]
    with pytest.raises(TemplateProblem):  # and too expensive for a 360-month loan already
        render(QUADRATIC_IN_TERM, thirty_years)
    r, cpu = _create(api, acme["admin"], QUADRATIC_IN_TERM)
    assert r.status == 422, r.json
    error = r.json["errors"][0]
    assert error["pointer"] == "/body/body" and error["code"] == "render_too_expensive"
    assert f"{MAX_INSTALLMENTS} installments" in error["detail"]
    assert cpu < MAX_RENDER_SECONDS + MARGIN
    assert _nothing_stored(api, acme)


def test_the_default_and_ordinary_templates_are_still_accepted(api, acme):
    from chalicelib.services.contracts import default_source

    for body in (default_source(), "# 合同 {{ contract_id }}\n{% for row in schedule %}"
                 "{{ row.number }} {{ row.due_date }} {{ row.total }}\n{% endfor %}"):
        r, _ = _create(api, acme["admin"], body)
        assert r.status == 201, r.json


def test_a_stored_template_that_is_too_expensive_fails_the_contract_with_422(api, acme,
                                                                            monkeypatch):
    """Templates stored before the creation check existed keep the render-time guard."""
    from chalicelib.services import contracts

    monkeypatch.setattr(contracts, "check_template", lambda source, pointer="": None)
    body = ("{% for a in loan.principal * 1000 %}{% for b in loan.principal * 1000 %}"
            "{% endfor %}{% endfor %}")
    tid = _create(api, acme["admin"], body)[0].json["id"]
    monkeypatch.undo()
    product = make_product(api, acme["admin"], references={"contract_template_id": tid})
    app_ = api.call("POST", "/v1/applications", application(product["id"]),
                    key=acme["partner"])
    assert app_.status == 201 and app_.json["status"] == "approved", app_.json
    start = time.thread_time()
    r = api.call("POST", f"/v1/applications/{app_.json['id']}/accept", key=acme["partner"])
    assert time.thread_time() - start < MAX_RENDER_SECONDS + MARGIN
    assert r.status == 422, r.json
    assert "steps" in r.json["detail"]
    again = api.call("GET", f"/v1/applications/{app_.json['id']}", key=acme["partner"])
    assert again.json["status"] == "approved"  # nothing was accepted
