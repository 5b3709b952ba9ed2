"""Real local servers for the security tests: TLS (any protocol floor, any certificate), HTTP
with chosen headers/body, a DNS server answering a dict, and net-snmp ``snmpd``. Loopback only."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dns.message
import dns.rcode
import dns.rrset
from conftest import free_udp_port
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


def self_signed(name: str, days: float = 90, tmp: Path | None = None) -> tuple[str, str]:
    """A self-signed RSA certificate for ``name``: (cert PEM path, key PEM path)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    folder = tmp or Path(tempfile.mkdtemp())
    cert_path, key_path = folder / f"{name}.crt", folder / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


def server_context(
    cert: str, key: str, low: str = "TLSv1_2", high: str | None = None, ciphers: str | None = None
) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        if ciphers or low in ("TLSv1", "TLSv1_1"):
            ctx.set_ciphers(ciphers or "ALL:@SECLEVEL=0")
        ctx.minimum_version = getattr(ssl.TLSVersion, low)
        if high:
            ctx.maximum_version = getattr(ssl.TLSVersion, high)
    return ctx


class TlsServer:
    """Completes handshakes on 127.0.0.1:<port> (then closes) until stopped."""

    def __init__(self, ctx: ssl.SSLContext):
        self.ctx, self.sock = ctx, socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop_event.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            try:
                conn.settimeout(2)
                with self.ctx.wrap_socket(conn, server_side=True):
                    pass
            except (ssl.SSLError, OSError):
                pass

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(5)
        self.sock.close()


class HttpServer:
    """Serves ``body`` with ``headers`` for every GET; both can be changed between requests."""

    def __init__(self, body: bytes, headers: dict[str, str]):
        self.body, self.headers = body, headers
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: object) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(200)
                for k, v in outer.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(outer.body)))
                self.end_headers()
                self.wfile.write(outer.body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class DnsServer(asyncio.DatagramProtocol):
    """Answers A queries from ``records`` (name -> addresses); other names get NXDOMAIN."""

    def __init__(self, records: dict[str, list[str]]):
        self.records = records
        self.transport: asyncio.DatagramTransport | None = None

    async def start(self) -> int:
        loop = asyncio.get_running_loop()
        self.transport, _ = await loop.create_datagram_endpoint(
            lambda: self, local_addr=("127.0.0.1", 0)
        )
        return self.transport.get_extra_info("sockname")[1]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        query = dns.message.from_wire(data)
        resp = dns.message.make_response(query)
        name = query.question[0].name.to_text().rstrip(".")
        if name in self.records:
            resp.answer.append(
                dns.rrset.from_text_list(name + ".", 60, "IN", "A", self.records[name])
            )
        else:
            resp.set_rcode(dns.rcode.NXDOMAIN)
        assert self.transport is not None
        self.transport.sendto(resp.to_wire(), addr)

    def stop(self) -> None:
        if self.transport:
            self.transport.close()


class Snmpd:
    """net-snmp snmpd on 127.0.0.1:<port> answering ``community`` (read-only)."""

    def __init__(self, community: str = "public"):
        self.dir = Path(tempfile.mkdtemp(prefix="tn-sec-snmpd-"))
        self.port = free_udp_port()
        conf = self.dir / "snmpd.conf"
        conf.write_text(f"rocommunity {community} 127.0.0.1\nsysDescr threenines-test-agent\n")
        self.proc = subprocess.Popen(
            [
                shutil.which("snmpd") or "snmpd",
                "-f",
                "-Lf",
                str(self.dir / "log"),
                "-C",
                "-c",
                str(conf),
                "-p",
                str(self.dir / "pid"),
                "-M",
                "/dev/null",
                "-m",
                "",
                f"udp:127.0.0.1:{self.port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "MIBS": ""},
        )
        self._wait(community)

    def _wait(self, community: str) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            r = subprocess.run(
                [
                    "snmpget",
                    "-v2c",
                    "-c",
                    community,
                    "-t",
                    "0.3",
                    "-r",
                    "0",
                    "-On",
                    f"127.0.0.1:{self.port}",
                    "1.3.6.1.2.1.1.1.0",
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if r.returncode == 0 or "Timeout" not in r.stderr + r.stdout:
                return
            time.sleep(0.2)
        raise RuntimeError("snmpd did not start")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)
