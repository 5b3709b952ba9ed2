"""The Digital Board report as data: every figure the HTML, PDF, CSV and JSON forms show.

``build`` is pure: an ``Estate`` (timelines loaded over the period and the previous ones) plus
the period and ``now`` in, a ``BoardReport`` out. The renderers only format what is here, so
all four formats carry the same figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from threenines.availability.accounting import RULES, Figures, allowed_downtime, pool
from threenines.availability.engine import Estate
from threenines.availability.incidents import (
    Incident,
    estate_reliability,
    incident_counts,
    reliabilities,
)
from threenines.availability.periods import Period, local_days, local_text
from threenines.availability.schedule import Exclusion
from threenines.core.config.devices import PREFIX

TREND_PERIODS = 3


@dataclass
class Row:
    """One subject's figures: the estate, a site or data centre, or a service (seconds)."""

    name: str
    kind: str  # estate | datacentre | site | service
    site: str
    target: float
    availability: float | None  # percent
    met: bool | None
    up: float
    degraded: float
    down: float
    nodata: float
    no_quorum: float  # quorum not reached: excluded like no data, reported apart
    maintenance: float
    drill: float
    outside_hours: float
    down_excluded: float
    budget_allowed: float
    budget_used: float
    budget_remaining: float
    incidents: int = 0
    mttr: float | None = None
    mtbf: float | None = None
    criticality: str = ""
    trend: list[tuple[str, float | None]] = field(default_factory=list)  # oldest first


@dataclass
class IncidentRow:
    start: float
    end: float
    duration: float
    root: str
    cause: str
    affected: list[str]
    ongoing: bool
    start_local: str
    end_local: str
    cause_kind: str = "service"  # device | dependency | service: what the root is


@dataclass
class BoardReport:
    organisation: str
    period: str
    kind: str
    start: float
    end: float
    timezone: str
    start_local: str
    end_local: str
    generated_at: float
    target: float
    scope: str  # "estate" or the site name
    overall: Row
    sites: list[Row]
    services: list[Row]
    incidents: list[IncidentRow]
    days: list[tuple[str, float | None]]  # local date, pooled availability percent
    burn: list[tuple[float, float]]  # (timestamp, cumulative share of budget_period used)
    rules: list[str]
    maintenance_windows: list[dict[str, Any]]
    # Security findings over the period (collectors.security.report.SecuritySummary.to_dict
    # plus "monitored": whether any security checks are configured); None: not loaded.
    security: dict[str, Any] | None = None
    budget_period: float = 0.0  # the whole period's error budget (service-time seconds)
    # Set when the report is issued (``reports.issue``): label, number, issued_by, issued_at.
    issue: dict[str, Any] | None = None
    # Figures of earlier issued periods that moved since (``reports.issue.restatements``).
    restatements: list[dict[str, Any]] = field(default_factory=list)
    # The period's DR drills (plan, scenario, outcome, RTO/RPO against objectives).
    drills: list[dict[str, Any]] = field(default_factory=list)
    # Twelve months per data centre and the estate (``reports.trend.monthly``).
    monthly: dict[str, list[tuple[str, float | None]]] = field(default_factory=dict)
    # The first page's plain-English summary (``reports.summary.summarise``).
    summary: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _pct(f: Figures) -> float | None:
    return None if f.availability is None else f.availability * 100


def _row(name: str, kind: str, site: str, f: Figures, **extra: Any) -> Row:
    return Row(
        name=name,
        kind=kind,
        site=site,
        target=f.target,
        availability=_pct(f),
        met=f.met,
        up=f.up,
        degraded=f.degraded,
        down=f.down,
        nodata=f.nodata,
        no_quorum=f.no_quorum,
        maintenance=f.maintenance,
        drill=f.drill,
        outside_hours=f.outside_hours,
        down_excluded=f.down_excluded,
        budget_allowed=f.allowed,
        budget_used=f.bad,
        budget_remaining=f.remaining,
        **extra,
    )


def _incident_row(inc: Incident, now: float, est: Estate) -> IncidentRow:
    tz = est.cfg.tz
    return IncidentRow(
        start=inc.start,
        end=inc.end,
        duration=inc.duration,
        root=inc.root,
        cause=inc.cause,
        affected=inc.affected,
        ongoing=inc.end >= min(now, est.end) - 1e-6 and now <= est.end + 1e-6,
        start_local=local_text(inc.start, tz),
        end_local=local_text(inc.end, tz),
        cause_kind=_cause_kind(inc),
    )


def _cause_kind(inc: Incident) -> str:
    """A device (``device:...``), a dependency others went down with, or the service itself."""
    if inc.root.startswith(PREFIX):
        return "device"
    return "dependency" if set(inc.parts) - {inc.root} else "service"


def build(
    est: Estate,
    period: Period,
    previous: Sequence[Period],
    now: float,
    site: str | None = None,
    security: dict[str, Any] | None = None,
) -> BoardReport:
    """The report for ``period``; ``previous`` (oldest first) feed the trend columns.

    Each service's figures are computed once per period and pooled for sites and the estate.
    ``security`` is the period's security summary, loaded by the caller (it is I/O).
    """
    cfg = est.cfg
    names = est.site_services(site) if site else list(est.services)
    a, b = period.start, min(period.end, est.end)
    figs = {n: est.service(n, a, b) for n in est.services}
    past = [{n: est.service(n, p.start, p.end) for n in names} for p in previous]
    mine_set = set(names)
    incidents = [i for i in est.incidents(a, b, figs) if not mine_set.isdisjoint(i.parts)]
    services, sites, overall = _subjects(
        est, names, site, (a, b), figs, list(zip(previous, past, strict=True)), incidents
    )
    days = local_days(a, b, cfg.tz)
    edges = [d[1] for d in days] + [b]
    mine = {n: figs[n] for n in names}
    split = est.daily(mine, edges) if days else []
    # The burn chart's 100 %: the whole period's budget, the time still to come counted as
    # if measured (exact once the period is over).
    counted = overall.up + overall.degraded + overall.down
    period_budget = allowed_downtime(counted + max(0.0, period.end - b) * len(names), cfg.target)
    return BoardReport(
        organisation=cfg.organisation,
        period=period.label,
        kind=period.kind,
        start=period.start,
        end=period.end,
        timezone=cfg.timezone,
        start_local=local_text(period.start, cfg.tz),
        end_local=local_text(period.end, cfg.tz),
        generated_at=now,
        target=cfg.target,
        scope=site or "estate",
        overall=overall,
        sites=sites,
        services=services,
        incidents=[_incident_row(i, now, est) for i in incidents],
        days=[(d[0].isoformat(), _ratio(g, x)) for d, (g, x) in zip(days, split, strict=True)],
        burn=_burn(period_budget, edges, split),
        budget_period=period_budget,
        rules=list(RULES),
        maintenance_windows=_windows(est, names, a, b),
        security=security,
    )


def _subjects(
    est: Estate,
    names: list[str],
    site: str | None,
    window: tuple[float, float],
    figs: dict[str, Figures],
    past: list[tuple[Period, dict[str, Figures]]],
    incidents: list[Incident],
) -> tuple[list[Row], list[Row], Row]:
    """Rows for the services, the sites and the whole scope, with their trends."""
    cfg = est.cfg
    a, b = window

    def pooled(members: Sequence[str], table: dict[str, Figures], p: Period | None) -> Figures:
        start, end = (a, b) if p is None else (p.start, p.end)
        return pool((table[m] for m in members), start, end, cfg.target)

    def trend(members: Sequence[str]) -> list[tuple[str, float | None]]:
        return [(p.label, _pct(pooled(members, t, p))) for p, t in past]

    services = []
    rels = reliabilities(incidents, {n: figs[n].good for n in names})
    for n in names:
        svc = est.services[n].config
        rel = rels[n]
        services.append(
            _row(n, "service", svc.site, figs[n], incidents=rel.incidents, mttr=rel.mttr,
                 mtbf=rel.mtbf, criticality=svc.criticality, trend=trend([n]))
        )  # fmt: skip
    sites = []
    wanted = set(names)
    by_site: dict[str, list[str]] = {}  # est.site_services of every site, in one pass
    for n, svc_ in est.services.items():
        if n in wanted:
            by_site.setdefault(svc_.config.site, []).append(n)
    groups = {s: by_site.get(s, []) for s in ([site] if site else [s.name for s in cfg.sites])}
    counts = incident_counts(incidents, groups)
    for s, members in groups.items():
        conf = cfg.site(s)
        kind = conf.kind if conf else "site"
        sites.append(
            _row(s, kind, s, pooled(members, figs, None), incidents=counts[s],
                 trend=trend(members))
        )  # fmt: skip
    rel = estate_reliability(incidents, a, b)
    overall = _row(
        site or cfg.organisation, "estate", site or "", pooled(names, figs, None),
        incidents=rel.incidents, mttr=rel.mttr, mtbf=rel.mtbf, trend=trend(names),
    )  # fmt: skip
    return services, sites, overall


def _ratio(good: float, bad: float) -> float | None:
    return good / (good + bad) * 100 if good + bad > 0 else None


def _burn(
    allowed: float, edges: list[float], split: list[tuple[float, float]]
) -> list[tuple[float, float]]:
    """Cumulative share of the period's error budget used, at each local day's end."""
    points = [(edges[0], 0.0)]
    used = 0.0
    for end, (_good, bad) in zip(edges[1:], split, strict=True):
        used += bad
        points.append((end, used / allowed if allowed > 0 else 0.0))
    return points


def _windows(est: Estate, names: list[str], a: float, b: float) -> list[dict[str, Any]]:
    out = []
    for w in est.maintenance_windows:
        if w.end <= a or w.start >= b:
            continue
        if not any(w.applies(n, est.services[n].config.site) for n in names):
            continue
        out.append(window_entry(w, est.cfg.tz, "counted as maintenance"))
    return out


def window_entry(w: Exclusion, tz: ZoneInfo, status: str) -> dict[str, Any]:
    """A maintenance window as the report lists it: with who recorded it, when, and whether
    it was made after its start (retroactive) and who approved it."""
    if w.record is None:
        recorded = "configuration file"
    else:
        recorded = f"record {w.record}, by {w.added_by or '?'}"
        recorded += f" at {local_text(w.added_at, tz)}" if w.added_at is not None else ""
    retro = ""
    if w.retroactive:
        retro = f"retroactive, approved by {w.approved_by}" if w.approved_by else "retroactive"
    return {
        "name": w.name,
        "reason": w.reason,
        "start_local": local_text(w.start, tz),
        "end_local": local_text(w.end, tz),
        "hours": (w.end - w.start) / 3600,
        "scope": ", ".join([*w.services, *w.sites]) or "whole estate",
        "record": w.record,
        "recorded": recorded,
        "retroactive": w.retroactive,
        "approved_by": w.approved_by,
        "status": ", ".join(x for x in (status, retro) if x),
    }
