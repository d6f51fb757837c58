"""`make run` behaves like the deployment: its scheduler delivers webhooks at the deployed
cadence (every minute) to a receiver on 127.0.0.1 with no manual step, signed per Standard
Webhooks, and runs every other scheduled job, close of business only when asked."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from standardwebhooks import Webhook

import app as app_module
from infra.local_scheduler import COMMAND_ONLY
from tests.e2e.conftest import Stack, start_stack, stop_stack
from tests.e2e.test_disbursement import product, tenant_with_keys
from tests.e2e.test_local_stack import _post
from tests.integration.origination.conftest import application
from tests.lag import eventually
from tests.webhook_receiver import receiving

pytestmark = pytest.mark.e2e

DELIVERY_WAIT_S = 150  # the job runs every minute; its first run is a minute after start
SCHEDULED = [s.name for s in app_module.app.event_sources if hasattr(s, "schedule_expression")]


@contextmanager
def own_stack(**options: str) -> Iterator[Stack]:
    stack = start_stack(options)
    try:
        yield stack
    finally:
        if stack.process.poll() is None:
            stop_stack(stack)


def ran(stack: Stack) -> set[str]:
    """The jobs the stack's log says ran (`scheduler: <job> ran in ...`)."""
    return set(re.findall(r"^scheduler: (\w+) ran in ", stack.log.read_text(errors="replace"),
                          re.MULTILINE))


def test_a_decision_reaches_a_receiver_on_127_0_0_1_signed_with_no_manual_step():
    with own_stack() as stack, receiving() as receiver:
        keys = tenant_with_keys(stack)
        hook = _post(stack, "/v1/webhooks", {"url": receiver.url(),
                                             "event_types": ["application.decided"]},
                     keys["admin"])
        assert hook.status_code == 201, hook.text
        submitted = _post(stack, "/v1/applications", application(product(stack, keys)),
                          keys["partner"])
        assert submitted.status_code == 201, submitted.text
        decided = submitted.json()
        waited = time.monotonic()
        while not receiver.got() and time.monotonic() - waited < DELIVERY_WAIT_S:
            time.sleep(0.5)
        got = receiver.got()
        assert got, (f"no webhook within {DELIVERY_WAIT_S} s; the stack's log:\n"
                     + stack.log.read_text(errors="replace")[-3000:])
        assert len(got) == 1 and got[0].path == "/hook"
        event = Webhook(hook.json()["secret"]).verify(got[0].body, got[0].headers)
        assert event["id"] == got[0].headers["webhook-id"]
        assert event["type"] == "application.decided"
        assert {k: event["data"][k] for k in ("application_id", "product_id", "status")} == {
            "application_id": decided["id"], "product_id": decided["product_id"],
            "status": decided["status"]}
        assert event["data"]["amount"] == {"amount": "10000.00", "currency": "CNY"}
        assert event["data"]["outcome"] == decided["decision"]["outcome"]
        assert "applicant" not in event["data"]  # no personal data in a payload
        # the scheduler's run delivered it (its line is logged once the run ends, after the
        # receiver got the request), and the API shows the delivery as done
        logged = re.compile(r"^scheduler: deliver_webhooks ran in [\d.]+ s: webhooks: .*"
                            r"'delivered': 1", re.MULTILINE)
        assert eventually(lambda: bool(logged.search(stack.log.read_text())), True, within=30)
        listed = eventually(lambda: stack.call(
            "GET", f"/v1/webhooks/{hook.json()['id']}/deliveries", keys["admin"]
        ).json()["data"][0]["status"], "delivered")
        assert listed == "delivered"


@pytest.mark.parametrize(("options", "expected"), [
    ({}, set(SCHEDULED) - COMMAND_ONLY),
    ({"LOCAL_SCHEDULE_COB": "1"}, set(SCHEDULED)),
], ids=["default", "with-cob"])
def test_every_scheduled_job_runs_through_the_app_close_of_business_only_when_asked(
        options, expected):
    with own_stack(LOCAL_SCHEDULE_AT_START="1", **options) as stack:
        # each job's first run starts at once; under a loaded machine some take a while
        got = eventually(lambda: ran(stack), expected, within=120)
        log = stack.log.read_text()
        assert got == expected, f"missing {expected - got}; the stack's log:\n{log[-4000:]}"
    for job in expected:  # each announced with its deployed expression, then its result line
        assert re.search(rf"^scheduler: {job} (rate|cron)\(.*\), now and first at ", log,
                         re.MULTILINE), job
    assert "failed after" not in log
    if not options:
        assert not re.search(r"^scheduler: (resume_)?close_of_business", log, re.MULTILINE)
