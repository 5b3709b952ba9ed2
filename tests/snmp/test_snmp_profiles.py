"""Pure profile interpretation and trap mapping: no network, explicit times."""

from __future__ import annotations

from threenines.collectors.config import Device, TrapMapping
from threenines.collectors.snmp_profiles import PROFILES, Context, Fetched
from threenines.collectors.snmp_trapmap import SNMP_TRAP_OID, Notification, to_event
from threenines.core.results import Status

IFACES = PROFILES["interfaces"]


def ctx(ts: float, **kw) -> Context:
    return Context("sw1", "site-a", ts, uplinks=("wan0",), **kw)


def row(name: str, oper: int, hc_in: int, hc_out: int, *, admin: int = 1, errors: int = 0):
    return {
        "ifName": name,
        "ifAdminStatus": admin,
        "ifOperStatus": oper,
        "ifHCInOctets": hc_in,
        "ifHCOutOctets": hc_out,
        "ifInOctets": hc_in % 2**32,
        "ifInErrors": errors,
        "ifHighSpeed": 1000,
    }


def readings(outcome, metric: str) -> dict[str, float]:
    return {s: v for m, s, v in outcome.readings if m == metric}


def test_interface_rates_status_and_uplink_events() -> None:
    first = IFACES.interpret(Fetched(0.0, rows={"1": row("wan0", 1, 1000, 0)}), ctx(0.0), None)
    assert "wan0" not in readings(first, "if_in_bps")  # no rate from one sample
    assert [r.status for _c, r in first.results] == [Status.UP]
    assert first.results[0][0] == "device:sw1/if:wan0"
    f2 = Fetched(60.0, rows={"1": row("wan0", 2, 1000 + 7_500_000, 0, errors=120)})
    second = IFACES.interpret(f2, ctx(60.0), first.state)
    assert readings(second, "if_in_bps")["wan0"] == 1_000_000.0  # 7.5 MB in 60 s
    assert readings(second, "if_in_errors_ps")["wan0"] == 2.0
    assert readings(second, "if_oper_up")["wan0"] == 0.0
    ((_check, result),) = second.results
    assert result.status == Status.DOWN and result.error == "link_down"
    assert [e.kind for e in second.events] == ["link_down"]
    assert second.events[0].subject == "wan0" and second.events[0].severity == "major"
    third = IFACES.interpret(
        Fetched(120.0, rows={"1": row("wan0", 1, 0, 0)}), ctx(120.0), second.state
    )
    assert [e.kind for e in third.events] == ["link_up"]
    assert "wan0" not in readings(third, "if_in_bps")  # HC counter went down: reset, no rate


def test_admin_down_uplink_is_down_without_link_event() -> None:
    out = IFACES.interpret(Fetched(0, rows={"1": row("wan0", 2, 0, 0, admin=2)}), ctx(0), None)
    assert out.results[0][1].error == "admin_down"
    assert out.events == []


def test_restart_gives_no_rates_and_missing_uplink_is_reported() -> None:
    first = IFACES.interpret(Fetched(0, rows={"1": row("eth1", 1, 10**9, 0)}), ctx(0), None)
    assert first.results[0][1].error == "no_interface"
    after = IFACES.interpret(
        Fetched(60, rows={"1": row("eth1", 1, 2 * 10**9, 0)}), ctx(60, restarted=True), first.state
    )
    assert readings(after, "if_in_bps") == {}


def test_include_globs_limit_exported_interfaces() -> None:
    rows = {"1": row("lo", 1, 0, 0), "2": row("ge-0/0/1", 1, 0, 0), "3": row("wan0", 1, 0, 0)}
    out = IFACES.interpret(Fetched(0, rows=rows), ctx(0, include=("ge-*",)), None)
    assert set(readings(out, "if_oper_up")) == {"ge-0/0/1", "wan0"}  # uplinks always


def test_ups_events_on_transitions() -> None:
    ups = PROFILES["ups"]
    mains = {"upsOutputSource": 3, "upsBatteryStatus": 2, "upsEstimatedMinutesRemaining": 40}
    battery = mains | {"upsOutputSource": 5}
    low = battery | {"upsBatteryStatus": 3, "upsEstimatedMinutesRemaining": 4}
    a = ups.interpret(Fetched(0, scalars=mains), ctx(0), None)
    b = ups.interpret(Fetched(60, scalars=battery), ctx(60), a.state)
    c = ups.interpret(Fetched(120, scalars=low), ctx(120), b.state)
    d = ups.interpret(Fetched(180, scalars=low), ctx(180), c.state)
    e = ups.interpret(Fetched(240, scalars=mains), ctx(240), d.state)
    assert [x.kind for x in a.events + b.events + c.events + d.events + e.events] == [
        "ups_on_battery",
        "ups_battery_low",
        "ups_on_mains",
    ]
    assert "40 minutes" in b.events[0].message
    assert readings(c, "ups_on_battery")[""] == 1.0
    assert ups.interpret(Fetched(0, scalars={}), ctx(0), None).readings == []  # not a UPS


def test_environment_temperatures() -> None:
    env = PROFILES["environment"]
    rows = {
        "1": {
            "type": 8,
            "scale": 9,
            "prec": 1,
            "value": 231,
            "status": 1,
            "entPhysicalName": "inlet",
        },
        "2": {"type": 8, "scale": 9, "prec": 0, "value": 99, "status": 2},  # unavailable: skipped
        "3": {"type": 9, "scale": 9, "prec": 0, "value": 45, "status": 1},
        "4": {"type": 10, "scale": 9, "prec": 0, "value": 3000, "status": 1},  # rpm: not exported
    }
    out = env.interpret(Fetched(0, rows=rows), ctx(0), None)
    assert out.readings == [
        ("sensor_celsius", "inlet", 23.1),
        ("sensor_humidity_percent", "sensor3", 45.0),
    ]


DEVICES = {
    "192.0.2.10": Device.model_validate(
        {"name": "core1", "address": "192.0.2.10", "site": "dc", "auth": "x"}
    )
}


def note(oid: str, source: str = "192.0.2.10", **varbinds) -> Notification:
    return Notification(1.0, source, "v2c", "c0", {SNMP_TRAP_OID: oid, **varbinds})


def test_trap_mapping_builtin_and_correlation() -> None:
    ev = to_event(
        note(
            "1.3.6.1.6.3.1.1.5.3",
            **{"1.3.6.1.2.1.2.2.1.1.7": 7, "1.3.6.1.2.1.31.1.1.1.1.7": "wan0"},
        ),
        {},
        DEVICES,
    )
    assert ev is not None
    assert (ev.kind, ev.severity, ev.device, ev.site, ev.subject) == (
        "link_down", "major", "core1", "dc", "wan0",
    )  # fmt: skip
    auth = to_event(note("1.3.6.1.6.3.1.1.5.5"), {}, DEVICES)
    assert auth is not None and auth.category == "security"
    relayed = to_event(
        note(
            "1.3.6.1.6.3.1.1.5.1", source="198.51.100.1", **{"1.3.6.1.6.3.18.1.3.0": "192.0.2.10"}
        ),
        {},
        DEVICES,
    )
    assert relayed is not None and relayed.device == "core1"  # snmpTrapAddress wins
    stranger = to_event(note("1.3.6.1.6.3.1.1.5.1", source="203.0.113.9"), {}, DEVICES)
    assert stranger is not None and stranger.device is None and "203.0.113.9" in stranger.message


def test_trap_mapping_ups_alarms_custom_and_unknown() -> None:
    low = to_event(
        note("1.3.6.1.2.1.33.2.3", **{"1.3.6.1.2.1.33.1.6.2.1.2.1": "1.3.6.1.2.1.33.1.6.3.3"}),
        {},
        DEVICES,
    )
    assert low is not None and (low.kind, low.severity) == ("ups_battery_low", "critical")
    custom = {
        "1.3.6.1.4.1.9.9.41.2.0.1": TrapMapping(
            oid="1.3.6.1.4.1.9.9.41.2.0.1", kind="syslog", severity="major"
        )
    }
    ev = to_event(note("1.3.6.1.4.1.9.9.41.2.0.1"), custom, DEVICES)
    assert ev is not None and (ev.kind, ev.severity) == ("syslog", "major")
    unknown = to_event(note("1.3.6.1.4.1.99.1"), {}, DEVICES)
    assert unknown is not None and (unknown.kind, unknown.severity) == ("trap", "info")
    assert to_event(note("1.3.6.1.4.1.99.1"), {}, DEVICES, store_unknown=False) is None
