"""The lab estate as data: namespaces, veth links, bridges, addresses and routes.

Nothing here touches the system; ``lab.netns`` applies a ``Topology`` with iproute2. Every
namespace is ``tn-<node>`` and every interface left in the root namespace starts with ``tn-``, so
``lab down`` finds its own things by name after a crash.

Addressing (all in 198.18.0.0/16, the lab's half of the RFC 2544 benchmarking range; 198.19.0.0/16
is left for ad-hoc test namespaces):

    198.18.0.0/30    root (tn-host .1)  <-> core .2     the host reaches the lab through this
    198.18.2.4n/30   core .4n+1         <-> site .4n+2  one WAN link per site
    198.18.1x.0/24   site LAN bridge lan0 (gateway .1), one known PC at .20
    198.18.2x.0/24   core .1            <-> data centre .10  (dc-main 21, dc-mirror 22)
    198.18.30.0/24   core .1            <-> front door .10   (HAProxy)
"""

from __future__ import annotations

from dataclasses import dataclass, field

PREFIX = "tn-"
LAB_NET = "198.18.0.0/16"
ROOT = ""  # the root (host) namespace in an ``End``

# Lab-only credentials: fake accounts on fake servers, published so configs and tests can use
# them; never reuse them anywhere real.
PORTAL_USER = "resident"
PORTAL_PASSWORD = "lab-only-not-a-secret"
SNMP_COMMUNITY = "tn-lab-ro"
SNMP_V3_USER = "tnlab"
SNMP_V3_AUTH = "tnlab-auth-pass"  # SHA
SNMP_V3_PRIV = "tnlab-priv-pass"  # AES-128
SNMP_TRAP_SINK = "198.18.0.1:162"


@dataclass(frozen=True)
class Node:
    """A namespace. ``role`` picks its services: dc -> portal+snmpd, front-door -> haproxy."""

    name: str
    role: str  # core | dc | front-door | site | host
    address: str  # the node's main address (no prefix length)
    forward: bool = False

    @property
    def ns(self) -> str:
        return PREFIX + self.name


@dataclass(frozen=True)
class End:
    ns: str  # namespace name, or ROOT
    dev: str  # <= 15 characters
    addr: str | None = None  # CIDR
    master: str | None = None  # bridge to enslave to, in the same namespace


@dataclass(frozen=True)
class Link:
    """A veth pair; ``name`` is what faults and ``status`` call it (the far node's name)."""

    name: str
    a: End
    b: End


@dataclass(frozen=True)
class Bridge:
    ns: str
    dev: str
    addr: str


@dataclass(frozen=True)
class Route:
    ns: str
    dst: str
    via: str
    dev: str


@dataclass(frozen=True)
class Topology:
    nodes: tuple[Node, ...]
    links: tuple[Link, ...]
    bridges: tuple[Bridge, ...] = ()
    routes: tuple[Route, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)

    def node(self, name: str) -> Node:
        """A node by name, with or without the ``tn-`` prefix."""
        short = name.removeprefix(PREFIX)
        for node in self.nodes:
            if node.name == short:
                return node
        known = ", ".join(n.name for n in self.nodes if n.role != "host")
        raise KeyError(f"no lab node {name!r} (known: {known})")

    def by_role(self, role: str) -> list[Node]:
        return [n for n in self.nodes if n.role == role]

    def link(self, name: str) -> Link:
        return next(link for link in self.links if link.name == name)

    def namespaces(self) -> list[str]:
        return [n.ns for n in self.nodes]

    def ends(self) -> list[End]:
        return [end for link in self.links for end in (link.a, link.b)]


SITES = ("lib-grays", "hub-tilbury", "depot")
DCS = ("dc-main", "dc-mirror")
CORE = "core"
FRONT_DOOR = "front-door"
HOST_ADDR = "198.18.0.1"
CORE_HOST_ADDR = "198.18.0.2"


def site_addresses(index: int) -> dict[str, str]:
    """Addresses of the ``index``-th site (0-based): WAN gateway (core side), WAN, LAN."""
    base = 4 * index
    lan = 11 + index
    return {
        "gateway": f"198.18.2.{base + 1}",
        "wan": f"198.18.2.{base + 2}",
        "lan_gateway": f"198.18.{lan}.1",
        "lan": f"198.18.{lan}.0/24",
        "pc": f"198.18.{lan}.20",
    }


def dc_address(index: int) -> tuple[str, str]:
    """(core side, data centre) addresses of the ``index``-th data centre (0-based)."""
    return f"198.18.{21 + index}.1", f"198.18.{21 + index}.10"


FRONT_DOOR_ADDR = "198.18.30.10"


def _core_link(name: str, core_addr: str, peer_addr: str, plen: int, peer_dev: str) -> Link:
    return Link(
        name,
        End(PREFIX + CORE, f"to-{name}", f"{core_addr}/{plen}"),
        End(PREFIX + name, peer_dev, f"{peer_addr}/{plen}"),
    )


def estate(sites: tuple[str, ...] = SITES, dcs: tuple[str, ...] = DCS) -> Topology:
    """The miniature council estate: a core router, data centres, a front door and sites."""
    core = PREFIX + CORE
    nodes = [Node(CORE, "core", CORE_HOST_ADDR, forward=True)]
    host = Link(
        "host",
        End(ROOT, "tn-host", f"{HOST_ADDR}/30"),
        End(core, "to-host", f"{CORE_HOST_ADDR}/30"),
    )
    links = [host]
    routes = [Route(ROOT, LAB_NET, CORE_HOST_ADDR, "tn-host")]
    bridges: list[Bridge] = []
    for i, dc in enumerate(dcs):
        core_addr, addr = dc_address(i)
        nodes.append(Node(dc, "dc", addr))
        links.append(_core_link(dc, core_addr, addr, 24, "eth0"))
        routes.append(Route(PREFIX + dc, "default", core_addr, "eth0"))
    nodes.append(Node(FRONT_DOOR, "front-door", FRONT_DOOR_ADDR))
    links.append(_core_link(FRONT_DOOR, "198.18.30.1", FRONT_DOOR_ADDR, 24, "eth0"))
    routes.append(Route(PREFIX + FRONT_DOOR, "default", "198.18.30.1", "eth0"))
    for i, site in enumerate(sites):
        a = site_addresses(i)
        ns, pc = PREFIX + site, f"{site}-pc"
        nodes.append(Node(site, "site", a["wan"], forward=True))
        nodes.append(Node(pc, "host", a["pc"]))
        links.append(_core_link(site, a["gateway"], a["wan"], 30, "wan0"))
        bridges.append(Bridge(ns, "lan0", f"{a['lan_gateway']}/24"))
        links.append(
            Link(pc, End(PREFIX + pc, "eth0", f"{a['pc']}/24"), End(ns, "pc0", master="lan0"))
        )
        routes.append(Route(ns, "default", a["gateway"], "wan0"))
        routes.append(Route(core, a["lan"], a["wan"], f"to-{site}"))
        routes.append(Route(PREFIX + pc, "default", a["lan_gateway"], "eth0"))
    return Topology(tuple(nodes), tuple(links), tuple(bridges), tuple(routes))


def check(topo: Topology) -> list[str]:
    """Problems that would make iproute2 fail half-way: long names, duplicate devices."""
    problems: list[str] = []
    seen: set[tuple[str, str]] = set()
    devs = [(e.ns, e.dev) for e in topo.ends()] + [(b.ns, b.dev) for b in topo.bridges]
    for ns, dev in devs:
        if len(dev) > 15:
            problems.append(f"interface name {dev!r} in {ns or 'root'} is over 15 characters")
        if (ns, dev) in seen:
            problems.append(f"interface {dev!r} defined twice in {ns or 'root'}")
        seen.add((ns, dev))
    for end in topo.ends():
        if end.ns == ROOT and not end.dev.startswith(PREFIX):
            problems.append(f"root interface {end.dev!r} must start with {PREFIX!r}")
    return problems
