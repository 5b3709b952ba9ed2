"""Agents' liveness and health: who is silent, whose clock is off, whose queue is in
trouble (pure), read from their heartbeats and their own reports (``agents.health``).

An agent not heard from (no ingest, no config fetch) within its threshold is *silent*: the
state its checks last reported says nothing about now, so they show ``unknown``, never ``down``
(a library losing its WAN link must not look like the portal being down from there). An agent
whose clock is beyond ``agents.max_clock_skew`` is *skewed*; one whose queue cannot be written,
or whose results the server holds back, says so. ``state`` is the one word for all of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from threenines.agents.config import agent_vantages, agents_config, silent_threshold
from threenines.core.durations import format_duration

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from threenines.core.config import Config


@dataclass(frozen=True, slots=True)
class AgentStatus:
    vantage: str
    site: str | None
    last_heard: float | None  # None: never
    silent: bool
    threshold: float
    address: str | None
    results: int
    clock_skew: float | None = None  # its host's clock minus the server's, seconds
    clock_skewed: bool = False  # beyond agents.max_clock_skew
    clock: str | None = None  # how it dates results: server | host
    queue: int | None = None  # results in its disk queue
    queue_oldest: float | None = None  # when its oldest undelivered result was measured
    queue_error: str | None = None  # why its queue cannot be written now
    memory: int | None = None  # results held in memory meanwhile
    held: int = 0  # results the server holds back (dated in its future)
    dropped: int = 0  # results its queue's bounds dropped, ever
    reported: float | None = None  # when it last reported on itself
    kind: str = "agent"  # or "node": another ``threenines run`` on this store (core.ha)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "state": self.state}

    @property
    def state(self) -> str:
        """silent | queue_error | clock_skewed | held | ok (the first that applies)."""
        if self.silent:
            return "silent"
        if self.queue_error:
            return "queue_error"
        if self.clock_skewed:
            return "clock_skewed"
        return "held" if self.held else "ok"

    def describe(self, now: float) -> str:
        if self.last_heard is None:
            return f"{self.kind} never heard from"
        ago = format_duration(max(0, round(now - self.last_heard)))
        return f"{self.kind} {'silent' if self.silent else 'heard'} {ago} ago"


def agent_rows(
    vantages: Iterable[str],
    heard: Mapping[str, Mapping[str, Any]],
    cfg: Config,
    now: float,
    health: Mapping[str, Mapping[str, Any]] | None = None,
    nodes: Mapping[str, float] | None = None,
) -> list[AgentStatus]:
    """One row per agent vantage point; ``heard`` is ``HeartbeatStore.all()``, ``health``
    ``HealthStore.all()``, ``nodes`` the other ``threenines run`` nodes' heartbeats (a node
    probes as its own vantage point: heard by its heartbeat, never an agent)."""
    sites = {v.name: v.site for v in cfg.vantage_points}
    out = []
    for v in vantages:
        hb = heard.get(v, {})
        last = hb.get("last_heard")
        kind = "agent"
        if nodes and v in nodes:
            last, kind = max(last or 0.0, nodes[v]), "node"
        limit = silent_threshold(cfg, v)
        out.append(
            AgentStatus(v, sites.get(v), last, last is None or now - last > limit, limit,
                        hb.get("address"), int(hb.get("results") or 0),
                        **_health((health or {}).get(v), cfg), kind=kind)
        )  # fmt: skip
    return out


def _health(h: Mapping[str, Any] | None, cfg: Config) -> dict[str, Any]:
    if not h:
        return {}
    skew = h.get("clock_skew")
    bound = agents_config(cfg).max_clock_skew
    return {
        "clock_skew": skew, "clock": h.get("clock"), "queue": h.get("queue"),
        "clock_skewed": h.get("skewed_since") is not None or (skew is not None
                                                             and abs(skew) > bound),
        "queue_oldest": h.get("oldest"), "queue_error": h.get("queue_error"),
        "memory": h.get("memory"), "held": int(h.get("held") or 0),
        "dropped": int(h.get("dropped") or 0), "reported": h.get("reported"),
    }  # fmt: skip


def read_agents(engine: Engine, cfg: Config, now: float) -> list[AgentStatus]:
    """The agents' rows from the store (I/O); none heard of if the table is not there yet."""
    from threenines.agents.health import HealthStore
    from threenines.agents.tokens import HeartbeatStore

    try:
        heard = HeartbeatStore(engine).all()
    except Exception:  # an older database without the tokens migration: nobody heard from
        heard = {}
    try:
        health = HealthStore(engine).all()
    except Exception:  # nor the health table: nothing reported
        health = {}
    try:
        from threenines.core.ha import heartbeats

        nodes = heartbeats(engine)
    except Exception:  # an older database without the ha tables: no other nodes
        nodes = {}
    return agent_rows(agent_vantages(cfg), heard, cfg, now, health, nodes)
