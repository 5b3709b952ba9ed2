"""Current state per check and vantage point: the newest state interval of each, and what it means.

``latest_intervals`` is the query (I/O); ``compose_status`` is pure: it takes the configured
checks, those rows and an explicit ``now``, and says what is known. A check whose newest interval
is closed, or open but not confirmed within its grace (2 x interval), is ``unknown`` since the
last time it was seen: silence is never reported as up or down.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import Engine

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
    interval: float

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
                        chk.interval)
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
        stale = row.end is not None or now - row.last_seen > 2 * c.interval
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


SEVERITY = {"up": 0, "degraded": 1, "unknown": 2, "down": 3}


def worst(states: Iterable[str]) -> str:
    """The worst of ``states`` (down > unknown > degraded > up); ``unknown`` when empty.

    A plain roll-up for the status view; quorum across vantage points is the availability
    engine's job, not this one's.
    """
    found = list(states)
    return max(found, key=SEVERITY.__getitem__) if found else "unknown"


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
