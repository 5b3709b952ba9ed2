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

from alerts.matching import in_maintenance, silenced_by
from alerts.model import BAD, Group, Incident, Item, Notice, NoticeKind, Notification, severity_rank
from alerts.work import Work

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
        due = g.due
        if not g.notices or due is None:
            due = w.now + route.group_wait
            if g.last_flush is not None:
                due = max(due, g.last_flush + route.group_interval)
        notices = (*(n for n in g.notices if n.incident != inc.key), Notice(inc.key, kind, w.now))
        w.groups[gkey] = replace(g, notices=notices, due=due)


def cancel(w: Work, key: str) -> None:
    for gkey, g in list(w.groups.items()):
        if any(n.incident == key for n in g.notices):
            notices = tuple(n for n in g.notices if n.incident != key)
            w.groups[gkey] = replace(g, notices=notices, due=g.due if notices else None)


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
    for gkey, g in list(w.groups.items()):
        keep: list[Notice] = []
        for n in g.notices:
            inc = w.incidents.get(n.incident)
            root = root_of(w, inc) if inc is not None and n.kind in ("firing", "reopened") else None
            if root is None or inc is None:
                keep.append(n)
                continue
            w.put(replace(inc, parent=root.key, held=f"parent:{root.key}"))
        if len(keep) != len(g.notices):
            w.groups[gkey] = replace(g, notices=tuple(keep), due=g.due if keep else None)


def held_reason(w: Work, inc: Incident) -> str | None:
    sid = silenced_by(w.silences.values(), inc, w.now)
    if sid is not None:
        return f"silence:{sid}"
    if in_maintenance(w.ctx.maintenance, inc, w.now):
        return "maintenance"
    return None


def flush(w: Work) -> None:
    rehome(w)
    for gkey in sorted(w.groups):
        g = w.groups[gkey]
        if g.notices and g.due is not None and g.due <= w.now:
            _flush_group(w, gkey, g)


def _children(w: Work, inc: Incident, kind: str) -> tuple[Incident, ...]:
    kids = [
        c
        for c in w.incidents.values()
        if c.parent == inc.key
        and (c.active or (kind == "resolved" and (c.resolved_at or 0) >= inc.opened_at))
    ]
    return tuple(sorted(kids, key=lambda c: (severity_rank(c.severity), c.key)))


def _flush_group(w: Work, gkey: tuple[str, str], g: Group) -> None:
    items: list[Item] = []
    for n in g.notices:
        inc = w.incidents.get(n.incident)
        if inc is None:
            continue
        reason = None if n.kind == "resolved" else held_reason(w, inc)
        if reason is not None:
            w.out.append(_note(w, g, (Item(n.kind, inc),), (), reason))
            w.put(replace(inc, held=reason, last_notice_at=w.now))
            continue
        items.append(Item(n.kind, inc, _children(w, inc, n.kind)))
    w.groups[gkey] = replace(g, notices=(), due=None, last_flush=w.now if items else g.last_flush)
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
