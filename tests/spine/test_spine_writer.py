"""BatchWriter against real database trouble: a locked SQLite file, a vanished PostgreSQL table."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import sqlalchemy as sa
from spine_support import outage, rec

from threenines.app.db import make_engine, migrate
from threenines.core.config.schema import Storage
from threenines.core.metrics import Metrics
from threenines.core.quarantine import quarantined
from threenines.core.results import ProbeResult, Status
from threenines.core.store import ResultRecord, ResultStore
from threenines.core.tables import results
from threenines.core.writer import BatchWriter, retention_loop


def _store(db_url: str) -> ResultStore:
    engine = make_engine(db_url, sqlite_busy_timeout=0.2)
    migrate(engine)
    return ResultStore(engine)


def _rows(store: ResultStore) -> list[tuple[float, str]]:
    with store.engine.connect() as conn:
        q = sa.select(results.c.ts, results.c.status).order_by(results.c.ts)
        return [tuple(r) for r in conn.execute(q)]  # type: ignore[misc]


def _sample(m: Metrics, name: str, **labels: str) -> float | None:
    return m.registry.get_sample_value(name, labels)


async def test_buffers_while_unavailable_then_writes_everything(db_url: str) -> None:
    store = _store(db_url)
    seen = []
    writer = BatchWriter(
        store, Storage(batch_size=50, buffer_limit=1000), subscribers=[seen.extend]
    )
    for i in range(30):
        writer.submit(rec("a/x", 100 + i))
    assert await writer.flush()
    with outage(db_url):
        for i in range(30, 230):
            writer.submit(rec("a/x", 100 + i, Status.DOWN if i >= 100 else Status.UP))
        assert not await writer.flush()
        assert not await writer.flush()  # a retry while still down keeps everything
        assert (writer.buffered, writer.db_ok) == (200, False)
        assert _sample(writer.metrics, "threenines_database_up") == 0
        assert _sample(writer.metrics, "threenines_results_buffered") == 200
    assert await writer.flush()
    assert len(_rows(store)) == 230
    assert (writer.written, writer.dropped, writer.buffered, writer.db_ok) == (230, 0, 0, True)
    assert _sample(writer.metrics, "threenines_results_written_total") == 230
    assert [(f.old, f.new, f.ts) for f in seen] == [(None, "up", 100), ("up", "down", 200)]
    store.engine.dispose()


async def test_buffer_limit_drops_oldest_and_counts(db_url: str) -> None:
    store = _store(db_url)
    writer = BatchWriter(store, Storage(batch_size=500, buffer_limit=1000))
    with outage(db_url):
        for i in range(1300):
            writer.submit(rec("a/x", float(i)))
        assert not await writer.flush()
    assert await writer.flush()
    rows = _rows(store)
    assert (len(rows), rows[0][0], rows[-1][0]) == (1000, 300, 1299)
    assert writer.dropped == 300
    assert _sample(writer.metrics, "threenines_results_dropped_total", reason="buffer_full") == 300
    store.engine.dispose()


async def test_background_loop_retries_with_backoff(db_url: str) -> None:
    store = _store(db_url)
    writer = BatchWriter(store, Storage(batch_size=10, flush_interval=0.05))
    task = asyncio.create_task(writer.run())
    with outage(db_url):
        for i in range(25):
            writer.submit(rec("a/x", float(i)))
        for _ in range(100):
            if not writer.db_ok:
                break
            await asyncio.sleep(0.05)
        assert not writer.db_ok
        await asyncio.sleep(0.3)
    for _ in range(200):
        if writer.written == 25:
            break
        await asyncio.sleep(0.05)
    assert (writer.written, len(_rows(store)), writer.dropped) == (25, 25, 0)
    assert await writer.close() == 0
    await task
    store.engine.dispose()


async def test_a_refused_record_is_quarantined_and_the_rest_written(db_url: str) -> None:
    store = _store(db_url)
    writer = BatchWriter(store, Storage())
    stored: list[tuple[float, bool]] = []
    writer.on_written.append(lambda recs, ok: stored.extend((r.ts, ok) for r in recs))
    bad = rec("a/x", 105, attempts=2**70)  # out of range for an INTEGER on both backends
    odd = ResultRecord(  # cleaned, not refused: NUL, bad UTF-8 and an object in its details
        "a/x", "central", 107,
        ProbeResult.make(Status.UP, 0.1, None, "r\x00\udc80", details={"x": object()}),
    )  # fmt: skip
    batch = [rec("a/x", 100), bad, odd, *(rec("a/x", 110 + i) for i in range(60))]
    for r in batch:
        writer.submit(r)
    assert await writer.flush()
    assert [ts for ts, _ in _rows(store)] == [100, 107, *range(110, 170)]
    assert (writer.written, writer.dropped, writer.db_ok) == (62, 0, True)
    assert sorted(stored) == sorted((r.ts, r is not bad) for r in batch)
    assert _sample(writer.metrics, "threenines_quarantined_total", source="results") == 1
    (kept,) = quarantined(store.engine, "results")
    assert json.loads(kept["raw"])["attempts"] == 2**70 and json.loads(kept["raw"])["ts"] == 105
    with store.engine.connect() as conn:
        reason = conn.execute(sa.select(results.c.reason).where(results.c.ts == 107)).scalar()
    assert reason == "r\ufffd\ufffd"
    store.engine.dispose()


async def test_close_spools_what_cannot_be_written(db_url: str, tmp_path: Path) -> None:
    store = _store(db_url)
    spool = tmp_path / "spool.db"
    writer = BatchWriter(store, Storage(), spool_path=spool)
    with outage(db_url):
        for i in range(40):
            writer.submit(rec("a/x", float(i), Status.DOWN if i % 2 else Status.UP, attempts=2))
        assert await writer.close(grace=0.3) == 40
    again = BatchWriter(store, Storage(), spool_path=spool)  # the next start
    assert again.buffered == again.spooled == 40
    assert await again.flush()
    assert len(_rows(store)) == 40 and again.spooled == 0
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.min(results.c.attempts))).scalar() == 2
    store.engine.dispose()


async def test_an_outage_spills_to_disk_at_once_so_a_crash_loses_nothing(
    db_url: str, tmp_path: Path
) -> None:
    """No ``close``: the process dies (kill -9) during the outage. Everything submitted after
    the first failed write is on disk already; the next start stores each result once."""
    store = _store(db_url)
    spool = tmp_path / "spool.db"
    writer = BatchWriter(store, Storage(batch_size=10), spool_path=spool)
    for i in range(5):
        writer.submit(rec("a/x", float(i)))
    assert await writer.flush()
    with outage(db_url):
        for i in range(5, 25):
            writer.submit(rec("a/x", float(i)))
        assert not await writer.flush()  # the failed write spills the buffer
        assert writer.spooled == 20
        for i in range(25, 40):
            writer.submit(rec("a/x", float(i)))  # during the outage: to disk at once
        assert writer.spooled == 35 and len(writer._buf) == 0
    del writer  # killed: nothing flushed, nothing closed
    again = BatchWriter(store, Storage(batch_size=10), spool_path=spool)
    assert again.spooled == 35
    assert await again.flush()
    assert [ts for ts, _ in _rows(store)] == [float(i) for i in range(40)]
    assert again.spooled == 0
    store.engine.dispose()


async def test_a_json_lines_spool_of_an_older_version_is_read_once(
    db_url: str, tmp_path: Path
) -> None:
    from threenines.core.spool import encode

    store = _store(db_url)
    spool = tmp_path / "spool.jsonl"
    lines = [json.dumps(encode(rec("a/x", float(i)))) for i in range(3)]
    spool.write_text("\n".join([*lines, "not json"]) + "\n")
    writer = BatchWriter(store, Storage(), spool_path=spool)
    assert writer.spooled == 3 and spool.read_bytes().startswith(b"SQLite format 3")
    assert not spool.with_name("spool.jsonl.legacy").exists()
    assert await writer.flush()
    assert len(_rows(store)) == 3
    store.engine.dispose()


async def test_retention_deletes_old_raw_results(db_url: str) -> None:
    store = _store(db_url)
    store.write_batch([rec("a/x", float(t)) for t in range(0, 1000, 10)])
    ready = asyncio.Event()
    task = asyncio.create_task(
        retention_loop(store.engine, Storage(raw_retention=500), ready=ready, clock=lambda: 1000)
    )
    await asyncio.sleep(0.1)
    assert len(_rows(store)) == 100  # waits for the schema to be ready
    ready.set()
    for _ in range(100):
        if len(_rows(store)) == 50:
            break
        await asyncio.sleep(0.05)
    task.cancel()
    assert [ts for ts, _ in _rows(store)][:1] == [500]
    store.engine.dispose()
