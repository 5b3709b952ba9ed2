"""Availability storage: maintenance windows, drill periods, daily summaries, interval reads.

Maintenance windows added from the CLI or API and drill periods (written by the failover
runner) are concrete ``[start, end)`` windows with a scope; config windows are not stored.
Daily summaries keep per-check and per-service seconds by category for each local day, kept
for years, so multi-year trends do not need every state interval.
"""

from __future__ import annotations

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
PER_KEY_LIMIT = 64  # above this many keys, one scan beats per-key index seeks


def load_intervals(
    engine: Engine, keys: Iterable[tuple[str, str]], start: float, end: float
) -> dict[tuple[str, str], list[IntervalRow]]:
    """Interval rows of ``keys`` (check_id, vantage) that may overlap ``[start, end)``.

    Few keys (one service): per key, an index range on ``(check_id, vantage, start)`` for the
    rows starting inside the window plus one index seek for the latest row starting before
    it (a key's intervals never overlap, so only that one can cover the window's start).
    Many keys (the whole estate): one pass over ``start < end`` on the ``start`` index, keeping
    rows still open or ending after ``start`` -- cheaper than a thousand round trips.
    """
    wanted = list(dict.fromkeys(keys))
    out: dict[tuple[str, str], list[IntervalRow]] = {k: [] for k in wanted}
    si = state_intervals.c
    with engine.connect() as conn:
        if len(wanted) > PER_KEY_LIMIT:
            q = sa.select(*_COLS).where(si.start < end, sa.or_(si.end.is_(None), si.end > start))
            for cid, vantage, *rest in conn.execute(q):
                rows = out.get((cid, vantage))
                if rows is not None:
                    rows.append(IntervalRow(*rest))
            for rows in out.values():
                rows.sort(key=lambda r: r.start)
            return out
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
