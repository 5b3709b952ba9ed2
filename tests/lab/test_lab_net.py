"""The lab comes up with every namespace, link and service, and traffic crosses the WAN links.

Root only; every address targeted is a lab address (198.18.0.0/16) created by the fixture.
"""

from __future__ import annotations

import re
import socket
import ssl
import subprocess
import sys

import dns.message
import dns.query
import dns.rcode
import httpx
import pytest
from conftest import require_command

from threenines import lab
from threenines.lab import database, services, topology

pytestmark = [pytest.mark.slow, pytest.mark.root, pytest.mark.timeout(300)]

FRONT = topology.FRONT_DOOR_ADDR
SYS_NAME = "1.3.6.1.2.1.1.5.0"  # numeric: Debian ships no MIB files by default
FETCH = """
import json, sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=5) as r:
    print(json.loads(r.read())["dc"])
"""


def fetch_from(ns: str, url: str) -> str:
    """The data centre that served ``url``, fetched from inside namespace ``ns``."""
    proc = lab.run_in(ns, [sys.executable, "-c", FETCH, url], timeout=30)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


# the portal's database (tests/lab/test_lab_database.py), when PostgreSQL is installed
DATABASE = (
    {("tn-dc-main", "postgres"), ("tn-dc-main", "heartbeat"), ("tn-dc-mirror", "postgres")}
    if database.bindir() is not None
    else set()
)


def ping(ns: str, host: str, count: int = 2) -> subprocess.CompletedProcess[str]:
    return lab.run_in(ns, ["ping", "-n", "-q", "-c", str(count), "-i", "0.2", "-W", "1", host])


def test_up_builds_every_namespace_link_and_service(lab_estate) -> None:
    info = lab.status(lab_estate)
    assert all(info["namespaces"].values()), info["namespaces"]
    assert {link["state"] for link in info["links"]} == {"up"}
    running = {(p["ns"], p["name"]) for p in info["processes"] if p["running"]}
    assert running == {
        ("tn-dc-main", "portal"),
        ("tn-dc-main", "snmpd"),
        ("tn-dc-main", "dns"),
        ("tn-dc-mirror", "portal"),
        ("tn-dc-mirror", "snmpd"),
        ("tn-dc-mirror", "dns"),
        ("tn-front-door", "haproxy"),
        *DATABASE,
    }
    assert info["faults"] == []


def test_up_again_is_idempotent(lab_estate) -> None:
    before = {(p["ns"], p["name"]): p["pid"] for p in lab.status(lab_estate)["processes"]}
    lab.up(lab_estate)
    after = {(p["ns"], p["name"]): p["pid"] for p in lab.status(lab_estate)["processes"]}
    assert after == before  # nothing restarted
    assert {link["state"] for link in lab.status(lab_estate)["links"]} == {"up"}


@pytest.mark.parametrize("site", topology.SITES)
def test_each_site_reaches_its_gateway_and_the_front_door(lab_estate, site: str) -> None:
    index = topology.SITES.index(site)
    gateway = topology.site_addresses(index)["gateway"]
    assert ping(site, gateway).returncode == 0
    assert fetch_from(site, f"http://{FRONT}/health") == "dc-main"


def test_site_pc_reaches_the_portal_through_its_site_router(lab_estate) -> None:
    assert fetch_from("depot-pc", f"http://{FRONT}/health") == "dc-main"


def test_host_logs_in_through_the_front_door_over_https(lab_estate) -> None:
    with httpx.Client(
        base_url=f"https://{FRONT}", verify=ssl.create_default_context(cafile=lab_estate.ca_file)
    ) as client:
        form = client.get("/login")
        assert form.status_code == 200
        assert form.headers["x-served-by"] == "dc-main"
        match = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert match
        data = {
            "csrf": match.group(1),
            "username": topology.PORTAL_USER,
            "password": topology.PORTAL_PASSWORD,
        }
        page = client.post("/login", data=data, follow_redirects=True)
        assert page.status_code == 200
        assert "Your account" in page.text
        assert client.post("/login", data={**data, "csrf": "forged"}).status_code == 403


def test_wrong_password_is_refused(lab_estate) -> None:
    with httpx.Client(base_url=f"http://{FRONT}") as client:
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
        assert token
        data = {"csrf": token.group(1), "username": "resident", "password": "wrong"}
        assert client.post("/login", data=data).status_code == 401
        assert client.get("/dashboard").status_code == 303


@pytest.mark.parametrize("dc", topology.DCS)
def test_snmpd_answers_v2c_and_v3(lab_estate, dc: str) -> None:
    require_command("snmpget")
    address = lab.ESTATE.node(dc).address
    v2c = ["snmpget", "-v2c", "-c", topology.SNMP_COMMUNITY, "-Oqv", "-t", "2", "-r", "1"]
    out = subprocess.run([*v2c, address, SYS_NAME], capture_output=True, text=True)
    assert out.stdout.strip().strip('"') == dc, out.stderr
    v3 = ["snmpget", "-v3", "-l", "authPriv", "-u", topology.SNMP_V3_USER, "-a", "SHA"]
    v3 += [
        "-A",
        topology.SNMP_V3_AUTH,
        "-x",
        "AES",
        "-X",
        topology.SNMP_V3_PRIV,
        "-Oqv",
        "-t",
        "2",
        "-r",
        "1",
    ]
    out = subprocess.run([*v3, address, SYS_NAME], capture_output=True, text=True)
    assert out.stdout.strip().strip('"') == dc, out.stderr


def _lookup(server: str, name: str, tcp: bool = False) -> tuple[str, list[str]]:
    query = dns.message.make_query(name, "A")
    send = dns.query.tcp if tcp else dns.query.udp
    reply = send(query, server, timeout=3)
    return dns.rcode.to_text(reply.rcode()), [r.to_text() for s in reply.answer for r in s]


@pytest.mark.parametrize("dc", topology.DCS)
def test_each_dc_serves_the_council_zone(lab_estate, dc: str) -> None:
    server = lab.ESTATE.node(dc).address
    assert _lookup(server, "portal.council.lab") == ("NOERROR", [FRONT])
    assert _lookup(server, "gw-depot.council.lab", tcp=True) == ("NOERROR", ["198.18.2.9"])
    assert _lookup(server, "nowhere.council.lab")[0] == "NXDOMAIN"
    assert _lookup(server, "example.org")[0] == "REFUSED"  # authoritative only, never recursive


def test_dns_follows_an_edited_zone_file(lab_estate) -> None:
    """How a security test simulates a hijacked record: edit the zone, the servers reload it."""
    zone = lab_estate.root / "dns" / "council.lab.zone"
    original = zone.read_text()
    try:
        zone.write_text(original.replace(f"portal A {FRONT}", "portal A 198.18.99.99"))
        assert _lookup("198.18.22.10", "portal.council.lab")[1] == ["198.18.99.99"]
    finally:
        zone.write_text(original)
    assert _lookup("198.18.22.10", "portal.council.lab")[1] == [FRONT]


def _haproxy(state: lab.State, command: str) -> str:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(str(state.haproxy_socket))
        sock.sendall(command.encode() + b"\n")
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode()


def test_haproxy_runtime_api_moves_users_to_the_mirror_and_back(lab_estate) -> None:
    """What the failover playbook does: main to maintenance, users land on dc-mirror."""
    stat = _haproxy(lab_estate, "show stat")
    assert "portal_http,main," in stat and "portal_http,mirror," in stat
    for backend in ("portal_http", "portal_https"):
        _haproxy(lab_estate, f"set server {backend}/main state maint")
    try:
        assert services.health(f"http://{FRONT}/health") == "dc-mirror"
        with httpx.Client(verify=ssl.create_default_context(cafile=lab_estate.ca_file)) as client:
            assert client.get(f"https://{FRONT}/health").json()["dc"] == "dc-mirror"
    finally:
        for backend in ("portal_http", "portal_https"):
            _haproxy(lab_estate, f"set server {backend}/main state ready")
    assert services.health(f"http://{FRONT}/health") == "dc-main"


def test_a_new_host_can_be_plugged_into_a_site_lan(lab_estate) -> None:
    lan = topology.site_addresses(2)  # depot
    ns = lab.attach_host("rogue", "depot", "198.18.13.99/24", mac="02:00:00:00:13:99")
    try:
        assert ping("rogue", lan["lan_gateway"]).returncode == 0
        assert ping("rogue", FRONT).returncode == 0  # routed on through the site's WAN link
        neigh = lab.run_in("depot", ["ip", "neigh", "show", "198.18.13.99"]).stdout
        assert "02:00:00:00:13:99" in neigh
    finally:
        lab.detach_host("rogue")
    assert ns not in lab.netns.namespaces()
