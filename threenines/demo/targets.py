"""Loopback targets for ``make demo``: a small citizen portal and friends, on 127.0.0.1 only.

- HTTP  127.0.0.1:18080  /, /slow (degraded), /flaky (every 3rd request fails, never two in a
                         row: a blip one retry hides), /outage (503 from 12 s to 32 s after the
                         start, again every 5 minutes: a real incident), /login journey
- HTTPS 127.0.0.1:18443  a certificate from a demo CA that expires in 10 days (TLS "degraded")
- TCP   127.0.0.1:18025  an SMTP-like banner
- DNS   127.0.0.1:18053  portal.demo.test A 127.0.0.1
- HTTP  127.0.0.1:18099  the on-call receiver: alerts sent to ``json://127.0.0.1:18099/NAME``
                         are printed and appended to ``STATE_DIR/alerts.jsonl``

Run as ``python -m threenines.demo.targets STATE_DIR``; it stops on SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import json
import secrets
import signal
import ssl
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs

import dns.message
import dns.rcode
import dns.rrset
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

HTTP_PORT, HTTPS_PORT, TCP_PORT, DNS_PORT, RECEIVER_PORT = 18080, 18443, 18025, 18053, 18099
#: /outage answers 503 from OUTAGE_START to OUTAGE_END seconds after the start, in every CYCLE
OUTAGE_START, OUTAGE_END, OUTAGE_CYCLE = 12.0, 32.0, 300.0
#: every FLAKY_EVERY-th request to /flaky fails (never two in a row: one retry hides it)
FLAKY_EVERY = 3
STARTED = time.monotonic()
FLAKY_COUNT = 0
SESSIONS: set[str] = set()
CSRF: set[str] = set()


async def home(_: Request) -> Response:
    return HTMLResponse("<h1>Welcome to the Demo Borough citizen portal</h1>")


async def slow(_: Request) -> Response:
    await asyncio.sleep(1.2)
    return HTMLResponse("<p>Welcome, eventually</p>")


async def flaky(_: Request) -> Response:
    # A blip: one request in FLAKY_EVERY fails, the next one succeeds (a confirmation retry
    # hides it, and retries are never downtime).
    global FLAKY_COUNT
    FLAKY_COUNT += 1
    if FLAKY_COUNT % FLAKY_EVERY == 0:
        return PlainTextResponse("busy", status_code=503)
    return HTMLResponse("<p>Welcome</p>")


def outage_now(elapsed: float) -> bool:
    """Whether /outage is down ``elapsed`` seconds after the start."""
    return OUTAGE_START <= elapsed % OUTAGE_CYCLE < OUTAGE_END


async def outage(_: Request) -> Response:
    # Up at first, then a short, real incident the demo shows (it starts, is alerted, ends).
    if outage_now(time.monotonic() - STARTED):
        return PlainTextResponse("maintenance gone wrong", status_code=503)
    return JSONResponse({"status": "ok"})


async def login(request: Request) -> Response:
    if request.method == "GET":
        token = secrets.token_hex(8)
        CSRF.add(token)
        return HTMLResponse(
            f'<form method="post"><input type="hidden" name="csrf" value="{token}">'
            '<input name="username"><input name="password" type="password"></form>'
        )
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
    if form.get("csrf") not in CSRF or form.get("password") != "demo":
        return HTMLResponse("<p>Login failed</p>", status_code=403)
    session = secrets.token_hex(8)
    SESSIONS.add(session)
    response = HTMLResponse("<p>Your account: council tax, bins, library loans</p>")
    response.set_cookie("session", session, httponly=True)
    return response


def _receiver_app(log: Path) -> Starlette:
    """The on-call receiver: Apprise's ``json://`` posts {title, message, type}; each is printed
    as it arrives (the demo's story) and kept, one JSON line each, in ``log``."""

    async def receive(request: Request) -> Response:
        try:
            body = json.loads(await request.body())
        except ValueError:
            return PlainTextResponse("not JSON", status_code=400)
        name = request.path_params["name"]
        when = dt.datetime.now().strftime("%H:%M:%S")
        first = str(body.get("message", "")).strip().splitlines()[:1]
        print(f"{when} >>> ALERT to {name} [{body.get('type', '')}] {body.get('title', '')}"
              + (f" | {first[0]}" if first else ""), flush=True)  # fmt: skip
        with log.open("a", encoding="utf-8") as f:
            f.write(json.dumps({"receiver": name, "received": time.time(), **body}) + "\n")
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/{name}", receive, methods=["POST"])])


APP = Starlette(
    routes=[
        Route("/", home),
        Route("/slow", slow),
        Route("/flaky", flaky),
        Route("/outage", outage),
        Route("/login", login, methods=["GET", "POST"]),
    ]
)


def make_certificate(state: Path) -> tuple[Path, Path, Path]:
    """A demo CA and a localhost certificate that expires in 10 days."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "threenines demo CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=10))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    state.mkdir(parents=True, exist_ok=True)
    ca_file, cert_file, key_file = state / "ca.pem", state / "cert.pem", state / "key.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_file, cert_file, key_file


async def _banner(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"220 mail.demo.test ESMTP ready\r\n")
    await writer.drain()
    writer.close()


class _Dns(asyncio.DatagramProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            query = dns.message.from_wire(data)
        except Exception:
            return  # a demo server: ignore garbage
        reply = dns.message.make_response(query)
        question = query.question[0]
        if question.name.to_text() == "portal.demo.test." and question.rdtype == 1:
            reply.answer.append(dns.rrset.from_text(question.name, 60, "IN", "A", "127.0.0.1"))
        else:
            reply.set_rcode(dns.rcode.NXDOMAIN)
        self.transport.sendto(reply.to_wire(), addr)  # type: ignore[attr-defined]


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: this process owns SIGTERM/SIGINT."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(state: Path) -> None:
    global STARTED
    _ca, cert, key = make_certificate(state)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    servers = [
        _Server(uvicorn.Config(APP, host="127.0.0.1", port=HTTP_PORT, log_level="warning")),
        _Server(
            uvicorn.Config(
                APP,
                host="127.0.0.1",
                port=HTTPS_PORT,
                log_level="warning",
                ssl_certfile=str(cert),
                ssl_keyfile=str(key),
                ssl_version=ssl.PROTOCOL_TLS_SERVER,
            )
        ),
    ]
    received = state / "alerts.jsonl"
    received.unlink(missing_ok=True)
    servers.append(
        _Server(
            uvicorn.Config(
                _receiver_app(received), host="127.0.0.1", port=RECEIVER_PORT, log_level="warning"
            )
        )
    )
    tasks = [asyncio.create_task(s.serve()) for s in servers]
    tcp = await asyncio.start_server(_banner, "127.0.0.1", TCP_PORT)
    udp, _ = await loop.create_datagram_endpoint(_Dns, local_addr=("127.0.0.1", DNS_PORT))
    for _ in range(200):  # bounded: 10 s for the HTTP servers to listen
        if all(s.started for s in servers) or any(t.done() for t in tasks):
            break
        await asyncio.sleep(0.05)
    if not all(s.started for s in servers):
        raise SystemExit(f"demo targets: an HTTP port of {HTTP_PORT}, {HTTPS_PORT}, "
                         f"{RECEIVER_PORT} is taken")  # fmt: skip
    STARTED = time.monotonic()  # the outage's timeline counts from here
    (state / "ready").write_text("ok")
    await stop.wait()
    for s in servers:
        s.should_exit = True
    tcp.close()
    udp.close()
    await asyncio.gather(*tasks)


if __name__ == "__main__":
    asyncio.run(serve(Path(sys.argv[1] if len(sys.argv) > 1 else "data/demo")))
