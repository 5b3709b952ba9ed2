"""The agent's parts that keep results safe, fast: the queue and the memory buffer when the file
cannot grow (SQLite's own "database or disk is full", by its page limit), delivery from memory
against the real service, the supervisor, the server-anchored clock (pure), and the server's
record of each agent's clock and queue (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from agent_support import config_yaml, load, result, rows, service, token

from threenines.agents.buffer import ResultBuffer
from threenines.agents.clock import ServerClock
from threenines.agents.delivery import Delivery
from threenines.agents.health import HealthStore, parse
from threenines.agents.sender import AgentClient
from threenines.agents.supervise import Supervisor
from threenines.app.db import make_engine, migrate
from threenines.core.queue import DiskQueue, QueueError
from threenines.core.tables import events


def _full(q: DiskQueue, full: bool) -> None:
    """Let the queue file grow no more (as a full disk does), or again."""
    pages = q._db.execute("PRAGMA page_count").fetchone()[0]
    q._db.execute(f"PRAGMA max_page_count = {pages if full else 1_000_000}")


def _r(ts: float, check: str = "web/a") -> dict[str, Any]:
    return result(check, ts, reason="x" * 1900)


def test_a_failed_queue_write_changes_nothing_and_deletes_are_never_lost(tmp_path: Path) -> None:
    q = DiskQueue(tmp_path / "q.sqlite")
    q.put([_r(t) for t in range(10)], now=10.0)
    _full(q, True)
    with pytest.raises(QueueError, match="database or disk is full"):
        q.put([_r(t) for t in range(10, 200)], now=200.0)
    assert len(q) == 10 and [s for s, _ in q.peek(3)] == [1, 2, 3]
    q.remove([1, 2])  # delivered: gone at once, whether or not the file could change
    assert len(q) == 8 and q.peek(1)[0][0] == 3 and q.oldest_ts() == 2.0
    _full(q, False)
    q.put([_r(300.0)], now=300.0)  # the next write that succeeds deletes them for good
    q.close()
    again = DiskQueue(tmp_path / "q.sqlite")
    assert len(again) == 9 and again.peek(1)[0][0] == 3
    again.close()


def test_an_unusable_queue_path_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(QueueError) as err:
        DiskQueue(tmp_path / "file" / "q.sqlite")
    assert str(err.value).count("\n") == 0 and "file" in str(err.value)


async def test_the_buffer_keeps_results_while_the_queue_is_full_and_resumes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    q = DiskQueue(tmp_path / "q.sqlite")
    buf = ResultBuffer(q, limit=1000)
    _full(q, True)
    t0 = time.time() - 2000
    for t in range(1200):
        buf.add(_r(t0 + t))
        if t % 100 == 99:
            assert not await buf.flush()
    assert len(buf) == 1000 and buf.dropped == 200 and "disk is full" in str(buf.error)
    assert buf.oldest_ts() == t0 + 200 and len(q) == 0
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert sum("cannot write the queue" in m for m in errors) == 1  # said once, with the cause
    assert sum("MEMORY FULL" in m for m in errors) == 1
    _full(q, False)
    assert await buf.flush() and buf.error is None and len(buf) == 0
    assert len(q) == 1000 and q.oldest_ts() == t0 + 200  # in order, nothing lost but the bound
    assert "queue writable again" in caplog.text
    q.close()


async def test_delivery_sends_from_memory_while_the_queue_cannot_be_written(
    tmp_path: Path,
) -> None:
    cfg = load(config_yaml(tmp_path, 9, {"a": ["v1"]}, interval="30s"))
    async with service(cfg) as (ctx, url):
        _, tok = token(ctx, "agent", "v1")
        q = DiskQueue(tmp_path / "q.sqlite")
        buf = ResultBuffer(q)
        client = AgentClient(url, "v1", tok)
        delivery = Delivery(q, client, buffer=buf)
        try:
            now = time.time()
            q.put([_r(now - 10)], now)
            _full(q, True)
            for t in range(5):
                buf.add(_r(now - 5 + t))
                if t == 2:
                    buf.add(_r(now - 3.5, "web/zz"))  # not for this vantage: refused for good
            assert not await buf.flush()
            assert await delivery.drain(30) and len(buf) == 0
            assert (delivery.delivered, delivery.refused) == (6, 1)
            # copies of what memory sent, written later, are acknowledged, not stored twice
            _full(q, False)
            q.put([_r(now - 5 + t) for t in range(5)], now)
            assert await delivery.drain(30) and len(q) == 0
        finally:
            await client.close()
            q.close()
        assert client.clock.anchored  # every answer carries the server's time
    assert len(rows(tmp_path / "server.db", "v1")) == 6


async def test_a_task_that_dies_is_logged_and_restarted(caplog: pytest.LogCaptureFixture) -> None:
    stop = asyncio.Event()
    runs = 0

    async def flaky() -> None:
        nonlocal runs
        runs += 1
        if runs < 3:
            raise RuntimeError("a bug")
        stop.set()

    sv = Supervisor(restart_after=0.01)
    await asyncio.wait_for(sv.run("flusher", flaky, stop), 10)
    assert runs == 3 and sv.deaths == {"flusher": 2}
    died = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert died[0].startswith("the flusher task died (RuntimeError: a bug); restarting it")
    assert "Traceback" not in caplog.text


def test_the_clock_follows_the_server_not_the_host() -> None:
    mono, wall = [100.0], [5000.0]  # the host's clock is 240 s fast
    clock = ServerClock(mono=lambda: mono[0], wall=lambda: wall[0])
    assert not clock.anchored and clock.date(5000.0) == 5000.0  # no word from the server yet
    assert clock.observe(4760.0, sent=99.8, received=100.0)
    assert clock.date(5000.0) == pytest.approx(4760.1) and clock.skew() == pytest.approx(239.9)
    mono[0], wall[0] = 160.0, 4820.0  # a minute later NTP steps the host's clock back
    assert clock.date(4820.0) == pytest.approx(4820.1)  # results stay on the server's time
    assert not clock.observe(4820.05, sent=159.95, received=160.05)  # consistent: no jump
    assert not clock.observe(1e9, sent=160.0, received=163.0)  # too slow an answer to trust
    assert clock.observe(4830.0, sent=160.0, received=160.0)  # the server's clock was stepped
    saved = clock.dump()
    again = ServerClock(mono=lambda: mono[0], wall=lambda: wall[0])
    assert again.load(saved) and again.date(4820.0) == pytest.approx(4830.0)
    assert not ServerClock().load(saved.replace('"boot": "', '"boot": "other'))
    host = ServerClock(mono=lambda: mono[0], wall=lambda: wall[0], use_server=False)
    host.observe(4760.0, sent=99.9, received=100.1)
    assert host.date(4820.0) == 4820.0 and not host.anchored


def test_a_clock_step_while_a_probe_runs_moves_no_result() -> None:
    """The host clock is stepped between a probe's start (its wall time) and its result: the
    result is dated by its age on the server's clock, never minutes off (a result 240 s in the
    server's future held every later one back: the clock test's flake under load)."""
    mono, wall = [100.0], [5000.0]  # 240 s fast
    clock = ServerClock(mono=lambda: mono[0], wall=lambda: wall[0])
    assert clock.observe(4760.0, sent=100.0, received=100.0)
    mono[0], wall[0] = 100.7, 4760.7  # NTP steps it back while a probe started at 5000.5 runs
    assert clock.date(5000.5, max_age=2.0, fallback_age=0.2) == pytest.approx(4760.5)
    mono[0], wall[0] = 101.0, 5001.0  # and forward again while one started at 4760.9 runs
    assert clock.date(4760.9, max_age=2.0, fallback_age=0.1) == pytest.approx(4760.9)
    assert clock.date(5000.5, max_age=2.0) == pytest.approx(4760.5)  # no step: as measured
    assert clock.date(4996.0, max_age=2.0) == pytest.approx(4756.0)  # slow but plausible age


def test_a_slow_first_answer_anchors_and_a_quick_one_refines_it() -> None:
    """No anchor yet: a slow answer (a loaded server's first) is better than a host clock
    minutes off; a quick answer later narrows it."""
    mono, wall = [100.0], [5000.0]
    clock = ServerClock(mono=lambda: mono[0], wall=lambda: wall[0])
    assert clock.observe(4759.0, sent=97.0, received=100.0)  # 3 s: uncertain by 1.5 s
    assert clock.anchored and clock.date(5000.0) == pytest.approx(4760.5)
    mono[0], wall[0] = 101.0, 5001.0
    assert clock.observe(4760.3, sent=100.98, received=101.0)  # consistent, far more precise
    assert clock.date(5001.0) == pytest.approx(4760.31)
    assert not clock.observe(4760.3, sent=100.0, received=101.0)  # less precise: kept


def test_reports_are_read_leniently() -> None:
    r = parse("1000.5", '{"queue": 5, "memory": -3, "queue_error": "full", "clock": "x"}', 1000)
    assert r.skew == 0.5 and r.state == {"queue": 5, "memory": 0, "queue_error": "full"}
    assert parse("nan", "[1]", 1000) == parse(None, "{bad", 1000) == parse("x", None, 0)
    assert parse(None, None, 0).skew is None


def test_a_skewed_clock_raises_one_event_per_episode(db_url: str) -> None:
    engine = make_engine(db_url)
    migrate(engine)
    store = HealthStore(engine)
    rec = lambda skew, now: store.record(  # noqa: E731
        "v1", parse(str(now + skew), '{"queue": 3, "clock": "server"}', now), now=now,
        bound=10.0, site="lib",
    )  # fmt: skip
    assert [rec(0.2, 100), rec(240, 105), rec(239, 110), rec(7, 115), rec(4, 120),
            rec(30, 125)] == [None, "agent_clock_skew", None, None, "agent_clock_ok",
                              "agent_clock_skew"]  # fmt: skip
    with engine.connect() as conn:
        got = conn.execute(sa.select(events.c.kind, events.c.severity, events.c.site,
                                     events.c.subject, events.c.message)).all()  # fmt: skip
    assert [tuple(g[:4]) for g in got] == [
        ("agent_clock_skew", "major", "lib", "v1"), ("agent_clock_ok", "info", "lib", "v1"),
        ("agent_clock_skew", "major", "lib", "v1"),
    ]  # fmt: skip
    assert "+240.0s off the server's (bound 10s)" in got[0][4]
    h = store.all()["v1"]
    assert (h["queue"], h["clock"], h["clock_skew"], h["skewed_since"]) == (3, "server", 30, 125)
    engine.dispose()


def test_status_shows_the_agents_clock_and_queue(tmp_path: Path) -> None:
    from rich.console import Console

    from threenines.agents.cli import agents_table
    from threenines.agents.status import agent_rows

    cfg = load(config_yaml(tmp_path, 9, {"a": ["v1", "v2"]}, interval="30s"))
    now = time.time()
    heard = {v: {"last_heard": now - 2, "address": "127.0.0.1", "results": 9} for v in ("v1", "v2")}
    health = {
        "v1": {"clock_skew": 600.2, "skewed_since": now - 60, "clock": "server", "queue": 0,
               "oldest": None, "memory": 0, "queue_error": None, "held": 0, "dropped": 0,
               "reported": now - 2},
        "v2": {"clock_skew": -0.01, "skewed_since": None, "clock": "server", "queue": 120,
               "oldest": now - 300, "memory": 40, "queue_error": "database or disk is full",
               "held": 0, "dropped": 0, "reported": now - 2},
    }  # fmt: skip
    rows = agent_rows(["v1", "v2"], heard, cfg, now, health)
    assert [(r.state, r.clock_skewed, r.silent) for r in rows] == [
        ("clock_skewed", True, False), ("queue_error", False, False)
    ]  # fmt: skip
    assert rows[1].to_dict()["state"] == "queue_error" and rows[1].to_dict()["memory"] == 40
    console = Console(width=250, record=True)
    console.print(agents_table(rows, cfg, now))
    text = console.export_text()
    assert "clock skewed" in text and "+600.2s (results dated by the server's clock)" in text
    assert "120 queued, oldest 5m, 40 in memory, database or disk is full" in text
