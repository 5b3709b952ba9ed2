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


class IntervalRow(NamedTuple):
    """A ``state_intervals`` row as the engine needs it (see threenines/store/results.py).

    A named tuple, not a frozen dataclass: the board report builds one per row of the estate's
    window (hundreds of thousands), and a tuple is several times cheaper to make."""

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
    last: Seg | None = None
    for row in sorted(rows, key=_start):
        end = row.end if row.end is not None else row.last_seen + grace  # holds_until
        if end > now:
            end = now
        start = row.start
        if last is not None and last.end > start:
            start = last.end
        state = row.state
        if state not in KNOWN or end <= start:
            continue
        if last is not None and last.state == state and last.end == start:
            last = out[-1] = last._replace(end=end)
        else:
            reason = f"{row.error}: {row.reason}" if row.error else row.reason
            last = Seg(start, end, state, reason)
            out.append(last)
    return out


def _start(row: IntervalRow) -> float:
    return row.start


def clip(tl: Timeline, start: float, end: float) -> Timeline:
    out = []
    for seg in tl:
        if seg.end > start and seg.start < end:
            out.append(seg._replace(start=max(seg.start, start), end=min(seg.end, end)))
    return out


def intervals(tl: Timeline, *states: str) -> IntervalSet:
    """Where ``tl`` is in one of ``states`` (all known states when none are given)."""
    wanted = states or KNOWN
    out: IntervalSet = []
    for seg in tl:  # a timeline is sorted: merge as ``normalise`` does, without its sort
        if seg.state not in wanted:
            continue
        start, end = seg.start, seg.end
        if end <= start:
            continue
        if out:
            prev = out[-1]
            if start < prev[0]:  # not sorted after all: the general way
                return normalise((s.start, s.end) for s in tl if s.state in wanted)
            if start <= prev[1]:
                if end > prev[1]:
                    out[-1] = (prev[0], end)
                continue
        out.append((start, end))
    return out


def sweep(timelines: Sequence[Timeline], combine: Combiner) -> Timeline:
    """Combine timelines slice by slice; adjacent slices in the same state are merged."""
    if len(timelines) == 1:
        one = _sweep_one(timelines[0], combine)
        if one is not None:
            return one
    points = sorted({p for tl in timelines for seg in tl for p in (seg.start, seg.end)})
    pos = [0] * len(timelines)
    sizes = [len(tl) for tl in timelines]
    out: Timeline = []
    current: list[Seg | None] = [None] * len(timelines)
    last: Seg | None = None
    for a, b in itertools.pairwise(points):
        for i, tl in enumerate(timelines):
            j = pos[i]
            n = sizes[i]
            while j < n and tl[j].end <= a:
                j += 1
            pos[i] = j
            current[i] = tl[j] if j < n and tl[j].start <= a else None
        res = combine(current)
        if res is None:
            continue
        if last is not None and last.state == res[0] and last.end == a:
            last = out[-1] = last._replace(end=b)
        else:
            last = Seg(a, b, res[0], res[1])
            out.append(last)
    return out


def _sweep_one(tl: Timeline, combine: Combiner) -> Timeline | None:
    """``sweep`` of one sorted, non-overlapping timeline: its slices are its segments and the
    gaps between them (no data), so no boundary set is built. None if ``tl`` is not sorted
    and disjoint (``sweep`` then takes the general way)."""
    out: Timeline = []
    last: Seg | None = None
    gap: tuple[str, str] | None = None
    gap_known = False
    prev_end: float | None = None

    def emit(a: float, b: float, res: tuple[str, str]) -> None:
        nonlocal last
        if last is not None and last.state == res[0] and last.end == a:
            last = out[-1] = last._replace(end=b)
        else:
            last = Seg(a, b, res[0], res[1])
            out.append(last)

    for seg in tl:
        if seg.end <= seg.start:  # no slice of its own (a boundary inside a slice changes nothing)
            if prev_end is not None and seg.start < prev_end:
                return None
            continue
        if prev_end is not None:
            if seg.start < prev_end:
                return None
            if seg.start > prev_end:
                if not gap_known:
                    gap, gap_known = combine([None]), True
                if gap is not None:
                    emit(prev_end, seg.start, gap)
        res = combine([seg])
        if res is not None:
            emit(seg.start, seg.end, res)
        prev_end = seg.end
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
