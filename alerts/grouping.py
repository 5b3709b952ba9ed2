"""Notices wait in groups (per route and site) and flush together; children follow parents.

- ``enqueue`` puts a notice in each route's group for the incident's site. An empty group is
  due ``group_wait`` from now, but never sooner than ``group_interval`` after its last flush.
- ``flush`` first re-homes firing notices: an incident with a firing ancestor (the site's WAN
  link, its data centre) is not notified on its own but listed under that ancestor. Then each
  due group becomes ONE ``Notification``. Silences and maintenance hold everything except
  recoveries (recorded as a held notification, never sent later).
"""

from __future__ import annotations

from dataclasses import replace

from threenines.alerts.matching import in_maintenance, silenced_by
from threenines.alerts.model import (
    BAD,
    Group,
    Incident,
    Item,
    Notice,
    NoticeKind,
    Notification,
    severity_rank,
)
from threenines.alerts.work import Work

_TELLS = frozenset({"firing", "reopened", "flapping", "escalation", "reminder"})


def enqueue(
    w: Work, inc: Incident, kind: NoticeKind, routes: tuple[str, ...] | None = None
) -> None:
    flap = w.flaps.get(inc.key)
    if flap is not None and flap.flapping and kind in ("firing", "reopened", "resolved"):
        w.put(replace(inc, held="flapping"))
        return
    if kind == "resolved" and not inc.notified:
        cancel(w, inc.key)  # resolved before anyone was told: say nothing at all
        return
    if routes is None:
        routes = inc.routes
        if kind in ("resolved", "reminder"):
            routes += tuple(r for r in inc.escalation if r not in inc.routes)
    if not routes:
        w.put(replace(inc, held="no-route"))
        return
    for name in routes:
        route = w.cfg.route(name)
        if route is None:
            continue
        gkey = (name, inc.site or inc.key)
        g = w.groups.get(gkey) or Group(name, gkey[1])
        pending = w.pending.setdefault(gkey, {})
        due = g.due
        if not pending or due is None:
            due = w.now + route.group_wait
            if g.last_flush is not None:
                due = max(due, g.last_flush + route.group_interval)
        pending.pop(inc.key, None)  # the newest notice for an incident replaces the older
        pending[inc.key] = Notice(inc.key, kind, w.now)
        w.groups[gkey] = replace(g, due=due)


def cancel(w: Work, key: str) -> None:
    for gkey, pending in w.pending.items():
        if pending.pop(key, None) is not None and not pending:
            w.groups[gkey] = replace(w.groups[gkey], due=None)


def root_of(w: Work, inc: Incident) -> Incident | None:
    """The farthest ancestor that is itself firing, if any."""
    root = None
    for key in w.ctx.topology.ancestors(inc.key):
        anc = w.incidents.get(key)
        if anc is not None and anc.active and anc.condition in BAD:
            root = anc
    return root


def rehome(w: Work) -> None:
    """Take firing notices of incidents whose ancestor is firing out of their groups."""
    for gkey, pending in w.pending.items():
        for n in list(pending.values()):
            inc = w.incidents.get(n.incident)
            if inc is None or n.kind not in ("firing", "reopened"):
                continue
            root = root_of(w, inc)
            if root is not None:
                del pending[n.incident]
                w.put(replace(inc, parent=root.key, held=f"parent:{root.key}"))
        if not pending and w.groups[gkey].due is not None:
            w.groups[gkey] = replace(w.groups[gkey], due=None)


def held_reason(w: Work, inc: Incident) -> str | None:
    sid = silenced_by(w.silences.values(), inc, w.now)
    if sid is not None:
        return f"silence:{sid}"
    if in_maintenance(w.ctx.maintenance, inc, w.now):
        return "maintenance"
    return None


def flush(w: Work) -> None:
    rehome(w)
    kids: dict[str, list[Incident]] | None = None
    for gkey in sorted(w.groups):
        g = w.groups[gkey]
        if w.pending.get(gkey) and g.due is not None and g.due <= w.now:
            if kids is None:  # who is listed under whom, built once per flush
                kids = {}
                for c in w.incidents.values():
                    if c.parent is not None:
                        kids.setdefault(c.parent, []).append(c)
            _flush_group(w, gkey, g, kids)


def _children(kids: dict[str, list[Incident]], inc: Incident, kind: str) -> tuple[Incident, ...]:
    out = [
        c
        for c in kids.get(inc.key, ())
        if c.active or (kind == "resolved" and (c.resolved_at or 0) >= inc.opened_at)
    ]
    return tuple(sorted(out, key=lambda c: (severity_rank(c.severity), c.key)))


def _flush_group(w: Work, gkey: tuple[str, str], g: Group, kids: dict[str, list[Incident]]) -> None:
    items: list[Item] = []
    notices = list(w.pending.pop(gkey, {}).values())
    for n in notices:
        inc = w.incidents.get(n.incident)
        if inc is None:
            continue
        reason = None if n.kind == "resolved" else held_reason(w, inc)
        if reason is not None:
            w.out.append(_note(w, g, (Item(n.kind, inc),), (), reason))
            w.put(replace(inc, held=reason, last_notice_at=w.now))
            continue
        items.append(Item(n.kind, inc, _children(kids, inc, n.kind)))
    w.groups[gkey] = replace(g, due=None, last_flush=w.now if items else g.last_flush)
    if not items:
        return
    items.sort(
        key=lambda i: (i.kind == "resolved", severity_rank(i.incident.severity), i.incident.key)
    )
    route = w.cfg.route(g.route)
    receivers = tuple(route.receivers) if route is not None else ()
    w.out.append(_note(w, g, tuple(items), receivers, None))
    for item in items:
        inc = w.incidents[item.incident.key]
        if item.kind in _TELLS:
            inc = replace(inc, notified=True, notified_at=inc.notified_at or w.now, held=None)
        w.put(replace(inc, last_notice_at=w.now))


def _note(
    w: Work, g: Group, items: tuple[Item, ...], receivers: tuple[str, ...], held: str | None
) -> Notification:
    return Notification(
        w.uid(f"{g.route}|{g.label}"), g.route, g.label, receivers, items, w.now, held
    )
