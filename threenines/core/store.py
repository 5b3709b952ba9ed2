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
  closed at its ``last_seen`` and a new one opens: the gap is "no data", never up or down.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import Engine

from threenines.core.results import ProbeResult, Status
from threenines.core.tables import results, state_intervals


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


@dataclass(slots=True)
class _Open:
    id: int
    state: str
    last_seen: float


class ResultStore:
    """Synchronous store; call it from a thread (``asyncio.to_thread``), never on the loop."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._open: dict[tuple[str, str], _Open | None] = {}

    def write_batch(self, records: Sequence[ResultRecord]) -> list[StateChange]:
        if not records:
            return []
        ordered = sorted(records, key=lambda r: r.ts)
        try:
            with self.engine.begin() as conn:
                conn.execute(results.insert(), [_row(r) for r in ordered])
                return self._update_intervals(conn, ordered)
        except Exception:
            self._open.clear()  # the transaction rolled back: the cache may be ahead of the DB
            raise

    def _current(self, conn: sa.Connection, key: tuple[str, str]) -> _Open | None:
        if key not in self._open:
            row = conn.execute(
                sa.select(
                    state_intervals.c.id, state_intervals.c.state, state_intervals.c.last_seen
                )
                .where(state_intervals.c.check_id == key[0], state_intervals.c.vantage == key[1])
                .where(state_intervals.c.end.is_(None))
                .order_by(state_intervals.c.start.desc())
                .limit(1)
            ).first()
            self._open[key] = _Open(row.id, row.state, row.last_seen) if row else None
        return self._open[key]

    def _update_intervals(
        self, conn: sa.Connection, records: Sequence[ResultRecord]
    ) -> list[StateChange]:
        changes: list[StateChange] = []
        touched: dict[int, float] = {}
        for rec in records:
            key = (rec.check_id, rec.vantage)
            cur = self._current(conn, key)
            state = rec.result.status.value
            if cur is not None and rec.ts < cur.last_seen:
                continue  # late arrival: kept as a raw row, intervals only move forward
            gap = cur is not None and rec.ts - cur.last_seen > rec.max_gap
            if cur is not None and cur.state == state and not gap:
                cur.last_seen = rec.ts
                touched[cur.id] = rec.ts
                continue
            if cur is not None:
                end = cur.last_seen if gap else rec.ts
                conn.execute(
                    state_intervals.update()
                    .where(state_intervals.c.id == cur.id)
                    .values(end=end, last_seen=cur.last_seen)
                )
                touched.pop(cur.id, None)
            new_id = conn.execute(
                state_intervals.insert().values(
                    check_id=rec.check_id,
                    vantage=rec.vantage,
                    state=state,
                    start=rec.ts,
                    end=None,
                    last_seen=rec.ts,
                    error=rec.result.error,
                    reason=rec.result.reason[:1000],
                )
            ).inserted_primary_key[0]  # type: ignore[index]
            self._open[key] = _Open(int(new_id), state, rec.ts)
            old = None if cur is None or gap else Status(cur.state)
            if old is None or old.value != state:
                changes.append(
                    StateChange(
                        rec.check_id,
                        rec.vantage,
                        rec.ts,
                        old,
                        rec.result.status,
                        rec.result.error,
                        rec.result.reason,
                    )
                )
        if touched:  # one executemany: a batch of 500 checks is one round of updates
            conn.execute(
                state_intervals.update()
                .where(state_intervals.c.id == sa.bindparam("interval_id"))
                .values(last_seen=sa.bindparam("seen")),
                [{"interval_id": i, "seen": seen} for i, seen in touched.items()],
            )
        return changes

    def close_stale(self, now: float, max_gap: float, *, vantage: str | None = None) -> int:
        """Close open intervals not confirmed within ``max_gap`` at their ``last_seen``
        (only ``vantage``'s when given).

        Called at start-up for the server's own vantage: the monitor was down, so that time is
        "no data". Agents' intervals are left alone: agents kept measuring while the server was
        down and deliver their queued results, whose own ``max_gap`` decides on the write path
        whether there was a gap; closing them here would add "no data" at every restart.
        """
        self._open.clear()
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
