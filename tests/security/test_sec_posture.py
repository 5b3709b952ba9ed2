"""Posture checks against real local servers: TLS, HTTP headers/content, DNS drift, snmpd."""

from __future__ import annotations

import datetime as dt
import hashlib
import ssl
import time
from pathlib import Path

import pytest
import trustme
from conftest import require, require_command
from sec_servers import DnsServer, HttpServer, Snmpd, TlsServer, self_signed, server_context

from threenines.security import posture_dns, posture_http, posture_snmp, posture_tls


def kinds(run) -> set[str]:
    return {f.kind for f in run.findings}


def tls_cfg(port: int, **kw) -> posture_tls.Config:
    return posture_tls.Config(type="tls", name="portal", host="127.0.0.1", port=port, **kw)


async def test_self_signed_old_protocols_and_hostname(tmp_path: Path) -> None:
    cert, key = self_signed("other.example", tmp=tmp_path)
    server = TlsServer(server_context(cert, key, low="TLSv1"))
    try:
        run = await posture_tls.check(
            tls_cfg(server.port, server_name="portal.test"), timeout=5, now=time.time()
        )
    finally:
        server.stop()
    assert run.complete
    assert {"tls_self_signed", "tls_hostname"} <= kinds(run)
    old = sorted(f.key for f in run.findings if f.kind == "tls_old_protocol")
    # Debian's OpenSSL 3.0 still offers TLS 1.0/1.1 at SECLEVEL=0; where it does not, the
    # check can only say it could not test (and this assertion documents the difference).
    if run.facts["TLSv1.0"] != "untestable here":
        base = f"tls_old_protocol/127.0.0.1:{server.port}"
        assert old == [f"{base}/TLSv1.0", f"{base}/TLSv1.1"]
        tls10 = next(f for f in run.findings if f.key.endswith("TLSv1.0"))
        assert tls10.evidence["negotiated"].startswith("TLSv1 ")
    assert set(run.facts.values()) <= {"accepted", "untestable here"}


async def test_modern_server_trusted_but_expiring(tmp_path: Path) -> None:
    ca = trustme.CA()
    leaf = ca.issue_cert("portal.test", not_after=dt.datetime.now(dt.UTC) + dt.timedelta(days=5))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    leaf.configure_cert(ctx)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server = TlsServer(ctx)
    try:
        cfg = tls_cfg(server.port, server_name="portal.test", ca_file=str(ca_file))
        run = await posture_tls.check(cfg, timeout=5, now=time.time())
    finally:
        server.stop()
    assert [(f.kind, f.severity) for f in run.findings] == [("tls_expiring", "critical")]
    assert 4 < run.findings[0].evidence["days_left"] <= 5
    assert run.facts == {"TLSv1.0": "refused", "TLSv1.1": "refused"}


async def test_untrusted_chain(tmp_path: Path) -> None:
    ca = trustme.CA()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("portal.test").configure_cert(ctx)
    server = TlsServer(ctx)
    try:
        run = await posture_tls.check(
            tls_cfg(server.port, server_name="portal.test"), timeout=5, now=time.time()
        )
    finally:
        server.stop()
    assert kinds(run) == {"tls_untrusted"}


async def test_weak_cipher_accepted(tmp_path: Path) -> None:
    ciphers, untestable = posture_tls.weak_cipher_string()
    require(bool(ciphers), "this OpenSSL offers none of the weak cipher classes")
    cert, key = self_signed("portal.test", tmp=tmp_path)
    ctx = server_context(cert, key, high="TLSv1_2", ciphers="ALL:NULL:@SECLEVEL=0")
    server = TlsServer(ctx)
    try:
        cfg = tls_cfg(server.port, server_name="portal.test", old_protocols=False)
        run = await posture_tls.check(cfg, timeout=5, now=time.time())
    finally:
        server.stop()
    weak = [f for f in run.findings if f.kind == "tls_weak_cipher"]
    offered = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    offered.set_ciphers(ciphers)
    weak_names = {c["name"] for c in offered.get_ciphers()}
    assert weak and weak[0].evidence["negotiated"].split()[1] in weak_names
    assert weak[0].evidence["untestable_here"] == untestable


async def test_unreachable_tls_is_incomplete() -> None:
    run = await posture_tls.check(tls_cfg(1), timeout=2, now=time.time())
    assert not run.complete and run.findings == []


async def test_http_headers_and_content_drift() -> None:
    good = {
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'self'",
        "X-Frame-Options": "DENY",
    }
    body = b"<h1>Thurrock Council</h1> Pay your council tax"
    server = HttpServer(body, {})
    try:
        cfg = posture_http.Config(
            type="http",
            name="home",
            url=f"http://127.0.0.1:{server.port}/",
            required_text=["Pay your council tax"],
            expected_sha256=hashlib.sha256(body).hexdigest(),
        )
        run = await posture_http.check(cfg, timeout=5, now=0)
        missing = sorted(f.evidence["header"] for f in run.findings)
        assert missing == ["Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options"]
        server.headers = good
        assert (await posture_http.check(cfg, timeout=5, now=0)).findings == []
        server.body = b"<h1>hacked by someone</h1>"
        run = await posture_http.check(cfg, timeout=5, now=0)
        assert sorted(f.key.rsplit("/", 1)[1] for f in run.findings) == ["sha256", "text"]
        assert {f.severity for f in run.findings} == {"critical"}
    finally:
        server.stop()


def test_hsts_required_on_https_only() -> None:
    https = posture_http.Config(type="http", name="h", url="https://portal.test/")
    found = posture_http.judge(https, 200, {}, b"", "c")
    assert "strict-transport-security" in {f.evidence["header"].lower() for f in found}
    plain = posture_http.Config(type="http", name="h", url="http://portal.test/")
    found = posture_http.judge(plain, 200, {}, b"", "c")
    assert "strict-transport-security" not in {f.evidence["header"].lower() for f in found}


async def test_dns_drift() -> None:
    server = DnsServer({"www.council.test": ["198.18.1.10"]})
    port = await server.start()
    try:

        def cfg(name: str) -> posture_dns.Config:
            return posture_dns.Config(
                type="dns",
                name="www",
                qname=name,
                port=port,
                expected=["198.18.1.10"],
                resolver="127.0.0.1",
            )

        assert (await posture_dns.check(cfg("www.council.test"), timeout=2, now=0)).findings == []
        server.records["www.council.test"] = ["203.0.113.66"]
        run = await posture_dns.check(cfg("www.council.test"), timeout=2, now=0)
        assert [(f.kind, f.severity) for f in run.findings] == [("dns_drift", "critical")]
        assert run.findings[0].evidence["answers"] == ["203.0.113.66"]
        run = await posture_dns.check(cfg("gone.council.test"), timeout=2, now=0)
        assert run.findings[0].evidence["rcode"] == "NXDOMAIN"
    finally:
        server.stop()
    run = await posture_dns.check(cfg("www.council.test"), timeout=0.5, now=0)
    assert not run.complete


@pytest.mark.snmpd
async def test_snmpd_answering_public() -> None:
    require_command("snmpd", "snmpget")
    agent = Snmpd("public")
    try:
        cfg = posture_snmp.Config(
            type="snmp", name="sw1", host="127.0.0.1", port=agent.port, v3_required=True
        )
        run = await posture_snmp.check(cfg, timeout=1, now=0)
    finally:
        agent.stop()
    found = {(f.kind, f.severity): f for f in run.findings}
    assert set(found) == {("snmp_default_community", "major"), ("snmp_v1v2c_answering", "major")}
    public = found[("snmp_default_community", "major")]
    assert public.evidence["community"] == "public"
    assert public.evidence["versions"] == ["v1", "v2c"]
    assert "threenines-test-agent" in public.evidence["sysDescr"]
