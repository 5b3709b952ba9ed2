"""tcp probe against loopback banner and fake SMTP servers (line-by-line expects, STARTTLS)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from probe_servers import smtp_server
from pydantic import ValidationError

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


@pytest.fixture
async def smtp_port(pki) -> AsyncIterator[int]:
    server, port = await smtp_server(pki.contexts["good"])
    yield port
    server.close()


def smtp(port: int, **kw: Any) -> tcp.Config:
    return tcp.Config.model_validate(
        {"type": "tcp", "name": "m", "host": "127.0.0.1", "port": port, **kw}
    )


async def test_greeting_in_two_packets_and_two_lines(smtp_port: int) -> None:
    # measured: expect_mismatch banner '2' (one read matched); blackbox: success
    r = await tcp.probe(smtp(smtp_port, expect="^220 "), timeout=5)
    assert r.status is Status.UP, r
    assert r.details["banner"] == "220-mail.test ESMTP ready"
    r = await tcp.probe(smtp(smtp_port, expect="^220 ", max_lines=1), timeout=5)
    assert (r.status, r.error) == (Status.DOWN, "expect_mismatch"), r
    assert "none of 1 lines matched /^220 /" in r.reason


async def test_smtp_dialogue_with_starttls(smtp_port: int, pki) -> None:
    dialogue = [
        {"expect": "^220 "},
        {"send": "EHLO probe.test\r\n"},
        {"expect": "^250 "},
        {"send": "STARTTLS\r\n"},
        {"expect": "^220 "},
        {"starttls": True},
        {"send": "EHLO probe.test\r\n"},
        {"expect": "^250-STARTTLS"},
        {"send": "QUIT\r\n"},
        {"expect": "^221 "},
    ]
    c = smtp(smtp_port, query_response=dialogue, ca_file=pki.ca_file, server_name="localhost")
    r = await tcp.probe(c, timeout=5)
    assert r.status is Status.UP, r
    assert r.details["tls_version"] in ("TLSv1.2", "TLSv1.3") and r.phases["tls"] > 0
    r = await tcp.probe(smtp(smtp_port, query_response=dialogue), timeout=5)
    assert (r.status, r.error) == (Status.DOWN, "tls_untrusted"), r  # test CA not trusted
    wrong = [*dialogue[:9], {"expect": "^250 OK"}]
    r = await tcp.probe(smtp(smtp_port, query_response=wrong, verify=False), timeout=5)
    assert (r.status, r.error) == (Status.DOWN, "expect_mismatch"), r
    assert r.reason == (
        "step 10: connection closed before a line matched /^250 OK/, last line '221 bye'"
    )


def test_dialogue_steps_are_checked_at_load() -> None:
    with pytest.raises(ValidationError, match="exactly one of send, expect, starttls"):
        smtp(25, query_response=[{"send": "x", "expect": "y"}])
    with pytest.raises(ValidationError, match="invalid regex"):
        smtp(25, query_response=[{"expect": "("}])
    with pytest.raises(ValidationError, match="not both"):
        smtp(25, expect="x", query_response=[{"expect": "y"}])
