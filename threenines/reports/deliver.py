"""The report hook: render a period's board report to bytes and a file name.

Used by ``threenines report`` and by whatever schedules and emails reports (the alerts
delivery): ``render_report(cfg, engine, "2026-10", "pdf", now=time.time())`` returns
``(data, "threenines-availability-2026-10.pdf")``. Blocking (database, WeasyPrint): run it
in a thread from async code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine

from threenines.availability.load import load_estate
from threenines.availability.periods import Period, PeriodError, parse_period, previous
from threenines.availability.timeline import Timeline
from threenines.core.config.schema import Config
from threenines.reports.board import TREND_PERIODS, BoardReport, build
from threenines.reports.summary import summarise
from threenines.reports.trend import monthly
from threenines.security.config import security_config

FORMATS = ("html", "pdf", "csv", "json")
MEDIA_TYPES = {
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
}


def board_report(
    cfg: Config,
    engine: Engine,
    period: Period,
    now: float,
    site: str | None = None,
    components: Mapping[str, Timeline] | None = None,
) -> BoardReport:
    """Load what the period and its trend periods need, and build the report."""
    trend: list[Period] = []
    cur = period
    for _ in range(TREND_PERIODS):
        cur = previous(cur, cfg.tz)
        trend.insert(0, cur)
    start = trend[0].start if trend else period.start
    est = load_estate(engine, cfg, start, period.end, now, components=components)
    report = build(est, period, trend, now, site, security=security_section(cfg, engine, period,
                                                                              now))  # fmt: skip
    report.maintenance_windows += pending_windows(cfg, engine, period, site)
    report.restatements = restated(cfg, engine, report, now, site)
    report.drills = drills_section(engine, period, now)
    report.monthly = monthly(cfg, engine, report, period)
    report.summary = summarise(report)
    return report


def drills_section(engine: Engine, period: Period, now: float) -> list[dict[str, Any]]:
    """The DR drills started in the period, with their figures against the objectives (as
    the drill report gives them: ``failover.drill_report.objectives``)."""
    import sqlalchemy as sa

    from threenines.failover.store import drills

    d = drills.c
    q = (sa.select(drills).where(d.started >= period.start, d.started < min(period.end, now))
         .order_by(d.started))  # fmt: skip
    out = []
    with engine.connect() as conn:
        for row in conn.execute(q):
            s = row.summary or {}
            objectives = s.get("objectives") or []
            fault = row.scenario != "tabletop"
            verdicts = []
            for o in objectives:
                name = str(o.get("name", "")).split(" ", 1)[0]
                if name == "RTO" and not fault:
                    verdicts.append("RTO not applicable (no fault)")
                else:
                    word = {True: "met", False: "missed"}.get(o.get("met"), "not measured")
                    verdicts.append(f"{name} {o.get('measured', '')} ({word})")
            outcome = "no problems" if row.state == "done" else f"{row.state}: " + "; ".join(
                s.get("problems") or [])  # fmt: skip
            out.append({"id": row.id, "plan": row.plan, "scenario": row.scenario,
                        "state": row.state, "started": row.started, "rto": s.get("rto"),
                        "rpo": s.get("rpo"), "capacity": s.get("capacity"),
                        "objectives": verdicts, "outcome": outcome})  # fmt: skip
    return out


def restated(
    cfg: Config, engine: Engine, report: BoardReport, now: float, site: str | None
) -> list[dict[str, Any]]:
    """Earlier issued periods whose figures moved since they were issued."""
    from threenines.reports.issue import restatements

    def recompute(label: str) -> BoardReport | None:
        try:
            p = parse_period(label, cfg.tz)
        except PeriodError:
            return None
        est = load_estate(engine, cfg, p.start, p.end, now)
        return build(est, p, [], now, site)

    return restatements(engine, recompute, report, report.start)


def pending_windows(
    cfg: Config, engine: Engine, period: Period, site: str | None
) -> list[dict[str, Any]]:
    """Retroactive maintenance records waiting for approval that touch the period: listed, not
    counted, so the board sees that someone asked for the exclusion."""
    from dataclasses import replace

    from threenines.availability.history import exclusions_config, pending
    from threenines.reports.board import window_entry

    out = []
    for rec in pending(engine, exclusions_config(cfg)):
        w = rec.window
        if w.end <= period.start or w.start >= period.end:
            continue
        if site and w.sites and site not in w.sites and not w.services:
            continue
        w = replace(w, record=rec.id, added_by=rec.created_by, added_at=rec.created_at,
                    retroactive=True)  # fmt: skip
        out.append(window_entry(w, cfg.tz, "pending approval: NOT counted"))
    return out


def security_section(cfg: Config, engine: Engine, period: Period, now: float) -> dict[str, Any]:
    """The period's security figures (whole estate): findings opened and resolved, critical
    findings open at the period's end (or now, for the current period), mean time to resolve.
    ``monitored`` says whether any security checks are configured, so that "0 open" from an
    estate nobody watches is not read as good news."""
    from threenines.security.report import security_summary

    summary = security_summary(engine, period.start, min(period.end, now)).to_dict()
    sec = security_config(cfg)
    summary["monitored"] = bool(sec.sites or sec.scans or sec.posture or sec.protected)
    return summary


def render(report: BoardReport, fmt: str) -> bytes:
    if fmt == "pdf":
        from threenines.reports.html import render_pdf

        return render_pdf(report)
    if fmt == "html":
        from threenines.reports.html import render_html

        return render_html(report).encode()
    from threenines.reports.tabular import render_csv, render_json

    if fmt == "csv":
        return render_csv(report).encode()
    if fmt == "json":
        return render_json(report).encode()
    raise ValueError(f"unknown report format {fmt!r} (one of: {', '.join(FORMATS)})")


def filename(report: BoardReport, fmt: str) -> str:
    scope = "" if report.scope == "estate" else f"-{report.scope}"
    period = report.period.replace("..", "_")
    return f"threenines-availability-{period}{scope}.{fmt}"


def render_report(
    cfg: Config,
    engine: Engine,
    period: str,
    fmt: str = "pdf",
    *,
    now: float,
    site: str | None = None,
) -> tuple[bytes, str]:
    """Render the board report for ``period`` (e.g. ``2026-10``) as ``fmt``: (bytes, file name).

    Raises ``PeriodError`` for a bad period and ``ValueError`` for a bad format or site.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r} (one of: {', '.join(FORMATS)})")
    if site is not None and cfg.site(site) is None:
        raise ValueError(f"unknown site {site!r}")
    report = board_report(cfg, engine, parse_period(period, cfg.tz), now, site)
    return render(report, fmt), filename(report, fmt)
