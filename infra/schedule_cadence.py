"""When a scheduled job fires next, from its EventBridge schedule expression (the pure part of
the local scheduler, infra/local_scheduler.py).

The expressions are the ones `@app.schedule` deploys (`Rate.to_string()`, `Cron.to_string()` or
a raw string), so the local cadence and the deployed one come from one place:

- `rate(N minute|minutes|hour|hours|day|days)`: every N units from the moment the rule exists
  (locally: from the scheduler's start), never at that moment itself.
- `cron(minutes hours day-of-month month day-of-week year)`: the AWS six-field cron, in UTC.
  One of day-of-month and day-of-week must be `?`; day-of-week counts 1-7 from Sunday (cron's
  0-6 from Sunday, so numbers are shifted by one before croniter sees them). Supported: numbers,
  names, `*`, `,`, `-`, `/`, `L` and `W` in day-of-month, `#` in day-of-week. `L` in
  day-of-week is refused rather than guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from croniter import croniter

_RATE = re.compile(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)")
_CRON = re.compile(r"cron\(([^()]+)\)")
_UNITS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}


class Cadence(Protocol):
    def next_after(self, at: datetime, anchor: datetime) -> datetime:
        """The first fire strictly after `at`; `anchor` is when the schedule began."""
        ...


@dataclass(frozen=True)
class RateCadence:
    period: timedelta

    def next_after(self, at: datetime, anchor: datetime) -> datetime:
        if at < anchor:
            return anchor + self.period
        periods = (at - anchor) // self.period + 1
        return anchor + periods * self.period


@dataclass(frozen=True)
class CronCadence:
    expression: str  # croniter's form: minute hour dom month dow second year

    def next_after(self, at: datetime, anchor: datetime) -> datetime:
        del anchor  # a cron fires on the wall clock (UTC), whenever the rule was made
        fire: datetime = croniter(self.expression, at.astimezone(UTC)).get_next(datetime)
        return fire


def parse(expression: str) -> RateCadence | CronCadence:
    """The cadence of an EventBridge schedule expression; ValueError if it is not one."""
    text = expression.strip()
    if rate := _RATE.fullmatch(text):
        value, unit = int(rate[1]), rate[2].rstrip("s")
        if value < 1:
            raise ValueError(f"{expression!r}: a rate must be at least 1")
        if (value == 1) != (rate[2] == unit):
            raise ValueError(f"{expression!r}: AWS wants '1 {unit}' and 'N {unit}s'")
        return RateCadence(value * _UNITS[unit])
    if cron := _CRON.fullmatch(text):
        return CronCadence(croniter_form(cron[1]))
    raise ValueError(f"{expression!r} is neither rate(...) nor cron(...)")


def croniter_form(fields: str) -> str:
    """AWS's six cron fields as croniter's seven (seconds 0, year last), checked by croniter."""
    parts = fields.split()
    if len(parts) != 6:
        raise ValueError(f"cron({fields}): AWS cron has 6 fields, not {len(parts)}")
    minutes, hours, dom, month, dow, year = parts
    if (dom == "?") == (dow == "?"):
        raise ValueError(f"cron({fields}): exactly one of day-of-month and day-of-week is '?'")
    form = " ".join((minutes, hours, "*" if dom == "?" else dom, month,
                     "*" if dow == "?" else _cron_weekdays(dow), "0", year))
    if not croniter.is_valid(form):
        raise ValueError(f"cron({fields}) is not a valid schedule")
    return form


def _cron_weekdays(field: str) -> str:
    """AWS day-of-week (1 = SUN ... 7 = SAT) as cron's (0 = SUN ... 6 = SAT): every number of
    a value or range shifts down by one; steps (`/n`) and nth (`#n`) stay."""
    if "L" in field.upper():
        raise ValueError(f"day-of-week {field!r}: 'L' is not supported locally")

    def shift(value: str) -> str:
        if not value.isdigit():
            return value  # a name (MON) or *
        day = int(value)
        if not 1 <= day <= 7:
            raise ValueError(f"day-of-week {field!r}: AWS counts days 1-7")
        return str(day - 1)

    out = []
    for item in field.split(","):
        base, slash, step = item.partition("/")
        base, hash_, nth = base.partition("#")
        base = "-".join(shift(v) for v in base.split("-"))
        out.append(base + hash_ + nth + slash + step)
    return ",".join(out)
