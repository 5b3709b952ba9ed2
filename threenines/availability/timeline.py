"""State timelines: what a check, service, site or component was, instant by instant.

A timeline is a sorted list of non-overlapping ``Seg(start, end, state, reason)`` with state
``up``, ``degraded`` or ``down``. Time not covered by any segment is **no data** (``unknown``
rows from the store, silences beyond the grace, the monitor being down): it is never up.

Timelines are combined by ``sweep``: at every elementary time slice the states of the inputs
(``None`` for no data) go through a pure function that returns the combined state. Quorum over
vantage points, service state from checks and site state from components are such functions.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from threenines.availability.intervals import IntervalSet, normalise

UP, DEGRADED, DOWN = "up", "degraded", "down"
KNOWN = (UP, DEGRADED, DOWN)


class Seg(NamedTuple):
    start: float
    end: float
    state: str
    reason: str = ""


Timeline = list[Seg]
Combiner = Callable[[Sequence[Seg | None]], tuple[str, str] | None]


@dataclass(frozen=True, slots=True)
class IntervalRow:
    """A ``state_intervals`` row as the engine needs it (see threenines/store/results.py)."""

    state: str
    start: float
    end: float | None
    last_seen: float
    error: str | None = None
    reason: str = ""


def from_rows(rows: Iterable[IntervalRow], now: float, grace: float) -> Timeline:
    """One vantage point's timeline from its interval rows.

    Closed rows cover ``[start, end)``. An open row holds up to ``last_seen`` plus ``grace``
    (2 x the check interval), never beyond ``now``; after that it is no data. ``unknown`` rows
    are no data. Overlaps (which the write path never makes) are trimmed, first row wins.
    """
    out: Timeline = []
    for row in sorted(rows, key=lambda r: r.start):
        end = row.end if row.end is not None else row.last_seen + grace
        end = min(end, now)
        start = max(row.start, out[-1].end) if out else row.start
        if row.state not in KNOWN or end <= start:
            continue
        reason = f"{row.error}: {row.reason}" if row.error else row.reason
        if out and out[-1].state == row.state and out[-1].end == start:
            out[-1] = out[-1]._replace(end=end)
        else:
            out.append(Seg(start, end, row.state, reason))
    return out


def clip(tl: Timeline, start: float, end: float) -> Timeline:
    out = []
    for seg in tl:
        if seg.end > start and seg.start < end:
            out.append(seg._replace(start=max(seg.start, start), end=min(seg.end, end)))
    return out


def intervals(tl: Timeline, *states: str) -> IntervalSet:
    """Where ``tl`` is in one of ``states`` (all known states when none are given)."""
    wanted = states or KNOWN
    return normalise((s.start, s.end) for s in tl if s.state in wanted)


def sweep(timelines: Sequence[Timeline], combine: Combiner) -> Timeline:
    """Combine timelines slice by slice; adjacent slices in the same state are merged."""
    points = sorted({p for tl in timelines for seg in tl for p in (seg.start, seg.end)})
    pos = [0] * len(timelines)
    out: Timeline = []
    current: list[Seg | None] = [None] * len(timelines)
    for a, b in itertools.pairwise(points):
        for i, tl in enumerate(timelines):
            j = pos[i]
            while j < len(tl) and tl[j].end <= a:
                j += 1
            pos[i] = j
            current[i] = tl[j] if j < len(tl) and tl[j].start <= a else None
        res = combine(current)
        if res is None:
            continue
        if out and out[-1].state == res[0] and out[-1].end == a:
            out[-1] = out[-1]._replace(end=b)
        else:
            out.append(Seg(a, b, res[0], res[1]))
    return out


def quorum(vantages: Sequence[Timeline], k: int | None = None) -> Timeline:
    """A check's timeline from its vantage points' timelines.

    Only vantage points with data at that instant vote (a silent one does not count). The check
    is down when at least K of them see it down, K being ``k`` (capped at the number voting) or
    by default a majority of those voting; degraded when K see it degraded or down; else up.
    No vantage point with data means no data.
    """
    if len(vantages) == 1:
        return list(vantages[0])

    def combine(segs: Sequence[Seg | None]) -> tuple[str, str] | None:
        fresh = [s for s in segs if s is not None]
        if not fresh:
            return None
        need = min(k, len(fresh)) if k else len(fresh) // 2 + 1
        down = [s for s in fresh if s.state == DOWN]
        if len(down) >= need:
            return DOWN, f"{down[0].reason} ({len(down)}/{len(fresh)} vantage points)"
        bad = [s for s in fresh if s.state != UP]
        if len(bad) >= need:
            return DEGRADED, bad[0].reason
        return UP, ""

    return sweep(vantages, combine)


def _all(names: Sequence[str]) -> Combiner:
    def combine(segs: Sequence[Seg | None]) -> tuple[str, str] | None:
        down = [
            f"{n}: {s.reason}" for n, s in zip(names, segs, strict=True) if s and s.state == DOWN
        ]
        if down:
            return DOWN, "; ".join(down)
        if any(s is None for s in segs):
            return None
        deg = [f"{n}: {s.reason}" for n, s in zip(names, segs, strict=True) if s and s.state != UP]
        return (DEGRADED, "; ".join(deg)) if deg else (UP, "")

    return combine


def _any(names: Sequence[str]) -> Combiner:
    def combine(segs: Sequence[Seg | None]) -> tuple[str, str] | None:
        states = {s.state for s in segs if s is not None}
        if UP in states:
            return UP, ""
        if DEGRADED in states:
            return DEGRADED, next(f"{n}: {s.reason}" for n, s in zip(names, segs, strict=True) if s)
        if any(s is None for s in segs):
            return None
        return DOWN, "; ".join(f"{n}: {s.reason}" for n, s in zip(names, segs, strict=True) if s)

    return combine


def _weighted(names: Sequence[str], weights: Sequence[float], threshold: float) -> Combiner:
    whole = sum(weights) or 1.0

    def combine(segs: Sequence[Seg | None]) -> tuple[str, str] | None:
        ok = sum(w for w, s in zip(weights, segs, strict=True) if s and s.state != DOWN)
        down = sum(w for w, s in zip(weights, segs, strict=True) if s and s.state == DOWN)
        why = "; ".join(
            f"{n}: {s.reason}" for n, s in zip(names, segs, strict=True) if s and s.state != UP
        )
        if ok / whole >= threshold:
            return (DEGRADED, why) if why else (UP, "")
        if down / whole > 1 - threshold:
            return DOWN, why
        return None

    return combine


def combine_checks(
    checks: Mapping[str, Timeline],
    mode: str = "all",
    weights: Mapping[str, float] | None = None,
    threshold: float = 0.5,
) -> Timeline:
    """A service's timeline from its checks' (quorum) timelines.

    ``all``: down if any check is down, no data if any has none, degraded if any is degraded.
    ``any``: up if any check is up, then degraded, then no data, else down.
    ``weighted``: up (or degraded) while checks carrying ``threshold`` of the weight are not
    down, down while more than ``1 - threshold`` of the weight is down, else no data.
    """
    names = sorted(checks)
    tls = [checks[n] for n in names]
    if len(names) == 1:  # every mode agrees on a single check (weights cancel out)
        return [
            s._replace(reason=f"{names[0]}: {s.reason}") if s.state != UP else s for s in tls[0]
        ]
    if mode == "any":
        return sweep(tls, _any(names))
    if mode == "weighted":
        w = [float((weights or {}).get(n, 1.0)) for n in names]
        return sweep(tls, _weighted(names, w, threshold))
    return sweep(tls, _all(names))


def require(service: Timeline, parts: Mapping[str, Timeline], *, measured: bool = True) -> Timeline:
    """A service's timeline with things it cannot work without (SNMP devices, uplinks).

    Down while any part is down (the reason names it), whatever the checks say; otherwise the
    checks' state, degraded while a part is degraded. A part with no data changes nothing when
    the service is ``measured`` by checks of its own (their evidence stands); a service with no
    checks has only its parts, so it is no data unless all of them have data.
    """
    names = sorted(parts)

    def combine(segs: Sequence[Seg | None]) -> tuple[str, str] | None:
        own, mine = segs[0], list(zip(names, segs[1:], strict=True))
        down = [f"{n} down: {s.reason}" if s.reason else f"{n} down" for n, s in mine
                if s and s.state == DOWN]  # fmt: skip
        if down:
            return DOWN, "; ".join(down)
        deg = [f"{n} degraded: {s.reason}" for n, s in mine if s and s.state == DEGRADED]
        if measured:
            if own is None:
                return None
            if own.state != UP:
                return own.state, own.reason
            return (DEGRADED, "; ".join(deg)) if deg else (UP, "")
        if any(s is None for _n, s in mine):
            return None
        return (DEGRADED, "; ".join(deg)) if deg else (UP, "")

    return sweep([service, *(parts[n] for n in names)], combine)


def combine_components(components: Mapping[str, Timeline]) -> Timeline:
    """A site's or data centre's state from its components (services, devices).

    Up while every component with data is up; down while every component with data is down;
    degraded in between (a partial outage); no data only when no component has data.
    """
    names = sorted(components)

    def combine(segs: Sequence[Seg | None]) -> tuple[str, str] | None:
        known = [(n, s) for n, s in zip(names, segs, strict=True) if s is not None]
        if not known:
            return None
        down = [n for n, s in known if s.state == DOWN]
        if len(down) == len(known):
            return DOWN, "all components down"
        bad = [n for n, s in known if s.state != UP]
        return (DEGRADED, "not up: " + ", ".join(bad)) if bad else (UP, "")

    return sweep([components[n] for n in names], combine)


def service_state_now(
    per_check: Mapping[str, Mapping[str, tuple[str, str]]],
    *,
    k: int | None = None,
    mode: str = "all",
    weights: Mapping[str, float] | None = None,
    threshold: float = 0.5,
) -> tuple[str, str]:
    """A service's state at one instant, by the same quorum and combination rules as the
    availability figures: ``per_check[check][vantage] = (state, reason)``; a vantage point in
    state ``unknown`` does not vote. Returns (state, reason), state ``unknown`` for no data."""
    checks: dict[str, Timeline] = {}
    for name, vantages in per_check.items():
        tls = [[Seg(0.0, 1.0, s, r)] if s in KNOWN else [] for s, r in vantages.values()]
        checks[name] = quorum(tls, k) if tls else []
    if not checks:
        return "unknown", ""
    tl = combine_checks(checks, mode, weights, threshold)
    return (tl[0].state, tl[0].reason) if tl else ("unknown", "no data")
