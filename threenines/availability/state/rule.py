"""The state rule at one instant, and the same rule swept over timelines.

Each decision is a pure function of the inputs' states at one instant (``Seg`` or ``None`` for
no data); ``quorum``, ``combine_checks`` and ``require`` apply the very same functions slice by
slice with ``sweep``, so an instant and an interval can never disagree.

1. A check (``check_state``): vantage points vote with their fresh result (``None``: no fresh
   result, it does not vote). K is the service's ``quorum`` or a majority of the check's
   vantage points (``default_quorum``); it is never lowered to the number who vote. No vote at
   all is no data. Fewer than K votes is ``no_quorum`` ("quorum not reached"). Otherwise down
   when at least K see it down, degraded when at least K see it degraded or down, else up.
2. A service from its checks (``combine``): ``all``: down if a check is down, else unknown if a
   check is unknown, else degraded if one is, else up. ``any``: up if a check is up, else
   degraded if one is, else unknown if one is, else down. ``weighted``: up (degraded when some
   check is not up) while checks carrying ``threshold`` of the weight are up or degraded; down
   while more than ``1 - threshold`` of it is down; else unknown.
3. Things the service cannot work without (``require``, SNMP devices and uplinks): down while
   one is down, whatever the checks say; else the checks' state, degraded while one is.
"Unknown" above is ``no_quorum`` when some input is ``no_quorum``, else no data: neither ever
turns into up or down by itself. ``depends_on`` never changes a state; it attributes downtime.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from threenines.availability.timeline import (
    DEGRADED,
    DOWN,
    NO_QUORUM,
    UP,
    Seg,
    Timeline,
    sweep,
)

Vote = Seg | None
Verdict = tuple[str, str] | None  # (state, reason); None is no data


def default_quorum(vantages: int) -> int:
    """K when a service sets no ``quorum``: a majority of the check's vantage points."""
    return vantages // 2 + 1


def quorum_for(quorum: int | None, vantages: int) -> int:
    """K for a check run from ``vantages`` vantage points (the service's ``quorum`` wins)."""
    return quorum if quorum is not None else default_quorum(vantages)


def who_sees(votes: Mapping[str, Vote]) -> str:
    """``central: up, lib: down`` for the vantage points that vote."""
    return ", ".join(f"{v}: {s.state}" for v, s in sorted(votes.items()) if s is not None)


def check_state(votes: Mapping[str, Vote], k: int) -> Verdict:
    """Rule 1: a check's state from its vantage points' votes (all configured ones as keys)."""
    fresh = {v: s for v, s in sorted(votes.items()) if s is not None}
    if not fresh:
        return None
    if len(fresh) < k:
        return NO_QUORUM, f"quorum not reached: {len(fresh)} of {k} needed ({who_sees(fresh)})"
    down = [s for s in fresh.values() if s.state == DOWN]
    if len(down) >= k:
        if len(votes) == 1:  # one vantage point: its reason as it is
            return DOWN, down[0].reason
        return DOWN, f"{down[0].reason} ({len(down)}/{len(fresh)} vantage points)".lstrip()
    bad = [s for s in fresh.values() if s.state != UP]
    if len(bad) >= k:
        return DEGRADED, bad[0].reason
    return UP, ""


def _unknown(named: Sequence[tuple[str, Vote]]) -> Verdict:
    """No quorum when some input has no quorum, else no data."""
    nq = [f"{n}: {s.reason}" for n, s in named if s is not None and s.state == NO_QUORUM]
    return (NO_QUORUM, "; ".join(nq)) if nq else None


def _known(s: Vote) -> bool:
    return s is not None and s.state in (UP, DEGRADED, DOWN)


def _why(named: Sequence[tuple[str, Vote]], *states: str) -> str:
    return "; ".join(f"{n}: {s.reason}" for n, s in named if s is not None and s.state in states)


def combine(
    checks: Mapping[str, Vote],
    mode: str = "all",
    weights: Mapping[str, float] | None = None,
    threshold: float = 0.5,
) -> Verdict:
    """Rule 2: a service's state from its checks' states (reasons name the checks)."""
    named = sorted(checks.items())
    if not named:
        return None
    if len(named) == 1:  # every mode agrees on one check (weights cancel out)
        name, s = named[0]
        if s is None or s.state == UP:
            return None if s is None else (UP, "")
        return s.state, f"{name}: {s.reason}"
    if mode == "any":
        return _any(named)
    if mode == "weighted":
        return _weighted(named, weights or {}, threshold)
    if any(s is not None and s.state == DOWN for _, s in named):
        return DOWN, _why(named, DOWN)
    if not all(_known(s) for _, s in named):
        return _unknown(named)
    deg = _why(named, DEGRADED)
    return (DEGRADED, deg) if deg else (UP, "")


def _any(named: Sequence[tuple[str, Vote]]) -> Verdict:
    states = {s.state for _, s in named if s is not None}
    if UP in states:
        return UP, ""
    if DEGRADED in states:
        return DEGRADED, next(f"{n}: {s.reason}" for n, s in named if s and s.state == DEGRADED)
    if not all(_known(s) for _, s in named):
        return _unknown(named)
    return DOWN, _why(named, DOWN)


def _weighted(
    named: Sequence[tuple[str, Vote]], weights: Mapping[str, float], threshold: float
) -> Verdict:
    w = {n: float(weights.get(n, 1.0)) for n, _ in named}
    whole = sum(w.values()) or 1.0
    ok = sum(w[n] for n, s in named if s is not None and s.state in (UP, DEGRADED))
    down = sum(w[n] for n, s in named if s is not None and s.state == DOWN)
    why = _why(named, DEGRADED, DOWN)
    if ok / whole >= threshold:
        return (DEGRADED, why) if why else (UP, "")
    if down / whole > 1 - threshold:
        return DOWN, why
    return _unknown(named)


def require_parts(own: Vote, parts: Mapping[str, Vote], *, measured: bool = True) -> Verdict:
    """Rule 3: the checks' verdict ``own`` with the parts the service cannot work without.

    A part with no data changes nothing when the service is ``measured`` by checks of its own;
    a service with no checks has only its parts, so it is no data unless all of them have data.
    """
    mine = sorted(parts.items())
    down = [f"{n} down: {s.reason}" if s.reason else f"{n} down" for n, s in mine
            if s and s.state == DOWN]  # fmt: skip
    if down:
        return DOWN, "; ".join(down)
    deg = [f"{n} degraded: {s.reason}" for n, s in mine if s and s.state == DEGRADED]
    if measured:
        if own is None or own.state != UP:
            return None if own is None else (own.state, own.reason)
    elif any(s is None for _n, s in mine):
        return None
    return (DEGRADED, "; ".join(deg)) if deg else (UP, "")


# -- the same rule over timelines ----------------------------------------------------------


def _rule_sweep(
    timelines: Sequence[Timeline], decide: Callable[[Sequence[Vote]], Verdict]
) -> Timeline:
    """``sweep`` with a rule that reads only its inputs' states and reasons (every rule here):
    its verdict is computed once per distinct combination of (state, reason), not per slice.
    """
    seen: dict[tuple[tuple[str, ...] | None, ...], Verdict] = {}

    def once(segs: Sequence[Vote]) -> Verdict:
        key = tuple([None if s is None else s[2:] for s in segs])  # (state, reason)
        try:
            return seen[key]
        except KeyError:
            seen[key] = verdict = decide(segs)
            return verdict

    return sweep(timelines, once)


def quorum(vantages: Mapping[str, Timeline], k: int) -> Timeline:
    """A check's timeline from its vantage points' timelines (rule 1, slice by slice)."""
    names = sorted(vantages)
    return _rule_sweep(
        [vantages[n] for n in names],
        lambda segs: check_state(dict(zip(names, segs, strict=True)), k),
    )


def combine_checks(
    checks: Mapping[str, Timeline],
    mode: str = "all",
    weights: Mapping[str, float] | None = None,
    threshold: float = 0.5,
) -> Timeline:
    """A service's timeline from its checks' timelines (rule 2, slice by slice)."""
    names = sorted(checks)
    return _rule_sweep(
        [checks[n] for n in names],
        lambda segs: combine(dict(zip(names, segs, strict=True)), mode, weights, threshold),
    )


def require(service: Timeline, parts: Mapping[str, Timeline], *, measured: bool = True) -> Timeline:
    """A service's timeline with its devices and uplinks (rule 3, slice by slice)."""
    names = sorted(parts)
    return _rule_sweep(
        [service, *(parts[n] for n in names)],
        lambda segs: require_parts(
            segs[0], dict(zip(names, segs[1:], strict=True)), measured=measured
        ),
    )
