"""tls probe against loopback TLS servers with certificates from a CA made in the test."""

from __future__ import annotations

from typing import Any

import pytest

from threenines.core.results import Status
from threenines.probes import tls


def cfg(port: int, **kw: Any) -> tls.Config:
    return tls.Config.model_validate(
        {"type": "tls", "name": "t", "host": "localhost"} | {"port": port, **kw}
    )


async def test_good_certificate(servers, pki) -> None:
    r = await tls.probe(cfg(servers.https["good"], ca_file=pki.ca_file), timeout=3)
    assert r.status is Status.UP, r
    d = r.details
    assert (d["chain_valid"], d["hostname_valid"]) == (True, True)
    assert d["protocol"] == "TLSv1.3" and d["days_left"] > 300
    assert {"dns", "connect", "tls", "total"} <= set(r.phases)


@pytest.mark.parametrize(
    ("kind", "kw", "status", "code", "chain", "hostname"),
    [
        ("expired", {}, Status.DOWN, "tls_expired", False, True),
        ("wronghost", {}, Status.DOWN, "tls_hostname", True, False),
        ("wronghost", {"check_hostname": False}, Status.UP, None, True, False),
        ("selfsigned", {}, Status.DOWN, "tls_untrusted", False, True),
        ("expiring", {}, Status.DEGRADED, "expiring", True, True),
        ("expiring", {"warn_days": 3}, Status.UP, None, True, True),
        ("tls12", {"min_version": "TLSv1.3"}, Status.DOWN, "tls_protocol", True, True),
        ("tls12", {"min_version": "TLSv1.2"}, Status.UP, None, True, True),
    ],
)
async def test_certificate_cases(servers, pki, kind, kw, status, code, chain, hostname) -> None:
    r = await tls.probe(cfg(servers.https[kind], ca_file=pki.ca_file, **kw), timeout=3)
    assert (r.status, r.error) == (status, code), r
    assert (r.details["chain_valid"], r.details["hostname_valid"]) == (chain, hostname)
    assert "days_left" in r.details and "not_after_iso" in r.details


async def test_untrusted_without_our_ca(servers) -> None:
    r = await tls.probe(cfg(servers.https["good"]), timeout=3)
    assert r.error == "tls_untrusted" and "unable to get local issuer" in r.reason, r
    assert r.details["days_left"] > 300  # still read from the certificate


async def test_expired_reason(servers, pki) -> None:
    r = await tls.probe(cfg(servers.https["expired"], ca_file=pki.ca_file), timeout=3)
    assert r.reason.startswith("certificate expired (") and r.details["days_left"] < 0


async def test_not_tls(banner_port: int) -> None:
    r = await tls.probe(cfg(banner_port), timeout=2)
    assert (r.status, r.error) == (Status.DOWN, "tls_handshake"), r


async def test_connection_failures(refused_port: int, silent_port: int) -> None:
    r = await tls.probe(cfg(refused_port), timeout=2)
    assert r.error == "refused"
    r = await tls.probe(cfg(silent_port), timeout=0.4)
    assert r.error == "timeout" and "handshake" in r.reason, r
    r = await tls.probe(tls.from_target("bad!host:443"), timeout=2)
    assert r.error == "dns"


def test_from_target() -> None:
    assert tls.from_target("example.org").port == 443
    c = tls.from_target("[::1]:8443")
    assert (c.host, c.port) == ("::1", 8443)
