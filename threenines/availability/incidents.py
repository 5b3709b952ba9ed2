"""Incidents from counted downtime, with dependency attribution.

Each service's counted downtime (after exclusions) is split: the parts that overlap an outage
of something it depends on (its site's ``depends_on`` such as the WAN link, or its own
``depends_on`` services) join that dependency's incident; the rest opens an incident of its
own. Attribution follows chains (a service on an application on a database joins the database
outage), so a link failure at a site is one incident with one cause and twenty affected
services, not twenty incidents. Attributed downtime still counts against each service.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from threenines.availability.intervals import IntervalSet, intersect, normalise, subtract, total
from threenines.availability.timeline import DOWN, Timeline, intervals


@dataclass(frozen=True, slots=True)
class Downtime:
    """What the incident logic needs of one service."""

    bad: IntervalSet  # counted downtime in the window
    timeline: Timeline  # for reasons and for its own raw down time as a dependency
    depends_on: tuple[str, ...] = ()


@dataclass
class Incident:
    """An outage: ``cause`` names the root (a service or a component) and why it was down."""

    root: str
    cause: str
    parts: dict[str, IntervalSet] = field(default_factory=dict)  # affected name -> spans

    @property
    def start(self) -> float:
        return min(p[0][0] for p in self.parts.values())

    @property
    def end(self) -> float:
        return max(p[-1][1] for p in self.parts.values())

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def affected(self) -> list[str]:
        return sorted(self.parts, key=lambda n: (n != self.root, n))

    def add(self, name: str, spans: IntervalSet) -> None:
        if spans:
            self.parts[name] = normalise([*self.parts.get(name, []), *spans])


def _cause(name: str, tl: Timeline, ts: float) -> str:
    """``<name> <state>: <reason>`` for the segment of ``tl`` at ``ts``."""
    for seg in tl:
        if seg.start <= ts < seg.end and seg.state != "up":
            return f"{name} {seg.state}: {seg.reason}" if seg.reason else f"{name} {seg.state}"
    return f"{name} down"


def _order(services: Mapping[str, Downtime]) -> list[str]:
    """Dependencies before dependants; a cycle is broken at the first name met again."""
    done: list[str] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        for dep in services[name].depends_on:
            if dep in services:
                visit(dep)
        done.append(name)

    for name in sorted(services):
        visit(name)
    return done


def derive(
    services: Mapping[str, Downtime],
    components: Mapping[str, Timeline],
    start: float,
    end: float,
) -> list[Incident]:
    """Incidents in ``[start, end)``, sorted by start; ``components`` are non-service deps."""
    incidents: list[Incident] = []
    owned: dict[str, list[tuple[IntervalSet, Incident]]] = {}
    lazy: dict[tuple[str, float], Incident] = {}

    def root_for(dep: str, tl: Timeline, seg: tuple[float, float]) -> Incident:
        key = (dep, seg[0])
        if key not in lazy:
            lazy[key] = Incident(dep, _cause(dep, tl, seg[0]))
            incidents.append(lazy[key])
        return lazy[key]

    for name in _order(services):
        svc = services[name]
        remaining = list(svc.bad)
        mine: list[tuple[IntervalSet, Incident]] = []
        for dep in svc.depends_on:
            if not remaining or dep == name:
                continue
            for spans, inc in owned.get(dep, []):
                hit = intersect(remaining, spans)
                if hit:
                    inc.add(name, hit)
                    mine.append((hit, inc))
                    remaining = subtract(remaining, hit)
            tl = services[dep].timeline if dep in services else components.get(dep, [])
            for seg in intervals(tl, DOWN):
                hit = intersect(remaining, [seg])
                if hit:
                    inc = root_for(dep, tl, seg)
                    inc.add(name, hit)
                    mine.append((hit, inc))
                    remaining = subtract(remaining, hit)
        for span in remaining:
            inc = Incident(name, _cause(name, svc.timeline, span[0]))
            inc.add(name, [span])
            incidents.append(inc)
            mine.append(([span], inc))
        owned[name] = mine
    found = [i for i in incidents if i.parts]
    for inc in found:
        for name in list(inc.parts):
            inc.parts[name] = intersect(inc.parts[name], [(start, end)])
            if not inc.parts[name]:
                del inc.parts[name]
    return sorted((i for i in found if i.parts), key=lambda i: (i.start, i.root))


@dataclass(frozen=True, slots=True)
class Reliability:
    incidents: int
    mttr: float | None  # mean downtime per incident, seconds
    mtbf: float | None  # available time per incident, seconds


def reliability(name: str, incidents: Sequence[Incident], good: float) -> Reliability:
    """MTTR and MTBF of one service from the incidents that affected it."""
    return reliabilities(incidents, {name: good})[name]


def reliabilities(
    incidents: Sequence[Incident], good: Mapping[str, float]
) -> dict[str, Reliability]:
    """``reliability`` of every service in ``good`` (name -> available seconds) in one pass
    over the incidents, instead of one pass per service."""
    downtime: dict[str, list[float]] = {name: [] for name in good}
    for inc in incidents:
        for name, spans in inc.parts.items():
            mine = downtime.get(name)
            if mine is not None:
                mine.append(total(spans))
    return {name: _reliability(mine, good[name]) for name, mine in downtime.items()}


def _reliability(downtime: list[float], good: float) -> Reliability:
    if not downtime:
        return Reliability(0, None, None)
    return Reliability(len(downtime), sum(downtime) / len(downtime), good / len(downtime))


def incident_counts(
    incidents: Sequence[Incident], groups: Mapping[str, Sequence[str]]
) -> dict[str, int]:
    """Incidents affecting each group of services (group -> members): one affecting several
    members of a group counts once for it. One pass over the incidents' parts."""
    member_of: dict[str, list[str]] = {}
    for group, members in groups.items():
        for m in dict.fromkeys(members):
            member_of.setdefault(m, []).append(group)
    counts = dict.fromkeys(groups, 0)
    for inc in incidents:
        hit = {g for name in inc.parts for g in member_of.get(name, ())}
        for g in hit:
            counts[g] += 1
    return counts


def estate_reliability(incidents: Sequence[Incident], start: float, end: float) -> Reliability:
    """Wall-clock MTTR and MTBF over all incidents (overlapping incidents are merged in MTBF)."""
    if not incidents:
        return Reliability(0, None, None)
    spans = normalise((i.start, i.end) for i in incidents)
    mttr = sum(i.duration for i in incidents) / len(incidents)
    return Reliability(len(incidents), mttr, ((end - start) - total(spans)) / len(incidents))
