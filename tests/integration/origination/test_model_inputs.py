"""A partner learns from the API what a scoring model needs (issue 16): the shipped default
model under the stable id `shipped`, and a tenant's own models, list every input with its codes
and meanings or its range; the listing is exactly what scoring accepts."""

from __future__ import annotations

import copy
from decimal import Decimal

from tests.integration.origination.test_models import shipped, upload


def _inputs(api, key, model_id="shipped", **query):
    path = f"/v1/models/{model_id}/inputs"
    if query:
        path += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    return api.call("GET", path, key=key)


def _value(spec, which="low"):
    if spec["type"] == "categorical":
        return spec["categories"][0]["code"]
    bound = Decimal(spec["minimum"] if which == "low" else spec["maximum"])
    return int(bound) if spec["integer"] else str(bound)


def _score(api, key, features, model_id=None):
    body = {"features": features, **({"model_id": model_id} if model_id else {})}
    return api.call("POST", "/v1/score", body, key=key)


def test_the_shipped_model_is_readable_by_a_partner_with_codes_meanings_and_ranges(api, acme):
    r = _inputs(api, acme["partner"])
    assert r.status == 200, r.json
    assert r.json["model"]["id"] == "shipped" and r.json["name"]
    by_name = {i["name"]: i for i in r.json["inputs"]}
    assert len(by_name) == len(r.json["inputs"]) >= 10
    checking = by_name["checking_account"]
    assert checking["type"] == "categorical" and checking["required"]
    assert all(c["code"] and c["meaning"] for c in checking["categories"])
    duration = by_name["duration_months"]
    assert duration["unit"] == "months" and duration["integer"] and duration["categories"] is None
    assert duration["filled_from"] == "/body/term"
    assert by_name["credit_amount"]["money"] is True
    # every role reads it
    for role in ("admin", "reviewer", "operator"):
        assert _inputs(api, acme[role]).status == 200


def test_every_listed_code_and_bound_scores_and_nothing_else_does(api, acme):
    """The listing and the scorer agree: each listed code and each bound is accepted, a code
    not listed and a value past a bound are refused at that feature, and each input is
    required."""
    listed = _inputs(api, acme["partner"]).json["inputs"]
    base = {spec["name"]: _value(spec) for spec in listed}
    assert _score(api, acme["partner"], base).status == 200
    for spec in listed:
        name = spec["name"]
        if spec["type"] == "categorical":
            for category in spec["categories"]:
                r = _score(api, acme["partner"], {**base, name: category["code"]})
                assert r.status == 200, (name, category, r.json)
            refused = _score(api, acme["partner"], {**base, name: "not_a_listed_code"})
        else:
            assert _score(api, acme["partner"], {**base, name: _value(spec, "high")}).status \
                == 200
            past = Decimal(spec["maximum"]) + 1
            refused = _score(api, acme["partner"],
                             {**base, name: int(past) if spec["integer"] else str(past)})
        assert refused.status == 422
        assert [e["pointer"] for e in refused.json["errors"]] == [f"/body/features/{name}"]
        missing = _score(api, acme["partner"], {k: v for k, v in base.items() if k != name})
        assert missing.status == 422 and spec["required"]


def test_a_tenant_model_lists_its_active_version_inputs(api, acme, aws):
    card = copy.deepcopy(shipped()[1])
    card["inputs"][0]["categories"][0]["label"] = "Reworded meaning"
    model = upload(api, acme["admin"], card=card).json
    not_active = _inputs(api, acme["partner"], model["id"])
    assert not_active.status == 409 and not_active.json["type"].endswith("model-not-active")
    pinned = _inputs(api, acme["partner"], model["id"], version="1")
    assert pinned.status == 200 and pinned.json["model"]["version"] == "1"
    api.call("POST", f"/v1/models/{model['id']}/versions/1/activate", key=acme["admin"])
    r = _inputs(api, acme["partner"], model["id"])
    assert r.status == 200 and r.json["model"]["id"] == model["id"]
    assert r.json["inputs"][0]["categories"][0]["meaning"] == "Reworded meaning"
    assert [i["name"] for i in r.json["inputs"]] == [i["name"] for i in card["inputs"]]
    # another tenant cannot read it
    api.tenant("other")
    assert _inputs(api, api.key("other", "partner"), model["id"]).status == 404
    assert _inputs(api, acme["partner"], model["id"], version="9").status == 404
