"""Raw results and state intervals: the one write path every result source uses.

Probes (central and agents) and SNMP reachability all arrive here as ``ResultRecord`` batches.
``write_batch`` stores the raw rows and maintains ``state_intervals`` in the same transaction,
and returns the state changes ("flips") for alerting.

Interval semantics (what the availability engine relies on):
- a closed interval covers ``[start, end)``;
- an open interval (``end IS NULL``) is known to hold up to ``last_seen``; beyond that, up to
  the record's ``max_gap`` is grace (``threenines.core.scheduler.max_gap``), after which the
  time is "no data";
- when a result arrives more than ``max_gap`` after the previous one, the previous interval is
  closed at its ``last_seen`` and a new one opens: the gap is "no data", never up or down;
- the intervals are those of the results sorted by time, whatever order they arrived in: an
  older result is merged where it belongs (``threenines.core.intervals``).

Idempotent: a result is one (check, vantage, ts); one already stored (an agent re-sending a
batch whose acknowledgement it never got) is acknowledged and skipped, never stored twice.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.dialects import postgresql, sqlite

from threenines.core.intervals import IntervalWriter, Span
from threenines.core.results import ProbeResult, Status
from threenines.core.tables import results, state_intervals

log = logging.getLogger("threenines.store")


@dataclass(frozen=True, slots=True)
class ResultRecord:
    """One counted result: confirmation retries are folded into ``attempts``."""

    check_id: str
    vantage: str
    ts: float
    result: ProbeResult
    attempts: int = 1
    max_gap: float = 120.0  # scheduler.max_gap of the check: a longer silence is "no data"


@dataclass(frozen=True, slots=True)
class StateChange:
    """A flip: ``check_id`` seen from ``vantage`` went from ``old`` to ``new`` at ``ts``."""

    check_id: str
    vantage: str
    ts: float
    old: Status | None
    new: Status
    error: str | None
    reason: str


class ResultStore:
    """Synchronous store; call it from a thread (``asyncio.to_thread``), never on the loop."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._latest: dict[tuple[str, str], Span | None] = {}
        self.duplicates = 0  # results skipped because they were stored already

    def write_batch(self, records: Sequence[ResultRecord]) -> list[StateChange]:
        """Store ``records`` (those not stored yet) and their intervals in one transaction;
        the changes of the current state they make, in time order."""
        if not records:
            return []
        unique = {(r.check_id, r.vantage, r.ts): r for r in reversed(records)}
        ordered = sorted(unique.values(), key=lambda r: r.ts)
        try:
            with self.engine.begin() as conn:
                new = _insert_new(conn, ordered)
                writer = IntervalWriter(conn, self._latest)
                writer.prefetch({_key(r)[:2] for r in ordered})
                changes = [c for r in ordered if _key(r) in new and (c := writer.add(r))]
                writer.finish()
        except Exception:
            self._latest.clear()  # the transaction rolled back: the cache may be ahead of the DB
            raise
        skipped = len(records) - len(new)
        if skipped:
            self.duplicates += skipped
            log.info("%d result(s) were stored already (re-sent): acknowledged, not stored "
                     "again", skipped)  # fmt: skip
        return changes

    def close_stale(self, now: float, max_gap: float, *, vantage: str | None = None) -> int:
        """Close open intervals not confirmed within ``max_gap`` at their ``last_seen``
        (only ``vantage``'s when given).

        Called at start-up for the server's own vantage: the monitor was down, so that time is
        "no data". Agents' intervals are left alone: agents kept measuring while the server was
        down and deliver their queued results, whose own ``max_gap`` decides on the write path
        whether there was a gap; closing them here would add "no data" at every restart.
        """
        self._latest.clear()
        query = (
            state_intervals.update()
            .where(state_intervals.c.end.is_(None))
            .where(state_intervals.c.last_seen < now - max_gap)
        )
        if vantage is not None:
            query = query.where(state_intervals.c.vantage == vantage)
        with self.engine.begin() as conn:
            res = conn.execute(query.values(end=state_intervals.c.last_seen))
            return res.rowcount or 0


def prune_results(engine: Engine, cutoff: float, batch: int = 5000) -> int:
    """Delete raw results older than ``cutoff`` in batches; never touches state intervals.

    Small batches keep each transaction (and SQLite's write lock) short, so result writes
    interleave with a large purge.
    """
    total = 0
    while True:
        ids = sa.select(results.c.id).where(results.c.ts < cutoff).limit(batch)
        with engine.begin() as conn:
            n = conn.execute(results.delete().where(results.c.id.in_(ids))).rowcount or 0
        total += n
        if n < batch:
            return total


Identity = tuple[str, str, float]  # check_id, vantage, ts: one result


def _key(rec: ResultRecord) -> Identity:
    return (rec.check_id, rec.vantage, rec.ts)


def _insert_new(conn: sa.Connection, records: Sequence[ResultRecord]) -> set[Identity]:
    """Insert the raw rows not stored yet (unique on check, vantage, ts); the keys inserted."""
    dialect: Any = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = (
        dialect.insert(results)
        .on_conflict_do_nothing(index_elements=["check_id", "vantage", "ts"])
        .returning(results.c.check_id, results.c.vantage, results.c.ts)
    )
    rows = conn.execute(stmt, [_row(r) for r in records]).all()
    return {(r.check_id, r.vantage, r.ts) for r in rows}


def _row(rec: ResultRecord) -> dict[str, object]:
    r = rec.result
    return {
        "check_id": rec.check_id,
        "vantage": rec.vantage,
        "ts": rec.ts,
        "status": r.status.value,
        "error": r.error,
        "reason": r.reason[:2000],
        "duration": r.duration,
        "attempts": rec.attempts,
        "phases": dict(r.phases),
        "details": dict(r.details),
    }
