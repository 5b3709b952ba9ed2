"""The failover decision: exhaustive table tests and hypothesis properties (no clock, no I/O)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from threenines.app.config import parse_config
from threenines.availability.state import DOWN, service_state_at, specs
from threenines.failover.config import Plan
from threenines.failover.decide import (
    DAY,
    ApprovalRecord,
    PreflightFacts,
    RunRecord,
    Subjects,
    decide,
)
from threenines.failover.quorum import Observation, evaluate_trigger, mirror_health, rows_of

NOW = 1_800_000_000.0
VPS = ("central", "lib-grays", "hub-tilbury", "depot")
# Each service has one check run from the four vantage points: K is 3 (a majority of four).
CFG = parse_config(
    """
server: {vantage: central}
sites:
  - {name: dc-main, kind: datacentre}
  - {name: dc-mirror, kind: datacentre, mirror_of: dc-main}
  - {name: lib}
vantage_points:
  - {name: lib-grays, site: lib}
  - {name: hub-tilbury, site: lib}
  - {name: depot, site: lib}
services:
"""
    + "".join(
        f"  - {{name: {n}, site: {site}, checks: [{{name: http, type: tcp, host: 127.0.0.1, "
        f"port: 9, vantage: [{', '.join(VPS)}]}}]}}\n"
        for n, site in (
            ("portal", "dc-main"),
            ("payments", "dc-main"),
            ("portal-mirror", "dc-mirror"),
        )
    )
)
SUBJECTS = Subjects(trigger=("portal", "payments"), mirror=("portal-mirror",), specs=specs(CFG))


def plan(**over: Any) -> Plan:
    data: dict[str, Any] = {
        "name": "main-to-mirror",
        "primary": "dc-main",
        "mirror": "dc-mirror",
        "trigger": {"services": ["portal", "payments"], "confirm_for": "30s", "quorum": 2},
        "guards": {"mode": "auto", "cooldown": "1h", "max_runs_per_day": 2},
        "playbook": {"path": "failover.yml"},
        "failback": {"path": "failback.yml"},
    }
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return Plan.model_validate(data)


def obs(
    service: str, vantage: str, state: str, since: float, last_seen: float = NOW
) -> Observation:
    return Observation(f"{service}/http", vantage, state, since, last_seen)


def estate(
    down_vps: tuple[str, ...], since: float = NOW - 60, mirror_up: int = 4
) -> list[Observation]:
    """Trigger services down from ``down_vps`` (up elsewhere); mirror up from ``mirror_up`` VPs."""
    out = []
    for svc in SUBJECTS.trigger:
        for vp in VPS:
            out.append(obs(svc, vp, "down" if vp in down_vps else "up", since))
    out += [obs("portal-mirror", vp, "up", NOW - 3600) for vp in VPS[:mirror_up]]
    return out


ALL_DOWN = estate(VPS)
run = RunRecord


def D(p: Plan | None = None, o=ALL_DOWN, runs=(), approvals=(), facts=None, **kw):
    return decide(p or plan(), SUBJECTS, o, runs, approvals, facts, NOW, **kw)


TABLE = [
    # (id, plan overrides, observations, runs, approvals, facts, kwargs, action, reason)
    ("healthy", {}, estate(()), (), (), None, {}, "wait", "primary_healthy"),
    ("no data", {}, [], (), (), None, {}, "wait", "no_data"),
    (
        "stale only",
        {},
        [obs("portal", v, "down", NOW - 600, NOW - 300) for v in VPS],
        (),
        (),
        None,
        {},
        "wait",
        "no_data",
    ),
    ("one vantage point", {}, estate(("lib-grays",)), (), (), None, {}, "refuse", "quorum_not_met"),
    (
        "two of four, majority needs three",
        {},
        estate(("lib-grays", "depot")),
        (),
        (),
        None,
        {},
        "refuse",
        "quorum_not_met",
    ),
    (
        # the trigger may ask for more than the state rule, never for less: the check's own
        # quorum (3 of its 4 vantage points) still applies
        "two of four without majority: the check still needs three",
        {"trigger": {"majority": False}},
        estate(("lib-grays", "depot")),
        (),
        (),
        None,
        {},
        "refuse",
        "quorum_not_met",
    ),
    ("three of four", {}, estate(VPS[:3]), (), (), None, {}, "fail_over", "confirmed"),
    ("confirming", {}, estate(VPS, since=NOW - 10), (), (), None, {}, "wait", "confirming"),
    (
        "exactly confirm_for",
        {},
        estate(VPS, since=NOW - 30),
        (),
        (),
        None,
        {},
        "fail_over",
        "confirmed",
    ),
    (
        "only one service down (all required)",
        {},
        [o for o in ALL_DOWN if o.service != "payments"]
        + [obs("payments", v, "up", NOW - 90) for v in VPS],
        (),
        (),
        None,
        {},
        "refuse",
        "quorum_not_met",
    ),
    (
        "any service suffices",
        {"trigger": {"require": "any"}},
        [o for o in ALL_DOWN if o.service != "payments"]
        + [obs("payments", v, "up", NOW - 90) for v in VPS],
        (),
        (),
        None,
        {},
        "fail_over",
        "confirmed",
    ),
    ("mode off", {"guards": {"mode": "off"}}, ALL_DOWN, (), (), None, {}, "refuse", "mode_off"),
    (
        "mode off, healthy",
        {"guards": {"mode": "off"}},
        estate(()),
        (),
        (),
        None,
        {},
        "wait",
        "primary_healthy",
    ),
    (
        "run in progress",
        {},
        ALL_DOWN,
        (run(1, "main-to-mirror", "failover", "running", NOW - 5),),
        (),
        None,
        {},
        "wait",
        "run_in_progress",
    ),
    (
        "interrupted",
        {},
        ALL_DOWN,
        (run(1, "main-to-mirror", "failover", "interrupted", NOW - 2 * DAY, NOW - 2 * DAY),),
        (),
        None,
        {},
        "refuse",
        "interrupted",
    ),
    (
        "interrupted, manual",
        {},
        ALL_DOWN,
        (run(1, "main-to-mirror", "failover", "interrupted", NOW - 2 * DAY, NOW - 2 * DAY),),
        (),
        None,
        {"manual": True},
        "fail_over",
        "manual",
    ),
    (
        "already failed over",
        {},
        ALL_DOWN,
        (run(1, "main-to-mirror", "failover", "verified", NOW - 2 * DAY, NOW - 2 * DAY),),
        (),
        None,
        {},
        "wait",
        "failed_over",
    ),
    (
        "failed back since",
        {},
        ALL_DOWN,
        (
            run(1, "main-to-mirror", "failover", "verified", NOW - 3 * DAY, NOW - 3 * DAY),
            run(2, "main-to-mirror", "failback", "succeeded", NOW - 2 * DAY, NOW - 2 * DAY),
        ),
        (),
        None,
        {},
        "fail_over",
        "confirmed",
    ),
    (
        "cooldown after failback",
        {},
        ALL_DOWN,
        (
            run(1, "main-to-mirror", "failover", "verified", NOW - 7200, NOW - 7100),
            run(2, "main-to-mirror", "failback", "succeeded", NOW - 600, NOW - 590),
        ),
        (),
        None,
        {},
        "refuse",
        "cooldown",
    ),
    (
        "cooldown after a failed run",
        {},
        ALL_DOWN,
        (run(1, "main-to-mirror", "failover", "failed", NOW - 900, NOW - 800),),
        (),
        None,
        {},
        "refuse",
        "cooldown",
    ),
    (
        "cooldown, manual",
        {},
        ALL_DOWN,
        (run(1, "main-to-mirror", "failover", "failed", NOW - 900, NOW - 800),),
        (),
        None,
        {"manual": True},
        "fail_over",
        "manual",
    ),
    (
        "check-mode runs do not count",
        {},
        ALL_DOWN,
        (run(1, "main-to-mirror", "failover", "succeeded", NOW - 60, NOW - 50, True),),
        (),
        None,
        {},
        "fail_over",
        "confirmed",
    ),
    (
        "other plans do not count",
        {},
        ALL_DOWN,
        (run(1, "other", "failover", "running", NOW - 60),),
        (),
        None,
        {},
        "fail_over",
        "confirmed",
    ),
    (
        "limit reached",
        {"guards": {"cooldown": 0}},
        ALL_DOWN,
        (
            run(1, "main-to-mirror", "failover", "failed", NOW - 7200, NOW - 7100),
            run(2, "main-to-mirror", "failover", "failed", NOW - 3600, NOW - 3500),
        ),
        (),
        None,
        {},
        "refuse",
        "limit_reached",
    ),
    (
        "limit reached, even manual",
        {"guards": {"cooldown": 0}},
        ALL_DOWN,
        (
            run(1, "main-to-mirror", "failover", "failed", NOW - 7200, NOW - 7100),
            run(2, "main-to-mirror", "failover", "failed", NOW - 3600, NOW - 3500),
        ),
        (),
        None,
        {"manual": True},
        "refuse",
        "limit_reached",
    ),
    (
        "limit, forced",
        {"guards": {"cooldown": 0}},
        ALL_DOWN,
        (
            run(1, "main-to-mirror", "failover", "failed", NOW - 7200, NOW - 7100),
            run(2, "main-to-mirror", "failover", "failed", NOW - 3600, NOW - 3500),
        ),
        (),
        None,
        {"manual": True, "force": True},
        "fail_over",
        "manual",
    ),
    (
        "limit is a rolling day",
        {"guards": {"cooldown": 0}},
        ALL_DOWN,
        (
            run(1, "main-to-mirror", "failover", "failed", NOW - DAY, NOW - DAY + 60),
            run(2, "main-to-mirror", "failover", "failed", NOW - 3600, NOW - 3500),
        ),
        (),
        None,
        {},
        "fail_over",
        "confirmed",
    ),
    (
        "mirror unhealthy",
        {},
        estate(VPS, mirror_up=1),
        (),
        (),
        None,
        {},
        "refuse",
        "mirror_unhealthy",
    ),
    (
        "mirror unhealthy, manual",
        {},
        estate(VPS, mirror_up=0),
        (),
        (),
        None,
        {"manual": True},
        "refuse",
        "mirror_unhealthy",
    ),
    (
        "mirror unhealthy, forced",
        {},
        estate(VPS, mirror_up=0),
        (),
        (),
        None,
        {"manual": True, "force": True},
        "fail_over",
        "manual",
    ),
    (
        # one vantage point seeing the mirror up is below its check's quorum (3 of 4): the
        # rule says "quorum not reached", which is not healthy, whatever min_vantage_points
        "mirror seen by 1 vantage point is not up by quorum",
        {"preflight": {"min_vantage_points": 1}},
        estate(VPS, mirror_up=1),
        (),
        (),
        None,
        {},
        "refuse",
        "mirror_unhealthy",
    ),
    (
        "mirror up by quorum, 3 vantage points needed",
        {"preflight": {"min_vantage_points": 3}},
        estate(VPS, mirror_up=3),
        (),
        (),
        None,
        {},
        "fail_over",
        "confirmed",
    ),
    (
        "mirror up by quorum but seen from fewer than min_vantage_points",
        {"preflight": {"min_vantage_points": 4}},
        estate(VPS, mirror_up=3),
        (),
        (),
        None,
        {},
        "refuse",
        "mirror_unhealthy",
    ),
    (
        "lag unknown",
        {"preflight": {"rpo": "5m", "replication_lag": {"command": ["lag"]}}},
        ALL_DOWN,
        (),
        (),
        PreflightFacts(lag_error="exit 1"),
        {},
        "refuse",
        "replication_lag_unknown",
    ),
    (
        "lag over RPO",
        {"preflight": {"rpo": "5m", "replication_lag": {"command": ["lag"]}}},
        ALL_DOWN,
        (),
        (),
        PreflightFacts(replication_lag=301),
        {},
        "refuse",
        "replication_lag",
    ),
    (
        "lag within RPO",
        {"preflight": {"rpo": "5m", "replication_lag": {"command": ["lag"]}}},
        ALL_DOWN,
        (),
        (),
        PreflightFacts(replication_lag=300),
        {},
        "fail_over",
        "confirmed",
    ),
    (
        "capacity low",
        {"preflight": {"capacity": {"share": 0.4}}},
        ALL_DOWN,
        (),
        (),
        PreflightFacts(capacity=0.4),
        {},
        "refuse",
        "capacity",
    ),
    (
        "capacity unknown",
        {"preflight": {"capacity": {"command": ["cap"]}}},
        ALL_DOWN,
        (),
        (),
        PreflightFacts(capacity_error="timeout"),
        {},
        "refuse",
        "capacity_unknown",
    ),
    (
        "capacity enough",
        {"preflight": {"capacity": {"share": 0.5}}},
        ALL_DOWN,
        (),
        (),
        PreflightFacts(capacity=0.5),
        {},
        "fail_over",
        "confirmed",
    ),
    (
        "needs approval",
        {"guards": {"mode": "approve"}},
        ALL_DOWN,
        (),
        (),
        None,
        {},
        "refuse",
        "needs_approval",
    ),
    (
        "approved",
        {"guards": {"mode": "approve"}},
        ALL_DOWN,
        (),
        (ApprovalRecord(7, "main-to-mirror", NOW - 60, NOW + 840, "alice"),),
        None,
        {},
        "fail_over",
        "approved",
    ),
    (
        "approval expired",
        {"guards": {"mode": "approve"}},
        ALL_DOWN,
        (),
        (ApprovalRecord(7, "main-to-mirror", NOW - 900, NOW, "alice"),),
        None,
        {},
        "refuse",
        "needs_approval",
    ),
    (
        "approval used",
        {"guards": {"mode": "approve"}},
        ALL_DOWN,
        (),
        (ApprovalRecord(7, "main-to-mirror", NOW - 60, NOW + 840, "alice", 3),),
        None,
        {},
        "refuse",
        "needs_approval",
    ),
    (
        "approval for another plan",
        {"guards": {"mode": "approve"}},
        ALL_DOWN,
        (),
        (ApprovalRecord(7, "other", NOW - 60, NOW + 840, "alice"),),
        None,
        {},
        "refuse",
        "needs_approval",
    ),
    (
        "approval does not bypass preflight",
        {"guards": {"mode": "approve"}},
        estate(VPS, mirror_up=0),
        (),
        (ApprovalRecord(7, "main-to-mirror", NOW - 60, NOW + 840),),
        None,
        {},
        "refuse",
        "mirror_unhealthy",
    ),
    ("manual while healthy", {}, estate(()), (), (), None, {"manual": True}, "fail_over", "manual"),
    (
        "manual while running",
        {},
        ALL_DOWN,
        (run(1, "main-to-mirror", "failover", "running", NOW),),
        (),
        None,
        {"manual": True},
        "wait",
        "run_in_progress",
    ),
]


@pytest.mark.parametrize(
    ("over", "observations", "runs", "approvals", "facts", "kw", "action", "reason"),
    [t[1:] for t in TABLE],
    ids=[t[0] for t in TABLE],
)
def test_decision_table(over, observations, runs, approvals, facts, kw, action, reason):
    d = D(plan(**over), observations, runs, approvals, facts, **kw)
    assert (d.action, d.reason) == (action, reason), d.message
    assert d.message


def test_approved_decision_names_the_approval():
    a = ApprovalRecord(7, "main-to-mirror", NOW - 60, NOW + 840, "alice")
    d = D(plan(guards={"mode": "approve"}), approvals=(a,))
    assert d.approval_id == 7


def trigger(p: Plan, services, o, now: float = NOW):
    return evaluate_trigger(p.trigger, services, SUBJECTS.specs, o, now)


def test_confirmed_since_is_the_kth_earliest():
    o = [
        obs("portal", "central", "down", NOW - 100),
        obs("portal", "lib-grays", "down", NOW - 50),
        obs("portal", "depot", "down", NOW - 40),
    ]
    trig = trigger(plan(), ("portal",), o)
    assert trig.status == "confirmed"
    # K = 3 (a majority of the check's four vantage points; hub-tilbury's silence does not
    # lower it): held since the 3rd went down
    assert trig.since == NOW - 40
    assert trig.down_vantages == ("central", "depot", "lib-grays")
    # two of them are "quorum not reached", never down: the trigger does not hold
    two = trigger(plan(), ("portal",), o[:2])
    assert two.status == "partial" and two.services[0].state == "no_quorum"
    assert "quorum not reached" in two.message


def test_vantage_points_filter():
    """The trigger counts only its vantage points, on top of the rule (never instead)."""
    p = plan(trigger={"vantage_points": ["central", "depot"], "majority": False})
    assert D(p, estate(("lib-grays", "hub-tilbury"))).reason == "primary_healthy"
    # down by the rule (3 of 4) and by both trigger vantage points: fail over
    assert D(p, estate(("central", "depot", "lib-grays"))).action == "fail_over"
    # down by the rule, but only one of the trigger's two vantage points sees it
    assert D(p, estate(("lib-grays", "hub-tilbury", "depot"))).reason == "quorum_not_met"
    # both trigger vantage points see it down, but the rule says up (2 of 4): never
    assert D(p, estate(("central", "depot"))).reason == "quorum_not_met"


def test_confirmation_needs_evidence_not_just_elapsed_time():
    """One failed probe per vantage point (its "down" interval still open because the next
    result is not in yet) never confirms, however long ago it was: the quorum must be *seen*
    holding for confirm_for."""
    p = plan(trigger={"fresh_within": "60s"})
    one_probe = [
        obs(svc, vp, "down", NOW - 40, NOW - 40) for svc in SUBJECTS.trigger for vp in VPS
    ] + [obs("portal-mirror", vp, "up", NOW - 3600) for vp in VPS]
    d = D(p, one_probe)
    assert (d.action, d.reason) == ("wait", "confirming")
    assert d.trigger is not None and d.trigger.until == NOW - 40
    # the second failed probes, 30 s later, are the evidence
    seen = [
        obs(o.service, o.vantage, o.state, o.since, NOW - 10) if o.state == "down" else o
        for o in one_probe
    ]
    assert D(p, seen).reason == "confirmed"
    # K-th latest evidence: with only two vantage points still reporting down lately, and a
    # majority of three needed, the quorum is known to hold only until the third one's report
    mixed = [
        obs(o.service, o.vantage, o.state, o.since, NOW - 10 if o.vantage in VPS[:2] else NOW - 35)
        if o.state == "down"
        else o
        for o in one_probe
    ]
    t = trigger(p, SUBJECTS.trigger, mixed)
    assert t.status == "confirming" and t.until == NOW - 35


def test_mirror_health_counts_each_vantage_point_on_the_checks_it_runs():
    """As in the lab: a health check from four vantage points and a TCP check from the centre
    only; every vantage point that sees what it runs up counts, and the rule must say up."""
    cfg = parse_config(
        """
sites: [{name: dc-mirror, kind: datacentre}, {name: lib}]
vantage_points: [{name: lib-grays, site: lib}, {name: hub-tilbury, site: lib}]
services:
  - name: m
    site: dc-mirror
    checks:
      - {name: health, type: tcp, host: 127.0.0.1, port: 9,
         vantage: [central, lib-grays, hub-tilbury]}
      - {name: https, type: tcp, host: 127.0.0.1, port: 9}
"""
    )
    spec = specs(cfg)["m"]
    seen = [Observation("m/health", v, "up", NOW - 60, NOW) for v in ("central", "lib-grays")]
    seen.append(Observation("m/https", "central", "up", NOW - 60, NOW))
    assert mirror_health(spec, seen, NOW, 60) == ("up", ["central", "lib-grays"])
    # the centre's own check down: the rule says down, whoever else sees their checks up
    down = [*seen[:2], Observation("m/https", "central", "down", NOW - 60, NOW)]
    assert mirror_health(spec, down, NOW, 60) == ("down", ["lib-grays"])


# -- properties --------------------------------------------------------------------------------

states = st.sampled_from(["up", "down", "degraded", "unknown"])
observation = st.builds(
    Observation,
    check_id=st.sampled_from(["portal/http", "payments/http", "portal-mirror/http"]),
    vantage=st.sampled_from(VPS),
    state=states,
    since=st.floats(NOW - 7200, NOW),
    last_seen=st.floats(NOW - 300, NOW),
)
runs_st = st.lists(
    st.builds(
        RunRecord,
        id=st.integers(1, 100),
        plan=st.just("main-to-mirror"),
        kind=st.sampled_from(["failover", "failback"]),
        state=st.sampled_from(
            ["verified", "unverified", "succeeded", "failed", "timeout", "canceled", "interrupted"]
        ),
        started=st.floats(NOW - 3 * DAY, NOW),
        finished=st.none(),
    ),
    max_size=5,
)


@settings(max_examples=400, deadline=None)
@given(st.lists(observation, max_size=30), runs_st, st.integers(1, 4), st.booleans())
def test_never_fail_over_without_quorum(observations, runs, quorum, majority):
    p = plan(trigger={"quorum": quorum, "majority": majority}, preflight={"min_vantage_points": 1})
    d = D(p, observations, runs)
    if d.action != "fail_over":
        return
    for svc in SUBJECTS.trigger:
        # down by the state rule itself, as availability, status and alerts count it
        rule = service_state_at(SUBJECTS.specs[svc], rows_of(observations), NOW)
        assert rule.state == DOWN
        latest: dict[str, Observation] = {}
        for o in observations:
            if o.service == svc and NOW - o.last_seen <= 60:
                if o.vantage not in latest or o.since > latest[o.vantage].since:
                    latest[o.vantage] = o
        down = [o for o in latest.values() if o.state == "down" and NOW - o.since >= 30]
        needed = max(quorum, len(VPS) // 2 + 1) if majority else quorum
        assert len(down) >= needed


@settings(max_examples=300, deadline=None)
@given(runs_st, st.floats(0, 7200))
def test_never_within_cooldown(runs, cooldown):
    d = D(plan(guards={"cooldown": cooldown, "max_runs_per_day": 100}), runs=runs)
    if d.action == "fail_over":
        assert all(NOW - (r.finished or r.started) >= cooldown for r in runs)


@settings(max_examples=100, deadline=None)
@given(
    st.integers(1, 5), st.floats(0, 3600), st.lists(st.floats(60, 3600), min_size=1, max_size=60)
)
def test_never_more_than_max_runs_per_day(limit, cooldown, gaps):
    """Simulate ticks where the primary stays down and every run fails: count runs per 24 h."""
    p = plan(guards={"cooldown": cooldown, "max_runs_per_day": limit})
    runs: list[RunRecord] = []
    t = NOW
    for gap in gaps:
        t += gap
        o = estate(VPS, since=t - 60)
        o = [Observation(x.check_id, x.vantage, x.state, x.since, t) for x in o]
        d = decide(p, SUBJECTS, o, runs, (), None, t)
        if d.action == "fail_over":
            runs.append(RunRecord(len(runs) + 1, p.name, "failover", "failed", t, t + 1))
    starts = [r.started for r in runs]
    for s in starts:
        assert sum(1 for x in starts if s <= x < s + DAY) <= limit


@settings(max_examples=200, deadline=None)
@given(st.lists(observation, max_size=30), runs_st)
def test_decide_is_deterministic_and_mode_off_never_acts(observations, runs):
    p = plan(guards={"mode": "off"})
    a = D(p, observations, runs)
    assert a == D(p, observations, runs)
    assert a.action != "fail_over"
