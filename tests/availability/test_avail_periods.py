"""Periods in local time, previous periods, local days, and per-day bucketing."""

from __future__ import annotations

import itertools
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from threenines.availability.intervals import buckets, clip, normalise, total
from threenines.availability.periods import (
    PeriodError,
    local_days,
    parse_period,
    previous,
    rolling,
)

LONDON = ZoneInfo("Europe/London")


def local(ts):
    return datetime.fromtimestamp(ts, LONDON).strftime("%Y-%m-%d %H:%M %Z")


@pytest.mark.parametrize(
    ("text", "kind", "first", "last", "hours"),
    [
        ("2026-10", "month", date(2026, 10, 1), date(2026, 10, 31), 31 * 24 + 1),
        ("2026-03", "month", date(2026, 3, 1), date(2026, 3, 31), 31 * 24 - 1),
        ("2026-11", "month", date(2026, 11, 1), date(2026, 11, 30), 30 * 24),
        ("2026-Q4", "quarter", date(2026, 10, 1), date(2026, 12, 31), 92 * 24 + 1),
        ("2026-q1", "quarter", date(2026, 1, 1), date(2026, 3, 31), 90 * 24 - 1),
        ("2026", "year", date(2026, 1, 1), date(2026, 12, 31), 365 * 24),
        ("2026-10-01..2026-10-15", "range", date(2026, 10, 1), date(2026, 10, 15), 15 * 24),
    ],
)
def test_periods_are_local_calendar_windows(text, kind, first, last, hours):
    p = parse_period(text, LONDON)
    assert (p.kind, p.first, p.last) == (kind, first, last)
    assert p.seconds == hours * 3600
    assert local(p.start).endswith("00:00 BST") or local(p.start).endswith("00:00 GMT")


def test_previous_periods():
    assert previous(parse_period("2026-01", LONDON), LONDON).label == "2025-12"
    assert previous(parse_period("2026-Q1", LONDON), LONDON).label == "2025-Q4"
    assert previous(parse_period("2026", LONDON), LONDON).label == "2025"
    r = previous(parse_period("2026-10-11..2026-10-20", LONDON), LONDON)
    assert (r.first, r.last) == (date(2026, 10, 1), date(2026, 10, 10))
    roll = previous(rolling("1d", 1000000.0), LONDON)
    assert (roll.start, roll.end) == (1000000.0 - 2 * 86400, 1000000.0 - 86400)


@pytest.mark.parametrize("text", ["2026-13", "October", "2026-Q5", "2026-10-15..2026-10-01", ""])
def test_bad_periods_are_clear_errors(text):
    with pytest.raises(PeriodError):
        parse_period(text, LONDON)


def test_local_days_follow_local_midnight_across_dst():
    oct25 = parse_period("2026-10-24..2026-10-26", LONDON)
    days = local_days(oct25.start, oct25.end, LONDON)
    assert [d for d, _, _ in days] == [date(2026, 10, 24), date(2026, 10, 25), date(2026, 10, 26)]
    assert [(b - a) / 3600 for _, a, b in days] == [24, 25, 24]


spans = st.lists(st.tuples(st.integers(0, 1000), st.integers(1, 200)), max_size=8).map(
    lambda xs: normalise((a, a + d) for a, d in xs)
)


@given(spans, st.lists(st.integers(0, 1200), min_size=2, max_size=10, unique=True))
def test_buckets_equal_clipping_each_bucket(a, edges):
    edges = sorted(edges)
    expected = [total(clip(a, x, y)) for x, y in itertools.pairwise(edges)]
    assert buckets(a, edges) == pytest.approx(expected)
