"""Each fault kind takes effect, hits only what it names, is listed, and clears.

Root only. Loss and latency are measured with ping counts and timings inside the lab (between a
site and its WAN gateway); nothing outside 198.18.0.0/16 is ever targeted.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable

import pytest

from threenines import lab
from threenines.lab import services, topology

pytestmark = [pytest.mark.slow, pytest.mark.root, pytest.mark.timeout(300)]

FRONT = f"http://{topology.FRONT_DOOR_ADDR}/health"
GATEWAY = {s: topology.site_addresses(i)["gateway"] for i, s in enumerate(topology.SITES)}


def ping_stats(ns: str, host: str, count: int, interval: str) -> tuple[float, float | None]:
    """(loss percent, average RTT ms or None) of ``count`` pings from ``ns`` to ``host``."""
    proc = lab.run_in(
        ns, ["ping", "-n", "-q", "-c", str(count), "-i", interval, "-W", "2", host], timeout=60
    )
    loss = re.search(r"([\d.]+)% packet loss", proc.stdout)
    rtt = re.search(r"= [\d.]+/([\d.]+)/", proc.stdout)
    if loss is None:  # "connect: Network is unreachable": no route at all
        assert "unreachable" in proc.stderr, proc.stdout + proc.stderr
        return 100.0, None
    return float(loss.group(1)), float(rtt.group(1)) if rtt else None


def reaches(ns: str, host: str) -> bool:
    return ping_stats(ns, host, 2, "0.2")[0] < 100


def eventually(check: Callable[[], bool], timeout: float = 45.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def served_by(dc: str) -> Callable[[], bool]:
    return lambda: services.health(FRONT, timeout=1.0) == dc


def tcp_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


@pytest.fixture(autouse=True)
def no_fault_left(lab_estate):
    """A failing test must not leave its fault for the next one."""
    yield
    lab.fault_clear(state=lab_estate)


def test_link_down_isolates_exactly_one_site(lab_estate) -> None:
    fault = lab.fault_add("link-down", "lib-grays", state=lab_estate)
    assert [f.id for f in lab.fault_list(lab_estate)] == [fault.id]
    assert not reaches("lib-grays", GATEWAY["lib-grays"])
    assert not reaches("lib-grays", topology.FRONT_DOOR_ADDR)
    assert reaches("hub-tilbury", topology.FRONT_DOOR_ADDR)
    assert reaches("depot", topology.FRONT_DOOR_ADDR)
    assert not reaches("core", topology.site_addresses(0)["wan"])  # the centre sees it too
    # `lab up` while the fault is active must not silently repair the link
    lab.up(lab_estate)
    assert not reaches("lib-grays", GATEWAY["lib-grays"])
    assert lab.fault_clear(fault.id, state=lab_estate) == [fault]
    assert reaches("lib-grays", topology.FRONT_DOOR_ADDR)
    assert reaches("lib-grays-pc", topology.FRONT_DOOR_ADDR)  # routes restored too
    assert lab.fault_list(lab_estate) == []


def test_loss_drops_about_that_share_on_that_site_only(lab_estate) -> None:
    fault = lab.fault_add("loss", "hub-tilbury", "30%", state=lab_estate)
    try:
        loss, _ = ping_stats("hub-tilbury", GATEWAY["hub-tilbury"], 300, "0.005")
        assert 15 <= loss <= 48, loss  # 30 % of 300: more than 4 standard deviations either side
        other, _ = ping_stats("depot", GATEWAY["depot"], 100, "0.005")
        assert other == 0
    finally:
        lab.fault_clear(fault.id, state=lab_estate)
    after, _ = ping_stats("hub-tilbury", GATEWAY["hub-tilbury"], 100, "0.005")
    assert after <= 2


def test_latency_adds_delay_on_that_site_only(lab_estate) -> None:
    fault = lab.fault_add("latency", "depot", "200ms", state=lab_estate)
    try:
        loss, rtt = ping_stats("depot", GATEWAY["depot"], 4, "0.1")
        assert loss == 0 and rtt is not None and 195 <= rtt <= 400, rtt
        _, other = ping_stats("lib-grays", GATEWAY["lib-grays"], 4, "0.1")
        assert other is not None and other < 50
    finally:
        lab.fault_clear(fault.id, state=lab_estate)
    _, rtt = ping_stats("depot", GATEWAY["depot"], 4, "0.1")
    assert rtt is not None and rtt < 50


def test_service_stop_sends_users_to_the_mirror_backup(lab_estate) -> None:
    main = lab.ESTATE.node("dc-main").address
    assert eventually(served_by("dc-main"))
    fault = lab.fault_add("service-stop", "dc-main", "portal", state=lab_estate)
    try:
        assert not tcp_open(main, 80)
        assert eventually(served_by("dc-mirror"))
    finally:
        lab.fault_clear(fault.id, state=lab_estate)
    assert tcp_open(main, 80)
    assert eventually(served_by("dc-main"))


def test_dc_cut_takes_the_whole_data_centre_off_the_network(lab_estate) -> None:
    main = lab.ESTATE.node("dc-main").address
    fault = lab.fault_add("dc-cut", "dc-main", state=lab_estate)
    try:
        assert not reaches("depot", main)
        assert not tcp_open(main, 443)
        assert eventually(served_by("dc-mirror"))
        assert reaches("depot", lab.ESTATE.node("dc-mirror").address)
        # the data centre itself is still running, just unreachable
        assert services.health(f"http://{main}/health") is None
        assert lab.run_in("dc-main", ["ping", "-c1", "-W1", main]).returncode == 0
    finally:
        lab.fault_clear(fault.id, state=lab_estate)
    assert reaches("depot", main)
    assert eventually(served_by("dc-main"))


def test_faults_are_listed_refused_when_duplicate_and_cleared_all(lab_estate) -> None:
    a = lab.fault_add("link-down", "depot", state=lab_estate)
    b = lab.fault_add("latency", "hub-tilbury", "50ms", state=lab_estate)
    c = lab.fault_add("service-stop", "dc-mirror", "snmpd", state=lab_estate)
    with pytest.raises(lab.LabError, match="already active"):
        lab.fault_add("link-down", "depot", state=lab_estate)
    with pytest.raises(lab.LabError, match="already sets latency"):
        lab.fault_add("latency", "hub-tilbury", "80ms", state=lab_estate)
    assert [f.describe() for f in lab.fault_list(lab_estate)] == [
        "link-down depot",
        "latency hub-tilbury 50ms",
        "service-stop dc-mirror snmpd",
    ]
    with pytest.raises(lab.LabError, match="no active fault 999"):
        lab.fault_clear(999, state=lab_estate)
    cleared = lab.fault_clear(state=lab_estate)
    assert {f.id for f in cleared} == {a.id, b.id, c.id}
    assert lab.fault_list(lab_estate) == []
    info = lab.status(lab_estate)
    assert {link["state"] for link in info["links"]} == {"up"}
    assert ("tn-dc-mirror", "snmpd") in {(p["ns"], p["name"]) for p in info["processes"]}
    assert not [p for p in info["processes"] if p["name"].startswith("wanem")]
    assert reaches("depot", topology.FRONT_DOOR_ADDR)
