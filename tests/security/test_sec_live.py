"""Live security checks in namespaces this module creates (198.19.x, root only).

Topology: a bridge in the test's namespace (the monitor, .1), a "gateway" namespace (.254), a
"server" namespace (.10), and a "rogue" namespace plugged in by the tests that need it.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from conftest import require_command, require_root

from threenines.app.db import make_engine, migrate
from threenines.core.tables import events
from threenines.security.config import OutOfScope, SecurityConfig
from threenines.security.runner import SecurityMonitor
from threenines.security.testnet import TestNet

pytestmark = [pytest.mark.slow, pytest.mark.root]
GW_MAC, SRV_MAC, ROGUE_MAC = "02:00:00:00:fe:01", "02:00:00:00:0a:01", "b8:27:eb:00:66:66"
LISTEN = """
import socket, sys, time
ss = [socket.create_server(("0.0.0.0", int(p))) for p in sys.argv[1:]]
time.sleep(600)
"""


@pytest.fixture(scope="module")
def net() -> Iterator[TestNet]:
    require_root()
    require_command("ip", "nmap")
    tn = TestNet().up()
    try:
        tn.add_host("gw", [254], GW_MAC)
        tn.add_host("srv", [10], SRV_MAC)
        tn.assert_routed(tn.addr(10))
        yield tn
    finally:
        tn.down()


@pytest.fixture
def engine(tmp_path) -> Iterator[sa.Engine]:
    eng = make_engine(f"sqlite:///{tmp_path}/sec.db")
    migrate(eng)
    yield eng
    eng.dispose()


def config(net: TestNet, **extra: object) -> SecurityConfig:
    data = {
        "sites": [
            {
                "site": "dc-main",
                "subnets": [net.cidr],
                "interface": net.bridge,
                "passive": {"enabled": True, "window": "4s"},
            }
        ],
        "inventory": [
            {"name": "gw", "mac": GW_MAC},
            {"name": "srv", "ip": net.addr(10)},
            {"name": "printer", "ip": net.addr(20), "site": "dc-main"},
        ],
        "protected": [{"ip": net.addr(254), "mac": GW_MAC, "name": "gateway"}],
        "rate": 2000,
        "reply_timeout": "1s",
        "baselines": {"roles": {"server": "22,80"}},
        "scans": [
            {
                "name": "srv",
                "hosts": [net.addr(10)],
                "ports": "1-1024",
                "role": "server",
                "interface": net.bridge,
            }
        ],
        **extra,
    }
    return SecurityConfig.model_validate(data)


def open_findings(mon: SecurityMonitor) -> dict[str, dict]:
    return {r["kind"] + ":" + r["subject"]: r for r in mon.store.find("open")}


async def test_new_namespace_is_an_unknown_device(net: TestNet, engine: sa.Engine) -> None:
    mon = SecurityMonitor(config(net), engine)
    site = mon.cfg.sites[0]
    await mon.sweep(site)
    found = open_findings(mon)
    assert set(found) == {f"device_missing:{net.addr(20)}"}  # gw and srv answered; no printer
    net.add_host("rogue", [66], ROGUE_MAC)
    try:
        await mon.sweep(site)
        rogue = open_findings(mon)[f"unknown_device:{net.addr(66)}"]
        assert rogue["severity"] == "major" and rogue["evidence"]["mac"] == ROGUE_MAC
        assert rogue["evidence"]["vendor"] == "Raspberry Pi Foundation"  # scapy's manuf DB
    finally:
        net.remove_host("rogue")
    await mon.sweep(site)  # unplugged: the finding resolves
    assert f"unknown_device:{net.addr(66)}" not in open_findings(mon)
    resolved = mon.store.find("resolved")
    assert [r["kind"] for r in resolved] == ["unknown_device"]


ROGUE_SCRIPT = """
import sys, time
from scapy.all import ARP, Ether, sendp
print("ready", flush=True)  # scapy is imported: the test starts listening, then says go
sys.stdin.readline()
gw, me, mac = sys.argv[1:4]
bc = "ff:ff:ff:ff:ff:ff"
spoof = Ether(dst=bc, src=mac) / ARP(op=2, psrc=gw, hwsrc=mac, pdst=me, hwdst=bc)
garp = Ether(dst=bc, src=mac) / ARP(op=2, psrc=gw, hwsrc=mac, pdst=gw, hwdst=bc)
sendp([spoof] * 3 + [garp] * 6, iface="eth0", inter=0.1, verbose=0)
"""


async def test_spoofed_gateway_replies_raise_critical_findings(
    net: TestNet, engine: sa.Engine
) -> None:
    mon = SecurityMonitor(config(net), engine)
    net.add_host("rogue", [66], ROGUE_MAC)
    try:
        argv = [sys.executable, "-c", ROGUE_SCRIPT, net.addr(254), net.addr(1), ROGUE_MAC]
        sender = net.popen("rogue", argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert sender.stdin and sender.stdout
        assert await asyncio.to_thread(sender.stdout.readline) == b"ready\n"
        attached = threading.Event()
        listening = asyncio.create_task(mon.listen(mon.cfg.sites[0], started=attached.set))
        assert await asyncio.to_thread(attached.wait, 10)
        sender.stdin.write(b"go\n")
        sender.stdin.close()
        await asyncio.to_thread(sender.wait, 30)
        await listening
    finally:
        net.remove_host("rogue")
    found = open_findings(mon)
    gw = net.addr(254)
    assert found[f"arp_spoof:{gw}"]["severity"] == "critical"
    assert found[f"arp_spoof:{gw}"]["evidence"]["mac"] == ROGUE_MAC
    assert found[f"arp_gratuitous_burst:{gw}"]["evidence"]["count"] >= 5
    with engine.connect() as conn:
        rows = conn.execute(sa.select(events).where(events.c.severity == "critical")).all()
    assert {(r.kind, r.category, r.source) for r in rows} == {
        ("arp_spoof", "security", "security"),
        ("arp_gratuitous_burst", "security", "security"),
    }
    # Spoofing evidence is sticky: a quiet window does not resolve it.
    await mon.record(mon_run := (await mon.analyse_arp(mon.cfg.sites[0], [], False))[1])
    assert mon_run.findings == [] and f"arp_spoof:{gw}" in open_findings(mon)


def nmap_open(host: str, ports: str) -> set[int]:
    out = subprocess.run(
        ["nmap", "-n", "-Pn", "-sS", "-p", ports, "--max-retries", "2", "-oX", "-", host],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    root = ET.fromstring(out)
    return {
        int(p.get("portid")) for p in root.iter("port") if p.find("state").get("state") == "open"
    }


async def test_new_listening_port_found_and_agrees_with_nmap(
    net: TestNet, engine: sa.Engine
) -> None:
    listener = net.popen("srv", [sys.executable, "-c", LISTEN, "22", "443", "23"])
    try:
        await asyncio.sleep(0.5)
        mon = SecurityMonitor(config(net), engine)
        scan = mon.cfg.scans[0]
        net.assert_routed(net.addr(10))
        syn = await mon.scan(scan)
        assert syn.facts["method"] == "syn" and syn.complete
        ours = set(syn.facts["open"][net.addr(10)])
        assert ours == {22, 23, 443} == nmap_open(net.addr(10), "1-1024")
        found = open_findings(mon)
        host = net.addr(10)
        assert found[f"port_opened:{host}:23"]["severity"] == "critical"  # telnet
        assert found[f"port_opened:{host}:443"]["severity"] == "major"
        assert found[f"port_closed:{host}:80"]["severity"] == "minor"
        connect = await mon.scan(scan.model_copy(update={"method": "connect"}))
        assert connect.facts["method"] == "connect"
        assert set(connect.facts["open"][host]) == ours
        # Accept 443 into the baseline: its finding resolves and the next scan agrees.
        pending = {c["port"]: c for c in mon.baselines.find("pending")}
        assert set(pending) == {23, 443, 80}
        assert mon.baselines.decide(
            pending[443]["id"],
            accept=True,
            by="alice",
            reason="portal moved to TLS",
            now=time.time(),
        )
        await mon.scan(scan)
        assert f"port_opened:{host}:443" not in open_findings(mon)
    finally:
        listener.kill()
        listener.wait()


async def test_scans_refuse_addresses_outside_scope_or_interface(
    net: TestNet, engine: sa.Engine
) -> None:
    from threenines.security import scapy_scan

    mon = SecurityMonitor(config(net), engine)
    with pytest.raises(OutOfScope):
        await scapy_scan.syn_scan_async(["198.19.1.1"], [22], mon.scope, 100, 0.2)
    with pytest.raises(OutOfScope, match="do not route via lo"):
        await scapy_scan.syn_scan_async([net.addr(10)], [22], mon.scope, 100, 0.2, "lo")
    from threenines.security.exposure import connect_scan

    with pytest.raises(OutOfScope):
        await connect_scan(["127.0.0.1"], [22], mon.scope, 100, 0.2)
