"""State intervals from results that arrive in any order: the write path's second half.

A (check, vantage)'s intervals are a function of its results *sorted by time*, whatever order
they arrived in (a backlog, a corrected clock, a second node). Between two consecutive results
``a`` and ``b`` there is one *edge*: a **gap** when ``b`` came more than ``max_gap`` after
``a`` (the time between is "no data"), else **same** (one state goes on) or a **flip** (the
state changed at ``b``). An interval is a run of results joined by "same" edges: it starts at
its first result, ``last_seen`` is its last, and it ends at the next result after a flip, at
its ``last_seen`` after a gap, or is open (``end IS NULL``) after the newest result.

A result newer than everything known (the usual case) extends or closes the newest interval.
An older one is merged where it belongs: it joins, extends, bridges or splits the intervals
around it, using the raw results only to find its neighbours inside a run. The newest result
decides the current state, so a late one never changes it: the merge returns no flips (a flip
is a change of the current state, which alerts act on); it rewrites history, which
availability and reports read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import sqlalchemy as sa

from threenines.core.results import Status
from threenines.core.tables import results, state_intervals

if TYPE_CHECKING:
    from threenines.core.store import ResultRecord, StateChange

Key = tuple[str, str]
Edge = Literal["gap", "same", "flip"]
si = state_intervals
PREFETCH_CHUNK = 500  # check ids per IN (...): under every backend's parameter limit


@dataclass(slots=True)
class Span:
    """One stored state interval."""

    id: int
    state: str
    start: float
    end: float | None
    last_seen: float
    error: str | None
    reason: str


def edge(a_ts: float, a_state: str, b_ts: float, b_state: str, max_gap: float) -> Edge:
    """The edge between consecutive results ``a`` and ``b`` (``b`` later)."""
    if b_ts - a_ts > max_gap:
        return "gap"
    return "same" if a_state == b_state else "flip"


def _span(row: sa.Row[Any] | None) -> Span | None:
    if row is None:
        return None
    m = row._mapping
    return Span(int(m["id"]), m["state"], m["start"], m["end"], m["last_seen"], m["error"],
                m["reason"])  # fmt: skip


class IntervalWriter:
    """Applies one transaction's new results to the intervals. ``latest`` (the newest interval
    per key, open or closed) is the store's cache; it is kept exact while this runs."""

    def __init__(self, conn: sa.Connection, latest: dict[Key, Span | None]):
        self.conn = conn
        self.latest = latest
        self._touched: dict[int, float] = {}  # interval id -> last_seen, written in one go

    def add(self, rec: ResultRecord) -> StateChange | None:
        key = (rec.check_id, rec.vantage)
        cur = self._newest(key)
        if cur is None or rec.ts > cur.last_seen:
            return self._append(key, cur, rec)
        self._flush()
        self._merge(key, rec)
        self.latest[key] = _span(self.conn.execute(self._query(key).limit(1)).first())
        return None

    def finish(self) -> None:
        self._flush()

    def prefetch(self, keys: set[Key]) -> None:
        """Read the open interval of every key not cached yet, a few statements for all of
        them (after a start or a rollback, not one SELECT per check); a key with none open
        (new, or after "no data") is read on its own when its result comes."""
        latest = self.latest
        missing = {k for k in keys if k not in latest}  # not ``keys - latest.keys()``: O(cache)
        ids = sorted({check_id for check_id, _ in missing})
        for i in range(0, len(ids), PREFETCH_CHUNK):
            q = sa.select(si).where(
                si.c.end.is_(None), si.c.check_id.in_(ids[i : i + PREFETCH_CHUNK])
            )
            for row in self.conn.execute(q):
                key = (row.check_id, row.vantage)
                if key in missing:
                    self.latest[key] = _span(row)

    # -- the newest result: extend, or close and open --------------------------------------

    def _newest(self, key: Key) -> Span | None:
        if key not in self.latest:
            self.latest[key] = _span(self.conn.execute(self._query(key).limit(1)).first())
        return self.latest[key]

    def _query(self, key: Key) -> sa.Select[Any]:
        return (
            sa.select(si)
            .where(si.c.check_id == key[0], si.c.vantage == key[1])
            .order_by(si.c.start.desc(), si.c.id.desc())
        )

    def _append(self, key: Key, cur: Span | None, rec: ResultRecord) -> StateChange | None:
        from threenines.core.store import StateChange

        state = rec.result.status.value
        if cur is not None and cur.end is None:
            kind = edge(cur.last_seen, cur.state, rec.ts, state, rec.max_gap)
            if kind == "same":
                cur.last_seen = rec.ts
                self._touched[cur.id] = rec.ts
                return None
            cur.end = cur.last_seen if kind == "gap" else rec.ts
            self._update(cur.id, end=cur.end, last_seen=cur.last_seen)
            old = Status(cur.state) if kind == "flip" else None
        else:
            old = None  # nothing open: the first result, or the time since was "no data"
        self.latest[key] = self._insert(key, state, rec.ts, None, rec.ts, rec)
        return StateChange(rec.check_id, rec.vantage, rec.ts, old, rec.result.status,
                           rec.result.error, rec.result.reason)  # fmt: skip

    # -- an older result: merged where it belongs ------------------------------------------

    def _merge(self, key: Key, rec: ResultRecord) -> None:
        t, state = rec.ts, rec.result.status.value
        a = _span(self.conn.execute(self._around(key, t, before=True)).first())
        if a is not None and a.start <= t <= a.last_seen:
            if t not in (a.start, a.last_seen) and a.state != state:
                self._split(key, a, rec)
            return  # inside a run of its own state (or a result already there): no change
        b = _span(self.conn.execute(self._around(key, t, before=False)).first())
        if b is None:  # cannot be (t is older than the newest result): keep the row only
            return
        self._between(key, a, b, rec)

    def _around(self, key: Key, t: float, *, before: bool) -> sa.Select[Any]:
        q = sa.select(si).where(si.c.check_id == key[0], si.c.vantage == key[1])
        if before:
            return q.where(si.c.start <= t).order_by(si.c.start.desc(), si.c.id.desc()).limit(1)
        return q.where(si.c.start > t).order_by(si.c.start, si.c.id).limit(1)

    def _between(self, key: Key, a: Span | None, b: Span, rec: ResultRecord) -> None:
        """``rec`` lies after ``a``'s last result (or before everything) and before ``b``."""
        t, state, g = rec.ts, rec.result.status.value, rec.max_gap
        e1 = edge(a.last_seen, a.state, t, state, g) if a is not None else None
        e2 = edge(t, state, b.start, b.state, g)
        if a is not None and e1 == "same" and e2 == "same":  # bridges a and b into one
            self._update(a.id, end=b.end, last_seen=b.last_seen)
            self.conn.execute(si.delete().where(si.c.id == b.id))
            return
        if a is not None:
            end = a.last_seen if e1 == "gap" else t
            if e1 == "same":
                end = b.start if e2 == "flip" else t
                self._update(a.id, end=end, last_seen=t)
                return
            self._update(a.id, end=end, last_seen=a.last_seen)
        if e2 == "same":  # b now starts here
            self._update(b.id, start=t, error=rec.result.error, reason=rec.result.reason[:1000])
            return
        self._insert(key, state, t, b.start if e2 == "flip" else t, t, rec)

    def _split(self, key: Key, a: Span, rec: ResultRecord) -> None:
        """``rec`` (another state) lies inside ``a``'s run: ``a`` up to it, ``rec`` up to the
        next result of ``a``'s, and ``a``'s state again from there to where ``a`` ended."""
        t = rec.ts
        r = results.c
        mine = sa.and_(r.check_id == key[0], r.vantage == key[1], r.status == a.state)
        prev = self.conn.execute(
            sa.select(sa.func.max(r.ts)).where(mine, r.ts >= a.start, r.ts < t)
        ).scalar()
        nxt = self.conn.execute(
            sa.select(r.ts, r.error, r.reason)
            .where(mine, r.ts > t, r.ts <= a.last_seen)
            .order_by(r.ts)
            .limit(1)
        ).first()
        n_ts, n_err, n_reason = (nxt.ts, nxt.error, nxt.reason) if nxt else (a.last_seen, a.error,
                                                                             a.reason)  # fmt: skip
        self._update(a.id, end=t, last_seen=a.start if prev is None else prev)
        self._insert(key, rec.result.status.value, t, n_ts, t, rec)
        self.conn.execute(
            si.insert().values(check_id=key[0], vantage=key[1], state=a.state, start=n_ts,
                               end=a.end, last_seen=a.last_seen, error=n_err,
                               reason=(n_reason or "")[:1000])
        )  # fmt: skip

    # -- writes ------------------------------------------------------------------------------

    def _insert(self, key: Key, state: str, start: float, end: float | None, last_seen: float,
                rec: ResultRecord) -> Span:  # fmt: skip
        reason = rec.result.reason[:1000]
        new_id = self.conn.execute(
            si.insert().values(check_id=key[0], vantage=key[1], state=state, start=start,
                               end=end, last_seen=last_seen, error=rec.result.error,
                               reason=reason)
        ).inserted_primary_key[0]  # type: ignore[index]  # fmt: skip
        return Span(int(new_id), state, start, end, last_seen, rec.result.error, reason)

    def _update(self, interval_id: int, **values: object) -> None:
        # a merge flushes first, and an append's update carries its last_seen
        self._touched.pop(interval_id, None)
        self.conn.execute(si.update().where(si.c.id == interval_id).values(**values))

    def _flush(self) -> None:
        if self._touched:  # one executemany: a batch of 500 checks is one round of updates
            self.conn.execute(
                si.update()
                .where(si.c.id == sa.bindparam("interval_id"))
                .values(last_seen=sa.bindparam("seen")),
                [{"interval_id": i, "seen": seen} for i, seen in self._touched.items()],
            )
            self._touched.clear()
