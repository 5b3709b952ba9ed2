"""Algebra of half-open time intervals ``[start, end)`` in UTC epoch seconds.

An *interval set* is a list of ``(start, end)`` tuples, sorted, disjoint, non-adjacent and
non-empty. Every function here takes and returns interval sets (``normalise`` makes one from
any list), so the availability math composes by union, intersection and subtraction instead of
ad-hoc loops. All functions are pure and linear in the input size (after sorting).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

Interval = tuple[float, float]
IntervalSet = list[Interval]
Spans = Sequence[Interval]  # any sorted, disjoint input (a list or a tuple)


def normalise(items: Iterable[Interval]) -> IntervalSet:
    """Sort, drop empty intervals and merge overlapping or touching ones."""
    out: IntervalSet = []
    for start, end in sorted(i for i in items if i[1] > i[0]):
        if out and start <= out[-1][1]:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def union(*sets: Spans) -> IntervalSet:
    if len(sets) == 1:
        return list(sets[0])
    return normalise(i for s in sets for i in s)


def intersect(a: Spans, b: Spans) -> IntervalSet:
    out: IntervalSet = []
    i = j = 0
    while i < len(a) and j < len(b):
        start = max(a[i][0], b[j][0])
        end = min(a[i][1], b[j][1])
        if start < end:
            out.append((start, end))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def subtract(a: Spans, b: Spans) -> IntervalSet:
    """The parts of ``a`` not covered by ``b``."""
    out: IntervalSet = []
    j = 0
    for start, end in a:
        while j < len(b) and b[j][1] <= start:
            j += 1
        k = j
        cur = start
        while k < len(b) and b[k][0] < end:
            if b[k][0] > cur:
                out.append((cur, b[k][0]))
            cur = max(cur, b[k][1])
            k += 1
        if cur < end:
            out.append((cur, end))
    return out


def clip(a: Spans, start: float, end: float) -> IntervalSet:
    """``a`` restricted to ``[start, end)``."""
    return intersect(a, [(start, end)]) if end > start else []


def total(a: Spans) -> float:
    """Summed length in seconds."""
    return sum((end - start for start, end in a), 0.0)


def overlaps(a: Spans, start: float, end: float) -> bool:
    return any(s < end and e > start for s, e in a)


def buckets(a: Spans, edges: Sequence[float]) -> list[float]:
    """Seconds of ``a`` falling in each ``[edges[i], edges[i+1])``, in one pass."""
    out = [0.0] * max(0, len(edges) - 1)
    i = 0
    for start, end in a:
        while i < len(out) and edges[i + 1] <= start:
            i += 1
        j = i
        while j < len(out) and edges[j] < end:
            out[j] += max(0.0, min(end, edges[j + 1]) - max(start, edges[j]))
            j += 1
    return out
