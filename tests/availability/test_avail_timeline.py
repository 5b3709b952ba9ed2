"""Per-vantage timelines, quorum and state composition, checked against hand-drawn timelines."""

from __future__ import annotations

from threenines.availability.state import combine_checks, default_quorum, quorum
from threenines.availability.timeline import IntervalRow, Seg, combine_components, from_rows


def segs(tl):
    return [(s.start, s.end, s.state) for s in tl]


def vps(*timelines, k=None):
    """Quorum over vantage points a, b, c... (K: a majority of them unless given)."""
    named = dict(zip("abcdefg", timelines, strict=False))
    return quorum(named, k or default_quorum(len(named)))


def tl(*items):
    return [Seg(a, b, state, f"{state}@{a}") for a, b, state in items]


def test_from_rows_open_interval_holds_for_grace_then_no_data():
    rows = [
        IntervalRow("up", 0, 100, 90),
        IntervalRow("down", 100, 150, 140, "refused", "connection refused"),
        # 150..200 is a gap (the writer closed at last_seen): no data
        IntervalRow("up", 200, None, 300),
    ]
    # now=1000, grace=120: the open interval holds until 300+120
    assert segs(from_rows(rows, now=1000, grace=120)) == [
        (0, 100, "up"),
        (100, 150, "down"),
        (200, 420, "up"),
    ]
    assert from_rows(rows, 1000, 120)[1].reason == "refused: connection refused"
    # within the grace the open interval reaches now, never beyond
    assert segs(from_rows(rows, now=350, grace=120))[-1] == (200, 350, "up")


def test_from_rows_unknown_is_no_data():
    rows = [IntervalRow("unknown", 0, 50, 40), IntervalRow("up", 50, 80, 70)]
    assert segs(from_rows(rows, 1000, 10)) == [(50, 80, "up")]


def test_quorum_two_of_three_is_down():
    a = tl((0, 100, "down"))
    b = tl((0, 50, "down"), (50, 100, "up"))
    c = tl((0, 100, "up"))
    assert segs(vps(a, b, c)) == [(0, 50, "down"), (50, 100, "up")]
    assert "2/3 vantage points" in vps(a, b, c)[0].reason


def test_quorum_one_of_three_is_not_down_by_default_but_is_with_k1():
    a = tl((0, 100, "down"))  # the site that lost its own WAN link
    b = tl((0, 100, "up"))
    c = tl((0, 100, "up"))
    assert segs(vps(a, b, c)) == [(0, 100, "up")]
    assert segs(vps(a, b, c, k=1)) == [(0, 100, "down")]


def test_quorum_silent_agent_does_not_vote():
    # c is silent 40..100: from then on 1 of 2 down is not a majority, 2 of 2 is.
    a = tl((0, 100, "down"))
    b = tl((0, 70, "up"), (70, 100, "down"))
    c = tl((0, 40, "up"))
    assert segs(vps(a, b, c)) == [(0, 70, "up"), (70, 100, "down")]
    # all silent: no data, never up
    assert vps(tl(), tl(), tl()) == []


def test_quorum_degraded_and_k_never_capped_at_voters():
    a = tl((0, 10, "down"))
    b = tl((0, 10, "degraded"))
    c = tl((0, 10, "up"))
    assert segs(vps(a, b, c)) == [(0, 10, "degraded")]
    # one vantage point with data, K = 2: quorum not reached (it used to be "down", K capped
    # at the one voter), and the reason says who sees what
    lone = vps(a, tl(), tl(), k=2)
    assert segs(lone) == [(0, 10, "no_quorum")]
    assert lone[0].reason == "quorum not reached: 1 of 2 needed (a: down)"


def test_combine_all_any_weighted():
    web = tl((0, 10, "up"), (10, 20, "down"), (20, 30, "up"))
    db = tl((0, 5, "degraded"), (5, 25, "up"))  # no data 25..30
    checks = {"web": web, "db": db}
    assert segs(combine_checks(checks, "all")) == [
        (0, 5, "degraded"),
        (5, 10, "up"),
        (10, 20, "down"),
        (20, 25, "up"),
    ]
    assert segs(combine_checks(checks, "any")) == [(0, 30, "up")]
    # web weighs 3 of 4: its outage alone is down; db alone is not enough for up at 25..30
    weighted = combine_checks(checks, "weighted", {"web": 3, "db": 1}, 0.5)
    assert segs(weighted) == [(0, 5, "degraded"), (5, 10, "up"), (10, 20, "down"), (20, 30, "up")]
    assert "web: " in combine_checks(checks, "all")[2].reason


def test_site_state_partial_outage_is_degraded():
    a = tl((0, 10, "up"), (10, 20, "down"))
    b = tl((0, 15, "up"), (15, 20, "down"))
    assert segs(combine_components({"a": a, "b": b})) == [
        (0, 10, "up"),
        (10, 15, "degraded"),
        (15, 20, "down"),
    ]
