"""Read the decision's inputs from the store: each service's state per vantage point.

Seam: this collapses a service's checks seen from one vantage point to the worst state (down
beats degraded beats up; stale checks are ignored by the quorum rule). When the availability
engine's service-state composition (all / any / weighted) lands, ``observations`` should use it
instead; the ``Observation`` shape does not change.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy import Engine

from threenines.core.tables import state_intervals
from threenines.failover.quorum import Observation

_RANK = {"up": 0, "degraded": 1, "unknown": 2, "down": 3}


def observations(engine: Engine, services: Iterable[str]) -> list[Observation]:
    """Open state intervals of the services' checks, one observation per (service, vantage)."""
    names = sorted(set(services))
    if not names:
        return []
    si = state_intervals
    prefix = sa.or_(*(si.c.check_id.like(f"{_escape(n)}/%", escape="\\") for n in names))
    q = sa.select(si.c.check_id, si.c.vantage, si.c.state, si.c.start, si.c.last_seen).where(
        si.c.end.is_(None), prefix
    )
    with engine.connect() as conn:
        rows = list(conn.execute(q))
    worst: dict[tuple[str, str], Observation] = {}
    for row in rows:
        service = row.check_id.split("/", 1)[0]
        o = Observation(service, row.vantage, row.state, row.start, row.last_seen)
        key = (service, row.vantage)
        cur = worst.get(key)
        if cur is None or _worse(o, cur):
            worst[key] = o
    return list(worst.values())


def _worse(a: Observation, b: Observation) -> bool:
    """a is worse than b; between equal states the one that began earlier (the outage start)."""
    ra, rb = _RANK.get(a.state, 2), _RANK.get(b.state, 2)
    if ra != rb:
        return ra > rb
    return a.since < b.since


def _escape(name: str) -> str:
    return name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
