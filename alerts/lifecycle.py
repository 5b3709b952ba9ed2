"""Incident lifecycle: open -> acknowledged -> resolved, re-open within a window, flapping.

Conditions (``ConditionUpdate``) and events (``AlertEvent``) open, update and resolve incidents;
operators acknowledge and resolve them. Each step may enqueue a notice (see ``grouping``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from threenines.alerts.grouping import cancel, enqueue
from threenines.alerts.matching import routes_for
from threenines.alerts.model import (
    BAD,
    Ack,
    AlertEvent,
    ConditionUpdate,
    Flap,
    Incident,
    Resolve,
    Severity,
    severity_rank,
)
from threenines.alerts.topology import severity_for
from threenines.alerts.work import Work


def _title(u: ConditionUpdate) -> str:
    return u.title or f"{u.kind} {u.key.partition(':')[2] or u.key}"


def _route(w: Work, inc: Incident) -> Incident:
    return replace(inc, routes=routes_for(inc, w.cfg, w.now, w.ctx.tz))


def _fields(u: ConditionUpdate, sev: Severity) -> dict[str, Any]:
    return {
        "kind": u.kind,
        "title": _title(u),
        "severity": sev,
        "category": u.category,
        "condition": u.status,
        "cause": u.cause,
        "affected": u.affected,
        "vantages": u.vantages,
        "site": u.site,
        "service": u.service,
        "tags": u.tags,
    }


def open_or_reopen(w: Work, key: str, since: float, fields: dict[str, Any]) -> Incident:
    """A new incident, or the last one re-opened if it resolved within ``reopen_window``."""
    last = w.incidents.get(key)
    if (
        last is not None
        and last.resolved_at is not None
        and (w.now - last.resolved_at <= w.cfg.reopen_window)
    ):
        inc = replace(
            last,
            **fields,
            status="open",
            since=since,
            updated_at=w.now,
            reopen_count=last.reopen_count + 1,
            resolved_at=None,
            resolved_by=None,
            acked_by=None,
            acked_at=None,
            ack_note="",
            parent=None,
            held=None,
            escalation=(),
            escalated_at=None,
            notified_at=None,
        )
        inc = w.put(_route(w, inc))
        enqueue(w, inc, "reopened" if inc.notified else "firing")
        return inc
    inc = Incident(
        uid=w.uid(key),
        key=key,
        status="open",
        opened_at=w.now,
        since=since,
        updated_at=w.now,
        **fields,
    )
    inc = w.put(_route(w, inc))
    enqueue(w, inc, "firing")
    return inc


def resolve(w: Work, inc: Incident, by: str, note: str = "") -> None:
    inc = w.put(
        replace(
            inc,
            status="resolved",
            resolved_at=w.now,
            resolved_by=by,
            updated_at=w.now,
            ack_note=note or inc.ack_note,
        )
    )
    enqueue(w, inc, "resolved")
    for child in list(w.incidents.values()):
        if child.parent == inc.key and child.active:
            # the parent is back but the child is still down: it is its own problem now
            child = w.put(replace(child, held=None))
            enqueue(w, child, "firing")


def _flap(w: Work, key: str, at: float) -> bool:
    """Record a change; True when this change makes ``key`` flapping."""
    f = w.flaps.get(key, Flap())
    changes = (*(t for t in f.changes if at - t < w.cfg.flap_window), at)
    start = not f.flapping and len(changes) >= w.cfg.flap_threshold
    w.flaps[key] = Flap(changes, f.flapping or start)
    return start


def apply_condition(w: Work, u: ConditionUpdate) -> None:
    if u.status not in BAD and u.status != "up":
        return  # unknown, no_quorum: unconfirmed, neither a failure nor a recovery
    inc = w.incidents.get(u.key)
    before = inc.condition if inc is not None and inc.active else "up"
    starts_flapping = before != u.status and _flap(w, u.key, u.since)
    if u.status in BAD:
        sev = severity_for(u, w.ctx.topology)
        if inc is not None and inc.active:
            inc = w.put(replace(inc, **_fields(u, sev), updated_at=w.now))
        else:
            inc = open_or_reopen(w, u.key, u.since, _fields(u, sev))
    elif inc is not None and inc.active:
        resolve(w, inc, "auto")
        inc = w.incidents[u.key]
    if starts_flapping and inc is not None:
        cancel(w, u.key)
        enqueue(w, inc, "flapping")


def _event_key(ev: AlertEvent, kind: str) -> str:
    return f"event:{ev.category}:{kind}:{ev.device or ev.site or '-'}:{ev.subject or '-'}"


def apply_event(w: Work, ev: AlertEvent) -> None:
    cleared = w.cfg.events.resolves.get(ev.kind)
    if cleared is not None:
        inc = w.incidents.get(_event_key(ev, cleared))
        if inc is not None and inc.active:
            resolve(w, inc, f"event:{ev.kind}")
        return
    if severity_rank(ev.severity) > severity_rank(w.cfg.events.min_severity):
        return  # recorded in the events table; below the paging threshold
    key = _event_key(ev, ev.kind)
    inc = w.incidents.get(key)
    if inc is not None and inc.active:
        w.put(replace(inc, count=inc.count + 1, updated_at=w.now, cause=ev.message or inc.cause))
        return
    what = ev.subject or ev.device or ev.site or ""
    fields: dict[str, Any] = {
        "kind": "event",
        "title": f"{ev.kind.replace('_', ' ')}" + (f" on {what}" if what else ""),
        "severity": ev.severity if ev.severity in ("critical", "major", "minor") else "info",
        "category": ev.category if ev.category in ("security", "capacity") else "availability",
        "condition": "down",
        "cause": ev.message or ev.kind,
        "affected": tuple(x for x in (ev.device, ev.subject) if x),
        "site": ev.site,
        "tags": tuple(dict.fromkeys((ev.source, *ev.tags))),
    }
    open_or_reopen(w, key, ev.ts, fields)


def _active(w: Work, ref: str) -> Incident | None:
    """The active incident ``ref`` names; otherwise None, with the reason in ``w.errors``."""
    inc = w.find(ref)
    if inc is None:
        w.errors.append(f"no incident {ref!r}")
        return None
    if not inc.active:
        w.errors.append(f"incident {inc.uid} is already resolved")
        return None
    return inc


def apply_ack(w: Work, a: Ack) -> None:
    inc = _active(w, a.incident)
    if inc is not None:
        w.put(
            replace(
                inc,
                status="acknowledged",
                acked_by=a.who,
                acked_at=w.now,
                ack_note=a.note,
                updated_at=w.now,
            )
        )


def apply_resolve(w: Work, r: Resolve) -> None:
    inc = _active(w, r.incident)
    if inc is not None:
        resolve(w, inc, r.who, r.note)
