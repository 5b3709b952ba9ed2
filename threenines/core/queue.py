"""A durable result queue: a SQLite file, delivered oldest first, bounded by age and count.

The agent queues every result in one; the server spills results the database cannot take yet
into one (``threenines.core.writer``).

On the agent every result goes through it, whether or not the server is reachable, so results
survive both a server outage and an agent restart, and delivery order is simply ``seq`` order.
The bound is the age of the measurement (default 24 h) plus a row cap; beyond it the *oldest*
results are dropped, counted (also across restarts, in ``meta``) and logged at ERROR every time.

A write that fails (disk full, I/O error) raises ``QueueError`` with the cause and leaves the
file as it was (the transaction is rolled back): the caller keeps those results. Forgetting
delivered results never fails: rows whose DELETE failed are remembered as gone, never handed
out again, and deleted with the next write that succeeds (after a crash they are sent again,
and the server acknowledges what it already has).

Synchronous, guarded by a lock: call it from a thread (``asyncio.to_thread``) in async code.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger("threenines.queue")

SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS results_ts ON results (ts);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class QueueError(Exception):
    """The queue file cannot be opened or written; the message is one line with the cause."""


def _cause(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


class DiskQueue:
    def __init__(self, path: Path, *, max_age: float = 86400.0, max_items: int = 5_000_000):
        """Open (or create) the queue; ``QueueError`` when ``path`` cannot be used."""
        self.path, self.max_age, self.max_items = path, max_age, max_items
        self._lock = threading.Lock()
        self._gone: set[int] = set()  # delivered, DELETE not yet succeeded
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))  # the OS's word, if it fails
            os.chmod(path, 0o600)  # it caches the config, secrets included
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise QueueError(f"cannot open {path}: {_cause(exc)}") from None
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # survives a crash of the agent
            self._db.executescript(SCHEMA)
            self._count = self._db.execute("SELECT count(*) FROM results").fetchone()[0]
            row = self._db.execute("SELECT value FROM meta WHERE key = 'dropped'").fetchone()
        except sqlite3.Error as exc:
            self._db.close()
            raise QueueError(f"cannot use {path}: {_cause(exc)}") from None
        self.dropped = int(row[0]) if row else 0

    def __len__(self) -> int:
        return self._count - len(self._gone)

    def put(self, results: Sequence[dict[str, Any]], now: float) -> int:
        """Append results (``WireResult`` dicts) and enforce the bound; how many were dropped.
        ``QueueError`` if they could not be written (nothing of them is in the file then)."""
        rows = [(r["ts"], json.dumps(r, separators=(",", ":"))) for r in results]
        with self._lock:
            if rows:
                self._write(lambda: self._db.executemany(
                    "INSERT INTO results (ts, body) VALUES (?, ?)", rows))  # fmt: skip
                self._count += len(rows)
            self._retry_deletes()
            try:
                return self._trim(now)
            except sqlite3.Error as exc:  # the rows are in; the bound is enforced next time
                log.warning("queue bound not enforced this time: %s", _cause(exc))
                return 0

    def _write(self, work: Any) -> None:
        """Run ``work`` in one transaction; roll back and raise ``QueueError`` on failure."""
        try:
            self._db.execute("BEGIN")
            work()
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            if self._db.in_transaction:
                try:
                    self._db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass  # SQLite rolled back already (e.g. SQLITE_FULL)
            raise QueueError(f"cannot write {self.path}: {_cause(exc)}") from None

    def _trim(self, now: float) -> int:
        oldest = self._db.execute("SELECT min(ts) FROM results").fetchone()[0]
        n = 0
        if oldest is not None and oldest < now - self.max_age:
            n += self._db.execute(
                "DELETE FROM results WHERE ts < ?", (now - self.max_age,)
            ).rowcount
        excess = self._count - n - self.max_items
        if excess > 0:
            n += self._db.execute(
                "DELETE FROM results WHERE seq IN (SELECT seq FROM results ORDER BY seq LIMIT ?)",
                (excess,),
            ).rowcount
        if n:
            self._count -= n
            self.dropped += n
            self._gone = {s for s in self._gone if self._exists(s)}
            self._set_meta("dropped", str(self.dropped))
            log.error(
                "QUEUE FULL: DROPPED the %d oldest undelivered result(s) (bound: %.0fs of results "
                "or %d rows); %d dropped in total. Is the server reachable?",
                n, self.max_age, self.max_items, self.dropped,
            )  # fmt: skip
        return n

    def _exists(self, seq: int) -> bool:
        row = self._db.execute("SELECT 1 FROM results WHERE seq = ?", (seq,)).fetchone()
        return row is not None

    def peek(self, limit: int) -> list[tuple[int, str]]:
        """The oldest ``limit`` results as (seq, JSON text), in delivery order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, body FROM results ORDER BY seq LIMIT ?", (limit + len(self._gone),)
            ).fetchall()
        return [(s, b) for s, b in rows if s not in self._gone][:limit]

    def remove(self, seqs: Sequence[int]) -> bool:
        """Forget delivered (or permanently refused) results; False if the file could not be
        changed now (they are gone all the same: never peeked again, deleted later)."""
        with self._lock:
            self._gone.update(seqs)
            return self._retry_deletes()

    def _retry_deletes(self) -> bool:
        if not self._gone:
            return True
        gone = sorted(self._gone)
        deleted = 0

        def work() -> None:
            nonlocal deleted
            for i in range(0, len(gone), 500):
                chunk = gone[i : i + 500]
                marks = ",".join("?" * len(chunk))
                deleted += self._db.execute(
                    f"DELETE FROM results WHERE seq IN ({marks})", chunk
                ).rowcount

        try:
            self._write(work)
        except QueueError as exc:
            log.debug("delete of %d delivered result(s) deferred: %s", len(gone), exc)
            return False
        self._count -= deleted
        self._gone.clear()
        return True

    def oldest_ts(self) -> float | None:
        """When the oldest result still to deliver was measured (None: nothing queued)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, ts FROM results ORDER BY seq LIMIT ?", (len(self._gone) + 1,)
            ).fetchall()
        ts = [t for s, t in rows if s not in self._gone]
        return float(ts[0]) if ts else None

    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """``QueueError`` if it cannot be written."""
        with self._lock:
            try:
                self._set_meta(key, value)
            except sqlite3.Error as exc:
                raise QueueError(f"cannot write {self.path}: {_cause(exc)}") from None

    def _set_meta(self, key: str, value: str) -> None:
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def close(self) -> None:
        with self._lock:
            self._db.close()
