"""Turn schedules (maintenance windows, service hours) into interval sets over a span.

Local times are resolved with ``zoneinfo``: a recurring window is expanded by croniter on
naive local wall-clock times and each occurrence is then placed in the zone, so a ``0 2 * * sun``
window stays at 02:00 local across the BST/GMT changes. A wall-clock time that does not exist
(the spring-forward hour) resolves to the instant it would have been before the change; an
ambiguous one (the repeated autumn hour) to its first occurrence.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

from threenines.availability.intervals import IntervalSet, normalise, subtract
from threenines.availability.periods import local_days
from threenines.core.config.calendar import HoursRule, MaintenanceWindow

MAX_OCCURRENCES = 100_000  # a '* * * * *' window over years must not run away


@dataclass(frozen=True, slots=True)
class Exclusion:
    """A concrete excluded window (maintenance or drill) with the scope it applies to.

    Empty ``services`` and ``sites`` means the whole estate.
    """

    start: float
    end: float
    name: str = ""
    reason: str = ""
    services: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()
    # Provenance of a stored window (``history``); a config window has none.
    record: int | None = None
    added_by: str = ""
    added_at: float | None = None
    retroactive: bool = False
    approved_by: str = ""

    def applies(self, service: str, site: str) -> bool:
        if not self.services and not self.sites:
            return True
        return service in self.services or site in self.sites


def _place(naive: datetime, tz: ZoneInfo) -> float:
    return naive.replace(tzinfo=tz).timestamp()


def _as_epoch(value: datetime, tz: ZoneInfo) -> float:
    return value.timestamp() if value.tzinfo is not None else _place(value, tz)


def expand(win: MaintenanceWindow, tz: ZoneInfo, start: float, end: float) -> list[Exclusion]:
    """Occurrences of ``win`` overlapping ``[start, end)``; ``tz`` is the default zone."""
    zone = ZoneInfo(win.timezone) if win.timezone else tz
    services, sites = tuple(win.services), tuple(win.sites)
    if win.start is not None and win.end is not None:
        a, b = _as_epoch(win.start, zone), _as_epoch(win.end, zone)
        return (
            [Exclusion(a, b, win.name, win.reason, services, sites)]
            if a < end and b > start
            else []
        )
    assert win.cron is not None and win.duration is not None
    out: list[Exclusion] = []
    # Start the search a duration (plus a day for zone offsets) early: an occurrence that began
    # before the span may still cover its start.
    first = datetime.fromtimestamp(start - win.duration, zone).replace(tzinfo=None)
    it = croniter(win.cron, first - timedelta(days=1))
    for _ in range(MAX_OCCURRENCES):
        a = _place(it.get_next(datetime), zone)
        if a >= end:
            break
        b = a + win.duration
        if b > start:
            out.append(Exclusion(a, b, win.name, win.reason, services, sites))
    return out


def expand_all(
    windows: Iterable[MaintenanceWindow], tz: ZoneInfo, start: float, end: float
) -> list[Exclusion]:
    return [occ for win in windows for occ in expand(win, tz, start, end)]


def excluded_for(exclusions: Sequence[Exclusion], service: str, site: str) -> IntervalSet:
    """The union of the exclusions that apply to ``service`` (of ``site``)."""
    return normalise((e.start, e.end) for e in exclusions if e.applies(service, site))


def outside_hours(
    rules: Sequence[HoursRule] | None, tz: ZoneInfo, start: float, end: float
) -> IntervalSet:
    """Time in ``[start, end)`` outside the service hours; empty for 24x7 (``None``)."""
    if not rules:
        return []
    opening: list[tuple[float, float]] = []
    for day, _a, _b in local_days(start - 86400, end + 86400, tz):
        midnight = datetime(day.year, day.month, day.day)
        for rule in rules:
            if day.weekday() not in rule.weekdays():
                continue
            first, last = rule.minutes()
            opening.append(
                (
                    _place(midnight + timedelta(minutes=first), tz),
                    _place(midnight + timedelta(minutes=last), tz),
                )
            )
    return subtract([(start, end)], normalise(opening))
