"""Which scheduled reports are due: pure functions of the schedule, the last period sent and
an explicit ``now``; no clock, no database.

A monthly schedule with ``day: 1, time: "07:00"`` sends October's report at 07:00 local time on
1 November. Local times are turned into instants with ``zoneinfo``: a time that does not exist
on a spring-forward day is read with the offset before the change (01:30 becomes 02:30 BST), a
time that occurs twice on an autumn day means its first occurrence, so a report is due at
exactly one instant per period whatever the clocks do.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from threenines.availability.periods import Period, parse_period, previous
from threenines.reports.config import PeriodKind, ReportSchedule

# Never look further back than this many periods, whatever catch_up says.
MAX_LOOKBACK = 36


def period_containing(kind: PeriodKind, day: date, tz: ZoneInfo) -> Period:
    """The calendar month, quarter or year that contains the local date ``day``."""
    if kind == "monthly":
        return parse_period(f"{day.year:04d}-{day.month:02d}", tz)
    if kind == "quarterly":
        return parse_period(f"{day.year:04d}-Q{(day.month + 2) // 3}", tz)
    return parse_period(f"{day.year:04d}", tz)


def latest_complete(kind: PeriodKind, now: float, tz: ZoneInfo) -> Period:
    """The last period of ``kind`` that ended at or before ``now``."""
    current = period_containing(kind, datetime.fromtimestamp(now, tz).date(), tz)
    return previous(current, tz)


def send_at(schedule: ReportSchedule, period: Period, tz: ZoneInfo) -> float:
    """The instant (UTC epoch) at which ``period``'s report is to be sent."""
    assert period.last is not None, "scheduled reports cover calendar periods"
    after = period.last + timedelta(days=1)  # the first local day after the period
    hh, mm = schedule.hour_minute
    return datetime(after.year, after.month, schedule.day, hh, mm, tzinfo=tz).timestamp()


def due(
    schedule: ReportSchedule, tz: ZoneInfo, now: float, sent: Collection[str] = ()
) -> list[Period]:
    """Periods whose report should be sent now, oldest first.

    ``sent`` holds the labels of the periods already recorded for this schedule (sent, being
    sent or queued, by the scheduler or by ``threenines report send``). A period is due when
    its send time has come, is no more than ``schedule.catch_up`` ago, and it is not in
    ``sent``: so a new schedule does not send years of history, and a restart sends nothing
    twice.
    """
    out: list[Period] = []
    period = period_containing(schedule.period, datetime.fromtimestamp(now, tz).date(), tz)
    for _ in range(MAX_LOOKBACK):
        period = previous(period, tz)
        moment = send_at(schedule, period, tz)
        if moment > now:
            continue  # not yet: an older period may still be due (e.g. a late send day)
        if now - moment > schedule.catch_up:
            break
        if period.label not in sent:
            out.append(period)
    return out[::-1]


def next_send(schedule: ReportSchedule, tz: ZoneInfo, now: float) -> float:
    """The first send time after ``now`` (to sleep until), whatever has been sent."""
    period = period_containing(schedule.period, datetime.fromtimestamp(now, tz).date(), tz)
    moment = send_at(schedule, previous(period, tz), tz)
    return moment if moment > now else send_at(schedule, period, tz)
