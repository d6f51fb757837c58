"""The local scheduler (`make run`): next-fire times of the deployed expressions against values
worked out by hand, the jobs read from the app itself, and one run's logging and isolation."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from chalice import Chalice, Cron, Rate

import app as app_module
from infra.local_scheduler import COMMAND_ONLY, Job, LocalScheduler, scheduled_jobs
from infra.schedule_cadence import RateCadence, croniter_form, parse


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


ANCHOR = at("2026-03-01T00:00:00")  # a Sunday (1 Jan 2026 is a Thursday; +59 days)


@pytest.mark.parametrize(("expression", "now", "expected"), [
    ("rate(5 minutes)", "2026-03-01T00:00:00", "2026-03-01T00:05:00"),  # never at the start
    ("rate(5 minutes)", "2026-03-01T00:05:00", "2026-03-01T00:10:00"),  # strictly after
    ("rate(5 minutes)", "2026-03-01T00:07:30", "2026-03-01T00:10:00"),
    ("rate(1 minute)", "2026-03-01T00:00:59.999", "2026-03-01T00:01:00"),
    ("rate(15 minutes)", "2026-03-01T10:59:00", "2026-03-01T11:00:00"),  # 44 periods on
    ("rate(2 hours)", "2026-03-01T03:00:00", "2026-03-01T04:00:00"),
    ("rate(1 day)", "2026-03-02T00:00:00", "2026-03-03T00:00:00"),
    ("rate(5 minutes)", "2026-02-28T23:00:00", "2026-03-01T00:05:00"),  # a clock before start
])
def test_rate_fires_every_period_from_the_schedules_start(expression, now, expected):
    assert parse(expression).next_after(at(now), ANCHOR) == at(expected)


@pytest.mark.parametrize(("expression", "now", "expected"), [
    # the nightly checks' cron(30 1 * * ? *): 01:30 UTC every day
    ("cron(30 1 * * ? *)", "2026-03-01T01:29:59", "2026-03-01T01:30:00"),
    ("cron(30 1 * * ? *)", "2026-03-01T01:30:00", "2026-03-02T01:30:00"),
    ("cron(30 1 * * ? *)", "2026-12-31T02:00:00", "2027-01-01T01:30:00"),
    ("cron(0/15 * * * ? *)", "2026-03-01T10:07:00", "2026-03-01T10:15:00"),
    # AWS counts weekdays from SUN = 1: 2 is Monday, the day after Sunday 1 March
    ("cron(0 9 ? * 2 *)", "2026-03-01T12:00:00", "2026-03-02T09:00:00"),
    ("cron(0 9 ? * 7 *)", "2026-03-01T12:00:00", "2026-03-07T09:00:00"),  # 7 = SAT
    ("cron(0 9 ? * 1 *)", "2026-03-01T08:00:00", "2026-03-01T09:00:00"),  # 1 = SUN
    ("cron(0 12 ? * MON-FRI *)", "2026-03-06T12:00:00", "2026-03-09T12:00:00"),  # Fri → Mon
    ("cron(0 12 ? * 2-6 *)", "2026-03-06T12:00:00", "2026-03-09T12:00:00"),  # the same
    ("cron(0 18 ? * 6#2 *)", "2026-03-01T00:00:00", "2026-03-13T18:00:00"),  # 2nd Friday
    ("cron(0 0 L * ? *)", "2026-02-10T00:00:00", "2026-02-28T00:00:00"),  # last day
    ("cron(0 0 1 1 ? 2028)", "2026-03-01T00:00:00", "2028-01-01T00:00:00"),  # a year field
])
def test_cron_fires_on_the_aws_fields_in_utc(expression, now, expected):
    assert parse(expression).next_after(at(now), ANCHOR) == at(expected)


def test_cron_in_another_zone_is_read_as_the_same_instant():
    shanghai = at("2026-03-01T01:29:00").astimezone(datetime.now().astimezone().tzinfo)
    assert parse("cron(30 1 * * ? *)").next_after(shanghai, ANCHOR) == at("2026-03-01T01:30:00")


@pytest.mark.parametrize("expression", [
    "rate(0 minutes)", "rate(1 minutes)", "rate(5 minute)", "rate(5 seconds)", "every 5 min",
    "cron(30 1 * * *)",  # five fields: cron's, not AWS's
    "cron(30 1 * * 2 *)",  # day-of-month and day-of-week both set
    "cron(30 1 ? * ? *)",  # neither
    "cron(30 1 ? * 8 *)", "cron(30 1 ? * 0 *)",  # AWS days are 1-7
    "cron(0 0 ? * 6L *)",  # L in day-of-week: refused, not guessed
    "cron(61 1 * * ? *)",
])
def test_expressions_aws_would_refuse_are_refused(expression):
    with pytest.raises(ValueError):
        parse(expression)


def test_weekday_numbers_shift_but_steps_and_nth_stay():
    assert croniter_form("0 9 ? * 2-6/2,1 *") == "0 9 * * 1-5/2,0 0 *"
    assert croniter_form("0 9 ? * 1#3 2027") == "0 9 * * 0#3 0 2027"
    assert croniter_form("0 9 1,15 * ? *") == "0 9 1,15 * * 0 *"


def test_jobs_are_the_apps_own_schedules_close_of_business_only_when_asked():
    deployed = {s.name: s.schedule_expression.to_string() for s in app_module.app.event_sources
                if hasattr(s, "schedule_expression")}
    assert deployed.keys() >= COMMAND_ONLY  # a rename must not schedule close of business
    default = {j.name: j.expression for j in scheduled_jobs(app_module.app)}
    assert default == {k: v for k, v in deployed.items() if k not in COMMAND_ONLY}
    assert {"deliver_webhooks": "rate(1 minute)",
            "nightly_reconciliation": "cron(30 1 * * ? *)"}.items() <= default.items()
    every = {j.name: j.expression for j in scheduled_jobs(app_module.app, include_cob=True)}
    assert every == deployed
    timeouts = {j.name: j.timeout_s for j in scheduled_jobs(app_module.app)}
    assert timeouts["deliver_webhooks"] == 60 and timeouts["nightly_reconciliation"] == 900


def _tiny_app(seen: list, *, fail: bool = False, sleep_s: float = 0.0) -> Chalice:
    tiny = Chalice(app_name="tiny")

    @tiny.schedule(Rate(1, unit=Rate.MINUTES))
    def tick(event):
        seen.append((event.source, event.detail_type, event.resources,
                     event.context.get_remaining_time_in_millis()))
        time.sleep(sleep_s)
        if fail:
            raise RuntimeError("boom")
        logging.getLogger("lending.jobs").info("tick: %s", {"done": len(seen)})

    @tiny.schedule(Cron(0, 3, "?", "*", "MON", "*"))
    def weekly(_event):
        return None

    return tiny


def test_a_run_goes_through_the_apps_handler_and_logs_its_result_line():
    seen: list = []
    lines: list[str] = []
    jobs = scheduled_jobs(_tiny_app(seen), timeout_of=lambda _name: 45)
    assert [(j.name, j.expression) for j in jobs] == [("tick", "rate(1 minute)"),
                                                      ("weekly", "cron(0 3 ? * MON *)")]
    scheduler = LocalScheduler(jobs, out=lines.append)
    scheduler.start()
    try:
        assert scheduler.run(jobs[0]) is True
    finally:
        scheduler.stop()
    source, kind, resources, remaining = seen[0]
    assert (source, kind) == ("aws.events", "Scheduled Event")
    assert resources[0].endswith(":rule/tick") and 40_000 < remaining <= 45_000
    assert any(line.startswith("scheduler: tick ran in ") and line.endswith("tick: {'done': 1}")
               for line in lines), lines
    assert any(line.startswith("scheduler: weekly cron(0 3 ? * MON *), first at ")
               for line in lines), lines


def test_a_failing_run_is_logged_and_the_schedule_goes_on():
    seen: list = []
    lines: list[str] = []
    job = scheduled_jobs(_tiny_app(seen, fail=True), timeout_of=lambda _name: 5)[0]
    fast = Job(job.name, job.expression, RateCadence(timedelta(milliseconds=100)), job.handler)
    scheduler = LocalScheduler([fast], out=lines.append)
    scheduler.start()
    deadline = time.monotonic() + 10
    while len(seen) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    scheduler.stop()
    assert len(seen) >= 3  # it fired again after each failure
    failures = [line for line in lines if line.startswith("scheduler: tick failed after ")]
    assert failures and "RuntimeError('boom')" in failures[0] and "Traceback" in failures[0]


def test_a_run_longer_than_its_period_never_overlaps_itself_and_stop_is_bounded():
    active, most = [0], [0]
    lock = threading.Lock()
    lines: list[str] = []

    def slow(_event, _context):
        with lock:
            active[0] += 1
            most[0] = max(most[0], active[0])
        time.sleep(0.25)
        with lock:
            active[0] -= 1

    job = Job("slow", "rate(1 minute)", RateCadence(timedelta(milliseconds=50)), slow)
    scheduler = LocalScheduler([job], out=lines.append, run_at_start=True)
    scheduler.start()
    time.sleep(1.0)
    started = time.monotonic()
    scheduler.stop(timeout=2)
    assert time.monotonic() - started < 2.5
    assert most[0] == 1
    assert sum("ran in" in line for line in lines) >= 2
    assert any("overran its period" in line and "skipped" in line for line in lines), lines
