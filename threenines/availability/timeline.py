"""State timelines: what a check, service, site or component was, instant by instant.

A timeline is a sorted list of non-overlapping ``Seg(start, end, state, reason)`` with state
``up``, ``degraded``, ``down`` or (for checks and services) ``no_quorum``. Time not covered by
any segment is **no data** (``unknown`` rows from the store, silences beyond the grace, the
monitor being down): it is never up.

Timelines are combined by ``sweep``: at every elementary time slice the states of the inputs
(``None`` for no data) go through a pure function that returns the combined state. The state
rule (``threenines.availability.state``: quorum over vantage points, service state from checks
and devices) is such a function; so is a site's state from its components (here).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from threenines.availability.intervals import IntervalSet, normalise

UP, DEGRADED, DOWN = "up", "degraded", "down"
NO_QUORUM = "no_quorum"  # some vantage points have fresh data, fewer than the quorum
NO_DATA = "unknown"  # how an instant's "no segment" is named outside timelines
KNOWN = (UP, DEGRADED, DOWN)  # measured states: a store row in another state is no data


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


def holds_until(row: IntervalRow, grace: float) -> float:
    """Until when ``row`` says anything: its end, or (open) its last result plus ``grace``."""
    return row.end if row.end is not None else row.last_seen + grace


def from_rows(rows: Iterable[IntervalRow], now: float, grace: float) -> Timeline:
    """One vantage point's timeline from its interval rows.

    Closed rows cover ``[start, end)``. An open row holds up to ``last_seen`` plus ``grace``
    (``threenines.availability.state.grace``), never beyond ``now``; after that it is no data.
    ``unknown`` rows are no data. Overlaps (which the write path never makes) are trimmed,
    first row wins.
    """
    out: Timeline = []
    for row in sorted(rows, key=lambda r: r.start):
        end = min(holds_until(row, grace), now)
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


def combine_components(components: Mapping[str, Timeline]) -> Timeline:
    """A site's or data centre's state from its components (services, devices).

    Up while every component with data is up; down while every component with data is down;
    degraded in between (a partial outage). A component without quorum has no data here; when
    no component has data the site is ``no_quorum`` if some component is, else no data.
    """
    names = sorted(components)

    def combine(segs: Sequence[Seg | None]) -> tuple[str, str] | None:
        known = [(n, s) for n, s in zip(names, segs, strict=True) if s and s.state in KNOWN]
        if not known:
            nq = [n for n, s in zip(names, segs, strict=True) if s and s.state == NO_QUORUM]
            return (NO_QUORUM, "quorum not reached: " + ", ".join(nq)) if nq else None
        down = [n for n, s in known if s.state == DOWN]
        if len(down) == len(known):
            return DOWN, "all components down"
        bad = [n for n, s in known if s.state != UP]
        return (DEGRADED, "not up: " + ", ".join(bad)) if bad else (UP, "")

    return sweep([components[n] for n in names], combine)


def state_at(tl: Timeline, t: float) -> Seg | None:
    """The segment of ``tl`` covering instant ``t`` (``start <= t < end``), None for no data."""
    for seg in tl:
        if seg.start <= t < seg.end:
            return seg
        if seg.start > t:
            break
    return None
