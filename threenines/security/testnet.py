"""A throw-away network-namespace topology for the security tests and benchmark (root only).

One bridge in the calling namespace (the "monitor", holding ``<prefix>.1``) and any number of
namespaces plugged into it, each with one or more addresses. Everything is named with a per-run
tag, and ``down`` removes all of it. Addresses are confined to 198.18.0.0/15 (RFC 2544
benchmarking space), so a mistake can never send traffic anywhere real.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import subprocess
from dataclasses import dataclass, field
from typing import Any

LAB_SPACE = ipaddress.IPv4Network("198.18.0.0/15")


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=20)


@dataclass
class TestNet:
    """``prefix`` is the first three octets of a /24 inside 198.18.0.0/15."""

    __test__ = False  # not a pytest test class, despite the name

    prefix: str = field(default_factory=lambda: free_prefix())
    tag: str = field(default_factory=lambda: secrets.token_hex(2))
    hosts: dict[str, str] = field(default_factory=dict)  # role -> namespace name
    _n: int = 0

    def __post_init__(self) -> None:
        if ipaddress.IPv4Network(f"{self.prefix}.0/24").subnet_of(LAB_SPACE) is False:
            raise ValueError(f"{self.prefix}.0/24 is outside 198.18.0.0/15")

    @property
    def bridge(self) -> str:
        return f"tsb{self.tag}"

    @property
    def cidr(self) -> str:
        return f"{self.prefix}.0/24"

    def addr(self, last: int) -> str:
        return f"{self.prefix}.{last}"

    def up(self) -> TestNet:
        if os.geteuid() != 0:
            raise PermissionError("TestNet needs root (network namespaces)")
        _ip("link", "add", self.bridge, "type", "bridge")
        _ip("addr", "add", f"{self.addr(1)}/24", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")
        return self

    def add_host(self, role: str, lasts: list[int], mac: str | None = None) -> str:
        """Plug a namespace named after ``role`` into the bridge with the given addresses."""
        ns, self._n = f"tns{self.tag}-{role}", self._n + 1
        outer, inner = f"tsv{self.tag}{self._n:02d}", f"tsp{self.tag}{self._n:02d}"
        _ip("netns", "add", ns)
        self.hosts[role] = ns
        _ip("link", "add", outer, "type", "veth", "peer", "name", inner)
        _ip("link", "set", inner, "netns", ns)
        _ip("-n", ns, "link", "set", inner, "name", "eth0")
        if mac:
            _ip("-n", ns, "link", "set", "eth0", "address", mac)
        for last in lasts:
            _ip("-n", ns, "addr", "add", f"{self.addr(last)}/24", "dev", "eth0")
        _ip("-n", ns, "link", "set", "lo", "up")
        _ip("-n", ns, "link", "set", "eth0", "up")
        _ip("link", "set", outer, "master", self.bridge)
        _ip("link", "set", outer, "up")
        return ns

    def assert_routed(self, address: str) -> None:
        """Refuse to go on unless ``address`` is reached through this bridge (never elsewhere)."""
        out = _ip("-4", "route", "get", address).stdout
        if f" dev {self.bridge} " not in out + " ":
            raise RuntimeError(f"{address} does not route via {self.bridge}: {out.strip()}")

    def mac(self, role: str) -> str:
        out = _ip("-n", self.hosts[role], "-br", "link", "show", "eth0").stdout.split()
        return out[2].lower()

    def remove_host(self, role: str) -> None:
        ns = self.hosts.pop(role, None)
        if ns:
            _kill_ns_processes(ns)
            _ip("netns", "del", ns, check=False)

    def popen(self, role: str, argv: list[str], **kw: Any) -> subprocess.Popen[bytes]:
        kw.setdefault("stdout", subprocess.DEVNULL)
        kw.setdefault("stderr", subprocess.DEVNULL)
        return subprocess.Popen(["ip", "netns", "exec", self.hosts[role], *argv], **kw)

    def down(self) -> None:
        for role in list(self.hosts):
            self.remove_host(role)
        _ip("link", "del", self.bridge, check=False)

    def __enter__(self) -> TestNet:
        return self.up()

    def __exit__(self, *_exc: object) -> None:
        self.down()


def free_prefix(first: int = 200, last: int = 239) -> str:
    """A 198.19.<n> /24 that no route covers yet (198.19.0.0/16 is for ad-hoc test namespaces;
    the lab uses 198.18.0.0/16), so concurrent test runs do not collide."""
    routes = _ip("-4", "route", "show", "table", "all").stdout
    taken = {int(m) for m in re.findall(r"198\.19\.(\d+)\.", routes)}
    choices = [n for n in range(first, last + 1) if n not in taken]
    if not choices:
        raise RuntimeError("no free 198.19.x.0/24 for a test network")
    return f"198.19.{secrets.choice(choices)}"


def _kill_ns_processes(ns: str) -> None:
    pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True, check=False)
    for pid in pids.stdout.split():
        try:
            os.kill(int(pid), 9)
        except (ProcessLookupError, ValueError):
            pass
