"""One outbox: rows to send, claimed under a lease by a conditional UPDATE, settled by the holder.

Any area with work that must be done once per row across instances (alert deliveries, report
deliveries) puts ``outbox_columns()`` in its table and asks an ``Outbox`` over that table for
the SQL. The rules, in one place:

- a row is *claimable* while ``pending`` and due (``next_at <= now``), or while ``sending`` with
  an expired lease (its sender died);
- a claim is ``UPDATE ... SET state='sending', lease_owner, lease_until, attempts+1 WHERE
  <claimable>``: two instances never hold the same row, and a ``sent`` row is never taken again;
- only the lease holder may settle a row (``sent``, ``pending`` again at ``retry_at``, or
  ``failed``) or release it unattempted; a lost lease means another sender took over.

The statements run on the caller's connection, inside the caller's transaction, so an area can
join the rows it needs (the notification's text) in the same transaction. Synchronous.

``SenderLog`` is how a sender's loop tells of an outage (the database's, a receiver's): one
story each, not a line per pass or per attempt.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Column, Connection, Float, Integer, String, Table, Text

from threenines.core.logs import EVERY, Repeated

PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"
MAX_ERROR = 2000


def outbox_columns() -> list[Column[Any]]:
    """The columns an outbox table needs (names and types fixed: migrations rely on them)."""
    return [
        Column("state", String(10), nullable=False),  # pending | sending | sent | failed
        Column("attempts", Integer, nullable=False, default=0),
        Column("next_at", Float, nullable=False),
        Column("lease_owner", String(64)),
        Column("lease_until", Float),
        Column("sent_at", Float),
        Column("last_error", Text),
    ]


class Outbox:
    """The claim/lease SQL over ``table`` (which has ``outbox_columns``)."""

    def __init__(self, table: Table):
        self.table = table
        self.c = table.c

    def claimable(self, now: float) -> sa.ColumnElement[bool]:
        c = self.c
        return sa.or_(
            sa.and_(c.state == PENDING, c.next_at <= now),
            sa.and_(c.state == SENDING, c.lease_until < now),
        )

    def held_by(self, owner: str) -> sa.ColumnElement[bool]:
        return sa.and_(self.c.state == SENDING, self.c.lease_owner == owner)

    def next_due(self, conn: Connection) -> float | None:
        """When the earliest pending row (or an expired lease) becomes claimable."""
        c = self.c
        a = conn.execute(sa.select(sa.func.min(c.next_at)).where(c.state == PENDING)).scalar()
        b = conn.execute(sa.select(sa.func.min(c.lease_until)).where(c.state == SENDING)).scalar()
        times = [t for t in (a, b) if t is not None]
        return min(times) if times else None

    def claim(
        self, conn: Connection, where: sa.ColumnElement[bool], owner: str, now: float, lease: float
    ) -> int:
        """Take the claimable rows matching ``where``; how many were taken."""
        res = conn.execute(
            self.table.update()
            .where(where, self.claimable(now))
            .values(
                state=SENDING,
                lease_owner=owner,
                lease_until=now + lease,
                attempts=self.c.attempts + 1,
            )
        )
        return int(res.rowcount)

    def settle(
        self,
        conn: Connection,
        row_id: int,
        owner: str,
        now: float,
        error: str | None,
        retry_at: float | None,
        **extra: object,
    ) -> tuple[str, bool]:
        """Record an attempt's outcome on a held row: ``(state, whether we still held it)``.

        Sent when ``error`` is None; else pending again at ``retry_at``, or failed when there is
        no retry. ``extra`` values are set as well (e.g. ``last_error=None`` on success).
        """
        state = SENT if error is None else (PENDING if retry_at is not None else FAILED)
        values: dict[str, object] = {"state": state, "lease_owner": None, "lease_until": None}
        if error is None:
            values["sent_at"] = now
        else:
            values.update(last_error=error[:MAX_ERROR], next_at=retry_at if retry_at else now)
        values.update(extra)
        res = conn.execute(
            self.table.update().where(self.c.id == row_id, self.held_by(owner)).values(**values)
        )
        return state, res.rowcount == 1

    def release(self, conn: Connection, ids: list[int], owner: str) -> int:
        """Give back held rows never attempted: pending again at once, the attempt not counted."""
        if not ids:
            return 0
        res = conn.execute(
            self.table.update()
            .where(self.c.id.in_(ids), self.held_by(owner))
            .values(state=PENDING, lease_owner=None, lease_until=None, attempts=self.c.attempts - 1)
        )
        return int(res.rowcount)


class SenderLog:
    """An outbox sender's troubles as ``threenines.core.logs.Repeated`` stories: a failing pass
    (the database away) and each failing receiver are told once with the first error (a pass's
    with its traceback), then a count a minute, then one recovery line. ``passes`` is the loop's;
    ``receiver(name)`` takes each attempt's outcome (``failed(why=...)`` / ``ok()``). A row given
    up for good is not in these stories: the sender logs each, a lost message is news."""

    def __init__(self, log: logging.Logger, what: str, *, every: float = EVERY):
        self.log, self.what, self.every = log, what, every
        self.passes = Repeated(log, f"{what} pass failed", every=every, level=logging.WARNING)
        self._receivers: dict[str, Repeated] = {}

    def receiver(self, name: str) -> Repeated:
        if name not in self._receivers:
            self._receivers[name] = Repeated(
                self.log, f"{self.what} to {name}", every=self.every, level=logging.WARNING
            )
        return self._receivers[name]
