"""The availability figures of a window or a period, as ``threenines availability --json``
prints them and ``GET /api/v1/availability`` answers: one function, both callers.

The figures are the engine's (``availability.load.load_estate`` and ``Estate``'s accounting);
this module only chooses the span and lays the rows out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

if TYPE_CHECKING:
    from threenines.availability.accounting import Figures
    from threenines.availability.engine import Estate
    from threenines.availability.periods import Period
    from threenines.core.config import Config

DEFAULT_WINDOW = "30d"


class QueryError(ValueError):
    """A window, period, service or site that cannot be answered (the message says why)."""


def span(cfg: Config, window: str | None, period: str | None, now: float) -> Period:
    """The period ``period`` (``2026-10``, ``2026-Q4``, ...) or the rolling ``window`` ending
    now (default 30d); both given is refused."""
    from threenines.availability.periods import PeriodError, parse_period, rolling

    if window and period:
        raise QueryError("give a window or a period, not both")
    try:
        return parse_period(period, cfg.tz) if period else rolling(window or DEFAULT_WINDOW, now)
    except PeriodError as exc:
        raise QueryError(str(exc)) from None


def figures_document(
    engine: Engine,
    cfg: Config,
    now: float,
    *,
    service: str | None = None,
    site: str | None = None,
    window: str | None = None,
    period: str | None = None,
) -> dict[str, Any]:
    """The rows (estate, sites, services; or one site's or one service's with its checks)."""
    from threenines.availability.engine import BURN_WINDOWS
    from threenines.availability.load import load_estate

    if service and not cfg.service(service):
        raise QueryError(f"unknown service {service!r}")
    if site and not cfg.site(site):
        raise QueryError(f"unknown site {site!r}")
    win = span(cfg, window, period, now)
    end = min(win.end, now)
    span_start = min(win.start, end - max(BURN_WINDOWS.values()))
    est = load_estate(engine, cfg, span_start, win.end, now,
                      services=[service] if service else None)  # fmt: skip
    return {
        "window": [win.start, win.end],
        "label": win.label,
        "timezone": cfg.timezone,
        "rows": _rows(est, cfg, service, site, win),
    }


def _fig(name: str, kind: str, f: Figures, est: Estate | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "subject": name,
        "kind": kind,
        "availability": None if f.availability is None else f.availability * 100,
        "target": f.target,
        "met": f.met,
        "downtime_s": f.bad,
        "degraded_s": f.degraded,
        "nodata_s": f.nodata,
        "no_quorum_s": f.no_quorum,
        "maintenance_s": f.maintenance,
        "budget_allowed_s": f.allowed,
        "budget_remaining_s": f.remaining,
    }
    if est is not None and kind == "service":
        row["burn"] = est.burn_rates(name)
    return row


def _rows(
    est: Estate, cfg: Config, service: str | None, site: str | None, win: Period
) -> list[dict[str, Any]]:
    a, b = win.start, win.end
    if service:
        rows = [_fig(service, "service", est.service(service, a, b), est)]
        svc = est.services[service]
        return rows + [
            _fig(f"{service}/{c}", "check", est.check(service, c, a, b)) for c in svc.checks
        ]
    if site:
        names = est.site_services(site)
        rows = [_fig(site, "site", est.site(site, a, b))]
    else:
        names = list(est.services)
        rows = [_fig("estate", "estate", est.overall(a, b))]
        rows += [_fig(s.name, s.kind, est.site(s.name, a, b)) for s in cfg.sites]
    return rows + [_fig(n, "service", est.service(n, a, b), est) for n in names]


# -- maintenance ---------------------------------------------------------------------------


def when(cfg: Config, text: str) -> float:
    """``text``, an ISO 8601 time (without an offset: in the config's time zone), as epoch."""
    from datetime import datetime

    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise QueryError(
            f"{text!r} is not a time: use e.g. 2026-10-04T02:00 or '2026-10-04 02:00'"
        ) from None
    return value.timestamp() if value.tzinfo else value.replace(tzinfo=cfg.tz).timestamp()


def window_span(
    cfg: Config, start: str, end: str | None, duration: str | None
) -> tuple[float, float]:
    """A maintenance window's span from a start and either an end or a duration."""
    from threenines.core.durations import parse_duration

    a = when(cfg, start)
    if (end is None) == (duration is None):
        raise QueryError("give either --end or --duration")
    try:
        b = when(cfg, end) if end else a + parse_duration(duration or "")
    except ValueError as exc:
        raise QueryError(str(exc)) from None
    if b <= a:
        raise QueryError("end must be after start")
    return a, b


def unknown_scope(cfg: Config, services: list[str], sites: list[str]) -> None:
    unknown = [s for s in services if not cfg.service(s)] + [s for s in sites if not cfg.site(s)]
    if unknown:
        raise QueryError(f"unknown names: {', '.join(unknown)}")


def maintenance_document(
    engine: Engine, cfg: Config, now: float, *, current: bool
) -> dict[str, Any]:
    """The maintenance records (``maintenance list``, ``GET /api/v1/maintenance``): all of
    them, or with ``current`` the latest version of each current or future window and every
    record waiting for approval. Each says who made it, when, why, whether it is retroactive,
    its approval and whether it is in effect (by ``history.effective``)."""
    from threenines.availability.history import effective, exclusions_config, records

    policy = exclusions_config(cfg)
    recs = records(engine)
    live = {r.id for r in effective(recs, policy).values()}
    if current:
        latest = {r.window_id: r for r in recs}
        waiting = {r.id for r in recs if r.retroactive and r.approval is None and r.id not in live
                   and r.action != "remove" and policy.retroactive != "none"}  # fmt: skip
        recs = [r for r in recs if r.id in waiting or (
            latest[r.window_id] is r and r.action != "remove" and r.window.end > now)]  # fmt: skip
    rows = []
    for r in recs:
        w, a = r.window, r.approval
        rows.append({
            "window": r.window_id, "record": r.id, "action": r.action, "name": w.name,
            "start": w.start, "end": w.end, "services": list(w.services), "sites": list(w.sites),
            "reason": w.reason, "created_by": r.created_by, "created_at": r.created_at,
            "in_effect": r.id in live, "retroactive": r.retroactive, "status": r.label() or None,
            "approval": {"by": a.by, "at": a.at, "note": a.note} if a else None,
            "approved_by": a.by if a else None, "approved_at": a.at if a else None,
        })  # fmt: skip
    return {"timezone": cfg.timezone, "records": rows}
