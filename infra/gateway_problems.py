"""The errors API Gateway answers itself, before any of our code runs, as RFC 9457 problems.

One definition for both places they come from: the deployed REST API's gateway responses
(`infra/sam_template.py`) and Chalice's local gateway (`chalice local` and the in-process test
client, which otherwise answer `{"message": "Unauthorized"}`). So a request without an
Authorization header gets the same problem+json, with every member of our `Problem` schema,
under `make run`, in the tests and once deployed. API Gateway's templates cannot read the
status code, so every type here sets its own (the DEFAULT_* ones too).
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.api.problems import KINDS, PROBLEM_JSON, TYPE_BASE

#: API Gateway response type -> (status, problem kind, title, detail)
GATEWAY_PROBLEMS: dict[str, tuple[int, str, str, str]] = {
    "UNAUTHORIZED": (401, "unauthenticated", KINDS["unauthenticated"][1],
                     "Send an API key as 'Authorization: Bearer <key>'."),
    "ACCESS_DENIED": (403, "forbidden", KINDS["forbidden"][1],
                      "The gateway refused this request."),
    "MISSING_AUTHENTICATION_TOKEN": (404, "not-found", KINDS["not-found"][1], "No such route."),
    "REQUEST_TOO_LARGE": (413, "payload-too-large", KINDS["payload-too-large"][1],
                          "The request is larger than the gateway accepts."),
    "UNSUPPORTED_MEDIA_TYPE": (415, "unsupported-media-type",
                               KINDS["unsupported-media-type"][1],
                               "The gateway does not accept this Content-Type."),
    "THROTTLED": (429, "rate-limited", "Too many requests",
                  "Too many requests for this API key; retry later."),
    "QUOTA_EXCEEDED": (429, "quota-exceeded", "Daily request quota exceeded",
                       "This API key's daily request quota is used up."),
    "INTEGRATION_TIMEOUT": (504, "gateway-timeout", "Gateway timeout",
                            "The service did not answer within the gateway's 29 seconds."),
    "DEFAULT_4XX": (400, "malformed-request", KINDS["malformed-request"][1],
                    "The gateway refused this request."),
    "DEFAULT_5XX": (503, "service-unavailable", KINDS["service-unavailable"][1],
                    "The gateway could not reach the service."),
}
#: What chalice's local gateway raises (by its error code) -> the deployed response type
LOCAL_TYPES = {401: "UNAUTHORIZED", 403: "ACCESS_DENIED"}


def problem(gateway_type: str, instance: str, request_id: str) -> dict[str, Any]:
    status, kind, title, detail = GATEWAY_PROBLEMS[gateway_type]
    return {"type": TYPE_BASE + kind, "title": title, "status": status, "detail": detail,
            "instance": instance, "request_id": request_id}


def gateway_responses() -> dict[str, Any]:
    """`x-amazon-apigateway-gateway-responses`, each body a mapping template."""
    return {gateway_type: {
        "statusCode": str(GATEWAY_PROBLEMS[gateway_type][0]),
        "responseTemplates": {"application/json": json.dumps(
            problem(gateway_type, "$context.path", "$context.requestId"))},
        "responseParameters": {"gatewayresponse.header.Content-Type": f"'{PROBLEM_JSON}'"},
    } for gateway_type in GATEWAY_PROBLEMS}


def install_local() -> None:
    """Chalice's local gateway answers its 401/403 (no Authorization header; an unknown route
    is its 403 "Missing Authentication Token") with the deployed gateway's problem bodies."""
    from chalice import local

    if getattr(local.LocalGateway.handle_request, "_problem_json", False):
        return
    original = local.LocalGateway.handle_request

    def handle_request(self: Any, method: str, path: str, headers: dict[str, str],
                       body: bytes | None) -> Any:
        try:
            return original(self, method, path, headers, body)
        except (local.NotAuthorizedError, local.ForbiddenError) as exc:
            gateway_type = LOCAL_TYPES[exc.CODE]
            if b"Missing Authentication Token" in (exc.body or b""):
                gateway_type = "MISSING_AUTHENTICATION_TOKEN"
            request_id = exc.headers.get("x-amzn-RequestId", "")
            payload = problem(gateway_type, path.split("?", 1)[0], request_id)
            error = type(exc)({**exc.headers, "Content-Type": PROBLEM_JSON},
                              json.dumps(payload).encode())
            if gateway_type == "MISSING_AUTHENTICATION_TOKEN":
                error.CODE = 404
            raise error from None

    handle_request._problem_json = True  # type: ignore[attr-defined]
    local.LocalGateway.handle_request = handle_request  # type: ignore[method-assign]
