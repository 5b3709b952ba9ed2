"""Alert store: persist policy decisions (incidents, notifications + outbox rows in ONE
transaction), reload policy state after a restart, operator commands, queries.

Synchronous; call it from a thread (``asyncio.to_thread``). Works on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine

from threenines.alerts.codec import (
    flaps_to_json,
    groups_to_json,
    incident_from_dict,
    incident_to_dict,
    make_state,
    silence_from_dict,
)
from threenines.alerts.model import (
    AlertEvent,
    Decision,
    Incident,
    Notification,
    PolicyState,
    Silence,
)
from threenines.alerts.render import Rendered
from threenines.alerts.tables import (
    alert_commands,
    alert_deliveries,
    alert_incidents,
    alert_kv,
    alert_notifications,
    alert_silences,
)
from threenines.core.tables import events


def _incident_row(inc: Incident) -> dict[str, Any]:
    return {
        "uid": inc.uid,
        "key": inc.key,
        "kind": inc.kind,
        "status": inc.status,
        "severity": inc.severity,
        "category": inc.category,
        "site": inc.site,
        "service": inc.service,
        "title": inc.title[:300],
        "cause": inc.cause,
        "opened_at": inc.opened_at,
        "since": inc.since,
        "updated_at": inc.updated_at,
        "resolved_at": inc.resolved_at,
        "acked_by": inc.acked_by,
        "acked_at": inc.acked_at,
        "held": inc.held,
        "data": incident_to_dict(inc),
    }


class AlertStore:
    def __init__(self, engine: Engine):
        self.engine = engine

    # -- policy state ------------------------------------------------------------------------

    def load_state(self, now: float, keep: float) -> tuple[PolicyState, dict[str, Any]]:
        """Active incidents, those resolved within ``keep`` seconds, silences, kv."""
        c = alert_incidents.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(c.data).where(sa.or_(c.status != "resolved", c.resolved_at >= now - keep))
            ).all()
            s = alert_silences.c
            sil = conn.execute(
                sa.select(s.uid, s.matchers, s.starts_at, s.ends_at, s.author, s.comment).where(
                    s.removed_at.is_(None), s.ends_at > now
                )
            ).all()
            kv = {r.name: r.data for r in conn.execute(sa.select(alert_kv)).all()}
        incidents = [incident_from_dict(r.data) for r in rows]
        silences = [silence_from_dict({"id": r.uid, **r._mapping}) for r in sil]
        policy = kv.get("policy", {})
        return make_state(incidents, silences, policy), kv

    def apply(
        self,
        decision: Decision,
        rendered: dict[str, Rendered],
        now: float,
        kv: dict[str, Any] | None = None,
    ) -> list[int]:
        """Persist a decision atomically; return the new delivery ids (the outbox rows)."""
        with self.engine.begin() as conn:
            self._upsert_incidents(conn, decision.changed)
            ids: list[int] = []
            for n in decision.notifications:
                ids += self._insert_notification(conn, n, rendered[n.uid], now)
            state = decision.state
            data = {"groups": groups_to_json(state), "flaps": flaps_to_json(state)}
            self._put_kv(conn, "policy", data, now)
            for name, value in (kv or {}).items():
                self._put_kv(conn, name, value, now)
            return ids

    def enqueue(self, n: Notification, r: Rendered, now: float) -> list[int]:
        """Write one notification and its outbox rows (no policy state), e.g. a test."""
        with self.engine.begin() as conn:
            return self._insert_notification(conn, n, r, now)

    def _upsert_incidents(self, conn: sa.Connection, changed: Sequence[Incident]) -> None:
        """Update known incidents, insert new ones; batched (an alert storm is thousands)."""
        c = alert_incidents.c
        uids = [i.uid for i in changed]
        known: set[str] = set()
        for k in range(0, len(uids), 500):
            known |= set(
                conn.execute(sa.select(c.uid).where(c.uid.in_(uids[k : k + 500]))).scalars()
            )
        new = [_incident_row(i) for i in changed if i.uid not in known]
        old = [{**_incident_row(i), "b_uid": i.uid} for i in changed if i.uid in known]
        if new:
            conn.execute(alert_incidents.insert(), new)
        if old:
            conn.execute(alert_incidents.update().where(c.uid == sa.bindparam("b_uid")), old)

    def _insert_notification(
        self, conn: sa.Connection, n: Notification, r: Rendered, now: float
    ) -> list[int]:
        uids = [i.incident.uid for i in n.items] + [c.uid for i in n.items for c in i.children]
        nid = conn.execute(
            alert_notifications.insert().values(
                uid=n.uid,
                created_at=n.created_at,
                route=n.route,
                grp=n.group[:250],
                kind=n.kind,
                held=n.held,
                title=r.title,
                body=r.body,
                short=r.short,
                summary=r.summary,
                notify_type=r.notify_type,
                incidents=uids,
            )
        ).inserted_primary_key[0]  # type: ignore[index]
        if n.held is not None or not n.receivers:
            return []
        rows = [
            {
                "notification_id": nid,
                "receiver": rec,
                "state": "pending",
                "attempts": 0,
                "next_at": now,
                "created_at": now,
            }
            for rec in n.receivers
        ]
        conn.execute(alert_deliveries.insert(), rows)
        got = conn.execute(
            sa.select(alert_deliveries.c.id).where(alert_deliveries.c.notification_id == nid)
        ).scalars()
        return [int(x) for x in got]

    def _put_kv(self, conn: sa.Connection, name: str, data: Any, now: float) -> None:
        res = conn.execute(
            alert_kv.update().where(alert_kv.c.name == name).values(data=data, updated_at=now)
        )
        if not res.rowcount:
            conn.execute(alert_kv.insert().values(name=name, data=data, updated_at=now))

    # -- silences ----------------------------------------------------------------------------

    def add_silence(self, s: Silence, now: float) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                alert_silences.insert().values(
                    uid=s.id,
                    matchers=dict(s.matchers),
                    starts_at=s.starts_at,
                    ends_at=s.ends_at,
                    author=s.author,
                    comment=s.comment,
                    created_at=now,
                )
            )

    def remove_silence(self, uid: str, who: str, now: float) -> bool:
        with self.engine.begin() as conn:
            res = conn.execute(
                alert_silences.update()
                .where(alert_silences.c.uid == uid, alert_silences.c.removed_at.is_(None))
                .values(removed_at=now, removed_by=who)
            )
            return bool(res.rowcount)

    def silences(self, now: float, include_expired: bool = False) -> list[dict[str, Any]]:
        s = alert_silences.c
        q = sa.select(alert_silences).order_by(s.created_at)
        if not include_expired:
            q = q.where(s.removed_at.is_(None), s.ends_at > now)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q).all()]

    # -- commands (CLI -> running service) ---------------------------------------------------

    def add_command(self, op: str, args: dict[str, Any], now: float) -> int:
        with self.engine.begin() as conn:
            res = conn.execute(alert_commands.insert().values(created_at=now, op=op, args=args))
            return int(res.inserted_primary_key[0])  # type: ignore[index]

    def pending_commands(self) -> list[tuple[int, str, dict[str, Any]]]:
        c = alert_commands.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(c.id, c.op, c.args).where(c.applied_at.is_(None)).order_by(c.id)
            ).all()
        return [(int(r.id), r.op, dict(r.args)) for r in rows]

    def finish_command(self, cid: int, result: str, now: float) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                alert_commands.update()
                .where(alert_commands.c.id == cid, alert_commands.c.applied_at.is_(None))
                .values(applied_at=now, result=result)
            )

    def command_result(self, cid: int) -> str | None:
        c = alert_commands.c
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(c.applied_at, c.result).where(c.id == cid)).first()
        return None if row is None or row.applied_at is None else str(row.result)

    # -- events ------------------------------------------------------------------------------

    def max_event_id(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.max(events.c.id))).scalar() or 0)

    def events_after(self, cursor: int, limit: int = 1000) -> list[AlertEvent]:
        e = events.c
        q = sa.select(events).where(e.id > cursor).order_by(e.id).limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        return [
            AlertEvent(
                int(r.id),
                r.ts,
                r.source,
                r.kind,
                r.severity,
                r.category or "availability",
                r.site,
                r.device,
                r.subject,
                r.message or "",
                _tags(r.details),
            )
            for r in rows
        ]

    # -- queries (CLI, API) ------------------------------------------------------------------

    def incidents(
        self, status: Sequence[str] | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        c = alert_incidents.c
        q = sa.select(alert_incidents).order_by(c.opened_at.desc()).limit(limit)
        if status:
            q = q.where(c.status.in_(list(status)))
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q).all()]

    def incident(self, ref: str) -> dict[str, Any] | None:
        """By numeric id, uid, or dedup key (its newest occurrence)."""
        c = alert_incidents.c
        cond = c.uid == ref
        if ref.isdigit():
            cond = sa.or_(cond, c.id == int(ref))
        q = sa.select(alert_incidents).where(sa.or_(cond, c.key == ref))
        with self.engine.connect() as conn:
            row = conn.execute(q.order_by(c.opened_at.desc()).limit(1)).first()
        return dict(row._mapping) if row is not None else None

    def notifications_for(self, uid: str, limit: int = 50) -> list[dict[str, Any]]:
        n = alert_notifications.c
        q = sa.select(alert_notifications).order_by(n.created_at.desc()).limit(500)
        with self.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(q).all()]
        return [r for r in rows if uid in (r["incidents"] or [])][:limit]


def _tags(details: Any) -> tuple[str, ...]:
    """An event's ``details.tags`` (routes match them), ignoring anything that is not a string."""
    tags = details.get("tags") if isinstance(details, dict) else None
    if not isinstance(tags, list):
        return ()
    return tuple(t for t in tags if isinstance(t, str) and t)[:20]
