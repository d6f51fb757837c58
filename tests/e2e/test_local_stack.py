"""End to end over real HTTP against the local stack `make run` starts."""

from __future__ import annotations

import signal
import socket
import stat
import time
import uuid

import pytest
import yaml

import app as app_module
from tests.contract_check import check_response
from tests.e2e.conftest import start_stack, stop_stack
from tests.lag import eventually

pytestmark = pytest.mark.e2e


def _checked(method, path, response):
    check_response(method, path, response.status_code, response.headers.get("content-type", ""),
                   response.content)
    return response


def _post(stack, path, body, key, idem=None):
    headers = {"Idempotency-Key": idem or str(uuid.uuid4())}
    return _checked("POST", path, stack.call("POST", path, key, json=body, headers=headers))


def test_health_answers_with_every_table(stack):
    r = _checked("GET", "/v1/health", stack.call("GET", "/v1/health"))
    assert r.status_code == 200
    assert set(r.json()["tables"].values()) == {"reachable"}


def test_tenant_key_and_audit_walkthrough_over_http(stack):
    tenant = f"e2e-{uuid.uuid4().hex[:8]}"
    r = _post(stack, "/v1/tenants", {"tenant_id": tenant, "name": "E2E",
                                     "time_zone": "UTC"}, stack.admin_key, "t")
    assert r.status_code == 201
    replay = _post(stack, "/v1/tenants", {"tenant_id": tenant, "name": "E2E",
                                          "time_zone": "UTC"}, stack.admin_key,
                   "t")
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    key = _post(stack, f"/v1/tenants/{tenant}/api-keys", {"role": "admin", "name": "k"},
                stack.admin_key).json()["key"]
    trail = stack.call("GET", f"/v1/audit/tenant/{tenant}", key)
    assert _checked("GET", "/v1/audit/tenant/x", trail).status_code == 200
    assert trail.json()["data"][0]["action"] == "tenant.created"
    report = _checked("POST", "/v1/audit/verify", stack.call("POST", "/v1/audit/verify", key))
    assert report.json()["ok"] is True


def test_errors_are_problem_json_over_http(stack):
    r = stack.call("POST", "/v1/tenants", stack.admin_key, data=b"{not json",
                   headers={"Content-Type": "application/json", "Idempotency-Key": "x"})
    assert r.status_code == 400
    assert r.headers["Content-Type"] == "application/problem+json"
    r = stack.call("GET", "/v1/audit/tenant/acme", "lk_acme_0123456789abcdef_" + "A" * 43)
    assert r.status_code == 401 and r.json()["type"].endswith(":unauthenticated")
    r = stack.call("GET", "/v1/audit/tenant/acme")  # no header: the gateway answers, alike
    assert r.status_code == 401 and r.headers["Content-Type"] == "application/problem+json"
    assert (r.json()["type"].endswith(":unauthenticated"), r.json()["instance"]) == (
        True, "/v1/audit/tenant/acme")
    r = stack.call("GET", "/v1/no-such-route")  # API Gateway's MISSING_AUTHENTICATION_TOKEN
    assert r.status_code == 404 and r.json()["type"].endswith(":not-found")


def test_contract_is_served(stack):
    r = stack.call("GET", "/v1/openapi.yaml")
    assert r.status_code == 200
    assert yaml.safe_load(r.text)["openapi"] == "3.1.0"


def _listening(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_ctrl_c_stops_everything_it_started():
    own = start_stack({"LOCAL_SCHEDULE_AT_START": "1", "LOCAL_SCHEDULE_COB": "1"})
    assert _listening(own.api_port) and _listening(own.moto_port)
    # the scheduler's threads are going (each job ran once and waits for its next fire)
    jobs = sum(hasattr(s, "schedule_expression") for s in app_module.app.event_sources)
    assert eventually(lambda: own.log.read_text().count("ran in"), jobs, within=30) == jobs
    # the walk's variables, for `source`, owner-only while the stack runs
    assert eventually(lambda: own.env_file.is_file(), True)
    assert stat.S_IMODE(own.env_file.stat().st_mode) == 0o600
    assert own.env_file.read_text() == (f"export API={own.base}\nexport ADMIN={own.admin_key}\n"
                                        f"export MOTO={own.moto}\n")
    started = time.monotonic()
    assert stop_stack(own) == 0
    assert time.monotonic() - started < 10  # promptly, scheduler and all
    assert not _listening(own.api_port) and not _listening(own.moto_port)
    assert not own.env_file.exists()


def test_the_banner_points_to_stack_env_and_creates_no_tenant_of_the_walk(stack):
    assert eventually(lambda: "Ctrl-C stops everything" in stack.log.read_text(), True)
    log = stack.log.read_text()
    banner = log[log.index("Lending API on"):log.index("Ctrl-C stops everything")]
    assert f"source {stack.env_file}" in banner
    assert "/v1/tenants" not in banner  # the README walk creates `acme`; the banner does not


def test_sigterm_stops_it_too_scheduler_and_all():
    own = start_stack({"LOCAL_SCHEDULE_AT_START": "1"})
    assert eventually(lambda: "scheduler: deliver_webhooks ran in" in own.log.read_text(), True,
                      within=30)
    started = time.monotonic()
    own.process.send_signal(signal.SIGTERM)
    assert own.process.wait(timeout=20) == 0
    assert time.monotonic() - started < 10
    assert "stopping the scheduler" in own.log.read_text()
    assert not _listening(own.api_port) and not _listening(own.moto_port)
    assert not own.env_file.exists()
    own.log.unlink()
