"""Late and out-of-order results are merged into the state intervals; ingest is idempotent.

The intervals are a function of the results sorted by time, whatever the arrival order: the
hypothesis property feeds random arrival orders and batch splits through ``write_batch`` and
compares with ``reference`` (the rule written out for sorted results). SQLite and PostgreSQL.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spine_support import rec

from threenines.app.db import make_engine, migrate
from threenines.core.results import Status
from threenines.core.store import ResultStore
from threenines.core.tables import results, state_intervals

UP, DOWN, DEG = Status.UP, Status.DOWN, Status.DEGRADED
GAP = 120.0  # rec()'s max_gap

Row = tuple[str, float, float | None, float]  # state, start, end, last_seen


@pytest.fixture
def store(db_url: str) -> Iterator[ResultStore]:
    engine = make_engine(db_url)
    migrate(engine)
    yield ResultStore(engine)
    engine.dispose()


def intervals(store: ResultStore, check: str = "a/x") -> list[Row]:
    si = state_intervals
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(si.c.state, si.c.start, si.c.end, si.c.last_seen)
            .where(si.c.check_id == check)
            .order_by(si.c.start, si.c.id)
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


def reference(points: list[tuple[float, Status]], gap: float = GAP) -> list[Row]:
    """The rule for results in time order (``threenines.core.intervals``), written out."""
    out: list[list[object]] = []
    for ts, status in sorted(points, key=lambda p: p[0]):
        last = out[-1] if out else None
        if last is not None and ts - last[3] <= gap and last[0] == status.value:  # type: ignore[operator]
            last[3] = ts
            continue
        if last is not None:
            last[2] = last[3] if ts - last[3] > gap else ts  # type: ignore[operator]
        out.append([status.value, ts, None, ts])
    return [tuple(r) for r in out]  # type: ignore[misc]


def test_a_result_inside_a_run_of_another_state_splits_it(store: ResultStore) -> None:
    store.write_batch([rec("a/x", t) for t in (100, 160, 220, 280)])
    assert store.write_batch([rec("a/x", 190, DOWN)]) == []  # late: history, not the present
    assert intervals(store) == [("up", 100, 190, 160), ("down", 190, 220, 190),
                                ("up", 220, None, 280)]  # fmt: skip
    # the rest of an outage fills in; the open interval still holds the newest result
    store.write_batch([rec("a/x", 200, DOWN), rec("a/x", 210, DOWN)])
    assert intervals(store) == [("up", 100, 190, 160), ("down", 190, 220, 210),
                                ("up", 220, None, 280)]  # fmt: skip
    store.write_batch([rec("a/x", 300)])  # and the newest result extends it as before
    assert intervals(store)[-1] == ("up", 220, None, 300)


def test_a_late_result_bridges_a_gap_and_one_before_everything(store: ResultStore) -> None:
    store.write_batch([rec("a/x", 100), rec("a/x", 200)])
    store.write_batch([rec("a/x", 400)])  # 200 s of silence: no data between
    assert intervals(store) == [("up", 100, 200, 200), ("up", 400, None, 400)]
    store.write_batch([rec("a/x", 300)])  # the "silence" was a result on its way
    assert intervals(store) == [("up", 100, None, 400)]
    store.write_batch([rec("a/x", 50, DOWN)])
    assert intervals(store) == [("down", 50, 100, 50), ("up", 100, None, 400)]
    store.write_batch([rec("a/x", -100, DOWN)])  # more than max_gap before: a gap after it
    assert intervals(store) == [("down", -100, -100, -100), ("down", 50, 100, 50),
                                ("up", 100, None, 400)]  # fmt: skip


def test_a_result_sent_again_is_acknowledged_not_stored_twice(store: ResultStore) -> None:
    batch = [rec("a/x", 100), rec("a/x", 160, DOWN), rec("a/x", 160, DOWN)]  # a copy inside too
    flips = store.write_batch(batch)
    before = intervals(store)
    assert store.write_batch(batch) == [] and store.write_batch(batch[1:]) == []
    assert intervals(store) == before == [("up", 100, 160, 100), ("down", 160, None, 160)]
    assert [(f.old, f.new) for f in flips] == [(None, UP), (UP, DOWN)]
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(results)).scalar() == 2
    assert store.duplicates == 1 + 3 + 2
    # a new store (a restart) knows them too: it is the database's unique key
    assert ResultStore(store.engine).write_batch(batch) == []
    assert intervals(store) == before


def test_the_unique_key_matches_the_table_definition(store: ResultStore) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from threenines.core.tables import metadata

    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert [d for d in diff if _table_of(d) == "results"] == []


def _table_of(diff: object) -> str:
    if isinstance(diff, list):  # modify_* operations come grouped per column
        return str(diff[0][2])
    assert isinstance(diff, tuple)
    kind, obj = diff[0], diff[1]
    if kind.endswith("_table"):
        return str(obj.name)
    if kind.endswith("_index") or kind.endswith("_constraint"):
        return str(obj.table.name)
    return str(diff[2])


def test_the_migration_removes_existing_duplicates_keeping_the_first(db_url: str) -> None:
    from alembic import command

    from threenines.app.areas import COMPOSITION
    from threenines.core.db import alembic_config

    engine = make_engine(db_url)
    cfg = alembic_config(engine, COMPOSITION.migration_locations)
    command.upgrade(cfg, "0001")  # the schema as it was: no unique key
    row = {"check_id": "a/x", "vantage": "v1", "status": "up", "reason": "", "duration": 0.1,
           "attempts": 1, "phases": {}, "details": {}}  # fmt: skip
    with engine.begin() as conn:
        conn.execute(results.insert(), [
            {**row, "ts": 1.0, "reason": "first"}, {**row, "ts": 2.0}, {**row, "ts": 1.0},
            {**row, "ts": 1.0, "vantage": "v2"}, {**row, "ts": 2.0, "reason": "copy"},
        ])  # fmt: skip
    migrate(engine)
    with engine.connect() as conn:
        got = conn.execute(
            sa.select(results.c.id, results.c.vantage, results.c.ts, results.c.reason).order_by(
                results.c.id
            )
        ).all()
    assert [tuple(r) for r in got] == [(1, "v1", 1.0, "first"), (2, "v1", 2.0, ""),
                                       (4, "v2", 1.0, "")]  # fmt: skip
    with engine.begin() as conn, pytest.raises(sa.exc.IntegrityError):
        conn.execute(results.insert().values(**row, ts=1.0))
    engine.dispose()


STATES = st.sampled_from([UP, UP, DOWN, DEG])
# times on a coarse grid, so that gaps (> 120) and runs both happen often
POINTS = st.lists(st.tuples(st.integers(0, 30).map(lambda n: n * 25.0), STATES), min_size=3,
                  max_size=25, unique_by=lambda p: p[0])  # fmt: skip
ARRIVALS = st.data()
_checks = itertools.count()


FIXTURE = [HealthCheck.function_scoped_fixture]  # one database per test; a fresh key per example


@settings(max_examples=60, deadline=None, suppress_health_check=FIXTURE)
@given(points=POINTS, data=ARRIVALS)
def test_any_arrival_order_gives_the_intervals_of_sorted_arrival(
    store: ResultStore, points: list[tuple[float, Status]], data: st.DataObject
) -> None:
    check = f"p/{next(_checks)}"  # a fresh key per example: no reset of the database needed
    order = data.draw(st.permutations(points))
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(order) - 1)), max_size=6)))
    batches = [order[i:j] for i, j in itertools.pairwise([0, *cuts, len(order)]) if order[i:j]]
    fresh = data.draw(st.booleans())  # a new store (no cache) between batches, as after a restart
    for batch in batches:
        s = ResultStore(store.engine) if fresh else store
        s.write_batch([rec(check, ts, status) for ts, status in batch])
    got = intervals(store, check)
    assert got == reference(points), (batches, got)
    sorted_check = f"{check}-sorted"
    store.write_batch([rec(sorted_check, ts, status) for ts, status in sorted(points)])
    assert intervals(store, sorted_check) == got
