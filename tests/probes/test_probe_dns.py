"""dns probe against a loopback DNS server serving the test. zone (UDP and TCP)."""

from __future__ import annotations

from typing import Any

import pytest

from threenines.core.results import Status
from threenines.probes import dns as dns_probe


def cfg(port: int, query: str, **kw: Any) -> dns_probe.Config:
    data = {"type": "dns", "name": "d", "query": query, "resolver": "127.0.0.1", "port": port}
    return dns_probe.Config.model_validate(data | kw)


@pytest.mark.parametrize(
    ("query", "kw", "answers"),
    [
        ("www.test", {}, ["127.0.0.1", "127.0.0.2"]),
        ("www.test", {"record": "AAAA"}, ["::1"]),
        ("alias.test", {}, ["127.0.0.1", "127.0.0.2"]),
        ("mail.test", {"record": "MX"}, ["10 mx.test"]),
        ("txt.test", {"record": "TXT"}, ["v=spf1 -all"]),
        ("www.test", {"protocol": "tcp"}, ["127.0.0.1", "127.0.0.2"]),
    ],
)
async def test_answers(dns_port: int, query: str, kw: dict, answers: list[str]) -> None:
    r = await dns_probe.probe(cfg(dns_port, query, answers=answers, **kw), timeout=2)
    assert r.status is Status.UP, r
    assert r.details["answers"] == answers
    assert r.phases["dns"] > 0 and r.details["ttl"] == 300


async def test_exact_vs_contains(dns_port: int) -> None:
    c = cfg(dns_port, "www.test", answers=["127.0.0.1"])
    r = await dns_probe.probe(c, timeout=2)
    assert (r.status, r.error) == (Status.DOWN, "expect_mismatch")
    assert "do not equal" in r.reason
    c = cfg(dns_port, "www.test", answers=["127.0.0.1"], match="contains")
    assert (await dns_probe.probe(c, timeout=2)).status is Status.UP
    c = cfg(dns_port, "www.test", answers=["127.0.0.9"], match="contains")
    assert (await dns_probe.probe(c, timeout=2)).error == "expect_mismatch"


@pytest.mark.parametrize(
    ("query", "kw", "code", "reason"),
    [
        ("nope.test", {}, "dns", "nope.test A: NXDOMAIN from 127.0.0.1:"),
        ("servfail.test", {}, "dns", "servfail.test A: SERVFAIL"),
        ("www.test", {"record": "MX"}, "no_answer", "www.test has no MX record"),
        ("hang.test", {}, "timeout", "no reply from 127.0.0.1:"),
    ],
)
async def test_failures(dns_port: int, query: str, kw: dict, code: str, reason: str) -> None:
    r = await dns_probe.probe(cfg(dns_port, query, **kw), timeout=0.5)
    assert (r.status, r.error) == (Status.DOWN, code), r
    assert r.reason.startswith(reason)


async def test_resolver_refused_tcp(refused_port: int) -> None:
    r = await dns_probe.probe(cfg(refused_port, "www.test", protocol="tcp"), timeout=1)
    assert (r.status, r.error) == (Status.DOWN, "refused"), r


def test_from_target() -> None:
    c = dns_probe.from_target("www.test/AAAA@127.0.0.1:5353")
    assert (c.query, c.record, c.resolver, c.port) == ("www.test", "AAAA", "127.0.0.1", 5353)
    c = dns_probe.from_target("www.test@[::1]:53")
    assert (c.resolver, c.port) == ("::1", 53)
