"""The lab's "citizen portal": a tiny web application each data centre serves on HTTP and HTTPS.

Pages: ``/`` (home), ``/login`` (form with a CSRF token; POST checks it and sets a session
cookie), ``/dashboard`` (after login: "Your account"), ``/logout``, and ``/health`` returning
``{"dc": "<data centre>", "status": "ok"}`` so a probe (or a failover test) can see which data
centre served it. Every response carries ``X-Served-By``. Sessions live in memory per process, so
after a failover residents log in again, as they would with a real cold standby.

Run: ``python -m lab.portal --dc dc-main --address 198.18.21.10 [--cert C --key K]``; the lab
starts it inside the data centre's namespace. The password comes from ``PORTAL_PASSWORD``.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import secrets
import signal
import socketserver
import ssl
import threading
import time
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{title} - Council citizen portal</title></head><body>
<header><h1>Council citizen portal</h1><p>Served by {dc}</p></header>
<main>{body}</main></body></html>"""

_LOGIN = """<h2>Sign in</h2>{error}
<form method="post" action="/login">
<input type="hidden" name="csrf" value="{csrf}">
<label>Username <input name="username" autocomplete="username"></label>
<label>Password <input name="password" type="password"></label>
<button type="submit">Sign in</button></form>"""

_MAX_SESSIONS = 10_000  # bounded: probes log in every few seconds for months


class Portal:
    """The application state shared by the HTTP and HTTPS servers of one data centre."""

    def __init__(self, dc: str, user: str, password: str) -> None:
        self.dc, self.user, self.password = dc, user, password
        self.started = time.time()
        self.lock = threading.Lock()
        self.pending: dict[str, str] = {}  # pre-login session id -> CSRF token
        self.sessions: dict[str, str] = {}  # session id -> user name

    def remember(self, table: dict[str, str], key: str, value: str) -> None:
        with self.lock:
            if len(table) >= _MAX_SESSIONS:
                table.pop(next(iter(table)))
            table[key] = value


class Handler(BaseHTTPRequestHandler):
    server_version = "CouncilPortal/1.0"
    timeout = 30.0  # an idle connection must not hold a thread forever
    portal: Portal  # set on the subclass made per server
    secure = False

    def log_message(self, format: str, *args: Any) -> None:  # quiet: probes hit it constantly
        return

    def _cookie(self, name: str) -> str | None:
        jar = SimpleCookie(self.headers.get("Cookie", ""))
        return jar[name].value if name in jar else None

    def _send(
        self,
        status: int,
        body: str,
        *,
        ctype: str = "text/html; charset=utf-8",
        headers: dict[str, str] | None = None,
        cookies: tuple[str, ...] = (),
    ) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Served-By", self.portal.dc)
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Content-Security-Policy", "default-src 'self'")
        if self.secure:
            self.send_header("Strict-Transport-Security", "max-age=31536000")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        for cookie in cookies:
            self.send_header("Set-Cookie", cookie)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _page(self, status: int, title: str, body: str, **kw: Any) -> None:
        self._send(
            status, _PAGE.format(title=title, dc=html.escape(self.portal.dc), body=body), **kw
        )

    def _set_cookie(self, name: str, value: str) -> str:
        flags = "; Secure" if self.secure else ""
        return f"{name}={value}; Path=/; HttpOnly; SameSite=Lax{flags}"

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/health":
            doc = {
                "dc": self.portal.dc,
                "status": "ok",
                "uptime": time.time() - self.portal.started,
            }
            self._send(200, json.dumps(doc), ctype="application/json")
        elif path == "/":
            self._page(
                200, "Welcome", '<p>Welcome. <a href="/login">Sign in</a> to your account.</p>'
            )
        elif path == "/login":
            self._login_form(200, "")
        elif path == "/dashboard":
            user = self.portal.sessions.get(self._cookie("session") or "")
            if user is None:
                self._send(303, "", headers={"Location": "/login"})
                return
            body = f"<h2>Your account</h2><p>Signed in as {html.escape(user)}.</p>"
            body += "<p>Council tax balance: &pound;0.00</p>"
            self._page(200, "Your account", body)
        else:
            self._page(404, "Not found", "<p>Page not found.</p>")

    def _login_form(self, status: int, error: str) -> None:
        sid, csrf = secrets.token_urlsafe(16), secrets.token_urlsafe(24)
        self.portal.remember(self.portal.pending, sid, csrf)
        body = _LOGIN.format(csrf=csrf, error=f"<p role='alert'>{error}</p>" if error else "")
        self._page(status, "Sign in", body, cookies=(self._set_cookie("presession", sid),))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > 64 * 1024:
            self._page(413, "Too large", "<p>Request too large.</p>")
            return
        form = {
            k: v[0] for k, v in parse_qs(self.rfile.read(length).decode(errors="replace")).items()
        }
        path = self.path.split("?", 1)[0]
        if path == "/logout":
            self.portal.sessions.pop(self._cookie("session") or "", None)
            self._send(303, "", headers={"Location": "/login"})
            return
        if path != "/login":
            self._page(404, "Not found", "<p>Page not found.</p>")
            return
        with self.portal.lock:
            expected = self.portal.pending.pop(self._cookie("presession") or "", None)
        if expected is None or not secrets.compare_digest(expected, form.get("csrf", "")):
            self._page(403, "Forbidden", "<p>Your form expired or was not ours. Try again.</p>")
            return
        good = form.get("username") == self.portal.user and secrets.compare_digest(
            form.get("password", ""), self.portal.password
        )
        if not good:
            self._login_form(401, "Wrong username or password.")
            return
        sid = secrets.token_urlsafe(24)
        self.portal.remember(self.portal.sessions, sid, self.portal.user)
        self._send(
            303, "", headers={"Location": "/dashboard"}, cookies=(self._set_cookie("session", sid),)
        )


class _Server(ThreadingHTTPServer):
    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves its own name (getfqdn): with no DNS reachable from a
        # lab namespace that stalls start-up for seconds, so skip it.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)


class _TlsServer(_Server):
    """Handshakes in the request's own thread, so a silent client never blocks accept()."""

    tls: ssl.SSLContext

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(10.0)
        try:
            request = self.tls.wrap_socket(request, server_side=True)
        except OSError:  # port scans, TCP probes and health checks that never speak TLS
            return
        super().finish_request(request, client_address)


def serve(
    portal: Portal, address: str, http_port: int, tls: ssl.SSLContext | None, https_port: int
) -> list[ThreadingHTTPServer]:
    servers: list[ThreadingHTTPServer] = []
    plain = type("PlainHandler", (Handler,), {"portal": portal})
    servers.append(_Server((address, http_port), plain))
    if tls is not None:
        secure = type("TlsHandler", (Handler,), {"portal": portal, "secure": True})
        secure_server = _TlsServer((address, https_port), secure)
        secure_server.tls = tls
        servers.append(secure_server)
    for httpd in servers:
        httpd.daemon_threads = True
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return servers


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dc", required=True)
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--http-port", type=int, default=80)
    parser.add_argument("--https-port", type=int, default=443)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--user", default="resident")
    args = parser.parse_args(argv)
    tls = None
    if args.cert:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(args.cert, args.key)
    portal = Portal(args.dc, args.user, os.environ.get("PORTAL_PASSWORD", ""))
    servers = serve(portal, args.address, args.http_port, tls, args.https_port)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    print(f"portal {args.dc} serving on {args.address}", flush=True)
    done.wait()
    for httpd in servers:
        httpd.shutdown()


if __name__ == "__main__":
    main()
