"""Tenant models are bounded through the API: a hostile graph is a 422 at upload with nothing
stored, and a model that overruns its time limit at scoring is a clean problem, never a hang."""

from __future__ import annotations

import base64
import time

from chalicelib.scoring import REGISTRY, watchdog
from tests.integration.origination.conftest import application, make_product
from tests.integration.origination.test_models import FEATURES, upload
from tests.unit.scoring import hostile


def upload_graph(api, key, build):
    body = {"name": "Hostile", "card": hostile.matrix_card(),
            "model_base64": base64.b64encode(hostile.to_bytes(build)).decode()}
    return api.call("POST", "/v1/models", body, key=key)


def nothing_stored(api, acme, aws) -> None:
    models = api.call("GET", "/v1/models", key=acme["admin"]).json["data"]
    assert [m["id"] for m in models] == ["shipped"]
    listed = aws["s3"].list_objects_v2(Bucket="test-documents", Prefix="acme/models/")
    assert listed.get("Contents", []) == []


def test_the_loop_attack_is_refused_at_upload_naming_the_operator(api, acme, aws):
    started, cpu = time.monotonic(), time.process_time()
    r = upload_graph(api, acme["admin"], hostile.loop)
    assert time.process_time() - cpu < 5 and time.monotonic() - started < 10
    assert r.status == 422 and r.json["type"].endswith("model-load-error"), r.json
    errors = {e["pointer"]: e for e in r.json["errors"]}
    loop = errors["/body/model_base64/graph/nodes/1"]
    assert loop["code"] == "operator_not_allowed"
    assert loop["detail"].startswith("operator Loop is not allowed; allowed (ai.onnx): ")
    assert errors["/body/model_base64/graph/nodes/1/attributes/body"]["code"] == \
        "subgraph_not_allowed"
    nothing_stored(api, acme, aws)


def test_an_allowlisted_model_over_its_time_limit_is_refused_at_upload(api, acme, aws):
    r = upload_graph(api, acme["admin"], lambda: hostile.slow(1_500))
    assert r.status == 422, r.json
    assert [(e["pointer"], e["code"]) for e in r.json["errors"]] == [
        ("/body/model_base64", "time_budget_exceeded")]
    assert "exceeded its time budget" in r.json["errors"][0]["detail"]
    nothing_stored(api, acme, aws)


def test_a_model_overrunning_at_scoring_is_a_clean_problem_and_writes_nothing(
        api, acme, monkeypatch):
    model = upload(api, acme["admin"]).json
    api.call("POST", f"/v1/models/{model['id']}/versions/1/activate", key=acme["admin"])
    product = make_product(api, acme["admin"], references={"scoring_model_id": model["id"]})
    REGISTRY.clear()
    monkeypatch.setattr(watchdog, "MAX_RUN_SECONDS", 0)  # every run stopped before it starts
    app = api.call("POST", "/v1/applications", application(product["id"]), key=acme["partner"])
    assert app.status == 422 and app.json["type"].endswith("model-load-error"), app.json
    assert [e["code"] for e in app.json["errors"]] == ["time_budget_exceeded"]
    assert api.call("GET", "/v1/applications", key=acme["partner"]).json["data"] == []
    score = api.call("POST", "/v1/score", {"model_id": model["id"], "features": FEATURES},
                     key=acme["partner"])
    assert score.status == 422 and score.json["errors"][0]["code"] == "time_budget_exceeded"
