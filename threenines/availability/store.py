"""Availability storage: maintenance windows, drill periods, daily summaries, interval reads.

Maintenance windows added from the CLI or API and drill periods (written by the failover
runner) are concrete ``[start, end)`` windows with a scope; config windows are not stored.
Daily summaries keep per-check and per-service seconds by category for each local day, kept
for years, so multi-year trends do not need every state interval.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import JSON, Boolean, Column, Engine, Float, Index, Integer, String, Table, Text

from threenines.availability.schedule import Exclusion
from threenines.availability.timeline import IntervalRow
from threenines.core.tables import Id, metadata, state_intervals


def _window_columns() -> list[Column]:
    return [
        Column("id", Id, primary_key=True, autoincrement=True),
        Column("name", String(64), nullable=False),
        Column("reason", Text, nullable=False, default=""),
        Column("start", Float, nullable=False),
        Column("end", Float, nullable=False),
        Column("services", JSON, nullable=False, default=list),  # empty + no sites: everything
        Column("sites", JSON, nullable=False, default=list),
        Column("created_at", Float, nullable=False),
        Column("created_by", String(64), nullable=False, default=""),
        # availability_0003: records are never updated or deleted (``history``): a change or a
        # removal is a new record naming the first one of its window
        Column("revision_of", Id),
        Column("action", String(10), nullable=False, default="add"),  # add | change | remove
        Column("retroactive", Boolean, nullable=False, default=False),
    ]


maintenance_windows = Table(
    "maintenance_windows", metadata, *_window_columns(), Index(None, "start")
)
drill_periods = Table("drill_periods", metadata, *_window_columns(), Index(None, "start"))
# A second person's approval of a retroactive record (availability_0003); one per record.
maintenance_approvals = Table(
    "maintenance_approvals",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("record_id", Id, nullable=False),
    Column("approved_by", String(64), nullable=False),
    Column("approved_at", Float, nullable=False),
    Column("note", Text, nullable=False, default=""),
    Index(None, "record_id", unique=True),
)

SUMMARY_FIELDS = (
    "up",
    "degraded",
    "down",
    "nodata",
    "no_quorum",  # availability_0002
    "maintenance",
    "drill",
    "outside_hours",
)

availability_daily = Table(
    "availability_daily",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(10), nullable=False),  # check | service
    Column("subject", String(200), nullable=False),  # "<service>/<check>" or "<service>"
    Column("day", String(10), nullable=False),  # local date, YYYY-MM-DD
    Column("start", Float, nullable=False),
    Column("end", Float, nullable=False),
    *(Column(name, Float, nullable=False, default=0.0) for name in SUMMARY_FIELDS),
    Column("incidents", Integer, nullable=False, default=0),
    Index(None, "kind", "subject", "day", unique=True),
    Index(None, "day"),
)


# -- exclusions ---------------------------------------------------------------------------


def add_drill(engine: Engine, window: Exclusion, *, now: float, created_by: str = "") -> int:
    """For the failover runner: tag a drill so it is excluded like maintenance."""
    from threenines.availability.history import add_window

    return add_window(engine, drill_periods, window, now=now, created_by=created_by)


# -- state intervals ----------------------------------------------------------------------

_COLS = (
    state_intervals.c.check_id,
    state_intervals.c.vantage,
    state_intervals.c.state,
    state_intervals.c.start,
    state_intervals.c.end,
    state_intervals.c.last_seen,
    state_intervals.c.error,
    state_intervals.c.reason,
)
PER_KEY_LIMIT = 64  # above this many keys, keys go to the database in chunks
KEY_CHUNK = 500  # keys per statement (3 bind parameters each: well under every backend's limit)


def load_intervals(
    engine: Engine, keys: Iterable[tuple[str, str]], start: float, end: float
) -> dict[tuple[str, str], list[IntervalRow]]:
    """Interval rows of ``keys`` (check_id, vantage) that may overlap ``[start, end)``.

    Per key: the rows starting inside the window (an index range on ``(check_id, vantage,
    start)``) and the latest row starting before it if it is still open or ends after the
    window's start (a key's intervals never overlap, so only that one can cover the start).
    Few keys (one service): two statements per key. Many keys (the whole estate): the rows
    starting inside the window in one range read on the ``start`` index (the table is written
    in time order, so that read is sequential), and the latest earlier row of ``KEY_CHUNK``
    keys at a time (the keys joined as a ``VALUES`` list, one index seek each): the work is
    the window's rows and one seek per key, never the history before the window.
    """
    wanted = list(dict.fromkeys(keys))
    out: dict[tuple[str, str], list[IntervalRow]] = {k: [] for k in wanted}
    with engine.connect() as conn:
        if len(wanted) > PER_KEY_LIMIT:
            _load_many(conn, wanted, start, end, out)
            return out
        si = state_intervals.c
        before = (
            sa.select(*_COLS)
            .where(si.check_id == sa.bindparam("c"), si.vantage == sa.bindparam("v"))
            .where(si.start < start)
            .order_by(si.start.desc())
            .limit(1)
        )
        inside = (
            sa.select(*_COLS)
            .where(si.check_id == sa.bindparam("c"), si.vantage == sa.bindparam("v"))
            .where(si.start >= start, si.start < end)
            .order_by(si.start)
        )
        for key in wanted:
            params = {"c": key[0], "v": key[1]}
            for _c, _v, *rest in conn.execute(before, params):
                row = IntervalRow(*rest)
                if row.end is None or row.end > start:
                    out[key].append(row)
            out[key] += [IntervalRow(*rest) for _c, _v, *rest in conn.execute(inside, params)]
    return out


@functools.cache
def _before_sql(n: int) -> sa.TextClause:
    """For ``n`` keys ``:c<i>``/``:v<i>``: each key's latest row starting before ``:a`` if it
    is open or ends after ``:a``, as ``(i, state, start, end, last_seen, error, reason)``. Text,
    not a ``VALUES`` construct: SQLAlchemy would compile one statement per chunk of keys."""
    keys = ", ".join(f"({i}, :c{i}, :v{i})" for i in range(n))
    return sa.text(
        f"WITH k (i, c, v) AS (VALUES {keys}) "
        'SELECT k.i, si.state, si.start, si."end", si.last_seen, si.error, si.reason '
        f"FROM k JOIN {state_intervals.name} si ON si.id = ("
        f"SELECT x.id FROM {state_intervals.name} x WHERE x.check_id = k.c AND x.vantage = k.v "
        "AND x.start < :a ORDER BY x.start DESC LIMIT 1) "
        'WHERE si."end" IS NULL OR si."end" > :a'
    )


def _load_many(
    conn: sa.Connection, wanted: list[tuple[str, str]], start: float, end: float,
    out: dict[tuple[str, str], list[IntervalRow]],
) -> None:  # fmt: skip
    """``load_intervals`` for many keys: the same rows as the per-key reads, in start order."""
    si = state_intervals.c
    for i in range(0, len(wanted), KEY_CHUNK):
        chunk = wanted[i : i + KEY_CHUNK]
        params: dict[str, object] = {"a": start}
        for n, (c, v) in enumerate(chunk):
            params[f"c{n}"], params[f"v{n}"] = c, v
        for n, *rest in conn.execute(_before_sql(len(chunk)), params):
            out[chunk[n]].append(IntervalRow(*rest))
    inside = sa.select(*_COLS).where(si.start >= start, si.start < end).order_by(si.start)
    make = tuple.__new__  # IntervalRow(*row[2:]) without the argument parsing, per row
    for row in conn.execute(inside):
        rows = out.get(row[:2])
        if rows is not None:
            rows.append(make(IntervalRow, row[2:]))


# -- daily summaries ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DailySummary:
    kind: str
    subject: str
    day: str
    start: float
    end: float
    up: float = 0.0
    degraded: float = 0.0
    down: float = 0.0
    nodata: float = 0.0
    maintenance: float = 0.0
    drill: float = 0.0
    outside_hours: float = 0.0
    incidents: int = 0
    no_quorum: float = 0.0


def write_daily(engine: Engine, rows: Sequence[DailySummary]) -> int:
    """Replace the summaries for the (kind, subject, day) keys given; returns rows written."""
    if not rows:
        return 0
    t = availability_daily.c
    with engine.begin() as conn:
        for day in sorted({r.day for r in rows}):
            subjects = [(r.kind, r.subject) for r in rows if r.day == day]
            for kind in {k for k, _ in subjects}:
                names = [s for k, s in subjects if k == kind]
                for i in range(0, len(names), 500):
                    conn.execute(
                        availability_daily.delete().where(
                            t.day == day, t.kind == kind, t.subject.in_(names[i : i + 500])
                        )
                    )
        conn.execute(availability_daily.insert(), [_summary_values(r) for r in rows])
    return len(rows)


def _summary_values(r: DailySummary) -> dict[str, object]:
    return {name: getattr(r, name) for name in DailySummary.__slots__}


def read_daily(
    engine: Engine, kind: str, first_day: str, last_day: str, subjects: Sequence[str] | None = None
) -> list[DailySummary]:
    """Summaries with ``first_day <= day <= last_day`` (ISO dates compare as text)."""
    t = availability_daily.c
    q = sa.select(availability_daily).where(t.kind == kind, t.day >= first_day, t.day <= last_day)
    if subjects is not None:
        q = q.where(t.subject.in_(list(subjects)))
    with engine.connect() as conn:
        return [
            DailySummary(**{n: getattr(r, n) for n in DailySummary.__slots__})
            for r in conn.execute(q.order_by(t.day, t.subject))
        ]
