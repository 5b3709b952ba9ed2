"""The estate's calendar: maintenance windows and service hours (shared by every area).

``Config.maintenance`` is a list of ``MaintenanceWindow``; a ``Service`` has ``hours``.
Availability excludes them from its denominator, alerts hold notifications during them, and
failover's guards read them. Everything is parsed and validated at load time (cron
expressions, times, time zones), so a bad window fails before the service starts.
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from threenines.core.config.base import Name, StrictModel
from threenines.core.durations import Duration

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")


def check_timezone(value: str | None) -> str | None:
    if value is not None:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. Europe/London)") from None
    return value


def parse_days(text: str) -> frozenset[int]:
    """``mon-fri``, ``sat``, ``mon,wed,fri-sun`` -> weekday numbers (Monday is 0)."""
    out: set[int] = set()
    for part in text.lower().replace(" ", "").split(","):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise ValueError(f"{text!r}: days are mon..sun, e.g. 'mon-sat' or 'mon,wed'")
        a, b = DAYS.index(first), DAYS.index(last or first)
        out.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    return frozenset(out)


def _minutes(text: str) -> int:
    m = _TIME.match(text.strip())
    if not m or (m.group(1) == "24" and m.group(2) != "00"):
        raise ValueError(f"{text!r} is not a time HH:MM (00:00..24:00)")
    return int(m.group(1)) * 60 + int(m.group(2))


class HoursRule(StrictModel):
    """One line of a service-hours schedule: ``{days: mon-sat, time: "09:00-17:00"}``."""

    days: str
    time: str = Field(description="Local opening time span HH:MM-HH:MM (24:00 allowed)")

    @field_validator("days")
    @classmethod
    def _days(cls, value: str) -> str:
        parse_days(value)
        return value

    @field_validator("time")
    @classmethod
    def _time(cls, value: str) -> str:
        start, sep, end = value.partition("-")
        if not sep or _minutes(start) >= _minutes(end):
            raise ValueError(f"{value!r}: use HH:MM-HH:MM with the start before the end")
        return value

    def weekdays(self) -> frozenset[int]:
        return parse_days(self.days)

    def minutes(self) -> tuple[int, int]:
        start, _, end = self.time.partition("-")
        return _minutes(start), _minutes(end)


class MaintenanceWindow(StrictModel):
    """Planned work, excluded from the availability denominator.

    Either one-off (``start`` and ``end``, local times in ``timezone``) or recurring (``cron``
    in local time plus ``duration``). Scope: the listed services and every service of the listed
    sites; both empty means the whole estate.
    """

    name: Name
    reason: str = ""
    start: datetime | None = None
    end: datetime | None = None
    cron: str | None = Field(None, description="Recurring start, e.g. '0 2 * * sun'")
    duration: Duration | None = Field(None, gt=0)
    timezone: str | None = Field(None, description="Default: the configuration's time zone")
    services: list[Name] = Field(default_factory=list)
    sites: list[Name] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str | None) -> str | None:
        return check_timezone(value)

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        from croniter import croniter  # here: config loads stay fast without it

        if value is not None and not croniter.is_valid(value):
            raise ValueError(f"{value!r} is not a valid cron expression (e.g. '0 2 * * sun')")
        return value

    @model_validator(mode="after")
    def _shape(self) -> MaintenanceWindow:
        one_off = self.start is not None or self.end is not None
        recurring = self.cron is not None or self.duration is not None
        if one_off == recurring:
            raise ValueError("give either start and end, or cron and duration")
        if one_off and (self.start is None or self.end is None or self.end <= self.start):
            raise ValueError("a one-off window needs start and end, with end after start")
        if recurring and (self.cron is None or self.duration is None):
            raise ValueError("a recurring window needs both cron and duration")
        return self
