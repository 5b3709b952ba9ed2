"""ResultStore: raw rows, intervals and flips, retention, current state; SQLite and PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa
from spine_support import rec

from threenines.app.db import make_engine, migrate
from threenines.availability.status import ConfiguredCheck, compose_status, latest_intervals
from threenines.core.results import Status
from threenines.core.store import ResultStore, prune_results
from threenines.core.tables import results, state_intervals

UP, DOWN, DEG = Status.UP, Status.DOWN, Status.DEGRADED


def _store(db_url: str) -> ResultStore:
    engine = make_engine(db_url)
    migrate(engine)
    return ResultStore(engine)


def _intervals(store: ResultStore) -> list[tuple]:
    si = state_intervals
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(si.c.check_id, si.c.state, si.c.start, si.c.end, si.c.last_seen).order_by(
                si.c.check_id, si.c.start
            )
        )
        return [tuple(r) for r in rows]


def test_intervals_and_flips(db_url: str) -> None:
    store = _store(db_url)
    flips = store.write_batch([rec("a/x", 100), rec("a/x", 160), rec("a/x", 220, DOWN)])
    assert [(f.old, f.new, f.ts) for f in flips] == [(None, UP, 100), (UP, DOWN, 220)]
    flips = store.write_batch([rec("a/x", 280, DOWN), rec("a/x", 340, DEG)])
    assert [(f.old, f.new, f.ts) for f in flips] == [(DOWN, DEG, 340)]
    assert _intervals(store) == [
        ("a/x", "up", 100, 220, 160),
        ("a/x", "down", 220, 340, 280),
        ("a/x", "degraded", 340, None, 340),
    ]
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(results)).scalar() == 5
    store.engine.dispose()


def test_gap_is_no_data_and_a_late_arrival_is_merged(db_url: str) -> None:
    store = _store(db_url)
    store.write_batch([rec("a/x", 100), rec("a/x", 160)])
    # 500 s of silence (> max_gap 120): the gap is no data; a new interval starts at 660
    flips = store.write_batch([rec("a/x", 660)])
    assert [(f.old, f.new, f.ts) for f in flips] == [(None, UP, 660)]
    assert _intervals(store) == [("a/x", "up", 100, 160, 160), ("a/x", "up", 660, None, 660)]
    # older than last_seen, alone in the gap: its own (instant) interval; the current state
    # (the newest result's) does not change, so there is no flip
    late = store.write_batch([rec("a/x", 300, DOWN)])
    assert late == []
    assert _intervals(store) == [
        ("a/x", "up", 100, 160, 160), ("a/x", "down", 300, 300, 300), ("a/x", "up", 660, None, 660),
    ]  # fmt: skip
    with store.engine.connect() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(results)).scalar()
    assert n == 4
    store.engine.dispose()


def test_a_new_store_continues_the_open_interval(db_url: str) -> None:
    store = _store(db_url)
    store.write_batch([rec("a/x", 100)])
    again = ResultStore(store.engine)  # a restart: no cache, reads the open interval
    assert again.write_batch([rec("a/x", 160)]) == []
    assert _intervals(again) == [("a/x", "up", 100, None, 160)]
    store.engine.dispose()


def test_close_stale(db_url: str) -> None:
    store = _store(db_url)
    store.write_batch([rec("a/x", 100), rec("b/y", 1000)])
    assert store.close_stale(now=1100, max_gap=300) == 1
    assert _intervals(store) == [("a/x", "up", 100, 100, 100), ("b/y", "up", 1000, None, 1000)]
    store.engine.dispose()


def test_prune_deletes_raw_results_only(db_url: str) -> None:
    store = _store(db_url)
    store.write_batch([rec("a/x", float(t)) for t in range(100, 1100, 10)])  # 100 rows
    assert prune_results(store.engine, cutoff=600, batch=7) == 50
    with store.engine.connect() as conn:
        left = conn.execute(sa.select(sa.func.min(results.c.ts), sa.func.count())).one()
    assert tuple(left) == (600, 50)
    assert _intervals(store) == [("a/x", "up", 100, None, 1090)]
    store.engine.dispose()


def test_current_state(db_url: str) -> None:
    store = _store(db_url)
    store.write_batch([rec("web/ok", 100), rec("web/bad", 100), rec("web/bad", 130, DOWN)])
    store.write_batch([rec("web/ok", 100, vantage="branch")])
    rows = latest_intervals(store.engine)
    assert {(r.check_id, r.vantage, r.state, r.start) for r in rows} == {
        ("web/ok", "central", "up", 100),
        ("web/bad", "central", "down", 130),
        ("web/ok", "branch", "up", 100),
    }
    grace = 2 * 60 + 2 * 10 + 1 * 2  # core.scheduler.max_gap of a default 60 s check
    checks = [
        ConfiguredCheck("web", "dc1", "ok", "tcp", "central", grace),
        ConfiguredCheck("web", "dc1", "ok", "tcp", "branch", grace),
        ConfiguredCheck("web", "dc1", "bad", "tcp", "central", grace),
        ConfiguredCheck("web", "dc1", "new", "tcp", "central", grace),
    ]
    status = compose_status(checks, rows, now=200)
    assert [(s.check, s.vantage, s.state, s.since) for s in status] == [
        ("ok", "central", "up", 100),
        ("ok", "branch", "up", 100),
        ("bad", "central", "down", 130),
        ("new", "central", "unknown", None),
    ]
    # fresh until its last result plus the grace (the write path's max_gap), then unknown
    assert compose_status(checks[:1], rows, now=100 + grace - 1)[0].state == "up"
    stale = compose_status(checks[:1], rows, now=100 + grace)
    assert (stale[0].state, stale[0].since) == ("unknown", 100)
    store.engine.dispose()
