"""Results the database cannot take yet, kept on disk until it stores them.

The writer spills to a ``Spool`` as soon as a write fails for an outage (and, while the outage
lasts, every result as it is submitted), so a ``kill -9`` in the middle of a database outage
loses nothing. The spool is the core's durable queue (``threenines.core.queue``, the one every
agent keeps its results in): a SQLite file, oldest first. A result leaves it only after the
database has committed it (``remove`` after the write), so a crash between the two stores it
twice at most, and the results table's unique key keeps one.

A JSON-lines spool left by an older version at the same path is read once into the new one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

from threenines.core.queue import DiskQueue, QueueError
from threenines.core.results import ProbeResult, Status
from threenines.core.store import ResultRecord

log = logging.getLogger("threenines.spool")

SQLITE_MAGIC = b"SQLite format 3\x00"
# a spill bounded like the buffer: by age of the measurement and by rows (the queue logs drops)
MAX_AGE = 30 * 86400.0

__all__ = ["QueueError", "Spool", "decode", "encode"]


class Spool:
    """Durable FIFO of ``ResultRecord``; synchronous (call it from a thread in async code)."""

    def __init__(self, path: Path, *, max_items: int = 5_000_000):
        legacy = _read_legacy(path)
        self.queue = DiskQueue(path, max_age=MAX_AGE, max_items=max_items)
        if legacy:
            self.put(legacy)
            path.with_name(path.name + ".legacy").unlink(missing_ok=True)
            log.warning("read %d result(s) from an older JSON-lines spool at %s", len(legacy), path)

    def __len__(self) -> int:
        return len(self.queue)

    def put(self, records: Sequence[ResultRecord]) -> None:
        """Append ``records`` (durable when this returns); ``QueueError`` if they could not be."""
        if records:
            now = max(r.ts for r in records)
            self.queue.put([encode(r) for r in records], now)

    def peek(self, limit: int) -> list[tuple[int, ResultRecord]]:
        """The oldest ``limit`` records with their sequence numbers; unreadable ones are logged
        and dropped (they cannot be stored)."""
        out: list[tuple[int, ResultRecord]] = []
        bad: list[int] = []
        for seq, body in self.queue.peek(limit):
            try:
                out.append((seq, decode(json.loads(body))))
            except (ValueError, KeyError, TypeError) as exc:
                log.error("unreadable spooled result %d skipped: %s", seq, exc)
                bad.append(seq)
        if bad:
            self.queue.remove(bad)
        return out

    def remove(self, seqs: Sequence[int]) -> None:
        self.queue.remove(seqs)

    def close(self) -> None:
        self.queue.close()


def _read_legacy(path: Path) -> list[ResultRecord]:
    """An older version's JSON-lines spool at ``path``: its records, the file moved aside."""
    try:
        with path.open("rb") as fh:
            head = fh.read(len(SQLITE_MAGIC))
    except OSError:
        return []
    if not head or head == SQLITE_MAGIC:
        return []
    out: list[ResultRecord] = []
    text = path.read_text(encoding="utf-8", errors="replace")
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append(decode(json.loads(line)))
        except (ValueError, KeyError, TypeError) as exc:
            log.error("%s:%d: unreadable spooled result skipped: %s", path, lineno, exc)
    path.rename(path.with_name(path.name + ".legacy"))  # removed once its records are safe
    return out


def encode(rec: ResultRecord) -> dict[str, object]:
    return {
        "check_id": rec.check_id,
        "vantage": rec.vantage,
        "ts": rec.ts,
        "attempts": rec.attempts,
        "max_gap": rec.max_gap,
        "result": rec.result.to_dict(),
    }


def decode(data: dict[str, object]) -> ResultRecord:
    r = data["result"]
    if not isinstance(r, dict):
        raise TypeError("'result' is not an object")
    result = ProbeResult.make(
        Status(r["status"]),
        float(r["duration"]),
        r.get("error"),
        str(r.get("reason", "")),
        phases=dict(r.get("phases") or {}),
        details=dict(r.get("details") or {}),
    )
    return ResultRecord(
        check_id=str(data["check_id"]),
        vantage=str(data["vantage"]),
        ts=float(data["ts"]),  # type: ignore[arg-type]
        result=result,
        attempts=int(data["attempts"]),  # type: ignore[call-overload]
        max_gap=float(data["max_gap"]),  # type: ignore[arg-type]
    )
