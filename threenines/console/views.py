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
from threenines.availability.engine import target_for
from threenines.availability.load import load_estate
from threenines.availability.periods import local_days, local_midnight
from threenines.availability.status import (
    compose_status,
    configured_checks,
    latest_intervals,
    overlay,
    service_states,
)
from threenines.console.notes import notes

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from threenines.availability.state import ServiceNow
    from threenines.availability.status import IntervalRow
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

    @property
    def below(self) -> tuple[Day, ...]:
        """The days below target (the compact page lists their number and the latest)."""
        return tuple(d for d in self.days if d.met is False)


@dataclass(frozen=True, slots=True)
class PublicIncident:
    title: str  # the public title of the service it affects
    status: str  # open | acknowledged | resolved
    words: str
    opened_at: float
    resolved_at: float | None
    updates: tuple[tuple[float, str], ...] = ()  # (when, text): notes an operator published


@dataclass(frozen=True, slots=True)
class Announcement:
    """A maintenance window in effect, as the public sees it: the public titles of the listed
    services it covers and its times (never its name, reason, author or scope by site)."""

    titles: tuple[str, ...]
    start: float
    end: float
    current: bool  # under way now; otherwise upcoming


# How far ahead the public page announces planned maintenance
ANNOUNCE_AHEAD = 30 * 86400.0


def announcements(engine: Engine, cfg: Config, listed: list[Any], titles: dict[str, str],
                  now: float) -> tuple[Announcement, ...]:  # fmt: skip
    """Current and upcoming maintenance of the listed services: the windows in effect, i.e.
    the config's (``schedule.expand_all``) and the stored ones ``history.windows`` returns
    (what the engine excludes; a retroactive window waiting for approval is not in effect and
    is not announced), ending after ``now`` and starting within ``ANNOUNCE_AHEAD``."""
    from threenines.availability.history import exclusions_config, windows
    from threenines.availability.schedule import expand_all
    from threenines.availability.store import maintenance_windows

    horizon = now + ANNOUNCE_AHEAD
    policy = exclusions_config(cfg)
    wins = [*expand_all(cfg.maintenance, cfg.tz, now, horizon),
            *windows(engine, maintenance_windows, policy, now, horizon)]  # fmt: skip
    out = {}
    for w in wins:
        covered = tuple(titles[s.name] for s in listed if w.applies(s.name, s.site))
        if covered:
            out[(w.start, w.end, covered)] = Announcement(covered, w.start, w.end, w.start <= now)
    return tuple(sorted(out.values(), key=lambda a: (a.start, a.end)))


@dataclass(frozen=True, slots=True)
class PublicStatus:
    organisation: str
    generated: float
    groups: tuple[tuple[str, tuple[PublicService, ...]], ...]
    incidents: tuple[PublicIncident, ...]
    maintenance: tuple[Announcement, ...] = ()
    past: Any = None  # the PastDays it was made with (reused by the next one)
    current: Any = None  # today's bars (a PastDays of today, at ``at``), reused likewise

    def to_dict(self) -> dict[str, Any]:
        return {
            "organisation": self.organisation,
            "generated": self.generated,
            "services": [asdict(s) for _, svcs in self.groups for s in svcs],
            "incidents": [asdict(i) for i in self.incidents],
            "maintenance": [asdict(m) for m in self.maintenance],
        }


_INCIDENT_WORDS = {"open": "Investigating", "acknowledged": "Identified: being worked on",
                   "resolved": "Resolved"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class PastDays:
    """The bars of the days before ``today`` (local), by service: they change only when a
    late result or a retroactive window arrives, so the public view reuses them for
    ``PAST_FOR`` seconds (and always recomputes today's)."""

    today: str
    at: float
    bars: dict[str, tuple[Day, ...]]


PAST_FOR = 300.0
# Today's bar (a day's availability so far) is reused this long; the state pills, incidents and
# maintenance are rebuilt with every public view (``console.live``), so an outage shows at once.
TODAY_FOR = 60.0


def _bars(engine: Engine, cfg: Config, names: list[str], start: float, end: float,
          now: float) -> dict[str, tuple[Day, ...]]:  # fmt: skip
    """Each service's daily bars for the local days in ``[start, end)``, from the engine."""
    days = local_days(start, end, cfg.tz)
    edges = [a for _, a, _ in days] + [end]
    est = load_estate(engine, cfg, start, end, now, services=names)
    out = {}
    for name in names:
        target = est.target(name)
        figures = est.service(name)
        bars = []
        for (d, _, _), (good, bad) in zip(days, est.daily({name: figures}, edges),
                                          strict=True):  # fmt: skip
            counted = good + bad
            avail = 100 * good / counted if counted > 0 else None
            met = None if avail is None else avail + 1e-9 >= target
            bars.append(Day(d.isoformat(), avail, met))
        out[name] = tuple(bars)
    return out


def past_days(engine: Engine, cfg: Config, now: float) -> PastDays:
    tz = cfg.tz
    today = datetime.fromtimestamp(now, tz).date()
    first = local_midnight(date.fromordinal(today.toordinal() - (DAYS - 1)), tz)
    names = [s.name for s in cfg.services if s.public is not None]
    bars = _bars(engine, cfg, names, first, local_midnight(today, tz), now) if names else {}
    return PastDays(today.isoformat(), now, bars)


def todays_bars(engine: Engine, cfg: Config, now: float) -> PastDays:
    """Today's bar of each public service (the local day so far), from the engine."""
    today = datetime.fromtimestamp(now, cfg.tz).date()
    names = [s.name for s in cfg.services if s.public is not None]
    fresh = _bars(engine, cfg, names, local_midnight(today, cfg.tz), now, now) if names else {}
    return PastDays(today.isoformat(), now, fresh)


def stale(bars: PastDays | None, cfg: Config, now: float, keep_for: float) -> bool:
    """Whether ``bars`` (past days or today's) must be recomputed: none yet, of another local
    day, or ``keep_for`` seconds old."""
    today = datetime.fromtimestamp(now, cfg.tz).date().isoformat()
    return bars is None or bars.today != today or now - bars.at >= keep_for


def public_status(engine: Engine, cfg: Config, now: float | None = None,
                  past: PastDays | None = None, current: PastDays | None = None, *,
                  states: dict[str, ServiceNow] | None = None,
                  refresh: bool = True) -> PublicStatus:  # fmt: skip
    """The public page's content (I/O: the store). Only services marked ``public``. ``past``:
    the earlier days' bars computed before (used when still of today and under PAST_FOR old);
    ``current``: today's bars computed before (used when of today and under TODAY_FOR old).
    ``refresh=False``: use ``past`` and ``current`` as given (the console's background rebuild
    recomputes them on their own cadence); ``states``: the state rule's, already computed."""
    now = time.time() if now is None else now
    listed = [s for s in cfg.services if s.public is not None]
    if states is None:
        states = service_states(cfg, latest_intervals(engine), now) if listed else {}
    if past is None or (refresh and stale(past, cfg, now, PAST_FOR)):
        past = past_days(engine, cfg, now)
    if current is None or (refresh and stale(current, cfg, now, TODAY_FOR)):
        current = todays_bars(engine, cfg, now)
    todays = current.bars
    groups: dict[str, list[PublicService]] = {}
    titles: dict[str, str] = {}
    for svc in listed:
        assert svc.public is not None
        title = svc.public.title or svc.name
        titles[svc.name] = title
        target = target_for(cfg, svc)
        bars = past.bars.get(svc.name, ()) + todays.get(svc.name, ())
        now_state = states.get(svc.name)
        state = now_state.state if now_state else "unknown"
        groups.setdefault(svc.public.group, []).append(PublicService(
            title, svc.public.group, state, PUBLIC_WORDS.get(state, state),
            now_state.since if now_state else None, target, bars))  # fmt: skip
    shown_rows = []
    for row in AlertStore(engine).incidents(limit=200):
        shown = titles.get(row.get("service") or "")
        if shown is None:
            continue
        if row["status"] not in OPEN and (row["resolved_at"] or 0) < now - RECENT:
            continue
        shown_rows.append((shown, row))
    published = notes(engine, [r["uid"] for _, r in shown_rows], public_only=True)
    incidents = []
    for shown, row in shown_rows:
        updates = tuple((n["at"], n["text"]) for n in published.get(row["uid"], []))
        incidents.append(PublicIncident(shown, row["status"],
                                        _INCIDENT_WORDS.get(row["status"], row["status"]),
                                        row["opened_at"], row["resolved_at"], updates))  # fmt: skip
    incidents.sort(key=lambda i: (i.status not in OPEN, -i.opened_at))
    maint = announcements(engine, cfg, listed, titles, now) if listed else ()
    return PublicStatus(cfg.organisation, now, tuple((g, tuple(v)) for g, v in groups.items()),
                        tuple(incidents), maint, past, current)  # fmt: skip


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


def overview(engine: Engine, cfg: Config, now: float | None = None, *,
             rows: list[IntervalRow] | None = None,
             states: dict[str, ServiceNow] | None = None) -> Overview:  # fmt: skip
    """The console's overview (I/O: the store), from the same calls as ``threenines status``.
    ``rows`` and ``states``: ``latest_intervals`` and the state rule's ``service_states`` over
    them at ``now``, already read (the background rebuild reads them once for both views)."""
    from threenines.agents.status import read_agents

    now = time.time() if now is None else now
    rows = latest_intervals(engine) if rows is None else rows
    agents = read_agents(engine, cfg, now)
    checks = overlay(compose_status(configured_checks(cfg), rows, now), agents, now)
    services: dict[str, ServiceNow] = service_states(cfg, rows, now) if states is None else states
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


def live_views(engine: Engine, cfg: Config, want_overview: bool, want_public: bool,
               past: PastDays | None, current: PastDays | None,
               now: float | None = None,
               ) -> tuple[Overview | None, PublicStatus | None]:  # fmt: skip
    """The overview and the public view at one instant (either may be left out), reading the
    latest intervals and running the state rule once for both. ``past`` and ``current`` are
    used as given when there are some (see ``public_status``'s ``refresh``)."""
    now = time.time() if now is None else now
    rows = latest_intervals(engine)
    states = service_states(cfg, rows, now)
    over = overview(engine, cfg, now, rows=rows, states=states) if want_overview else None
    pub = (public_status(engine, cfg, now, past, current, states=states, refresh=False)
           if want_public else None)  # fmt: skip
    return over, pub
