"""The quarantine and the one outage-or-data rule, against real SQLite and PostgreSQL errors."""

from __future__ import annotations

import json
import logging

import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry
from spine_support import outage

from threenines.app.db import make_engine, migrate
from threenines.core.clean import clean_json, clean_row, clean_text
from threenines.core.quarantine import (
    Quarantine,
    is_outage,
    quarantined,
    raw_json,
    write_isolating,
)
from threenines.core.tables import events


def _engine(db_url: str) -> sa.Engine:
    engine = make_engine(db_url, sqlite_busy_timeout=0.2)
    migrate(engine)
    return engine


def _event(i: int, **kw: object) -> dict[str, object]:
    return {"ts": float(i), "source": "t", "kind": "k", "severity": "info", "category": "c",
            "message": f"m{i}", "details": {}, **kw}  # fmt: skip


def _insert(engine: sa.Engine):
    def write(rows: list[dict[str, object]]) -> int:
        with engine.begin() as conn:
            conn.execute(events.insert(), rows)
        return len(rows)

    return write


def test_clean_text_json_and_row() -> None:
    assert clean_text("a\x00b\udc80c") == "a\ufffdb\ufffdc"
    assert clean_text("plain") == "plain" and clean_text("ünï") == "ünï"
    assert clean_json({1: [b"\xff\x00", float("nan"), ("x\x00",)], "k": {"n": None}}) == {
        "1": ["\ufffd\ufffd", None, ["x\ufffd"]], "k": {"n": None}
    }  # fmt: skip
    row = clean_row(events, {"kind": "k" * 100, "subject": "s\x00", "details": {"a": "\x00"}})
    assert row == {"kind": "k" * 64, "subject": "s\ufffd", "details": {"a": "\ufffd"}}
    assert clean_row(events, {"kind": "k" * 100}, exact=["kind"])["kind"] == "k" * 100
    loop: dict[str, object] = {}
    loop["self"] = loop
    assert "nested" in json.dumps(clean_json(loop))
    assert raw_json({"a": "\x00\udc80"}).isascii()


def test_the_rows_fault_and_outages_are_told_apart(db_url: str) -> None:
    engine = _engine(db_url)
    write = _insert(engine)
    with pytest.raises(Exception) as refused:
        write([_event(1, kind=None)])  # NOT NULL
    assert not is_outage(refused.value)
    with pytest.raises(Exception) as overflow:
        write([_event(1, ts="not a number")])
    assert not is_outage(overflow.value)
    if db_url.startswith("postgresql"):
        with pytest.raises(Exception) as nul:
            write([_event(1, message="a\x00b")])
        assert not is_outage(nul.value)
        away = make_engine(db_url.replace("127.0.0.1:5432", "127.0.0.1:1"))
        with pytest.raises(Exception) as down:
            _insert(away)([_event(1)])
        away.dispose()
    else:
        with outage(db_url), pytest.raises(Exception) as down:  # "database is locked"
            write([_event(1)])
    assert is_outage(down.value)
    engine.dispose()


def test_write_isolating_bisects_and_quarantine_keeps_the_bad_rows(db_url: str, caplog) -> None:
    engine = _engine(db_url)
    rows = [_event(i) for i in range(100)]
    rows[17] = _event(17, kind=None)
    rows[80] = _event(80, severity=None)
    out = write_isolating(rows, _insert(engine))
    assert out.written == 98 and out.outage is None and not out.unwritten
    assert [r["ts"] for r, _ in out.refused] == [17.0, 80.0]
    assert len(out.done) < 30  # bisected, not one write per row
    registry = CollectorRegistry()
    q = Quarantine(engine, registry=registry, clock=lambda: 1000.0)
    with caplog.at_level(logging.ERROR, "threenines.quarantine"):
        q.put("events", out.refused)
    assert len([r for r in caplog.records if "quarantined" in r.getMessage()]) == 1
    kept = quarantined(engine, "events")
    assert [json.loads(r["raw"])["ts"] for r in kept] == [17.0, 80.0]
    assert kept[0]["ts"] == 1000.0 and kept[0]["reason"].startswith("IntegrityError")
    assert registry.get_sample_value("threenines_quarantined_total", {"source": "events"}) == 2
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(events)).scalar() == 98
    engine.dispose()
