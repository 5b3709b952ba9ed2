"""The collectors' sink never blocks on a row the database refuses (SQLite and PostgreSQL)."""

from __future__ import annotations

import json

import sqlalchemy as sa
from prometheus_client import CollectorRegistry

from threenines.app.db import make_engine, migrate
from threenines.collectors.sink import StoreSink
from threenines.collectors.store import EventRecord, Reading, readings, recent_events
from threenines.core.quarantine import quarantined
from threenines.core.results import ProbeResult
from threenines.core.store import ResultRecord
from threenines.core.tables import results


def _event(i: int, **kw: object) -> EventRecord:
    return EventRecord(float(i), "snmp_trap", "trap", "info", device="sw1", **kw)  # type: ignore[arg-type]


async def test_refused_events_readings_and_results_are_quarantined(db_url: str) -> None:
    engine = make_engine(db_url)
    migrate(engine)
    registry = CollectorRegistry()
    sink = StoreSink(engine, summary_period=60, batch_size=50, registry=registry)
    events = [_event(i) for i in range(120)]
    events[7] = EventRecord(7.0, "snmp_trap", None, "info")  # type: ignore[arg-type]
    events[99] = _event(99, message="agent \x00\udc80 said", details={"v": b"\x00\xff"})
    sink.events(events)
    sink.readings([Reading(t, "sw1", "dc", "if_in_bps", "eth0", 1.0) for t in (0, 30)])
    sink.readings([Reading(10, "sw1", "dc", "if_in_bps", "eth1", 2.0**70)])  # a float: fine
    sink.readings([Reading(t, "sw1", "dc", "sensor", "in\x00let", 20.0) for t in (0, 61)])
    sink._rows.append({**sink._rows[0], "count": 2**70})  # an INTEGER no database takes
    up = ProbeResult.up(0.01)
    sink.results([ResultRecord("device:sw1", "central", t, up, attempts=a)
                  for t, a in ((0, 1), (60, 2**70), (120, 1))])  # fmt: skip
    assert await sink.flush()
    assert sink.pending == 0 and sink.events_written == 119
    stored = recent_events(engine)
    assert [e["ts"] for e in stored] == [float(i) for i in range(120) if i != 7]
    odd = next(e for e in stored if e["ts"] == 99)
    assert odd["message"] == "agent \ufffd\ufffd said" and odd["details"] == {"v": "\ufffd\ufffd"}
    assert [r["subject"] for r in readings(engine, device="sw1", metric="sensor")] == [
        "in\ufffdlet"
    ]
    with engine.connect() as conn:
        assert conn.execute(sa.select(results.c.ts).order_by(results.c.ts)).scalars().all() == [
            0, 120
        ]  # fmt: skip
    kept = {r["source"]: json.loads(r["raw"]) for r in quarantined(engine)}
    assert kept["events"]["ts"] == 7 and kept["events"]["kind"] is None
    assert kept["snmp_readings"]["count"] == 2**70
    assert kept["results"]["attempts"] == 2**70
    for source in ("events", "snmp_readings", "results"):
        labels = {"source": source}
        assert registry.get_sample_value("threenines_quarantined_total", labels) == 1
    engine.dispose()
