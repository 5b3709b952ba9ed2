"""The intervals' cache (``threenines.core.intervals``): steady state reads nothing back, and
the cache never drifts from the table: another writer's change is found and reloaded."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from spine_support import rec

from threenines.app.db import make_engine, migrate
from threenines.core.results import Status
from threenines.core.store import ResultStore
from threenines.core.tables import state_intervals

UP, DOWN = Status.UP, Status.DOWN
CHECKS = 50


def _store(db_url: str) -> ResultStore:
    engine = make_engine(db_url)
    migrate(engine)
    return ResultStore(engine)


@contextmanager
def _statements(engine: sa.Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn, _cursor, statement, _params, _context, _many) -> None:  # type: ignore[no-untyped-def]
        seen.append(" ".join(statement.split()).lower())

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


def _intervals(store: ResultStore) -> list[tuple]:
    si = state_intervals
    with store.engine.connect() as conn:
        q = sa.select(si.c.check_id, si.c.vantage, si.c.state, si.c.start, si.c.end, si.c.last_seen)
        return [tuple(r) for r in conn.execute(q.order_by(si.c.check_id, si.c.vantage, si.c.start))]


def _batch(ts: float, status: Status = UP, vantage: str = "central") -> list:
    return [rec(f"s/c{i}", ts, status, vantage) for i in range(CHECKS)]


def test_steady_state_reads_no_interval(db_url: str) -> None:
    store = _store(db_url)
    store.write_batch(_batch(0))  # first sight: the open intervals are created
    with _statements(store.engine) as seen:
        for n in range(1, 11):
            assert store.write_batch(_batch(60.0 * n)) == []
    reads = [s for s in seen if s.startswith("select") and "state_intervals" in s]
    assert reads == []
    # per batch: the raw rows (one statement) and one executemany of last_seen
    assert len([s for s in seen if "state_intervals" in s]) == 10
    with _statements(store.engine) as seen:  # a flip writes (close + open), still reads nothing
        flips = store.write_batch(_batch(660.0, DOWN))
    assert len(flips) == CHECKS
    assert [s for s in seen if s.startswith("select") and "state_intervals" in s] == []
    assert _intervals(store)[:2] == [
        ("s/c0", "central", "up", 0.0, 660.0, 600.0),
        ("s/c0", "central", "down", 660.0, None, 660.0),
    ]
    store.engine.dispose()


def test_first_sight_is_read_in_one_go(db_url: str) -> None:
    store = _store(db_url)
    store.write_batch(_batch(0))
    again = ResultStore(store.engine)  # a restart: nothing cached
    with _statements(store.engine) as seen:
        again.write_batch(_batch(60))
    reads = [s for s in seen if s.startswith("select") and "state_intervals" in s]
    assert 1 <= len(reads) <= 2  # not one per check
    assert all(r[-1] == 60.0 for r in _intervals(again))
    store.engine.dispose()
