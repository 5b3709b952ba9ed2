"""Property tests (hypothesis) of the alert policy over random timelines."""

from __future__ import annotations

from alerts_support import T0, Sim, acfg, down
from hypothesis import given, settings
from hypothesis import strategies as st

from threenines.alerts.model import AddSilence, ConditionUpdate, Silence
from threenines.alerts.policy import PolicyContext, decide

KEYS = ["service:a", "service:b", "service:c", "service:wan"]
PARENTS = {"service:a": ["service:wan"], "service:b": ["service:wan"]}

steps = st.lists(
    st.tuples(
        st.floats(min_value=0.5, max_value=900, allow_nan=False),
        st.sampled_from(KEYS),
        st.sampled_from(["up", "down", "degraded", "unknown"]),
        st.sampled_from(["lib", "depot"]),
    ),
    max_size=40,
)
ROUTES = [
    {
        "name": "ops",
        "receivers": ["ops"],
        "group_wait": "30s",
        "group_interval": "2m",
        "repeat_interval": "30m",
        "escalate_after": "10m",
        "escalate_to": "oncall",
    },
    {
        "name": "oncall",
        "receivers": ["oncall"],
        "group_wait": "0s",
        "repeat_interval": "0s",
        "match": {"kind": ["none"]},
    },
]


def _play(sim: Sim, timeline: list[tuple[float, str, str, str]]) -> None:
    t = T0
    for gap, key, status, site in timeline:
        t += gap
        sim.step(t, down(key, t, site=site, status=status, severity="critical"))
    sim.run_until(t + 4 * 3600, every=60)


@settings(max_examples=150, deadline=None)
@given(steps)
def test_notifications_are_well_formed(timeline: list[tuple[float, str, str, str]]) -> None:
    sim = Sim(acfg(routes=ROUTES), parents=PARENTS)
    _play(sim, timeline)
    assert sim.errors == []
    for n in sim.sent:
        keys = [i.incident.key for i in n.items]
        assert n.items and len(keys) == len(set(keys))  # each incident once per notification
        assert n.receivers
    assert all(n.receivers == () for n in sim.held)


@settings(max_examples=150, deadline=None)
@given(steps)
def test_a_silence_covering_everything_means_nothing_is_ever_sent(
    timeline: list[tuple[float, str, str, str]],
) -> None:
    sim = Sim(acfg(routes=ROUTES), parents=PARENTS)
    sim.step(T0, AddSilence(Silence.make("all", {"key": "*"}, T0, T0 + 10**7, "t", "")))
    _play(sim, timeline)
    assert sim.sent == []


@settings(max_examples=150, deadline=None)
@given(steps)
def test_children_never_page_on_their_own_while_the_parent_is_down(
    timeline: list[tuple[float, str, str, str]],
) -> None:
    sim = Sim(acfg(routes=ROUTES), parents=PARENTS)
    sim.step(T0, down("service:wan", T0))
    _play(sim, [step for step in timeline if step[1] != "service:wan"])
    for n in sim.sent:
        for item in n.items:
            if item.kind != "resolved":
                assert item.incident.key not in PARENTS


@settings(max_examples=150, deadline=None)
@given(steps)
def test_every_announced_problem_gets_its_recovery(
    timeline: list[tuple[float, str, str, str]],
) -> None:
    sim = Sim(acfg(routes=ROUTES, flap_threshold=1000))
    _play(sim, timeline)
    t = sim.now
    for key in KEYS:
        sim.step(t, down(key, t, status="up"))
    sim.run_until(t + 3600, every=30)
    told: dict[str, str] = {}
    for n in sim.sent:
        for item in n.items:
            told[item.incident.key] = item.kind
    assert all(kind == "resolved" for kind in told.values()), told


@settings(max_examples=100, deadline=None)
@given(steps)
def test_decide_is_deterministic(timeline: list[tuple[float, str, str, str]]) -> None:
    ctx = PolicyContext(acfg(routes=ROUTES))
    runs = []
    for _ in range(2):
        sim = Sim(acfg(routes=ROUTES))
        sim.ctx = ctx
        _play(sim, timeline)
        runs.append([(n.uid, [(i.kind, i.incident.key) for i in n.items]) for n in sim.sent])
    assert runs[0] == runs[1]


def test_decide_does_not_mutate_its_input_state() -> None:
    sim = Sim(acfg())
    sim.step(T0, down("service:a", T0))
    before = sim.state
    snapshot = (dict(before.incidents), dict(before.groups), dict(before.flaps))
    decide(before, [ConditionUpdate("service:a", "service", "up", T0 + 1)], T0 + 40, sim.ctx)
    assert (dict(before.incidents), dict(before.groups), dict(before.flaps)) == snapshot
