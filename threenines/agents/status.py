"""Agents' liveness: who is silent (pure), read from their heartbeats.

An agent not heard from (no ingest, no config fetch) within its threshold is *silent*: the
state its checks last reported says nothing about now, so they show ``unknown``, never ``down``
(a library losing its WAN link must not look like the portal being down from there).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from threenines.agents.config import agent_vantages, silent_threshold
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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self, now: float) -> str:
        if self.last_heard is None:
            return "agent never heard from"
        ago = format_duration(max(0, round(now - self.last_heard)))
        return f"agent {'silent' if self.silent else 'heard'} {ago} ago"


def agent_rows(
    vantages: Iterable[str], heard: Mapping[str, Mapping[str, Any]], cfg: Config, now: float
) -> list[AgentStatus]:
    """One row per agent vantage point; ``heard`` is ``HeartbeatStore.all()``."""
    sites = {v.name: v.site for v in cfg.vantage_points}
    out = []
    for v in vantages:
        hb = heard.get(v, {})
        last = hb.get("last_heard")
        limit = silent_threshold(cfg, v)
        out.append(
            AgentStatus(v, sites.get(v), last, last is None or now - last > limit, limit,
                        hb.get("address"), int(hb.get("results") or 0))
        )  # fmt: skip
    return out


def read_agents(engine: Engine, cfg: Config, now: float) -> list[AgentStatus]:
    """The agents' rows from the store (I/O); none heard of if the table is not there yet."""
    from threenines.agents.tokens import HeartbeatStore

    try:
        heard = HeartbeatStore(engine).all()
    except Exception:  # an older database without the tokens migration: nobody heard from
        heard = {}
    return agent_rows(agent_vantages(cfg), heard, cfg, now)
