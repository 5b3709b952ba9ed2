"""The SNMP poller against real net-snmp agents, compared with net-snmp's own tools."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from snmpd_lab import COMMUNITY, V3_AUTH, V3_PRIV, V3_USER, V3_USER256, snmpd_factory

from threenines.collectors.config import SnmpConfig
from threenines.collectors.sink import MemorySink
from threenines.collectors.snmp_metrics import register_metrics
from threenines.collectors.snmp_poll import SnmpPoller
from threenines.core.results import Status
from threenines.core.store import ResultRecord

__all__ = ["snmpd_factory"]
pytestmark = [pytest.mark.snmpd]
IF_NAME = "1.3.6.1.2.1.31.1.1.1.1"


class Clock:
    def __init__(self, now: float = 1_700_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def device(name: str, port: int, auth: Any, **kw: Any) -> dict[str, Any]:
    return {"name": name, "address": "127.0.0.1", "port": port, "site": "dc", "auth": auth, **kw}


def v2c(community: str = COMMUNITY) -> dict[str, str]:
    return {"version": "v2c", "community": community}


def v3(user: str = V3_USER, auth: str = V3_AUTH, priv: str = "AES") -> dict[str, str]:
    return {
        "version": "v3",
        "user": user,
        "auth_key": auth,
        "priv_key": V3_PRIV,
        "priv_protocol": priv,
    }


def poller(
    *devices: dict[str, Any], clock: Any = None, **defaults: Any
) -> tuple[SnmpPoller, MemorySink]:
    cfg = SnmpConfig.model_validate({"devices": list(devices), "defaults": defaults})
    sink = MemorySink()
    kw = {"clock": clock} if clock else {}
    return SnmpPoller(cfg, sink, vantage="central", **kw), sink


def readings(sink: MemorySink, metric: str, device: str | None = None) -> dict[str, float]:
    return {
        r.subject: r.value
        for r in sink.reading_log
        if r.metric == metric and (device is None or r.device == device)
    }


def results(sink: MemorySink) -> dict[str, Any]:
    return {r.check_id: r.result for r in sink.result_log}


async def test_v2c_and_v3_readings_match_net_snmp(snmpd_factory) -> None:
    agent = snmpd_factory()
    profiles = ["interfaces", "host-resources", "ucd"]
    p, sink = poller(
        device("v2", agent.port, v2c(), profiles=profiles, uplinks=["lo"]),
        device("v3", agent.port, v3(), profiles=profiles),
        device("v3aes256", agent.port, v3(V3_USER256, priv="AES-256"), profiles=profiles),
    )
    try:
        for name in ("v2", "v3", "v3aes256"):
            await p.poll(name)
            assert results(sink)[f"device:{name}"].status == Status.UP
        assert results(sink)["device:v2/if:lo"].status == Status.UP
        names = agent.walk_values(IF_NAME)
        opers = agent.walk_values("1.3.6.1.2.1.2.2.1.8")
        assert names, "net-snmp sees interfaces"
        for dev in ("v2", "v3", "v3aes256"):
            mine = readings(sink, "if_oper_up", dev)
            assert set(mine) >= set(names.values())
            for index, name in names.items():
                assert mine[name] == float(opers[index].startswith("up") or opers[index] == "1")
        sizes = agent.walk_values("1.3.6.1.2.1.25.2.3.1.5")
        units = agent.walk_values("1.3.6.1.2.1.25.2.3.1.4")
        descr = agent.walk_values("1.3.6.1.2.1.25.2.3.1.3")
        mine = readings(sink, "storage_size_bytes", "v3")
        for index, size in sizes.items():
            if int(size):
                assert mine[descr[index][:100]] == int(size) * int(units[index].split()[0])
        total_kb = int(agent.value("1.3.6.1.4.1.2021.4.5.0").split()[0])
        assert readings(sink, "memory_bytes", "v2")["total"] == total_kb * 1024
        assert set(readings(sink, "load_average", "v2")) == {"1", "5", "15"}
    finally:
        p.close()


async def test_wrong_credentials_and_silent_devices_are_down(snmpd_factory) -> None:
    agent = snmpd_factory()
    p, sink = poller(
        device("badkey", agent.port, v3(auth="not-the-key-1"), uplinks=["eth0"]),
        device("badcomm", agent.port, v2c("guess")),
        device("silent", agent.port + 1 if agent.port < 65535 else 1, v2c()),
        timeout=0.3,
        retries=0,
    )
    try:
        for name in ("badkey", "badcomm", "silent"):
            await p.poll(name)
        res = results(sink)
        assert (res["device:badkey"].status, res["device:badkey"].error) == (Status.DOWN, "auth")
        assert res["device:badkey/if:eth0"].status == Status.UNKNOWN  # cannot see it
        assert res["device:badcomm"].error == "timeout"  # agents drop bad communities silently
        assert res["device:silent"].error == "timeout"
        assert sink.reading_log == []
    finally:
        p.close()


UPS, ENT_SENSOR, ENT_NAME = "1.3.6.1.2.1.33", "1.3.6.1.2.1.99", "1.3.6.1.2.1.47"


def ups_values(source: int, status: int, minutes: int, temp_tenths: int) -> dict[str, Any]:
    return {
        f"{UPS}.1.4.1.0": ("integer", source),
        f"{UPS}.1.2.1.0": ("integer", status),
        f"{UPS}.1.2.3.0": ("integer", minutes),
        f"{UPS}.1.2.4.0": ("integer", 97),
        f"{UPS}.1.4.4.1.5.1": ("integer", 38),
        f"{ENT_SENSOR}.1.1.1.1.1": ("integer", 8),  # celsius
        f"{ENT_SENSOR}.1.1.1.2.1": ("integer", 9),  # units
        f"{ENT_SENSOR}.1.1.1.3.1": ("integer", 1),  # one decimal
        f"{ENT_SENSOR}.1.1.1.4.1": ("integer", temp_tenths),
        f"{ENT_SENSOR}.1.1.1.5.1": ("integer", 1),
        f"{ENT_NAME}.1.1.1.1.7.1": ("string", "inlet"),
    }


async def test_ups_on_battery_and_temperature_rising(snmpd_factory) -> None:
    agent = snmpd_factory(passed={UPS: "add", ENT_SENSOR: "add", ENT_NAME: "add"})
    agent.set_values(ups_values(3, 2, 55, 215))
    clock = Clock()
    p, sink = poller(
        device("ups1", agent.port, v2c(), profiles=["ups", "environment"]), clock=clock
    )
    try:
        await p.poll("ups1")
        assert readings(sink, "ups_on_battery") == {"": 0.0}
        assert readings(sink, "sensor_celsius") == {"inlet": 21.5}
        assert sink.event_log == []
        agent.set_values(ups_values(5, 3, 7, 305))  # mains lost, battery low, room warming
        clock.now += 60
        await p.poll("ups1")
        assert [e.kind for e in sink.event_log] == ["ups_on_battery", "ups_battery_low"]
        assert all(e.device == "ups1" and e.site == "dc" for e in sink.event_log)
        assert readings(sink, "ups_on_battery") == {"": 1.0}
        assert readings(sink, "ups_minutes_remaining") == {"": float(agent.value(f"{UPS}.1.2.3.0"))}
        assert readings(sink, "ups_output_load_percent") == {"1": 38.0}
        raw = int(agent.value(f"{ENT_SENSOR}.1.1.1.4.1"))
        assert readings(sink, "sensor_celsius") == {"inlet": raw / 10} == {"inlet": 30.5}
    finally:
        p.close()


def if_values(octets: int, oper: int = 1) -> dict[str, Any]:
    """A 32-bit-only interface (no ifXTable HC counters), 100 Mbit/s."""
    base = "1.3.6.1.2.1.2.2.1"
    return {
        f"{base}.2.1": ("string", "wan0"),
        f"{base}.5.1": ("gauge", 100_000_000),
        f"{base}.7.1": ("integer", 1),
        f"{base}.8.1": ("integer", oper),
        f"{base}.10.1": ("counter", octets % 2**32),
        f"{base}.16.1": ("counter", 0),
    }


async def test_counter_wrap_and_agent_restart_give_no_bogus_rates(snmpd_factory) -> None:
    agent = snmpd_factory(passed={"1.3.6.1.2.1.2.2": "override", "1.3.6.1.2.1.31.1.1": "override"})
    clock = Clock()
    p, sink = poller(device("rtr", agent.port, v2c(), uplinks=["wan0"]), clock=clock)

    async def poll_at(octets: int, oper: int = 1) -> dict[str, float]:
        agent.set_values(if_values(octets, oper))
        clock.now += 60
        sink.reading_log.clear()
        await p.poll("rtr")
        return readings(sink, "if_in_bps")

    try:
        assert await poll_at(2**32 - 30_000) == {}  # first sample
        assert await poll_at(2**32 + 30_000) == {"wan0": 8000.0}  # wrapped: 60 kB in 60 s
        assert agent.value("1.3.6.1.2.1.2.2.1.10.1") == "30000"  # net-snmp sees the wrap too
        agent.restart()
        assert await poll_at(500) == {}  # sysUpTime went back: counters restarted, no rate
        assert [e.kind for e in sink.event_log] == ["reboot"]
        assert await poll_at(60_500) == {"wan0": 8000.0}
        # A reset the agent does not announce: as a "wrap" it would be 572 Mbit/s on a
        # 100 Mbit/s link, so it is refused rather than drawn as a spike.
        assert await poll_at(100) == {}
        assert await poll_at(60_100, oper=2) == {"wan0": 8000.0}
        assert results(sink)["device:rtr/if:wan0"].error == "link_down"
        assert [e.kind for e in sink.event_log] == ["reboot", "link_down"]
    finally:
        p.close()


async def test_run_loop_polls_on_schedule_and_exports_metrics(snmpd_factory) -> None:
    agent = snmpd_factory()
    registry = CollectorRegistry()
    cfg = SnmpConfig.model_validate(
        {"devices": [device("sw", agent.port, v2c(), interval=0.2)], "defaults": {"interval": 0.2}}
    )
    loop = asyncio.get_running_loop()

    class Timed(MemorySink):
        """Notes when each poll's results arrive; ``enough`` once 6 polls came."""

        def __init__(self) -> None:
            super().__init__()
            self.times: list[float] = []
            self.enough = asyncio.Event()

        def results(self, records: Sequence[ResultRecord]) -> None:
            super().results(records)
            if any(r.check_id == "device:sw" for r in records):
                self.times.append(loop.time())
                if len(self.times) >= 6:
                    self.enough.set()

    sink = Timed()
    p = SnmpPoller(cfg, sink, vantage="central", metrics=register_metrics(registry))
    stop = asyncio.Event()
    task = asyncio.create_task(p.run(stop))
    # The first poll carries the engine's set-up (slow on a busy machine): the schedule is
    # measured from it. Polls go on, and never faster than the schedule (missed slots are
    # skipped, not caught up in a burst).
    await asyncio.wait_for(sink.enough.wait(), 20)
    stop.set()
    await asyncio.wait_for(task, 5)
    more, elapsed = len(sink.times[:6]) - 1, sink.times[5] - sink.times[0]
    assert more <= elapsed / 0.2 + 1, (more, elapsed)
    text = generate_latest(registry).decode()
    assert 'threenines_snmp_up{device="sw",site="dc"} 1.0' in text
    assert 'threenines_snmp_if_oper_up{device="sw",interface="lo",site="dc"} 1.0' in text
    assert all(r.max_gap == pytest.approx(0.4) for r in sink.result_log)
