"""The ``security:`` config section, and the safety rules that keep scans inside their scope.

Safety is checked at load (``cross_check``) and again at run time (``Scope.require``): every
address an ARP sweep, port scan or SNMP community check touches must lie inside the configured
CIDRs (``scope``, or the site subnets when ``scope`` is empty), and public address space is
refused unless ``allow_public: true``. Network checks are IPv4 only (ARP is IPv4).
"""

from __future__ import annotations

import ipaddress
import re
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import AfterValidator, BeforeValidator, Field, PlainSerializer, WithJsonSchema

from threenines.core.config.base import Name, StrictModel
from threenines.core.durations import Duration
from threenines.security import posture_dns, posture_http, posture_snmp, posture_tls

Loc = tuple[str | int, ...]
POSTURE = {"tls": posture_tls, "http": posture_http, "snmp": posture_snmp, "dns": posture_dns}
MAX_SWEEP_ADDRESSES = 65536  # a /16: bigger ARP sweeps are a mistake, not a plan
MAX_SCAN_HOSTS = 4096  # per scan target

if TYPE_CHECKING:
    from threenines.core.config.schema import Config

    PostureCheck = Any
else:
    PostureCheck = Annotated[
        Union[tuple(m.Config for m in POSTURE.values())],  # noqa: UP007
        Field(discriminator="type"),
    ]


def _network(value: str) -> str:
    try:
        net = ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        raise ValueError(f"{value!r} is not an IPv4 address or CIDR") from None
    if net.version != 4:
        raise ValueError(f"{value!r}: network checks are IPv4 only")
    return str(net)


def _ipv4(value: str) -> str:
    try:
        return str(ipaddress.IPv4Address(str(value)))
    except ValueError:
        raise ValueError(f"{value!r} is not an IPv4 address") from None


def _mac(value: str) -> str:
    text = str(value).strip().lower().replace("-", ":")
    if not re.fullmatch(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}", text):
        raise ValueError(f"{value!r} is not a MAC address (aa:bb:cc:dd:ee:ff)")
    return text


def parse_ports(value: Any) -> tuple[int, ...]:
    """``"22,80,8000-8100"`` or ``[22, "80-81"]`` -> sorted unique ports; ValueError if bad."""
    parts = value if isinstance(value, list | tuple) else str(value).split(",")
    ports: set[int] = set()
    for part in parts:
        text = str(part).strip()
        lo, sep, hi = text.partition("-")
        if not lo.isdigit() or (sep and not hi.isdigit()):
            raise ValueError(f"{text!r} is not a port or range (e.g. 22, 8000-8100)")
        a, b = int(lo), int(hi) if sep else int(lo)
        if not 1 <= a <= b <= 65535:
            raise ValueError(f"{text!r}: ports are 1-65535, ranges low-high")
        ports.update(range(a, b + 1))
    return tuple(sorted(ports))


def format_ports(ports: tuple[int, ...]) -> str:
    out: list[str] = []
    for p in ports:
        if out and "-" in out[-1] and int(out[-1].split("-")[1]) == p - 1:
            out[-1] = f"{out[-1].split('-')[0]}-{p}"
        elif out and out[-1].isdigit() and int(out[-1]) == p - 1:
            out[-1] = f"{out[-1]}-{p}"
        else:
            out.append(str(p))
    return ",".join(out)


Network = Annotated[str, AfterValidator(_network)]
IPv4 = Annotated[str, AfterValidator(_ipv4)]
Mac = Annotated[str, AfterValidator(_mac)]
_PORT_LIST = r"^\s*\d+(\s*-\s*\d+)?(\s*,\s*\d+(\s*-\s*\d+)?)*\s*$"
Ports = Annotated[
    tuple[int, ...],
    BeforeValidator(parse_ports),
    PlainSerializer(format_ports, return_type=str),
    WithJsonSchema(  # what parse_ports accepts (it alone checks the ranges' order)
        {
            "anyOf": [
                {"type": "string", "pattern": _PORT_LIST},
                {"type": "integer", "minimum": 1, "maximum": 65535},
                {
                    "type": "array",
                    "items": {
                        "anyOf": [
                            {"type": "integer", "minimum": 1, "maximum": 65535},
                            {"type": "string", "pattern": r"^\s*\d+(\s*-\s*\d+)?\s*$"},
                        ]
                    },
                },
            ]
        },
        mode="validation",
    ),
]


class PassiveArp(StrictModel):
    """Passive listening: each window is bounded in time and packets."""

    enabled: bool = False
    window: Duration = Field(30.0, gt=0, le=3600)
    max_packets: int = Field(10_000, ge=1, le=1_000_000)


class SecuritySite(StrictModel):
    site: Name
    subnets: list[Network] = Field(min_length=1)
    interface: str | None = Field(None, description="Interface facing the subnets (ARP)")
    sweep: bool = True
    passive: PassiveArp = Field(default_factory=PassiveArp)


class InventoryDevice(StrictModel):
    name: Name
    ip: IPv4 | None = None
    mac: Mac | None = None
    site: Name | None = None


class Protected(StrictModel):
    """A gateway or server whose IP must keep answering from one MAC (learned if not given)."""

    ip: IPv4
    mac: Mac | None = None
    name: str = ""


class Spoofing(StrictModel):
    gratuitous_burst: int = Field(5, ge=2, description="Gratuitous ARPs from one MAC ...")
    gratuitous_window: Duration = Field(10.0, gt=0, description="... within this window")


class AuthFailures(StrictModel):
    """SNMP authenticationFailure traps (stored as events by the trap receiver), per source."""

    threshold: int = Field(5, ge=1, description="Traps from one source within the window ...")
    window: Duration = Field(900.0, gt=0, description="... that make a finding")


class ScanTarget(StrictModel):
    name: Name
    hosts: list[Network] = Field(min_length=1)
    ports: Ports
    role: Name | None = Field(None, description="Baseline role (else per-host baselines)")
    site: Name | None = None
    method: Literal["auto", "syn", "connect"] = "auto"
    interface: str | None = Field(
        None, description="SYN scans refuse hosts that do not route via this interface"
    )


class Baselines(StrictModel):
    roles: dict[Name, Ports] = Field(default_factory=dict)
    hosts: dict[IPv4, Ports] = Field(default_factory=dict)


class SecurityConfig(StrictModel):
    scope: list[Network] = Field(
        default_factory=list,
        description="CIDRs active checks may touch (default: the site subnets)",
    )
    allow_public: bool = Field(False, description="Allow public address space in scope")
    interface: str | None = None
    rate: float = Field(500.0, gt=0, le=50_000, description="Packets (or connects) per second")
    concurrency: int = Field(100, ge=1, le=2000, description="Connect-scan parallelism")
    reply_timeout: Duration = Field(1.0, gt=0, le=30)
    sweep_interval: Duration = Field(300.0, gt=0)
    scan_interval: Duration = Field(3600.0, gt=0)
    posture_interval: Duration = Field(3600.0, gt=0)
    sites: list[SecuritySite] = Field(default_factory=list)
    inventory: list[InventoryDevice] = Field(default_factory=list)
    protected: list[Protected] = Field(default_factory=list)
    spoofing: Spoofing = Field(default_factory=Spoofing)
    auth_failures: AuthFailures = Field(default_factory=AuthFailures)
    scans: list[ScanTarget] = Field(default_factory=list)
    baselines: Baselines = Field(default_factory=Baselines)
    posture: list[PostureCheck] = Field(default_factory=list)

    def scope_networks(self) -> list[ipaddress.IPv4Network]:
        nets = self.scope or [n for s in self.sites for n in s.subnets]
        return [ipaddress.IPv4Network(n) for n in nets]

    def guard(self) -> Scope:
        return Scope(tuple(self.scope_networks()), self.allow_public)


class OutOfScope(ValueError):
    """Raised when code is asked to touch an address outside the configured scope."""


class Scope:
    """Run-time guard: every address an active check sends to passes ``require`` first."""

    def __init__(self, networks: tuple[ipaddress.IPv4Network, ...], allow_public: bool = False):
        self.networks = networks
        self.allow_public = allow_public

    def contains(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        inside = any(ip in n for n in self.networks)
        return inside and (self.allow_public or not is_public(str(ip)))

    def require(self, addresses: list[str]) -> None:
        bad = [a for a in addresses if not self.contains(a)]
        if bad:
            raise OutOfScope(f"refusing to touch {len(bad)} address(es) outside scope: {bad[:5]}")


def is_public(cidr: str) -> bool:
    """True unless the network is private, loopback or link-local (100.64/10 counts as public)."""
    net = ipaddress.ip_network(cidr, strict=False)
    return not (net.is_private or net.is_loopback or net.is_link_local)


def hosts_of(cidrs: list[str]) -> list[str]:
    """Addresses to probe: a single address stays itself; networks lose network/broadcast."""
    out: list[str] = []
    for c in cidrs:
        net = ipaddress.IPv4Network(c)
        out += [str(net.network_address)] if net.num_addresses == 1 else map(str, net.hosts())
    return out


def cross_check(sec: SecurityConfig, site_names: set[str]) -> list[tuple[Loc, str]]:
    """Load-time problems in the ``security`` section, each with its loc under ``security``."""
    out: list[tuple[Loc, str]] = []
    base: Loc = ("security",)
    scope = sec.scope_networks()

    def outside(loc: Loc, cidr: str, what: str) -> None:
        net = ipaddress.IPv4Network(cidr)
        cidr = str(net.network_address) if net.prefixlen == 32 else cidr
        if is_public(cidr) and not sec.allow_public:
            out.append((loc, f"{cidr} is public address space: set allow_public: true to {what}"))
        elif not any(net.subnet_of(s) for s in scope):
            where = "security.scope" if sec.scope else "any security.sites subnet"
            out.append(
                (loc, f"{cidr} is outside the configured CIDRs ({where}); refusing to {what}")
            )

    for i, cidr in enumerate(sec.scope):
        if is_public(cidr) and not sec.allow_public:
            out.append(
                ((*base, "scope", i), f"{cidr} is public: set allow_public: true to scan it")
            )
    for i, site in enumerate(sec.sites):
        loc = (*base, "sites", i)
        if site_names and site.site not in site_names:
            out.append(((*loc, "site"), f"unknown site {site.site!r}"))
        for j, cidr in enumerate(site.subnets):
            outside((*loc, "subnets", j), cidr, "sweep it")
            if ipaddress.IPv4Network(cidr).num_addresses > MAX_SWEEP_ADDRESSES:
                out.append(((*loc, "subnets", j), f"{cidr} is larger than a /16; split it"))
    for i, scan in enumerate(sec.scans):
        for j, cidr in enumerate(scan.hosts):
            outside((*base, "scans", i, "hosts", j), cidr, "scan it")
        if len(hosts_of(scan.hosts)) > MAX_SCAN_HOSTS:
            out.append(((*base, "scans", i, "hosts"), f"more than {MAX_SCAN_HOSTS} hosts"))
        if scan.role and scan.role not in sec.baselines.roles:
            out.append(((*base, "scans", i, "role"), f"no baseline for role {scan.role!r}"))
    for i, check in enumerate(sec.posture):
        if isinstance(check, posture_snmp.Config):
            outside((*base, "posture", i, "host"), _network(check.host), "try communities on it")
    subnets = [ipaddress.IPv4Network(n) for s in sec.sites for n in s.subnets]
    for i, p in enumerate(sec.protected):
        if not any(ipaddress.IPv4Network(p.ip).subnet_of(n) for n in subnets):
            out.append(((*base, "protected", i, "ip"), f"{p.ip} is in no security.sites subnet"))
    out += _dups((*base, "scans"), [s.name for s in sec.scans])
    out += _dups((*base, "posture"), [c.name for c in sec.posture])
    return out


def _dups(base: Loc, names: list[str]) -> list[tuple[Loc, str]]:
    seen: set[str] = set()
    out: list[tuple[Loc, str]] = []
    for i, name in enumerate(names):
        if name in seen:
            out.append(((*base, i, "name"), f"duplicate name {name!r}"))
        seen.add(name)
    return out


def security_config(cfg: Config) -> SecurityConfig:
    """The ``security`` section of a composed configuration."""
    return cfg.section("security", SecurityConfig)
