"""Shared by the scheduled-report tests: a real SMTP server (aiosmtpd) on 127.0.0.1, a small
council estate with a hand-drawn October 2026, and its config with a monthly schedule."""

from __future__ import annotations

import asyncio
import email
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiosmtpd.controller import Controller
from sqlalchemy import Engine

from threenines.app.config import Config, parse_config
from threenines.app.db import make_engine, migrate
from threenines.availability.periods import parse_period
from threenines.core.tables import state_intervals

LONDON = ZoneInfo("Europe/London")
OCT = parse_period("2026-10", LONDON)
# 07:00 on 1 November 2026 (GMT): when the monthly schedule below sends October's report
SEND_OCT = datetime(2026, 11, 1, 7, 0, tzinfo=LONDON).timestamp()
ORG = "Example Borough Council"

CONFIG = """
organisation: Example Borough Council
timezone: Europe/London
storage: {url: "URL"}
sites:
  - {name: dc-main, kind: datacentre}
services:
  - name: payments
    site: dc-main
    checks: [{name: web, type: tcp, host: 127.0.0.1, port: 5}]
alerts:
  receivers:
    - {name: board-email, url: "BOARD_URL"}
    - {name: cio-email, url: "CIO_URL"}
reports:
  schedules:
    - name: monthly-board
      period: monthly
      day: DAY
      time: "TIME"
      formats: [pdf, csv]
      receivers: [board-email, cio-email]
  delivery: {backoff: 1s, backoff_max: 1s, max_attempts: 3, lease: 5m, timeout: 30s}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Smtp:
    port: int
    mails: list[Message] = field(default_factory=list)
    hold: threading.Event | None = None  # while set-able and unset, DATA waits (a slow server)
    arrived: threading.Event = field(default_factory=threading.Event)

    def url(self, to: str) -> str:
        return f"mailto://127.0.0.1:{self.port}?mode=insecure&from=threenines@example.org&to={to}"

    def attachments(self, mail: Message) -> list[tuple[str, str, bytes]]:
        """(file name, content type, bytes) of each attached file."""
        out = []
        for part in mail.walk():
            if part.get_filename():
                data = part.get_payload(decode=True)
                assert isinstance(data, bytes)
                out.append((part.get_filename() or "", part.get_content_type(), data))
        return out

    def text(self, mail: Message) -> str:
        part = next(p for p in mail.walk() if p.get_content_type() == "text/plain")
        data = part.get_payload(decode=True)
        assert isinstance(data, bytes)
        return data.decode(part.get_content_charset() or "utf-8")


@contextmanager
def smtp_server(port: int | None = None) -> Iterator[Smtp]:
    rec = Smtp(port or free_port())

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            rec.arrived.set()
            for _ in range(600):  # at most 30 s
                if rec.hold is None or rec.hold.is_set():
                    break
                await asyncio.sleep(0.05)
            rec.mails.append(email.message_from_bytes(envelope.content))
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=rec.port)
    controller.start()
    try:
        yield rec
    finally:
        controller.stop()


def config_text(url: str, board: str, cio: str, day: int = 1, time: str = "07:00") -> str:
    text = CONFIG.replace("BOARD_URL", board).replace("CIO_URL", cio)
    return text.replace("URL", url, 1).replace("DAY", str(day)).replace("TIME", time)


def estate(url: str, board: str, cio: str, **kw: Any) -> tuple[Config, Engine]:
    """The config and a migrated store holding October 2026: payments down 50 minutes."""
    cfg = parse_config(config_text(url, board, cio, **kw))
    engine = make_engine(url)
    migrate(engine)
    d = OCT.start
    spans = [("up", d, d + 5 * 86400), ("down", d + 5 * 86400, d + 5 * 86400 + 3000)]
    spans.append(("up", d + 5 * 86400 + 3000, OCT.end + 30 * 86400))
    rows = [
        dict(check_id="payments/web", vantage="central", state=s, start=a, end=b,
             last_seen=b - 1, error="refused" if s == "down" else None, reason=s)
        for s, a, b in spans
    ]  # fmt: skip
    with engine.begin() as conn:
        conn.execute(state_intervals.insert(), rows)
    return cfg, engine


def pdf_text(data: bytes, tmp: Path) -> str:
    path = tmp / "attached.pdf"
    path.write_bytes(data)
    res = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return res.stdout
