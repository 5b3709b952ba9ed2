"""During an outage (the database, or a receiver) the two outbox loops, alerts' and reports',
log the repeated failure once (with its traceback), then a count a minute, then one recovery
line: never a line per pass or per attempt.

Real outages for a few seconds at a fast poll: SQLite held under an exclusive lock (every read
fails with "database is locked"), a local HTTP receiver answering 500.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from reports_support import SEND_OCT, config_text, estate

from tests.alerts.alerts_receivers import JsonReceiver, json_receiver
from threenines.alerts.service import AlertService
from threenines.app.config import parse_config
from threenines.app.db import make_engine, migrate
from threenines.core.results import Status
from threenines.core.store import StateChange
from threenines.reports.sender import ReportSender

pytestmark = pytest.mark.slow
OUTAGE = 5.0  # seconds


@pytest.fixture
def rx() -> Iterator[JsonReceiver]:
    with json_receiver() as j:
        yield j


async def _until(what: str, cond: Callable[[], bool], timeout: float = 30) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def _locked(db: Path) -> sqlite3.Connection:
    lock = sqlite3.connect(db, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")  # every other connection's read fails: a real outage
    return lock


def _counting(obj: Any, name: str) -> list[int]:
    """Count the calls of ``obj.name`` (a method the loop calls once per pass or attempt)."""
    calls = [0]
    real = getattr(obj, name)

    def counted(*a: Any, **kw: Any) -> Any:
        calls[0] += 1
        return real(*a, **kw)

    setattr(obj, name, counted)
    return calls


def _told(caplog: pytest.LogCaptureFixture, logger: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == logger and r.levelno >= logging.WARNING]


def _assert_one_story(records: list[logging.LogRecord], failures: int) -> None:
    said = [r.getMessage() for r in records]
    assert failures >= 3, failures  # it did fail again and again
    assert len(records) == 2, said  # first failure, recovery (no minute passed)
    assert sum(r.exc_info is not None for r in records) <= 1, said
    assert "recovered after" in said[1] and "recovered" not in said[0], said


async def _outage(
    loop: Callable[[asyncio.Event], Awaitable[None]], end: Callable[[], None],
    recovered: Callable[[], bool],
) -> None:  # fmt: skip
    """Run ``loop`` through an outage of OUTAGE seconds, ``end`` it, wait for the recovery."""
    stop = asyncio.Event()
    task = asyncio.create_task(loop(stop))
    await asyncio.sleep(OUTAGE)
    end()
    await _until("the recovery", recovered)
    stop.set()
    await asyncio.wait_for(task, 30)


def _alerts(tmp_path: Path, j: JsonReceiver) -> AlertService:
    cfg = parse_config(f"""
storage: {{url: "sqlite:///{tmp_path}/t.db"}}
sites: [{{name: hq, kind: datacentre}}]
services:
  - {{name: web, site: hq, checks: [{{name: tcp, type: tcp, host: 127.0.0.1, port: 9}}]}}
alerts:
  receivers: [{{name: hook, url: "{j.url("hook")}"}}]
  routes: [{{name: ops, receivers: [hook], group_wait: 0s}}]
  outbox: {{backoff: 50ms, backoff_max: 100ms, max_attempts: 1000, lease: 5s,
            poll_interval: 50ms}}
""")
    engine = make_engine(f"sqlite:///{tmp_path}/t.db", sqlite_busy_timeout=0.05)
    migrate(engine)
    return AlertService(cfg, engine)


async def _alerting(tmp_path: Path, j: JsonReceiver) -> AlertService:
    """The alerts service with one notification in its outbox, due now."""
    svc = _alerts(tmp_path, j)
    await svc.start()
    flip = StateChange("web/tcp", "central", time.time(), Status.UP, Status.DOWN, "refused", "")
    await svc.on_flips([flip])
    await svc.tick()
    return svc


def _recovered(caplog: pytest.LogCaptureFixture, logger: str) -> Callable[[], bool]:
    return lambda: any("recovered" in r.getMessage() for r in _told(caplog, logger))


async def test_alerts_outbox_during_a_database_outage(
    tmp_path: Path, rx: JsonReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    svc = await _alerting(tmp_path, rx)  # a delivery due: each pass writes (its claim)
    passes = _counting(svc.sender.store, "due")
    caplog.set_level(logging.INFO, "threenines")
    lock = _locked(tmp_path / "t.db")
    logger = "threenines.alerts.outbox"
    await _outage(svc.sender.run, lambda: (lock.execute("ROLLBACK"), lock.close()) and None,
                  _recovered(caplog, logger))  # fmt: skip
    told = _told(caplog, logger)
    _assert_one_story(told, passes[0] - 1)
    assert told[0].exc_info is not None and "database is locked" in told[0].getMessage()
    svc.engine.dispose()


async def test_alerts_outbox_during_a_receiver_outage(
    tmp_path: Path, rx: JsonReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    svc = await _alerting(tmp_path, rx)
    rx.fail_next = 10**9
    caplog.set_level(logging.INFO, "threenines")

    def end() -> None:
        rx.fail_next = 0

    await _outage(svc.sender.run, end, lambda: len(rx.messages) > 0)
    told = _told(caplog, "threenines.alerts.outbox")
    _assert_one_story(told, svc.sender.stats["retried"])
    assert "hook" in told[0].getMessage() and str(rx.port) not in told[0].getMessage()
    svc.engine.dispose()


def _reports(tmp_path: Path, j: JsonReceiver) -> tuple[ReportSender, Path]:
    db = tmp_path / "r.db"
    text = config_text(f"sqlite:///{db}", j.url("board"), j.url("cio"))
    text = text.replace("formats: [pdf, csv]", "formats: [csv]")
    text = text.replace("receivers: [board-email, cio-email]", "receivers: [board-email]")
    text = text.replace("max_attempts: 3", "max_attempts: 100")
    _, engine = estate(f"sqlite:///{db}", j.url("board"), j.url("cio"))  # October stored
    engine.dispose()
    engine = make_engine(f"sqlite:///{db}", sqlite_busy_timeout=0.05)
    start = time.time()
    sender = ReportSender(
        parse_config(text), engine, clock=lambda: SEND_OCT + 5 + time.time() - start
    )
    return sender, db


async def test_reports_sender_during_a_database_outage(
    tmp_path: Path, rx: JsonReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    sender, db = _reports(tmp_path, rx)
    passes = _counting(sender, "queue_due")
    caplog.set_level(logging.INFO, "threenines")
    lock = _locked(db)
    logger = "threenines.reports"
    await _outage(sender.run, lambda: (lock.execute("ROLLBACK"), lock.close()) and None,
                  _recovered(caplog, logger))  # fmt: skip
    told = _told(caplog, logger)
    _assert_one_story(told, passes[0] - 1)
    assert told[0].exc_info is not None and "database is locked" in told[0].getMessage()
    sender.engine.dispose()


async def test_reports_sender_during_a_receiver_outage(
    tmp_path: Path, rx: JsonReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    sender, _db = _reports(tmp_path, rx)
    rx.fail_next = 10**9
    caplog.set_level(logging.INFO, "threenines")

    def end() -> None:
        rx.fail_next = 0

    await _outage(sender.run, end, lambda: len(rx.messages) > 0)
    told = _told(caplog, "threenines.reports")
    _assert_one_story(told, sender.stats["retried"])
    assert "board-email" in told[0].getMessage()
    sender.engine.dispose()
