"""The security section: valid config loads; anything that would scan outside scope is refused
at load with FILE:LINE path: message; the run-time guard refuses the same."""

from __future__ import annotations

import textwrap

import pytest

from threenines.app.config import parse_config
from threenines.core.config import ConfigError
from threenines.security.config import OutOfScope, Scope, format_ports, parse_ports

BASE = """\
sites: [{name: dc-main, kind: datacentre}]
security:
  sites:
    - site: dc-main
      subnets: [198.18.10.0/24]
      interface: tsb0
  protected: [{ip: 198.18.10.1, mac: "02:00:00:00:00:01"}]
  baselines: {roles: {server: "22,443"}}
"""


def load(extra: str) -> object:
    return parse_config(BASE + extra, "sec.yaml")


def problems(extra: str) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        load(extra)
    return [str(p) for p in exc.value.problems]


def test_valid_section_loads_and_parses_ports() -> None:
    cfg = load(
        textwrap.indent(
            textwrap.dedent("""\
      scans:
        - name: servers
          hosts: [198.18.10.10, 198.18.10.16/30]
          ports: "22,80,8000-8002"
          role: server
      posture:
        - {type: snmp, name: sw1, host: 198.18.10.2}
        - {type: tls, name: portal, host: portal.example.org}
        - {type: http, name: home, url: "https://www.example.org/"}
        - {type: dns, name: www, qname: www.example.org, expected: [192.0.2.1], resolver: 127.0.0.1}
    """),
            "  ",
        )
    )
    sec = cfg.security  # type: ignore[attr-defined]
    assert sec.scans[0].ports == (22, 80, 8000, 8001, 8002)
    assert sec.baselines.roles["server"] == (22, 443)
    assert [c.type for c in sec.posture] == ["snmp", "tls", "http", "dns"]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            "  scans: [{name: s, hosts: [198.18.99.5], ports: '22'}]\n",
            "sec.yaml:9 security.scans[0].hosts[0] (name=s): 198.18.99.5 is outside the "
            "configured CIDRs (any security.sites subnet); refusing to scan it",
        ),
        (
            "  scans: [{name: s, hosts: [8.8.8.8], ports: '22'}]\n",
            "sec.yaml:9 security.scans[0].hosts[0] (name=s): 8.8.8.8 is public address space: "
            "set allow_public: true to scan it",
        ),
        (
            "  scope: [81.2.69.0/24]\n",
            "sec.yaml:9 security.scope[0]: 81.2.69.0/24 is public: set allow_public: true to "
            "scan it",
        ),
        (
            "  posture: [{type: snmp, name: x, host: 10.1.1.1}]\n",
            "sec.yaml:9 security.posture[0].host (name=x): 10.1.1.1 is outside the configured "
            "CIDRs (any security.sites subnet); refusing to try communities on it",
        ),
        (
            "  scans: [{name: s, hosts: [198.18.10.5], ports: '22-70000'}]\n",
            "sec.yaml:9 security.scans[0].ports (name=s): '22-70000': ports are 1-65535, "
            "ranges low-high",
        ),
        (
            "  scans: [{name: s, hosts: [198.18.10.5], ports: '22', role: web}]\n",
            "sec.yaml:9 security.scans[0].role (name=s): no baseline for role 'web'",
        ),
        (
            "  inventory: [{name: pc, mac: 'zz:00'}]\n",
            "sec.yaml:9 security.inventory[0].mac (name=pc): 'zz:00' is not a MAC address "
            "(aa:bb:cc:dd:ee:ff)",
        ),
        (
            "  protected_ips: []\n",
            "sec.yaml:9 security.protected_ips: unknown key (check the spelling)",
        ),
    ],
)
def test_refused_at_load(extra: str, expected: str) -> None:
    assert expected in problems(extra)


def test_subnet_outside_explicit_scope_and_public_subnet() -> None:
    text = BASE.replace("subnets: [198.18.10.0/24]", "subnets: [198.18.10.0/24, 9.9.9.0/24]")
    with pytest.raises(ConfigError) as exc:
        parse_config(text + "  scope: [198.18.10.0/24]\n", "s.yaml")
    assert [str(p) for p in exc.value.problems] == [
        "s.yaml:5 security.sites[0].subnets[1]: 9.9.9.0/24 is public address space: "
        "set allow_public: true to sweep it"
    ]
    ok = parse_config(text + "  scope: [198.18.10.0/24, 9.9.9.0/24]\n  allow_public: true\n")
    assert ok.security.guard().contains("9.9.9.9")


def test_runtime_guard() -> None:
    guard = Scope.__new__(Scope)
    guard.__init__(tuple(load("").security.scope_networks()))  # type: ignore[attr-defined]
    guard.require(["198.18.10.1", "198.18.10.254"])
    for bad in (["198.18.11.1"], ["8.8.8.8"], ["not-an-ip"]):
        with pytest.raises(OutOfScope):
            guard.require(bad)


def test_ports_round_trip() -> None:
    ports = parse_ports("443, 22,80-82,81")
    assert ports == (22, 80, 81, 82, 443)
    assert format_ports(ports) == "22,80-82,443"
    with pytest.raises(ValueError):
        parse_ports("ssh")
