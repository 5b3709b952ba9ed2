"""Read the decision's inputs from the store: each check's open interval per vantage point.

One observation per (check, vantage point), and per device component the services need: the
state rule (``threenines.availability.state``) makes the service state from them. Nothing is
collapsed here; a service's checks are never reduced to one state per vantage point.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy import Engine

from threenines.availability.state import ServiceSpec
from threenines.core.tables import state_intervals
from threenines.failover.quorum import Observation

CHUNK = 500  # ids per IN (...): well under every backend's parameter limit


def observations(engine: Engine, specs: Iterable[ServiceSpec]) -> list[Observation]:
    """Open state intervals of every (check or device, vantage) the services' rule reads."""
    keys = {k for spec in specs for k in spec.keys()}
    ids = sorted({check_id for check_id, _ in keys})
    si = state_intervals
    out: list[Observation] = []
    with engine.connect() as conn:
        for i in range(0, len(ids), CHUNK):
            q = sa.select(
                si.c.check_id, si.c.vantage, si.c.state, si.c.start, si.c.last_seen,
                si.c.error, si.c.reason,
            ).where(si.c.end.is_(None), si.c.check_id.in_(ids[i : i + CHUNK]))  # fmt: skip
            for r in conn.execute(q):
                if (r.check_id, r.vantage) in keys:
                    out.append(Observation(r.check_id, r.vantage, r.state, r.start, r.last_seen,
                                           r.error, r.reason or ""))  # fmt: skip
    return out
