"""icmp probe: pings 127.0.0.1 only."""

from __future__ import annotations

import os

import pytest
from conftest import require
from pydantic import ValidationError

from threenines.core.results import Status
from threenines.probes import icmp


def _icmp_allowed() -> bool:
    if os.geteuid() == 0:
        return True
    lo, hi = open("/proc/sys/net/ipv4/ping_group_range").read().split()
    return int(lo) <= os.getegid() <= int(hi)


async def test_ping_loopback() -> None:
    require(_icmp_allowed(), "needs root or net.ipv4.ping_group_range covering our group")
    c = icmp.Config(type="icmp", name="lo", host="127.0.0.1", count=3, packet_interval=0.05)
    r = await icmp.probe(c, timeout=3)
    assert r.status is Status.UP, r
    assert (r.details["sent"], r.details["received"], r.details["loss"]) == (3, 3, 0)
    assert 0 < r.details["rtt_min"] <= r.details["rtt_avg"] <= r.details["rtt_max"]
    assert set(r.phases) == {"dns", "rtt", "total"}


async def test_rtt_threshold_degrades() -> None:
    require(_icmp_allowed(), "needs root or net.ipv4.ping_group_range covering our group")
    c = icmp.Config(
        type="icmp",
        name="lo",
        host="localhost",
        count=2,
        packet_interval=0.05,
        degraded_after=0.000001,
    )
    r = await icmp.probe(c, timeout=3)
    assert (r.status, r.error) == (Status.DEGRADED, "slow"), r


async def test_unresolvable() -> None:
    r = await icmp.probe(icmp.from_target("bad!host"), timeout=2)
    assert (r.status, r.error) == (Status.DOWN, "dns")


def test_loss_thresholds_validated() -> None:
    with pytest.raises(ValidationError, match="must not exceed loss_down"):
        icmp.Config(type="icmp", name="x", host="h", loss_degraded=0.9, loss_down=0.5)


def test_loss_judgement() -> None:
    class Host:
        packets_sent, packets_received, packet_loss = 5, 3, 0.4
        min_rtt = avg_rtt = max_rtt = 0.1

    c = icmp.Config(type="icmp", name="x", host="h", loss_degraded=0.2, loss_down=0.5)
    r = icmp._judge(c, Host(), "192.0.2.1", 0.0, {})
    assert (r.status, r.error) == (Status.DEGRADED, "packet_loss")
    Host.packet_loss, Host.packets_received = 1.0, 0
    r = icmp._judge(c, Host(), "192.0.2.1", 0.0, {})
    assert (r.status, r.error) == (Status.DOWN, "packet_loss")
    assert r.reason.startswith("0/5 replies from h, loss 100%")
