"""Name to addresses to one connected socket: every probe that resolves a name goes through here.

``resolve`` asks getaddrinfo once (the ``dns`` phase; an IP literal needs no lookup and no
thread hop) and keeps the addresses ``ip_protocol`` allows, ordered as RFC 8305 §4 says: the
families interleaved, the resolver's first family first. ``connect`` races them with Happy
Eyeballs: the next address starts when the one before fails or after ``HAPPY_EYEBALLS_DELAY``.

Why not ``asyncio.open_connection(host, happy_eyeballs_delay=..., interleave=1)`` itself: it
resolves the name again inside (no ``dns`` phase of its own, and a second lookup), and it
cannot say which addresses failed and how. So the addresses are resolved here and raced with
``asyncio.staggered.staggered_race``, the function ``open_connection`` uses for Happy Eyeballs;
the race is not re-implemented. Blackbox_exporter's ``preferred_ip_protocol`` and
``ip_protocol_fallback`` are ``ip_protocol`` and ``ip_protocol_fallback`` here, with ``auto``
(every address, both families) the default.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
from asyncio import staggered
from dataclasses import dataclass, field
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from threenines.core.config.base import StrictModel

IpProtocol = Literal["auto", "ipv4", "ipv6"]
HAPPY_EYEBALLS_DELAY = 0.25  # RFC 8305 §5's recommended Connection Attempt Delay
_FAMILY = {"ipv4": socket.AF_INET, "ipv6": socket.AF_INET6}


@functools.lru_cache(maxsize=256)
def resolver_address(value: str | None) -> tuple[str, int] | None:
    """``IP``, ``IP:PORT`` or ``[V6]:PORT`` as (ip, port); ValueError if it is none of them."""
    if value is None:
        return None
    host, port = value, "53"
    if value.startswith("[") and "]:" in value:
        host, port = value[1:].split("]:", 1)
    elif value.count(":") == 1:
        host, port = value.split(":")
    address = literal(host)
    if address is None or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"resolver {value!r} must be IP, IP:PORT or [IPv6]:PORT")
    return address, int(port)


def _check_resolver(value: str | None) -> str | None:
    resolver_address(value)
    return value


class AddressOptions(StrictModel):
    """The address fields of every check that connects to a host name."""

    ip_protocol: IpProtocol = Field(
        "auto",
        description="auto: every address of the name, IPv6 and IPv4 raced (Happy Eyeballs); "
        "ipv4/ipv6: that family only",
    )
    ip_protocol_fallback: bool = Field(
        True, description="With ipv4/ipv6: use the other family when the name has none of it"
    )
    resolver: Annotated[str | None, AfterValidator(_check_resolver)] = Field(
        None, description="IP[:PORT] of a DNS server to ask (A/AAAA) instead of the system's"
    )

    def resolve_with(self) -> tuple[IpProtocol, bool, tuple[str, int] | None]:
        return self.ip_protocol, self.ip_protocol_fallback, resolver_address(self.resolver)


@functools.lru_cache(maxsize=4096)
def literal(host: str) -> str | None:
    """``host`` as a normalised IP address, or None for a name."""
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


class NoAddress(socket.gaierror):
    """The name resolved, but to no address of the family asked for."""


async def resolve(
    host: str,
    port: int,
    ip_protocol: IpProtocol = "auto",
    fallback: bool = True,
    resolver: tuple[str, int] | None = None,
) -> list[str]:
    """The addresses to try, in order. Raises ``socket.gaierror`` (``NoAddress`` included)."""
    address = literal(host)
    if address is not None:
        return [address]  # an explicit address is used as written, whatever ip_protocol says
    if resolver is not None:
        addresses = await _ask(resolver, host, ip_protocol, fallback)
    else:
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise NoAddress(socket.EAI_NODATA, "no A or AAAA record")
    if ip_protocol == "auto":
        return interleave(addresses)
    family = _FAMILY[ip_protocol]
    wanted = [a for a in addresses if _family(a) == family]
    if wanted:
        return wanted
    if fallback and addresses:
        return interleave(addresses)
    other = "IPv4" if ip_protocol == "ipv4" else "IPv6"
    raise NoAddress(socket.EAI_NONAME, f"no {other} address (ip_protocol {ip_protocol})")


async def _ask(
    resolver: tuple[str, int], host: str, ip_protocol: IpProtocol, fallback: bool
) -> list[str]:
    """AAAA then A from one DNS server (dnspython), as getaddrinfo would order loopback."""
    import dns.asyncresolver
    import dns.exception
    import dns.resolver

    ask = dns.asyncresolver.Resolver(configure=False)
    ask.nameservers, ask.port = [resolver[0]], resolver[1]
    types = {"auto": ["AAAA", "A"], "ipv4": ["A"], "ipv6": ["AAAA"]}[ip_protocol]
    if ip_protocol != "auto" and fallback:
        types += ["AAAA" if ip_protocol == "ipv4" else "A"]
    out: list[str] = []
    for rdtype in types:
        if out and ip_protocol != "auto":
            break  # the family asked for answered: no fallback needed
        failed: socket.gaierror | None = None  # raised outside ``except``: no DNS context
        try:
            answer = await ask.resolve(host, rdtype, raise_on_no_answer=False, search=False)
        except dns.resolver.NXDOMAIN:
            failed = socket.gaierror(socket.EAI_NONAME, f"NXDOMAIN from {resolver[0]}")
        except dns.exception.DNSException as exc:
            why = f"{resolver[0]}:{resolver[1]}: {type(exc).__name__}"
            failed = socket.gaierror(socket.EAI_AGAIN, why)
        if failed is not None:
            raise failed
        out += [str(r) for r in answer]
    return out


def interleave(addresses: list[str]) -> list[str]:
    """RFC 8305 §4: alternate the families, starting with the resolver's first choice."""
    if len(addresses) < 2:
        return addresses
    first = _family(addresses[0])
    same = [a for a in addresses if _family(a) == first]
    other = [a for a in addresses if _family(a) != first]
    out: list[str] = []
    for i in range(max(len(same), len(other))):
        out += same[i : i + 1] + other[i : i + 1]
    return out


def _family(address: str) -> int:
    return socket.AF_INET6 if ":" in address else socket.AF_INET


@dataclass
class Attempts:
    """Which address answered, and how each one tried before it failed."""

    address: str | None = None
    failed: list[tuple[str, BaseException]] = field(default_factory=list)

    def summary(self) -> list[dict[str, str]]:
        return [{"address": a, "error": describe(e)} for a, e in self.failed]


class AllFailed(OSError):
    """Every address failed; ``errno`` and the cause are those of the first address tried."""

    def __init__(self, attempts: Attempts):
        first = attempts.failed[0][1]
        errno = first.errno if isinstance(first, OSError) else None
        super().__init__(errno, "; ".join(f"{a}: {describe(e)}" for a, e in attempts.failed))
        self.attempts = attempts
        self.__cause__ = first


def describe(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


async def connect(
    addresses: list[str], port: int, attempts: Attempts, delay: float = HAPPY_EYEBALLS_DELAY
) -> socket.socket:
    """A connected non-blocking socket to the first address that answers.

    Fills ``attempts``; raises ``AllFailed`` (an OSError whose cause is the first address's
    error) when none does. One address needs no race and no task.
    """
    if len(addresses) == 1:  # no race: one coroutine less (a probe's CPU is counted)
        address = addresses[0]
        sock = socket.socket(_family(address), socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, (address, port))
        except OSError as exc:
            sock.close()
            attempts.failed.append((address, exc))
            raise AllFailed(attempts) from exc
        except BaseException:
            sock.close()
            raise
        attempts.address = address
        return sock
    fns = [functools.partial(_attempt, a, port) for a in addresses]
    sock, index, errors = await staggered.staggered_race(fns, delay)
    attempts.failed += [
        (a, e)
        for a, e in zip(addresses, errors, strict=False)
        if e is not None and not isinstance(e, asyncio.CancelledError)  # losers of the race
    ]
    if sock is None or index is None:
        raise AllFailed(attempts)
    attempts.address = addresses[index]
    return sock


async def _attempt(address: str, port: int) -> socket.socket:
    sock = socket.socket(_family(address), socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (address, port))
    except BaseException:
        sock.close()  # a loser of the race, cancelled, closes its socket too
        raise
    return sock


async def open_stream(
    addresses: list[str], port: int, attempts: Attempts
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """``connect``, then asyncio streams over the socket (TLS, if any, is the caller's)."""
    sock = await connect(addresses, port, attempts)
    try:
        return await asyncio.open_connection(sock=sock)
    except BaseException:
        sock.close()
        raise
