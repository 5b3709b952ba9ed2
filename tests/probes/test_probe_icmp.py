"""icmp probe: pings 127.0.0.1 only."""

from __future__ import annotations

import json
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


async def test_every_address_of_a_name_is_pinged_in_turn(dns_port: int) -> None:
    # www.test on the loopback DNS server: AAAA ::1, A 127.0.0.1 and 127.0.0.2
    require(_icmp_allowed(), "needs root or net.ipv4.ping_group_range covering our group")
    base = {"type": "icmp", "name": "i", "host": "www.test", "resolver": f"127.0.0.1:{dns_port}"}
    c = icmp.Config.model_validate({**base, "count": 2, "packet_interval": 0.05})
    r = await icmp.probe(c, timeout=3)
    assert (r.status, r.details["address"]) == (Status.UP, "::1"), r
    assert "failed_addresses" not in r.details
    r = await icmp.probe(c.model_copy(update={"ip_protocol": "ipv4"}), timeout=3)
    assert r.status is Status.UP and r.details["address"].startswith("127.0.0."), r


_PINGS = """
import asyncio, json
from threenines.probes import icmp

async def main():
    out = {}
    for name, kw in {"auto": {}, "ipv6_only": {"ip_protocol": "ipv6",
                                               "ip_protocol_fallback": False}}.items():
        c = icmp.Config.model_validate({"type": "icmp", "name": "i", "host": "dual.test",
                                        "count": 2, "packet_interval": 0.05, **kw})
        r = await icmp.probe(c, timeout=3)
        out[name] = [r.status.value, r.error, r.reason, dict(r.details)]
    print(json.dumps(out, default=str))

asyncio.run(main())
"""


@pytest.mark.root
def test_dual_stack_name_whose_ipv6_does_not_answer(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """dual.test -> ::1 and 127.0.0.1 in a private network and mount namespace (its own lo,
    its own /etc/hosts; gone when the process ends) whose echo requests to ::1 are dropped.
    Measured before: ``up``, "0/0 replies" (icmplib counts a refused send as not sent)."""
    import subprocess
    import sys
    import textwrap

    from conftest import require_command, require_root

    require_root()
    require_command("unshare", "mount", "ip", "ip6tables")
    hosts = tmp_path / "hosts"
    hosts.write_text("::1 dual.test\n127.0.0.1 dual.test\n")
    script = tmp_path / "pings.py"
    script.write_text(textwrap.dedent(_PINGS))
    inner = (
        "ip link set lo up && ip6tables -A OUTPUT -p icmpv6 --icmpv6-type echo-request -j DROP"
        f' && mount --bind {hosts} /etc/hosts && exec "$@"'
    )
    cmd = ["unshare", "-m", "-n", "sh", "-c", inner, "sh", sys.executable, str(script)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=30, env=dict(os.environ))
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout)
    status, error, _reason, details = got["auto"]
    assert (status, error, details["address"]) == ("up", None, "127.0.0.1"), got
    assert [f["address"] for f in details["failed_addresses"]] == ["::1"], got
    status, error, _reason, details = got["ipv6_only"]
    assert (status, error, details["address"]) == ("down", "unreachable", "::1"), got
