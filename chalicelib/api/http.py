"""HTTP conventions shared by every route: one decorator applies them all.

`endpoint` registers a Chalice route and records its contract (roles, body, query, responses,
idempotency) for the OpenAPI generator. Around the handler it enforces, in order: the caller's
role, the request's content type, size and JSON shape, the body and query models (unknown fields
refused), the Idempotency-Key protocol, and it commits the request's unit of work exactly once.
Every failure leaves as an RFC 9457 problem; nothing unexpected leaves as Chalice's own 500.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from botocore.exceptions import BotoCoreError, ClientError
from chalice import Blueprint, Response
from pydantic import BaseModel, StringConstraints, ValidationError, create_model

from chalicelib import clock
from chalicelib.api import problems
from chalicelib.api.auth import api_key_authorizer
from chalicelib.api.ledger_problems import from_ledger
from chalicelib.api.schemas import Strict
from chalicelib.config import settings
from chalicelib.errors import DomainError, FieldError
from chalicelib.ids import EntityId, KindName, TenantId, VersionId
from chalicelib.lending.errors import LendingError
from chalicelib.store import idempotency
from chalicelib.store.audit import Actor
from chalicelib.store.keys import PLATFORM
from chalicelib.store.uow import UnitOfWork
from ledger.errors import LedgerError

log = logging.getLogger("lending.api")

MAX_BODY_BYTES = 64 * 1024
MAX_JSON_DEPTH = 16
MAX_IDEMPOTENCY_KEY = 255
PATH_PARAM = re.compile(r"{(\w+)}")
# Every path parameter's shape, checked before the handler runs (a 422 at /path/<name>), so no
# path can carry an id that would make an over-long DynamoDB key. Names ending in `_id` are
# EntityIds unless listed; any other name must be listed here.
PATH_PARAMS: dict[str, Any] = {
    "tenant_id": TenantId,
    "version": VersionId,
    "aggregate_type": KindName,
    "n": Annotated[str, StringConstraints(strict=True, max_length=3, pattern=r"^[0-9]{1,3}$")],
}


@dataclass(frozen=True)
class RouteSpec:
    method: str
    path: str
    operation_id: str
    summary: str
    tag: str
    roles: frozenset[str] | None  # None: public (no authentication)
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    responses: dict[int, tuple[type[BaseModel] | None, str]]
    idempotent: bool
    content_type: str = "application/json"
    max_body: int = MAX_BODY_BYTES
    errors: frozenset[int] = frozenset()  # statuses beyond those the route's shape implies
    # Content checks to run when the body fails its format checks, so one 422 lists all.
    precheck: Callable[[Context, Any], list[FieldError]] | None = None
    # False: the Idempotency-Key is taken by the commit itself, not by a claim written first
    # (one DynamoDB write fewer). Only for handlers whose every effect is in the unit of work
    # (no S3, KMS, gateway or channel call): two concurrent first attempts both run the
    # handler and exactly one commits; the other answers like a retry.
    lease: bool = True
    # The path parameters' model (built from PATH_PARAMS); None when the path has none.
    params: type[BaseModel] | None = None
    # Where a created resource lives, for the Location header of a 201/202: `{name}` is the
    # request's path parameter or the response body's field (`{loan.id}`: a nested one).
    location: str | None = None


ROUTES: list[RouteSpec] = []


@dataclass
class Context:
    """Who is calling and the request's single unit of work."""

    tenant: str
    role: str
    key_id: str
    request_id: str
    now: datetime
    path: str
    uow: UnitOfWork = field(default_factory=UnitOfWork)
    # The handler's answer when its unit of work is refused with a given error (e.g. the
    # journal id already holds this very journal: 200 with it, not a 409); None re-raises.
    on_refused: Callable[[Exception], Reply | None] | None = None

    @property
    def actor(self) -> Actor:
        return Actor(self.key_id, self.role, self.request_id)


@dataclass
class Reply:
    body: BaseModel | dict[str, Any] | list[Any] | str | None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    # What an idempotent replay returns instead of `body`, when the body holds a secret that
    # must never be stored (an API key shown once).
    stored_body: BaseModel | None = None


def endpoint(bp: Blueprint, method: str, path: str, *, summary: str, tag: str,
             roles: set[str] | None, responses: dict[int, tuple[type[BaseModel] | None, str]],
             body: type[BaseModel] | None = None, query: type[BaseModel] | None = None,
             idempotent: bool = False, content_type: str = "application/json",
             max_body: int = MAX_BODY_BYTES, errors: set[int] | None = None,
             precheck: Callable[[Context, Any], list[FieldError]] | None = None,
             lease: bool = True, location: str | None = None,
             ) -> Callable[[Callable[..., Reply]], Callable[..., Response]]:
    def decorate(handler: Callable[..., Reply]) -> Callable[..., Response]:
        spec = RouteSpec(method, path, handler.__name__, summary, tag,
                         frozenset(roles) if roles is not None else None, body, query,
                         responses, idempotent, content_type, max_body,
                         frozenset(errors or ()), precheck, lease,
                         path_model(handler.__name__, path), location)
        ROUTES.append(spec)
        run = locating(location, handler) if location else handler

        def view(**path_params: str) -> Response:
            return _handle(bp, spec, run, path_params)

        view.__name__ = handler.__name__
        view.__doc__ = handler.__doc__
        options: dict[str, Any] = {"methods": [method], "content_types": ["*/*"]}
        if roles is not None:
            options["authorizer"] = api_key_authorizer
        bp.route(path, **options)(view)
        return view

    return decorate


CREATED = (201, 202)
LOCATION_PARAM = re.compile(r"{([\w.]+)}")


def locating(template: str, handler: Callable[..., Reply]) -> Callable[..., Reply]:
    """The handler, its 201/202 replies given a Location built from `template` (before the
    reply is stored for idempotent replays, so a replay carries it too)."""
    def run(ctx: Context, **kwargs: Any) -> Reply:
        reply = handler(ctx, **kwargs)
        if reply.status in CREATED:
            reply.headers["Location"] = location_of(template, kwargs, reply.body)
        return reply

    return run


def location_of(template: str, path_params: dict[str, Any], body: Any) -> str:
    data = body.model_dump(mode="json") if isinstance(body, BaseModel) else body

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in path_params and isinstance(path_params[name], str):
            return str(path_params[name])
        found: Any = data
        for part in name.split("."):
            found = found[part]
        return str(found)

    return LOCATION_PARAM.sub(value, template)


def path_model(operation: str, path: str) -> type[BaseModel] | None:
    """The model of a path's parameters, each declared in PATH_PARAMS or an `_id`."""
    names = PATH_PARAM.findall(path)
    if not names:
        return None
    fields: dict[str, Any] = {}
    for name in names:
        shape = PATH_PARAMS.get(name, EntityId if name.endswith("_id") else None)
        if shape is None:
            raise TypeError(f"path parameter {name!r} of {path} is not declared in PATH_PARAMS")
        fields[name] = (shape, ...)
    return create_model(f"{operation}_path", __base__=Strict, **fields)


def _handle(bp: Blueprint, spec: RouteSpec, handler: Callable[..., Reply],
            path_params: dict[str, str]) -> Response:
    request = bp.current_request
    started = time.perf_counter()
    request_id = (request.context or {}).get("requestId") or str(uuid.uuid4())
    ctx: Context | None = None
    try:
        ctx = _context(request, spec, request_id)
        if spec.params is not None:
            validate(spec.params, path_params, "/path")
        kwargs: dict[str, Any] = dict(path_params)
        if spec.body is not None:
            kwargs["body"] = _parse_body(request, spec, ctx)
        elif request.raw_body:
            raise DomainError("validation-error", "This operation takes no request body.",
                              [FieldError("/", "unexpected body", "extra_forbidden")])
        if spec.query is not None:
            kwargs["query"] = _parse_query(request, spec.query)
        elif request.query_params:
            raise _unknown_query(request.query_params)
        if spec.idempotent:
            response = _idempotent(request, spec, handler, ctx, kwargs)
        else:
            response = _execute(handler, ctx, kwargs)
    except LedgerError as error:
        response = _problem(from_ledger(error), _request_path(request, spec), request_id)
    except LendingError as error:
        response = _problem(from_lending(error), _request_path(request, spec), request_id)
    except DomainError as error:
        response = _problem(error, _request_path(request, spec), request_id)
    except (BotoCoreError, ClientError) as error:
        response = _problem(_dependency_problem(error), _request_path(request, spec), request_id)
    except Exception:
        log.exception("unhandled error", extra={"request_id": request_id})
        response = _problem(DomainError("internal-error", "An unexpected error occurred."),
                            spec.path, request_id)
    response.headers["X-Request-Id"] = request_id
    log.info(json.dumps({
        "request_id": request_id, "method": spec.method, "route": spec.path,
        "status": response.status_code, "tenant": ctx.tenant if ctx else None,
        "ms": round((time.perf_counter() - started) * 1000, 2),
    }))
    return response


def _context(request: Any, spec: RouteSpec, request_id: str) -> Context:
    """Who calls, and `now`: the tenant's clock (a sandbox clock in stages local and test)."""
    path = _request_path(request, spec)
    if spec.roles is None:
        return Context("", "public", "", request_id, clock.now(), path)
    auth = (request.context or {}).get("authorizer") or {}
    error = auth.get("error")
    if error == "unavailable":
        raise DomainError("service-unavailable", "Credentials could not be checked; retry.")
    if error or not auth.get("role"):
        raise DomainError("unauthenticated", "A valid API key is required "
                          "(Authorization: Bearer <key>); the key given is invalid or revoked.")
    role = auth["role"]
    if role not in spec.roles:
        raise DomainError("forbidden", f"The {role!r} role may not call {spec.method} {spec.path}.")
    tenant = auth["tenant"]
    now = clock.now(tenant if tenant != PLATFORM else None)
    return Context(tenant, role, auth["key_id"], request_id, now, path)


def _request_path(request: Any, spec: RouteSpec) -> str:
    ctx_path = (request.context or {}).get("resourcePath") or spec.path
    params = request.uri_params or {}
    for name, value in params.items():
        ctx_path = ctx_path.replace("{" + name + "}", value)
    return ctx_path


def _parse_body(request: Any, spec: RouteSpec, ctx: Context) -> BaseModel:
    raw = request.raw_body or b""
    if len(raw) > spec.max_body:
        raise DomainError("payload-too-large", f"The body exceeds {spec.max_body} bytes.")
    media = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise DomainError("unsupported-media-type",
                          f"Send application/json, not {media or 'no content type'}.")
    data = parse_json(raw)
    assert spec.body is not None
    try:
        return validate(spec.body, data, "/body")
    except DomainError as error:
        if spec.precheck is not None:
            error.errors.extend(_prechecked(spec, ctx, data, error.errors))
        raise


def _prechecked(spec: RouteSpec, ctx: Context, data: Any,
                known: list[FieldError]) -> list[FieldError]:
    """The route's content checks, best effort: they never turn a 422 into a 500."""
    try:
        found = spec.precheck(ctx, data) if spec.precheck else []
    except Exception:
        log.exception("precheck failed", extra={"request_id": ctx.request_id})
        return []
    seen = {e.pointer for e in known}
    return [e for e in found if e.pointer not in seen]


def parse_json(raw: bytes) -> Any:
    def no_constants(name: str) -> Any:
        raise ValueError(f"{name} is not valid JSON")

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in pairs]
        if len(set(keys)) != len(keys):
            raise ValueError("duplicate key in object")
        return dict(pairs)

    try:
        text = raw.decode("utf-8")
        _check_depth(text)
        return json.loads(text, parse_constant=no_constants, object_pairs_hook=no_duplicates)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise DomainError("malformed-request", f"The body is not valid JSON: {exc}") from exc


def _check_depth(text: str) -> None:
    """Refuses deep nesting before parsing, cheaply (brackets inside strings only over-count)."""
    depth = 0
    for char in text:
        if char in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise ValueError(f"nesting deeper than {MAX_JSON_DEPTH}")
        elif char in "]}":
            depth -= 1


def validate(model: type[BaseModel], data: Any, root: str) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise DomainError("validation-error", "The request has invalid fields.",
                          [FieldError(_pointer(root, e["loc"]), e["msg"], e["type"])
                           for e in exc.errors()]) from exc


def from_lending(error: LendingError, root: str = "/body") -> DomainError:
    """The lending domain reports problems by their path in the request body."""
    return DomainError("validation-error", "The request cannot be honoured as given.",
                       [FieldError(_pointer(root, p.loc), p.msg, p.type) for p in error.problems])


def _pointer(root: str, loc: tuple[Any, ...]) -> str:
    return root + "".join(f"/{str(p).replace('~', '~0').replace('/', '~1')}" for p in loc)


def _parse_query(request: Any, model: type[BaseModel]) -> BaseModel:
    params = request.query_params or {}
    data: dict[str, Any] = {}
    for name in params:
        values = params.getlist(name) if hasattr(params, "getlist") else [params[name]]
        if len(values) > 1:
            raise DomainError("validation-error", "Repeated query parameter.",
                              [FieldError(f"/query/{name}", "give this parameter once")])
        data[name] = values[0]
    return validate(model, data, "/query")


def _unknown_query(params: Any) -> DomainError:
    return DomainError("validation-error", "This operation takes no query parameters.",
                       [FieldError(f"/query/{n}", "unknown parameter", "extra_forbidden")
                        for n in params])


def _execute(handler: Callable[..., Reply], ctx: Context, kwargs: dict[str, Any]) -> Response:
    reply = handler(ctx, **kwargs)
    status, body, headers = _rendered(reply)
    ctx.uow.commit()
    return Response(body=body, status_code=status, headers=headers)


def _idempotent(request: Any, spec: RouteSpec, handler: Callable[..., Reply], ctx: Context,
                kwargs: dict[str, Any]) -> Response:
    key = request.headers.get("idempotency-key")
    if not key:
        raise DomainError("idempotency-key-required",
                          f"{spec.method} {spec.path} requires an Idempotency-Key header.")
    if len(key) > MAX_IDEMPOTENCY_KEY or not key.isprintable() or not key.isascii():
        raise DomainError("validation-error", "Invalid Idempotency-Key.",
                          [FieldError("/header/Idempotency-Key",
                                      f"1 to {MAX_IDEMPOTENCY_KEY} printable ASCII characters")])
    body = kwargs.get("body")
    fingerprint = request_fingerprint(spec.method, ctx.path,
                                      body.model_dump(mode="json") if body is not None else None)
    if not spec.lease:
        return _idempotent_in_commit(handler, ctx, kwargs,
                                     idempotency.unclaimed(ctx.tenant or PLATFORM, key,
                                                           fingerprint))
    outcome = idempotency.begin(ctx.tenant or PLATFORM, key, fingerprint)
    if isinstance(outcome, idempotency.Replay):
        return _replayed(outcome)
    ctx.uow.token_seed = f"{outcome.pk}:{outcome.token}"
    try:
        reply = handler(ctx, **kwargs)
        status, rendered, headers = _commit_once(
            ctx, reply, lambda st, body, hd: ctx.uow.add(
                idempotency.complete_item(outcome, st, body, hd), on_fail=idempotency.lease_lost))
    except BaseException:
        idempotency.release(outcome)
        raise
    return Response(body=rendered, status_code=status, headers=headers)


def _idempotent_in_commit(handler: Callable[..., Reply], ctx: Context, kwargs: dict[str, Any],
                          claim: idempotency.Claim) -> Response:
    """No claim first: the completed record joins the commit, conditioned on the key being free;
    a refused commit or handler falls back to what the key already holds."""
    ctx.uow.token_seed = f"{claim.pk}:{claim.token}"
    try:
        reply = handler(ctx, **kwargs)
        status, rendered, headers = _commit_once(
            ctx, reply, lambda st, body, hd: ctx.uow.add(
                idempotency.completion_put(claim, st, body, hd), on_fail=idempotency.key_taken,
                first=True))
    except idempotency.KeyTaken as taken:
        return _replayed(idempotency.settle(claim, taken.item))
    except (DomainError, LedgerError, LendingError):
        stored = idempotency.lookup(claim)
        if stored is None:
            raise
        return _replayed(stored)
    return Response(body=rendered, status_code=status, headers=headers)


def _commit_once(ctx: Context, reply: Reply,
                 complete: Callable[[int, str, dict[str, str]], None]) -> tuple[int, str,
                                                                                   dict[str, str]]:
    """Renders the reply, lets `complete` add the idempotency record, commits; if the unit of
    work is refused with an error the handler answers (ctx.on_refused), commits that answer
    alone instead."""
    try:
        return _render_and_commit(ctx, reply, complete)
    except Exception as error:
        fallback = ctx.on_refused(error) if ctx.on_refused is not None else None
        if fallback is None:
            raise
        ctx.uow = UnitOfWork(token_seed=f"{ctx.uow.token_seed}:refused")
        return _render_and_commit(ctx, fallback, complete)


def _render_and_commit(ctx: Context, reply: Reply,
                       complete: Callable[[int, str, dict[str, str]], None]) -> tuple[
                           int, str, dict[str, str]]:
    status, rendered, headers = _rendered(reply)
    stored = rendered
    if reply.stored_body is not None:
        stored = _rendered(Reply(reply.stored_body, status, headers))[1]
    complete(status, stored, headers)
    ctx.uow.commit()
    return status, rendered, headers


def _replayed(outcome: idempotency.Replay) -> Response:
    headers = {**outcome.headers, "Idempotent-Replayed": "true"}
    return Response(body=outcome.body, status_code=outcome.status, headers=headers)


def request_fingerprint(method: str, path: str, body: Any) -> str:
    """Keyed, because bodies can hold personal data and the record lives for days: a plain hash
    of a national ID could be reversed by guessing."""
    canonical = json.dumps([method, path, body], sort_keys=True, separators=(",", ":"))
    return hmac.new(settings().token_secret, canonical.encode(), hashlib.sha256).hexdigest()


def _rendered(reply: Reply) -> tuple[int, str, dict[str, str]]:
    headers = dict(reply.headers)
    if isinstance(reply.body, str):
        headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        return reply.status, reply.body, headers
    if reply.body is None:
        return reply.status, "", headers
    data = reply.body.model_dump(mode="json") if isinstance(reply.body, BaseModel) else reply.body
    headers["Content-Type"] = "application/json"
    return reply.status, json.dumps(data, ensure_ascii=False, separators=(",", ":")), headers


TRANSIENT = {"ThrottlingException", "ProvisionedThroughputExceededException",
             "RequestLimitExceeded", "InternalServerError", "ServiceUnavailable",
             "TransactionInProgressException", "LimitExceededException"}


def _dependency_problem(error: BotoCoreError | ClientError) -> DomainError:
    """AWS faults the SDK's retries did not absorb: the outcome may be unknown (a timeout after
    the write), so the answer is "retry with the same Idempotency-Key", which is always safe."""
    code = error.response.get("Error", {}).get("Code") if isinstance(error, ClientError) else None
    if isinstance(error, BotoCoreError) or code in TRANSIENT:
        log.warning("dependency fault: %s", code or type(error).__name__)
        return DomainError("service-unavailable", "A storage dependency did not answer in time; "
                           "retry the request with the same Idempotency-Key.")
    log.error("unexpected AWS error: %s", code)
    return DomainError("internal-error", "An unexpected error occurred.")


def _problem(error: DomainError, instance: str, request_id: str) -> Response:
    body = problems.problem_body(error, instance, request_id)
    return Response(body=problems.render(body), status_code=body["status"],
                    headers={"Content-Type": problems.PROBLEM_JSON})
