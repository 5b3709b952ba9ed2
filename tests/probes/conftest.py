"""Real servers on 127.0.0.1 for the probe tests: HTTP, HTTPS (good, expired, wrong-host,
self-signed, TLS1.2-only certificates from a CA made here; mTLS wanting a client one), DNS
(UDP+TCP), a TCP banner server, a listener that never answers, and a refused port. All
session-scoped, all stopped.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib.util
import pathlib
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import ThreadingHTTPServer

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from probe_servers import DnsServer, Handler, banner_server

# pytest imports every directory's conftest.py under the one module name "conftest", so after
# this file loads, ``from conftest import require`` anywhere resolves here. Re-export the root
# helpers (not its fixtures) so that keeps working for every test module.
_spec = importlib.util.spec_from_file_location(
    "_threenines_root_conftest", pathlib.Path(__file__).parents[1] / "conftest.py"
)
assert _spec is not None and _spec.loader is not None
_root = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_root)
globals().update(
    {
        k: v
        for k, v in vars(_root).items()
        if not k.startswith(("_", "pytest_"))
        and not hasattr(v, "_fixture_function_marker")
        and k != "pytest"
    }
)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    ssl_context: ssl.SSLContext | None = None
    stopping: threading.Event

    def get_request(self):
        sock, addr = super().get_request()
        if self.ssl_context is not None:
            # Handshake in the request thread (on first read), not in the accept loop.
            sock = self.ssl_context.wrap_socket(
                sock, server_side=True, do_handshake_on_connect=False
            )
        return sock, addr

    def handle_error(self, request, client_address):
        pass  # failed handshakes and dropped clients are what these tests provoke


def _serve(ctx: ssl.SSLContext | None) -> tuple[_Server, threading.Thread]:
    server = _Server(("127.0.0.1", 0), Handler)
    server.ssl_context = ctx
    server.stopping = threading.Event()
    server.state = {}  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    return server, thread


@dataclass
class Pki:
    ca: trustme.CA
    ca_file: str
    contexts: dict[str, ssl.SSLContext]
    client_pem: str = ""  # a client certificate + key from ``ca`` (mTLS)
    stranger_pem: str = ""  # one from another CA, which the mtls server does not trust


def _self_signed(tmp: pathlib.Path) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem = tmp / "self.pem"
    pem.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(pem)
    return ctx


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    tmp = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    ca_file = tmp / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    now = dt.datetime.now(dt.UTC)
    leaves = {
        "good": ca.issue_cert("localhost", "127.0.0.1"),
        "expired": ca.issue_cert(
            "localhost", not_before=now - dt.timedelta(days=60), not_after=now - dt.timedelta(1)
        ),
        "expiring": ca.issue_cert("localhost", not_after=now + dt.timedelta(days=5)),
        "wronghost": ca.issue_cert("other.example"),
    }
    contexts = {}
    for name, leaf in leaves.items():
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        leaf.configure_cert(ctx)
        contexts[name] = ctx
    contexts["selfsigned"] = _self_signed(tmp)
    tls12 = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaves["good"].configure_cert(tls12)
    tls12.maximum_version = ssl.TLSVersion.TLSv1_2
    contexts["tls12"] = tls12
    mtls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)  # TLS 1.3: verdict after Finished
    leaves["good"].configure_cert(mtls)
    ca.configure_trust(mtls)
    mtls.verify_mode = ssl.CERT_REQUIRED
    contexts["mtls"] = mtls
    client_pem, stranger_pem = tmp / "client.pem", tmp / "stranger.pem"
    ca.issue_cert("probe.client.test").private_key_and_cert_chain_pem.write_to_path(str(client_pem))
    trustme.CA().issue_cert("probe.client.test").private_key_and_cert_chain_pem.write_to_path(
        str(stranger_pem)
    )
    return Pki(ca, str(ca_file), contexts, str(client_pem), str(stranger_pem))


@dataclass
class Servers:
    http: str  # base URL, e.g. http://127.0.0.1:PORT
    https: dict[str, int]  # certificate kind -> port


@pytest.fixture(scope="session")
def servers(pki: Pki) -> Iterator[Servers]:
    started = [_serve(None)]
    https: dict[str, int] = {}
    for kind, ctx in pki.contexts.items():
        started.append(_serve(ctx))
        https[kind] = started[-1][0].server_address[1]
    yield Servers(f"http://127.0.0.1:{started[0][0].server_address[1]}", https)
    for server, thread in started:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(2)


@pytest.fixture(scope="session")
def http_base(servers: Servers) -> str:
    return servers.http


class _LoopThread:
    """An event loop in a thread, so asyncio servers outlive each test's own loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(5)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(2)
        self.loop.close()


@pytest.fixture(scope="session")
def aio_servers() -> Iterator[dict[str, int]]:
    lt = _LoopThread()
    dns_server = DnsServer()
    dns_port = lt.run(dns_server.start())
    banner, banner_port = lt.run(banner_server())
    yield {"dns": dns_port, "banner": banner_port}

    async def _close() -> None:
        banner.close()
        await dns_server.stop()

    lt.run(_close())
    lt.stop()


@pytest.fixture(scope="session")
def dns_port(aio_servers: dict[str, int]) -> int:
    return aio_servers["dns"]


@pytest.fixture(scope="session")
def banner_port(aio_servers: dict[str, int]) -> int:
    return aio_servers["banner"]


@pytest.fixture
def refused_port() -> int:
    """A port nothing listens on (bound then closed)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return int(port)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """Accepts TCP connections (kernel backlog) but never reads or writes."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    yield s.getsockname()[1]
    s.close()


@pytest.fixture
def full_backlog_port() -> Iterator[int]:
    """A listener whose accept queue is full: new SYNs are dropped, so connect() hangs."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(0)
    port = s.getsockname()[1]
    fill = []
    for _ in range(3):
        c = socket.socket()
        c.setblocking(False)
        try:
            c.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fill.append(c)
    yield port
    for c in fill:
        c.close()
    s.close()


@pytest.fixture(params=["plain", "httpx"])
def http_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run an http probe test on both paths (``http.plain``): the first request straight
    through the probe's transport where the check qualifies, and httpx's client all the way,
    so the two cannot drift."""
    if request.param == "httpx":
        from threenines.probes import http

        monkeypatch.setattr(http, "plain", lambda cfg: False)
    return str(request.param)
