"""Reporting periods in local time, converted to UTC epoch windows.

``2026-10`` means local midnight 1 October to local midnight 1 November in the configured time
zone, so a month containing the BST->GMT change is 31 days and one hour long, and a day of
the change is 25 hours: availability is always measured over the real elapsed seconds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from threenines.core.durations import parse_duration

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-[Qq]([1-4])$")
_YEAR = re.compile(r"^(\d{4})$")
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")


class PeriodError(ValueError):
    """A period or window string that cannot be understood."""


@dataclass(frozen=True, slots=True)
class Period:
    """A window ``[start, end)`` in UTC epoch seconds, with its local-calendar meaning.

    ``first`` and ``last`` are the local dates covered (inclusive) for calendar periods, and
    ``None`` for rolling windows such as ``30d``.
    """

    label: str
    kind: str  # month | quarter | year | range | rolling
    start: float
    end: float
    first: date | None = None
    last: date | None = None

    @property
    def seconds(self) -> float:
        return self.end - self.start


def local_midnight(day: date, tz: ZoneInfo) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()


def _calendar(label: str, kind: str, first: date, after: date, tz: ZoneInfo) -> Period:
    last = after - timedelta(days=1)
    return Period(label, kind, local_midnight(first, tz), local_midnight(after, tz), first, last)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def month(year: int, mon: int, tz: ZoneInfo) -> Period:
    first = date(year, mon, 1)
    return _calendar(f"{year:04d}-{mon:02d}", "month", first, _add_months(first, 1), tz)


def parse_period(text: str, tz: ZoneInfo) -> Period:
    """``2026-10`` | ``2026-Q4`` | ``2026`` | ``2026-10-01..2026-10-15`` (dates inclusive)."""
    text = text.strip()
    try:
        if m := _MONTH.match(text):
            return month(int(m.group(1)), int(m.group(2)), tz)
        if m := _QUARTER.match(text):
            first = date(int(m.group(1)), 3 * int(m.group(2)) - 2, 1)
            label = f"{first.year}-Q{m.group(2)}"
            return _calendar(label, "quarter", first, _add_months(first, 3), tz)
        if m := _YEAR.match(text):
            first = date(int(text), 1, 1)
            return _calendar(text, "year", first, date(first.year + 1, 1, 1), tz)
        if m := _RANGE.match(text):
            first, last = date.fromisoformat(m.group(1)), date.fromisoformat(m.group(2))
            if last < first:
                raise PeriodError(f"{text!r}: the end date is before the start date")
            return _calendar(text, "range", first, last + timedelta(days=1), tz)
    except ValueError as exc:
        if isinstance(exc, PeriodError):
            raise
        raise PeriodError(f"{text!r}: {exc}") from None
    raise PeriodError(
        f"{text!r} is not a period: use 2026-10, 2026-Q4, 2026 or 2026-10-01..2026-10-15"
    )


def rolling(text: str, now: float) -> Period:
    """A window ending at ``now``: ``30d``, ``6h``, ``1h30m``."""
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise PeriodError(str(exc)) from None
    if seconds <= 0:
        raise PeriodError(f"{text!r}: a window must be longer than zero")
    return Period(text, "rolling", now - seconds, now)


def previous(period: Period, tz: ZoneInfo) -> Period:
    """The period of the same kind just before ``period`` (same length for ranges/rolling)."""
    if period.first is None or period.last is None:
        length = period.seconds
        return Period(f"{period.label} before", "rolling", period.start - length, period.start)
    if period.kind == "month":
        first = _add_months(period.first, -1)
        return month(first.year, first.month, tz)
    if period.kind == "quarter":
        first = _add_months(period.first, -3)
        after = period.first
        return _calendar(f"{first.year}-Q{(first.month + 2) // 3}", "quarter", first, after, tz)
    if period.kind == "year":
        first = date(period.first.year - 1, 1, 1)
        return _calendar(str(first.year), "year", first, period.first, tz)
    days = (period.last - period.first).days + 1
    first = period.first - timedelta(days=days)
    last = period.first - timedelta(days=1)
    return _calendar(f"{first}..{last}", "range", first, period.first, tz)


def local_days(start: float, end: float, tz: ZoneInfo) -> list[tuple[date, float, float]]:
    """Local calendar days overlapping ``[start, end)``, each clipped to the window."""
    out: list[tuple[date, float, float]] = []
    day = datetime.fromtimestamp(start, tz).date()
    while True:
        a = max(local_midnight(day, tz), start)
        b = min(local_midnight(day + timedelta(days=1), tz), end)
        if a >= end:
            return out
        out.append((day, a, b))
        day += timedelta(days=1)


def local_text(ts: float, tz: ZoneInfo, fmt: str = "%Y-%m-%d %H:%M %Z") -> str:
    return datetime.fromtimestamp(ts, tz).strftime(fmt)
