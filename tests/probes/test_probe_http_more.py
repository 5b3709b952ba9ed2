"""http probe: body limit, must-not-match, headers, auth, TLS use, mTLS, proxies, HTTP/2.

Each case is one the blackbox_exporter comparison found missing or flaky (issue 14), against
real servers on 127.0.0.1 (tests/probes/conftest.py, probe_servers.py).
"""

from __future__ import annotations

import collections
from collections.abc import AsyncIterator
from typing import Any

import pytest
from probe_servers import ForwardProxy, h2_server
from pydantic import ValidationError

from threenines.core.results import Status
from threenines.probes import http

# every test on both paths of the http probe (conftest.http_path)
pytestmark = pytest.mark.usefixtures("http_path")


def cfg(url: str, **kw: Any) -> http.Config:
    return http.Config.model_validate({"type": "http", "name": "t", "url": url, **kw})


async def run(url: str, timeout: float = 5.0, **kw: Any):
    return await http.probe(cfg(url, **kw), timeout=timeout)


async def test_body_limit_is_stated_and_configurable(http_base: str) -> None:
    # measured: 'body does not match' for a keyword after 1 MiB, the limit unsaid
    r = await run(f"{http_base}/big", body_contains="keyword")
    assert (r.status, r.error) == (Status.DOWN, "expect_mismatch"), r
    assert r.reason == (
        "body does not contain 'keyword' in its first 1 MiB (body_limit reached; the rest was "
        "not read)"
    )
    assert (await run(f"{http_base}/big", body_contains="keyword", body_limit="2MiB")).ok


async def test_body_must_not_match(http_base: str) -> None:
    r = await run(f"{http_base}/ok", body_not_contains="hello")
    assert (r.error, r.reason) == ("expect_mismatch", "body contains 'hello'")
    r = await run(f"{http_base}/ok", body_not_regex="thr[e]+nines")
    assert (r.error, r.reason) == ("expect_mismatch", "body matches /thr[e]+nines/")
    assert (await run(f"{http_base}/ok", body_not_regex="error|exception")).ok


async def test_header_assertions(http_base: str) -> None:
    ok = [
        {"name": "x-frame-options", "equals": "DENY"},
        {"name": "Set-Cookie", "regex": "; Secure"},
        {"name": "X-Powered-By", "present": False},
    ]
    assert (await run(f"{http_base}/secure", expect_headers=ok)).ok
    r = await run(f"{http_base}/ok", expect_headers=[{"name": "X-Frame-Options"}])
    assert (r.error, r.reason) == ("expect_mismatch", "header X-Frame-Options is missing")
    r = await run(
        f"{http_base}/secure", expect_headers=[{"name": "Set-Cookie", "regex": "HttpOnly"}]
    )
    assert r.reason == "header Set-Cookie expected to match /HttpOnly/"  # its value not shown
    assert "s3cr3t" not in repr(r)


async def test_basic_and_bearer_auth_from_secrets(http_base: str, monkeypatch) -> None:
    monkeypatch.setenv("TN_TEST_PASSWORD", "s3cret")
    monkeypatch.setenv("TN_TEST_TOKEN", "tok-123")
    basic = {"username": "alice", "password": "${TN_TEST_PASSWORD}"}
    assert (await run(f"{http_base}/basic", basic_auth=basic)).ok
    r = await run(f"{http_base}/basic", basic_auth={"username": "alice", "password": "nope"})
    assert r.error == "http_status"
    assert (await run(f"{http_base}/bearer", bearer_token="${TN_TEST_TOKEN}")).ok
    c = cfg(f"{http_base}/bearer", bearer_token="${TN_TEST_TOKEN}")
    assert "tok-123" not in repr(c) and "tok-123" not in c.model_dump_json()
    with pytest.raises(ValidationError, match="one of basic_auth, bearer_token"):
        cfg(f"{http_base}/basic", basic_auth=basic, headers={"Authorization": "x"})


async def test_fail_if_ssl_and_not_ssl(http_base: str, servers, pki) -> None:
    r = await run(f"{http_base}/ok", fail_if_not_ssl=True)
    assert (r.status, r.error) == (Status.DOWN, "tls_missing"), r
    https = f"https://localhost:{servers.https['good']}/ok"
    r = await run(https, ca_file=pki.ca_file, fail_if_ssl=True)
    assert (r.status, r.error) == (Status.DOWN, "tls_used"), r
    assert (await run(https, ca_file=pki.ca_file, fail_if_not_ssl=True)).ok


async def test_server_name_and_min_version(servers, pki) -> None:
    # by address, with the certificate's name given as SNI and checked
    url = f"https://127.0.0.2:{servers.https['wronghost']}/ok"
    r = await run(url.replace("127.0.0.2", "127.0.0.1"), ca_file=pki.ca_file)
    assert r.error == "tls_hostname", r
    r = await run(
        url.replace("127.0.0.2", "127.0.0.1"), ca_file=pki.ca_file, server_name="other.example"
    )
    assert r.status is Status.UP, r
    r = await run(
        f"https://localhost:{servers.https['tls12']}/ok", ca_file=pki.ca_file, min_version="TLSv1.3"
    )
    assert r.error == "tls_protocol", r


async def test_mtls_error_code_is_stable(servers, pki) -> None:
    # measured: 16 of 20 runs said 'protocol' (a reset), 4 'tls_handshake' (the alert)
    url = f"https://localhost:{servers.https['mtls']}/ok"
    codes = collections.Counter()
    for _ in range(20):
        r = await run(url, ca_file=pki.ca_file)
        codes[(r.error, r.reason)] += 1
    assert codes == {
        ("tls_client_cert", "server refused the client certificate: certificate required"): 20
    }, codes
    r = await run(url, ca_file=pki.ca_file, client_cert=pki.stranger_pem)
    assert r.error == "tls_client_cert" and "unknown ca" in r.reason, r
    r = await run(url, ca_file=pki.ca_file, client_cert=pki.client_pem)
    assert r.status is Status.UP, r
    with pytest.raises(ValidationError, match="client_cert/client_key cannot be loaded"):
        cfg(url, client_cert=pki.ca_file)  # a certificate without its key


@pytest.fixture
async def proxy() -> AsyncIterator[tuple[ForwardProxy, str]]:
    import asyncio

    state = ForwardProxy()
    server = await asyncio.start_server(state.handle, "127.0.0.1", 0)
    yield state, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    server.close()


async def test_explicit_proxy_http_and_https(proxy, http_base: str, servers, pki) -> None:
    state, proxy_url = proxy
    with_auth = proxy_url.replace("http://", "http://user:pw@")
    r = await run(f"{http_base}/ok", proxy=with_auth, body_contains="threenines")
    assert r.status is Status.UP, r
    assert state.seen[-1][:2] == ("GET", f"{http_base}/ok") and state.seen[-1][2].startswith(
        "Basic "
    )
    https = f"https://localhost:{servers.https['good']}/ok"
    r = await run(https, proxy=proxy_url, ca_file=pki.ca_file)
    assert r.status is Status.UP and r.phases["proxy"] > 0, r
    assert state.seen[-1][:2] == ("CONNECT", f"localhost:{servers.https['good']}")
    r = await run("https://other.example:443/", proxy=proxy_url)  # the proxy refuses it
    assert (r.error, r.reason) == (
        "proxy",
        "proxy 127.0.0.1 answered CONNECT with 'HTTP/1.1 403 Forbidden'",
    )
    assert "pw" not in repr(cfg(f"{http_base}/ok", proxy=with_auth))


async def test_env_proxy_only_when_asked(proxy, http_base: str, monkeypatch) -> None:
    state, proxy_url = proxy
    monkeypatch.setenv("HTTP_PROXY", proxy_url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert (await run(f"{http_base}/ok")).ok and state.seen == []
    assert (await run(f"{http_base}/ok", proxy_from_env=True)).ok and len(state.seen) == 1
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert (await run(f"{http_base}/ok", proxy_from_env=True)).ok and len(state.seen) == 1


@pytest.fixture
async def h2_port(pki) -> AsyncIterator[int]:
    import ssl

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    pki.ca.issue_cert("localhost").configure_cert(ctx)
    server, port = await h2_server(ctx)
    yield port
    server.close()


async def test_http2_by_alpn(h2_port: int, pki) -> None:
    url = f"https://localhost:{h2_port}/"
    r = await run(url, ca_file=pki.ca_file)  # HTTP/1.1 unless asked
    assert (r.status, r.details["http_version"]) == (Status.UP, "HTTP/1.1"), r
    r = await run(url, ca_file=pki.ca_file, valid_http_versions=["HTTP/2.0"])
    assert (r.error, r.reason) == ("http_version", "answered in HTTP/1.1, not in [HTTP/2]"), r
    r = await run(
        url,
        ca_file=pki.ca_file,
        http2=True,
        valid_http_versions=["HTTP/2"],
        body_contains="over HTTP/2",
        expect_headers=[{"name": "x-proto", "equals": "h2"}],
    )
    assert (r.status, r.details["http_version"]) == (Status.UP, "HTTP/2"), r
    assert {"connect", "tls", "ttfb", "transfer"} <= set(r.phases)
