"""The state rule at one instant: quorum over vantage points, then the service's combination."""

from threenines.availability.state import check_state, combine, default_quorum, require_parts
from threenines.availability.timeline import KNOWN, Seg


def state_now(per_check, *, k=None, mode="all"):
    """``per_check[check][vantage] = (state, reason)``; ``unknown`` does not vote."""
    checks = {}
    for name, seen in per_check.items():
        votes = {v: Seg(0.0, 1.0, s, r) if s in KNOWN else None for v, (s, r) in seen.items()}
        verdict = check_state(votes, k or default_quorum(len(votes)))
        checks[name] = None if verdict is None else Seg(0.0, 1.0, *verdict)
    verdict = combine(checks, mode)
    return "unknown" if verdict is None else verdict[0]


def test_service_state_uses_quorum_and_silent_vantages_do_not_vote() -> None:
    one_site_down = {"home": {"central": ("up", ""), "lib": ("down", "refused"), "hub": ("up", "")}}
    assert state_now(one_site_down) == "up"
    two_down = {"home": {"central": ("down", "x"), "lib": ("down", "x"), "hub": ("up", "")}}
    assert state_now(two_down) == "down"
    # one of two vantage points silent: K (a majority of 2) is 2 and is never lowered to the
    # one that votes, so the quorum is not reached (this used to be "up")
    silent = {"home": {"central": ("up", ""), "lib": ("unknown", "silent")}}
    assert state_now(silent) == "no_quorum"
    assert state_now(silent, k=1) == "up"
    assert state_now({"home": {"central": ("unknown", "")}}) == "unknown"
    # a check with no data makes an "all" service unknown, an "any" service follows the other
    mixed = {"home": {"central": ("up", "")}, "cert": {"central": ("unknown", "")}}
    assert state_now(mixed, mode="any") == "up"
    assert state_now(mixed, mode="all") == "unknown"
    assert state_now({}, mode="all") == "unknown"


def _s(state: str, reason: str = "") -> Seg:
    return Seg(0.0, 1.0, state, reason)


def test_quorum_not_reached_never_becomes_up_or_down_by_itself() -> None:
    nq, up, down = _s("no_quorum", "quorum not reached"), _s("up"), _s("down", "refused")
    # all: a check down wins; else a check without quorum makes the service so (not no data)
    assert combine({"a": down, "b": nq})[0] == "down"
    assert combine({"a": up, "b": nq})[0] == "no_quorum"
    assert combine({"a": nq, "b": None})[0] == "no_quorum"
    assert combine({"a": up, "b": None}) is None
    # any: a check up wins; else unknown, never down
    assert combine({"a": up, "b": nq}, "any")[0] == "up"
    assert combine({"a": down, "b": nq}, "any")[0] == "no_quorum"
    # weighted: a check without quorum carries no weight either way
    w = {"big": 3.0, "small": 1.0}
    assert combine({"big": nq, "small": up}, "weighted", w)[0] == "no_quorum"
    assert combine({"big": up, "small": nq}, "weighted", w)[0] == "up"
    assert combine({"big": down, "small": nq}, "weighted", w)[0] == "down"
    # a required device down is measured evidence: down, whatever the checks' quorum
    assert require_parts(nq, {"device:sw": down})[0] == "down"
    assert require_parts(nq, {"device:sw": up}) == ("no_quorum", "quorum not reached")
