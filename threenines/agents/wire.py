"""The ingest wire format, validated strictly, and its conversion to ``ResultRecord``s.

Validation (``WireBatch``) and ``check`` (pure, explicit ``now``) either accept the whole batch
or say why not, per result (``Rejection``), so the server refuses the batch with nothing stored
and the agent drops exactly the results that can never be accepted: a check since removed from
its vantage point, a time older than any queue keeps, and a number that is not finite (NaN,
Infinity) in ``ts``,
``duration``, ``phases`` or anywhere in ``details``, which no database stores. A body that is
not JSON a database could hold (a lone surrogate escape, nesting past the parser's depth limit)
names no result: the whole batch is refused, and the agent halves it until the result is alone.
Text is kept, not refused: the writer cleans it on the way in (a NUL becomes U+FFFD,
``threenines.core.clean``), so an odd message never costs a measurement.

A result dated in the server's future is never refused for good: ``early`` names those dated
more than the bound (``agents.max_clock_skew``) ahead of the server's clock, the server answers
425 and stores nothing, and the agent keeps them until the server's clock has reached them. So
no state interval is ever dated beyond the server's now plus that bound, and nothing is lost
to a bad clock. The server decides; the agent never drops a result for its time.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat, ValidationError, field_validator

from threenines.core.config.base import Name
from threenines.core.results import ProbeResult, Status
from threenines.core.store import ResultRecord

MAX_AGE = 31 * 86400.0  # older than any agent queue keeps
MAX_DETAILS = 16 * 1024  # bytes of JSON per result's details

Short = Annotated[str, Field(max_length=64)]


class WireResult(BaseModel):
    """One counted result as an agent sends it (same fields as ``ResultRecord``)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    check_id: str = Field(min_length=3, max_length=200)
    ts: float
    status: Literal["up", "degraded", "down", "unknown"]
    error: str | None = Field(None, max_length=32)
    reason: str = Field("", max_length=2000)
    duration: float = Field(ge=0, le=86400)
    attempts: int = Field(1, ge=1, le=100)
    phases: dict[Short, FiniteFloat] = Field(default_factory=dict, max_length=64)
    details: dict[Short, Any] = Field(default_factory=dict, max_length=64)

    @field_validator("ts", "duration")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value

    @field_validator("details")
    @classmethod
    def _small(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            text = json.dumps(value, separators=(",", ":"), allow_nan=False)
        except ValueError:
            raise ValueError("numbers must be finite (NaN and Infinity cannot be stored)") from None
        if len(text) > MAX_DETAILS:
            raise ValueError(f"larger than {MAX_DETAILS} bytes of JSON")
        return value

    @classmethod
    def from_record(cls, rec: ResultRecord) -> dict[str, Any]:
        """JSON-ready dict for ``rec`` (what the agent queues and sends)."""
        r = rec.result
        return {
            "check_id": rec.check_id, "ts": rec.ts, "status": r.status.value, "error": r.error,
            "reason": r.reason[:2000], "duration": r.duration, "attempts": rec.attempts,
            "phases": dict(r.phases), "details": dict(r.details),
        }  # fmt: skip


class WireBatch(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    vantage: Name = Field(max_length=64)
    results: list[WireResult] = Field(min_length=1)


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a batch was refused: a message, and per-result reasons (index -> reason)."""

    message: str
    results: Mapping[int, str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "detail": self.message,
            "rejected": [{"index": i, "reason": r} for i, r in sorted(self.results.items())],
        }


def validation_rejection(exc: ValidationError, limit: int = 20) -> Rejection:
    """A ``Rejection`` naming every refused result, its message the first ``limit`` problems
    (field path: message)."""
    per: dict[int, str] = {}
    lines: list[str] = []
    for e in exc.errors(include_url=False, include_input=False):
        loc = e["loc"]
        if len(lines) < limit:
            lines.append(f"{'.'.join(str(x) for x in loc) or 'body'}: {e['msg']}")
        if len(loc) >= 2 and loc[0] == "results" and isinstance(loc[1], int):
            per.setdefault(loc[1], f"{'.'.join(str(x) for x in loc[2:])}: {e['msg']}")
    return Rejection("malformed batch: " + "; ".join(lines), per)


def check(batch: WireBatch, known: Mapping[str, float], now: float) -> Rejection | None:
    """None if every result is for a check ``known`` at this vantage and is not too old.

    ``known`` maps the vantage's check ids to their ``max_gap``.
    """
    per: dict[int, str] = {}
    for i, r in enumerate(batch.results):
        if r.check_id not in known:
            per[i] = f"check {r.check_id!r} is not assigned to vantage {batch.vantage!r}"
        elif r.ts < now - MAX_AGE:
            per[i] = f"ts {r.ts:.0f} is older than {MAX_AGE / 86400:.0f} days"
    if not per:
        return None
    first = ", ".join(f"#{i}: {m}" for i, m in list(per.items())[:5])
    return Rejection(f"{len(per)} result(s) refused, nothing stored: {first}", per)


def early(batch: WireBatch, now: float, bound: float) -> Rejection | None:
    """The results dated more than ``bound`` seconds after ``now`` (the server's clock): not
    stored yet, kept by the agent (425). None if there are none."""
    ahead = {i: r.ts - now for i, r in enumerate(batch.results) if r.ts > now + bound}
    if not ahead:
        return None
    per = {i: f"dated {a:.1f}s after the server's clock" for i, a in ahead.items()}
    return Rejection(f"{len(ahead)} result(s) dated up to {max(ahead.values()):.0f}s in the "
                     f"server's future (more than {bound:g}s): not stored yet, keep them and "
                     "send them again later; is this agent's clock right?", per)  # fmt: skip


def records(batch: WireBatch, known: Mapping[str, float]) -> list[ResultRecord]:
    """The batch as ``ResultRecord``s for the writer (call after ``check`` passed)."""
    out = []
    for r in batch.results:
        result = ProbeResult.make(
            Status(r.status), r.duration, r.error, r.reason, phases=r.phases, details=r.details
        )
        out.append(
            ResultRecord(r.check_id, batch.vantage, r.ts, result, r.attempts, known[r.check_id])
        )
    return out
