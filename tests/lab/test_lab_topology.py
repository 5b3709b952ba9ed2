"""The estate as data and the fault grammar: pure checks, no root, no system access."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from threenines.lab import database, faults, services, topology
from threenines.lab.state import LabError, State

LAB = ipaddress.ip_network("198.18.0.0/15")


@pytest.fixture(autouse=True)
def postgres_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """These checks are pure: PostgreSQL's binaries are taken as installed, whatever the host."""
    monkeypatch.setattr(database, "bindir", lambda: Path("/usr/lib/postgresql/15/bin"))


def test_estate_is_valid_and_uses_only_lab_addresses() -> None:
    topo = topology.estate()
    assert topology.check(topo) == []
    addrs = [e.addr for e in topo.ends() if e.addr] + [b.addr for b in topo.bridges]
    assert addrs and all(ipaddress.ip_interface(a).network.subnet_of(LAB) for a in addrs)
    for route in topo.routes:
        assert ipaddress.ip_address(route.via) in LAB
        assert route.dst == "default" or ipaddress.ip_network(route.dst).subnet_of(LAB)


def test_every_namespace_and_root_link_carries_the_prefix() -> None:
    topo = topology.estate()
    assert all(ns.startswith("tn-") for ns in topo.namespaces())
    assert [e.dev for e in topo.ends() if e.ns == topology.ROOT] == ["tn-host"]
    names = {n.name for n in topo.nodes}
    assert {"core", "dc-main", "dc-mirror", "front-door", *topology.SITES} <= names


def test_each_site_has_its_own_wan_link_to_the_core() -> None:
    topo = topology.estate()
    for site in topology.SITES:
        link = topo.link(site)
        assert {link.a.ns, link.b.ns} == {"tn-core", f"tn-{site}"}


def test_check_reports_long_and_duplicate_names() -> None:
    bad = topology.Topology(
        nodes=(),
        links=(
            topology.Link("x", topology.End("", "eth-far-too-long-name"), topology.End("n", "a")),
            topology.Link("y", topology.End("n", "a"), topology.End("", "tn-ok")),
        ),
    )
    problems = topology.check(bad)
    assert any("over 15 characters" in p for p in problems)
    assert any("defined twice" in p for p in problems)
    assert any("must start with 'tn-'" in p for p in problems)


@pytest.mark.parametrize(
    ("kind", "target", "value", "expected"),
    [
        ("link-down", "lib-grays", None, "link-down lib-grays"),
        ("link-down", "tn-depot", None, "link-down depot"),
        ("loss", "depot", "30%", "loss depot 30%"),
        ("loss", "depot", "12.5", "loss depot 12.5%"),
        ("latency", "hub-tilbury", "200ms", "latency hub-tilbury 200ms"),
        ("latency", "hub-tilbury", "1.5s", "latency hub-tilbury 1500ms"),
        ("service-stop", "dc-main", "portal", "service-stop dc-main portal"),
        ("service-stop", "front-door", "haproxy", "service-stop front-door haproxy"),
        ("dc-cut", "dc-mirror", None, "dc-cut dc-mirror"),
        ("service-stop", "dc-mirror", "postgres", "service-stop dc-mirror postgres"),
        ("replay-pause", "tn-dc-mirror", None, "replay-pause dc-mirror"),
    ],
)
def test_fault_requests_are_normalised(kind, target, value, expected) -> None:
    assert faults.parse(topology.estate(), kind, target, value).describe() == expected


@pytest.mark.parametrize(
    ("kind", "target", "value", "message"),
    [
        ("meteor", "depot", None, "unknown fault kind 'meteor'"),
        ("link-down", "atlantis", None, "no lab node 'atlantis'"),
        ("link-down", "dc-main", None, "link-down applies to lib-grays, hub-tilbury, depot"),
        ("dc-cut", "depot", None, "dc-cut applies to dc-main, dc-mirror; depot is a site"),
        ("loss", "depot", "0%", "percentage in (0, 100]"),
        ("loss", "depot", None, "percentage"),
        ("latency", "depot", "fast", "needs a duration"),
        ("latency", "depot", "90s", "between 0 and 60s"),
        (
            "service-stop",
            "dc-main",
            "nginx",
            "dc-main runs portal, snmpd, dns, postgres, heartbeat; which one?",
        ),
        (
            "service-stop",
            "dc-mirror",
            "heartbeat",
            "dc-mirror runs portal, snmpd, dns, postgres; which one?",
        ),  # the primary's writer
        ("link-down", "depot", "now", "takes no value"),
        ("replay-pause", "dc-main", None, "dc-main runs the primary database; standbys: dc-mirror"),
        ("replay-pause", "depot", None, "replay-pause applies to dc-main, dc-mirror"),
        ("replay-pause", "dc-mirror", "5s", "takes no value"),
    ],
)
def test_bad_fault_requests_say_why(kind, target, value, message) -> None:
    with pytest.raises(LabError, match=message.replace("(", r"\(").replace("]", r"\]")):
        faults.parse(topology.estate(), kind, target, value)


def test_without_postgresql_the_lab_has_no_database_and_says_so(monkeypatch) -> None:
    monkeypatch.setattr(database, "bindir", lambda: None)
    topo = topology.estate()
    assert services.names_for(topo, topo.node("dc-main")) == ["portal", "snmpd", "dns"]
    assert services.names_for(topo, topo.node("dc-mirror")) == ["portal", "snmpd", "dns"]
    assert database.describe(topo) == database.MISSING
    assert "/usr/lib/postgresql/*/bin" in database.MISSING
    with pytest.raises(LabError, match="no PostgreSQL binaries"):
        faults.parse(topo, "replay-pause", "dc-mirror", None)


def test_the_database_replicates_from_the_first_data_centre() -> None:
    topo = topology.estate()
    assert database.primary(topo).name == "dc-main"
    assert [n.name for n in topo.nodes if database.is_replica(topo, n)] == ["dc-mirror"]
    assert database.describe(topo) == (
        "PostgreSQL 15, database portal: primary dc-main 198.18.21.10:5432 "
        "-> hot standby dc-mirror 198.18.22.10:5432"
    )


def test_held_links_and_services_keep_faults_through_lab_up() -> None:
    active = [
        faults.Fault(1, "link-down", "depot"),
        faults.Fault(2, "dc-cut", "dc-main"),
        faults.Fault(3, "service-stop", "dc-mirror", "portal"),
        faults.Fault(4, "loss", "lib-grays", "5%"),
    ]
    assert faults.held_links(active) == {"tn-core/to-depot", "tn-core/to-dc-main"}
    assert faults.held_services(active) == {("dc-mirror", "portal")}


def test_haproxy_config_prefers_dc_main_with_dc_mirror_as_backup(tmp_path) -> None:
    text = services.haproxy_config(State(tmp_path), topology.estate())
    assert f"stats socket {tmp_path}/haproxy.sock mode 600 level admin" in text
    assert "server main 198.18.21.10:80 check\n" in text
    assert "server mirror 198.18.22.10:80 check backup" in text
    assert "server mirror 198.18.22.10:443 check port 80 backup" in text
    assert "bind 198.18.30.10:443" in text
