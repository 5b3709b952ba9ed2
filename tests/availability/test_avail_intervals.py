"""Interval algebra: table tests and properties against a brute-force model on a grid."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from threenines.availability.intervals import (
    clip,
    intersect,
    normalise,
    subtract,
    total,
    union,
)


def test_normalise_merges_touching_and_overlapping_and_drops_empty():
    assert normalise([(5, 7), (0, 2), (2, 3), (6, 9), (10, 10)]) == [(0, 3), (5, 9)]


def test_intersect_subtract_union_table():
    a = [(0, 10), (20, 30)]
    b = [(5, 25)]
    assert intersect(a, b) == [(5, 10), (20, 25)]
    assert subtract(a, b) == [(0, 5), (25, 30)]
    assert union(a, b) == [(0, 30)]
    assert subtract(a, [(0, 10), (20, 30)]) == []
    assert subtract(a, []) == a
    assert clip(a, 8, 22) == [(8, 10), (20, 22)]
    assert total(a) == 20


spans = st.lists(
    st.tuples(st.integers(0, 60), st.integers(0, 60)).map(lambda t: (min(t), max(t))),
    max_size=8,
).map(normalise)


def cells(s):
    return {x for a, b in s for x in range(int(a), int(b))}


@given(spans, spans)
def test_operations_match_set_model(a, b):
    assert cells(union(a, b)) == cells(a) | cells(b)
    assert cells(intersect(a, b)) == cells(a) & cells(b)
    assert cells(subtract(a, b)) == cells(a) - cells(b)
    for result in (union(a, b), intersect(a, b), subtract(a, b)):
        assert result == normalise(result)  # stays sorted, disjoint, non-adjacent
