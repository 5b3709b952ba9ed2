"""DNS probe: ask one resolver for one record and compare the answers.

Contract: ``probe`` returns a ProbeResult for every outcome and never raises for a failing
target. NXDOMAIN, SERVFAIL, REFUSED -> ``dns``; an empty answer -> ``no_answer``; no reply
within the deadline -> ``timeout``; answers differing from ``answers`` -> ``expect_mismatch``.
``match: exact`` compares sets; ``match: contains`` needs every expected answer present.
Answers are compared case-insensitively without the trailing dot; TXT as its joined strings.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import re
import time
from typing import TYPE_CHECKING, Any, Literal

# Only what the config validator needs is imported here; the query machinery (dns.message,
# dns.asyncquery, dns.resolver: a tenth of a second) is imported by the probe itself, so that
# loading a configuration (``threenines validate``, every CLI command) stays fast.
import dns.exception
import dns.name
from pydantic import Field, field_validator

from threenines.core.config.base import CheckBase
from threenines.core.durations import Duration
from threenines.core.results import ProbeResult
from threenines.probes._common import guarded

if TYPE_CHECKING:
    import dns.message

RecordType = Literal["A", "AAAA", "CNAME", "MX", "NS", "TXT", "SOA", "PTR", "SRV", "CAA"]
# A name dnspython accepts without a doubt, checked without it (a third of the cost of
# validating a 10,000-check file was dnspython's parser); anything else is dnspython's to judge.
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_-]{1,63}(?:\.[A-Za-z0-9_-]{1,63})*\.?")


@functools.lru_cache(maxsize=1024)
def _is_ip(value: str) -> bool:
    """Whether ``value`` is an IP address (a configuration names a few resolvers many times)."""
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


class Config(CheckBase):
    type: Literal["dns"]
    query: str = Field(description="The name to look up, e.g. www.example.gov.uk")
    record: RecordType = "A"
    resolver: str | None = Field(None, description="Resolver IP (default: from resolv.conf)")
    port: int = Field(53, ge=1, le=65535)
    protocol: Literal["udp", "tcp"] = "udp"
    answers: list[str] | None = Field(None, description="Expected answers, e.g. 192.0.2.10")
    match: Literal["exact", "contains"] = "exact"
    degraded_after: Duration | None = Field(None, gt=0)

    @field_validator("query")
    @classmethod
    def _name(cls, value: str) -> str:
        if len(value) <= 253 and _PLAIN_NAME.fullmatch(value):
            return value  # labels of 1-63 letters, digits, '-' or '_': dnspython accepts it
        try:
            dns.name.from_text(value)
        except dns.exception.DNSException as exc:
            raise ValueError(f"{value!r} is not a DNS name: {exc}") from None
        return value

    @field_validator("resolver")
    @classmethod
    def _ip(cls, value: str | None) -> str | None:
        if value is not None and not _is_ip(value):
            raise ValueError(f"resolver {value!r} must be an IP address")
        return value

    def target(self) -> str:
        return self.resolver or "system-resolver"


def from_target(target: str, name: str = "adhoc", **options: Any) -> Config:
    """``NAME[/TYPE][@RESOLVER[:PORT]]``, e.g. ``www.test/AAAA@127.0.0.1:5353``."""
    query, _, server = target.partition("@")
    query, _, record = query.partition("/")
    data: dict[str, Any] = {"type": "dns", "name": name, "query": query}
    if record:
        data["record"] = record.upper()
    if server.startswith("[") and "]:" in server:  # [v6]:port
        host, port = server[1:].split("]:", 1)
        data["resolver"], data["port"] = host, int(port)
    elif server.count(":") == 1:  # v4:port
        host, port = server.split(":")
        data["resolver"], data["port"] = host, int(port)
    elif server:
        data["resolver"] = server.strip("[]")
    return Config.model_validate({**data, **options})


@functools.lru_cache(maxsize=1)
def _system_resolvers() -> tuple[str, ...]:
    import dns.resolver

    return tuple(dns.resolver.Resolver().nameservers)  # type: ignore[arg-type]


def normalise(rdata: Any) -> str:
    import dns.rdatatype

    if rdata.rdtype == dns.rdatatype.TXT:
        return b"".join(rdata.strings).decode(errors="replace")
    return str(rdata.to_text()).rstrip(".").lower()


@guarded
async def probe(cfg: Config, *, timeout: float) -> ProbeResult:
    import dns.asyncquery
    import dns.message

    start = time.perf_counter()
    servers = (cfg.resolver,) if cfg.resolver else _system_resolvers()
    if not servers:
        return ProbeResult.down(0.0, "dns", "no resolver configured and none in resolv.conf")
    where = f"{servers[0]}:{cfg.port}" if cfg.resolver else servers[0]
    query = dns.message.make_query(cfg.query, cfg.record)
    details: dict[str, Any] = {"resolver": where, "record": cfg.record}
    try:
        async with asyncio.timeout(timeout):
            if cfg.protocol == "tcp":
                response = await dns.asyncquery.tcp(query, servers[0], timeout, cfg.port)
            else:
                response, _tcp = await dns.asyncquery.udp_with_fallback(
                    query, servers[0], timeout, cfg.port
                )
    except (TimeoutError, dns.exception.Timeout):
        elapsed = time.perf_counter() - start
        reason = f"no reply from {where} within {timeout:g}s"
        return ProbeResult.down(elapsed, "timeout", reason, details=details)
    except (OSError, dns.exception.DNSException) as exc:
        elapsed = time.perf_counter() - start
        code = "refused" if isinstance(exc, ConnectionRefusedError) else "dns"
        reason = f"query to {where} failed: {type(exc).__name__}: {exc}"
        return ProbeResult.down(elapsed, code, reason, details=details)
    elapsed = time.perf_counter() - start
    return _judge(cfg, response, elapsed, details)


def _judge(
    cfg: Config, response: dns.message.Message, elapsed: float, details: dict[str, Any]
) -> ProbeResult:
    import dns.rcode
    import dns.rdatatype

    phases = {"dns": elapsed, "total": elapsed}
    rcode = response.rcode()
    details["rcode"] = dns.rcode.to_text(rcode)
    if rcode != dns.rcode.NOERROR:
        reason = f"{cfg.query} {cfg.record}: {details['rcode']} from {details['resolver']}"
        return ProbeResult.down(elapsed, "dns", reason, phases=phases, details=details)
    wanted = dns.rdatatype.from_text(cfg.record)
    rrsets = [r for r in response.answer if r.rdtype == wanted]
    got = sorted({normalise(rd) for rrset in rrsets for rd in rrset})
    details["answers"] = got
    if rrsets:
        details["ttl"] = min(r.ttl for r in rrsets)
    if not got:
        reason = f"{cfg.query} has no {cfg.record} record"
        return ProbeResult.down(elapsed, "no_answer", reason, phases=phases, details=details)
    if cfg.answers is not None:
        expected = {a.rstrip(".").lower() if cfg.record != "TXT" else a for a in cfg.answers}
        ok = expected == set(got) if cfg.match == "exact" else expected <= set(got)
        if not ok:
            reason = f"answers {got} do not {'equal' if cfg.match == 'exact' else 'include'} "
            reason += str(sorted(expected))
            return ProbeResult.down(
                elapsed, "expect_mismatch", reason, phases=phases, details=details
            )
    if cfg.degraded_after is not None and elapsed > cfg.degraded_after:
        reason = f"{elapsed * 1000:.0f} ms, above degraded_after {cfg.degraded_after * 1000:g} ms"
        return ProbeResult.degraded(elapsed, "slow", reason, phases=phases, details=details)
    reason = f"{cfg.query} {cfg.record} -> {', '.join(got[:4])}" + (" …" if len(got) > 4 else "")
    return ProbeResult.up(elapsed, reason, phases=phases, details=details)
