"""A file of results that could not be written before shutdown, read back at the next start.

Only used when the database is still unavailable as the service stops: the buffered results go
to a JSON-lines file instead of being lost, and the next ``threenines run`` queues them first.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path

from threenines.core.results import ProbeResult, Status
from threenines.core.store import ResultRecord

log = logging.getLogger("threenines.spool")


def dump(path: Path, records: Iterable[ResultRecord]) -> int:
    """Append ``records`` to ``path`` (fsynced); return how many were written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("a", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(_encode(rec), default=str) + "\n")
            n += 1
        fh.flush()
        os.fsync(fh.fileno())
    return n


def load(path: Path) -> list[ResultRecord]:
    """Read and remove the spool file; unreadable lines are reported and skipped."""
    if not path.exists():
        return []
    out: list[ResultRecord] = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append(_decode(json.loads(line)))
        except (ValueError, KeyError, TypeError) as exc:
            log.error("%s:%d: unreadable spooled result skipped: %s", path, lineno, exc)
    path.unlink()
    return out


def _encode(rec: ResultRecord) -> dict[str, object]:
    return {
        "check_id": rec.check_id,
        "vantage": rec.vantage,
        "ts": rec.ts,
        "attempts": rec.attempts,
        "max_gap": rec.max_gap,
        "result": rec.result.to_dict(),
    }


def _decode(data: dict[str, object]) -> ResultRecord:
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
