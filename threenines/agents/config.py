"""The ``agents`` section of the server configuration: ingest limits, silence threshold and
the clock-skew bound."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from threenines.core.config.base import StrictModel
from threenines.core.durations import Duration

if TYPE_CHECKING:
    from threenines.core.config.schema import Config


# Heartbeats are written at most every 5 s per agent, so a default below this would flicker
MIN_SILENT = 30.0


class AgentsConfig(StrictModel):
    silent_after: Duration | None = Field(
        None,
        gt=0,
        description="An agent not heard from for this long is silent and its checks unknown "
        "(default: 2 x the longest interval among its checks, at least 30s)",
    )
    max_body: int = Field(
        1024 * 1024, ge=1024, le=64 * 1024 * 1024, description="Largest ingest body (bytes)"
    )
    max_batch: int = Field(10_000, ge=1, le=100_000, description="Most results per ingest")
    ingest_wait: Duration = Field(
        30.0, gt=0, description="How long an ingest waits for its results to be stored"
    )
    max_clock_skew: Duration = Field(
        10.0,
        gt=0,
        le=3600,
        description="An agent whose clock is further than this from the server's is flagged "
        "(status, /api/v1/agents, an agent_clock_skew event); a result dated further than "
        "this in the server's future is not stored yet (425): the agent keeps it until then",
    )


def silent_threshold(cfg: Config, vantage: str) -> float:
    """Seconds without news after which the agent at ``vantage`` counts as silent."""
    silent_after = agents_config(cfg).silent_after
    if silent_after is not None:
        return silent_after
    intervals = [c.interval for _s, c in cfg.iter_checks() if vantage in cfg.vantages_for(c)]
    return max(2 * max(intervals, default=60.0), MIN_SILENT)


def agent_vantages(cfg: Config) -> list[str]:
    """Vantage points run by agents: every configured one but the server's own."""
    return [v.name for v in cfg.vantage_points if v.name != cfg.server.vantage]


def agents_config(cfg: Config) -> AgentsConfig:
    """The ``agents`` section of a composed configuration."""
    return cfg.section("agents", AgentsConfig)
