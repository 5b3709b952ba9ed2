"""The monitor never reports its own MAC as an unknown device, live: in namespaces this module
creates (198.19.x, root only; removed afterwards), the monitor's bridge answers a stranger's
ARP request and asks for the stranger itself, so its own MAC is in the ARP traffic it listens
to; the stranger is reported, the monitor is not."""

from __future__ import annotations

import asyncio
import subprocess
import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from conftest import require_command, require_root

from threenines.app.db import make_engine, migrate
from threenines.security import scapy_net
from threenines.security.config import SecurityConfig
from threenines.security.runner import SecurityMonitor
from threenines.security.testnet import TestNet

pytestmark = [pytest.mark.slow, pytest.mark.root, pytest.mark.timeout(120)]
OWN_MAC, STRANGER_MAC = "02:00:00:00:01:01", "02:00:00:00:66:66"


@pytest.fixture
def net() -> Iterator[TestNet]:
    require_root()
    require_command("ip", "ping")
    tn = TestNet().up()
    try:
        subprocess.run(["ip", "link", "set", tn.bridge, "address", OWN_MAC], check=True)
        tn.add_host("stranger", [66], STRANGER_MAC)
        tn.assert_routed(tn.addr(66))
        yield tn
    finally:
        tn.down()


@pytest.fixture
def engine(tmp_path) -> Iterator[sa.Engine]:
    eng = make_engine(f"sqlite:///{tmp_path}/sec.db")
    migrate(eng)
    yield eng
    eng.dispose()


def config(net: TestNet) -> SecurityConfig:
    return SecurityConfig.model_validate({
        "sites": [{"site": "dc-main", "subnets": [net.cidr], "interface": net.bridge,
                   "passive": {"enabled": True, "window": "3s"}}],
        "inventory": [{"name": "printer", "ip": net.addr(20), "site": "dc-main"}],
    })  # fmt: skip


def traffic(net: TestNet) -> None:
    """The stranger asks who has .1 (the monitor answers: its own MAC); then the monitor, its
    neighbour entries flushed, asks who has .66 (its own MAC again)."""

    def run(*argv: str) -> None:
        subprocess.run(argv, capture_output=True, timeout=20, check=False)

    run("ip", "neigh", "flush", "dev", net.bridge)
    run("ip", "netns", "exec", net.hosts["stranger"], "ping", "-c", "1", "-W", "1", net.addr(1))
    run("ip", "neigh", "flush", "dev", net.bridge)
    run("ping", "-c", "1", "-W", "1", net.addr(66))


async def test_own_mac_in_arp_traffic_is_not_an_unknown_device(
    net: TestNet, engine: sa.Engine
) -> None:
    mon = SecurityMonitor(config(net), engine)
    site = mon.cfg.sites[0]
    own = await asyncio.to_thread(scapy_net.own_addresses)
    assert OWN_MAC in own.macs and net.addr(1) in own.ips  # the bridge is one of ours
    witness_on, monitor_on = threading.Event(), threading.Event()
    # an independent capture of the same window: what the monitor was shown
    witness = asyncio.create_task(scapy_net.listen_async(net.bridge, 3.0, 1000, witness_on.set))
    listening = asyncio.create_task(mon.listen(site, started=monitor_on.set))
    assert await asyncio.to_thread(witness_on.wait, 10)
    assert await asyncio.to_thread(monitor_on.wait, 10)
    await asyncio.to_thread(traffic, net)
    results, seen = await listening, await witness
    senders = {(p.psrc, p.hwsrc) for p in seen}
    print(sorted(senders), [r.facts for r in results])
    assert (net.addr(1), OWN_MAC) in senders and (net.addr(66), STRANGER_MAC) in senders
    inv = next(r for r in results if r.check == "arp:dc-main")
    assert inv.error is None and inv.facts["devices"] >= 2  # both were in its window
    found = {r["kind"]: r for r in mon.store.find("open")}
    unknown = [r for r in mon.store.find("open") if r["kind"] == "unknown_device"]
    assert [(r["evidence"]["ip"], r["evidence"]["mac"]) for r in unknown] == [
        (net.addr(66), STRANGER_MAC)]  # fmt: skip
    assert all(OWN_MAC not in str(r["evidence"]) for r in mon.store.find(None))
    assert "device_missing" not in found  # a passive window reports nobody missing
