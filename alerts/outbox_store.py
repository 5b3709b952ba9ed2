"""The notification outbox in the database: find due rows, claim them, record attempts.

Claims, leases and settling are the core outbox's (``threenines.core.outbox``): a row is taken
only while it is ``pending`` and due, or while its ``sending`` lease has expired (its sender
died), so two instances never send the same row at once, and a ``sent`` row is never taken
again.
Synchronous; call from a thread.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import Engine

from threenines.alerts.tables import (
    alert_attempts,
    alert_deliveries,
    alert_incidents,
    alert_notifications,
)
from threenines.core.outbox import Outbox

d = alert_deliveries.c


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    receiver: str
    attempts: int
    title: str
    body: str
    short: str
    notify_type: str
    summary: str = ""


OUTBOX = Outbox(alert_deliveries)


class OutboxStore:
    def __init__(self, engine: Engine):
        self.engine = engine

    def due(self, now: float, limit: int = 100) -> list[int]:
        q = sa.select(d.id).where(OUTBOX.claimable(now)).order_by(d.next_at, d.id).limit(limit)
        with self.engine.connect() as conn:
            return [int(x) for x in conn.execute(q).scalars()]

    def next_due(self) -> float | None:
        """When the earliest pending row (or lease) becomes claimable."""
        with self.engine.connect() as conn:
            return OUTBOX.next_due(conn)

    def claim(self, delivery_id: int, owner: str, now: float, lease: float) -> Claimed | None:
        """Take one row for sending, or None if another sender has it (or it is done)."""
        with self.engine.begin() as conn:
            if OUTBOX.claim(conn, d.id == delivery_id, owner, now, lease) != 1:
                return None
            n = alert_notifications.c
            row = conn.execute(
                sa.select(
                    d.id,
                    d.receiver,
                    d.attempts,
                    n.title,
                    n.body,
                    n.short,
                    n.notify_type,
                    n.summary,
                )
                .join(alert_notifications, n.id == d.notification_id)
                .where(d.id == delivery_id)
            ).one()
        return Claimed(
            int(row.id),
            row.receiver,
            int(row.attempts),
            row.title,
            row.body,
            row.short,
            row.notify_type,
            row.summary or "",
        )

    def finish(
        self,
        claimed: Claimed,
        owner: str,
        started: float,
        finished: float,
        error: str | None,
        retry_at: float | None,
    ) -> str:
        """Record the attempt; the row becomes sent, pending again (``retry_at``) or failed."""
        with self.engine.begin() as conn:
            conn.execute(
                alert_attempts.insert().values(
                    delivery_id=claimed.id,
                    owner=owner,
                    started_at=started,
                    finished_at=finished,
                    outcome="ok" if error is None else "error",
                    error=None if error is None else error[:2000],
                )
            )
            # only the lease holder may settle the row (a stolen lease means it was resent)
            state, _held = OUTBOX.settle(conn, claimed.id, owner, finished, error, retry_at)
        return state

    def counts(self) -> dict[str, int]:
        """Deliveries by state, and attempts beyond the first (``retried``)."""
        with self.engine.connect() as conn:
            out = {
                str(s): int(c)
                for s, c in conn.execute(sa.select(d.state, sa.func.count()).group_by(d.state))
            }
            attempts = conn.execute(sa.select(sa.func.count()).select_from(alert_attempts))
            firsts = conn.execute(
                sa.select(sa.func.count(sa.distinct(alert_attempts.c.delivery_id)))
            )
            out["retried"] = int(attempts.scalar() or 0) - int(firsts.scalar() or 0)
        return out

    def open_by_severity(self) -> dict[str, int]:
        c = alert_incidents.c
        q = sa.select(c.severity, sa.func.count()).where(c.status != "resolved")
        with self.engine.connect() as conn:
            return {str(s): int(n) for s, n in conn.execute(q.group_by(c.severity))}

    def deliveries(self, notification_uid: str) -> list[dict[str, object]]:
        n = alert_notifications.c
        q = (
            sa.select(d.receiver, d.state, d.attempts, d.sent_at, d.last_error)
            .join(alert_notifications, n.id == d.notification_id)
            .where(n.uid == notification_uid)
            .order_by(d.receiver)
        )
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q).all()]
