"""Every path parameter has a declared shape (chalicelib/ids.py via http.PATH_PARAMS)."""

from __future__ import annotations

import pytest

from chalicelib.api.http import path_model, validate
from chalicelib.errors import DomainError


def test_an_undeclared_path_parameter_fails_at_registration() -> None:
    with pytest.raises(TypeError, match="weird"):
        path_model("op", "/v1/things/{thing_id}/{weird}")


def test_ids_are_bounded_ascii_and_named_by_pointer() -> None:
    model = path_model("op", "/v1/tenants/{tenant_id}/things/{thing_id}/{n}")
    assert model is not None and path_model("op", "/v1/things") is None
    validate(model, {"tenant_id": "acme", "thing_id": "a" * 128, "n": "12"}, "/path")
    for bad, pointer in (({"thing_id": "a" * 129}, "/path/thing_id"),
                         ({"thing_id": "\u4e2d"}, "/path/thing_id"),
                         ({"thing_id": "a#b"}, "/path/thing_id"),
                         ({"tenant_id": "Acme"}, "/path/tenant_id"),
                         ({"n": "1000"}, "/path/n")):
        with pytest.raises(DomainError) as caught:
            validate(model, {"tenant_id": "acme", "thing_id": "t", "n": "1", **bad}, "/path")
        assert [e.pointer for e in caught.value.errors] == [pointer]
