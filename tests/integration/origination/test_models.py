"""Tenant scoring models: upload, validation, versions, activation, scoring, isolation."""

from __future__ import annotations

import base64
import copy
import json
from functools import cache
from typing import Any

from chalicelib.scoring.registry import shipped_model_dir
from tests.integration.origination.conftest import GOOD, application, make_product


@cache
def shipped() -> tuple[bytes, dict[str, Any]]:
    d = shipped_model_dir()
    return ((d / "german_credit_v1.onnx").read_bytes(),
            json.loads((d / "german_credit_v1.card.json").read_text()))


def upload(api, key, *, card=None, data=None, name="Tenant model", path="/v1/models"):
    model_bytes, shipped_card = shipped()
    body = {"card": card if card is not None else copy.deepcopy(shipped_card),
            "model_base64": base64.b64encode(data if data is not None else model_bytes).decode()}
    if path == "/v1/models":
        body["name"] = name
    return api.call("POST", path, body, key=key)


FEATURES = {**GOOD, "duration_months": 12, "credit_amount": "2000", "age_years": 40,
            "purpose": "car_used"}


def test_upload_validate_activate_and_score(api, acme, aws):
    r = upload(api, acme["admin"])
    assert r.status == 201, r.json
    model = r.json
    assert model["active_version"] is None and model["versions"][0]["number"] == 1
    sha = model["versions"][0]["sha256"]
    keys = [o["Key"] for o in aws["s3"].list_objects_v2(Bucket="test-documents")["Contents"]]
    assert sorted(keys) == sorted([f"acme/models/{model['id']}/000001/{sha}.onnx",
                                   f"acme/models/{model['id']}/000001/{sha}.card.json"])
    # not active yet: naming no version needs an active one
    r = api.call("POST", "/v1/score", {"model_id": model["id"], "features": FEATURES},
                 key=acme["partner"])
    assert r.status == 409 and r.json["type"].endswith("model-not-active")
    pinned = api.call("POST", "/v1/score", {"model_id": model["id"], "version": "1",
                                            "features": FEATURES}, key=acme["partner"])
    assert pinned.status == 200 and pinned.json["model"]["version"] == "1"
    act = api.call("POST", f"/v1/models/{model['id']}/versions/1/activate", key=acme["admin"])
    assert act.status == 200 and act.json["active_version"] == 1
    assert act.json["versions"][0]["active"]
    r = api.call("POST", "/v1/score", {"model_id": model["id"], "features": FEATURES},
                 key=acme["partner"])
    assert r.status == 200 and r.json["model"]["id"] == model["id"]
    default = api.call("POST", "/v1/score", {"features": FEATURES}, key=acme["partner"]).json
    assert default["model"]["id"] == "shipped" and default["score"] == r.json["score"]
    # a second version with reworded reasons; products naming the model use the active one
    card = copy.deepcopy(shipped()[1])
    card["version"] = "2.0.0"
    for ch in card["scorecard"]["characteristics"]:
        ch["reason_text"] = "Acme wording: " + ch["reason_text"]
    v2 = upload(api, acme["admin"], card=card, path=f"/v1/models/{model['id']}/versions")
    assert v2.status == 201 and v2.json["latest_version"] == 2, v2.json
    assert v2.json["active_version"] == 1
    api.call("POST", f"/v1/models/{model['id']}/versions/2/activate", key=acme["admin"])
    product = make_product(api, acme["admin"], references={"scoring_model_id": model["id"]})
    app = api.call("POST", "/v1/applications", application(product["id"]), key=acme["partner"])
    assert app.status == 201, app.json
    assert app.json["decision"]["model"]["id"] == model["id"]
    assert app.json["decision"]["model"]["version"] == "2"
    assert app.json["decision"]["score"]["reasons"][0]["text"].startswith("Acme wording")
    listed = api.call("GET", "/v1/models", key=acme["reviewer"]).json["data"]
    assert [m["id"] for m in listed] == ["shipped", model["id"]]
    assert api.call("GET", f"/v1/models/{model['id']}", key=acme["partner"]).json[
        "active_version"] == 2


def test_upload_problems_are_422_with_pointers(api, acme):
    r = api.call("POST", "/v1/models", {"name": "x", "card": {}, "model_base64": "not base64!"},
                 key=acme["admin"])
    assert r.status == 422 and r.json["errors"][0]["pointer"] == "/body/model_base64"
    r = upload(api, acme["admin"], data=b"this is not onnx")
    assert r.status == 422 and r.json["type"].endswith("model-load-error")
    assert {e["pointer"] for e in r.json["errors"]} == {"/body/model_base64",
                                                       "/body/card/onnx/sha256"}
    card = copy.deepcopy(shipped()[1])
    card["onnx"]["sha256"] = "0" * 64
    card["inputs"][0]["type"] = "text"
    r = upload(api, acme["admin"], card=card)
    assert r.status == 422
    assert "/body/card/inputs/0/type" in {e["pointer"] for e in r.json["errors"]}
    card = copy.deepcopy(shipped()[1])
    card["onnx"]["sha256"] = "0" * 64
    r = upload(api, acme["admin"], card=card)
    assert r.status == 422 and r.json["errors"][0]["pointer"] == "/body/card/onnx/sha256"
    listed = api.call("GET", "/v1/models", key=acme["admin"]).json["data"]
    assert [m["id"] for m in listed] == ["shipped"]
    missing = api.call("POST", "/v1/models/mdl_0000000000000000/versions/1/activate",
                       key=acme["admin"])
    assert missing.status == 404


def test_scoring_problems(api, acme):
    bad = {**FEATURES, "housing": "castle"}
    del bad["savings"]
    r = api.call("POST", "/v1/score", {"features": bad}, key=acme["partner"])
    assert r.status == 422
    assert {e["pointer"] for e in r.json["errors"]} == {"/body/features/housing",
                                                       "/body/features/savings"}
    r = api.call("POST", "/v1/score", {"features": FEATURES, "version": "9"},
                 key=acme["partner"])
    assert r.status == 404


def test_a_swapped_model_file_is_refused_at_load(api, acme, aws):
    model = upload(api, acme["admin"]).json
    sha = model["versions"][0]["sha256"]
    key = f"acme/models/{model['id']}/000001/{sha}.onnx"
    aws["s3"].put_object(Bucket="test-documents", Key=key, Body=b"tampered")
    from chalicelib.scoring import REGISTRY
    REGISTRY.clear()
    r = api.call("POST", "/v1/score", {"model_id": model["id"], "version": "1",
                                       "features": FEATURES}, key=acme["partner"])
    assert r.status == 500 and r.json["type"].endswith("model-integrity-error")


def test_a_tenants_model_is_never_visible_to_another(api, acme):
    model = upload(api, acme["admin"]).json
    api.call("POST", f"/v1/models/{model['id']}/versions/1/activate", key=acme["admin"])
    api.tenant("globex")
    admin = api.key("globex", "admin")
    assert api.call("GET", f"/v1/models/{model['id']}", key=admin).status == 404
    assert api.call("POST", "/v1/score", {"model_id": model["id"], "features": FEATURES},
                    key=admin).status == 404
    assert api.call("POST", f"/v1/models/{model['id']}/versions",
                    {"card": {}, "model_base64": "AAAA"}, key=admin).status == 404
    # the same bytes under globex with its own card: globex gets its own wording, acme keeps its
    card = copy.deepcopy(shipped()[1])
    for ch in card["scorecard"]["characteristics"]:
        ch["reason_text"] = "Globex: " + ch["reason_text"]
    theirs = upload(api, admin, card=card).json
    g = api.call("POST", "/v1/score", {"model_id": theirs["id"], "version": "1",
                                       "features": FEATURES}, key=admin).json
    a = api.call("POST", "/v1/score", {"model_id": model["id"], "features": FEATURES},
                 key=acme["admin"]).json
    assert g["reasons"][0]["text"].startswith("Globex") and "Globex" not in json.dumps(a)
    # a product in globex naming acme's model cannot use it
    product = make_product(api, admin, references={"scoring_model_id": model["id"]})
    partner = api.key("globex", "partner")
    r = api.call("POST", "/v1/applications", application(product["id"]), key=partner)
    assert r.status == 409
