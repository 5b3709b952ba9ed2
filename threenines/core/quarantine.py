"""Rows the database refuses are set aside, with the reason, so that no writer ever blocks.

A failed write is either an *outage* (the database is away, busy or broken: write the same
rows again later) or the *rows' fault* (a value the database refuses: retrying it forever
would hold up every row behind it). ``is_outage`` is the one rule every writer applies;
``write_isolating`` writes a batch and, when it is refused, splits it in halves until each
refused row stands alone; ``Quarantine.put`` stores each refused row in the ``quarantine``
table (its source, the reason, the raw input as JSON text), counts it in
``threenines_quarantined_total{source}`` and logs the first one of a source (then a count
each minute). The rest of the batch is written as usual.
"""

from __future__ import annotations

import json
import logging
import time
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter
from sqlalchemy import Column, Engine, Float, Index, String, Table, Text
from sqlalchemy import exc as sa_exc

from threenines.core.clean import clean_json, clean_text
from threenines.core.logs import Repeated, summary
from threenines.core.tables import Id, metadata

log = logging.getLogger("threenines.quarantine")
T = TypeVar("T")
R = TypeVar("R")
RAW_LIMIT = 65_536

quarantine = Table(
    "quarantine",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("ts", Float, nullable=False),  # when it was refused, epoch seconds UTC
    Column("source", String(64), nullable=False),  # results | events | snmp_readings | ...
    Column("reason", Text, nullable=False),  # the database's word, one line
    Column("raw", Text, nullable=False),  # the refused input as JSON, ASCII (all escaped)
    Index(None, "ts"),
    Index(None, "source", "ts"),
)

_OUTAGE = (sa_exc.DisconnectionError, sa_exc.TimeoutError, OSError)


def is_outage(exc: BaseException) -> bool:
    """True when a failed write should be retried as it is: the database is unavailable.

    Outage: any DB-API error but the two below (OperationalError: connection lost, server
    shutting down, "database is locked"; InterfaceError; InternalError; ProgrammingError, such
    as a table not there yet; NotSupportedError), a pool timeout, a disconnection, an OSError.
    The rows' fault: DataError (NUL in text, value too long or out of range) and IntegrityError
    (NOT NULL, unique), a StatementError that is not a DB-API error (SQLAlchemy could not bind
    a value), and whatever the driver raised while binding (ValueError, TypeError,
    UnicodeError, OverflowError). Anything else is a bug, also not retried as is: the rows
    are isolated and the refused ones kept in the quarantine, never lost, never blocking.
    """
    if isinstance(exc, sa_exc.DataError | sa_exc.IntegrityError):
        return False
    if isinstance(exc, sa_exc.DBAPIError):
        return True
    return isinstance(exc, _OUTAGE)


@dataclass
class Outcome(Generic[T, R]):
    """What ``write_isolating`` did: batches written (with what ``write`` returned), rows
    refused (with the error), and, after an outage, the rows still to be written, in order."""

    done: list[tuple[list[T], R]] = field(default_factory=list)
    refused: list[tuple[T, BaseException]] = field(default_factory=list)
    unwritten: list[T] = field(default_factory=list)
    outage: BaseException | None = None

    @property
    def written(self) -> int:
        return sum(len(b) for b, _ in self.done)


def write_isolating(items: Sequence[T], write: Callable[[list[T]], R]) -> Outcome[T, R]:
    """Write ``items`` (``write`` is one transaction); bisect a refused batch, in order.

    A batch with one bad row among n costs about 2·log2(n) writes, not n. Never raises.
    """
    out: Outcome[T, R] = Outcome()
    pending: deque[list[T]] = deque([list(items)] if items else [])
    while pending:
        chunk = pending.popleft()
        try:
            out.done.append((chunk, write(chunk)))
        except Exception as exc:
            if is_outage(exc):
                out.outage = exc
                out.unwritten = [x for c in (chunk, *pending) for x in c]
                return out
            if len(chunk) == 1:
                out.refused.append((chunk[0], exc))
                continue
            mid = len(chunk) // 2
            pending.appendleft(chunk[mid:])
            pending.appendleft(chunk[:mid])
    return out


_COUNTERS: weakref.WeakKeyDictionary[CollectorRegistry, Counter] = weakref.WeakKeyDictionary()


def quarantined_counter(registry: CollectorRegistry) -> Counter:
    """``threenines_quarantined_total{source}`` on ``registry`` (created once per registry)."""
    counter = _COUNTERS.get(registry)
    if counter is None:
        counter = Counter(
            "threenines_quarantined", "Rows the database refused, kept in the quarantine table",
            ("source",), registry=registry,
        )  # fmt: skip
        _COUNTERS[registry] = counter
    return counter


def raw_json(value: Any) -> str:
    """``value`` as JSON text in ASCII (NUL and bad UTF-8 escaped, so any database takes it)."""
    try:
        text = json.dumps(value, ensure_ascii=True, default=repr)
    except (TypeError, ValueError):  # e.g. a tuple key, a cycle
        text = json.dumps(clean_json(value), ensure_ascii=True, default=repr)
    return text[:RAW_LIMIT]


class Quarantine:
    """Stores refused rows. ``registry``: where to count them (none: table and log only)."""

    def __init__(
        self,
        engine: Engine,
        *,
        registry: CollectorRegistry | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.engine = engine
        self.counter = quarantined_counter(registry) if registry is not None else None
        self.clock = clock
        self.count = 0
        self._logs: dict[str, Repeated] = {}

    def put(
        self,
        source: str,
        refused: Sequence[tuple[Any, BaseException]],
        conn: sa.Connection | None = None,
    ) -> None:
        """Store ``(raw input, error)`` pairs, in ``conn``'s transaction or one of its own.

        Raises what the database raised when it is unavailable: the caller keeps the rows.
        """
        if not refused:
            return
        now = self.clock()
        rows = [
            {"ts": now, "source": source[:64], "reason": clean_text(summary(exc), 2000),
             "raw": raw_json(raw)}
            for raw, exc in refused
        ]  # fmt: skip
        if conn is not None:
            conn.execute(quarantine.insert(), rows)
        else:
            with self.engine.begin() as own:
                own.execute(quarantine.insert(), rows)
        self.count += len(rows)
        if self.counter is not None:
            self.counter.labels(source).inc(len(rows))
        said = self._logs.get(source)
        if said is None:
            said = self._logs[source] = Repeated(
                log, f"quarantined a row the database refused ({source})"
            )
        for _raw, exc in refused:
            # a DB-API or binding error says it all in its message; anything else is a bug
            said.failed(exc, traceback=not isinstance(exc, sa_exc.StatementError))


def quarantined(
    engine: Engine, source: str | None = None, limit: int = 1000
) -> list[dict[str, Any]]:
    """Quarantined rows, oldest first (``raw`` is JSON text)."""
    q = sa.select(quarantine).order_by(quarantine.c.id).limit(limit)
    if source is not None:
        q = q.where(quarantine.c.source == source)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(q)]
