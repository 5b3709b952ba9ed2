"""Issue 19, live: a scanned host that goes dark, a firewall that drops or rejects some ports,
and one that drops every port (the host still answers ARP), in namespaces this module creates
(198.19.x, root only; removed afterwards)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from conftest import require_command, require_root
from test_sec_live import GW_MAC, LISTEN, SRV_MAC, config, open_findings

from threenines.app.db import make_engine, migrate
from threenines.core.tables import events
from threenines.security.runner import SecurityMonitor
from threenines.security.testnet import TestNet

pytestmark = [pytest.mark.slow, pytest.mark.root]


@pytest.fixture(scope="module")
def net() -> Iterator[TestNet]:
    require_root()
    require_command("ip", "iptables")
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


def in_ns(net: TestNet, *argv: str, check: bool = True) -> None:
    subprocess.run(["ip", "netns", "exec", net.hosts["srv"], *argv], check=check, timeout=20,
                   capture_output=not check)  # fmt: skip


def event_kinds(engine: sa.Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(events).order_by(events.c.id)).all()
    return [(r.kind, r.details["change"]) for r in rows]


async def test_host_gone_dark_keeps_findings_then_comes_back(
    net: TestNet, engine: sa.Engine
) -> None:
    listener = net.popen("srv", [sys.executable, "-c", LISTEN, "22", "23"])
    host = net.addr(10)
    try:
        await asyncio.sleep(0.5)
        # every connect to a dark host waits out its 1 s timeout: 400 at a time (fds stay well
        # below a 1024 ulimit)
        mon = SecurityMonitor(config(net, concurrency=400), engine)
        scan = mon.cfg.scans[0]
        first = await mon.scan(scan)
        assert first.error is None and set(first.facts["open"][host]) == {22, 23}
        before = set(open_findings(mon))
        assert before == {f"port_opened:{host}:23", f"port_closed:{host}:80"}
        in_ns(net, "ip", "link", "set", "eth0", "down")  # the attacker cuts the scanner off
        try:
            for method in ("syn", "connect"):
                dark = await mon.scan(scan.model_copy(update={"method": method}))
                assert dark.facts["unreachable"] == [host] and "did not answer" in str(dark.error)
                assert set(open_findings(mon)) == before | {f"host_unreachable:{host}"}
        finally:
            in_ns(net, "ip", "link", "set", "eth0", "up")
        net.assert_routed(host)
        for _ in range(20):  # the link needs a moment to forward again (bounded)
            back = await mon.scan(scan)
            if not back.facts["unreachable"]:
                break
            await asyncio.sleep(0.5)
        assert set(open_findings(mon)) == before
        assert event_kinds(engine) == [
            ("port_closed", "opened"),
            ("port_opened", "opened"),
            ("host_unreachable", "opened"),
            ("host_unreachable_cleared", "resolved"),
        ]
    finally:
        listener.kill()
        listener.wait()


async def test_dropped_and_rejected_ports_are_filtered_not_closed(
    net: TestNet, engine: sa.Engine
) -> None:
    host = net.addr(10)
    rules = [
        ["-p", "tcp", "--dport", "80", "-j", "DROP"],
        ["-p", "tcp", "--dport", "81", "-j", "REJECT", "--reject-with", "icmp-port-unreachable"],
    ]
    drop_all = ["-p", "tcp", "-j", "DROP"]
    for rule in rules:
        in_ns(net, "iptables", "-A", "INPUT", *rule)
    try:
        cfg = config(net, baselines={"roles": {"server": "22,80,81"}})
        mon = SecurityMonitor(cfg, engine)
        run = await mon.scan(mon.cfg.scans[0].model_copy(update={"method": "syn"}))
        assert run.error is None and run.facts["filtered"] == {host: 2}
        # 22 answers RST (closed); 80 dropped and 81 rejected are filtered, not closed
        assert set(open_findings(mon)) == {f"port_closed:{host}:22"}
        # A connect scan sees the drop as filtered; the kernel reports an ICMP port
        # unreachable to connect() as a refusal, so there 81 reads closed (as nmap -sT).
        run = await mon.scan(mon.cfg.scans[0].model_copy(update={"method": "connect"}))
        assert run.error is None and run.facts["filtered"] == {host: 1}
        assert f"port_closed:{host}:80" not in open_findings(mon)
        # every TCP packet dropped, ARP still answered: up, yet the scan saw no port
        before = set(open_findings(mon))
        in_ns(net, "iptables", "-I", "INPUT", "1", *drop_all)
        run = await mon.scan(mon.cfg.scans[0].model_copy(update={"method": "syn"}))
        assert run.facts["unreachable"] == [host] and run.facts["filtered"] == {host: 1024}
        found = open_findings(mon)
        assert set(found) == before | {f"host_unreachable:{host}"}  # kept, none cleared
        assert found[f"host_unreachable:{host}"]["evidence"]["alive"] is True
    finally:
        for rule in [*rules, drop_all]:
            in_ns(net, "iptables", "-D", "INPUT", *rule, check=False)
