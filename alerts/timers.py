"""Time-driven policy: escalation, reminders, event expiry, end of flapping, pruning."""

from __future__ import annotations

from dataclasses import replace

from threenines.alerts.grouping import enqueue
from threenines.alerts.lifecycle import resolve
from threenines.alerts.matching import routes_for
from threenines.alerts.model import Flap, Incident
from threenines.alerts.work import Work


def _escalation_route(w: Work, inc: Incident) -> str | None:
    """The route that should be told next, if its time has come."""
    current = inc.escalation[-1] if inc.escalation else None
    if current is None:
        current = next(
            (r for r in inc.routes if (c := w.cfg.route(r)) is not None and c.escalate_to), None
        )
    route = w.cfg.route(current) if current is not None else None
    if route is None or route.escalate_to is None or route.escalate_after is None:
        return None
    if inc.severity not in route.escalate_severities:
        return None
    since = inc.escalated_at or inc.notified_at
    if since is None or w.now < since + route.escalate_after:
        return None
    return route.escalate_to


def _escalate(w: Work, inc: Incident) -> bool:
    nxt = _escalation_route(w, inc)
    if nxt is None:
        return False
    inc = w.put(replace(inc, escalation=(*inc.escalation, nxt), escalated_at=w.now))
    enqueue(w, inc, "escalation", (nxt,))
    return True


def _remind(w: Work, inc: Incident) -> None:
    routes = routes_for(inc, w.cfg, w.now, w.ctx.tz)
    targets = (*routes, *(r for r in inc.escalation if r not in routes))
    last = inc.last_notice_at or inc.notified_at or w.now
    for name in targets:
        route = w.cfg.route(name)
        if (
            route is not None
            and route.repeat_interval > 0
            and w.now >= last + route.repeat_interval
        ):
            inc = w.put(replace(inc, last_notice_at=w.now))  # one reminder per interval
            enqueue(w, inc, "reminder", targets)
            return


def _end_flapping(w: Work) -> None:
    for key, f in list(w.flaps.items()):
        recent = tuple(t for t in f.changes if w.now - t < w.cfg.flap_window)
        if f.flapping and not recent:
            w.flaps[key] = Flap((), False)
            inc = w.incidents.get(key)
            if inc is not None:
                # stable again: say where it settled (a recovery if it settled up)
                enqueue(w, inc, "firing" if inc.active else "resolved")
        elif not f.flapping and not recent:
            del w.flaps[key]
        elif recent != f.changes:
            w.flaps[key] = Flap(recent, f.flapping)


def _prune(w: Work) -> None:
    keep = max(w.cfg.reopen_window, w.cfg.flap_window)
    for key, inc in list(w.incidents.items()):
        if inc.resolved_at is not None and w.now - inc.resolved_at > keep and key not in w.flaps:
            del w.incidents[key]
    for sid, s in list(w.silences.items()):
        if s.removed or s.ends_at <= w.now:
            del w.silences[sid]


def run(w: Work) -> None:
    ttl = w.cfg.events.ttl
    for inc in list(w.incidents.values()):
        if not inc.active:
            continue
        if inc.kind == "event" and w.now - inc.updated_at >= ttl:
            resolve(w, inc, "expired")
        elif inc.status == "open" and inc.notified and not _escalate(w, inc):
            _remind(w, inc)
    _end_flapping(w)
    _prune(w)
