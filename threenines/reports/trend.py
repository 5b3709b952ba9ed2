"""Twelve months of availability per data centre and for the estate, for the trend chart.

Past months come from the daily summaries (``availability_daily``, written every night and
kept for years, so a year's trend does not need a year of state intervals); a month with no
summary is "no data" in the chart, never 100 %. The report's own period uses its computed
figures, so the last point is the figure the report states.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime

from sqlalchemy import Engine

from threenines.availability.accounting import Figures, pool
from threenines.availability.periods import Period, month
from threenines.availability.store import read_daily
from threenines.core.config.schema import Config
from threenines.reports.board import BoardReport

MONTHS = 12


def _months(last: date, n: int) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    y, m = last.year, last.month
    for _ in range(n):
        out.insert(0, (y, m))
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
    return out


def _figures(p: Period, target: float, degraded_up: bool, s: dict[str, float]) -> Figures:
    return Figures(p.start, p.end, target, degraded_up, up=s["up"], degraded=s["degraded"],
                   down=s["down"])  # fmt: skip


def monthly(
    cfg: Config, engine: Engine, report: BoardReport, period: Period
) -> dict[str, list[tuple[str, float | None]]]:
    """Series name (estate or a data centre) -> [(month label, availability % or None)]."""
    last = datetime.fromtimestamp(period.end - 1, cfg.tz).date()
    months = _months(last, MONTHS)
    names = [s.name for s in report.services]
    degraded_up = {s.name: s.degraded_is_up for s in cfg.services}
    groups = {"estate": names}
    for site in report.sites:
        if site.kind == "datacentre":
            groups[site.name] = [s.name for s in report.services if s.site == site.name]
    first = month(*months[0], cfg.tz)
    rows = read_daily(engine, "service", first.first.isoformat() if first.first else "",
                      last.isoformat(), names)  # fmt: skip
    sums: dict[tuple[str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for r in rows:
        key = (r.day[:7], r.subject)
        for f in ("up", "degraded", "down"):
            sums[key][f] += getattr(r, f)
    current = {report.overall.kind: report.overall, **{s.name: s for s in report.sites}}
    out: dict[str, list[tuple[str, float | None]]] = {}
    for group, members in groups.items():
        series: list[tuple[str, float | None]] = []
        for y, m in months:
            label = f"{y:04d}-{m:02d}"
            if label == period.label:
                row = current.get(group)
                series.append((label, row.availability if row else None))
                continue
            p = month(y, m, cfg.tz)
            figs = [_figures(p, cfg.target, degraded_up.get(n, True), sums[(label, n)])
                    for n in members if (label, n) in sums]  # fmt: skip
            pooled = pool(figs, p.start, p.end, cfg.target)
            series.append((label, None if pooled.availability is None else
                           pooled.availability * 100))  # fmt: skip
        out[group] = series
    return out
