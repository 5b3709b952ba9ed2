"""An incident's page: the alerts store's incident, its notifications and their deliveries (what
``threenines alerts show`` prints), the audit log's rows for it (who acknowledged, resolved,
silenced or noted it, from the console or elsewhere) and the console's notes, as one timeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from threenines.alerts.outbox_store import OutboxStore
from threenines.alerts.store import AlertStore
from threenines.console.notes import notes
from threenines.core import audit

if TYPE_CHECKING:
    from sqlalchemy import Engine

_DONE = {
    "incident_ack": "acknowledged",
    "incident_resolve": "resolved",
    "incident_silence": "silenced the service's alerts",
    "incident_note": "added a note",
}


@dataclass(frozen=True, slots=True)
class Event:
    at: float
    kind: str  # opened | notification | action | note | resolved
    text: str
    lines: tuple[str, ...] = field(default=())


def incident_page(engine: Engine, ref: str) -> tuple[dict[str, Any], list[Event]] | None:
    store = AlertStore(engine)
    row = store.incident(ref)
    if row is None:
        return None
    uid = row["uid"]
    events = [
        Event(
            row["opened_at"],
            "opened",
            f"Opened: {row['title']}" + (f" ({row['cause']})" if row.get("cause") else ""),
        )
    ]
    outbox = OutboxStore(engine)
    for n in store.notifications_for(uid):
        lines = []
        if n["held"]:
            lines.append(f"held ({n['held']}): recorded, not sent")
        for d in outbox.deliveries(n["uid"]):
            extra = f" ({d['last_error']})" if d["last_error"] and d["state"] != "sent" else ""
            lines.append(f"{d['receiver']}: {d['state']} after {d['attempts']} attempt(s){extra}")
        events.append(
            Event(
                n["created_at"],
                "notification",
                f"Notification ({n['kind']}) via route {n['route']}: {n['title']}",
                tuple(lines),
            )
        )
    for a in audit.rows(engine, f"incident:{uid}", limit=200):
        if a["subject"] != f"incident:{uid}":
            continue
        detail = a["detail"] or {}
        what = _DONE.get(a["action"], a["action"])
        extra = (
            f': "{detail["note"]}"'
            if isinstance(detail.get("note"), str) and detail["note"]
            else ""
        )
        if a["action"] == "incident_silence":
            extra = f' until {detail.get("until_text", "")}: "{detail.get("comment", "")}"'
        events.append(Event(a["ts"], "action", f"{a['actor']} {what}{extra}"))
    for n in notes(engine, [uid]).get(uid, []):
        shown = " (published on the status page)" if n["public"] else ""
        events.append(Event(n["at"], "note", f"Note by {n['who']}{shown}: {n['text']}"))
    if row.get("resolved_at"):
        events.append(Event(row["resolved_at"], "resolved", "Resolved"))
    events.sort(key=lambda e: e.at)
    return row, events
