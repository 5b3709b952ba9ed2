"""The agent's result queue: a SQLite file, delivered oldest first, bounded by age and count.

Every result goes through it, whether or not the server is reachable, so results survive both
a server outage and an agent restart, and delivery order is simply ``seq`` order. The bound
is the age of the measurement (default 24 h) plus a row cap; beyond it the *oldest* results are
dropped, counted (also across restarts, in ``meta``) and logged at ERROR every time.

Synchronous, guarded by a lock: call it from a thread (``asyncio.to_thread``) in async code.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger("threenines.agent.queue")

SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS results_ts ON results (ts);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class DiskQueue:
    def __init__(self, path: Path, *, max_age: float = 86400.0, max_items: int = 5_000_000):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.max_age, self.max_items = path, max_age, max_items
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # survives a crash of the agent
            self._db.executescript(SCHEMA)
            self._count = self._db.execute("SELECT count(*) FROM results").fetchone()[0]
        self.dropped = int(self.get_meta("dropped") or 0)

    def __len__(self) -> int:
        return self._count

    def put(self, results: Sequence[dict[str, Any]], now: float) -> int:
        """Append results (``WireResult`` dicts); enforce the bound; return how many dropped."""
        rows = [(r["ts"], json.dumps(r, separators=(",", ":"))) for r in results]
        with self._lock:
            if rows:
                self._db.execute("BEGIN")
                self._db.executemany("INSERT INTO results (ts, body) VALUES (?, ?)", rows)
                self._db.execute("COMMIT")
                self._count += len(rows)
            return self._trim(now)

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
            self._set_meta("dropped", str(self.dropped))
            log.error(
                "QUEUE FULL: DROPPED the %d oldest undelivered result(s) (bound: %.0fs of results "
                "or %d rows); %d dropped in total. Is the server reachable?",
                n, self.max_age, self.max_items, self.dropped,
            )  # fmt: skip
        return n

    def peek(self, limit: int) -> list[tuple[int, str]]:
        """The oldest ``limit`` results as (seq, JSON text), in delivery order."""
        with self._lock:
            return self._db.execute(
                "SELECT seq, body FROM results ORDER BY seq LIMIT ?", (limit,)
            ).fetchall()

    def remove(self, seqs: Sequence[int]) -> None:
        """Forget delivered (or permanently refused) results."""
        with self._lock:
            self._db.execute("BEGIN")
            for i in range(0, len(seqs), 500):
                chunk = list(seqs[i : i + 500])
                marks = ",".join("?" * len(chunk))
                n = self._db.execute(f"DELETE FROM results WHERE seq IN ({marks})", chunk).rowcount
                self._count -= n
            self._db.execute("COMMIT")

    def oldest_ts(self) -> float | None:
        with self._lock:
            row = self._db.execute("SELECT ts FROM results ORDER BY seq LIMIT 1").fetchone()
        return None if row is None else float(row[0])

    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._set_meta(key, value)

    def _set_meta(self, key: str, value: str) -> None:
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def close(self) -> None:
        with self._lock:
            self._db.close()
