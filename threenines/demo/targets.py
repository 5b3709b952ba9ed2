"""Loopback targets for ``make demo``: a small citizen portal and friends, on 127.0.0.1 only.

- HTTP  127.0.0.1:18080  /, /slow (degraded), /flaky (fails 1 in 4: retries hide it),
                         /outage (503 for 90 s in every 5 min: a real incident), /login journey
- HTTPS 127.0.0.1:18443  a certificate from a demo CA that expires in 10 days (TLS "degraded")
- TCP   127.0.0.1:18025  an SMTP-like banner
- DNS   127.0.0.1:18053  portal.demo.test A 127.0.0.1

Run as ``python -m threenines.demo.targets STATE_DIR``; it stops on SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import random
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

HTTP_PORT, HTTPS_PORT, TCP_PORT, DNS_PORT = 18080, 18443, 18025, 18053
STARTED = time.monotonic()
SESSIONS: set[str] = set()
CSRF: set[str] = set()


async def home(_: Request) -> Response:
    return HTMLResponse("<h1>Welcome to the Demo Borough citizen portal</h1>")


async def slow(_: Request) -> Response:
    await asyncio.sleep(1.2)
    return HTMLResponse("<p>Welcome, eventually</p>")


async def flaky(_: Request) -> Response:
    if random.random() < 0.25:
        return PlainTextResponse("busy", status_code=503)
    return HTMLResponse("<p>Welcome</p>")


async def outage(_: Request) -> Response:
    # Down for the first 90 s of every 5 minutes: a short, real incident the demo shows.
    if (time.monotonic() - STARTED) % 300 < 90:
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
    tasks = [asyncio.create_task(s.serve()) for s in servers]
    tcp = await asyncio.start_server(_banner, "127.0.0.1", TCP_PORT)
    udp, _ = await loop.create_datagram_endpoint(_Dns, local_addr=("127.0.0.1", DNS_PORT))
    (state / "ready").write_text("ok")
    await stop.wait()
    for s in servers:
        s.should_exit = True
    tcp.close()
    udp.close()
    await asyncio.gather(*tasks)


if __name__ == "__main__":
    asyncio.run(serve(Path(sys.argv[1] if len(sys.argv) > 1 else "data/demo")))
