"""http probe against real loopback HTTP/HTTPS servers (tests/probes/conftest.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from threenines.core.results import Status
from threenines.probes import http

# every test on both paths of the http probe (conftest.http_path)
pytestmark = pytest.mark.usefixtures("http_path")


def cfg(url: str, **kw: Any) -> http.Config:
    return http.Config.model_validate({"type": "http", "name": "t", "url": url, **kw})


async def run(url: str, timeout: float = 5.0, **kw: Any):
    return await http.probe(cfg(url, **kw), timeout=timeout)


async def test_ok_with_phases(http_base: str) -> None:
    r = await run(f"{http_base}/ok", body_contains="threenines", body_regex=r"hel+o")
    assert r.status is Status.UP, r
    assert {"dns", "connect", "ttfb", "transfer", "total"} <= set(r.phases)
    assert "tls" not in r.phases
    assert r.details["status_code"] == 200 and r.details["address"] == "127.0.0.1"
    assert r.phases["total"] >= r.phases["connect"] + r.phases["ttfb"]


async def test_https_trusted_ca_by_name(servers, pki) -> None:
    r = await run(f"https://localhost:{servers.https['good']}/ok", ca_file=pki.ca_file)
    assert r.status is Status.UP, r
    assert r.phases["tls"] > 0
    assert r.details["tls_version"] in ("TLSv1.2", "TLSv1.3")
    assert 0 < r.details["cert_days_left"]


@pytest.mark.parametrize(
    ("kind", "host", "code"),
    [
        ("good", "localhost", "tls_untrusted"),  # our test CA is not in the system store
        ("expired", "localhost", "tls_expired"),
        ("wronghost", "localhost", "tls_hostname"),
        ("selfsigned", "localhost", "tls_untrusted"),
    ],
)
async def test_tls_failures(servers, pki, kind: str, host: str, code: str) -> None:
    ca = None if code == "tls_untrusted" and kind == "good" else pki.ca_file
    r = await run(f"https://{host}:{servers.https[kind]}/ok", ca_file=ca)
    assert (r.status, r.error) == (Status.DOWN, code), r


async def test_verify_false_accepts_self_signed(servers) -> None:
    r = await run(f"https://localhost:{servers.https['selfsigned']}/ok", verify=False)
    assert r.status is Status.UP, r


async def test_https_to_plain_http_is_handshake_error(http_base: str) -> None:
    r = await run(http_base.replace("http:", "https:") + "/ok")
    assert r.error == "tls_handshake", r


async def test_status_codes(http_base: str) -> None:
    r = await run(f"{http_base}/status/503")
    assert (r.status, r.error) == (Status.DOWN, "http_status")
    assert "503" in r.reason and "2xx" in r.reason
    assert (await run(f"{http_base}/status/503", expect_status=["5xx"])).status is Status.UP
    assert (
        await run(f"{http_base}/status/404", expect_status=[200, "400-404"])
    ).status is Status.UP


async def test_body_mismatch(http_base: str) -> None:
    r = await run(f"{http_base}/ok", body_contains="goodbye")
    assert (r.error, r.reason) == ("expect_mismatch", "body does not contain 'goodbye'")
    r = await run(f"{http_base}/ok", body_regex=r"^bye")
    assert r.error == "expect_mismatch" and "/^bye/" in r.reason


async def test_gzip_body_is_decoded(http_base: str) -> None:
    r = await run(f"{http_base}/gzip", body_contains="compressed hello")
    assert r.status is Status.UP, r


@pytest.mark.parametrize(
    ("assertion", "ok", "reason"),
    [
        ({"path": "$.status", "equals": "ok"}, True, ""),
        ({"path": "$.version", "equals": 3}, True, ""),
        ({"path": "$.items[*].name", "equals": "b"}, True, ""),
        ({"path": "$.status", "regex": "^o"}, True, ""),
        ({"path": "$.missing", "exists": False}, True, ""),
        ({"path": "$.status", "equals": "down"}, False, "JSON $.status is \"ok\", expected 'down'"),
        ({"path": "$.nope"}, False, "JSON $.nope not found"),
        ({"path": "$.items[*].name", "contains": "z"}, False, "expected to contain 'z'"),
    ],
)
async def test_json_assertions(http_base: str, assertion: dict, ok: bool, reason: str) -> None:
    r = await run(f"{http_base}/json", json=[assertion])
    assert r.ok is ok, r
    if not ok:
        assert r.error == "expect_mismatch" and reason in r.reason


async def test_json_on_non_json_body(http_base: str) -> None:
    r = await run(f"{http_base}/ok", json=[{"path": "$.a"}])
    assert (r.error, r.reason) == ("expect_mismatch", "body is not valid JSON")


async def test_slow_is_degraded(http_base: str) -> None:
    r = await run(f"{http_base}/slow", degraded_after="100ms")
    assert (r.status, r.error) == (Status.DEGRADED, "slow"), r
    assert "above degraded_after 100 ms" in r.reason


async def test_hanging_endpoint_times_out(http_base: str) -> None:
    r = await run(f"{http_base}/hang", timeout=0.5)
    assert (r.status, r.error) == (Status.DOWN, "timeout"), r
    assert r.duration < 2


async def test_silent_server_times_out_waiting(silent_port: int) -> None:
    r = await run(f"http://127.0.0.1:{silent_port}/", timeout=0.4)
    assert r.error == "timeout" and "response" in r.reason, r


async def test_connect_timeout(full_backlog_port: int) -> None:
    r = await run(f"http://127.0.0.1:{full_backlog_port}/", timeout=0.4)
    assert r.error == "connect_timeout", r


async def test_refused(refused_port: int) -> None:
    r = await run(f"http://127.0.0.1:{refused_port}/")
    assert (r.error, r.reason) == ("refused", f"connection refused by 127.0.0.1:{refused_port}")


async def test_dns_failure() -> None:
    # 'bad!host' is rejected by the C library itself: no query leaves the machine.
    r = await run("http://bad!host/")
    assert r.error == "dns" and "bad!host" in r.reason, r


async def test_redirects(http_base: str) -> None:
    r = await run(f"{http_base}/redirect", body_contains="hello")
    assert r.status is Status.UP and r.details["redirects"] == 1
    r = await run(f"{http_base}/redirect", follow_redirects=False, expect_status=["3xx"])
    assert r.status is Status.UP and r.details["status_code"] == 302


async def test_redirect_loop(http_base: str) -> None:
    r = await run(f"{http_base}/loop/a", max_redirects=5)
    assert (r.status, r.error) == (Status.DOWN, "too_many_redirects"), r
    assert r.reason == "redirect loop: /loop/a -> /loop/b -> /loop/a"


async def test_malformed_response(http_base: str) -> None:
    r = await run(f"{http_base}/garbage")
    assert (r.status, r.error) == (Status.DOWN, "protocol"), r


async def test_method_headers_body_and_secret_header(http_base: str, monkeypatch) -> None:
    monkeypatch.setenv("PROBE_TOKEN", "Bearer sekrit-123")
    c = cfg(f"{http_base}/headers", headers={"Authorization": "${PROBE_TOKEN}", "X-A": "b"})
    assert "sekrit" not in repr(c) and "sekrit" not in c.model_dump_json()
    r = await http.probe(c, timeout=5)
    assert r.status is Status.UP
    assert "sekrit" not in json.dumps(r.to_dict())
    r = await run(f"{http_base}/echo", method="POST", body="a=1&b=2", json=[{"path": "$.b"}])
    assert r.status is Status.UP, r


async def test_sent_headers_reach_server(http_base: str) -> None:
    c = cfg(f"{http_base}/headers", json=[{"path": "$.X-Probe", "equals": "yes"}])
    c2 = cfg(
        f"{http_base}/headers",
        headers={"X-Probe": "yes"},
        json=[{"path": "$.X-Probe", "equals": "yes"}, {"path": "$.Host", "regex": "^127"}],
    )
    assert (await http.probe(c, timeout=5)).error == "expect_mismatch"
    assert (await http.probe(c2, timeout=5)).status is Status.UP


async def test_bug_becomes_internal_result(http_base: str) -> None:
    c = cfg(f"{http_base}/ok")
    object.__setattr__(c, "expect_status", None)  # corrupt the config: iterating None is a bug
    r = await http.probe(c, timeout=5)
    assert (r.status, r.error) == (Status.DOWN, "internal")
    assert r.reason.startswith("probe bug: TypeError")
