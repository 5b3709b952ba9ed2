"""A fault of the monitor never looks like good news (issue 19): what a scan could not see is
left as it was, acceptances end at their time, bursts span windows, the monitor is not a
stranger to itself. Pure detectors, and the store on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from threenines.app.db import make_engine, migrate
from threenines.core.tables import events
from threenines.security.arp import ArpPacket, Known, Own, inventory_findings, spoof_findings
from threenines.security.config import SecurityConfig
from threenines.security.exposure import HostScan, compare, unobserved
from threenines.security.findings import RunResult
from threenines.security.runner import SecurityMonitor
from threenines.security.store import SecurityStore

H = "198.18.1.10"
CHECK = "exposure:srv"


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    eng = make_engine(db_url)
    migrate(eng)
    yield eng
    eng.dispose()


def run(scan: HostScan, ports: range = range(20, 30), allowed: frozenset[int] = frozenset({22})):
    found = compare(H, ports, scan, set(allowed), CHECK)
    return RunResult(CHECK, found, unobserved=unobserved(H, ports, scan))


def kinds(engine: sa.Engine) -> list[str]:
    with engine.connect() as conn:
        return [r.kind for r in conn.execute(sa.select(events).order_by(events.c.id))]


def test_filtered_is_not_closed_and_unseen_host_is_unreachable() -> None:
    ports = range(20, 30)
    firewalled = HostScan(frozenset({23}), frozenset(set(ports) - {22, 23}), seen=True)
    assert [f.key for f in compare(H, ports, firewalled, {22}, CHECK)] == [f"port_opened/{H}/23"]
    assert unobserved(H, ports, firewalled) == {f"port_opened/{H}/22", f"port_closed/{H}/22"}
    assert firewalled.state(22) == "filtered" and firewalled.state(24) == "closed"
    (gone,) = compare(H, ports, HostScan(), {22}, CHECK)
    assert (gone.kind, gone.key) == ("host_unreachable", f"host_unreachable/{H}")


def test_unreachable_host_keeps_its_findings_and_clears_nothing(engine: sa.Engine) -> None:
    store = SecurityStore(engine)
    up = HostScan(frozenset({23}), frozenset(set(range(20, 30)) - {23}), seen=True)
    store.record(run(up), now=100)  # telnet open, 22 closed
    store.record(run(HostScan()), now=200)  # the host stops answering
    status = {r["key"]: r["status"] for r in store.find(None, now=200)}
    assert status == {
        f"port_opened/{H}/23": "open",
        f"port_closed/{H}/22": "open",
        f"host_unreachable/{H}": "open",
    }
    store.record(run(up), now=300)  # back: unreachable resolves, nothing reopens
    assert kinds(engine) == [
        "port_closed", "port_opened", "host_unreachable", "host_unreachable_cleared",
    ]  # fmt: skip


def test_expired_acceptance_reads_open_at_once_and_timer_announces(engine: sa.Engine) -> None:
    store = SecurityStore(engine)
    up = HostScan(frozenset({23}), frozenset({22}), seen=True)
    store.record(run(up, range(22, 24), frozenset()), now=100)
    (row,) = store.find()
    assert store.accept(row["id"], by="alice", reason="change window", until=500, now=200)
    assert store.find("accepted", now=499)[0]["id"] == row["id"]
    assert store.find("open", now=499) == []
    assert [r["id"] for r in store.find("open", now=500)] == [row["id"]]
    assert store.get(row["id"], now=501)["status"] == "open"
    assert store.expire(now=400) == []
    (changed,) = store.expire(now=501)
    assert store.expire(now=502) == []  # announced once
    assert kinds(engine)[-1] == "port_opened" and changed[1].value == "acceptance_expired"


def garp(ts: float, mac: str = "02:00:00:00:00:66") -> ArpPacket:
    return ArpPacket(ts, 1, "198.18.1.40", mac, "198.18.1.40", "00:00:00:00:00:00")


def test_burst_split_across_two_windows_is_one_burst() -> None:
    first, second = [garp(3.0 + i) for i in range(3)], [garp(6.0 + i) for i in range(3)]
    assert spoof_findings(first, {}, "s1", "c", burst=5, window=10) == []
    assert spoof_findings(second, {}, "s1", "c", burst=5, window=10) == []
    (out,) = spoof_findings(second, {}, "s1", "c", burst=5, window=10, earlier=first)
    assert out.kind == "arp_gratuitous_burst" and out.evidence["count"] == 6


async def test_monitor_carries_gratuitous_arps_between_passive_windows(engine) -> None:
    cfg = SecurityConfig.model_validate(
        {"sites": [{"site": "s1", "subnets": ["198.18.1.0/24"], "passive": {"window": "5s"}}]}
    )
    mon = SecurityMonitor(cfg, engine, clock=lambda: 1000.0)
    site = cfg.sites[0]
    await mon.analyse_passive(site, [garp(1.0 + i) for i in range(3)])
    _inv, spoof = await mon.analyse_passive(site, [garp(6.0 + i) for i in range(3)])
    assert [f.kind for f in spoof.findings] == ["arp_gratuitous_burst"]


def test_mac_at_two_ips_is_two_findings_and_monitor_is_never_reported() -> None:
    mac, me = "02:00:00:00:00:77", "02:00:00:00:00:01"
    pkts = [
        ArpPacket(1, 2, "198.18.1.77", mac, "198.18.1.5", me),
        ArpPacket(1, 2, "198.18.1.78", mac, "198.18.1.5", me),
        ArpPacket(1, 1, "198.18.1.5", me, "198.18.1.77", "00:00:00:00:00:00"),
    ]
    inv = [Known("monitor", "198.18.1.5", None, "s1"), Known("nic2", None, "02:00:00:00:00:02")]
    own = Own(frozenset({me, "02:00:00:00:00:02"}), frozenset({"198.18.1.5"}))
    out = inventory_findings(
        "s1", ["198.18.1.0/24"], pkts, inv, lambda m: None, "arp:s1", True, own
    )
    assert [f.key for f in out] == [
        f"unknown_device/s1/{mac}/198.18.1.77",
        f"unknown_device/s1/{mac}/198.18.1.78",
    ]


async def test_running_monitor_reopens_an_expired_acceptance_at_its_time(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service's loop (not the next scan) announces the expiry, within its tick."""
    import asyncio

    from threenines.security import runner

    monkeypatch.setattr(runner, "EXPIRY_TICK", 0.05)
    clock = [100.0]
    mon = SecurityMonitor(SecurityConfig.model_validate({}), engine, clock=lambda: clock[0])
    mon.store.record(run(HostScan(frozenset({23}), frozenset({22}), seen=True), range(22, 24),
                         frozenset()), now=100)  # fmt: skip
    (row,) = mon.store.find(now=100)
    assert mon.store.accept(row["id"], by="alice", reason="window", until=150, now=110)
    stop = asyncio.Event()
    task = asyncio.create_task(mon.run_forever(stop))
    try:
        await asyncio.sleep(0.2)
        assert expired(engine) == 0  # not due yet: still accepted
        clock[0] = 151.0  # its time comes; no scan runs (no scans configured)
        for _ in range(100):  # bounded: a few ticks
            if expired(engine):
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    assert expired(engine) == 1  # announced once
    assert mon.store.get(row["id"], now=151)["status"] == "open"


def expired(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(events.c.details)).all()
    return sum(r.details.get("change") == "acceptance_expired" for r in rows)


def test_a_host_alive_but_answering_no_scanned_port_is_a_blind_scan(engine: sa.Engine) -> None:
    """ARP (or ping) answers but every scanned port is filtered: the scan saw nothing of the
    ports (a firewall dropping the scanner), so the host reads unreachable and nothing clears."""
    alive = HostScan(seen=True)  # no port open or closed
    (blind,) = compare(H, range(20, 30), alive, {22}, CHECK)
    assert (blind.kind, blind.key) == ("host_unreachable", f"host_unreachable/{H}")
    assert "no scanned port answered" in blind.message and blind.evidence["alive"] is True
    assert unobserved(H, range(20, 30), alive) == unobserved(H, range(20, 30), HostScan())
    store = SecurityStore(engine)
    up = HostScan(frozenset({23}), frozenset(set(range(20, 30)) - {23}), seen=True)
    store.record(run(up), now=100)
    store.record(run(alive), now=200)
    assert {r["key"] for r in store.find("open", now=200)} == {
        f"port_opened/{H}/23", f"port_closed/{H}/22", f"host_unreachable/{H}"}  # fmt: skip
