"""Accounting against hand-computed timelines, plus properties (hypothesis)."""

from __future__ import annotations

import itertools
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from threenines.availability.accounting import account, allowed_downtime
from threenines.availability.intervals import intersect, normalise, total
from threenines.availability.periods import local_midnight, parse_period
from threenines.availability.schedule import expand, outside_hours
from threenines.availability.timeline import Seg
from threenines.core.config.calendar import HoursRule, MaintenanceWindow
from threenines.core.durations import format_duration

LONDON = ZoneInfo("Europe/London")


def up_except(start, end, *downs):
    """Up over [start, end) except the given down spans."""
    out, cur = [], start
    for a, b in downs:
        if a > cur:
            out.append(Seg(cur, a, "up"))
        out.append(Seg(a, b, "down", "refused"))
        cur = b
    if cur < end:
        out.append(Seg(cur, end, "up"))
    return out


def test_november_exactly_43m12s_meets_and_43m13s_misses():
    nov = parse_period("2026-11", LONDON)
    assert nov.seconds == 30 * 86400
    mid = nov.start + 10 * 86400
    ok = account(up_except(nov.start, nov.end, (mid, mid + 2592)), nov.start, nov.end, 99.9)
    assert ok.allowed == 2592.0 and format_duration(ok.allowed) == "43m12s"
    assert ok.down == 2592 and ok.met is True and ok.remaining == 0
    assert ok.availability is not None and abs(ok.availability - 0.999) < 1e-12
    bad = account(up_except(nov.start, nov.end, (mid, mid + 2593)), nov.start, nov.end, 99.9)
    assert bad.met is False and bad.remaining == -1


def test_31_day_month_budget_is_44m38_4s_and_october_has_an_extra_hour():
    dec = parse_period("2026-12", LONDON)
    f = account(up_except(dec.start, dec.end), dec.start, dec.end, 99.9)
    assert f.allowed == 2678.4 and format_duration(f.allowed) == "44m38.4s"
    assert allowed_downtime(31 * 86400, 99.9) == 2678.4
    # October 2026 in London ends on GMT: 31 days + 1 hour of real time
    octo = parse_period("2026-10", LONDON)
    assert octo.seconds == 31 * 86400 + 3600
    g = account(up_except(octo.start, octo.end), octo.start, octo.end, 99.9)
    assert g.allowed == 2682.0


def test_dst_autumn_day_is_25_hours_and_spring_day_23():
    autumn = parse_period("2026-10-25..2026-10-25", LONDON)
    spring = parse_period("2026-03-29..2026-03-29", LONDON)
    assert autumn.seconds == 25 * 3600 and spring.seconds == 23 * 3600
    # down from local midnight to 03:00 GMT on the autumn day: 4 real hours (01:00 twice)
    down_end = local_midnight(autumn.first, LONDON) + 4 * 3600
    f = account(up_except(autumn.start, autumn.end, (autumn.start, down_end)), *_w(autumn), 99.9)
    assert f.down == 4 * 3600 and f.availability == 21 / 25


def _w(p):
    return p.start, p.end


def test_recurring_maintenance_keeps_local_time_across_dst():
    win = MaintenanceWindow(name="sun", cron="0 2 * * sun", duration=3600)
    octo = parse_period("2026-10", LONDON)
    occ = expand(win, LONDON, octo.start, octo.end)
    assert len(occ) == 4  # Sundays 4, 11, 18, 25 October 2026
    hours_utc = [int((o.start % 86400) // 3600) for o in occ]
    assert hours_utc == [1, 1, 1, 2]  # 02:00 BST = 01:00 UTC; 02:00 GMT on the 25th
    # the repeated hour 01:00-02:00 on 25 Oct resolves to its first occurrence (BST)
    # and a spring-forward time that does not exist (01:30 on 29 March) to 01:30 GMT
    spring = MaintenanceWindow(name="gap", cron="30 1 29 3 *", duration=600)
    mar = parse_period("2026-03", LONDON)
    (gap,) = expand(spring, LONDON, mar.start, mar.end)
    assert int(gap.start % 86400) == 90 * 60
    amb = MaintenanceWindow(name="amb", cron="30 1 25 10 *", duration=600)
    (only,) = expand(amb, LONDON, octo.start, octo.end)
    assert int(only.start % 86400) == 30 * 60  # 01:30 BST = 00:30 UTC


def test_overlapping_maintenance_excluded_once():
    day = parse_period("2026-11-10..2026-11-10", LONDON)
    h = 3600
    maint = normalise(
        [(day.start + 10 * h, day.start + 12 * h), (day.start + 11 * h, day.start + 13 * h)]
    )
    tl = up_except(day.start, day.end, (day.start + 11.5 * h, day.start + 14 * h))
    f = account(tl, day.start, day.end, 99.9, maintenance=maint)
    assert f.maintenance == 3 * h and f.down == 1 * h and f.down_excluded == 1.5 * h
    assert f.counted == 21 * h
    # a drill overlapping maintenance is only counted for its own part
    f2 = account(
        tl,
        day.start,
        day.end,
        99.9,
        maintenance=maint,
        drills=[(day.start + 12 * h, day.start + 15 * h)],
    )
    assert f2.drill == 2 * h and f2.down == 0


def test_no_data_gap_excluded_from_both_sides_and_reported():
    day = parse_period("2026-11-10..2026-11-10", LONDON)
    h = 3600
    tl = [Seg(day.start, day.start + 6 * h, "up"), Seg(day.start + 8 * h, day.end, "down", "x")]
    f = account(tl, day.start, day.end, 99.9)
    assert f.nodata == 2 * h and f.up == 6 * h and f.down == 16 * h
    assert f.availability == 6 / 22
    empty = account([], day.start, day.end, 99.9)
    assert empty.availability is None and empty.met is None and empty.nodata == 24 * h


def test_degraded_counts_as_up_by_default_and_is_reported():
    tl = [Seg(0, 50, "up"), Seg(50, 100, "degraded", "slow")]
    assert account(tl, 0, 100, 99.9).availability == 1.0
    assert account(tl, 0, 100, 99.9).degraded == 50
    assert account(tl, 0, 100, 99.9, degraded_is_up=False).availability == 0.5


def test_service_hours_library_mon_sat_9_to_5():
    rules = [HoursRule(days="mon-sat", time="09:00-17:00")]
    week = parse_period("2026-11-08..2026-11-14", LONDON)  # Sunday 8 .. Saturday 14
    off = outside_hours(rules, LONDON, week.start, week.end)
    assert week.seconds - total(off) == 6 * 8 * 3600
    sunday = week.start
    monday = week.start + 86400
    tl = up_except(
        week.start, week.end, (sunday, sunday + 86400), (monday + 8 * 3600, monday + 10 * 3600)
    )
    f = account(tl, week.start, week.end, 99.9, outside_hours=off)
    assert f.down == 3600 and f.counted == 48 * 3600


# -- properties ---------------------------------------------------------------------------

STATES = st.sampled_from(["up", "degraded", "down", None])


@st.composite
def timelines(draw):
    cuts = sorted(set(draw(st.lists(st.integers(0, 1000), min_size=2, max_size=12))))
    out = []
    for a, b in itertools.pairwise(cuts):
        state = draw(STATES)
        if state:
            out.append(Seg(a, b, state))
    return out


span_sets = st.lists(st.tuples(st.integers(0, 1000), st.integers(1, 300)), max_size=5).map(
    lambda xs: normalise((a, a + d) for a, d in xs)
)


@given(timelines(), span_sets, st.booleans())
def test_availability_is_a_ratio(tl, maint, degraded_is_up):
    f = account(tl, 0, 1000, 99.9, maintenance=maint, degraded_is_up=degraded_is_up)
    assert f.availability is None or 0.0 <= f.availability <= 1.0
    assert abs(f.counted + f.nodata + f.maintenance - 1000) < 1e-9


@given(timelines(), span_sets, st.integers(1, 999))
def test_split_and_recombine_gives_same_downtime(tl, maint, cut):
    whole = account(tl, 0, 1000, 99.9, maintenance=maint)
    left = account(tl, 0, cut, 99.9, maintenance=maint)
    right = account(tl, cut, 1000, 99.9, maintenance=maint)
    assert abs(left.down + right.down - whole.down) < 1e-9
    assert abs(left.counted + right.counted - whole.counted) < 1e-9


@given(timelines(), span_sets, span_sets)
def test_more_maintenance_never_increases_downtime_and_none_is_counted_inside(tl, m1, m2):
    base = account(tl, 0, 1000, 99.9, maintenance=m1)
    more = account(tl, 0, 1000, 99.9, maintenance=normalise([*m1, *m2]))
    assert more.down <= base.down + 1e-9
    assert total(intersect(list(more.bad_spans), normalise([*m1, *m2]))) == 0
