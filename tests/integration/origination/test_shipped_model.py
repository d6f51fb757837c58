"""The shipped default model is a model like the others (issue 16): `GET /v1/models/shipped`
answers it in the tenant models' shape, `GET /v1/models` lists it first without disturbing the
tenant models' cursor, and no request can add or activate a version under its id."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tests.integration.origination.test_models import FEATURES, shipped, upload


def _writes(aws: dict[str, Any]) -> tuple[int, int]:
    """Items in every table and objects in the bucket: what a refused request must not change."""
    ddb = aws["dynamodb"]
    items = sum(ddb.scan(TableName=t, Select="COUNT", ConsistentRead=True)["Count"]
                for t in ddb.list_tables()["TableNames"])
    objects = aws["s3"].list_objects_v2(Bucket="test-documents").get("KeyCount", 0)
    return items, objects


def _all_pages(api, key, limit: int) -> list[list[dict[str, Any]]]:
    pages, cursor = [], None
    while True:
        path = f"/v1/models?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        r = api.call("GET", path, key=key)
        assert r.status == 200, r.json
        pages.append(r.json["data"])
        cursor = r.json["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 20, "the cursor never ends"


def test_the_shipped_model_reads_like_a_tenant_model(api, acme):
    card = shipped()[1]
    r = api.call("GET", "/v1/models/shipped", key=acme["partner"])
    assert r.status == 200, r.json
    m = r.json
    assert m["id"] == "shipped" and m["shipped"] is True and m["name"] == card["name"]
    assert m["latest_version"] == m["active_version"] == 1
    assert m["versions"] == [{
        "number": 1, "card_model_id": card["model_id"], "card_version": card["version"],
        "sha256": card["onnx"]["sha256"], "size_bytes": card["onnx"]["size_bytes"],
        "active": True, "created_at": m["created_at"]}]
    # dated by its training (the card), not by the request: the same on every read
    trained = datetime.fromisoformat(card["trained_at"])
    assert datetime.fromisoformat(m["created_at"]) == trained
    assert datetime.fromisoformat(m["updated_at"]) == trained
    assert api.call("GET", "/v1/models/shipped", key=acme["reviewer"]).json == m
    # the link to its inputs works, and its version number is one the API accepts back
    assert m["inputs_path"] == "/v1/models/shipped/inputs"
    by_number = api.call("GET", f"{m['inputs_path']}?version=1", key=acme["partner"])
    by_card = api.call("GET", f"{m['inputs_path']}?version={card['version']}",
                       key=acme["partner"])
    assert by_number.status == by_card.status == 200, by_number.json
    assert by_number.json == by_card.json
    scored = api.call("POST", "/v1/score", {"model_id": "shipped", "version": "1",
                                            "features": FEATURES}, key=acme["partner"])
    assert scored.status == 200 and scored.json["model"]["sha256"] == card["onnx"]["sha256"]
    assert api.call("GET", "/v1/models/shipped/inputs?version=2",
                    key=acme["partner"]).status == 404


def test_tenant_models_say_they_are_not_shipped(api, acme):
    model = upload(api, acme["admin"]).json
    assert model["shipped"] is False
    assert model["inputs_path"] == f"/v1/models/{model['id']}/inputs"
    got = api.call("GET", f"/v1/models/{model['id']}", key=acme["partner"]).json
    assert got["shipped"] is False and got["versions"] == model["versions"]


def test_the_listing_starts_with_the_shipped_model(api, acme):
    empty = api.call("GET", "/v1/models", key=acme["partner"]).json
    assert [(m["id"], m["shipped"], m["active_version"]) for m in empty["data"]] == [
        ("shipped", True, 1)]
    assert empty["next_cursor"] is None
    assert empty["data"][0]["inputs_path"] == "/v1/models/shipped/inputs"
    # limit 1 on a tenant without models: one page, no cursor to an empty page
    assert _all_pages(api, acme["partner"], 1) == [empty["data"]]


def test_paging_across_pages_keeps_the_tenant_models_cursor(api, acme):
    ids = [upload(api, acme["admin"], name=f"Model {n}").json["id"] for n in range(5)]
    everything = api.call("GET", "/v1/models?limit=100", key=acme["partner"]).json
    assert everything["data"][0]["id"] == "shipped"
    tenant_order = [m["id"] for m in everything["data"][1:]]
    assert sorted(tenant_order) == sorted(ids)
    assert not any(m["shipped"] for m in everything["data"][1:])
    for limit in (1, 2, 3, 6):
        pages = _all_pages(api, acme["partner"], limit)
        assert all(len(p) <= limit for p in pages), (limit, pages)
        listed = [m["id"] for p in pages for m in p]
        # shipped once, first; every tenant model once, in the index's order
        assert listed == ["shipped", *tenant_order], (limit, listed)


def test_a_version_cannot_be_uploaded_or_activated_under_the_shipped_id(api, acme, aws):
    before = _writes(aws)
    r = upload(api, acme["admin"], path="/v1/models/shipped/versions")
    assert r.status == 409, r.json
    assert r.json["type"].endswith("model-read-only")
    assert r.headers["content-type"].startswith("application/problem+json")
    act = api.call("POST", "/v1/models/shipped/versions/1/activate", key=acme["admin"])
    assert act.status == 409 and act.json["type"].endswith("model-read-only"), act.json
    assert _writes(aws) == before
    assert api.call("GET", "/v1/models/shipped", key=acme["admin"]).json["versions"][0][
        "card_version"] == shipped()[1]["version"]
