"""Scheduled report deliveries: one row per (schedule, period, receiver), claimed before sending.

The unique key makes "once per period per receiver" a database fact: queueing a period twice
(two instances, a restart, the CLI) adds nothing. A row is sent only by the holder of its claim,
a conditional UPDATE taken while it is ``pending`` and due or while a dead sender's lease has
expired; a ``sent`` row is never taken again unless an operator asks for a resend. As with the
alerts outbox, a sender killed after the mail left but before recording it resends once.
Synchronous; call from a thread.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import Column, Engine, Float, Index, String, Table
from sqlalchemy.exc import IntegrityError

from threenines.core.outbox import Outbox, outbox_columns
from threenines.core.tables import Id, metadata

report_deliveries = Table(
    "report_deliveries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("schedule", String(64), nullable=False),
    Column("period", String(32), nullable=False),  # 2026-10 | 2026-Q4 | 2026 | A..B
    Column("period_end", Float, nullable=False),
    Column("receiver", String(64), nullable=False),
    *outbox_columns(),
    Column("created_at", Float, nullable=False),
    Index(None, "schedule", "period", "receiver", unique=True),
    Index(None, "state", "next_at"),
)
r = report_deliveries.c


@dataclass(frozen=True, slots=True)
class ClaimedReport:
    id: int
    schedule: str
    period: str
    receiver: str
    attempts: int


OUTBOX = Outbox(report_deliveries)


class ReportDeliveryStore:
    def __init__(self, engine: Engine):
        self.engine = engine

    def periods(self, schedule: str) -> set[str]:
        """Labels of every period recorded for ``schedule`` (whatever their state)."""
        q = sa.select(r.period).where(r.schedule == schedule).distinct()
        with self.engine.connect() as conn:
            return {str(p) for p in conn.execute(q).scalars()}

    def enqueue(
        self,
        schedule: str,
        period: str,
        period_end: float,
        receivers: list[str],
        now: float,
        *,
        resend: bool = False,
    ) -> int:
        """Queue ``period`` for each receiver that has no row yet; return the rows queued.

        ``resend``: rows already sent or failed are queued again (an operator's explicit send);
        a row being sent right now is left to its sender.
        """
        queued = 0
        for receiver in receivers:
            try:
                with self.engine.begin() as conn:
                    conn.execute(
                        report_deliveries.insert().values(
                            schedule=schedule,
                            period=period,
                            period_end=period_end,
                            receiver=receiver,
                            state="pending",
                            attempts=0,
                            next_at=now,
                            created_at=now,
                        )
                    )
                queued += 1
            except IntegrityError:  # already recorded (another instance, a restart)
                if resend:
                    queued += self._requeue(schedule, period, receiver, now)
        return queued

    def _requeue(self, schedule: str, period: str, receiver: str, now: float) -> int:
        with self.engine.begin() as conn:
            res = conn.execute(
                report_deliveries.update()
                .where(r.schedule == schedule, r.period == period, r.receiver == receiver)
                .where(sa.or_(r.state != "sending", r.lease_until < now))
                .values(state="pending", next_at=now, attempts=0, lease_owner=None)
            )
            return int(res.rowcount)

    def due(self, now: float) -> list[tuple[str, str]]:
        """(schedule, period) pairs with at least one row to send now, oldest period first."""
        end = sa.func.min(r.period_end).label("first_end")
        q = (
            sa.select(r.schedule, r.period, end)
            .where(OUTBOX.claimable(now))
            .group_by(r.schedule, r.period)
            .order_by(end, r.schedule)
        )
        with self.engine.connect() as conn:
            return [(str(s), str(p)) for s, p, _e in conn.execute(q).all()]

    def next_due(self) -> float | None:
        """When the earliest pending row (or an expired lease) becomes claimable."""
        with self.engine.connect() as conn:
            return OUTBOX.next_due(conn)

    def claim(
        self, schedule: str, period: str, owner: str, now: float, lease: float
    ) -> list[ClaimedReport]:
        """Take every claimable row of (schedule, period); [] if another sender has them."""
        with self.engine.begin() as conn:
            OUTBOX.claim(conn, sa.and_(r.schedule == schedule, r.period == period), owner, now,
                         lease)  # fmt: skip
            rows = conn.execute(
                sa.select(r.id, r.receiver, r.attempts)
                .where(r.schedule == schedule, r.period == period)
                .where(OUTBOX.held_by(owner))
                .order_by(r.receiver)
            ).all()
        return [
            ClaimedReport(int(x.id), schedule, period, str(x.receiver), int(x.attempts))
            for x in rows
        ]

    def release(self, claimed: list[ClaimedReport], owner: str) -> int:
        """Give back claims never attempted (the sender is stopping): pending again at once,
        the attempt not counted, instead of waiting for the lease to expire."""
        if not claimed:
            return 0
        with self.engine.begin() as conn:
            return OUTBOX.release(conn, [c.id for c in claimed], owner)

    def finish(
        self, claimed: ClaimedReport, owner: str, now: float, error: str | None,
        retry_at: float | None,
    ) -> str:  # fmt: skip
        """Record the outcome: the row becomes sent, pending again (``retry_at``) or failed.
        Only the lease holder may settle it (a lost lease means another sender took over)."""
        extra = {"last_error": None} if error is None else {}
        with self.engine.begin() as conn:
            state, held = OUTBOX.settle(conn, claimed.id, owner, now, error, retry_at, **extra)
        return state if held else "lost"

    def counts(self) -> dict[str, int]:
        """Rows by state (for the metrics)."""
        q = sa.select(r.state, sa.func.count()).group_by(r.state)
        with self.engine.connect() as conn:
            return {str(s): int(n) for s, n in conn.execute(q).all()}

    def rows(self, schedule: str | None = None) -> list[dict[str, object]]:
        q = sa.select(
            r.schedule, r.period, r.receiver, r.state, r.attempts, r.sent_at, r.last_error
        ).order_by(r.period_end, r.schedule, r.receiver)
        if schedule is not None:
            q = q.where(r.schedule == schedule)
        with self.engine.connect() as conn:
            return [dict(x._mapping) for x in conn.execute(q).all()]
