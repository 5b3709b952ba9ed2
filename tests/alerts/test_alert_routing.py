"""Routing (matchers, continue, time of day), events, severities, topology, config errors,
rendering. Pure; no I/O."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from alerts_support import T0, Sim, acfg, down

from threenines.alerts.matching import routes_for
from threenines.alerts.model import AlertEvent, ConditionUpdate, Incident, Item, Notification
from threenines.alerts.render import SMS_LIMIT, render
from threenines.alerts.topology import Topology, from_config, severity_for
from threenines.app.config import parse_config
from threenines.core.config import ConfigError

LONDON = ZoneInfo("Europe/London")
ROUTES = [
    {"name": "security", "receivers": ["sec"], "match": {"category": ["security"]}},
    {
        "name": "office",
        "receivers": ["ops"],
        "active_during": ["office"],
        "match": {"severity": ["critical", "major"]},
        "continue": True,
    },
    {
        "name": "oncall",
        "receivers": ["oncall"],
        "active_during": ["out-of-hours"],
        "match": {"severity": ["critical"]},
    },
    {"name": "libraries", "receivers": ["boss"], "match": {"site": ["lib-*"], "tags": ["public"]}},
    {"name": "catch-all", "receivers": ["ops"]},
]
INTERVALS = [
    {
        "name": "office",
        "weekdays": ["mon", "tue", "wed", "thu", "fri"],
        "times": [{"start": "08:00", "end": "18:00"}],
    },
    {
        "name": "out-of-hours",
        "weekdays": ["mon", "tue", "wed", "thu", "fri"],
        "times": [{"start": "00:00", "end": "08:00"}, {"start": "18:00", "end": "24:00"}],
    },
    {"name": "out-of-hours", "weekdays": ["sat", "sun"]},
]


def _inc(
    severity: str = "critical",
    category: str = "availability",
    site: str = "hq",
    tags: tuple[str, ...] = (),
) -> Incident:
    return Incident(
        "u",
        "service:x",
        "service",
        "service x",
        severity,
        category,  # type: ignore[arg-type]
        "open",
        T0,
        T0,
        T0,
        site=site,
        service="x",
        tags=tags,
    )


def _at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=LONDON).timestamp()


@pytest.mark.parametrize(
    ("when", "incident", "routes"),
    [
        ("2026-07-01 10:00", _inc(), ("office", "catch-all")),  # Wednesday, BST
        ("2026-07-01 07:59", _inc(), ("oncall",)),
        ("2026-07-01 18:00", _inc(), ("oncall",)),
        ("2026-01-07 08:00", _inc(), ("office", "catch-all")),  # Wednesday, GMT
        ("2026-07-04 12:00", _inc(), ("oncall",)),  # Saturday
        ("2026-07-04 12:00", _inc("major"), ("catch-all",)),
        ("2026-07-01 10:00", _inc("minor"), ("catch-all",)),
        ("2026-07-01 10:00", _inc(category="security"), ("security",)),
        ("2026-07-04 12:00", _inc("minor", site="lib-north", tags=("public",)), ("libraries",)),
        ("2026-07-04 12:00", _inc("minor", site="lib-north"), ("catch-all",)),
    ],
)
def test_routes_by_match_and_time_of_day(
    when: str, incident: Incident, routes: tuple[str, ...]
) -> None:
    cfg = acfg(routes=ROUTES, time_intervals=INTERVALS)
    assert routes_for(incident, cfg, _at(when), LONDON) == routes


def test_security_event_routes_to_the_security_team_and_dedups() -> None:
    sim = Sim(acfg(routes=ROUTES[:1] + ROUTES[-1:]))
    ev = AlertEvent(
        1,
        T0,
        "snmp_trap",
        "auth_failure",
        "major",
        "security",
        "hq",
        "core-sw1",
        None,
        "authenticationFailure from 198.18.0.9",
    )
    sim.step(T0, ev)
    sim.step(
        T0 + 5,
        AlertEvent(
            2,
            T0 + 5,
            "snmp_trap",
            "auth_failure",
            "major",
            "security",
            "hq",
            "core-sw1",
            None,
            "again",
        ),
    )
    [n] = sim.run_until(T0 + 60)
    assert n.receivers == ("sec",)
    inc = n.items[0].incident
    assert (inc.category, inc.count, inc.title) == ("security", 2, "auth failure on core-sw1")


def test_link_up_clears_link_down_and_minor_events_are_recorded_only() -> None:
    sim = Sim(acfg())
    sim.step(
        T0,
        AlertEvent(
            1,
            T0,
            "snmp_trap",
            "link_down",
            "major",
            "availability",
            "lib",
            "edge1",
            "ge-0/0/1",
            "linkDown",
        ),
    )
    sim.step(
        T0 + 1,
        AlertEvent(2, T0 + 1, "snmp_trap", "cold_start", "minor", "availability", "lib", "edge1"),
    )
    assert [i.kind for i in sim.state.incidents.values()] == ["event"]
    sim.run_until(T0 + 60)
    sim.step(
        T0 + 100,
        AlertEvent(
            3, T0 + 100, "snmp_trap", "link_up", "info", "availability", "lib", "edge1", "ge-0/0/1"
        ),
    )
    [inc] = sim.state.incidents.values()
    assert (inc.status, inc.resolved_by) == ("resolved", "event:link_up")


def test_event_incident_expires_after_ttl() -> None:
    sim = Sim(acfg(events={"ttl": "10m"}))
    sim.step(T0, AlertEvent(1, T0, "security", "weak_tls", "critical", "security", "hq"))
    sim.run_until(T0 + 601, every=60)
    [inc] = sim.state.incidents.values()
    assert inc.resolved_by == "expired"


@pytest.mark.parametrize(
    ("kind", "status", "crit", "severity"),
    [
        ("service", "down", "critical", "critical"),
        ("service", "down", "high", "major"),
        ("service", "down", "low", "minor"),
        ("service", "degraded", "critical", "major"),
        ("service", "degraded", "low", "info"),
        ("site", "down", None, "critical"),
        ("datacentre", "down", None, "critical"),
        ("device", "down", None, "major"),
        ("check", "down", None, "minor"),
        ("check", "degraded", None, "info"),
    ],
)
def test_severity_for(kind: str, status: str, crit: str | None, severity: str) -> None:
    topo = Topology.of({}, criticality={"service:x": crit} if crit else {})
    u = ConditionUpdate(f"{kind}:x", kind, status, T0)  # type: ignore[arg-type]
    assert severity_for(u, topo) == severity


DEMO = """
sites:
  - {name: dc1, kind: datacentre}
  - {name: lib, depends_on: [wan-lib]}
services:
  - {name: wan-lib, site: lib}
  - {name: catalogue, site: lib, depends_on: [ldap]}
  - {name: ldap, site: dc1}
"""


def test_topology_from_config() -> None:
    topo = from_config(parse_config(DEMO))
    assert topo.parents["service:catalogue"] == ("service:ldap", "service:wan-lib", "site:lib")
    assert topo.parents["service:wan-lib"] == ("site:lib",)
    assert topo.parents["service:ldap"] == ("datacentre:dc1",)
    # site:lib -> wan-lib -> site:lib would loop: the edge closing the loop is dropped
    assert "site:lib" in topo.ancestors("service:wan-lib")
    assert "service:wan-lib" not in topo.ancestors("site:lib")


@pytest.mark.parametrize(
    ("alerts", "message"),
    [
        (
            "routes: [{name: r, receivers: [nobody]}]",
            "alerts.routes[0].receivers[0] (name=r): unknown receiver 'nobody'",
        ),
        (
            "routes: [{name: r, receivers: [a], active_during: [night]}]",
            "alerts.routes[0].active_during[0] (name=r): unknown time interval 'night'",
        ),
        (
            "routes: [{name: r, receivers: [a], escalate_after: 5m, escalate_to: r}]",
            "alerts.routes[0].escalate_to (name=r): escalation chain loops back",
        ),
        (
            "routes: [{name: r, receivers: [a], escalate_to: s}, {name: s, receivers: [a]}]",
            "alerts.routes[0].escalate_after (name=r): escalate_to needs escalate_after",
        ),
        (
            "time_intervals: [{name: x, times: [{start: '25:00'}]}]",
            "alerts.time_intervals[0].times[0].start (name=x): '25:00' is not HH:MM "
            "(00:00 to 24:00)",
        ),
        (
            "templates: {title: '{{ oops '}",
            "alerts.templates.title: template error line 1: unexpected end of template, expected "
            "'end of print statement'.",
        ),
        (
            "routes: [{name: r, receivers: [a], match: {severity: [urgent]}}]",
            "alerts.routes[0].match.severity[0] (name=r): Input should be 'critical', 'major', "
            "'minor' or 'info'",
        ),
        (
            "receivers: [{name: b, url: '${NO_SUCH_VAR_FOR_ALERTS}'}]",
            "alerts.receivers[1].url (name=b): environment variable NO_SUCH_VAR_FOR_ALERTS "
            "is not set",
        ),
    ],
)
def test_config_errors_name_path_and_line(alerts: str, message: str) -> None:
    text = "alerts:\n  receivers: [{name: a, url: 'json://127.0.0.1/x'}]\n"
    if alerts.startswith("receivers"):
        text = (
            "alerts:\n  receivers: [{name: a, url: 'json://127.0.0.1/x'}, " + alerts[12:-1] + "]\n"
        )
    else:
        text += f"  {alerts}\n"
    with pytest.raises(ConfigError) as exc:
        parse_config(text, "alerts.yaml")
    assert [str(p).split(" ", 1)[1] for p in exc.value.problems] == [message]


def test_secret_url_never_in_repr_or_dump(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALERT_URL_T", "mailtos://bob:hunter22@mail.example.org")
    cfg = parse_config("alerts:\n  receivers: [{name: a, url: '${ALERT_URL_T}'}]\n")
    assert "hunter22" not in repr(cfg) and "hunter22" not in cfg.model_dump_json()
    assert cfg.alerts.receivers[0].url.get_secret_value().endswith("@mail.example.org")


def _note(n_children: int, title: str = "service wan-library-north") -> Notification:
    inc = Incident(
        "service:wan@1",
        "service:wan",
        "service",
        title,
        "critical",
        "availability",
        "open",
        T0,
        T0 - 125,
        T0,
        cause="connect_timeout: no SYN-ACK",
        vantages=("central", "dc2"),
        site="library-north",
        service="wan",
    )
    kids = tuple(
        Incident(
            f"c{i}",
            f"service:s{i}",
            "service",
            f"service s{i}",
            "major",
            "availability",
            "open",
            T0,
            T0,
            T0,
        )
        for i in range(n_children)
    )
    return Notification("n1", "ops", "library-north", ("ops",), (Item("firing", inc, kids),), T0)


def test_render_title_body_short() -> None:
    from threenines.alerts.config import Templates

    t = Templates(runbook_url="https://wiki.example.org/runbooks/{{ service }}")
    r = render(_note(2), t, tz="Europe/London", now=T0)
    assert r.title == "[FIRING] service wan-library-north is down (2 affected behind it)"
    assert r.body.splitlines() == [
        "FIRING critical availability: service wan-library-north is down",
        "  since: 2026-05-28 21:24:35 BST (2m5s ago)",
        "  cause: connect_timeout: no SYN-ACK",
        "  seen from: central, dc2",
        "  where: site library-north service wan",
        "  suppressed behind it (2):",
        "    - service s0 (open)",
        "    - service s1 (open)",
        "  runbook: https://wiki.example.org/runbooks/wan",
        "  acknowledge: threenines alerts ack service:wan@1 --note '...'",
    ]
    assert r.short == (
        "FIRING service wan-library-north is down +2 behind since 21:24 ack service:wan@1"
    )
    assert r.notify_type == "failure"


def test_short_form_never_exceeds_sms_limit() -> None:
    r = render(_note(3000, "service " + "x" * 400))
    assert len(r.short) <= SMS_LIMIT


def test_down_helper_sets_kind() -> None:
    assert down("site:lib", T0).kind == "site"
