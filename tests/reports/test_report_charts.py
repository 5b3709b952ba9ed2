"""The board report's charts, rendered and measured: a month in progress, a full month, a month
with no data and one with 100 % downtime. Labels never overlap, values stay within the axes, the
burn chart ends at the period's end with today marked, and the bars tell 99.9 % from 100 %."""

from __future__ import annotations

import pytest
from svg_geometry import NS, check, svgs

from threenines.app.config import parse_config
from threenines.app.db import make_engine, migrate
from threenines.availability.periods import parse_period
from threenines.core.tables import state_intervals
from threenines.reports import svg
from threenines.reports.deliver import board_report
from threenines.reports.html import render_html

CONFIG = """
organisation: Chart Council
timezone: Europe/London
storage: {url: "URL"}
sites: [{name: dc-main, kind: datacentre}, {name: dc-mirror, kind: datacentre}]
services:
  - {name: email, site: dc-main, checks: [{name: owa, type: tcp, host: 127.0.0.1, port: 4}]}
  - {name: payments, site: dc-main, checks: [{name: web, type: tcp, host: 127.0.0.1, port: 5}]}
  - {name: intranet, site: dc-mirror, checks: [{name: web, type: tcp, host: 127.0.0.1, port: 6}]}
"""
NOV = parse_period("2026-11", __import__("zoneinfo").ZoneInfo("Europe/London"))
DAY = 86400.0


def _rows(check: str, spans: list[tuple[str, float, float]]) -> list[dict[str, object]]:
    return [
        dict(check_id=check, vantage="central", state=s, start=a, end=b, last_seen=b - 1,
             error="refused" if s == "down" else None, reason=s)
        for s, a, b in spans
    ]  # fmt: skip


CASES = {
    # 2 days in, email down 2 h: the old chart scaled the budget-so-far (8,333 %)
    "in-progress": (NOV.start + 2 * DAY, lambda end: [
        *_rows("email/owa", [("up", NOV.start, NOV.start + DAY), ("down", NOV.start + DAY,
               NOV.start + DAY + 7200), ("up", NOV.start + DAY + 7200, end)]),
        *_rows("payments/web", [("up", NOV.start, end)]),
        *_rows("intranet/web", [("up", NOV.start, end)])]),
    "full": (NOV.end + DAY, lambda end: [
        *_rows("email/owa", [("up", NOV.start, NOV.start + 3 * DAY), ("down", NOV.start + 3 * DAY,
               NOV.start + 3 * DAY + 900), ("up", NOV.start + 3 * DAY + 900, end)]),
        *_rows("payments/web", [("up", NOV.start, NOV.start + 9 * DAY), ("down",
               NOV.start + 9 * DAY, NOV.start + 9 * DAY + 2000), ("up", NOV.start + 9 * DAY
               + 2000, end)]),
        *_rows("intranet/web", [("up", NOV.start, end)])]),
    "no-data": (NOV.end + DAY, lambda end: []),
    "all-down": (NOV.end + DAY, lambda end: [
        r for c in ("email/owa", "payments/web", "intranet/web")
        for r in _rows(c, [("down", NOV.start, end)])]),
}  # fmt: skip


@pytest.fixture(params=sorted(CASES))
def case(request, tmp_path):
    now, make = CASES[request.param]
    url = f"sqlite:///{tmp_path}/c.db"
    engine = make_engine(url)
    migrate(engine)
    rows = make(min(now, NOV.end))
    if rows:
        with engine.begin() as conn:
            conn.execute(state_intervals.insert(), rows)
    cfg = parse_config(CONFIG.replace("URL", url))
    report = board_report(cfg, engine, NOV, now)
    yield request.param, now, report, render_html(report)
    engine.dispose()


def test_charts_have_no_overlaps_and_stay_in_their_axes(case) -> None:
    name, _now, report, html = case
    charts = svgs(html)
    assert len(charts) >= 3
    roots = [check(s) for s in charts]
    burn = next(r for r in roots if "Error budget" in (r.get("aria-label") or ""))
    labels = ["".join(t.itertext()) for t in burn.iter(f"{NS}text")]
    if name == "no-data":
        assert labels == ["no data: no budget used or counted"]
        return
    assert labels[-2:] == ["01 Nov", "30 Nov"]  # the period's end, not today
    assert ("today" in labels) is (name == "in-progress")
    if name == "in-progress":  # 2 h of a 3 x 30-day budget (7,776 s): 93 %, not 8,333 %
        assert 0.9 < report.burn[-1][1] < 0.95
        today = burn.find(f"{NS}line[@class='today']")
        plot = burn.find(f"{NS}rect[@class='plot']")
        assert today is not None and plot is not None
        share = (float(today.get("x1", 0)) - float(plot.get("x", 0))) / float(plot.get("width", 1))
        assert abs(share - 2 / 30) < 0.01


def test_bars_tell_99_9_from_100_even_beside_a_bad_service() -> None:
    chart = svg.availability_bars([("a", 100.0), ("b", 99.9), ("c", 58.7)], 99.9)
    root = check(chart)
    widths = [float(r.get("width", 0)) for r in root.iter(f"{NS}rect") if r.get("class") == "bar"]
    assert widths[0] - widths[1] > 40  # a tenth of a 420 px axis from 99.0 % to 100 %
    assert "58.700 %" in chart and "99.900 %" in chart


@pytest.mark.parametrize("peak", [0.0, 0.3, 1.0, 1.04, 7.5, 95.4, 10_000.0])
def test_burn_axis_ticks_never_crowd(peak) -> None:
    pts = [(0.0, 0.0), (50.0, peak / 2), (100.0, peak)]
    check(svg.burn_chart(pts, 0.0, 200.0, now=100.0, width=360, height=170))


SUMMARY = {
    "in-progress": "Chart Council missed its 99.9 % availability target for 2026-11 so far: 98.611",
    "full": "Chart Council met its 99.9 % availability target for 2026-11: 99.962 %",
    "all-down": "Chart Council missed its 99.9 % availability target for 2026-11: 0.000 %",
    "no-data": "No measurements were counted for 2026-11: no availability figure can be given",
}


def test_the_summary_says_met_missed_or_no_data(case) -> None:
    name, _now, report, html = case
    assert report.summary[0].startswith(SUMMARY[name]), report.summary
    assert report.summary[0] in html
    text = " ".join(report.summary)
    if name == "full":
        assert "Data centres: dc-main 99.944 % (met); dc-mirror 100.000 % (met)." in text
        assert "There were 2 incidents. The biggest: 2026-11-10 00:00, 33m20s: payments" in text
        assert "Mean time to recover: 24m10s." in text
        assert "Error budget left: 1h21m16s of 2h9m36s (62 %)." in text
    if name == "all-down":
        assert "3 of 3 services missed the target" in text
        assert "overspent" in text


def test_the_dr_section_and_summary_list_the_period_drills(tmp_path) -> None:
    from threenines.failover.store import drills

    url = f"sqlite:///{tmp_path}/d.db"
    engine = make_engine(url)
    migrate(engine)
    objectives = [
        {"name": "RTO (fault to all user journeys green)", "target": "<= 60s",
         "measured": "41.2s", "met": True},
        {"name": "RPO (data loss window: replication lag)", "target": "<= 30s",
         "measured": "6.7s", "met": True},
    ]  # fmt: skip
    with engine.begin() as conn:
        conn.execute(drills.insert(), [
            dict(plan="main-to-mirror", scenario="dc-cut", state="done", actor="alice",
                 started=NOV.start + 5 * DAY, finished=NOV.start + 5 * DAY + 300,
                 summary={"rto": 41.2, "rpo": 6.7, "objectives": objectives, "problems": []}),
            dict(plan="main-to-mirror", scenario="tabletop", state="done", actor="bob",
                 started=NOV.start + 9 * DAY, finished=NOV.start + 9 * DAY + 60,
                 summary={"objectives": objectives[:1], "problems": []}),
            dict(plan="main-to-mirror", scenario="dc-cut", state="done", actor="old",
                 started=NOV.start - 5 * DAY, finished=None, summary={}),  # October: not listed
        ])  # fmt: skip
    cfg = parse_config(CONFIG.replace("URL", url))
    report = board_report(cfg, engine, NOV, NOV.end + DAY)
    assert [d["scenario"] for d in report.drills] == ["dc-cut", "tabletop"]
    text = " ".join(report.summary)
    assert "2 DR drills ran: drill 1 of main-to-mirror (dc-cut): RTO 41.2s (met), RPO 6.7s " in text
    assert "drill 2 of main-to-mirror (tabletop): RTO not applicable (no fault)" in text
    html = render_html(report)
    assert '<h2 id="drills">DR drills</h2>' in html and "RTO 41.2s (met)" in html
    engine.dispose()


@pytest.mark.parametrize(
    "values",
    [[99.95, None, 100.0, 99.2, 58.7], [100.0] * 12, [None] * 11 + [99.9], [0.0, 100.0] * 6],
)
def test_trend_chart_geometry(values) -> None:
    labels = [f"2026-{m:02d}" for m in range(1, len(values) + 1)]
    pairs = list(zip(labels, values, strict=True))
    series = {"estate": pairs, "dc-main": [(x, None if v is None else v - 0.01) for x, v in pairs]}
    check(svg.trend_chart(series, 99.9))


def test_the_trend_reads_the_daily_summaries(tmp_path) -> None:
    from threenines.availability.store import DailySummary, write_daily

    url = f"sqlite:///{tmp_path}/t.db"
    engine = make_engine(url)
    migrate(engine)
    write_daily(engine, [  # September: email down an hour on one day
        DailySummary("service", "email", "2026-09-03", 0, 1, up=82800, down=3600),
        DailySummary("service", "payments", "2026-09-03", 0, 1, up=86400),
        DailySummary("service", "intranet", "2026-09-03", 0, 1, up=86400),
    ])  # fmt: skip
    cfg = parse_config(CONFIG.replace("URL", url))
    report = board_report(cfg, engine, NOV, NOV.end + DAY)
    estate = dict(report.monthly["estate"])
    assert len(estate) == 12 and estate["2026-08"] is None and estate["2026-11"] is None
    assert estate["2026-09"] == pytest.approx(100 * (1 - 3600 / (3 * 86400)))
    assert dict(report.monthly["dc-main"])["2026-09"] == pytest.approx(100 * (1 - 3600 / 172800))
    assert "Twelve months: the estate and each data centre" in render_html(report)
    engine.dispose()
