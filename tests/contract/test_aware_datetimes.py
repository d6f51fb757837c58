"""No request accepts a naive datetime (issue 14): an instant without its offset has no business
date, so every datetime a body or query carries must be refused without one."""

from __future__ import annotations

import json
import typing
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

import app  # noqa: F401 - registers every route
from chalicelib.api.http import ROUTES

NAIVE = "2025-01-15T23:30:00"
AWARE = "2025-01-15T23:30:00+08:00"


def _datetime_fields(model: type[BaseModel], seen: set[type]) -> list[tuple[str, Any]]:
    """(model.field, annotation) of every field, nested models included, that holds a datetime."""
    if model in seen:
        return []
    seen.add(model)
    found = []
    for name, info in model.model_fields.items():
        if _is_datetime(_adapter(info)):
            found.append((f"{model.__name__}.{name}", info))
        stack = [info.annotation]
        while stack:
            kind = stack.pop()
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                found += _datetime_fields(kind, seen)
            else:
                stack += typing.get_args(kind)
    return found


def _adapter(info: Any) -> TypeAdapter[Any]:
    kind = info.annotation
    return TypeAdapter(typing.Annotated[kind, *info.metadata] if info.metadata else kind)


def _is_datetime(adapter: TypeAdapter[Any]) -> bool:
    """Judged by what the field accepts (its schema's date-time format), not by how its type is
    spelled, so datetime, AwareDatetime and any alias are all found."""
    return '"date-time"' in json.dumps(adapter.json_schema())


def _request_datetimes() -> list[tuple[str, Any]]:
    seen: set[type] = set()
    return [(f"{r.method} {r.path} {where}", info) for r in ROUTES
            for model in (r.body, r.query) if model is not None
            for where, info in _datetime_fields(model, seen)]


def test_every_request_datetime_requires_an_offset() -> None:
    fields = _request_datetimes()
    assert len(fields) >= 3  # repayments' paid_at, journals' expires_at, the sandbox clock
    accepting_naive = []
    for where, info in fields:
        adapter = _adapter(info)
        assert adapter.validate_python(AWARE).utcoffset() is not None, where
        try:
            adapter.validate_python(NAIVE)
        except ValidationError as exc:
            assert exc.errors()[0]["type"] == "timezone_aware", where
        else:
            accepting_naive.append(where)
    assert accepting_naive == []
