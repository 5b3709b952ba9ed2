"""Which scheduled reports are due: table tests of the pure decision (no clock, no database),
across the BST/GMT changes, and a year simulated hour by hour sending each period once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from threenines.app.config import parse_config
from threenines.availability.periods import parse_period
from threenines.core.config import ConfigError
from threenines.reports.config import ReportSchedule
from threenines.reports.schedule import due, latest_complete, next_send, send_at

LONDON = ZoneInfo("Europe/London")


def sched(**kw: Any) -> ReportSchedule:
    return ReportSchedule(name="board", receivers=["board-email"], **kw)


def local(*args: int) -> float:
    return datetime(*args, tzinfo=LONDON).timestamp()  # type: ignore[misc]


def utc(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()  # type: ignore[misc]


MONTHLY = sched()  # day 1, 07:00, catch_up 7 days
CASES = [
    # (schedule, now, already recorded, due)
    (MONTHLY, local(2026, 11, 1, 6, 59), set(), []),
    (MONTHLY, local(2026, 11, 1, 7, 0), set(), ["2026-10"]),
    (MONTHLY, local(2026, 11, 8, 6, 59), set(), ["2026-10"]),  # the service was down: catch up
    (MONTHLY, local(2026, 11, 8, 7, 1), set(), []),  # too late: send it by hand
    (MONTHLY, local(2026, 11, 1, 7, 0), {"2026-10"}, []),  # a restart sends nothing twice
    (MONTHLY, local(2026, 11, 20, 12, 0), {"2026-10"}, []),
    (MONTHLY, local(2027, 1, 1, 7, 0), set(), ["2026-12"]),  # across the year
    (sched(catch_up="40d"), local(2026, 11, 1, 7, 0), set(), ["2026-09", "2026-10"]),
    (sched(catch_up="40d"), local(2026, 11, 1, 7, 0), {"2026-09"}, ["2026-10"]),
    (sched(day=28, time="23:59"), local(2026, 11, 28, 23, 58), set(), []),
    (sched(day=28, time="23:59"), local(2026, 11, 28, 23, 59), set(), ["2026-10"]),
    # BST ends 25 Oct 2026: 01:30 happens twice; the first (BST, 00:30 UTC) is the one
    (sched(day=25, time="01:30"), utc(2026, 10, 25, 0, 29), set(), []),
    (sched(day=25, time="01:30"), utc(2026, 10, 25, 0, 30), set(), ["2026-09"]),
    (sched(day=25, time="01:30"), utc(2026, 10, 25, 1, 30), {"2026-09"}, []),
    # BST starts 28 Mar 2027: 01:30 does not exist; it is read as 01:30 GMT (02:30 BST)
    (sched(day=28, time="01:30"), utc(2027, 3, 28, 1, 29), set(), []),
    (sched(day=28, time="01:30"), utc(2027, 3, 28, 1, 30), set(), ["2027-02"]),
    # a summer send time is local (BST): 07:00 BST is 06:00 UTC
    (MONTHLY, utc(2026, 7, 1, 5, 59), set(), []),
    (MONTHLY, utc(2026, 7, 1, 6, 0), set(), ["2026-06"]),
    (sched(period="quarterly", day=2, time="09:00"), local(2026, 10, 2, 9, 0), set(), ["2026-Q3"]),
    (sched(period="quarterly", day=2, time="09:00"), local(2026, 11, 2, 9, 0), set(), []),
    (sched(period="quarterly", day=2, time="09:00"), local(2027, 1, 2, 9, 0), set(), ["2026-Q4"]),
    (sched(period="yearly", day=5, time="08:00"), local(2027, 1, 5, 7, 59), set(), []),
    (sched(period="yearly", day=5, time="08:00"), local(2027, 1, 5, 8, 0), set(), ["2026"]),
    (sched(period="yearly", day=5, time="08:00"), local(2027, 1, 5, 8, 0), {"2026"}, []),
]


@pytest.mark.parametrize(("schedule", "now", "recorded", "expected"), CASES)
def test_due(schedule: ReportSchedule, now: float, recorded: set[str], expected: list[str]):
    assert [p.label for p in due(schedule, LONDON, now, recorded)] == expected


def test_send_at_and_next_send_are_local_and_dst_safe() -> None:
    oct_ = parse_period("2026-10", LONDON)
    assert send_at(MONTHLY, oct_, LONDON) == utc(2026, 11, 1, 7, 0)  # GMT by then
    assert next_send(MONTHLY, LONDON, local(2026, 10, 15, 12, 0)) == utc(2026, 11, 1, 7, 0)
    assert next_send(MONTHLY, LONDON, utc(2026, 11, 1, 7, 0)) == utc(2026, 12, 1, 7, 0)
    assert next_send(MONTHLY, LONDON, utc(2026, 3, 1, 6, 0)) == utc(2026, 3, 1, 7, 0)
    assert next_send(MONTHLY, LONDON, utc(2026, 3, 31, 12, 0)) == utc(2026, 4, 1, 6, 0)  # BST
    assert latest_complete("monthly", local(2026, 11, 1, 0, 0), LONDON).label == "2026-10"
    assert latest_complete("quarterly", local(2026, 11, 22, 0, 0), LONDON).label == "2026-Q3"
    assert latest_complete("yearly", local(2027, 1, 1, 0, 0), LONDON).label == "2026"


@pytest.mark.parametrize("kind", ["monthly", "quarterly", "yearly"])
def test_a_year_hour_by_hour_sends_each_period_once_at_its_time(kind: str) -> None:
    s = sched(period=kind, day=1, time="01:30")
    sent: dict[str, float] = {}
    now = local(2026, 1, 1, 0, 0)
    end = local(2028, 1, 1, 12, 0)
    while now < end:
        for p in due(s, LONDON, now, set(sent)):
            assert p.label not in sent
            sent[p.label] = now
        now += 1800
    per_year = {"monthly": 12, "quarterly": 4, "yearly": 1}[kind]
    assert len(sent) == 2 * per_year + 1  # 2025-12 .. 2027-12 (or 2025-Q4 .., 2025 ..)
    for label, when in sent.items():
        moment = send_at(s, parse_period(label, LONDON), LONDON)
        assert when == moment  # the first step at or after it: at 01:30 local, BST or GMT
        at = datetime.fromtimestamp(when, LONDON)
        assert (at.day, at.hour, at.minute) == (1, 1, 30)


def test_config_errors_name_the_schedule() -> None:
    text = """
sites: [{name: dc-main, kind: datacentre}]
alerts:
  receivers: [{name: board-email, url: "mailto://127.0.0.1?from=a@x.org&to=b@x.org"}]
reports:
  schedules:
    - {name: board, receivers: [board-email, nobody], site: atlantis}
    - {name: board, receivers: [board-email], time: "25:00", day: 31, formats: [pdf, pdf]}
"""
    with pytest.raises(ConfigError) as info:
        parse_config(text, file="r.yaml")
    assert str(info.value).splitlines() == [
        "r.yaml:8 reports.schedules[1].day (name=board): Input should be less than or equal to 28",
        "r.yaml:8 reports.schedules[1].time (name=board): '25:00' is not HH:MM (00:00 to 23:59)",
        "r.yaml:8 reports.schedules[1].formats (name=board): a format is listed twice",
        # cross-references in the same pass (the invalid schedule itself is left out of them)
        "r.yaml:7 reports.schedules[0].site (name=board): unknown site 'atlantis'",
        "r.yaml:7 reports.schedules[0].receivers[1] (name=board): "
        "unknown receiver 'nobody' (not in alerts.receivers)",
    ]
    text = text.replace('time: "25:00", day: 31, formats: [pdf, pdf]', "")
    with pytest.raises(ConfigError) as info:
        parse_config(text, file="r.yaml")
    assert str(info.value).splitlines() == [
        "r.yaml:7 reports.schedules[0].site (name=board): unknown site 'atlantis'",
        "r.yaml:7 reports.schedules[0].receivers[1] (name=board): "
        "unknown receiver 'nobody' (not in alerts.receivers)",
        "r.yaml:8 reports.schedules[1].name (name=board): duplicate name 'board'",
    ]
