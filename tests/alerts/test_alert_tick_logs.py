"""During a database outage the alerts tick logs one traceback, a count a minute, a recovery."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path

from threenines.alerts.service import AlertService
from threenines.app.config import Config
from threenines.app.db import make_engine, migrate


async def test_a_failing_tick_is_one_traceback_not_a_flood(tmp_path: Path, caplog) -> None:
    url = f"sqlite:///{tmp_path}/t.db"
    engine = make_engine(url, sqlite_busy_timeout=0.05)
    migrate(engine)
    cfg = Config.model_validate({"sites": [{"name": "dc", "kind": "datacentre"}]})
    svc = AlertService(cfg, engine, tick=0.01)
    await svc.start()
    stop = asyncio.Event()
    ticks = 0
    tick = svc.tick

    async def counted() -> None:
        nonlocal ticks
        ticks += 1
        await tick()

    svc.tick = counted  # type: ignore[method-assign]
    svc._last_events = -1e18  # read events (the database) on every tick
    svc.acfg = svc.acfg.model_copy(update={"events_poll": 0.0})
    with caplog.at_level(logging.INFO, "threenines.alerts"):
        task = asyncio.create_task(svc.run(stop))
        lock = sqlite3.connect(tmp_path / "t.db", isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")  # a real outage: every tick's read fails
        for _ in range(500):
            if ticks >= 20:
                break
            await asyncio.sleep(0.02)
        lock.execute("ROLLBACK")
        lock.close()
        for _ in range(500):
            if any("recovered" in r.getMessage() for r in caplog.records):
                break
            await asyncio.sleep(0.02)
        stop.set()
        await asyncio.wait_for(task, 10)
    ours = [r for r in caplog.records if r.getMessage().startswith("alerts tick failed")]
    assert ticks >= 20
    assert len(ours) == 2, [r.getMessage() for r in ours]
    assert ours[0].exc_info is not None and "database is locked" in ours[0].getMessage()
    assert ours[1].getMessage().startswith("alerts tick failed: recovered after ")
    engine.dispose()
