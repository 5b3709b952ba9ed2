"""What each agent says about itself, and whether its clock can be trusted (server side).

With every request an agent sends its host's clock (``X-Threenines-Sent``) and its own state
(``X-Threenines-Agent``: queue depth, oldest queued result, queue error, results held in
memory or held back, how it dates results). An agent's own endpoint (``--listen``) is off by
default and local to its host, so the server keeps the newest report per vantage point in
``agent_health``, and ``threenines status`` and ``/api/v1/agents`` show it. The clock skew is
the host's clock minus the server's when the request arrived.

An agent whose skew is beyond ``agents.max_clock_skew`` is *skewed*: when it becomes so, an
``events`` row of kind ``agent_clock_skew`` (severity major) is written in the same
transaction, and ``agent_clock_ok`` (info) when it is back within half the bound (so a clock
hovering at the bound does not flap). A conditional update on ``skewed_since`` decides, so two
server instances never both write the event. Alerts consume events
(``threenines.alerts.lifecycle.apply_event``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Column, Engine, Float, Integer, String, Table

from threenines.core.tables import events, metadata

MAX_HEADER = 2048  # bytes of agent state read; the rest is ignored
COUNTS = ("queue", "memory", "dropped", "held", "restarts")

agent_health = Table(
    "agent_health",
    metadata,
    Column("vantage", String(64), primary_key=True),
    Column("reported", Float, nullable=False),  # server time of the newest report
    Column("clock_skew", Float),  # host clock - server clock, seconds; NULL: not sent
    Column("skewed_since", Float),  # since when beyond agents.max_clock_skew; NULL: within
    Column("clock", String(8)),  # how it dates results: server | host
    Column("queue", Integer),  # results in its disk queue
    Column("oldest", Float),  # when its oldest undelivered result was measured
    Column("memory", Integer),  # results held in memory (the queue could not take them)
    Column("queue_error", String(300)),  # why its queue cannot be written; NULL: it can
    Column("dropped", Integer),  # dropped by its queue's bounds, ever
    Column("held", Integer),  # results the server holds back (dated in its future)
    Column("restarts", Integer),  # its tasks that died and were restarted
)


@dataclass(frozen=True, slots=True)
class Report:
    """One request's word from an agent (parsed leniently: a bad header is ignored)."""

    skew: float | None = None
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[bool, bool]:
        """What makes a report worth writing at once: a queue error, held results."""
        return (bool(self.state.get("queue_error")), bool(self.state.get("held")))


def parse(sent: str | None, state: str | None, now: float) -> Report:
    skew = None
    try:
        t = float(sent) if sent else math.nan
        if math.isfinite(t):
            skew = round(t - now, 3)
    except ValueError:
        pass
    doc: dict[str, Any] = {}
    try:
        raw = json.loads(state[:MAX_HEADER]) if state else {}
        if isinstance(raw, dict):
            doc = _clean(raw)
    except ValueError:
        pass
    return Report(skew, doc)


def _clean(raw: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k in COUNTS:
        if isinstance(raw.get(k), int) and not isinstance(raw.get(k), bool):
            out[k] = max(0, min(raw[k], 2**31 - 1))
    oldest = raw.get("oldest")
    if isinstance(oldest, int | float) and math.isfinite(oldest):
        out["oldest"] = float(oldest)
    if isinstance(raw.get("queue_error"), str):
        out["queue_error"] = raw["queue_error"][:300]
    if raw.get("clock") in ("server", "host"):
        out["clock"] = raw["clock"]
    return out


def is_skewed(skew: float | None, bound: float, was: bool) -> bool:
    """Beyond the bound (or, once skewed, not yet back within half of it)."""
    if skew is None:
        return was
    return abs(skew) > (bound / 2 if was else bound)


class HealthStore:
    """Synchronous; call from a thread in async code."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def record(self, vantage: str, report: Report, *, now: float, bound: float,
               site: str | None) -> str | None:  # fmt: skip
        """Keep ``report``; the event kind written if the clock verdict changed, else None."""
        h = agent_health
        values: dict[str, Any] = {"reported": now, "clock_skew": report.skew, "queue": None,
                                  "oldest": None, "memory": None, "queue_error": None,
                                  "dropped": None, "held": None, "restarts": None,
                                  "clock": None, **report.state}  # fmt: skip
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(h.c.skewed_since).where(h.c.vantage == vantage)).first()
            was = row is not None and row[0] is not None
            inserted = False
            if row is None:
                try:
                    with conn.begin_nested():
                        conn.execute(h.insert().values(vantage=vantage, **values))
                    inserted = True
                except sa.exc.IntegrityError:  # another instance inserted it meanwhile
                    pass
            if not inserted:
                conn.execute(h.update().where(h.c.vantage == vantage).values(**values))
            skewed = is_skewed(report.skew, bound, was)
            if skewed == was:
                return None
            cond = h.c.skewed_since.is_(None) if skewed else h.c.skewed_since.is_not(None)
            claimed = conn.execute(
                h.update().where(h.c.vantage == vantage, cond)
                .values(skewed_since=now if skewed else None)
            ).rowcount  # fmt: skip
            if not claimed:
                return None
            kind = "agent_clock_skew" if skewed else "agent_clock_ok"
            conn.execute(events.insert().values(**_event(vantage, kind, report, now, bound, site)))
            return kind

    def all(self) -> dict[str, dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(agent_health)).all()
        return {r.vantage: dict(r._mapping) for r in rows}


def _event(vantage: str, kind: str, report: Report, now: float, bound: float,
           site: str | None) -> dict[str, Any]:  # fmt: skip
    skew = report.skew or 0.0
    if kind == "agent_clock_ok":
        message = f"agent {vantage}: clock back within {bound:g}s of the server's ({skew:+.1f}s)"
    else:
        dated = ("its results are dated by the server's clock, so they stay right"
                 if report.state.get("clock") == "server" else
                 "its results carry its own clock: those ahead of the server's are held back "
                 "until the server's clock reaches them")  # fmt: skip
        message = (
            f"agent {vantage}: clock {skew:+.1f}s off the server's (bound {bound:g}s); {dated}"
        )
    return {
        "ts": now, "source": "agents", "kind": kind,
        "severity": "major" if kind == "agent_clock_skew" else "info",
        "category": "availability", "site": site, "device": None, "subject": vantage,
        "message": message, "details": {"skew": skew, "bound": bound, "tags": ["agent"]},
    }  # fmt: skip
