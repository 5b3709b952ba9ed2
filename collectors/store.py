"""SNMP storage: events (traps, reboots, link changes) and readings summarised per period.

Readings (a temperature, an interface's bit rate) arrive every poll; storing each one would
grow without bound and nobody reads them at that grain. ``Summariser`` folds them into one row
per (device, metric, subject, period) with count/avg/min/max/last, and only closed periods
are written. Events go to the shared ``events`` table that alerts and reports read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Column, Engine, Float, Index, Integer, String, Table

from threenines.core.clean import clean_row
from threenines.core.tables import Id, events, metadata

snmp_readings = Table(
    "snmp_readings",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("bucket", Float, nullable=False),  # start of the period, epoch seconds UTC
    Column("period", Float, nullable=False),
    Column("device", String(64), nullable=False),
    Column("site", String(64), nullable=False),
    Column("metric", String(64), nullable=False),
    Column("subject", String(200), nullable=False, default=""),  # ifName, sensor, storage...
    Column("count", Integer, nullable=False),
    Column("avg", Float, nullable=False),
    Column("min", Float, nullable=False),
    Column("max", Float, nullable=False),
    Column("last", Float, nullable=False),
    Index(None, "device", "metric", "bucket"),
    Index(None, "bucket"),
)


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One row of the ``events`` table. ``severity``: critical | major | minor | info."""

    ts: float
    source: str
    kind: str
    severity: str
    category: str = "availability"
    site: str | None = None
    device: str | None = None
    subject: str | None = None
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        """The row as every database stores it (text cleaned and cut to its column)."""
        return clean_row(
            events,
            {
                "ts": self.ts,
                "source": self.source,
                "kind": self.kind,
                "severity": self.severity,
                "category": self.category,
                "site": self.site,
                "device": self.device,
                "subject": (self.subject or None) and self.subject[:200],
                "message": self.message[:4000],
                "details": self.details,
            },
        )


@dataclass(frozen=True, slots=True)
class Reading:
    """One polled value: ``metric`` (e.g. ``if_in_bps``) of ``subject`` (e.g. ``eth0``)."""

    ts: float
    device: str
    site: str
    metric: str
    subject: str
    value: float


@dataclass(slots=True)
class _Acc:
    count: int = 0
    total: float = 0.0
    low: float = float("inf")
    high: float = float("-inf")
    last: float = 0.0


class Summariser:
    """Pure accumulator: ``add`` readings, get back the summaries of periods that closed.

    A period closes when a reading for the same series arrives in a later period, or on
    ``flush`` (shutdown). Readings older than the open period of their series are ignored.
    """

    def __init__(self, period: float = 300.0):
        self.period = period
        self._open: dict[tuple[str, str, str, str], tuple[float, _Acc]] = {}

    def add(self, readings: Iterable[Reading]) -> list[dict[str, Any]]:
        closed: list[dict[str, Any]] = []
        for r in readings:
            key = (r.device, r.site, r.metric, r.subject)
            bucket = r.ts - (r.ts % self.period)
            cur = self._open.get(key)
            if cur is not None and bucket > cur[0]:
                closed.append(self._row(key, *cur))
                cur = None
            elif cur is not None and bucket < cur[0]:
                continue
            if cur is None:
                cur = (bucket, _Acc())
                self._open[key] = cur
            acc = cur[1]
            acc.count += 1
            acc.total += r.value
            acc.low = min(acc.low, r.value)
            acc.high = max(acc.high, r.value)
            acc.last = r.value
        return closed

    def flush(self) -> list[dict[str, Any]]:
        rows = [self._row(key, *cur) for key, cur in self._open.items()]
        self._open.clear()
        return rows

    def _row(self, key: tuple[str, str, str, str], bucket: float, acc: _Acc) -> dict[str, Any]:
        device, site, metric, subject = key
        return {
            "bucket": bucket,
            "period": self.period,
            "device": device,
            "site": site,
            "metric": metric,
            "subject": subject[:200],
            "count": acc.count,
            "avg": acc.total / acc.count,
            "min": acc.low,
            "max": acc.high,
            "last": acc.last,
        }


def insert_events(engine: Engine, records: Sequence[EventRecord]) -> None:
    if records:
        with engine.begin() as conn:
            conn.execute(events.insert(), [r.row() for r in records])


def insert_summaries(engine: Engine, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        with engine.begin() as conn:
            conn.execute(snmp_readings.insert(), [clean_row(snmp_readings, r) for r in rows])


def recent_events(
    engine: Engine, *, since: float = 0.0, device: str | None = None, limit: int = 1000
) -> list[dict[str, Any]]:
    query = sa.select(events).where(events.c.ts >= since).order_by(events.c.id).limit(limit)
    if device is not None:
        query = query.where(events.c.device == device)
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def readings(
    engine: Engine, *, device: str, metric: str, since: float = 0.0
) -> list[dict[str, Any]]:
    query = (
        sa.select(snmp_readings)
        .where(snmp_readings.c.device == device, snmp_readings.c.metric == metric)
        .where(snmp_readings.c.bucket >= since)
        .order_by(snmp_readings.c.bucket, snmp_readings.c.subject)
    )
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]
