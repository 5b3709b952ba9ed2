"""tcp probe against a loopback banner server."""

from __future__ import annotations

from threenines.core.results import Status
from threenines.probes import tcp


async def test_banner(banner_port: int) -> None:
    c = tcp.Config(type="tcp", name="b", host="127.0.0.1", port=banner_port, expect="^220 ")
    r = await tcp.probe(c, timeout=2)
    assert r.status is Status.UP, r
    assert r.details["banner"].startswith("220 threenines")


async def test_banner_mismatch(banner_port: int) -> None:
    c = tcp.Config(type="tcp", name="b", host="127.0.0.1", port=banner_port, expect="^SSH-")
    r = await tcp.probe(c, timeout=2)
    assert (r.status, r.error) == (Status.DOWN, "expect_mismatch")


async def test_refused_and_silent(refused_port: int, silent_port: int) -> None:
    r = await tcp.probe(tcp.from_target(f"127.0.0.1:{refused_port}"), timeout=2)
    assert r.error == "refused"
    c = tcp.Config(type="tcp", name="s", host="127.0.0.1", port=silent_port, expect="x")
    r = await tcp.probe(c, timeout=0.3)
    assert r.error == "timeout"


async def test_connect_timeout(full_backlog_port: int) -> None:
    r = await tcp.probe(tcp.from_target(f"127.0.0.1:{full_backlog_port}"), timeout=0.3)
    assert r.error == "connect_timeout", r


async def test_dns_failure() -> None:
    r = await tcp.probe(tcp.from_target("bad!host:80"), timeout=2)
    assert r.error == "dns"
