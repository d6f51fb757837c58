"""Pure pieces of the HTTP conventions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.api import pagination
from chalicelib.api.http import parse_json
from chalicelib.errors import DomainError
from chalicelib.store.keys import PLATFORM, is_valid_tenant_id, key


@given(st.dictionaries(st.text(max_size=8), st.text(max_size=20), min_size=1, max_size=4))
def test_cursor_round_trips_only_in_its_scope(last_key):
    scope = pagination.scope_of("acme", "/v1/x", {"status": "open"})
    cursor = pagination.encode(scope, {"pk": last_key})
    assert pagination.decode(cursor, scope) == {"pk": last_key}
    other = pagination.scope_of("acme", "/v1/x", {"status": "closed"})
    with pytest.raises(DomainError):
        pagination.decode(cursor, other)


def test_json_limits():
    assert parse_json(b'{"a": [1, {"b": null}]}') == {"a": [1, {"b": None}]}
    for raw in [b"[" * 17 + b"]" * 17, b'{"a": NaN}', b'{"a":1,"a":2}', b"\xff"]:
        with pytest.raises(DomainError) as exc:
            parse_json(raw)
        assert exc.value.kind == "malformed-request"


@given(st.text(max_size=45))
def test_tenant_ids_never_contain_the_separator(candidate):
    if candidate == PLATFORM:
        return
    if is_valid_tenant_id(candidate):
        assert "#" not in candidate and "_" not in candidate
        assert key(candidate, "x").startswith(candidate + "#")
    else:
        with pytest.raises(ValueError):
            key(candidate, "x")
