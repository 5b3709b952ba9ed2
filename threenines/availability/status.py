"""Current state per check and vantage point, and per service, from the newest state intervals.

``latest_intervals`` is the query (I/O); ``compose_status`` and ``service_states`` are pure:
they take the configuration, those rows and an explicit ``now``. A vantage point whose newest
interval is closed, or open but older than its check's grace (``availability.state.grace``),
is ``unknown`` since the last time it was seen: silence is never reported as up or down. A
service's state is the state rule's (``availability.state``), as availability counts it, from
the results alone: ``overlay`` (a silent agent's checks shown ``unknown``) annotates the
per-vantage lines, it does not change a service's state.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import Engine

from threenines.availability.state import ServiceNow, grace, service_state_at, specs
from threenines.availability.timeline import IntervalRow as TimelineRow
from threenines.availability.timeline import holds_until
from threenines.core.tables import state_intervals

if TYPE_CHECKING:
    from threenines.agents.status import AgentStatus
    from threenines.core.config import Config


@dataclass(frozen=True, slots=True)
class IntervalRow:
    check_id: str
    vantage: str
    state: str
    start: float
    end: float | None
    last_seen: float
    error: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class ConfiguredCheck:
    """What the status view needs to know about one configured check at one vantage."""

    service: str
    site: str
    check: str
    type: str
    vantage: str
    grace: float  # a result older than this says nothing about now (state.grace)

    @property
    def check_id(self) -> str:
        return f"{self.service}/{self.check}"


@dataclass(frozen=True, slots=True)
class CheckStatus:
    service: str
    site: str
    check: str
    type: str
    vantage: str
    state: str  # up | degraded | down | unknown
    since: float | None  # None: never seen
    last_seen: float | None
    error: str | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def configured_checks(cfg: Config) -> list[ConfiguredCheck]:
    """Every configured check at every vantage point that runs it, in configuration order."""
    sites = {s.name: s.site for s in cfg.services}
    return [
        ConfiguredCheck(svc.name, sites[svc.name], chk.name, getattr(chk, "type", "?"), v,
                        grace(cfg, f"{svc.name}/{chk.name}"))
        for svc, chk in cfg.iter_checks()
        for v in cfg.vantages_for(chk)
    ]  # fmt: skip


def latest_intervals(engine: Engine) -> list[IntervalRow]:
    """The newest interval of every (check, vantage) pair in the store."""
    si = state_intervals
    newest = (
        sa.select(si.c.check_id, si.c.vantage, sa.func.max(si.c.start).label("start"))
        .group_by(si.c.check_id, si.c.vantage)
        .subquery()
    )
    query = sa.select(si).join(
        newest,
        sa.and_(
            si.c.check_id == newest.c.check_id,
            si.c.vantage == newest.c.vantage,
            si.c.start == newest.c.start,
        ),
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    out: dict[tuple[str, str], IntervalRow] = {}
    for r in rows:  # two intervals may share a start after a restart: keep the open one
        row = IntervalRow(
            r.check_id, r.vantage, r.state, r.start, r.end, r.last_seen, r.error, r.reason
        )
        key = (r.check_id, r.vantage)
        if key not in out or out[key].end is not None:
            out[key] = row
    return list(out.values())


def compose_status(
    checks: Iterable[ConfiguredCheck], rows: Iterable[IntervalRow], now: float
) -> list[CheckStatus]:
    """Current state of every configured check, in configuration order (pure)."""
    by_key = {(r.check_id, r.vantage): r for r in rows}
    out = []
    for c in checks:
        row = by_key.get((c.check_id, c.vantage))
        if row is None:
            out.append(
                CheckStatus(
                    c.service,
                    c.site,
                    c.check,
                    c.type,
                    c.vantage,
                    "unknown",
                    None,
                    None,
                    None,
                    "no result yet",
                )
            )
            continue
        stale = now >= holds_until(_timeline_row(row), c.grace)
        if stale:
            state, since, reason = "unknown", row.end or row.last_seen, "no recent result"
        else:
            state, since, reason = row.state, row.start, row.reason
        out.append(
            CheckStatus(
                c.service,
                c.site,
                c.check,
                c.type,
                c.vantage,
                state,
                since,
                row.last_seen,
                None if stale else row.error,
                reason,
            )
        )
    return out


def _timeline_row(r: IntervalRow) -> TimelineRow:
    return TimelineRow(r.state, r.start, r.end, r.last_seen, r.error, r.reason)


def service_states(cfg: Config, rows: Iterable[IntervalRow], now: float) -> dict[str, ServiceNow]:
    """Every service's state at ``now`` by the state rule, from the newest intervals (pure)."""
    by_key: dict[tuple[str, str], list[TimelineRow]] = {}
    for r in rows:
        by_key.setdefault((r.check_id, r.vantage), []).append(_timeline_row(r))
    return {name: service_state_at(spec, by_key, now) for name, spec in specs(cfg).items()}


def service_dict(s: ServiceNow) -> dict[str, Any]:
    """A service's state for JSON: the rule's state and label, and who sees what."""
    return {
        "service": s.name,
        "state": s.state,
        "label": s.label,
        "reason": s.reason,
        "since": s.since,
        "down_vantages": list(s.down_vantages),
        "checks": [
            {"check": c.name, "state": c.state, "reason": c.reason, "quorum": c.k,
             "votes": [asdict(v) for v in c.votes]}
            for c in s.checks
        ],
        "devices": [{"component": n, **asdict(v)} for n, v in s.parts],
    }  # fmt: skip


def overlay(checks: Iterable[CheckStatus], agents: Iterable[AgentStatus], now: float
            ) -> list[CheckStatus]:  # fmt: skip
    """``checks`` with every check of a silent agent turned ``unknown``, saying why."""
    silent = {a.vantage: a for a in agents if a.silent}
    out = []
    for c in checks:
        a = silent.get(c.vantage)
        if a is None:
            out.append(c)
            continue
        out.append(replace(c, state="unknown", since=a.last_heard, error=None,
                           reason=f"{a.describe(now)} (last state: {c.state})"))  # fmt: skip
    return out


def status_document(engine: Engine, cfg: Config, now: float) -> dict[str, Any]:
    """What ``status --json`` prints and ``GET /api/v1/status`` answers: every service by the
    state rule, every configured check at every vantage point, and the agents."""
    from threenines.agents.status import read_agents

    rows = latest_intervals(engine)
    agents = read_agents(engine, cfg, now)  # a silent agent's checks become "unknown"
    checks = overlay(compose_status(configured_checks(cfg), rows, now), agents, now)
    services = service_states(cfg, rows, now)
    sites = {s.name: s.site for s in cfg.services}
    return {
        "generated": now,
        "organisation": cfg.organisation,
        "timezone": cfg.timezone,
        "services": [{**service_dict(s), "site": sites.get(s.name)} for s in services.values()],
        "checks": [c.to_dict() for c in checks],
        "agents": [a.to_dict() for a in agents],
    }
