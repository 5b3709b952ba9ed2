"""What the pages show, read through the owning areas' functions (never recomputed here).

A service's state is the availability area's state rule (``service_states`` over
``latest_intervals``, what ``threenines status`` and ``GET /api/v1/status`` call); its daily
figures are the availability engine's (``load_estate`` -> ``Estate.service`` ->
``Estate.daily``); incidents are the alerts store's. The public view keeps only what a
resident may see: the public title and group, the state in words, daily availability, and an
incident's public title and status (never an address, an error, a vantage point or a device).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from threenines.alerts.store import AlertStore
from threenines.availability.load import load_estate
from threenines.availability.periods import local_days, local_midnight
from threenines.availability.status import (
    compose_status,
    configured_checks,
    latest_intervals,
    overlay,
    service_states,
)

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from threenines.availability.state import ServiceNow
    from threenines.core.config import Config

DAYS = 90
# The state rule's states in words for the public (presentation only; the state is the rule's)
PUBLIC_WORDS = {
    "up": "Operational",
    "degraded": "Degraded performance",
    "down": "Outage",
    "no_quorum": "Status being confirmed",
    "unknown": "Status unknown",
    "maintenance": "Under maintenance",
}
OPEN = ("open", "acknowledged")
RECENT = 7 * 86400.0


@dataclass(frozen=True, slots=True)
class Day:
    day: str  # ISO date, local
    availability: float | None  # percent; None: nothing counted that day
    met: bool | None  # against the service's target

    @property
    def words(self) -> str:
        if self.availability is None:
            return f"{self.day}: no data"
        verdict = "target met" if self.met else "below target"
        return f"{self.day}: {self.availability:.2f}% available, {verdict}"


@dataclass(frozen=True, slots=True)
class PublicService:
    title: str
    group: str
    state: str
    words: str
    since: float | None
    target: float
    days: tuple[Day, ...]


@dataclass(frozen=True, slots=True)
class PublicIncident:
    title: str  # the public title of the service it affects
    status: str  # open | acknowledged | resolved
    words: str
    opened_at: float
    resolved_at: float | None


@dataclass(frozen=True, slots=True)
class PublicStatus:
    organisation: str
    generated: float
    groups: tuple[tuple[str, tuple[PublicService, ...]], ...]
    incidents: tuple[PublicIncident, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "organisation": self.organisation,
            "generated": self.generated,
            "services": [asdict(s) for _, svcs in self.groups for s in svcs],
            "incidents": [asdict(i) for i in self.incidents],
        }


_INCIDENT_WORDS = {"open": "Investigating", "acknowledged": "Identified: being worked on",
                   "resolved": "Resolved"}  # fmt: skip


def public_status(engine: Engine, cfg: Config, now: float | None = None) -> PublicStatus:
    """The public page's content (I/O: the store). Only services marked ``public``."""
    now = time.time() if now is None else now
    listed = [s for s in cfg.services if s.public is not None]
    states = service_states(cfg, latest_intervals(engine), now) if listed else {}
    tz = cfg.tz
    today = datetime.fromtimestamp(now, tz).date()
    first = local_midnight(date.fromordinal(today.toordinal() - (DAYS - 1)), tz)
    days = local_days(first, now, tz)
    edges = [a for _, a, _ in days] + [now]
    names = [s.name for s in listed]
    est = load_estate(engine, cfg, first, now, now, services=names) if listed else None
    groups: dict[str, list[PublicService]] = {}
    titles: dict[str, str] = {}
    for svc in listed:
        assert svc.public is not None and est is not None
        title = svc.public.title or svc.name
        titles[svc.name] = title
        target = est.target(svc.name)
        figures = est.service(svc.name)
        bars = []
        for (d, _, _), (good, bad) in zip(days, est.daily({svc.name: figures}, edges),
                                          strict=True):  # fmt: skip
            counted = good + bad
            avail = 100 * good / counted if counted > 0 else None
            met = None if avail is None else avail + 1e-9 >= target
            bars.append(Day(d.isoformat(), avail, met))
        now_state = states.get(svc.name)
        state = now_state.state if now_state else "unknown"
        groups.setdefault(svc.public.group, []).append(PublicService(
            title, svc.public.group, state, PUBLIC_WORDS.get(state, state),
            now_state.since if now_state else None, target, tuple(bars)))  # fmt: skip
    incidents = []
    for row in AlertStore(engine).incidents(limit=200):
        shown = titles.get(row.get("service") or "")
        if shown is None:
            continue
        if row["status"] not in OPEN and (row["resolved_at"] or 0) < now - RECENT:
            continue
        incidents.append(PublicIncident(shown, row["status"],
                                        _INCIDENT_WORDS.get(row["status"], row["status"]),
                                        row["opened_at"], row["resolved_at"]))  # fmt: skip
    incidents.sort(key=lambda i: (i.status not in OPEN, -i.opened_at))
    return PublicStatus(cfg.organisation, now, tuple((g, tuple(v)) for g, v in groups.items()),
                        tuple(incidents))  # fmt: skip


@dataclass(frozen=True, slots=True)
class Vantage:
    check: str
    vantage: str
    state: str
    reason: str


@dataclass(frozen=True, slots=True)
class ServiceLine:
    name: str
    state: str
    label: str
    since: float | None
    reason: str
    vantages: tuple[Vantage, ...]


@dataclass(frozen=True, slots=True)
class SiteBlock:
    name: str
    kind: str  # datacentre | site
    services: tuple[ServiceLine, ...]


@dataclass(frozen=True, slots=True)
class Overview:
    generated: float
    incidents: tuple[dict[str, Any], ...]  # open first, then acknowledged
    sites: tuple[SiteBlock, ...]

    def fingerprint(self) -> tuple[Any, ...]:
        """What a live update compares (not ``generated``)."""
        return (self.incidents, self.sites)


def overview(engine: Engine, cfg: Config, now: float | None = None) -> Overview:
    """The console's overview (I/O: the store), from the same calls as ``threenines status``."""
    from threenines.agents.status import read_agents

    now = time.time() if now is None else now
    rows = latest_intervals(engine)
    agents = read_agents(engine, cfg, now)
    checks = overlay(compose_status(configured_checks(cfg), rows, now), agents, now)
    services: dict[str, ServiceNow] = service_states(cfg, rows, now)
    per: dict[str, list[Vantage]] = {}
    for c in checks:
        per.setdefault(c.service, []).append(Vantage(c.check, c.vantage, c.state, c.reason))
    by_site: dict[str, list[ServiceLine]] = {}
    for svc in cfg.services:
        s = services.get(svc.name)
        if s is None:
            continue
        by_site.setdefault(svc.site, []).append(ServiceLine(
            s.name, s.state, s.label, s.since, s.reason, tuple(per.get(svc.name, ()))))  # fmt: skip
    sites = tuple(
        SiteBlock(site.name, site.kind, tuple(by_site[site.name]))
        for site in cfg.sites if site.name in by_site
    )  # fmt: skip
    rows_ = AlertStore(engine).incidents(status=list(OPEN), limit=500)
    incidents = tuple(
        {k: r[k] for k in ("id", "uid", "status", "severity", "service", "site", "title",
                           "opened_at", "acked_by", "acked_at")}
        for r in sorted(rows_, key=lambda r: (r["status"] != "open", -r["opened_at"]))
    )  # fmt: skip
    return Overview(now, incidents, sites)
