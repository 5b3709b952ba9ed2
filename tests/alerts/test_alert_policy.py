"""Table tests of the pure alert policy: grouping, dependencies, recovery, flapping, silences,
maintenance, escalation, reminders, re-open, acks. No I/O, no clock."""

from __future__ import annotations

import pytest
from alerts_support import T0, Sim, acfg, down, summary, up

from threenines.alerts.model import Ack, AddSilence, RemoveSilence, Resolve, Silence, Window

ROUTES_ESC = [
    {
        "name": "ops",
        "receivers": ["ops"],
        "group_wait": "0s",
        "group_interval": "1m",
        "repeat_interval": "0s",
        "escalate_after": "10m",
        "escalate_to": "oncall",
    },
    {
        "name": "oncall",
        "receivers": ["oncall"],
        "group_wait": "0s",
        "group_interval": "1m",
        "repeat_interval": "0s",
        "escalate_after": "20m",
        "escalate_to": "boss",
        "continue": False,
    },
    {
        "name": "boss",
        "receivers": ["boss"],
        "group_wait": "0s",
        "group_interval": "1m",
        "repeat_interval": "0s",
        "match": {"severity": ["info"], "category": ["capacity"]},
    },
]


def test_group_wait_gathers_alerts_of_one_site_into_one_notification() -> None:
    sim = Sim(acfg())
    assert sim.step(T0, down("service:a", T0)) == []
    assert sim.step(T0 + 10, down("service:b", T0 + 10), down("service:c", T0 + 10)) == []
    assert sim.step(T0 + 29) == []
    [n] = sim.step(T0 + 30)
    assert summary(n) == [("firing", f"service:{x}", 0) for x in "abc"]
    assert n.receivers == ("ops",) and n.group == "lib"


def test_alerts_of_different_sites_are_separate_notifications() -> None:
    sim = Sim(acfg())
    sim.step(T0, down("service:a", T0, site="lib"), down("service:b", T0, site="depot"))
    out = sim.step(T0 + 30)
    assert sorted(n.group for n in out) == ["depot", "lib"]


def test_group_interval_spaces_later_notifications_of_a_group() -> None:
    sim = Sim(acfg())
    sim.step(T0, down("service:a", T0))
    assert len(sim.step(T0 + 30)) == 1
    sim.step(T0 + 40, down("service:b", T0 + 40))
    assert sim.run_until(T0 + 329) == []
    [n] = sim.step(T0 + 330)  # last flush + group_interval (5m)
    assert summary(n) == [("firing", "service:b", 0)]


def test_wan_link_down_gives_one_notification_listing_30_services() -> None:
    children = [f"service:s{i:02d}" for i in range(30)]
    sim = Sim(acfg(), parents={c: ["service:wan"] for c in children})
    sim.step(T0, *(down(c, T0, cause="connect_timeout") for c in children))
    sim.step(T0 + 4, down("service:wan", T0 + 4, cause="WAN link down"))
    out = sim.run_until(T0 + 600)
    assert len(out) == 1
    [item] = out[0].items
    assert item.incident.key == "service:wan"
    assert [c.key for c in item.children] == children
    assert all(sim.incident(c).parent == "service:wan" for c in children)
    # recovery: the link and everything behind it come back -> one recovery notification
    sim.step(T0 + 700, up("service:wan", T0 + 700), *(up(c, T0 + 700) for c in children))
    rec = sim.run_until(T0 + 1100)
    assert [summary(n) for n in rec] == [[("resolved", "service:wan", 30)]]


def test_child_still_down_after_parent_recovers_alerts_on_its_own() -> None:
    sim = Sim(acfg(), parents={"service:a": ["service:wan"]})
    sim.step(T0, down("service:wan", T0), down("service:a", T0))
    assert [summary(n) for n in sim.run_until(T0 + 60)] == [[("firing", "service:wan", 1)]]
    sim.step(T0 + 100, up("service:wan", T0 + 100))
    [n] = sim.run_until(T0 + 800)  # same site: one notification, both items
    # the recovery still lists what was behind the link, with its state
    assert summary(n) == [("firing", "service:a", 0), ("resolved", "service:wan", 1)]


def test_data_centre_down_suppresses_everything_behind_it_transitively() -> None:
    parents = {"service:a": ["service:wan"], "service:wan": ["datacentre:dc1"]}
    sim = Sim(acfg(), parents=parents)
    sim.step(
        T0,
        down("service:a", T0),
        down("service:wan", T0),
        down("datacentre:dc1", T0, site="dc1", kind="datacentre"),
    )
    out = sim.run_until(T0 + 120)
    tops = [i.incident.key for n in out for i in n.items]
    assert tops == ["datacentre:dc1"]
    assert {c.key for c in out[0].items[0].children} == {"service:wan", "service:a"}


def test_resolved_before_group_wait_sends_nothing() -> None:
    sim = Sim(acfg())
    sim.step(T0, down("service:a", T0))
    sim.step(T0 + 10, up("service:a", T0 + 10))
    assert sim.run_until(T0 + 900) == []
    assert sim.incident("service:a").status == "resolved"


@pytest.mark.parametrize("period", [5, 10, 20])
def test_flapping_sends_one_notification(period: int) -> None:
    sim = Sim(acfg(flap_threshold=6, flap_window="10m"))
    t = T0
    for i in range(20):  # 20 changes, far more than the threshold
        sim.step(t, (down if i % 2 == 0 else up)("service:a", t))
        t += period
    flapping = [n for n in sim.sent if n.kind == "flapping"]
    assert len(flapping) == 1
    assert len(sim.sent) == 1  # nothing else while it flaps (changes faster than group_wait)
    assert sim.state.flaps["service:a"].flapping


def test_flapping_ends_with_one_notification_of_where_it_settled() -> None:
    sim = Sim(acfg(flap_threshold=4, flap_window="5m"))
    t = T0
    for i in range(5):
        sim.step(t, (down if i % 2 == 0 else up)("service:a", t))
        t += 5
    sim.run_until(T0 + 200)
    assert [n.kind for n in sim.sent] == ["flapping"]
    sim.run_until(T0 + 1000)  # stable (down) for the flap window
    assert [n.kind for n in sim.sent] == ["flapping", "firing"]
    assert not sim.state.flaps


def _silence(matchers: dict[str, str], start: float, end: float) -> AddSilence:
    return AddSilence(Silence.make("s1", matchers, start, end, "alice", "router swap"))


@pytest.mark.parametrize(
    ("matchers", "held"),
    [
        ({"site": "lib"}, True),
        ({"site": "li*"}, True),
        ({"service": "a", "severity": "major"}, True),
        ({"service": "a", "severity": "critical"}, False),
        ({"tags": "wan"}, True),
        ({"site": "depot"}, False),
        ({"key": "service:*"}, True),
    ],
)
def test_silence_matchers(matchers: dict[str, str], held: bool) -> None:
    sim = Sim(acfg())
    sim.step(T0, _silence(matchers, T0, T0 + 3600))
    sim.step(T0 + 1, down("service:a", T0 + 1, tags=("wan",)))
    sim.run_until(T0 + 60)
    assert (len(sim.sent) == 0) is held
    assert (len(sim.held) == 1) is held
    if held:
        assert sim.incident("service:a").held == "silence:s1"
        assert sim.held[0].receivers == ()


def test_silenced_notifications_are_not_sent_after_the_silence_ends() -> None:
    sim = Sim(
        acfg(
            routes=[
                {"name": "ops", "receivers": ["ops"], "group_wait": "30s", "repeat_interval": "10m"}
            ]
        )
    )
    sim.step(T0, _silence({"site": "lib"}, T0, T0 + 600))
    sim.step(T0 + 1, down("service:a", T0 + 1))
    sim.run_until(T0 + 3 * 3600, every=30)
    assert sim.sent == []
    sim.step(T0 + 4 * 3600, up("service:a", T0 + 4 * 3600))  # never announced: no recovery
    sim.run_until(T0 + 5 * 3600, every=60)
    assert sim.sent == []


def test_recovery_is_sent_even_when_silenced_after_firing() -> None:
    sim = Sim(acfg())
    sim.step(T0, down("service:a", T0))
    assert len(sim.run_until(T0 + 60)) == 1
    sim.step(T0 + 100, _silence({"site": "lib"}, T0 + 100, T0 + 9999))
    sim.step(T0 + 200, up("service:a", T0 + 200))
    [rec] = sim.run_until(T0 + 900)
    assert summary(rec) == [("resolved", "service:a", 0)]


def test_removed_silence_stops_holding() -> None:
    sim = Sim(acfg())
    sim.step(T0, _silence({"site": "lib"}, T0, T0 + 9999))
    sim.step(T0 + 1, RemoveSilence("s1", "bob"))
    sim.step(T0 + 2, down("service:a", T0 + 2))
    assert len(sim.run_until(T0 + 60)) == 1
    sim.step(T0 + 61, RemoveSilence("nope"))
    assert sim.errors == ["no active silence 'nope'"]


@pytest.mark.parametrize(
    ("scope", "held"),
    [
        ("*", True),
        ("site:lib", True),
        ("lib", True),
        ("service:a", True),
        ("a", True),
        ("site:depot", False),
        ("service:b", False),
    ],
)
def test_maintenance_window_scopes(scope: str, held: bool) -> None:
    sim = Sim(acfg(), maintenance=(Window(T0 - 10, T0 + 3600, scope),))
    sim.step(T0, down("service:a", T0))
    sim.run_until(T0 + 60)
    assert (sim.sent == []) is held
    if held:
        assert sim.incident("service:a").held == "maintenance"


def test_outside_the_maintenance_window_alerts_go_out() -> None:
    sim = Sim(acfg(), maintenance=(Window(T0 + 100, T0 + 200, "*"),))
    sim.step(T0, down("service:a", T0))
    assert len(sim.run_until(T0 + 60)) == 1


def _esc_sim(severity: str = "critical") -> Sim:
    sim = Sim(acfg(routes=ROUTES_ESC))
    sim.step(T0, down("service:a", T0, severity=severity))
    return sim


def test_escalation_after_timeout_when_unacknowledged_then_next_in_chain() -> None:
    sim = _esc_sim()
    assert [n.receivers for n in sim.sent] == [("ops",)]
    assert sim.run_until(T0 + 599) == []
    [esc] = sim.run_until(T0 + 605)
    assert esc.receivers == ("oncall",) and esc.kind == "escalation"
    [esc2] = sim.run_until(T0 + 600 + 1205)
    assert esc2.receivers == ("boss",)
    assert sim.incident("service:a").escalation == ("oncall", "boss")
    assert sim.run_until(T0 + 3 * 3600) == []  # end of the chain


def test_no_escalation_after_ack() -> None:
    sim = _esc_sim()
    sim.step(T0 + 300, Ack("service:a", "carol", "on it"))
    assert sim.run_until(T0 + 3600) == []
    inc = sim.incident("service:a")
    assert (inc.status, inc.acked_by, inc.ack_note) == ("acknowledged", "carol", "on it")


def test_no_escalation_for_major() -> None:
    sim = _esc_sim("major")
    assert sim.run_until(T0 + 3600) == []


def test_escalated_incident_recovery_goes_to_everyone_told() -> None:
    sim = _esc_sim()
    sim.run_until(T0 + 700)
    out = sim.step(T0 + 800, up("service:a", T0 + 800)) + sim.run_until(T0 + 1000)
    assert sorted(r for n in out for r in n.receivers) == ["oncall", "ops"]
    assert all(n.kind == "resolved" for n in out)


def test_reminders_repeat_while_unacknowledged() -> None:
    routes = [
        {
            "name": "ops",
            "receivers": ["ops"],
            "group_wait": "0s",
            "group_interval": "1m",
            "repeat_interval": "1h",
        }
    ]
    sim = Sim(acfg(routes=routes))
    sim.step(T0, down("service:a", T0))
    sim.run_until(T0 + 3 * 3600 + 10, every=60)
    assert [n.kind for n in sim.sent] == ["firing", "reminder", "reminder", "reminder"]
    sim.step(T0 + 3 * 3600 + 20, Ack("service:a", "dave"))
    sim.run_until(T0 + 8 * 3600, every=60)
    assert len(sim.sent) == 4


def test_reopen_within_window_reuses_the_incident() -> None:
    sim = Sim(acfg(reopen_window="1h"))
    sim.step(T0, down("service:a", T0))
    sim.run_until(T0 + 60)
    uid = sim.incident("service:a").uid
    sim.step(T0 + 100, up("service:a", T0 + 100))
    sim.run_until(T0 + 500)
    sim.step(T0 + 1000, down("service:a", T0 + 1000))
    sim.run_until(T0 + 1400)
    inc = sim.incident("service:a")
    assert (inc.uid, inc.reopen_count, inc.status) == (uid, 1, "open")
    assert [n.kind for n in sim.sent] == ["firing", "resolved", "reopened"]
    sim.step(T0 + 1500, up("service:a", T0 + 1500))
    sim.step(T0 + 1500 + 3601, down("service:a", T0 + 1500 + 3601))
    assert sim.incident("service:a").uid != uid


def test_manual_resolve_and_errors() -> None:
    sim = Sim(acfg())
    sim.step(T0, down("service:a", T0))
    sim.run_until(T0 + 60)
    uid = sim.incident("service:a").uid
    sim.step(T0 + 61, Resolve(uid, "erin", "fixed the switch"))
    assert sim.incident("service:a").resolved_by == "erin"
    sim.step(T0 + 62, Ack(uid, "x"), Resolve("service:zzz", "x"))
    assert sim.errors == [f"incident {uid} is already resolved", "no incident 'service:zzz'"]


@pytest.mark.parametrize("status", ["unknown", "no_quorum"])
def test_unconfirmed_status_neither_opens_nor_resolves(status: str) -> None:
    """No data, and "quorum not reached" (the state rule's no_quorum): never a page."""
    sim = Sim(acfg())
    sim.step(T0, down("service:a", T0, status=status))
    assert "service:a" not in sim.state.incidents
    sim.step(T0 + 1, down("service:a", T0 + 1))
    sim.step(T0 + 2, down("service:a", T0 + 2, status=status))
    assert sim.incident("service:a").active


def test_degraded_then_down_updates_one_incident() -> None:
    sim = Sim(acfg(), criticality={"service:a": "critical"})
    sim.step(T0, down("service:a", T0, status="degraded"))
    assert sim.incident("service:a").severity == "major"
    sim.step(T0 + 5, down("service:a", T0 + 5))
    inc = sim.incident("service:a")
    assert (inc.severity, inc.condition, inc.reopen_count) == ("critical", "down", 0)
    [n] = sim.run_until(T0 + 60)
    assert len(n.items) == 1
