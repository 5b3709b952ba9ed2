"""The request handler, DNS server and TCP banner server behind tests/probes/conftest.py."""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import secrets
import ssl
import struct
import time
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs

import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.zone

LOGIN_PAGE = """<html><body><form method="post" action="/login">
<input type="hidden" name="csrf_token" value="{token}">
<input name="username"><input name="password" type="password">
</form></body></html>"""


class Handler(BaseHTTPRequestHandler):
    """Routes: /ok /json /slow /hang /status/N /redirect /loop/a /headers /garbage /gzip
    /login (GET form with CSRF token + session cookie; POST checks both) /dashboard."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, code: int, body: bytes | str = b"", ctype: str = "text/plain", **hdr: str):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for name, value in hdr.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _cookies(self) -> dict[str, str]:
        jar = SimpleCookie(self.headers.get("Cookie", ""))
        return {k: m.value for k, m in jar.items()}

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        state: dict[str, Any] = self.server.state  # type: ignore[attr-defined]
        if path == "/ok":
            self._send(200, "hello threenines")
        elif path == "/json":
            doc = {"status": "ok", "version": 3, "items": [{"name": "a"}, {"name": "b"}]}
            self._send(200, json.dumps(doc), "application/json")
        elif path == "/slow":
            time.sleep(0.4)
            self._send(200, "slow but fine")
        elif path == "/hang":
            self.server.stopping.wait(30)  # type: ignore[attr-defined]
            self.close_connection = True
        elif path.startswith("/status/"):
            self._send(int(path.rsplit("/", 1)[1]), "status page")
        elif path == "/redirect":
            self._send(302, "", Location="/ok")
        elif path in ("/loop/a", "/loop/b"):
            self._send(302, "", Location="/loop/b" if path.endswith("a") else "/loop/a")
        elif path == "/headers":
            self._send(200, json.dumps(dict(self.headers.items())), "application/json")
        elif path == "/garbage":
            self.wfile.write(b"THIS IS NOT HTTP\r\n\r\n")
            self.close_connection = True
        elif path == "/big":  # the keyword after 1 MiB of padding
            self._send(200, "x" * (1 << 20) + " keyword")
        elif path == "/secure":
            self._send(200, "secure", X_Frame_Options="DENY", Set_Cookie="sid=s3cr3t; Secure")
        elif path == "/basic":
            want = "Basic " + base64.b64encode(b"alice:s3cret").decode()
            ok = self.headers.get("Authorization") == want
            self._send(200 if ok else 401, "authorised" if ok else "no")
        elif path == "/bearer":
            ok = self.headers.get("Authorization") == "Bearer tok-123"
            self._send(200 if ok else 401, "authorised" if ok else "no")
        elif path == "/gzip":
            self._send(200, gzip.compress(b"compressed hello"), Content_Encoding="gzip")
        elif path == "/login":
            sid, token = secrets.token_hex(8), secrets.token_hex(16)
            state[sid] = token
            cookie = f"sid={sid}; Path=/; HttpOnly"
            self._send(200, LOGIN_PAGE.format(token=token), "text/html", Set_Cookie=cookie)
        elif path == "/dashboard":
            if self._cookies().get("auth") in state.get("authed", set()):
                self._send(200, "<h1>Welcome, alice</h1>", "text/html")
            else:
                self._send(302, "", Location="/login")
        else:
            self._send(404, "not found")

    def do_POST(self) -> None:
        state: dict[str, Any] = self.server.state  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length", "0"))
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        if self.path == "/login":
            sid = self._cookies().get("sid", "")
            if not sid or state.get(sid) != form.get("csrf_token"):
                self._send(403, "bad CSRF token")
            elif (form.get("username"), form.get("password")) != ("alice", "s3cret"):
                self._send(401, "wrong password")
            else:
                auth = secrets.token_hex(8)
                state.setdefault("authed", set()).add(auth)
                self._send(303, "", Location="/dashboard", Set_Cookie=f"auth={auth}; Path=/")
        elif self.path == "/echo":
            self._send(200, json.dumps(form), "application/json")
        else:
            self._send(404, "not found")


ZONE = """
$TTL 300
@      SOA  ns.test. admin.test. 1 3600 600 86400 300
@      NS   ns.test.
ns     A    127.0.0.1
www    A    127.0.0.1
www    A    127.0.0.2
www    AAAA ::1
alias  CNAME www
mail   MX   10 mx.test.
txt    TXT  "v=spf1 -all"
"""


class DnsServer:
    """Answers the test. zone over UDP and TCP on one loopback port.

    servfail.test. -> SERVFAIL; hang.test. -> no reply; other unknown names -> NXDOMAIN.
    """

    def __init__(self) -> None:
        self.zone = dns.zone.from_text(ZONE, origin="test.", relativize=False)
        self.transport: asyncio.DatagramTransport | None = None
        self.tcp: asyncio.Server | None = None

    def answer(self, wire: bytes) -> bytes | None:
        query = dns.message.from_wire(wire)
        question = query.question[0]
        name, rdtype = question.name, question.rdtype
        if name.to_text() == "hang.test.":
            return None
        response = dns.message.make_response(query)
        if name.to_text() == "servfail.test.":
            response.set_rcode(dns.rcode.SERVFAIL)
            return response.to_wire()
        for _ in range(8):  # follow CNAMEs inside the zone
            node = self.zone.get_node(name)
            if node is None:
                if not response.answer:
                    response.set_rcode(dns.rcode.NXDOMAIN)
                break
            rdataset = node.get_rdataset(dns.rdataclass.IN, rdtype)
            cname = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.CNAME)
            if rdataset is not None:
                response.answer.append(
                    dns.rrset.from_rdata_list(name, rdataset.ttl, list(rdataset))
                )
                break
            if cname is None:
                break
            response.answer.append(dns.rrset.from_rdata_list(name, cname.ttl, list(cname)))
            name = cname[0].target
        return response.to_wire()

    async def start(self) -> int:
        loop = asyncio.get_running_loop()
        server = self

        class Proto(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                reply = server.answer(data)
                if reply is not None and server.transport is not None:
                    server.transport.sendto(reply, addr)

        for _ in range(20):  # UDP and TCP on the same port number
            transport, _proto = await loop.create_datagram_endpoint(
                Proto, local_addr=("127.0.0.1", 0)
            )
            port = transport.get_extra_info("sockname")[1]
            try:
                self.tcp = await asyncio.start_server(self._tcp, "127.0.0.1", port)
            except OSError:
                transport.close()
                continue
            self.transport = transport
            return int(port)
        raise RuntimeError("no free port for the test DNS server")

    async def _tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            (size,) = struct.unpack("!H", await reader.readexactly(2))
            reply = self.answer(await reader.readexactly(size))
            if reply is not None:
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def stop(self) -> None:
        if self.transport is not None:
            self.transport.close()
        if self.tcp is not None:
            self.tcp.close()


async def banner_server() -> tuple[asyncio.Server, int]:
    """Sends a banner; answers PING with PONG."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            writer.write(b"220 threenines test banner\r\n")
            await writer.drain()
            line = await asyncio.wait_for(reader.readline(), 5)
            if line.strip() == b"PING":
                writer.write(b"PONG\r\n")
                await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, int(server.sockets[0].getsockname()[1])


async def smtp_server(tls: ssl.SSLContext) -> tuple[asyncio.Server, int]:
    """A fake SMTP server: the greeting in two packets (``"2"``, then the rest 0.3 s later)
    and over two lines (``220-``, ``220 ``); EHLO answers three ``250`` lines with STARTTLS;
    STARTTLS upgrades; QUIT says 221. Enough for the probe's dialogue, not a mail server."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            writer.write(b"2")
            await writer.drain()
            await asyncio.sleep(0.3)
            writer.write(b"20-mail.test ESMTP ready\r\n220 mail.test no UCE\r\n")
            for _ in range(10):
                line = (await asyncio.wait_for(reader.readline(), 5)).strip().upper()
                if line.startswith(b"EHLO"):
                    writer.write(b"250-mail.test\r\n250-STARTTLS\r\n250 SIZE 1000\r\n")
                elif line == b"STARTTLS":
                    writer.write(b"220 go ahead\r\n")
                    await writer.drain()
                    await writer.start_tls(tls)
                elif line == b"QUIT" or not line:
                    writer.write(b"221 bye\r\n")
                    break
                else:
                    writer.write(b"502 unknown\r\n")
                await writer.drain()
            await writer.drain()
        except (TimeoutError, ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, int(server.sockets[0].getsockname()[1])


async def scripted_server(
    greeting: bytes,
    replies: list[tuple[bytes, bytes]],
    tls: ssl.SSLContext,
    *,
    implicit_tls: bool = False,
) -> tuple[asyncio.Server, int]:
    """A line server: sends ``greeting``, then answers each line by the first (prefix, reply)
    whose prefix it starts with (upper-cased); a prefix ending in ``STARTTLS``/``STLS``
    upgrades to TLS after its reply; a reply to ``QUIT``/``LOGOUT`` closes. For IMAP, POP3,
    SSH and Redis fakes."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            writer.write(greeting)
            for _ in range(20):
                await writer.drain()
                line = (await asyncio.wait_for(reader.readline(), 5)).strip().upper()
                if not line:
                    break
                prefix, reply = next(((p, r) for p, r in replies if line.startswith(p)), (b"", b""))
                writer.write(reply or b"-ERR unknown\r\n")
                if prefix.endswith((b"STARTTLS", b"STLS")):
                    await writer.drain()
                    await writer.start_tls(tls)
                elif prefix.endswith((b"QUIT", b"LOGOUT")):
                    await writer.drain()
                    break
        except (TimeoutError, ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=tls if implicit_tls else None)
    return server, int(server.sockets[0].getsockname()[1])


class ForwardProxy:
    """An HTTP forward proxy on 127.0.0.1: ``CONNECT`` tunnels, absolute-form requests are
    rewritten to origin form and piped. ``seen`` lists (method, target, Proxy-Authorization)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str | None]] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream: asyncio.StreamWriter | None = None
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            first, *lines = head.decode("latin-1").split("\r\n")
            method, target, version = first.split(" ", 2)
            auth = next((v.split(":", 1)[1].strip() for v in lines
                         if v.lower().startswith("proxy-authorization:")), None)  # fmt: skip
            self.seen.append((method, target, auth))
            if method == "CONNECT":
                host, port = target.rsplit(":", 1)
                if host != "localhost" and host != "127.0.0.1":
                    writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                    return
                up_reader, upstream = await asyncio.open_connection("127.0.0.1", int(port))
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                rest = target.split("://", 1)[1]
                hostport, _, path = rest.partition("/")
                port = int(hostport.rsplit(":", 1)[1])
                up_reader, upstream = await asyncio.open_connection("127.0.0.1", port)
                kept = [v for v in lines if v and not v.lower().startswith("proxy-")]
                upstream.write(
                    ("\r\n".join([f"{method} /{path} {version}", *kept]) + "\r\n\r\n").encode()
                )
            await asyncio.gather(_pipe(reader, upstream), _pipe(up_reader, writer))
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            writer.close()
            if upstream is not None:
                upstream.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        for _ in range(10_000):
            data = await asyncio.wait_for(reader.read(65536), 10)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (TimeoutError, ConnectionError):
        pass
    finally:
        if writer.can_write_eof():
            writer.write_eof()


async def h2_server(tls: ssl.SSLContext) -> tuple[asyncio.Server, int]:
    """HTTPS on 127.0.0.1 speaking HTTP/2 (h2 library) when ALPN picks h2, else a minimal
    HTTP/1.1 answer; both answer ``hello over <version>``."""
    import h2.config
    import h2.connection
    import h2.events

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if writer.get_extra_info("ssl_object").selected_alpn_protocol() != "h2":
                await reader.readuntil(b"\r\n\r\n")
                body = b"hello over HTTP/1.1"
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
                await writer.drain()
                return
            conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
            conn.initiate_connection()
            writer.write(conn.data_to_send())
            for _ in range(100):
                data = await asyncio.wait_for(reader.read(65536), 5)
                if not data:
                    break
                for event in conn.receive_data(data):
                    if isinstance(event, h2.events.RequestReceived):
                        body = b"hello over HTTP/2"
                        headers = [(":status", "200"), ("content-length", str(len(body))),
                                   ("x-proto", "h2")]  # fmt: skip
                        conn.send_headers(event.stream_id, headers)
                        conn.send_data(event.stream_id, body, end_stream=True)
                writer.write(conn.data_to_send())
                await writer.drain()
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            writer.close()

    tls.set_alpn_protocols(["h2", "http/1.1"])
    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=tls)
    return server, int(server.sockets[0].getsockname()[1])


PORTAL_LOGIN = """<!doctype html><html><head><title>Council portal</title></head><body>
<h1>Council portal</h1><form method="post" action="/login">
<input id="user" name="user"><input id="password" name="password" type="password">
<button id="go" type="submit">Sign in</button></form></body></html>"""
PORTAL_APP = """<!doctype html><html><head><title>Council portal</title></head><body>
<h1>Council portal</h1><div id="main">Loading...</div><script src="/{script}"></script>
</body></html>"""
APP_JS = """fetch('/api/me').then(r => r.json()).then(me => {
  document.getElementById('main').textContent = 'Welcome, ' + me.name; });"""
BROKEN_JS = """renderDashboard(); // never defined: the page stays at 'Loading...'"""
SLOW_PAGE = """<!doctype html><html><head><title>slow</title></head><body>
<script>const t = performance.now(); while (performance.now() - t < 800) {}</script>
<h1>Council tax</h1><p>Your bill, after a slow script.</p></body></html>"""


class PortalHandler(BaseHTTPRequestHandler):
    """A loopback portal for browser journeys: /login (form; POST alice/s3cret -> /app),
    /app (content rendered by JavaScript), /broken (its script throws: only a browser sees
    that the page never renders), /slow (an 800 ms script before the content), /api/me."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, code: int, body: str, ctype: str = "text/html", **hdr: str) -> None:
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for name, value in hdr.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        pages = {
            "/login": (PORTAL_LOGIN, "text/html"),
            "/app": (PORTAL_APP.format(script="app.js"), "text/html"),
            "/broken": (PORTAL_APP.format(script="broken.js"), "text/html"),
            "/app.js": (APP_JS, "application/javascript"),
            "/broken.js": (BROKEN_JS, "application/javascript"),
            "/slow": (SLOW_PAGE, "text/html"),
            "/api/me": ('{"name": "resident"}', "application/json"),
            "/favicon.ico": ("", "image/x-icon"),
        }
        body, ctype = pages.get(self.path.split("?")[0], ("not found", "text/plain"))
        self._send(200 if body != "not found" else 404, body, ctype)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        if (form.get("user"), form.get("password")) == ("alice", "s3cret"):
            self._send(303, "", Location="/app")
        else:
            self._send(401, "<h1>Wrong password</h1>")
