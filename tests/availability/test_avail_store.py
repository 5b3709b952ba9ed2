"""Availability storage on SQLite and PostgreSQL: windows, drills, summaries, interval reads."""

from __future__ import annotations

import sqlalchemy as sa

from threenines.app.db import make_engine, migrate
from threenines.availability.history import (
    ExclusionsConfig,
    add_window,
    records,
    remove_window,
    windows,
)
from threenines.availability.schedule import Exclusion
from threenines.availability.store import (
    DailySummary,
    add_drill,
    drill_periods,
    load_intervals,
    maintenance_windows,
    read_daily,
    write_daily,
)
from threenines.core.tables import state_intervals


def _engine(url):
    engine = make_engine(url)
    migrate(engine)
    return engine


def test_windows_and_drills_round_trip(db_url):
    engine = _engine(db_url)
    policy = ExclusionsConfig()
    win = Exclusion(100.0, 200.0, "patch", "kernel update", ("web",), ("library",))
    wid = add_window(engine, maintenance_windows, win, now=50.0, created_by="cli", policy=policy)
    add_window(engine, maintenance_windows, Exclusion(500.0, 600.0, "later"), now=50.0)
    (got,) = windows(engine, maintenance_windows, policy, 150.0, 400.0)
    assert (got.record, got.start, got.end, got.services, got.sites) == (
        wid, 100.0, 200.0, ("web",), ("library",))  # fmt: skip
    assert len(windows(engine, maintenance_windows, policy)) == 2
    remove_window(engine, wid, now=60.0, by="cli", reason="cancelled", policy=policy)
    assert len(windows(engine, maintenance_windows, policy)) == 1
    assert [r.action for r in records(engine)] == ["add", "add", "remove"]  # history kept
    add_drill(engine, Exclusion(10.0, 20.0, "dr-drill", sites=("dc-main",)), now=5.0)
    (drill,) = windows(engine, drill_periods, policy)
    assert drill.sites == ("dc-main",) and drill.applies("x", "dc-main")
    engine.dispose()


def test_load_intervals_window_edges_and_many_keys(db_url):
    engine = _engine(db_url)
    rows = []
    for k in range(70):  # more than PER_KEY_LIMIT: exercises the range-scan path
        cid = f"svc{k}/http"
        rows += [
            dict(
                check_id=cid,
                vantage="central",
                state="up",
                start=0.0,
                end=100.0,
                last_seen=90.0,
                reason="",
            ),
            dict(
                check_id=cid,
                vantage="central",
                state="down",
                start=100.0,
                end=250.0,
                last_seen=240.0,
                error="refused",
                reason="r",
            ),
            dict(
                check_id=cid,
                vantage="central",
                state="up",
                start=250.0,
                end=None,
                last_seen=900.0,
                reason="",
            ),
        ]
    rows.append(
        dict(
            check_id="old/x",
            vantage="central",
            state="up",
            start=0.0,
            end=10.0,
            last_seen=5.0,
            reason="",
        )
    )
    with engine.begin() as conn:
        conn.execute(state_intervals.insert(), rows)
    few = load_intervals(engine, [("svc1/http", "central"), ("old/x", "central")], 150.0, 300.0)
    assert [(r.state, r.start) for r in few[("svc1/http", "central")]] == [
        ("down", 100.0),
        ("up", 250.0),
    ]
    assert few[("old/x", "central")] == []  # ended before the window
    keys = [(f"svc{k}/http", "central") for k in range(70)]
    many = load_intervals(engine, keys, 150.0, 300.0)
    assert all([r.start for r in many[k]] == [100.0, 250.0] for k in keys)
    # an open interval that started long before the window is found by the seek
    late = load_intervals(engine, keys[:2], 5000.0, 6000.0)
    assert [(r.state, r.end) for r in late[keys[0]]] == [("up", None)]
    engine.dispose()


def test_daily_summaries_upsert(db_url):
    engine = _engine(db_url)
    a = DailySummary(
        "service", "web", "2026-11-01", 0.0, 86400.0, up=86000.0, down=400.0, incidents=1
    )
    b = DailySummary("service", "web", "2026-11-02", 86400.0, 172800.0, up=86400.0)
    assert write_daily(engine, [a, b]) == 2
    a2 = DailySummary(
        "service", "web", "2026-11-01", 0.0, 86400.0, up=86300.0, down=100.0, incidents=1
    )
    write_daily(engine, [a2])
    got = read_daily(engine, "service", "2026-11-01", "2026-11-30")
    assert got == [a2, b]
    with engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from availability_daily")).scalar() == 2
    engine.dispose()


def _table_of(diff) -> str:
    if isinstance(diff, list):  # modify_* operations come grouped per column
        return diff[0][2]
    kind, obj = diff[0], diff[1]
    if kind.endswith("_table"):
        return obj.name
    if kind.endswith("_index") or kind.endswith("_constraint"):
        return obj.table.name
    return diff[2]  # add_column / remove_column: (kind, schema, table, column)


def test_migration_matches_the_table_definitions(db_url):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from threenines.core.tables import metadata

    engine = _engine(db_url)
    mine = {"maintenance_windows", "drill_periods", "availability_daily", "maintenance_approvals"}
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert [d for d in diff if _table_of(d) in mine] == []
    engine.dispose()
