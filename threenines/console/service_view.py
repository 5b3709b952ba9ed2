"""A service's page: its figures, timelines, results, dependencies and maintenance.

Everything comes from the owning areas' functions, never computed again here:
- the figures of 24 h, 30 d and this month: ``availability.query.figures_document`` (what
  ``threenines availability --service`` prints and ``GET /api/v1/availability`` answers), with
  its error budget and burn rates;
- the state now: ``availability.status.service_states`` (the state rule);
- the timelines of the last 24 h: the engine's (``load_estate``): the service's, each check's
  (quorum over its vantage points) and each vantage point's (``vantage_timelines``, the rule's
  own first step);
- the maintenance records: ``availability.query.maintenance_document`` (``maintenance list``,
  ``GET /api/v1/maintenance``), marked retroactive / pending approval by ``history``'s label;
- the results: the core's ``results`` table as the writer stored them (response time, phases,
  error code, reason).

The page lays them out; the only arithmetic here is geometry (where a segment is drawn).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from threenines.availability.devices import service_components
from threenines.availability.display import percent, share
from threenines.availability.load import load_estate
from threenines.availability.query import figures_document, maintenance_document
from threenines.availability.schedule import Exclusion
from threenines.availability.state.evaluate import vantage_timelines
from threenines.availability.status import latest_intervals, service_states
from threenines.availability.timeline import NO_DATA, Timeline, state_at
from threenines.core.durations import format_duration
from threenines.core.tables import results

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from threenines.core.config import Config

DAY = 86400.0
RESULTS_SHOWN = 50  # the newest results listed as a table
CHART_POINTS = 2000  # results drawn in the response-time chart (newest first)
MIN_DRAWN = 0.4  # percent of a strip: the narrowest drawn span that is not up
WORDS = {
    "up": "up",
    "degraded": "degraded",
    "down": "down",
    "no_quorum": "quorum not reached",
    NO_DATA: "no data",
}


@dataclass(frozen=True, slots=True)
class Span:
    """A drawn piece of a timeline: where (percent of the strip), what, and when in words."""

    x: float  # percent from the left
    w: float  # percent wide
    state: str
    words: str

    @property
    def drawn(self) -> float:
        """The width drawn: a short outage (seconds of a day) is still seen, at least
        ``MIN_DRAWN`` percent wide and drawn over its neighbours; its words say how long."""
        return self.w if self.state == "up" else max(self.w, MIN_DRAWN)

    @property
    def drawn_x(self) -> float:
        """Where it is drawn: a widened span at the right edge is moved in to stay inside."""
        return min(self.x, 100 - self.drawn)


@dataclass(frozen=True, slots=True)
class Strip:
    label: str
    kind: str  # service | check | vantage
    spans: tuple[Span, ...]


@dataclass(frozen=True, slots=True)
class Window:
    label: str
    availability: str  # as shown (truncated; agrees with met)
    target: str
    met: bool | None
    allowed: str
    remaining: str
    remaining_share: str  # percent of the budget left
    burn: dict[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ServicePage:
    name: str
    site: str
    state: str
    label: str
    reason: str
    since: float | None
    windows: tuple[Window, ...]
    strips: tuple[Strip, ...]
    strip_start: float
    strip_end: float
    results: tuple[dict[str, Any], ...]
    chart: dict[str, Any]
    depends_on: tuple[str, ...]
    devices: tuple[tuple[str, str], ...]  # (component, its state now)
    maintenance: tuple[dict[str, Any], ...]
    incidents: tuple[dict[str, Any], ...]


def strip(tl: Timeline, start: float, end: float, fmt: Any) -> tuple[Span, ...]:
    """``tl`` over ``[start, end)`` as drawn spans, gaps (no data) included, left to right.

    Pure geometry: each span's x and width are its share of the window in percent; the spans
    cover the window exactly once (widths add up to 100)."""
    if end <= start:
        return ()
    whole = end - start
    out: list[Span] = []
    at = start

    def add(a: float, b: float, state: str, reason: str) -> None:
        if b <= a:
            return
        words = f"{fmt(a)} to {fmt(b)}: {WORDS.get(state, state)}"
        words += f" ({reason})" if reason else ""
        out.append(Span(100 * (a - start) / whole, 100 * (b - a) / whole, state, words))

    for seg in tl:
        a, b = max(seg.start, start), min(seg.end, end)
        if b <= a:
            continue
        add(at, a, NO_DATA, "")
        add(a, b, seg.state, seg.reason)
        at = b
    add(at, end, NO_DATA, "")
    return tuple(out)


def _d(seconds: float) -> str:
    """A duration to whole seconds, as people read a budget (43m12s)."""
    return format_duration(round(seconds))


def _window(label: str, row: dict[str, Any]) -> Window:
    target, met = row["target"], row["met"]
    return Window(
        label=label,
        availability=percent(row["availability"], target=target, met=met),
        target=f"{target:g}\u00a0%",
        met=met,
        allowed=_d(row["budget_allowed_s"]),
        remaining=_d(row["budget_remaining_s"])
        if row["budget_remaining_s"] >= 0
        else f"overspent by {_d(-row['budget_remaining_s'])}",
        remaining_share=share(max(0.0, row["budget_remaining_s"]), row["budget_allowed_s"]),
        burn=dict(row.get("burn") or {}),
    )


def recent_results(engine: Engine, check_ids: list[str], since: float, limit: int) -> list[Any]:
    """The newest stored results of ``check_ids`` since ``since`` (newest first)."""
    r = results.c
    q = (
        sa.select(
            r.ts,
            r.check_id,
            r.vantage,
            r.status,
            r.error,
            r.reason,
            r.duration,
            r.attempts,
            r.phases,
        )
        .where(r.check_id.in_(check_ids), r.ts >= since)
        .order_by(r.ts.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        return list(conn.execute(q).all())


def _state_now(tl: Timeline, now: float) -> str:
    seg = state_at(tl, now - 1e-3)  # timelines end at now: the instant just before it
    return seg.state if seg else NO_DATA


def chart_data(rows: list[Any]) -> dict[str, Any]:
    """uPlot's columnar data: x (epoch seconds, oldest first), then milliseconds per series:
    the total, each phase the results carry, one series per check@vantage for the total."""
    rows = sorted(rows, key=lambda r: r.ts)
    phases = sorted({p for row in rows for p in (row.phases or {}) if p != "total"})
    xs = [row.ts for row in rows]
    series = [{"label": "total (ms)", "values": [round(row.duration * 1000, 3) for row in rows]}]
    for p in phases:
        vals = [(row.phases or {}).get(p) for row in rows]
        series.append(
            {
                "label": f"{p} (ms)",
                "values": [None if v is None else round(v * 1000, 3) for v in vals],
            }
        )
    return {"x": xs, "series": series}


def service_page(engine: Engine, cfg: Config, name: str, now: float | None = None) -> ServicePage:
    """The page of service ``name`` (I/O: the store); ``KeyError`` when there is none."""
    now = time.time() if now is None else now
    svc = cfg.service(name)
    if svc is None:
        raise KeyError(name)
    tz = cfg.tz
    local = datetime.fromtimestamp(now, tz)
    month = f"{local.year}-{local.month:02d}"
    windows = []
    for label, kw in (
        ("Last 24 hours", {"window": "24h"}),
        ("Last 30 days", {"window": "30d"}),
        (f"This month ({month})", {"period": month}),
    ):
        doc = figures_document(engine, cfg, now, service=name, **kw)
        windows.append(_window(label, doc["rows"][0]))

    now_state = service_states(cfg, latest_intervals(engine), now).get(name)

    def fmt(t: float) -> str:
        return datetime.fromtimestamp(t, tz).strftime("%H:%M")

    start = now - DAY
    est = load_estate(engine, cfg, start, now, now, services=[name])
    built = est.services[name]
    strips = [Strip("service", "service", strip(built.timeline, start, now, fmt))]
    for c in built.spec.checks:
        strips.append(
            Strip(f"check {c.name}", "check", strip(built.checks[c.name], start, now, fmt))
        )
        for v, tl in vantage_timelines(c, est.inputs.rows, now).items():
            strips.append(Strip(f"{c.name} @ {v}", "vantage", strip(tl, start, now, fmt)))

    ids = [c.check_id for c in built.spec.checks]
    rows = recent_results(engine, ids, start, CHART_POINTS) if ids else []
    shown = tuple(
        {
            "ts": r.ts,
            "check": r.check_id.partition("/")[2],
            "vantage": r.vantage,
            "status": r.status,
            "error": r.error or "",
            "reason": r.reason or "",
            "ms": round(r.duration * 1000, 1),
            "attempts": r.attempts,
            "phases": {k: round(v * 1000, 1) for k, v in (r.phases or {}).items()},
        }
        for r in rows[:RESULTS_SHOWN]
    )

    comps = service_components(cfg, svc)
    dev_states = tuple((c, _state_now(est.devices.get(c) or [], now)) for c in comps)

    site = cfg.site(svc.site)
    maint = maintenance_document(engine, cfg, now, current=True)["records"]
    mine = tuple(
        m
        for m in maint
        if Exclusion(
            m["start"], m["end"], services=tuple(m["services"]), sites=tuple(m["sites"])
        ).applies(name, svc.site)
    )

    from threenines.alerts.store import AlertStore

    incidents = tuple(
        i for i in AlertStore(engine).incidents(limit=200) if i.get("service") == name
    )
    return ServicePage(
        name=name,
        site=svc.site,
        state=now_state.state if now_state else NO_DATA,
        label=now_state.label if now_state else WORDS[NO_DATA],
        reason=now_state.reason if now_state else "",
        since=now_state.since if now_state else None,
        windows=tuple(windows),
        strips=tuple(strips),
        strip_start=start,
        strip_end=now,
        results=shown,
        chart=chart_data(rows),
        depends_on=tuple(dict.fromkeys([*(site.depends_on if site else []), *svc.depends_on])),
        devices=dev_states,
        maintenance=mine,
        incidents=incidents[:20],
    )
