"""The board report's batched reads and passes give exactly the per-service figures.

The report loads the whole estate's intervals in a few statements (``load_intervals`` with
more keys than ``PER_KEY_LIMIT``) and counts incidents and reliability in one pass
(``incidents.reliabilities``, ``incidents.incident_counts``). Here a small estate (40
services, two vantage points each: 80 keys) with a seeded history is stored in a real
database (SQLite and PostgreSQL), and every service's row is held equal to the figures of the
per-service computation: ``load_estate(..., services=[name])`` (the per-key reads) and
``reliability`` for that service alone.
"""

from __future__ import annotations

import random
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from threenines.app.config import Config
from threenines.app.db import make_engine, migrate
from threenines.availability.incidents import reliability
from threenines.availability.load import interval_keys, load_estate
from threenines.availability.periods import Period, parse_period, previous
from threenines.availability.store import PER_KEY_LIMIT, load_intervals
from threenines.core.tables import state_intervals
from threenines.reports.board import TREND_PERIODS
from threenines.reports.deliver import board_report

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 11, 10, 12, 0, tzinfo=LONDON).timestamp()
HISTORY = datetime(2026, 5, 1, tzinfo=LONDON).timestamp()
VANTAGES = ("central", "agent-town")


def _config(url: str) -> Config:
    sites = [
        {"name": "dc-main", "kind": "datacentre"},
        {"name": "dc-mirror", "kind": "datacentre", "mirror_of": "dc-main"},
    ]
    sites += [{"name": f"site{i}", "depends_on": [f"wan-site{i}"]} for i in range(3)]
    services: list[dict[str, object]] = [
        {"name": f"wan-site{i}", "site": f"site{i}", "checks": [_check(i)]} for i in range(3)
    ]
    for k in range(37):
        site = ("dc-main", "dc-mirror", f"site{k % 3}")[k % 3]
        svc: dict[str, object] = {"name": f"svc{k:02d}", "site": site, "checks": [_check(k)]}
        if k % 7 == 0:
            svc["depends_on"] = ["svc01"] if k else []
        if k % 5 == 4:
            svc["degraded_is_up"] = False
        services.append(svc)
    return Config.model_validate(
        {
            "organisation": "Batch Borough Council",
            "timezone": "Europe/London",
            "storage": {"url": url},
            "sites": sites,
            "vantage_points": [{"name": "agent-town", "site": "dc-mirror"}],
            "services": services,
            "maintenance": [
                {"name": "patch", "cron": "0 2 * * sun", "duration": "1h", "sites": ["dc-main"]}
            ],
        }
    )


def _check(k: int) -> dict[str, object]:
    return {"name": "web", "type": "tcp", "host": "127.0.0.1", "port": 1000 + k,
            "vantage": list(VANTAGES)}  # fmt: skip


def _history(cfg: Config) -> list[dict[str, object]]:
    """Per key: up spells broken by outages (shared by both vantage points), degraded spells,
    silences (no row) and vantage noise; some keys' last row is open, one key's only row
    started before the history and is still open (the seek for the window's start)."""
    rng = random.Random(17)
    rows: list[dict[str, object]] = []
    for n, svc in enumerate(cfg.services):
        events = []
        t = HISTORY
        while t < NOW:
            t += rng.expovariate(1 / (4 * 86400))
            events.append(
                (t, t + rng.uniform(60, 3 * 3600), rng.choice(("down", "degraded", "gap")))
            )
        for vantage in VANTAGES:
            cid = f"{svc.name}/web"
            if n == 5 and vantage == "central":  # open since before the history
                rows.append(_row(cid, vantage, "up", HISTORY - 86400, None, NOW - 30))
                continue
            noise = [(a + rng.uniform(0, 600), b, st) for a, b, st in events[::3]]
            mine = events + [(a, max(b, a + 60), st) for a, b, st in noise]
            cur = HISTORY
            for a, b, state in sorted(mine):
                if a <= cur or a >= NOW - 120:  # keys' rows never overlap (as written)
                    continue
                rows.append(_row(cid, vantage, "up", cur, a, a - 30))
                b = min(b, NOW - 60)
                if state != "gap":
                    rows.append(_row(cid, vantage, state, a, b, b - 30, "refused"))
                cur = b
            if n % 4:
                rows.append(_row(cid, vantage, "up", cur, None, NOW - 30))
            else:
                rows.append(_row(cid, vantage, "up", cur, NOW - 600, NOW - 630))
    return rows


def _row(cid: str, vantage: str, state: str, start: float, end: float | None, seen: float,
         error: str | None = None) -> dict[str, object]:  # fmt: skip
    return {"check_id": cid, "vantage": vantage, "state": state, "start": start, "end": end,
            "last_seen": seen, "error": error if state != "up" else None,
            "reason": state if state != "up" else "ok"}  # fmt: skip


@pytest.fixture
def estate(db_url: str):
    engine = make_engine(db_url)
    migrate(engine)
    cfg = _config(db_url)
    with engine.begin() as conn:
        conn.execute(state_intervals.insert(), _history(cfg))
    yield cfg, engine
    engine.dispose()


def _trend(period: Period) -> list[Period]:
    out, cur = [], period
    for _ in range(TREND_PERIODS):
        cur = previous(cur, LONDON)
        out.insert(0, cur)
    return out


def test_the_estate_read_gives_the_rows_of_the_per_key_reads(estate) -> None:
    cfg, engine = estate
    keys = interval_keys(cfg)
    assert len(keys) > PER_KEY_LIMIT  # the batched path
    period = parse_period("2026-10", LONDON)
    a = _trend(period)[0].start
    many = load_intervals(engine, keys, a, period.end)
    one_by_one = {k: load_intervals(engine, [k], a, period.end)[k] for k in keys}
    assert many == one_by_one
    assert sum(map(len, many.values())) > 1000
    assert many[("svc02/web", "central")][0].end is None  # open since before the window


@pytest.mark.parametrize("label", ["2026-10", "2026-11"])  # over, and still running
def test_report_rows_are_the_per_service_figures(estate, label: str) -> None:
    cfg, engine = estate
    period = parse_period(label, LONDON)
    trend = _trend(period)
    report = board_report(cfg, engine, period, NOW)
    full = load_estate(engine, cfg, trend[0].start, period.end, NOW)
    a, b = period.start, min(period.end, NOW)
    incidents = full.incidents(a, b)
    assert sum(r.incidents for r in report.services) > 20
    for row in report.services:
        alone = load_estate(engine, cfg, trend[0].start, period.end, NOW, services=[row.name])
        f = alone.service(row.name, a, b)
        got = (row.up, row.degraded, row.down, row.nodata, row.no_quorum, row.maintenance,
               row.drill, row.outside_hours, row.down_excluded, row.budget_used)  # fmt: skip
        want = (f.up, f.degraded, f.down, f.nodata, f.no_quorum, f.maintenance, f.drill,
                f.outside_hours, f.down_excluded, f.bad)  # fmt: skip
        assert got == want, row.name
        assert row.availability == (None if f.availability is None else f.availability * 100)
        past = [alone.service(row.name, p.start, p.end).availability for p in trend]
        assert [v for _label, v in row.trend] == [None if v is None else v * 100 for v in past]
        rel = reliability(row.name, alone.incidents(a, b), f.good)
        assert (row.incidents, row.mttr, row.mtbf) == (rel.incidents, rel.mttr, rel.mtbf)
        assert rel == reliability(row.name, incidents, f.good)
    for site in report.sites:
        members = [n for n in full.site_services(site.name)]
        count = sum(1 for i in incidents if any(m in i.parts for m in members))
        assert site.incidents == count, site.name
    assert any(s.incidents for s in report.sites)
