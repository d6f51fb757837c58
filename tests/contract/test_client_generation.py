"""A partner generates a working client from openapi.yaml alone: the component names are unique
and meaningful, and openapi-python-client turns the committed contract into a client without a
single warning, with a function for every operation and a class for every schema."""

from __future__ import annotations

import enum
import json
import re
from collections import defaultdict
from collections.abc import Iterator
from typing import Any, get_args

import pytest
import yaml
from pydantic import BaseModel

import app  # noqa: F401  (registers every route)
from chalicelib.api.http import ROUTES
from chalicelib.api.openapi import build_spec
from chalicelib.api.schemas import Problem
from tests.generated_client import SPEC, Generated, generate

pytestmark = pytest.mark.xdist_group("client-generation")  # one generator run per suite
NAME = re.compile(r"^[A-Z][A-Za-z0-9]*$")  # no module path (`a__b__C`), dot or `-Input` suffix


def _named_types(annotation: Any) -> Iterator[type]:
    """The models and enums inside an annotation (`list[X] | None`, `dict[str, Y]`, ...)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel | enum.Enum):
        yield annotation
    for arg in get_args(annotation):
        yield from _named_types(arg)


def contract_types() -> set[type]:
    """Every model and enum the contract's components come from: the routes' bodies and
    responses, the problem, and everything their fields hold, transitively, and what the
    fields of queries and path parameters hold (those models are inlined as parameters)."""
    todo: list[type] = [Problem]
    for route in ROUTES:
        todo += [route.body] if route.body else []
        todo += [model for model, _ in route.responses.values() if model is not None]
        for inlined in (route.query, route.params):
            for info in (inlined.model_fields.values() if inlined else ()):
                todo += list(_named_types(info.annotation))
    seen: set[type] = set()
    while todo:
        t = todo.pop()
        if t in seen:
            continue
        seen.add(t)
        if issubclass(t, BaseModel):
            for info in t.model_fields.values():
                todo += list(_named_types(info.annotation))
    return seen


def clashes(types: set[type]) -> dict[str, list[str]]:
    """Class names shared by distinct types, with where each one lives."""
    by_name: dict[str, list[str]] = defaultdict(list)
    for t in types:
        by_name[t.__name__].append(f"{t.__module__}.{t.__qualname__}")
    return {name: sorted(where) for name, where in by_name.items() if len(where) > 1}


def test_no_two_contract_models_share_a_class_name() -> None:
    """Pydantic would name such a pair by module path (`chalicelib__api__cob__RunOut`), and
    the generator drops everything that refers to either."""
    assert clashes(contract_types()) == {}


def test_the_clash_check_sees_a_clash() -> None:
    class ApplicationOut(BaseModel):  # a second model of a name the contract already uses
        id: str

    assert "ApplicationOut" in clashes(contract_types() | {ApplicationOut})


def test_every_component_name_is_a_plain_class_name() -> None:
    names = list(build_spec()["components"]["schemas"])
    assert [n for n in names if not NAME.match(n)] == []
    assert len(names) == len(set(names))


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    return generate(tmp_path_factory.mktemp("client"))


def test_the_generator_prints_nothing_but_what_it_generates(generated: Generated) -> None:
    """A "Warning", an "Unable to process schema" block or "ruff is not in PATH" is a piece of
    the contract the partner's client silently lacks."""
    assert generated.unexpected_lines() == [], "\n".join(generated.output.splitlines()[:60])


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def test_every_operation_and_schema_is_generated(generated: Generated) -> None:
    spec = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    modules = {p.stem for p in (generated.package_dir / "api").glob("*/*.py")}
    operations = {_snake(op["operationId"]) for ops in spec["paths"].values()
                  for op in ops.values()}
    assert sorted(operations - modules) == []
    models = (generated.package_dir / "models" / "__init__.py").read_text()
    missing = [n for n in spec["components"]["schemas"]
               if not re.search(rf"\bimport {n}\b", models)]
    assert missing == []




ASKED = {None: "application/yaml", "text/html,*/*;q=0.8": "application/yaml",
         "not a media type": "application/yaml", "application/json": "application/json",
         "application/yaml;q=0.5, application/json": "application/json"}


def test_the_contract_is_served_as_yaml_or_as_json_when_asked(api) -> None:
    """JSON is what the generated client reads (the generator knows no YAML); YAML stays the
    answer to everyone else, and both are the committed contract."""
    text = SPEC.read_text(encoding="utf-8")
    committed = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    for accept, media in ASKED.items():
        r = api.call("GET", "/v1/openapi.yaml", headers={"Accept": accept} if accept else {})
        assert (r.status, r.headers["content-type"]) == (200, media), accept
        assert r.headers["vary"] == "Accept"
        if media == "application/json":
            assert json.loads(r.body) == committed
        else:
            assert r.body.decode() == text
