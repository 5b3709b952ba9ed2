"""Notes operators add to an incident from the console; a note marked public is an update the
status page publishes under the incident (the operator's words, nothing else of the incident).

The alerts area keeps the incident itself (and an acknowledgement's note); these notes are the
console's own record, each also a row of the audit log, with the operator's name.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import Boolean, Column, Engine, Float, Index, String, Table, Text

from threenines.core import audit
from threenines.core.tables import Id, metadata

NOTE_MAX = 2000

console_notes = Table(
    "console_notes",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("incident", String(64), nullable=False),  # the alerts area's incident uid
    Column("who", String(64), nullable=False),
    Column("at", Float, nullable=False),
    Column("text", Text, nullable=False),
    Column("public", Boolean, nullable=False, default=False),
    Index(None, "incident"),
)


def add_note(
    engine: Engine,
    incident: str,
    who: str,
    text: str,
    public: bool,
    now: float,
    provider: str = "local",
) -> int:
    """Store a note and its audit row in one transaction; returns the note's id."""
    text = text.strip()
    if not text:
        raise ValueError("a note needs some text")
    if len(text) > NOTE_MAX:
        raise ValueError(f"a note is at most {NOTE_MAX} characters")
    with engine.begin() as conn:
        res = conn.execute(
            console_notes.insert().values(
                incident=incident, who=who[:64], at=now, text=text, public=public
            )
        )
        nid = int(res.inserted_primary_key[0])  # type: ignore[index]
        audit.append(
            conn,
            ts=now,
            actor=who[:64],
            action="incident_note",
            subject=f"incident:{incident}"[:200],
            detail={"note": nid, "public": public, "via": "console", "provider": provider},
        )
    return nid


def notes(
    engine: Engine, incidents: list[str], *, public_only: bool = False
) -> dict[str, list[dict[str, Any]]]:
    """The notes of ``incidents`` (oldest first), by incident uid."""
    if not incidents:
        return {}
    n = console_notes.c
    q = sa.select(console_notes).where(n.incident.in_(incidents)).order_by(n.at, n.id)
    if public_only:
        q = q.where(n.public.is_(True))
    out: dict[str, list[dict[str, Any]]] = {}
    with engine.connect() as conn:
        for r in conn.execute(q).all():
            out.setdefault(r.incident, []).append(dict(r._mapping))
    return out
