"""Real local receivers for delivery tests: an HTTP JSON endpoint (Apprise ``json://``) and an
SMTP server (aiosmtpd, Apprise ``mailto://``), both on 127.0.0.1."""

from __future__ import annotations

import email
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class JsonReceiver:
    port: int
    messages: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    fail_next: int = 0  # answer 500 to this many requests first
    block: threading.Event | None = None  # hold requests until set

    def url(self, path: str = "hook") -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    def by_path(self, path: str) -> list[dict[str, Any]]:
        return [m for p, m in zip(self.paths, self.messages, strict=True) if p == f"/{path}"]


@contextmanager
def json_receiver() -> Iterator[JsonReceiver]:
    rec = JsonReceiver(0)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            with lock:
                failing = rec.fail_next > 0
                rec.fail_next -= 1 if failing else 0
                if not failing:
                    rec.messages.append(json.loads(body))
                    rec.paths.append(self.path)
            if rec.block is not None:  # the message is in: the answer waits
                rec.block.wait(10)
            self.send_response(500 if failing else 200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    rec.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class SmtpReceiver:
    port: int
    mails: list[Message] = field(default_factory=list)

    def url(self, to: str = "oncall@example.org") -> str:
        return f"mailto://127.0.0.1:{self.port}?mode=insecure&from=threenines@example.org&to={to}"

    def text(self, mail: Message) -> str:
        for part in mail.walk():
            if part.get_content_type() == "text/plain":
                payload = part.get_payload(decode=True)
                assert isinstance(payload, bytes)
                return payload.decode(part.get_content_charset() or "utf-8")
        raise AssertionError("no text/plain part")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def smtp_receiver() -> Iterator[SmtpReceiver]:
    rec = SmtpReceiver(_free_port())

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            rec.mails.append(email.message_from_bytes(envelope.content))
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=rec.port)
    controller.start()
    try:
        yield rec
    finally:
        controller.stop()
