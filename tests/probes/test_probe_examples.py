"""The tcp dialogues of config/probes.example.yaml, run as written against fake servers.

Only host, port and the TLS trust (the test CA, certificates for ``localhost``) are changed;
the steps are the example's own, so an example that stops working fails here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from probe_servers import scripted_server, smtp_server

from threenines.app.config import load_config
from threenines.core.results import Status
from threenines.probes import tcp

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "probes.example.yaml"

FAKES: dict[str, tuple[bytes, list[tuple[bytes, bytes]], bool]] = {
    "imap-starttls": (
        b"* OK IMAP4rev1 ready\r\n",
        [
            (b"A1 CAPABILITY", b"* CAPABILITY IMAP4rev1 STARTTLS\r\na1 OK done\r\n"),
            (b"A2 STARTTLS", b"a2 OK begin TLS\r\n"),
            (b"A3 LOGOUT", b"* BYE logging out\r\na3 OK\r\n"),
        ],
        False,
    ),
    "pop3s": (b"+OK POP3 ready\r\n", [(b"QUIT", b"+OK bye\r\n")], True),
    "ssh": (b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", [], False),
    "redis": (b"", [(b"PING", b"+PONG\r\n"), (b"QUIT", b"+OK\r\n")], False),
}


@pytest.fixture(scope="module")
def examples() -> dict[str, tcp.Config]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PORTAL_PROBE_PASSWORD", "dummy-not-a-secret")
        cfg = load_config(EXAMPLE)
    return {c.name: c for s in cfg.services for c in s.checks if isinstance(c, tcp.Config)}


@pytest.fixture
async def fakes(pki) -> AsyncIterator[dict[str, int]]:
    started = {"smtp-starttls": await smtp_server(pki.contexts["good"])}
    for name, (greeting, replies, implicit) in FAKES.items():
        started[name] = await scripted_server(
            greeting, replies, pki.contexts["good"], implicit_tls=implicit
        )
    yield {name: port for name, (_server, port) in started.items()}
    for server, _port in started.values():
        server.close()


async def test_every_example_dialogue_passes(examples, fakes, pki) -> None:
    assert set(examples) == set(fakes)
    for name, check in examples.items():
        update: dict[str, Any] = {"host": "127.0.0.1", "port": fakes[name]}
        update |= {"ca_file": Path(pki.ca_file), "server_name": "localhost"}
        r = await tcp.probe(check.model_copy(update=update), timeout=5)
        assert r.status is Status.UP, (name, r)
        uses_tls = check.tls or any(s.starttls for s in check.query_response)
        assert ("tls_version" in r.details) == uses_tls, (name, r)
